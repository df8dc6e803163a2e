// Package filesystem is the export's one place that decides which reader
// handles a volume. It knows every format the export reads or only
// recognises, by its superblock: Identify names what a volume holds (for
// choosing the root, matching fstab's UUID= and LABEL=, and errors), and
// Open opens it with the reader registered for its type.
//
// A reader is a package that exports an fstree.Reader; adding one is one
// line in readers below.
package filesystem

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/c34478be/packer-plugin-maas/internal/ext4"
	"github.com/c34478be/packer-plugin-maas/internal/fat"
	"github.com/c34478be/packer-plugin-maas/internal/fstree"
	"github.com/c34478be/packer-plugin-maas/internal/xfs"
)

// readers are the filesystems the export reads, sniffed in this order
// (see Identify for where they come among the formats only recognised):
// XFS's magic in the first sector before ext's at 1 KiB.
var readers = []fstree.Reader{
	xfs.Reader,
	ext4.Reader,
	fat.Reader,
}

// ErrNoReader means no registered reader opens the filesystem type.
var ErrNoReader = errors.New("no reader for this filesystem")

// Identify names the filesystem at the start of r by its superblock; a
// zero Identity when it is none the export knows. Formats are tried
// strongest test first: the recognised-only ones with a magic in the first
// sectors (LUKS, LVM, squashfs), the readers with a strong magic (XFS,
// ext2/3/4), the recognised-only ones with a magic deep in the volume
// (btrfs, swap), and last the readers with a loose test (FAT).
func Identify(r io.ReaderAt) (fstree.Identity, error) {
	buf := make([]byte, fstree.SniffSize)
	n, err := r.ReadAt(buf, 0)
	if err != nil && err != io.EOF {
		return fstree.Identity{}, err
	}
	for _, sniff := range sniffOrder() {
		if id, ok := sniff(buf[:n]); ok {
			return id, nil
		}
	}
	return fstree.Identity{}, nil
}

func sniffOrder() []fstree.Sniffer {
	order := slices.Clone(recognisedFirst)
	for _, rd := range readers {
		if !rd.LooseSniff {
			order = append(order, rd.Sniff)
		}
	}
	order = append(order, recognisedDeep...)
	for _, rd := range readers {
		if rd.LooseSniff {
			order = append(order, rd.Sniff)
		}
	}
	return order
}

func readerFor(fsType string) (fstree.Reader, bool) {
	for _, rd := range readers {
		if rd.Open != nil && slices.Contains(rd.Types, fsType) {
			return rd, true
		}
	}
	return fstree.Reader{}, false
}

// Readable reports whether a registered reader opens fsType.
func Readable(fsType string) bool {
	_, ok := readerFor(fsType)
	return ok
}

// HoldsRoot reports whether fsType is read and may be a Linux root
// filesystem (ext4 may; the FAT of an ESP or a /boot may not).
func HoldsRoot(fsType string) bool {
	rd, ok := readerFor(fsType)
	return ok && rd.HoldsRoot
}

// RootNames lists the filesystems a root may be read from, for messages:
// "XFS and ext2/3/4".
func RootNames() string {
	var names []string
	for _, rd := range readers {
		if rd.HoldsRoot {
			names = append(names, rd.Name)
		}
	}
	if len(names) < 2 {
		return strings.Join(names, "")
	}
	return strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1]
}

// Open opens the filesystem of type fsType held in the first size bytes of
// r, mounted with opts; ErrNoReader when no reader handles fsType.
func Open(fsType string, r io.ReaderAt, size int64, opts fstree.MountOptions) (fstree.FS, error) {
	rd, ok := readerFor(fsType)
	if !ok {
		return nil, fmt.Errorf("%w (%s)", ErrNoReader, fsType)
	}
	return rd.Open(r, size, opts)
}
