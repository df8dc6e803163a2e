package ext4

import (
	"encoding/binary"
	"fmt"
	"math/bits"
	"strings"
)

const (
	superblockOffset = 1024
	superblockSize   = 1024
	superblockMagic  = 0xEF53
)

// Byte offsets of the superblock fields we use.
const (
	sbInodesCount     = 0x00
	sbBlocksCountLo   = 0x04
	sbFirstDataBlock  = 0x14
	sbLogBlockSize    = 0x18
	sbLogClusterSize  = 0x1C
	sbBlocksPerGroup  = 0x20
	sbInodesPerGroup  = 0x28
	sbMagic           = 0x38
	sbRevLevel        = 0x4C
	sbInodeSize       = 0x58
	sbFeatureCompat   = 0x5C
	sbFeatureIncompat = 0x60
	sbFeatureRoCompat = 0x64
	sbUUID            = 0x68
	sbVolumeName      = 0x78
	sbDescSize        = 0xFE
	sbFirstMetaBG     = 0x104
	sbBlocksCountHi   = 0x150
	sbBackupBGs       = 0x24C
)

// Compatible features that change where metadata lives.
const (
	compatSparseSuper2 = 0x200
)

// Incompatible features: a reader that does not know one must refuse.
const (
	incompatCompression = 0x1
	incompatFiletype    = 0x2
	incompatRecover     = 0x4
	incompatJournalDev  = 0x8
	incompatMetaBG      = 0x10
	incompatExtents     = 0x40
	incompat64bit       = 0x80
	incompatMMP         = 0x100
	incompatFlexBG      = 0x200
	incompatEAInode     = 0x400
	incompatDirData     = 0x1000
	incompatCsumSeed    = 0x2000
	incompatLargeDir    = 0x4000
	incompatInlineData  = 0x8000
	incompatEncrypt     = 0x10000
	incompatCasefold    = 0x20000
)

// Read-only compatible features we look at. Unknown ones are fine for a
// read-only reader by definition.
const (
	roCompatSparseSuper = 0x1
	roCompatHugeFile    = 0x8
	roCompatBigalloc    = 0x200
)

// supportedIncompat are the incompatible features this reader handles.
// Casefold only changes name lookup, and encryption is refused per inode
// (ErrEncrypted) so that unencrypted trees still export.
const supportedIncompat = incompatFiletype | incompatMetaBG | incompatExtents |
	incompat64bit | incompatMMP | incompatFlexBG | incompatEAInode |
	incompatCsumSeed | incompatLargeDir | incompatInlineData |
	incompatEncrypt | incompatCasefold

// unsupportedIncompat explains each incompatible feature we refuse.
var unsupportedIncompat = map[uint32]string{
	incompatCompression: "compression (never finished in Linux)",
	incompatRecover: "needs_recovery (the journal holds changes not yet written: " +
		"shut the VM down cleanly, or run `e2fsck -fy` on the image)",
	incompatJournalDev: "journal_dev (this is an external journal, not a filesystem)",
	incompatDirData:    "dirdata (Lustre directory data)",
}

type superblock struct {
	inodesCount     uint32
	blocksCount     uint64
	firstDataBlock  uint32
	logBlockSize    uint32
	logClusterSize  uint32
	blocksPerGroup  uint32
	inodesPerGroup  uint32
	inodeSize       uint32
	featureCompat   uint32
	featureIncompat uint32
	featureRoCompat uint32
	uuid            [16]byte
	volumeName      [16]byte
	descSize        uint32
	firstMetaBG     uint32
	backupBGs       [2]uint32
}

func le16(b []byte) uint16 { return binary.LittleEndian.Uint16(b) }
func le32(b []byte) uint32 { return binary.LittleEndian.Uint32(b) }

