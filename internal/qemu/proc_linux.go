package qemu

import "syscall"

// sysProcAttr puts QEMU in its own process group (a terminal's Ctrl-C goes
// to the plugin, which stops QEMU in order) and has the kernel kill it if
// the plugin dies without cleaning up.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
