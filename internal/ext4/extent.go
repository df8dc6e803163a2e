package ext4

import "fmt"

const (
	extentMagic      = 0xF30A
	extentHeaderSize = 12
	extentEntrySize  = 12
	// maxExtentDepth is the deepest tree the kernel accepts
	// (EXT4_MAX_EXTENT_DEPTH).
	maxExtentDepth = 5
	// maxInitExtentLen is the longest initialized extent; longer lengths
	// encode unwritten extents of length-maxInitExtentLen blocks.
	maxInitExtentLen = 32768
)

// walkExtents adds the initialized extents of the extent tree node in
// node. wantDepth is the depth the node must have, or -1 for the root in
// i_block.
func (b *runBuilder) walkExtents(node []byte, wantDepth int) error {
	if le16(node) != extentMagic {
		return fmt.Errorf("extent header magic is %#04x, want %#04x", le16(node), extentMagic)
	}
	entries := int(le16(node[2:]))
	capacity := int(le16(node[4:]))
	depth := int(le16(node[6:]))
	if capacity > (len(node)-extentHeaderSize)/extentEntrySize || entries > capacity {
		return fmt.Errorf("extent node holds %d of %d entries, more than its %d bytes allow", entries, capacity, len(node))
	}
	if wantDepth < 0 && depth > maxExtentDepth {
		return fmt.Errorf("extent tree depth %d exceeds the maximum %d", depth, maxExtentDepth)
	}
	if wantDepth >= 0 && depth != wantDepth {
		return fmt.Errorf("extent node has depth %d, want %d", depth, wantDepth)
	}
	var child []byte
	if depth > 0 {
		child = make([]byte, b.fs.blockSize)
	}
	for i := range entries {
		e := node[extentHeaderSize+i*extentEntrySize:]
		if depth == 0 {
			if err := b.addExtent(e); err != nil {
				return err
			}
			continue
		}
		if uint64(le32(e)) >= b.limit {
			break // the rest of the tree lies past i_size
		}
		blk := uint64(le32(e[4:])) | uint64(le16(e[8:]))<<32
		if err := b.visit(blk); err != nil {
			return err
		}
		if err := b.fs.readBlocks(child, blk); err != nil {
			return err
		}
		if err := b.walkExtents(child, depth-1); err != nil {
			return err
		}
	}
	return nil
}

// addExtent adds one leaf extent; unwritten extents read as holes.
func (b *runBuilder) addExtent(e []byte) error {
	logical := uint64(le32(e))
	length := uint64(le16(e[4:]))
	physical := uint64(le16(e[6:]))<<32 | uint64(le32(e[8:]))
	unwritten := length > maxInitExtentLen
	if unwritten {
		length -= maxInitExtentLen
	}
	if length == 0 {
		return fmt.Errorf("extent at logical block %d has length 0", logical)
	}
	if unwritten {
		if logical < b.next {
			return fmt.Errorf("logical block %d is mapped twice or out of order", logical)
		}
		b.next = logical + length
		return nil
	}
	return b.add(logical, physical, length)
}
