package fat

import (
	"encoding/binary"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/c34478be/packer-plugin-maas/internal/fstree"
)

// TypeVFAT is the blkid name of FAT12/16/32 filesystems.
const TypeVFAT = "vfat"

// Reader is this package's entry in the export's filesystem registry:
// it reads a vfat /boot, with the owners and modes its mount options give.
var Reader = fstree.Reader{
	Name:       "vfat",
	Types:      []string{TypeVFAT},
	Sniff:      Sniff,
	LooseSniff: true,
	Open: func(r io.ReaderAt, size int64, mount fstree.MountOptions) (fstree.FS, error) {
		opts, err := OptionsFor(mount)
		if err != nil {
			return nil, err
		}
		return Open(r, size, opts)
	},
}

// OptionsFor are the owners and modes the kernel would show for a vfat
// filesystem mounted with mount: its uid=, gid=, umask=, fmask= and dmask=
// over DefaultOptions.
func OptionsFor(mount fstree.MountOptions) (Options, error) {
	opts := DefaultOptions
	for _, o := range []struct {
		name string
		base int
		set  func(uint32)
	}{
		{"umask", 8, func(v uint32) { opts.FileMask, opts.DirMask = v, v }},
		{"fmask", 8, func(v uint32) { opts.FileMask = v }},
		{"dmask", 8, func(v uint32) { opts.DirMask = v }},
		{"uid", 10, func(v uint32) { opts.UID = v }},
		{"gid", 10, func(v uint32) { opts.GID = v }},
	} {
		if v, ok := mount.Get(o.name); ok {
			n, err := strconv.ParseUint(v, o.base, 32)
			if err != nil || o.base == 8 && n > 0o777 {
				return opts, fmt.Errorf("option %s=%s is not a number this export understands", o.name, v)
			}
			o.set(uint32(n))
		}
	}
	return opts, nil
}

// Sniff checks the BIOS parameter block, since a FAT boot sector has no
// single strong magic: it is the loosest test (Reader.LooseSniff).
func Sniff(b []byte) (fstree.Identity, bool) {
	if len(b) < 512 || (b[0] != 0xeb && b[0] != 0xe9) || b[510] != 0x55 || b[511] != 0xaa {
		return fstree.Identity{}, false
	}
	le := binary.LittleEndian
	bps, spc, reserved, fats, media := le.Uint16(b[11:]), b[13], le.Uint16(b[14:]), b[16], b[21]
	if bps < 512 || bps > 4096 || bps&(bps-1) != 0 || spc == 0 || spc&(spc-1) != 0 ||
		reserved == 0 || fats < 1 || fats > 2 || (media != 0xf0 && media < 0xf8) {
		return fstree.Identity{}, false
	}
	var label string
	var serial uint32
	switch {
	case fstree.HasMagic(b, 82, "FAT32"):
		label, serial = fstree.LabelAt(b, 71, 11), le.Uint32(b[67:])
	case fstree.HasMagic(b, 54, "FAT"):
		label, serial = fstree.LabelAt(b, 43, 11), le.Uint32(b[39:])
	default:
		return fstree.Identity{}, false
	}
	label = strings.TrimRight(label, " ")
	if label == "NO NAME" {
		label = ""
	}
	return fstree.Identity{Type: TypeVFAT, Label: label, UUID: fmt.Sprintf("%04X-%04X", serial>>16, serial&0xffff)}, true
}
