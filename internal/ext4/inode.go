package ext4

import (
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/c34478be/packer-plugin-maas/internal/fstree"
)

// Byte offsets in an on-disk inode.
const (
	inMode       = 0x00
	inUIDLo      = 0x02
	inSizeLo     = 0x04
	inAtime      = 0x08
	inCtime      = 0x0C
	inMtime      = 0x10
	inGIDLo      = 0x18
	inLinks      = 0x1A
	inBlocksLo   = 0x1C
	inFlags      = 0x20
	inBlock      = 0x28
	inFileACLLo  = 0x68
	inSizeHi     = 0x6C
	inBlocksHi   = 0x74
	inFileACLHi  = 0x76
	inUIDHi      = 0x78
	inGIDHi      = 0x7A
	inExtraIsize = 0x80
	inCtimeExtra = 0x84
	inMtimeExtra = 0x88
	inAtimeExtra = 0x8C

	goodOldInodeSize = 128
	inlineBlockSize  = 60 // i_block: 15 block pointers, or extent root, or inline data
)

// Inode flags we act on.
const (
	flagEncrypt    = 0x800
	flagHugeFile   = 0x40000
	flagExtents    = 0x80000
	flagEAInode    = 0x200000
	flagInlineData = 0x10000000
)

// ErrEncrypted is returned for the contents of fscrypt-encrypted inodes,
// which cannot be exported without their keys.
var ErrEncrypted = errors.New("the inode is encrypted (fscrypt); encrypted files cannot be exported")

// inode is a decoded on-disk inode.
type inode struct {
	num     uint64
	mode    uint16
	uid     uint32
	gid     uint32
	size    uint64
	links   uint16
	flags   uint32
	fileACL uint64
	// block is i_block: block map, extent tree root, inline data or a fast
	// symlink's target.
	block []byte
	// blocks512 is i_blocks in 512-byte sectors.
	blocks512 uint64
	// raw is the whole on-disk inode (shared with the cache, read-only).
	raw        []byte
	extraIsize uint32
}

// inodeError wraps err with the inode number, the form of every error
// about an inode's contents.
func inodeError(ino uint64, err error) error {
	return fmt.Errorf("ext4: inode %d: %w", ino, err)
}

// readInode decodes inode ino.
func (fs *FS) readInode(ino uint64) (*inode, error) {
	if ino == 0 || ino > uint64(fs.sb.inodesCount) {
		return nil, fmt.Errorf("ext4: inode %d is out of range (1 to %d)", ino, fs.sb.inodesCount)
	}
	index := ino - 1
	ipg := uint64(fs.sb.inodesPerGroup)
	offset := (index % ipg) * uint64(fs.sb.inodeSize)
	table, err := fs.inodeTable(index / ipg)
	if err != nil {
		return nil, inodeError(ino, err)
	}
	b, err := fs.metadataBlock(table + offset>>fs.blockShift)
	if err != nil {
		return nil, inodeError(ino, err)
	}
	within := offset & (fs.blockSize - 1)
	raw := b[within : within+uint64(fs.sb.inodeSize)]
	in := &inode{
		num:       ino,
		mode:      le16(raw[inMode:]),
		uid:       uint32(le16(raw[inUIDLo:])) | uint32(le16(raw[inUIDHi:]))<<16,
		gid:       uint32(le16(raw[inGIDLo:])) | uint32(le16(raw[inGIDHi:]))<<16,
		size:      uint64(le32(raw[inSizeLo:])) | uint64(le32(raw[inSizeHi:]))<<32,
		links:     le16(raw[inLinks:]),
		flags:     le32(raw[inFlags:]),
		fileACL:   uint64(le32(raw[inFileACLLo:])) | uint64(le16(raw[inFileACLHi:]))<<32,
		block:     raw[inBlock : inBlock+inlineBlockSize],
		blocks512: uint64(le32(raw[inBlocksLo:])),
		raw:       raw,
	}
	if fs.sb.featureRoCompat&roCompatHugeFile != 0 {
		in.blocks512 |= uint64(le16(raw[inBlocksHi:])) << 32
		if in.flags&flagHugeFile != 0 {
			in.blocks512 <<= fs.blockShift - 9
		}
	}
	if fs.sb.inodeSize > goodOldInodeSize {
		in.extraIsize = uint32(le16(raw[inExtraIsize:]))
		if in.extraIsize > fs.sb.inodeSize-goodOldInodeSize || in.extraIsize%4 != 0 {
			return nil, inodeError(ino, fmt.Errorf("extra inode size %d is invalid for %d-byte inodes", in.extraIsize, fs.sb.inodeSize))
		}
	}
	if in.size > math.MaxInt64 {
		return nil, inodeError(ino, fmt.Errorf("size %d is too large", in.size))
	}
	if in.fileACL >= fs.sb.blocksCount {
		return nil, inodeError(ino, fmt.Errorf("xattr block %d is beyond the end of the filesystem", in.fileACL))
	}
	return in, nil
}

func (in *inode) fileType() uint32 { return uint32(in.mode) & fstree.ModeType }

func (in *inode) isDir() bool { return in.fileType() == fstree.ModeDir }

func (in *inode) hasInlineData() bool { return in.flags&flagInlineData != 0 }

// fits reports whether an extra field at offset off of size n lies within
// i_extra_isize.
func (in *inode) fits(off, n uint32) bool {
	return off+n <= goodOldInodeSize+in.extraIsize
}

// timestamp decodes a time: signed 32-bit seconds, extended (when the
// inode is large enough) by 2 epoch bits and 30 bits of nanoseconds.
func (in *inode) timestamp(secOff, extraOff uint32) time.Time {
	sec := int64(int32(le32(in.raw[secOff:])))
	var nsec int64
	if in.fits(extraOff, 4) {
		extra := le32(in.raw[extraOff:])
		sec += int64(extra&3) << 32
		nsec = int64(extra >> 2)
	}
	return time.Unix(sec, nsec)
}

// device decodes the device number of a character or block device: the
// old 8:8 encoding in i_block[0], or the new one in i_block[1].
func (in *inode) device() (major, minor uint32) {
	if old := le32(in.block[0:]); old != 0 {
		return (old >> 8) & 0xff, old & 0xff
	}
	dev := le32(in.block[4:])
	return (dev & 0xfff00) >> 8, (dev & 0xff) | ((dev >> 12) & 0xfff00)
}

// Stat returns the metadata of inode ino.
func (fs *FS) Stat(ino uint64) (fstree.Stat, error) {
	in, err := fs.readInode(ino)
	if err != nil {
		return fstree.Stat{}, err
	}
	switch in.fileType() {
	case fstree.ModeRegular, fstree.ModeDir, fstree.ModeSymlink, fstree.ModeChar,
		fstree.ModeBlock, fstree.ModeFIFO, fstree.ModeSocket:
	default:
		return fstree.Stat{}, inodeError(ino, fmt.Errorf("unknown file type in mode %#o (unused or corrupted inode)", in.mode))
	}
	st := fstree.Stat{
		Ino:   ino,
		Mode:  uint32(in.mode),
		UID:   in.uid,
		GID:   in.gid,
		Size:  int64(in.size),
		Nlink: uint32(in.links),
		Atime: in.timestamp(inAtime, inAtimeExtra),
		Mtime: in.timestamp(inMtime, inMtimeExtra),
		Ctime: in.timestamp(inCtime, inCtimeExtra),
	}
	if t := in.fileType(); t == fstree.ModeChar || t == fstree.ModeBlock {
		st.DevMajor, st.DevMinor = in.device()
	}
	return st, nil
}
