package ext4

import (
	"encoding/binary"
	"io"

	"github.com/c34478be/packer-plugin-maas/internal/fstree"
)

// Filesystem types this package recognises, as blkid names them.
const (
	TypeExt2 = "ext2"
	TypeExt3 = "ext3"
	TypeExt4 = "ext4"
	TypeJBD  = "jbd" // an ext3/4 external journal: recognised, not read
)

// Reader is this package's entry in the export's filesystem registry.
var Reader = fstree.Reader{
	Name:      "ext2/3/4",
	Types:     []string{TypeExt2, TypeExt3, TypeExt4},
	HoldsRoot: true,
	Sniff:     Sniff,
	Open: func(r io.ReaderAt, size int64, _ fstree.MountOptions) (fstree.FS, error) {
		return Open(r, size)
	},
}

// Features ext3 understands; any other means ext4 (the rule blkid uses).
const (
	compatHasJournal      = 0x4
	ext3IncompatSupported = incompatFiletype | incompatRecover | incompatMetaBG
	ext3ROCompatSupported = 0x1 | 0x2 | 0x4 // sparse_super, large_file, btree_dir
)

// sniffMinSize is the part of the superblock Sniff reads.
const sniffMinSize = sbVolumeName + 16

// Sniff recognises an ext2/3/4 superblock (or an external journal's) and
// tells the variant as blkid does, from the feature bits.
func Sniff(b []byte) (fstree.Identity, bool) {
	if len(b) < superblockOffset+sniffMinSize {
		return fstree.Identity{}, false
	}
	sb := b[superblockOffset:]
	le := binary.LittleEndian
	if le.Uint16(sb[sbMagic:]) != superblockMagic {
		return fstree.Identity{}, false
	}
	compat, incompat, roCompat := le.Uint32(sb[sbFeatureCompat:]), le.Uint32(sb[sbFeatureIncompat:]), le.Uint32(sb[sbFeatureRoCompat:])
	id := fstree.Identity{Type: TypeExt2, Label: fstree.LabelAt(sb, sbVolumeName, 16), UUID: fstree.UUIDAt(sb, sbUUID),
		NeedsRecovery: incompat&incompatRecover != 0}
	switch {
	case incompat&incompatJournalDev != 0:
		id.Type = TypeJBD
	case incompat&^ext3IncompatSupported != 0 || roCompat&^ext3ROCompatSupported != 0:
		id.Type = TypeExt4
	case compat&compatHasJournal != 0:
		id.Type = TypeExt3
	}
	return id, true
}
