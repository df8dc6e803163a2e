// Package testimage gives tests the project's test cloud image: a small
// Debian bookworm qcow2 that scripts/build-test-image.sh builds from Debian
// packages (no cloud image can be downloaded where the tests run) and caches
// per machine. The first call in a process runs the script; a cached image
// makes that instant, and the script's lock makes parallel test processes
// build it once. Tests that use it belong to the acceptance tier: they skip
// unless PACKER_ACC is set (see testtool).
//
// The script builds variants of the image (PathOf): the default, an ext4
// root on a partition, and XFSOnLVM, the RHEL-family layout.
package testimage

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/c34478be/packer-plugin-maas/internal/lines"
	"github.com/c34478be/packer-plugin-maas/internal/test/testtool"
)

// script is the image recipe, relative to the module root.
const script = "scripts/build-test-image.sh"

// stderrTailLines is how much of the script's progress a failure shows.
const stderrTailLines = 40

// Variant is a layout of the test image, named as the script's --variant
// takes it.
type Variant string

const (
	// Default is an ext4 root (partition 1, label cloudimg-rootfs) beside
	// the ESP (partition 15), as Debian's and Ubuntu's cloud images are.
	Default Variant = "ext4"
	// XFSOnLVM is the RHEL-family layout: the ESP, an XFS /boot on
	// partition 1, and an LVM PV on partition 2 whose group VG holds the
	// XFS LVs root and home (holding HomeFile) and a swap LV; the root's
	// fstab names them as anaconda writes it.
	XFSOnLVM Variant = "xfs-lvm"
)

// What tests may rely on in the XFSOnLVM image.
const (
	VG               = "testvg"
	HomeFile         = "on-home-lv.txt" // in /home
	HomeFileContents = "this file lives on the testvg-home logical volume\n"
)

// build is one variant's build, run once per process.
type build struct {
	once sync.Once
	path string
	err  error
}

var builds = map[Variant]*build{Default: {}, XFSOnLVM: {}}

// Path returns the default test image's path, building it on first use.
// Building needs root and a few minutes; the test fails with the script's
// last output when it cannot.
func Path(t testing.TB) string {
	t.Helper()
	return PathOf(t, Default)
}

// PathOf is Path for a variant of the image.
func PathOf(t testing.TB, v Variant) string {
	t.Helper()
	testtool.RequireAcceptance(t, "the test cloud image (built as root)")
	b, ok := builds[v]
	if !ok {
		t.Fatalf("test image: no variant %q", v)
	}
	b.once.Do(func() { b.path, b.err = runScript(v) })
	if b.err != nil {
		t.Fatalf("test image (%s): %v", v, b.err)
	}
	return b.path
}

// SHA256 returns the hex sha256 of the default test image, from the
// checksum file the script writes next to it.
func SHA256(t testing.TB) string {
	t.Helper()
	return SHA256Of(t, Default)
}

// SHA256Of is SHA256 for a variant of the image.
func SHA256Of(t testing.TB, v Variant) string {
	t.Helper()
	path := PathOf(t, v)
	data, err := os.ReadFile(path + ".sha256")
	if err != nil {
		t.Fatalf("test image checksum: %v", err)
	}
	fields := strings.Fields(string(data))
	if len(fields) == 0 || len(fields[0]) != 64 || strings.Trim(fields[0], "0123456789abcdef") != "" {
		t.Fatalf("test image checksum file %s.sha256 holds no sha256: %q", path, data)
	}
	return fields[0]
}

func runScript(v Variant) (string, error) {
	root, err := moduleRoot()
	if err != nil {
		return "", err
	}
	args := []string{filepath.Join(root, script)}
	if v != Default {
		args = append(args, "--variant", string(v))
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.Command("bash", args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("%s failed: %v; its last output:\n%s", script, err, lines.Last(stderr.String(), stderrTailLines))
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	path := lines[len(lines)-1]
	if info, err := os.Stat(path); err != nil || !info.Mode().IsRegular() {
		return "", fmt.Errorf("%s printed %q, which is not an image file (%v)", script, path, err)
	}
	return path, nil
}

// moduleRoot walks up from the working directory (a test's package
// directory) to the directory holding go.mod.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod above the working directory; run the tests inside the module")
		}
		dir = parent
	}
}
