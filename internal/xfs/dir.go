package xfs

import (
	"fmt"
	"strings"

	"github.com/c34478be/packer-plugin-maas/internal/fstree"
)

// Directory data blocks. Leaf and free-index blocks live at and beyond
// 32 GiB in the directory's address space; entries only below.
const (
	dirBlockMagicV4 = 0x58443242 // "XD2B": single-block directory
	dirDataMagicV4  = 0x58443244 // "XD2D"
	dirBlockMagicV5 = 0x58444233 // "XDB3"
	dirDataMagicV5  = 0x58444433 // "XDD3"
	dirHeaderV4     = 16
	dirHeaderV5     = 64
	dirLeafOffset   = 32 << 30
	dirFreeTag      = 0xffff
	dirBlockTail    = 8 // count and stale of a single-block directory's leaf
	dirLeafEntry    = 8
	dirMinEntry     = 16 // inode number, name length, one byte of name, tag
)

// ReadDir lists directory ino without "." and "..", in on-disk order.
func (fs *FS) ReadDir(ino uint64) ([]fstree.DirEntry, error) {
	in, err := fs.readInode(ino)
	if err != nil {
		return nil, err
	}
	if in.fileType() != fstree.ModeDir {
		return nil, inodeError(ino, fmt.Errorf("not a directory (mode %#o)", in.mode))
	}
	var entries []fstree.DirEntry
	if in.format == formatLocal {
		entries, err = fs.shortformDir(in)
	} else {
		entries, err = fs.blockDir(in)
	}
	if err != nil {
		return nil, inodeError(ino, err)
	}
	return entries, nil
}

// shortformDir decodes a directory kept in the inode's data fork.
func (fs *FS) shortformDir(in *inode) ([]fstree.DirEntry, error) {
	fork := in.dataFork()
	if in.size > uint64(len(fork)) || in.size < 6 {
		return nil, fmt.Errorf("short-form directory of %d bytes (6 to %d)", in.size, len(fork))
	}
	b := fork[:in.size]
	count, inoSize := int(b[0]), 4
	if b[1] != 0 {
		count, inoSize = int(b[1]), 8
	}
	pos := 2 + inoSize
	ftype := 0
	if fs.sb.ftype {
		ftype = 1
	}
	entries := make([]fstree.DirEntry, 0, count)
	for i := range count {
		if pos+3 > len(b) {
			return nil, fmt.Errorf("short-form entry %d runs past the directory", i)
		}
		nameLen := int(b[pos])
		nameEnd := pos + 3 + nameLen
		if nameLen == 0 || nameEnd+ftype+inoSize > len(b) {
			return nil, fmt.Errorf("short-form entry %d (name of %d bytes) runs past the directory", i, nameLen)
		}
		name := string(b[pos+3 : nameEnd])
		var ino uint64
		if inoSize == 8 {
			ino = be64(b[nameEnd+ftype:])
		} else {
			ino = uint64(be32(b[nameEnd+ftype:]))
		}
		if err := checkName(name); err != nil {
			return nil, err
		}
		entries = append(entries, fstree.DirEntry{Name: name, Ino: ino})
		pos = nameEnd + ftype + inoSize
	}
	return entries, nil
}

// blockDir lists the entries of a directory kept in blocks (block, leaf,
// node and btree forms), data block by data block.
func (fs *FS) blockDir(in *inode) ([]fstree.DirEntry, error) {
	exts, err := fs.dataExtents(in)
	if err != nil {
		return nil, err
	}
	if err := checkDisjoint(exts); err != nil {
		return nil, err
	}
	sb := &fs.sb
	dirBlockSize := sb.blockSize << sb.dirBlkLog
	leafBlock := uint64(dirLeafOffset) >> (sb.blockLog + sb.dirBlkLog)
	buf := make([]byte, dirBlockSize)
	var entries []fstree.DirEntry
	last := ^uint64(0)
	for _, e := range exts {
		for db := e.off >> sb.dirBlkLog; db<<sb.dirBlkLog < e.end() && db < leafBlock; db++ {
			if db == last {
				continue // a directory block spread over two extents
			}
			last = db
			if err := fs.readExtents(exts, buf, db*dirBlockSize); err != nil {
				return nil, fmt.Errorf("directory block %d: %w", db, err)
			}
			if entries, err = fs.dataBlockEntries(buf, entries); err != nil {
				return nil, fmt.Errorf("directory block %d: %w", db, err)
			}
		}
	}
	return entries, nil
}

// dataBlockEntries appends the entries of one directory data block.
func (fs *FS) dataBlockEntries(b []byte, entries []fstree.DirEntry) ([]fstree.DirEntry, error) {
	blockMagic, dataMagic, pos := uint32(dirBlockMagicV4), uint32(dirDataMagicV4), dirHeaderV4
	if fs.sb.v5 {
		blockMagic, dataMagic, pos = dirBlockMagicV5, dirDataMagicV5, dirHeaderV5
	}
	end := len(b)
	switch m := be32(b); m {
	case dataMagic:
	case blockMagic:
		leaves := uint64(be32(b[len(b)-dirBlockTail:]))
		if leaves > uint64(len(b)-pos-dirBlockTail)/dirLeafEntry {
			return nil, fmt.Errorf("%d leaf entries do not fit in the block", leaves)
		}
		end = len(b) - dirBlockTail - int(leaves)*dirLeafEntry
	default:
		return nil, fmt.Errorf("magic is %#08x, want %#08x or %#08x", m, dataMagic, blockMagic)
	}
	ftype := 0
	if fs.sb.ftype {
		ftype = 1
	}
	for pos < end {
		if end-pos < 8 {
			return nil, fmt.Errorf("entry at byte %d runs past the data", pos)
		}
		if be16(b[pos:]) == dirFreeTag {
			n := int(be16(b[pos+2:]))
			if n < 8 || n%8 != 0 || n > end-pos {
				return nil, fmt.Errorf("free space of %d bytes at byte %d is invalid", n, pos)
			}
			pos += n
			continue
		}
		if end-pos < dirMinEntry {
			return nil, fmt.Errorf("entry at byte %d runs past the data", pos)
		}
		nameLen := int(b[pos+8])
		size := (8 + 1 + nameLen + ftype + 2 + 7) &^ 7
		if nameLen == 0 || size > end-pos {
			return nil, fmt.Errorf("entry at byte %d (name of %d bytes) runs past the data", pos, nameLen)
		}
		name := string(b[pos+9 : pos+9+nameLen])
		ino := be64(b[pos:])
		pos += size
		if name == "." || name == ".." {
			continue
		}
		if err := checkName(name); err != nil {
			return nil, err
		}
		entries = append(entries, fstree.DirEntry{Name: name, Ino: ino})
	}
	return entries, nil
}

// checkName refuses names no path may hold.
func checkName(name string) error {
	if name == "." || name == ".." || strings.ContainsAny(name, "/\x00") {
		return fmt.Errorf("directory entry %q is not a valid name", name)
	}
	return nil
}
