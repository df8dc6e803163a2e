// Package testdisk makes small raw GPT disk images for tests outside
// internal/export (whose own tests build richer ones): partitions laid
// out by sgdisk, filled by the real mkfs tools from a directory tree
// without mounting, so that no root is needed. Tests that use it belong to
// the acceptance tier (testtool.Require skips them otherwise).
package testdisk

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/c34478be/packer-plugin-maas/internal/test/testtool"
)

const mib = 1 << 20

// Formatter fills the partition at offset (bytes) of size bytes in disk.
type Formatter func(t testing.TB, disk string, offset, size int64)

// Part is one partition of a GPT disk.
type Part struct {
	Type    string // sgdisk's type code: 8304 is a Linux x86-64 root
	Name    string // GPT partition name
	SizeMiB int
	Format  Formatter // nil leaves it blank
}

// GPT writes a raw GPT disk holding parts, numbered from 1 and laid out
// one after another from 1 MiB, and returns its path (in t.TempDir()).
func GPT(t testing.TB, parts ...Part) string {
	t.Helper()
	disk := filepath.Join(t.TempDir(), "disk.raw")
	total := 2
	for _, p := range parts {
		total += p.SizeMiB
	}
	testtool.CombinedOutput(t, "truncate", "-s", fmt.Sprintf("%dM", total), disk)
	args := []string{"-o"}
	start := 1
	for i, p := range parts {
		n := i + 1
		args = append(args, fmt.Sprintf("-n%d:%dM:+%dM", n, start, p.SizeMiB),
			fmt.Sprintf("-t%d:%s", n, p.Type), fmt.Sprintf("-c%d:%s", n, p.Name))
		start += p.SizeMiB
	}
	testtool.CombinedOutput(t, "sgdisk", append(args, disk)...)
	start = 1
	for _, p := range parts {
		if p.Format != nil {
			p.Format(t, disk, int64(start)*mib, int64(p.SizeMiB)*mib)
		}
		start += p.SizeMiB
	}
	return disk
}

// Ext4 formats the partition as ext4 labelled label, filled from tree.
func Ext4(tree, label string) Formatter {
	return func(t testing.TB, disk string, offset, size int64) {
		t.Helper()
		testtool.CombinedOutput(t, "mkfs.ext4", "-q", "-F", "-L", label, "-E", fmt.Sprintf("offset=%d,nodiscard", offset),
			"-d", tree, disk, fmt.Sprintf("%dk", size/1024))
	}
}

// Btrfs formats the partition as btrfs filled from tree (mkfs.btrfs
// --rootdir; it has no offset option, so the filesystem is made in a file
// and copied in). btrfs needs about 110 MiB at least.
func Btrfs(tree string) Formatter {
	return func(t testing.TB, disk string, offset, size int64) {
		t.Helper()
		fs := filepath.Join(t.TempDir(), "btrfs.img")
		testtool.CombinedOutput(t, "truncate", "-s", fmt.Sprint(size), fs)
		testtool.CombinedOutput(t, "mkfs.btrfs", "-q", "--rootdir", tree, fs)
		copyInto(t, fs, disk, offset)
	}
}

// LUKS2Header writes what blkid recognises as a LUKS2 header (its magic
// and version) at the partition's start, without cryptsetup: nothing
// reads further than that before refusing it.
func LUKS2Header() Formatter {
	return func(t testing.TB, disk string, offset, _ int64) {
		t.Helper()
		writeAt(t, disk, []byte("LUKS\xba\xbe\x00\x02"), offset)
	}
}

func copyInto(t testing.TB, src, disk string, offset int64) {
	t.Helper()
	testtool.CombinedOutput(t, "dd", "if="+src, "of="+disk, "bs=1M", fmt.Sprintf("seek=%d", offset/mib),
		"conv=notrunc,sparse", "status=none")
}

func writeAt(t testing.TB, path string, p []byte, offset int64) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt(p, offset); err != nil {
		t.Fatal(err)
	}
}

// RootTree makes a minimal Linux root in t.TempDir(): an /etc/os-release
// naming prettyName (ID debian, VERSION_ID 12), this host's /usr/bin/env
// (an ELF program that tells the architecture) and an empty /boot.
func RootTree(t testing.TB, prettyName string) string {
	t.Helper()
	root := filepath.Join(t.TempDir(), "root")
	env, err := os.ReadFile("/usr/bin/env")
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		"etc/os-release": fmt.Sprintf("PRETTY_NAME=%q\nID=debian\nVERSION_ID=\"12\"\nVERSION_CODENAME=bookworm\n", prettyName),
		"usr/bin/env":    string(env),
	}
	for name, content := range files {
		path := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(filepath.Join(root, "boot"), 0o755); err != nil {
		t.Fatal(err)
	}
	return root
}
