//go:build unix && !linux

package qemu

import "syscall"

// sysProcAttr puts QEMU in its own process group (a terminal's Ctrl-C goes
// to the plugin, which stops QEMU in order).
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
