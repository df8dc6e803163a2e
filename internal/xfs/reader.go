package xfs

import (
	"io"

	"github.com/c34478be/packer-plugin-maas/internal/fstree"
)

// TypeXFS is the blkid name of XFS filesystems.
const TypeXFS = "xfs"

// Reader is this package's entry in the export's filesystem registry. A
// RHEL-family root is XFS, so it may hold a root.
var Reader = fstree.Reader{
	Name:      "XFS",
	Types:     []string{TypeXFS},
	HoldsRoot: true,
	Sniff:     Sniff,
	Open: func(r io.ReaderAt, size int64, _ fstree.MountOptions) (fstree.FS, error) {
		return Open(r, size)
	},
}

// Sniff recognises a v4 or v5 XFS superblock (the first bytes of a
// volume, at least 512) and reads its label and UUID; Open does the real
// checks, the log's among them: whether a log needs recovery cannot be
// told from the superblock.
func Sniff(b []byte) (fstree.Identity, bool) {
	if len(b) < minSectorSize || be32(b[sbMagic:]) != superblockMagic {
		return fstree.Identity{}, false
	}
	if v := be16(b[sbVersionNum:]) & versionNumMask; v != 4 && v != 5 {
		return fstree.Identity{}, false
	}
	return fstree.Identity{Type: TypeXFS, Label: cString(b[sbFname : sbFname+12]), UUID: formatUUID(b[sbUUID : sbUUID+16])}, true
}
