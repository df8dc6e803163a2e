package xfs

import (
	"fmt"
	"hash/crc32"
	"math/bits"
	"strings"
)

const (
	superblockMagic = 0x58465342 // "XFSB"
	minSectorSize   = 512
	maxSectorSize   = 32768
	versionNumMask  = 0x000f
)

// Byte offsets of the superblock fields we use (big-endian).
const (
	sbMagic               = 0
	sbBlockSize           = 4
	sbDBlocks             = 8
	sbRBlocks             = 16
	sbUUID                = 32
	sbLogStart            = 48
	sbRootIno             = 56
	sbAGBlocks            = 84
	sbAGCount             = 88
	sbLogBlocks           = 96
	sbVersionNum          = 100
	sbSectSize            = 102
	sbInodeSize           = 104
	sbInoPBlock           = 106
	sbFname               = 108
	sbBlockLog            = 120
	sbInodeLog            = 122
	sbInoPBLog            = 123
	sbAGBlkLog            = 124
	sbInProgress          = 126
	sbDirBlkLog           = 192
	sbFeatures2           = 200
	sbFeaturesIncompat    = 216
	sbFeaturesLogIncompat = 220
	sbCRC                 = 224
	sbV5Size              = 264
)

// Version bits of sb_versionnum and sb_features2 (v4).
const (
	versionDirV2    = 0x2000
	versionMoreBits = 0x8000
	features2FType  = 0x200
)

// Incompatible features of v5 filesystems: a reader that does not know one
// must refuse.
const (
	incompatFType       = 0x1
	incompatSpinodes    = 0x2
	incompatMetaUUID    = 0x4
	incompatBigtime     = 0x8
	incompatNeedsRepair = 0x10
	incompatNrext64     = 0x20
	incompatExchange    = 0x40
	incompatParent      = 0x80
	incompatMetadir     = 0x100
	incompatZoned       = 0x200
)

// supportedIncompat are the incompatible features this reader handles:
// sparse inode chunks and the metadata UUID change nothing for a reader
// by inode number; file-range exchange only adds log items; parent
// pointers are xattrs that getxattr does not show.
const supportedIncompat = incompatFType | incompatSpinodes | incompatMetaUUID |
	incompatBigtime | incompatNrext64 | incompatExchange | incompatParent

var incompatNames = map[uint32]string{
	incompatNeedsRepair: "needsrepair (xfs_repair was interrupted: run `xfs_repair` on the image)",
	incompatMetadir:     "metadir (the metadata directory tree of xfsprogs 6.13 and later)",
	incompatZoned:       "zoned (zoned-storage realtime volume)",
}

type superblock struct {
	blockSize   uint64
	blockLog    uint
	dblocks     uint64
	rblocks     uint64
	uuid        [16]byte
	label       string
	logStart    uint64
	logBlocks   uint64
	rootIno     uint64
	agBlocks    uint64
	agCount     uint64
	agBlkLog    uint
	inodeSize   uint64
	inoPBLog    uint
	dirBlkLog   uint
	v5          bool
	ftype       bool
	incompat    uint32
	logIncompat uint32
}

// checkCRCs is turned off only by fuzz targets, so that their mutations
// reach the structures behind the checksums.
var checkCRCs = true

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// crc32c is the CRC XFS stores (little-endian) in its v5 metadata.
func crc32c(b []byte) uint32 { return crc32.Checksum(b, castagnoli) }

// crcOK reports whether the little-endian CRC32c stored at off in b is
// that of b with those four bytes zeroed, as XFS computes it.
func crcOK(b []byte, off int) bool {
	c := crc32.Update(0, castagnoli, b[:off])
	c = crc32.Update(c, castagnoli, []byte{0, 0, 0, 0})
	c = crc32.Update(c, castagnoli, b[off+4:])
	return c == uint32(b[off])|uint32(b[off+1])<<8|uint32(b[off+2])<<16|uint32(b[off+3])<<24
}

// parseSuperblock decodes and checks the superblock in b, which holds at
// least its first sector.
func parseSuperblock(b []byte) (superblock, error) {
	var sb superblock
	if m := be32(b[sbMagic:]); m != superblockMagic {
		return sb, fmt.Errorf("xfs: no XFS filesystem (superblock magic is %#08x, want %#08x)", m, superblockMagic)
	}
	version := be16(b[sbVersionNum:])
	switch version & versionNumMask {
	case 4:
	case 5:
		sb.v5 = true
	default:
		return sb, fmt.Errorf("xfs: superblock version %d is not supported (4 or 5)", version&versionNumMask)
	}
	sectSize := int(be16(b[sbSectSize:]))
	if sectSize < minSectorSize || sectSize > maxSectorSize || bits.OnesCount(uint(sectSize)) != 1 || sectSize > len(b) {
		return sb, fmt.Errorf("xfs: sector size %d is invalid (a power of two from 512 to 32768)", sectSize)
	}
	if sb.v5 && checkCRCs && !crcOK(b[:sectSize], sbCRC) {
		return sb, fmt.Errorf("xfs: the superblock's CRC is wrong (a damaged or altered filesystem: run `xfs_repair -n` on it)")
	}
	if version&versionDirV2 == 0 && !sb.v5 {
		return sb, fmt.Errorf("xfs: version 1 directories are not supported (a filesystem from before 2002)")
	}
	if err := sb.geometry(b); err != nil {
		return sb, err
	}
	copy(sb.uuid[:], b[sbUUID:])
	sb.label = cString(b[sbFname : sbFname+12])
	if sb.v5 {
		sb.incompat = be32(b[sbFeaturesIncompat:])
		sb.logIncompat = be32(b[sbFeaturesLogIncompat:])
		if err := checkIncompat(sb.incompat); err != nil {
			return sb, err
		}
		sb.ftype = sb.incompat&incompatFType != 0
	} else if version&versionMoreBits != 0 {
		sb.ftype = be32(b[sbFeatures2:])&features2FType != 0
	}
	if b[sbInProgress] != 0 {
		return sb, fmt.Errorf("xfs: the filesystem is marked as being made (sb_inprogress): mkfs.xfs did not finish")
	}
	return sb, nil
}

