package xfs

import (
	"fmt"
	"slices"
)

const (
	bmapMagicV4     = 0x424d4150 // "BMAP"
	bmapMagicV5     = 0x424d4133 // "BMA3"
	bmapHeaderV4    = 24
	bmapHeaderV5    = 72
	extentRecSize   = 16
	bmdrHeaderSize  = 4
	maxBmapLevels   = 10 // deeper than any fork of 2^64 extents can need
	maxFileOffset   = 1<<54 - 1
	extentCountBits = 21
	// maxPreallocExtents caps the room made for a btree's records before
	// they are read.
	maxPreallocExtents = 4096
)

// extent maps count blocks at file block off to filesystem block block.
type extent struct {
	off, block, count uint64
	unwritten         bool
}

func (e extent) end() uint64 { return e.off + e.count }

// decodeExtent unpacks a 128-bit bmbt record.
func decodeExtent(b []byte) extent {
	l0, l1 := be64(b), be64(b[8:])
	return extent{
		unwritten: l0>>63 != 0,
		off:       l0 & (1<<63 - 1) >> 9,
		block:     (l0&(1<<9-1))<<43 | l1>>extentCountBits,
		count:     l1 & (1<<extentCountBits - 1),
	}
}

// forkExtents returns the extents of a fork in extent-list or btree form,
// sorted and checked against each other and the filesystem.
func (fs *FS) forkExtents(fork []byte, format uint8, nextents uint64) ([]extent, error) {
	if nextents > fs.sb.dblocks {
		return nil, fmt.Errorf("%d extents claimed, more than the filesystem's %d blocks", nextents, fs.sb.dblocks)
	}
	var exts []extent
	switch format {
	case formatExtents:
		if nextents > uint64(len(fork)/extentRecSize) {
			return nil, fmt.Errorf("%d extents do not fit in the inode's %d-byte fork", nextents, len(fork))
		}
		exts = make([]extent, 0, nextents)
		for i := range nextents {
			exts = append(exts, decodeExtent(fork[i*extentRecSize:]))
		}
	case formatBtree:
		w := &bmapWalk{fs: fs, want: nextents, budget: 2*nextents + 2*maxBmapLevels}
		if err := w.root(fork); err != nil {
			return nil, err
		}
		if uint64(len(w.exts)) != nextents {
			return nil, fmt.Errorf("extent btree holds %d extents, the inode says %d", len(w.exts), nextents)
		}
		exts = w.exts
	default:
		return nil, fmt.Errorf("fork format %d is not an extent list or btree", format)
	}
	return exts, fs.checkExtents(exts)
}

// checkExtents checks that extents are in order, disjoint and inside the
// filesystem.
func (fs *FS) checkExtents(exts []extent) error {
	next := uint64(0)
	// Byte offsets must fit in an int64 (XFS files end below 2^63).
	maxOff := min(uint64(maxFileOffset), uint64(1<<63-1)>>fs.sb.blockLog)
	for i, e := range exts {
		if e.count == 0 || e.off < next || e.off > maxOff-e.count {
			return fmt.Errorf("extent %d (%d blocks at file block %d) is empty, out of order or past the largest offset", i, e.count, e.off)
		}
		if _, err := fs.sb.blockOffset(e.block, e.count); err != nil {
			return fmt.Errorf("extent %d: %w", i, err)
		}
		next = e.end()
	}
	return nil
}

// bmapWalk collects the records of an extent btree, visiting at most
// budget blocks so that a btree whose pointers are shared cannot blow up.
type bmapWalk struct {
	fs     *FS
	want   uint64
	budget uint64
	exts   []extent
}

// root walks the btree from its root in the inode fork.
func (w *bmapWalk) root(fork []byte) error {
	if len(fork) < bmdrHeaderSize+16 {
		return fmt.Errorf("extent btree root of %d bytes is too small", len(fork))
	}
	level, numrecs := int(be16(fork)), int(be16(fork[2:]))
	maxrecs := (len(fork) - bmdrHeaderSize) / 16
	if level < 1 || level > maxBmapLevels || numrecs < 1 || numrecs > maxrecs {
		return fmt.Errorf("extent btree root has level %d and %d records (1 to %d levels, 1 to %d records)", level, numrecs, maxBmapLevels, maxrecs)
	}
	ptrs := fork[bmdrHeaderSize+maxrecs*8:]
	for i := range numrecs {
		if err := w.block(be64(ptrs[i*8:]), level-1); err != nil {
			return err
		}
	}
	return nil
}

// block walks the btree block fsb, which must be at the given level.
func (w *bmapWalk) block(fsb uint64, level int) error {
	if w.budget == 0 {
		return fmt.Errorf("extent btree has more blocks than its %d extents need", w.want)
	}
	w.budget--
	b, err := w.fs.readBlock(fsb)
	if err != nil {
		return fmt.Errorf("extent btree: %w", err)
	}
	magic, hdr := uint32(bmapMagicV4), bmapHeaderV4
	if w.fs.sb.v5 {
		magic, hdr = bmapMagicV5, bmapHeaderV5
	}
	if m := be32(b); m != magic {
		return fmt.Errorf("extent btree block %#x: magic is %#08x, want %#08x", fsb, m, magic)
	}
	gotLevel, numrecs := int(be16(b[4:])), int(be16(b[6:]))
	if gotLevel != level {
		return fmt.Errorf("extent btree block %#x is at level %d, want %d", fsb, gotLevel, level)
	}
	if level == 0 {
		if numrecs > (len(b)-hdr)/extentRecSize || uint64(len(w.exts)+numrecs) > w.want {
			return fmt.Errorf("extent btree leaf %#x: %d records is too many", fsb, numrecs)
		}
		if w.exts == nil {
			// Grown by append past this: the count is the inode's claim,
			// the records are what was read.
			w.exts = make([]extent, 0, min(w.want, maxPreallocExtents))
		}
		for i := range numrecs {
			w.exts = append(w.exts, decodeExtent(b[hdr+i*extentRecSize:]))
		}
		return nil
	}
	maxrecs := (len(b) - hdr) / 16
	if numrecs < 1 || numrecs > maxrecs {
		return fmt.Errorf("extent btree node %#x: %d records (1 to %d)", fsb, numrecs, maxrecs)
	}
	ptrs := b[hdr+maxrecs*8:]
	for i := range numrecs {
		if err := w.block(be64(ptrs[i*8:]), level-1); err != nil {
			return err
		}
	}
	return nil
}

// lookupExtent returns the index of the first extent ending after file
// block fb.
func lookupExtent(exts []extent, fb uint64) int {
	i, _ := slices.BinarySearchFunc(exts, fb, func(e extent, fb uint64) int {
		if e.end() <= fb {
			return -1
		}
		return 1
	})
	return i
}

// checkDisjoint refuses extents that share blocks, which only regular
// files may (reflink): a directory mapping one block many times would
// list its entries many times over.
func checkDisjoint(exts []extent) error {
	byBlock := slices.Clone(exts)
	slices.SortFunc(byBlock, func(a, b extent) int {
		if a.block < b.block {
			return -1
		}
		if a.block > b.block {
			return 1
		}
		return 0
	})
	for i := 1; i < len(byBlock); i++ {
		if prev := byBlock[i-1]; prev.block+prev.count > byBlock[i].block {
			return fmt.Errorf("extents at file blocks %d and %d share filesystem block %#x", prev.off, byBlock[i].off, byBlock[i].block)
		}
	}
	return nil
}
