package ext4

import "fmt"

// Byte offsets in a group descriptor.
const (
	gdInodeTableLo = 0x08
	gdInodeTableHi = 0x28 // only in 64-byte descriptors
)

// checkGeometry checks the superblock against the size of the image, so
// that every block number below blocksCount can be read.
func (fs *FS) checkGeometry(size int64) error {
	sb := &fs.sb
	if size < 0 || sb.blocksCount > uint64(size)>>fs.blockShift {
		return fmt.Errorf("ext4: the filesystem needs %d blocks of %d bytes, but its partition holds only %d bytes (truncated image?)",
			sb.blocksCount, fs.blockSize, size)
	}
	groups := sb.groupCount()
	if groups > 1<<32 {
		return fmt.Errorf("ext4: %d block groups is more than ext4 allows (2^32)", groups)
	}
	if uint64(sb.inodesCount) > groups*uint64(sb.inodesPerGroup) || sb.inodesCount < rootInode {
		return fmt.Errorf("ext4: inode count %d does not fit %d groups of %d inodes", sb.inodesCount, groups, sb.inodesPerGroup)
	}
	return nil
}

// inodeTable returns the first block of group g's inode table, read from
// its group descriptor through the metadata cache. Descriptors are read
// when an inode of their group is, not all at Open: the group count comes
// from the superblock, and a crafted one (1 KiB blocks, one block per
// group, 2^32 blocks on a sparse file) would size a table of 32 GiB.
func (fs *FS) inodeTable(g uint64) (uint64, error) {
	sb := &fs.sb
	perBlock := fs.blockSize / uint64(sb.descSize)
	blk := fs.descriptorBlock(g / perBlock)
	if blk >= sb.blocksCount {
		return 0, fmt.Errorf("group descriptors of group %d would be at block %d, beyond the end of the filesystem", g, blk)
	}
	b, err := fs.metadataBlock(blk)
	if err != nil {
		return 0, fmt.Errorf("group descriptors: %w", err)
	}
	d := b[(g%perBlock)*uint64(sb.descSize):]
	table := uint64(le32(d[gdInodeTableLo:]))
	if sb.descSize >= 64 {
		table |= uint64(le32(d[gdInodeTableHi:])) << 32
	}
	tableBlocks := (uint64(sb.inodesPerGroup)*uint64(sb.inodeSize) + fs.blockSize - 1) >> fs.blockShift
	if table == 0 || table >= sb.blocksCount || sb.blocksCount-table < tableBlocks {
		return 0, fmt.Errorf("group %d: inode table at block %d (%d blocks) is outside the filesystem (%d blocks)",
			g, table, tableBlocks, sb.blocksCount)
	}
	return table, nil
}

// descriptorBlock returns the block holding the nr-th block of group
// descriptors: right after the superblock, or with meta_bg from
// first_meta_bg on, in the first group of each meta group (after its
// superblock backup, if any).
func (fs *FS) descriptorBlock(nr uint64) uint64 {
	sb := &fs.sb
	superblockBlock := uint64(superblockOffset) >> fs.blockShift
	if !sb.hasIncompat(incompatMetaBG) || nr < uint64(sb.firstMetaBG) {
		return superblockBlock + 1 + nr
	}
	group := nr * (fs.blockSize / uint64(sb.descSize))
	first := uint64(sb.firstDataBlock) + group*uint64(sb.blocksPerGroup)
	if sb.groupHasSuper(group) {
		first++
	}
	return first
}
