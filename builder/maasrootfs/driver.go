package maasrootfs

import (
	"context"

	"github.com/c34478be/packer-plugin-maas/internal/qemu"
)

// driver is what the build asks of QEMU and qemu-img. qemuDriver runs the
// real ones; the step tests use a fake that runs in milliseconds, so the
// stop ladder, cancel and cleanup are tested without booting a VM.
type driver interface {
	// CreateOverlay makes a qcow2 at path backed by base, grown to size
	// bytes (0 keeps base's size).
	CreateOverlay(ctx context.Context, base, path string, size int64) error
	// VirtualSize is the size of the disk at path as the guest sees it.
	VirtualSize(ctx context.Context, path string) (int64, error)
	// ConvertToQcow2 writes src and its backing chain to dst as one qcow2.
	ConvertToQcow2(ctx context.Context, src, dst string) error
	// Start runs the VM and returns once it can be told to stop.
	Start(ctx context.Context, cfg qemu.Config) (machine, error)
}

// machine is a running VM: what the stop ladder needs, and what the
// messages about it show.
type machine interface {
	qemu.Machine
	// CommandLine is the emulator's command, quoted as a shell would.
	CommandLine() string
	// Wait waits for the VM to exit and says why it did.
	Wait() error
	// ConsoleTail is the last n lines of the serial console.
	ConsoleTail(n int) string
}

// qemuDriver is the driver over internal/qemu.
type qemuDriver struct{}

func (qemuDriver) CreateOverlay(ctx context.Context, base, path string, size int64) error {
	return qemu.CreateOverlay(ctx, base, path, size)
}

func (qemuDriver) VirtualSize(ctx context.Context, path string) (int64, error) {
	return qemu.VirtualSize(ctx, path)
}

func (qemuDriver) ConvertToQcow2(ctx context.Context, src, dst string) error {
	return qemu.ConvertToQcow2(ctx, src, dst)
}

func (qemuDriver) Start(ctx context.Context, cfg qemu.Config) (machine, error) {
	vm, err := qemu.Start(ctx, cfg)
	if err != nil {
		return nil, err // not a typed nil in the interface
	}
	return vm, nil
}
