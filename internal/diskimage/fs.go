package diskimage

import (
	"bytes"
	"encoding/binary"
	"fmt"
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

// fsInfo is what a superblock tells of its filesystem.
type fsInfo struct {
	fs, label string
	uuid      string // as blkid prints it: lowercase, or XXXX-XXXX for vfat
	// needsRecovery: an ext3/4 journal holds changes not yet written back.
	needsRecovery bool
}

// sniffFilesystem identifies the filesystem at the start of r by its
// superblock magic (fs "" when unknown).
func sniffFilesystem(r io.ReaderAt, buf []byte) (fsInfo, error) {
	n, err := r.ReadAt(buf[:sniffSize], 0)
	if err != nil && err != io.EOF {
		return fsInfo{}, err
	}
	b := buf[:n]
	for _, sniff := range sniffers {
		if info, ok := sniff(b); ok {
			return info, nil
		}
	}
	return fsInfo{}, nil
}

// uuidAt formats the 16 bytes at off as a UUID; "" when they are out of
// range or all zero.
func uuidAt(b []byte, off int) string {
	if off+16 > len(b) {
		return ""
	}
	u := b[off : off+16]
	if bytes.Equal(u, make([]byte, 16)) {
		return ""
	}
	return fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16])
}

// sniffers run in order; the loosest test (vfat) comes last.
var sniffers = []func(b []byte) (fsInfo, bool){
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

func sniffLUKS(b []byte) (fsInfo, bool) {
	if !at(b, 0, "LUKS\xba\xbe") {
		return fsInfo{}, false
	}
	info := fsInfo{fs: FSLUKS, uuid: strings.ToLower(cString(b, 168, 40))}
	if len(b) >= 8 && binary.BigEndian.Uint16(b[6:]) == 2 {
		info.label = cString(b, 24, 48)
	}
	return info, true
}

func sniffLVM(b []byte) (fsInfo, bool) {
	for s := 0; s < 4; s++ {
		if at(b, s*512, "LABELONE") && at(b, s*512+24, "LVM2 001") {
			return fsInfo{fs: FSLVM}, true
		}
	}
	return fsInfo{}, false
}

func sniffXFS(b []byte) (fsInfo, bool) {
	if !at(b, 0, "XFSB") {
		return fsInfo{}, false
	}
	return fsInfo{fs: FSXFS, label: cString(b, 108, 12), uuid: uuidAt(b, 32)}, true
}

func sniffSquashfs(b []byte) (fsInfo, bool) {
	return fsInfo{fs: FSSquash}, at(b, 0, "hsqs") || at(b, 0, "sqsh")
}

// ext feature bits that ext3 understands; anything else means ext4
// (the rule blkid uses).
const (
	extCompatHasJournal    = 0x4
	extIncompatRecover     = 0x4
	extIncompatJournalDev  = 0x8
	ext3IncompatSupported  = 0x2 | 0x4 | 0x10 // filetype, recover, meta_bg
	ext3ROCompatSupported  = 0x1 | 0x2 | 0x4  // sparse_super, large_file, btree_dir
	extMagic               = 0xef53
	extMagicOffset         = 0x38
	extCompatOffset        = 0x5c
	extIncompatOffset      = 0x60
	extROCompatOffset      = 0x64
	extUUIDOffset          = 0x68
	extVolumeNameOffset    = 0x78
	extSuperblockMinLength = 0x88
)

func sniffExt(b []byte) (fsInfo, bool) {
	if len(b) < extSuperOffset+extSuperblockMinLength {
		return fsInfo{}, false
	}
	sb := b[extSuperOffset:]
	le := binary.LittleEndian
	if le.Uint16(sb[extMagicOffset:]) != extMagic {
		return fsInfo{}, false
	}
	compat, incompat, roCompat := le.Uint32(sb[extCompatOffset:]), le.Uint32(sb[extIncompatOffset:]), le.Uint32(sb[extROCompatOffset:])
	info := fsInfo{fs: FSExt2, label: cString(sb, extVolumeNameOffset, 16), uuid: uuidAt(sb, extUUIDOffset),
		needsRecovery: incompat&extIncompatRecover != 0}
	switch {
	case incompat&extIncompatJournalDev != 0:
		info.fs = FSJBD
	case incompat&^ext3IncompatSupported != 0 || roCompat&^ext3ROCompatSupported != 0:
		info.fs = FSExt4
	case compat&extCompatHasJournal != 0:
		info.fs = FSExt3
	}
	return info, true
}

func sniffBtrfs(b []byte) (fsInfo, bool) {
	if !at(b, btrfsSuperOffset+64, "_BHRfS_M") {
		return fsInfo{}, false
	}
	return fsInfo{fs: FSBtrfs, label: cString(b, btrfsSuperOffset+0x12b, 256), uuid: uuidAt(b, btrfsSuperOffset+0x20)}, true
}

func sniffSwap(b []byte) (fsInfo, bool) {
	for _, page := range []int{4096, 8192, 16384, 65536} {
		if at(b, page-10, "SWAPSPACE2") {
			return fsInfo{fs: FSSwap, label: cString(b, 1024+28, 16), uuid: uuidAt(b, 1024+12)}, true
		}
		if at(b, page-10, "SWAP-SPACE") {
			return fsInfo{fs: FSSwap}, true
		}
	}
	return fsInfo{}, false
}

// sniffVFAT checks the BIOS parameter block, since a FAT boot sector has no
// single strong magic.
func sniffVFAT(b []byte) (fsInfo, bool) {
	if len(b) < 512 || (b[0] != 0xeb && b[0] != 0xe9) || b[510] != 0x55 || b[511] != 0xaa {
		return fsInfo{}, false
	}
	le := binary.LittleEndian
	bps, spc, reserved, fats, media := le.Uint16(b[11:]), b[13], le.Uint16(b[14:]), b[16], b[21]
	if bps < 512 || bps > 4096 || bps&(bps-1) != 0 || spc == 0 || spc&(spc-1) != 0 ||
		reserved == 0 || fats < 1 || fats > 2 || (media != 0xf0 && media < 0xf8) {
		return fsInfo{}, false
	}
	var label string
	var serial uint32
	switch {
	case at(b, 82, "FAT32"):
		label, serial = cString(b, 71, 11), le.Uint32(b[67:])
	case at(b, 54, "FAT"):
		label, serial = cString(b, 43, 11), le.Uint32(b[39:])
	default:
		return fsInfo{}, false
	}
	label = strings.TrimRight(label, " ")
	if label == "NO NAME" {
		label = ""
	}
	return fsInfo{fs: FSVFAT, label: label, uuid: fmt.Sprintf("%04X-%04X", serial>>16, serial&0xffff)}, true
}