// parseSuperblock decodes and checks the fields that do not depend on the
// image size.
func parseSuperblock(b []byte) (superblock, error) {
	var sb superblock
	if m := le16(b[sbMagic:]); m != superblockMagic {
		return sb, fmt.Errorf("ext4: no ext2/3/4 filesystem (superblock magic is %#04x, want %#04x)", m, superblockMagic)
	}
	sb.inodesCount = le32(b[sbInodesCount:])
	sb.blocksCount = uint64(le32(b[sbBlocksCountLo:]))
	sb.firstDataBlock = le32(b[sbFirstDataBlock:])
	sb.logBlockSize = le32(b[sbLogBlockSize:])
	sb.logClusterSize = le32(b[sbLogClusterSize:])
	sb.blocksPerGroup = le32(b[sbBlocksPerGroup:])
	sb.inodesPerGroup = le32(b[sbInodesPerGroup:])
	sb.featureCompat = le32(b[sbFeatureCompat:])
	sb.featureIncompat = le32(b[sbFeatureIncompat:])
	sb.featureRoCompat = le32(b[sbFeatureRoCompat:])
	copy(sb.uuid[:], b[sbUUID:])
	copy(sb.volumeName[:], b[sbVolumeName:])
	sb.firstMetaBG = le32(b[sbFirstMetaBG:])
	sb.backupBGs = [2]uint32{le32(b[sbBackupBGs:]), le32(b[sbBackupBGs+4:])}

	if err := checkIncompat(sb.featureIncompat); err != nil {
		return sb, err
	}
	if sb.logBlockSize > 6 {
		return sb, fmt.Errorf("ext4: block size 2^%d is not supported (1 KiB to 64 KiB)", 10+sb.logBlockSize)
	}
	blockSize := uint32(1024) << sb.logBlockSize
	if sb.has64bit() {
		sb.blocksCount |= uint64(le32(b[sbBlocksCountHi:])) << 32
	}
	if err := sb.checkInodeSize(le32(b[sbRevLevel:]), uint32(le16(b[sbInodeSize:])), blockSize); err != nil {
		return sb, err
	}
	sb.descSize = 32
	if sb.has64bit() {
		sb.descSize = uint32(le16(b[sbDescSize:]))
		if sb.descSize < 64 || sb.descSize > 1024 || bits.OnesCount32(sb.descSize) != 1 {
			return sb, fmt.Errorf("ext4: group descriptor size %d is invalid (64bit needs a power of two from 64 to 1024)", sb.descSize)
		}
	}
	if sb.inodesPerGroup == 0 || sb.inodesPerGroup > 8*blockSize {
		return sb, fmt.Errorf("ext4: %d inodes per group is invalid (1 to %d)", sb.inodesPerGroup, 8*blockSize)
	}
	maxPerGroup := 8 * blockSize
	if sb.featureRoCompat&roCompatBigalloc != 0 {
		if sb.logClusterSize < sb.logBlockSize || sb.logClusterSize-sb.logBlockSize > 16 {
			return sb, fmt.Errorf("ext4: cluster size 2^%d is invalid for block size %d", 10+sb.logClusterSize, blockSize)
		}
		maxPerGroup <<= sb.logClusterSize - sb.logBlockSize
	} else {
		sb.logClusterSize = sb.logBlockSize
	}
	if sb.blocksPerGroup == 0 || sb.blocksPerGroup > maxPerGroup {
		return sb, fmt.Errorf("ext4: %d blocks per group is invalid (1 to %d)", sb.blocksPerGroup, maxPerGroup)
	}
	if uint64(sb.firstDataBlock) >= sb.blocksCount {
		return sb, fmt.Errorf("ext4: first data block %d is not below the block count %d", sb.firstDataBlock, sb.blocksCount)
	}
	return sb, nil
}

// checkInodeSize sets the on-disk inode size: 128 bytes in revision 0,
// otherwise a power of two between 128 and the block size.
func (sb *superblock) checkInodeSize(revLevel, inodeSize, blockSize uint32) error {
	if revLevel == 0 {
		sb.inodeSize = 128
		return nil
	}
	if inodeSize < 128 || inodeSize > blockSize || bits.OnesCount32(inodeSize) != 1 {
		return fmt.Errorf("ext4: inode size %d is invalid (a power of two from 128 to the block size %d)", inodeSize, blockSize)
	}
	sb.inodeSize = inodeSize
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
		if name, ok := unsupportedIncompat[bit]; ok {
			names = append(names, name)
		} else {
			names = append(names, fmt.Sprintf("unknown feature %#x", bit))
		}
	}
	return fmt.Errorf("ext4: cannot read this filesystem, it uses incompatible features: %s", strings.Join(names, ", "))
}

func (sb *superblock) has64bit() bool { return sb.featureIncompat&incompat64bit != 0 }

func (sb *superblock) hasIncompat(incompat uint32) bool { return sb.featureIncompat&incompat != 0 }

// groupCount is the number of block groups.
func (sb *superblock) groupCount() uint64 {
	data := sb.blocksCount - uint64(sb.firstDataBlock)
	return (data + uint64(sb.blocksPerGroup) - 1) / uint64(sb.blocksPerGroup)
}

// groupHasSuper reports whether group g holds a superblock backup (and so,
// with meta_bg, whether its group descriptor block is shifted by one).
func (sb *superblock) groupHasSuper(g uint64) bool {
	if g == 0 {
		return true
	}
	if sb.featureCompat&compatSparseSuper2 != 0 {
		return g == uint64(sb.backupBGs[0]) || g == uint64(sb.backupBGs[1])
	}
	if sb.featureRoCompat&roCompatSparseSuper == 0 || g == 1 {
		return true
	}
	return isPowerOf(g, 3) || isPowerOf(g, 5) || isPowerOf(g, 7)
}

func isPowerOf(n, base uint64) bool {
	for n > 1 && n%base == 0 {
		n /= base
	}
	return n == 1
}
