package diskimage

import (
	"bytes"
	"encoding/binary"
	"io"
	"strings"
)

// Filesystem names, as blkid reports them.
const (
	FSExt2   = "ext2"
	FSExt3   = "ext3"
	FSExt4   = "ext4"
	FSJBD    = "jbd" // an ext3/4 external journal
	FSXFS    = "xfs"
	FSBtrfs  = "btrfs"
	FSVFAT   = "vfat"
	FSSwap   = "swap"
	FSLVM    = "LVM2_member"
	FSLUKS   = "crypto_LUKS"
	FSSquash = "squashfs"
)

// sniffSize covers every superblock looked at: btrfs's at 64 KiB is last.
const sniffSize = btrfsSuperOffset + 4096

const (
	extSuperOffset   = 1024
	btrfsSuperOffset = 64 << 10
)

// IsExt reports whether fs is ext2, ext3 or ext4.
func IsExt(fs string) bool { return fs == FSExt2 || fs == FSExt3 || fs == FSExt4 }

// sniffFilesystem identifies the filesystem at the start of r by its
// superblock magic and returns its type and label ("" when unknown).
func sniffFilesystem(r io.ReaderAt, buf []byte) (fs, label string, err error) {
	n, err := r.ReadAt(buf[:sniffSize], 0)
	if err != nil && err != io.EOF {
		return "", "", err
	}
	b := buf[:n]
	for _, sniff := range sniffers {
		if fs, label, ok := sniff(b); ok {
			return fs, label, nil
		}
	}
	return "", "", nil
}

// sniffers run in order; the loosest test (vfat) comes last.
var sniffers = []func(b []byte) (fs, label string, ok bool){
	sniffLUKS, sniffLVM, sniffXFS, sniffSquashfs, sniffExt, sniffBtrfs, sniffSwap, sniffVFAT,
}

func at(b []byte, off int, magic string) bool {
	return off+len(magic) <= len(b) && string(b[off:off+len(magic)]) == magic
}

// cString is a fixed-size, NUL- or space-padded on-disk string.
func cString(b []byte, off, n int) string {
	if off+n > len(b) {
		return ""
	}
	s := b[off : off+n]
	if i := bytes.IndexByte(s, 0); i >= 0 {
		s = s[:i]
	}
	return strings.ToValidUTF8(string(s), "\uFFFD")
}

func sniffLUKS(b []byte) (string, string, bool) {
	if !at(b, 0, "LUKS\xba\xbe") {
		return "", "", false
	}
	if len(b) >= 8 && binary.BigEndian.Uint16(b[6:]) == 2 {
		return FSLUKS, cString(b, 24, 48), true
	}
	return FSLUKS, "", true
}

func sniffLVM(b []byte) (string, string, bool) {
	for s := 0; s < 4; s++ {
		if at(b, s*512, "LABELONE") && at(b, s*512+24, "LVM2 001") {
			return FSLVM, "", true
		}
	}
	return "", "", false
}

func sniffXFS(b []byte) (string, string, bool) {
	if !at(b, 0, "XFSB") {
		return "", "", false
	}
	return FSXFS, cString(b, 108, 12), true
}

func sniffSquashfs(b []byte) (string, string, bool) {
	return FSSquash, "", at(b, 0, "hsqs") || at(b, 0, "sqsh")
}

// ext feature bits that ext3 understands; anything else means ext4
// (the rule blkid uses).
const (
	extCompatHasJournal    = 0x4
	extIncompatJournalDev  = 0x8
	ext3IncompatSupported  = 0x2 | 0x4 | 0x10 // filetype, recover, meta_bg
	ext3ROCompatSupported  = 0x1 | 0x2 | 0x4  // sparse_super, large_file, btree_dir
	extMagic               = 0xef53
	extMagicOffset         = 0x38
	extCompatOffset        = 0x5c
	extIncompatOffset      = 0x60
	extROCompatOffset      = 0x64
	extVolumeNameOffset    = 0x78
	extSuperblockMinLength = 0x88
)

func sniffExt(b []byte) (string, string, bool) {
	if len(b) < extSuperOffset+extSuperblockMinLength {
		return "", "", false
	}
	sb := b[extSuperOffset:]
	le := binary.LittleEndian
	if le.Uint16(sb[extMagicOffset:]) != extMagic {
		return "", "", false
	}
	compat, incompat, roCompat := le.Uint32(sb[extCompatOffset:]), le.Uint32(sb[extIncompatOffset:]), le.Uint32(sb[extROCompatOffset:])
	label := cString(sb, extVolumeNameOffset, 16)
	switch {
	case incompat&extIncompatJournalDev != 0:
		return FSJBD, label, true
	case incompat&^ext3IncompatSupported != 0 || roCompat&^ext3ROCompatSupported != 0:
		return FSExt4, label, true
	case compat&extCompatHasJournal != 0:
		return FSExt3, label, true
	}
	return FSExt2, label, true
}

func sniffBtrfs(b []byte) (string, string, bool) {
	if !at(b, btrfsSuperOffset+64, "_BHRfS_M") {
		return "", "", false
	}
	return FSBtrfs, cString(b, btrfsSuperOffset+0x12b, 256), true
}

func sniffSwap(b []byte) (string, string, bool) {
	for _, page := range []int{4096, 8192, 16384, 65536} {
		if at(b, page-10, "SWAPSPACE2") {
			return FSSwap, cString(b, 1024+28, 16), true
		}
		if at(b, page-10, "SWAP-SPACE") {
			return FSSwap, "", true
		}
	}
	return "", "", false
}

// sniffVFAT checks the BIOS parameter block, since a FAT boot sector has no
// single strong magic.
func sniffVFAT(b []byte) (string, string, bool) {
	if len(b) < 512 || (b[0] != 0xeb && b[0] != 0xe9) || b[510] != 0x55 || b[511] != 0xaa {
		return "", "", false
	}
	le := binary.LittleEndian
	bps, spc, reserved, fats, media := le.Uint16(b[11:]), b[13], le.Uint16(b[14:]), b[16], b[21]
	if bps < 512 || bps > 4096 || bps&(bps-1) != 0 || spc == 0 || spc&(spc-1) != 0 ||
		reserved == 0 || fats < 1 || fats > 2 || (media != 0xf0 && media < 0xf8) {
		return "", "", false
	}
	var label string
	switch {
	case at(b, 82, "FAT32"):
		label = cString(b, 71, 11)
	case at(b, 54, "FAT"):
		label = cString(b, 43, 11)
	default:
		return "", "", false
	}
	label = strings.TrimRight(label, " ")
	if label == "NO NAME" {
		label = ""
	}
	return FSVFAT, label, true
}
