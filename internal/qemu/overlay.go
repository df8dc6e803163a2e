package qemu

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/c34478be/packer-plugin-maas/internal/diskimage"
)

// VirtualSize is the size of the disk the guest sees, in bytes.
func VirtualSize(ctx context.Context, path string) (int64, error) {
	format, err := diskimage.DetectFormat(path)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", path, err)
	}
	out, err := qemuImg(ctx, "info", "--output=json", "-f", string(format), path)
	if err != nil {
		return 0, err
	}
	var info struct {
		VirtualSize int64 `json:"virtual-size"`
	}
	if err := json.Unmarshal(out, &info); err != nil {
		return 0, fmt.Errorf("qemu-img info %s: %w", path, err)
	}
	return info.VirtualSize, nil
}

// CreateOverlay makes a qcow2 at path whose backing file is base, so the VM
// writes to the overlay and base stays untouched. size 0 keeps base's
// virtual size; a larger size grows the disk (cloud-init's growpart then
// grows the root partition); a smaller one is refused.
func CreateOverlay(ctx context.Context, base, path string, size int64) error {
	base, err := filepath.Abs(base)
	if err != nil {
		return err
	}
	// QEMU must be told the backing file's format: probing a raw image
	// the guest wrote is unsafe.
	format, err := diskimage.DetectFormat(base)
	if err != nil {
		return fmt.Errorf("base image %s: %w", base, err)
	}
	if err := CheckSelfContained(base); err != nil {
		return err
	}
	baseSize, err := VirtualSize(ctx, base)
	if err != nil {
		return err
	}
	if size != 0 && size < baseSize {
		return fmt.Errorf("disk size %d bytes is smaller than the image's %d bytes: it can only grow", size, baseSize)
	}
	args := []string{"create", "-q", "-f", "qcow2", "-b", base, "-F", string(format), path}
	if size != 0 {
		args = append(args, strconv.FormatInt(size, 10))
	}
	_, err = qemuImg(ctx, args...)
	return err
}

// CheckSelfContained refuses a base image that has a backing file of its
// own: QEMU would open it too and give the VM read access to it, and a
// downloaded image's header may name any host file (/etc/shadow).
func CheckSelfContained(base string) error {
	backing, err := diskimage.BackingFile(base)
	if err != nil {
		return fmt.Errorf("base image %s: %w", base, err)
	}
	if backing != "" {
		return fmt.Errorf("base image %s has a backing file of its own, %q, which QEMU would give the VM read access to: "+
			"only a self-contained image can be booted; flatten it with qemu-img convert -O qcow2, or use the image it is based on", base, backing)
	}
	return nil
}

// ConvertToQcow2 writes the disk at src, its backing chain included, to dst
// as one standalone qcow2.
func ConvertToQcow2(ctx context.Context, src, dst string) error {
	_, err := qemuImg(ctx, "convert", "-O", "qcow2", src, dst)
	return err
}

func qemuImg(ctx context.Context, args ...string) ([]byte, error) {
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, "qemu-img", args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		if _, lookErr := exec.LookPath("qemu-img"); lookErr != nil {
			return nil, fmt.Errorf("qemu-img not found (on Debian/Ubuntu install qemu-utils): %w", lookErr)
		}
		return nil, fmt.Errorf("qemu-img %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.Bytes(), nil
}