// geometry decodes and checks the block, AG and inode geometry.
func (sb *superblock) geometry(b []byte) error {
	blockSize := be32(b[sbBlockSize:])
	blockLog := uint(b[sbBlockLog])
	if blockLog < 9 || blockLog > 16 || blockSize != 1<<blockLog {
		return fmt.Errorf("xfs: block size %d (log %d) is invalid (512 bytes to 64 KiB)", blockSize, blockLog)
	}
	sb.blockSize, sb.blockLog = uint64(blockSize), blockLog
	inodeSize := uint64(be16(b[sbInodeSize:]))
	inodeLog := uint(b[sbInodeLog])
	minInode := uint64(256)
	if sb.v5 {
		minInode = 512
	}
	if inodeLog > 11 || inodeSize != 1<<inodeLog || inodeSize < minInode || inodeSize > sb.blockSize {
		return fmt.Errorf("xfs: inode size %d is invalid (a power of two from %d to 2048 and the block size)", inodeSize, minInode)
	}
	sb.inodeSize = inodeSize
	sb.inoPBLog = uint(b[sbInoPBLog])
	if sb.inoPBLog != blockLog-inodeLog || uint64(be16(b[sbInoPBlock:])) != sb.blockSize/inodeSize {
		return fmt.Errorf("xfs: %d inodes per block (log %d) do not match the block and inode sizes", be16(b[sbInoPBlock:]), sb.inoPBLog)
	}
	sb.dblocks = be64(b[sbDBlocks:])
	sb.rblocks = be64(b[sbRBlocks:])
	sb.agBlocks = uint64(be32(b[sbAGBlocks:]))
	sb.agCount = uint64(be32(b[sbAGCount:]))
	sb.agBlkLog = uint(b[sbAGBlkLog])
	if sb.agBlocks < 64 || sb.agBlkLog > 31 || sb.agBlocks > 1<<sb.agBlkLog || sb.agBlocks <= 1<<sb.agBlkLog>>1 {
		return fmt.Errorf("xfs: %d blocks per allocation group (log %d) is invalid", sb.agBlocks, sb.agBlkLog)
	}
	if sb.agCount == 0 || sb.dblocks == 0 || sb.dblocks > sb.agCount*sb.agBlocks || sb.dblocks <= (sb.agCount-1)*sb.agBlocks {
		return fmt.Errorf("xfs: %d blocks do not fill %d allocation groups of %d blocks", sb.dblocks, sb.agCount, sb.agBlocks)
	}
	sb.dirBlkLog = uint(b[sbDirBlkLog])
	if blockLog+sb.dirBlkLog > 16 {
		return fmt.Errorf("xfs: directory block size 2^%d is invalid (at most 64 KiB)", blockLog+sb.dirBlkLog)
	}
	sb.logStart = be64(b[sbLogStart:])
	sb.logBlocks = uint64(be32(b[sbLogBlocks:]))
	sb.rootIno = be64(b[sbRootIno:])
	return nil
}

// checkSize checks that the filesystem fits in the image.
func (sb *superblock) checkSize(size int64) error {
	if size < 0 || sb.dblocks > uint64(size)>>sb.blockLog {
		return fmt.Errorf("xfs: the filesystem claims %d blocks of %d bytes, more than the %d-byte image holds (a truncated image?)",
			sb.dblocks, sb.blockSize, size)
	}
	return nil
}

// checkIncompat refuses incompatible features we cannot read, naming them.
func checkIncompat(features uint32) error {
	unknown := features &^ supportedIncompat
	if unknown == 0 {
		return nil
	}
	var names []string
	for bit := uint32(1); bit != 0; bit <<= 1 {
		if unknown&bit == 0 {
			continue
		}
		if name, ok := incompatNames[bit]; ok {
			names = append(names, name)
		} else {
			names = append(names, fmt.Sprintf("unknown feature %#x", bit))
		}
	}
	return fmt.Errorf("xfs: cannot read this filesystem, it uses incompatible features: %s", strings.Join(names, ", "))
}

// blockOffset returns the image byte offset of n blocks starting at the
// filesystem block fsb (AG number in the high bits, AG block in the low
// agblklog bits), checking that they lie within one AG and the filesystem.
func (sb *superblock) blockOffset(fsb, n uint64) (int64, error) {
	agno, agbno := fsb>>sb.agBlkLog, fsb&(1<<sb.agBlkLog-1)
	if agno >= sb.agCount || agbno >= sb.agBlocks || n > sb.agBlocks-agbno {
		return 0, fmt.Errorf("block %#x (AG %d block %d, %d blocks) is outside the filesystem's %d AGs of %d blocks",
			fsb, agno, agbno, n, sb.agCount, sb.agBlocks)
	}
	linear := agno*sb.agBlocks + agbno
	if linear+n > sb.dblocks {
		return 0, fmt.Errorf("block %#x (%d blocks) is beyond the end of the filesystem (%d blocks)", fsb, n, sb.dblocks)
	}
	return int64(linear << sb.blockLog), nil
}
