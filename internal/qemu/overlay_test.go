package qemu

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/c34478be/packer-plugin-maas/internal/test/testtool"
)

func qemuImgInfo(t *testing.T, path string) (backing, backingFormat string) {
	t.Helper()
	out, err := exec.Command("qemu-img", "info", "--output=json", "-f", "qcow2", path).Output()
	if err != nil {
		t.Fatalf("qemu-img info %s: %v", path, err)
	}
	var info struct {
		Backing       string `json:"full-backing-filename"`
		BackingFormat string `json:"backing-filename-format"`
	}
	if err := json.Unmarshal(out, &info); err != nil {
		t.Fatal(err)
	}
	return info.Backing, info.BackingFormat
}

func TestCreateOverlayOnRawKeepsTheBaseUntouched(t *testing.T) {
	testtool.Require(t, "qemu-img", "qemu-io")
	dir := t.TempDir()
	base := filepath.Join(dir, "base.raw")
	original := bytes.Repeat([]byte{0x11}, 1<<20)
	if err := os.WriteFile(base, original, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(base, 64<<20); err != nil {
		t.Fatal(err)
	}
	overlay := filepath.Join(dir, "overlay.qcow2")
	if err := CreateOverlay(context.Background(), base, overlay, 0); err != nil {
		t.Fatal(err)
	}
	if backing, format := qemuImgInfo(t, overlay); backing != base || format != "raw" {
		t.Errorf("overlay backed by %s (%s), want %s (raw)", backing, format, base)
	}
	if size, err := VirtualSize(context.Background(), overlay); err != nil || size != 64<<20 {
		t.Errorf("overlay size %d (%v), want the base's 64 MiB", size, err)
	}
	if out, err := exec.Command("qemu-io", "-f", "qcow2", "-c", "write -P 0xab 0 4096", overlay).CombinedOutput(); err != nil {
		t.Fatalf("qemu-io write: %v: %s", err, out)
	}
	got, err := os.ReadFile(base)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got[:len(original)], original) {
		t.Error("writing to the overlay changed the base image")
	}
}

func TestCreateOverlayGrowsButNeverShrinks(t *testing.T) {
	testtool.Require(t, "qemu-img")
	dir := t.TempDir()
	base := filepath.Join(dir, "base.qcow2")
	if out, err := exec.Command("qemu-img", "create", "-q", "-f", "qcow2", base, "64M").CombinedOutput(); err != nil {
		t.Fatalf("qemu-img create: %v: %s", err, out)
	}
	grown := filepath.Join(dir, "grown.qcow2")
	if err := CreateOverlay(context.Background(), base, grown, 128<<20); err != nil {
		t.Fatal(err)
	}
	if _, format := qemuImgInfo(t, grown); format != "qcow2" {
		t.Errorf("backing format %q, want qcow2", format)
	}
	if size, err := VirtualSize(context.Background(), grown); err != nil || size != 128<<20 {
		t.Errorf("grown overlay size %d (%v), want 128 MiB", size, err)
	}
	err := CreateOverlay(context.Background(), base, filepath.Join(dir, "small.qcow2"), 32<<20)
	if err == nil || !strings.Contains(err.Error(), "can only grow") {
		t.Errorf("shrinking: error %v", err)
	}
	err = CreateOverlay(context.Background(), filepath.Join(dir, "missing.qcow2"), filepath.Join(dir, "x.qcow2"), 0)
	if err == nil || !strings.Contains(err.Error(), "missing.qcow2") {
		t.Errorf("missing base: error %v", err)
	}
}

// A base QEMU would misread as raw (a VMDK, a still-compressed download)
// is refused with advice, before qemu-img makes an overlay on it.
func TestCreateOverlayRefusesForeignBase(t *testing.T) {
	dir := t.TempDir()
	for name, content := range map[string]string{
		"disk.vmdk":   "KDMV\x01\x00\x00\x00",
		"disk.img.gz": "\x1f\x8b\x08\x00",
	} {
		base := filepath.Join(dir, name)
		if err := os.WriteFile(base, []byte(content+strings.Repeat("\x00", 1<<20)), 0o644); err != nil {
			t.Fatal(err)
		}
		overlay := filepath.Join(dir, name+".qcow2")
		err := CreateOverlay(context.Background(), base, overlay, 0)
		if err == nil || !strings.Contains(err.Error(), name) || !strings.Contains(err.Error(), "not qcow2 or raw") {
			t.Errorf("%s: error %v, want it refused as not qcow2 or raw, naming the file", name, err)
		}
		if _, statErr := os.Stat(overlay); !os.IsNotExist(statErr) {
			t.Errorf("%s: overlay made on a refused base (%v)", name, statErr)
		}
	}
}

// TestCreateOverlayRefusesABaseWithItsOwnBacking: QEMU would follow the
// base's backing file and give the VM read access to that host file.
func TestCreateOverlayRefusesABaseWithItsOwnBacking(t *testing.T) {
	testtool.Require(t, "qemu-img")
	dir := t.TempDir()
	base := filepath.Join(dir, "cloud.img")
	testtool.CombinedOutput(t, "qemu-img", "create", "-q", "-f", "qcow2", "-u", "-b", "/etc/passwd", "-F", "raw", base, "1M")
	overlay := filepath.Join(dir, "overlay.qcow2")
	err := CreateOverlay(context.Background(), base, overlay, 0)
	if err == nil || !strings.Contains(err.Error(), `"/etc/passwd"`) || !strings.Contains(err.Error(), "qemu-img convert") {
		t.Fatalf("CreateOverlay on a base backed by /etc/passwd: %v", err)
	}
	if _, err := os.Stat(overlay); !os.IsNotExist(err) {
		t.Errorf("an overlay was created: %v", err)
	}
}
