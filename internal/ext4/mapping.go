package ext4

import (
	"fmt"
)

// run maps length logical blocks of a file, from block logical on, to the
// physically contiguous blocks from physical on.
type run struct {
	logical, physical, length uint64
}

func (r run) end() uint64 { return r.logical + r.length }

// runBuilder collects a file's runs in ascending logical order, merging
// runs that continue each other both logically and physically (so that a
// read spanning them is one ReadAt), and checks them against the file and
// the filesystem.
type runBuilder struct {
	fs   *FS
	runs []run
	// limit is the number of logical blocks i_size covers; blocks past it
	// (preallocated beyond EOF) are dropped.
	limit uint64
	// next is the first logical block that may still be mapped: runs must
	// come in ascending order without overlap.
	next uint64
	// mapped counts the blocks mapped so far; a file cannot own more
	// blocks than the filesystem has.
	mapped uint64
	// visited holds the mapping blocks (extent tree or indirect blocks)
	// already read, so that no block is walked twice.
	visited map[uint64]bool
}

func newRunBuilder(fs *FS, in *inode) *runBuilder {
	return &runBuilder{fs: fs, limit: (in.size + fs.blockSize - 1) >> fs.blockShift}
}

// add maps length blocks from logical to physical.
func (b *runBuilder) add(logical, physical, length uint64) error {
	if logical < b.next {
		return fmt.Errorf("logical block %d is mapped twice or out of order", logical)
	}
	if physical >= b.fs.sb.blocksCount || b.fs.sb.blocksCount-physical < length {
		return fmt.Errorf("logical block %d maps to blocks %d+%d, beyond the end of the filesystem (%d blocks)",
			logical, physical, length, b.fs.sb.blocksCount)
	}
	b.next = logical + length
	if logical >= b.limit {
		return nil
	}
	length = min(length, b.limit-logical)
	b.mapped += length
	if b.mapped > b.fs.sb.blocksCount {
		return fmt.Errorf("maps more blocks than the filesystem has (%d)", b.fs.sb.blocksCount)
	}
	if n := len(b.runs); n > 0 && b.runs[n-1].end() == logical && b.runs[n-1].physical+b.runs[n-1].length == physical {
		b.runs[n-1].length += length
		return nil
	}
	b.runs = append(b.runs, run{logical: logical, physical: physical, length: length})
	return nil
}

// visit marks a mapping block as read, refusing blocks seen before in this
// walk (a cycle, or a shared subtree that would multiply the work).
func (b *runBuilder) visit(blk uint64) error {
	if blk >= b.fs.sb.blocksCount {
		return fmt.Errorf("mapping block %d is beyond the end of the filesystem (%d blocks)", blk, b.fs.sb.blocksCount)
	}
	if b.visited[blk] {
		return fmt.Errorf("mapping block %d is referenced twice", blk)
	}
	if b.visited == nil {
		b.visited = make(map[uint64]bool) // most files have no mapping blocks
	}
	b.visited[blk] = true
	return nil
}

// mapBlocks returns the runs of initialized data of a file, directory or
// symlink stored in blocks (not inline).
func (fs *FS) mapBlocks(in *inode) ([]run, error) {
	b := newRunBuilder(fs, in)
	var err error
	if in.flags&flagExtents != 0 {
		err = b.walkExtents(in.block, -1)
	} else {
		err = b.walkBlockMap(in.block)
	}
	if err != nil {
		return nil, inodeError(in.num, err)
	}
	return b.runs, nil
}
