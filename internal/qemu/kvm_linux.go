package qemu

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// ioctl numbers from <linux/kvm.h>: _IO(KVMIO=0xAE, 0x00) and _IO(KVMIO, 0x01).
const (
	kvmGetAPIVersion = 0xAE00
	kvmCreateVM      = 0xAE01
	kvmAPIVersion    = 12 // stable since Linux 2.6.22
)

// probeKVM checks that /dev/kvm opens read-write and can create a VM: a
// device node alone proves nothing (nested guests often have one that hangs).
func probeKVM() error {
	fd, err := unix.Open("/dev/kvm", unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("cannot open /dev/kvm read-write: %w", err)
	}
	defer unix.Close(fd)
	version, err := unix.IoctlRetInt(fd, kvmGetAPIVersion)
	if err != nil {
		return fmt.Errorf("/dev/kvm: KVM_GET_API_VERSION: %w", err)
	}
	if version != kvmAPIVersion {
		return fmt.Errorf("/dev/kvm speaks KVM API %d, want %d", version, kvmAPIVersion)
	}
	vmFD, err := unix.IoctlRetInt(fd, kvmCreateVM)
	if err != nil {
		return fmt.Errorf("/dev/kvm cannot create a VM: %w", err)
	}
	return unix.Close(vmFD)
}
