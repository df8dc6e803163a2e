//go:build unix

package qemu

import (
	"errors"
	"os"
	"syscall"
)

// killGroup kills the process group p leads, so nothing QEMU started is
// orphaned.
func killGroup(p *os.Process) error {
	err := syscall.Kill(-p.Pid, syscall.SIGKILL)
	if errors.Is(err, syscall.ESRCH) {
		return nil
	}
	return err
}
