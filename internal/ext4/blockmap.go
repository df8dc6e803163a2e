package ext4

// Layout of the classic ext2/ext3 block map in i_block: 12 direct block
// pointers, then one single, one double and one triple indirect pointer.
const (
	directBlocks  = 12
	indirectSlots = 3
)

// walkBlockMap adds the blocks of an ext2/ext3-style block map; zero
// pointers are holes.
func (b *runBuilder) walkBlockMap(iblock []byte) error {
	for i := range directBlocks {
		if err := b.addPointer(uint64(i), le32(iblock[4*i:])); err != nil {
			return err
		}
	}
	perBlock := b.fs.blockSize / 4
	first := uint64(directBlocks)
	span := uint64(1)
	buffers := make([][]byte, indirectSlots+1)
	for level := 1; level <= indirectSlots; level++ {
		span *= perBlock
		if first >= b.limit {
			return nil
		}
		ptr := le32(iblock[4*(directBlocks+level-1):])
		if ptr != 0 {
			if err := b.walkIndirect(uint64(ptr), level, first, buffers); err != nil {
				return err
			}
		}
		first += span
	}
	return nil
}

// walkIndirect adds the blocks under an indirect block of the given level
// (1 = its entries point at data) whose first entry maps logical block
// first. buffers[level] is reused for the blocks of each level.
func (b *runBuilder) walkIndirect(blk uint64, level int, first uint64, buffers [][]byte) error {
	if err := b.visit(blk); err != nil {
		return err
	}
	if buffers[level] == nil {
		buffers[level] = make([]byte, b.fs.blockSize)
	}
	buf := buffers[level]
	if err := b.fs.readBlocks(buf, blk); err != nil {
		return err
	}
	span := uint64(1)
	for range level - 1 {
		span *= b.fs.blockSize / 4
	}
	for i := uint64(0); i < b.fs.blockSize/4; i++ {
		logical := first + i*span
		if logical >= b.limit {
			return nil
		}
		ptr := le32(buf[4*i:])
		if ptr == 0 {
			continue
		}
		var err error
		if level == 1 {
			err = b.addPointer(logical, ptr)
		} else {
			err = b.walkIndirect(uint64(ptr), level-1, logical, buffers)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// addPointer maps one logical block unless the pointer is a hole or lies
// past i_size.
func (b *runBuilder) addPointer(logical uint64, ptr uint32) error {
	if ptr == 0 || logical >= b.limit {
		return nil
	}
	return b.add(logical, uint64(ptr), 1)
}
