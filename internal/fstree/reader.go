package fstree

import (
	"bytes"
	"fmt"
	"io"
	"strings"
)

// Reader is a filesystem reader as the export's filesystem registry
// (internal/filesystem) knows it: how to recognise its superblock and how
// to open it. Each reader package exports one Reader value.
type Reader struct {
	// Name is how errors name what the reader reads ("ext2/3/4").
	Name string
	// Types are the blkid TYPE names it opens ("ext2", "ext3", "ext4").
	Types []string
	// HoldsRoot says a Linux root filesystem may be of these types
	// (true for ext4, false for the FAT of a /boot or an ESP).
	HoldsRoot bool
	// Sniff recognises the filesystem from a volume's first bytes.
	Sniff Sniffer
	// LooseSniff: Sniff has no strong magic (FAT's boot sector), so it is
	// tried after every other format.
	LooseSniff bool
	// Open reads the filesystem of size bytes at the start of r, as mounted
	// with opts; nil for formats that are only recognised, not read.
	Open func(r io.ReaderAt, size int64, opts MountOptions) (FS, error)
}

// Sniffer recognises a format from the first bytes of a volume (at least
// SniffSize of them unless the volume is smaller); ok is false when b is
// not of its format. It must not panic on any input.
type Sniffer func(b []byte) (id Identity, ok bool)

// SniffSize is how much of a volume a Sniffer is given: enough for every
// superblock looked at (btrfs's, at 64 KiB, is last).
const SniffSize = 68 << 10

// Identity is what a superblock tells of its filesystem.
type Identity struct {
	// Type is the filesystem's name as blkid reports it: ext4, vfat, xfs,
	// swap, LVM2_member, crypto_LUKS, ...
	Type  string
	Label string
	// UUID is as blkid prints it (what fstab's UUID= names): lowercase,
	// or XXXX-XXXX for vfat; "" when it has none.
	UUID string
	// NeedsRecovery: a journal holds changes not yet written back, as
	// after a crash or a power-off without shutdown.
	NeedsRecovery bool
}

// MountOptions are the options of the fstab entry that mounts a
// filesystem ("uid=1000", "umask=0077", "ro"), nil when there are none.
type MountOptions []string

// Get returns the value of name=value (or "" for a bare name) and whether
// it is present.
func (o MountOptions) Get(name string) (string, bool) {
	for _, opt := range o {
		k, v, _ := strings.Cut(opt, "=")
		if k == name {
			return v, true
		}
	}
	return "", false
}

// HasMagic reports whether b holds magic at off.
func HasMagic(b []byte, off int, magic string) bool {
	return off >= 0 && off+len(magic) <= len(b) && string(b[off:off+len(magic)]) == magic
}

// LabelAt reads a fixed-size, NUL-padded on-disk string of n bytes at off;
// "" when it is out of range.
func LabelAt(b []byte, off, n int) string {
	if off < 0 || off+n > len(b) {
		return ""
	}
	s := b[off : off+n]
	if i := bytes.IndexByte(s, 0); i >= 0 {
		s = s[:i]
	}
	return strings.ToValidUTF8(string(s), "\uFFFD")
}

// UUIDAt formats the 16 bytes at off as a UUID; "" when they are out of
// range or all zero.
func UUIDAt(b []byte, off int) string {
	if off < 0 || off+16 > len(b) {
		return ""
	}
	u := b[off : off+16]
	if bytes.Equal(u, make([]byte, 16)) {
		return ""
	}
	return fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16])
}
