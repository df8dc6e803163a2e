package volume

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/c34478be/packer-plugin-maas/internal/filesystem"
)

// testPart describes a partition of a test disk, in MiB.
type testPart struct {
	num               int
	startMiB, sizeMiB int64
	code              string // sgdisk type code, MBR hex type, or GPT GUID
	name              string // GPT name
	fs, label         string
}

func (p testPart) start() int64 { return p.startMiB * MiB }
func (p testPart) size() int64  { return p.sizeMiB * MiB }

// buildGPT makes a sparse raw disk with sgdisk and puts real filesystems
// into its partitions.
func buildGPT(t testing.TB, path string, diskMiB int64, parts []testPart) {
	t.Helper()
	run(t, "truncate", "-s", fmt.Sprintf("%dM", diskMiB), path)
	args := []string{"-Z", "-a", "1"}
	for _, p := range parts {
		first := p.start() / 512
		last := first + p.size()/512 - 1
		args = append(args, fmt.Sprintf("-n%d:%d:%d", p.num, first, last), fmt.Sprintf("-t%d:%s", p.num, p.code))
		if p.name != "" {
			args = append(args, fmt.Sprintf("-c%d:%s", p.num, p.name))
		}
	}
	run(t, "sgdisk", append(args, path)...)
	makeFilesystems(t, path, parts)
}

// buildMBR makes a DOS-labelled disk with sfdisk; parts after an extended
// (type 5) entry become its logical partitions.
func buildMBR(t testing.TB, path string, diskMiB int64, parts []testPart) {
	t.Helper()
	run(t, "truncate", "-s", fmt.Sprintf("%dM", diskMiB), path)
	script := "label: dos\n"
	for _, p := range parts {
		script += fmt.Sprintf("start=%d, size=%d, type=%s\n", p.start()/512, p.size()/512, p.code)
	}
	runStdin(t, script, "sfdisk", "-q", path)
	makeFilesystems(t, path, parts)
}

// build4KGPT makes a GPT with 4096-byte sectors with fdisk -b 4096.
func build4KGPT(t testing.TB, path string, diskMiB int64, parts []testPart) {
	t.Helper()
	run(t, "truncate", "-s", fmt.Sprintf("%dM", diskMiB), path)
	script := "g\n"
	for _, p := range parts {
		script += fmt.Sprintf("n\n%d\n%d\n+%dM\n", p.num, p.start()/4096, p.sizeMiB)
	}
	for _, p := range parts {
		script += "t\n"
		if len(parts) > 1 { // fdisk asks which partition only when there is a choice
			script += fmt.Sprintf("%d\n", p.num)
		}
		script += p.code + "\n"
	}
	runStdin(t, script+"w\n", "fdisk", "-b", "4096", path)
	makeFilesystems(t, path, parts)
}

func makeFilesystems(t testing.TB, disk string, parts []testPart) {
	t.Helper()
	for _, p := range parts {
		if p.fs != "" {
			makeFilesystem(t, disk, p.start(), p.size(), p.fs, p.label)
		}
	}
}

// makeFilesystem formats [start, start+size) of disk. Tools that cannot
// write at an offset format a sparse file that dd then places.
func makeFilesystem(t testing.TB, disk string, start, size int64, fs, label string) {
	t.Helper()
	kib := fmt.Sprintf("%d", size/1024)
	withLabel := func(flag string, args ...string) []string {
		if label != "" {
			args = append([]string{flag, label}, args...)
		}
		return args
	}
	switch fs {
	case filesystem.Ext2, filesystem.Ext3, filesystem.Ext4:
		run(t, "mkfs."+fs, withLabel("-L", "-q", "-F", "-E", fmt.Sprintf("offset=%d", start), disk, kib+"k")...)
	case filesystem.VFAT:
		fat := "16" // mkfs.fat 4.2 sizes FAT32 by the whole file, not the partition
		if size >= 256*MiB {
			fat = "32"
		}
		run(t, "mkfs.vfat", withLabel("-n", "-F", fat, "--offset", fmt.Sprint(start/512), disk, kib)...)
	case filesystem.XFS, filesystem.Btrfs, filesystem.Swap:
		img := filepath.Join(t.TempDir(), fs+".img")
		run(t, "truncate", "-s", kib+"K", img)
		switch fs {
		case filesystem.XFS:
			run(t, "mkfs.xfs", withLabel("-L", "-q", img)...)
		case filesystem.Btrfs:
			run(t, "mkfs.btrfs", withLabel("-L", "-q", img)...)
		case filesystem.Swap:
			run(t, "mkswap", withLabel("-L", img)...)
		}
		run(t, "dd", "if="+img, "of="+disk, "bs=1M", fmt.Sprintf("seek=%d", start), "oflag=seek_bytes", "conv=sparse,notrunc", "status=none")
	default:
		t.Fatalf("no recipe for filesystem %q", fs)
	}
}

// zeroBytes overwrites n bytes at off, to damage a table.
func zeroBytes(t testing.TB, path string, off, n int64) {
	t.Helper()
	writeAt(t, path, make([]byte, n), off)
}

func openRaw(t testing.TB, path string) (*os.File, int64) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	st, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	return f, st.Size()
}

// summary renders partitions compactly for comparisons.
func summary(ps []Volume) string {
	var lines []string
	for _, p := range ps {
		typ := p.TypeGUID
		if typ == "" {
			typ = fmt.Sprintf("%02x", p.MBRType)
		}
		lines = append(lines, fmt.Sprintf("%d %d+%d %q %s %s %q", p.Number, p.Start/MiB, p.Size/MiB, p.Name, typ, p.Filesystem, p.FSLabel))
	}
	return strings.Join(lines, "\n")
}

func writeAt(t testing.TB, path string, b []byte, off int64) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
}
