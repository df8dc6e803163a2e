package filesystem

import (
	"encoding/binary"
	"strings"

	"github.com/c34478be/packer-plugin-maas/internal/ext4"
	"github.com/c34478be/packer-plugin-maas/internal/fat"
	"github.com/c34478be/packer-plugin-maas/internal/fstree"
	"github.com/c34478be/packer-plugin-maas/internal/xfs"
)

// Filesystem types, as blkid reports them.
const (
	Ext2   = ext4.TypeExt2
	Ext3   = ext4.TypeExt3
	Ext4   = ext4.TypeExt4
	JBD    = ext4.TypeJBD // an ext3/4 external journal
	XFS    = xfs.TypeXFS
	Btrfs  = "btrfs"
	VFAT   = fat.TypeVFAT
	Swap   = "swap"
	LVM    = "LVM2_member"
	LUKS   = "crypto_LUKS"
	Squash = "squashfs"
)

// IsExt reports whether fs is ext2, ext3 or ext4.
func IsExt(fs string) bool { return fs == Ext2 || fs == Ext3 || fs == Ext4 }

const btrfsSuperOffset = 64 << 10

// The formats no reader opens are recognised, so that errors can say what
// a volume holds. Those whose magic sits in the first sectors are tried
// before the readers; those whose magic lies deep in the volume, where a
// filesystem's data may hold it by chance, after the strict readers. A
// reader that lands for one replaces its line here by its entry in readers.
var (
	recognisedFirst = []fstree.Sniffer{sniffLUKS, sniffLVM, sniffSquashfs}
	recognisedDeep  = []fstree.Sniffer{sniffBtrfs, sniffSwap}
)

func sniffLUKS(b []byte) (fstree.Identity, bool) {
	if !fstree.HasMagic(b, 0, "LUKS\xba\xbe") {
		return fstree.Identity{}, false
	}
	id := fstree.Identity{Type: LUKS, UUID: strings.ToLower(fstree.LabelAt(b, 168, 40))}
	if len(b) >= 8 && binary.BigEndian.Uint16(b[6:]) == 2 {
		id.Label = fstree.LabelAt(b, 24, 48)
	}
	return id, true
}

func sniffLVM(b []byte) (fstree.Identity, bool) {
	for s := 0; s < 4; s++ {
		if fstree.HasMagic(b, s*512, "LABELONE") && fstree.HasMagic(b, s*512+24, "LVM2 001") {
			return fstree.Identity{Type: LVM}, true
		}
	}
	return fstree.Identity{}, false
}

func sniffSquashfs(b []byte) (fstree.Identity, bool) {
	return fstree.Identity{Type: Squash}, fstree.HasMagic(b, 0, "hsqs") || fstree.HasMagic(b, 0, "sqsh")
}

func sniffBtrfs(b []byte) (fstree.Identity, bool) {
	if !fstree.HasMagic(b, btrfsSuperOffset+64, "_BHRfS_M") {
		return fstree.Identity{}, false
	}
	return fstree.Identity{Type: Btrfs, Label: fstree.LabelAt(b, btrfsSuperOffset+0x12b, 256), UUID: fstree.UUIDAt(b, btrfsSuperOffset+0x20)}, true
}

func sniffSwap(b []byte) (fstree.Identity, bool) {
	for _, page := range []int{4096, 8192, 16384, 65536} {
		if fstree.HasMagic(b, page-10, "SWAPSPACE2") {
			return fstree.Identity{Type: Swap, Label: fstree.LabelAt(b, 1024+28, 16), UUID: fstree.UUIDAt(b, 1024+12)}, true
		}
		if fstree.HasMagic(b, page-10, "SWAP-SPACE") {
			return fstree.Identity{Type: Swap}, true
		}
	}
	return fstree.Identity{}, false
}
