package xfs

import (
	"fmt"
	"math"
	"time"

	"github.com/c34478be/packer-plugin-maas/internal/fstree"
)

const (
	inodeMagic      = 0x494e // "IN"
	inodeCoreV2Size = 100
	inodeCoreV3Size = 176
	inodeCRCOffset  = 100
)

// Data and attribute fork formats (di_format, di_aformat).
const (
	formatDev     = 0
	formatLocal   = 1
	formatExtents = 2
	formatBtree   = 3
)

// Inode flags.
const (
	flagRealtime   = 0x1  // di_flags: data on the realtime device
	flags2Bigtime  = 0x8  // di_flags2: timestamps in nanoseconds since 1901
	flags2Nrext64  = 0x10 // di_flags2: 64-bit data extent counter
	devMinorBits   = 18   // XFS device numbers: major << 18 | minor
	bigtimeEpochSh = 31   // bigtime counts from -2^31 seconds
	maxTimeNsec    = 1e9 - 1
)

// inode is a decoded on-disk inode.
type inode struct {
	num       uint64
	raw       []byte
	mode      uint32
	version   uint8
	format    uint8
	aformat   uint8
	uid, gid  uint32
	nlink     uint32
	size      uint64
	flags     uint16
	flags2    uint64
	nextents  uint64
	anextents uint64
	forkOff   int // byte offset of the attribute fork in raw, 0 if none
	coreSize  int
	atime     time.Time
	mtime     time.Time
	ctime     time.Time
}

func (in *inode) fileType() uint32 { return in.mode & fstree.ModeType }

// dataFork returns the bytes of the data fork in the inode's literal area.
func (in *inode) dataFork() []byte {
	if in.forkOff != 0 {
		return in.raw[in.coreSize:in.forkOff]
	}
	return in.raw[in.coreSize:]
}

// attrFork returns the bytes of the attribute fork, nil if there is none.
func (in *inode) attrFork() []byte {
	if in.forkOff == 0 {
		return nil
	}
	return in.raw[in.forkOff:]
}

// inodeOffset returns the image byte offset of inode ino.
func (fs *FS) inodeOffset(ino uint64) (int64, error) {
	sb := &fs.sb
	agShift := sb.agBlkLog + sb.inoPBLog
	if agShift >= 64 || ino>>agShift >= sb.agCount {
		return 0, fmt.Errorf("inode number is outside the filesystem's %d AGs", sb.agCount)
	}
	fsb := ino >> sb.inoPBLog // AG number and AG block, as in a block number
	off, err := sb.blockOffset(fsb, 1)
	if err != nil {
		return 0, err
	}
	return off + int64(ino&(1<<sb.inoPBLog-1)*sb.inodeSize), nil
}

// readInode reads and checks inode ino.
func (fs *FS) readInode(ino uint64) (*inode, error) {
	off, err := fs.inodeOffset(ino)
	if err != nil {
		return nil, inodeError(ino, err)
	}
	raw := make([]byte, fs.sb.inodeSize)
	if err := readFull(fs.r, raw, off); err != nil {
		return nil, inodeError(ino, fmt.Errorf("reading at byte %d: %w", off, err))
	}
	in, err := fs.parseInode(ino, raw)
	if err != nil {
		return nil, inodeError(ino, err)
	}
	return in, nil
}

// parseInode decodes raw, the on-disk inode ino.
func (fs *FS) parseInode(ino uint64, raw []byte) (*inode, error) {
	if m := be16(raw); m != inodeMagic {
		return nil, fmt.Errorf("magic is %#04x, want %#04x (not an inode, or a free one)", m, inodeMagic)
	}
	in := &inode{num: ino, raw: raw, mode: uint32(be16(raw[2:])), version: raw[4], format: raw[5], coreSize: inodeCoreV2Size}
	switch {
	case fs.sb.v5 && in.version == 3:
		in.coreSize = inodeCoreV3Size
		if checkCRCs && !crcOK(raw, inodeCRCOffset) {
			return nil, fmt.Errorf("CRC is wrong (a damaged or altered inode)")
		}
		if n := be64(raw[152:]); n != ino {
			return nil, fmt.Errorf("the inode says it is number %d", n)
		}
		in.flags2 = be64(raw[120:])
	case !fs.sb.v5 && (in.version == 1 || in.version == 2):
	default:
		return nil, fmt.Errorf("inode version %d is invalid on a v%d filesystem", in.version, map[bool]int{true: 5, false: 4}[fs.sb.v5])
	}
	in.uid, in.gid = be32(raw[8:]), be32(raw[12:])
	in.nlink = be32(raw[16:])
	if in.version == 1 {
		in.nlink = uint32(be16(raw[6:]))
	}
	in.size = be64(raw[56:])
	if in.size > math.MaxInt64 {
		return nil, fmt.Errorf("size %d is negative", int64(in.size))
	}
	in.flags = be16(raw[90:])
	in.aformat = raw[83]
	if in.flags2&flags2Nrext64 != 0 {
		in.nextents, in.anextents = be64(raw[24:]), uint64(be32(raw[76:]))
	} else {
		in.nextents, in.anextents = uint64(be32(raw[76:])), uint64(be16(raw[80:]))
	}
	if forkOff := int(raw[82]) * 8; forkOff != 0 {
		if in.coreSize+forkOff >= len(raw) {
			return nil, fmt.Errorf("attribute fork offset %d is past the inode's %d bytes", forkOff, len(raw)-in.coreSize)
		}
		in.forkOff = in.coreSize + forkOff
	}
	in.atime = fs.timestamp(in, raw[32:])
	in.mtime = fs.timestamp(in, raw[40:])
	in.ctime = fs.timestamp(in, raw[48:])
	if in.flags&flagRealtime != 0 {
		return nil, fmt.Errorf("its data is on the realtime device, which this reader does not read")
	}
	return in, nil
}

// timestamp decodes an inode time: seconds and nanoseconds since 1970,
// or with bigtime nanoseconds since 1901-12-13 (-2^31 s).
func (fs *FS) timestamp(in *inode, b []byte) time.Time {
	if in.flags2&flags2Bigtime != 0 {
		ns := be64(b)
		return time.Unix(int64(ns/1e9)-1<<bigtimeEpochSh, int64(ns%1e9))
	}
	return time.Unix(int64(int32(be32(b))), int64(min(be32(b[4:]), maxTimeNsec)))
}

// Stat returns the metadata of inode ino.
func (fs *FS) Stat(ino uint64) (fstree.Stat, error) {
	in, err := fs.readInode(ino)
	if err != nil {
		return fstree.Stat{}, err
	}
	st := fstree.Stat{
		Ino: ino, Mode: in.mode, UID: in.uid, GID: in.gid, Size: int64(in.size), Nlink: in.nlink,
		Atime: in.atime, Mtime: in.mtime, Ctime: in.ctime,
	}
	switch in.fileType() {
	case fstree.ModeChar, fstree.ModeBlock:
		dev, err := in.device()
		if err != nil {
			return fstree.Stat{}, inodeError(ino, err)
		}
		st.DevMajor, st.DevMinor = dev>>devMinorBits, dev&(1<<devMinorBits-1)
	case fstree.ModeRegular, fstree.ModeDir, fstree.ModeSymlink, fstree.ModeFIFO, fstree.ModeSocket:
	default:
		return fstree.Stat{}, inodeError(ino, fmt.Errorf("unknown file type in mode %#o", in.mode))
	}
	return st, nil
}

// device returns a device inode's number.
func (in *inode) device() (uint32, error) {
	fork := in.dataFork()
	if in.format != formatDev || len(fork) < 4 {
		return 0, fmt.Errorf("device inode has data fork format %d, want %d", in.format, formatDev)
	}
	return be32(fork), nil
}
