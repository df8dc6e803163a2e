package ext4

import (
	"fmt"
	"io"
	"sort"

	"github.com/c34478be/packer-plugin-maas/internal/fstree"
)

// file is the content of an inode: inline bytes, or runs of blocks.
type file struct {
	fs     *FS
	ino    uint64
	size   int64
	inline []byte // the data of an inline-data inode, nil otherwise
	runs   []run
}

var _ fstree.File = (*file)(nil)

// OpenFile opens the data of the regular file ino.
func (fs *FS) OpenFile(ino uint64) (fstree.File, error) {
	in, err := fs.readInode(ino)
	if err != nil {
		return nil, err
	}
	if in.fileType() != fstree.ModeRegular {
		return nil, inodeError(ino, fmt.Errorf("not a regular file (mode %#o)", in.mode))
	}
	return fs.openData(in)
}

// openData maps the data of any inode that stores it like a file.
func (fs *FS) openData(in *inode) (*file, error) {
	if in.flags&flagEncrypt != 0 {
		return nil, inodeError(in.num, ErrEncrypted)
	}
	f := &file{fs: fs, ino: in.num, size: int64(in.size)}
	if in.hasInlineData() {
		data, err := fs.inlineData(in)
		if err != nil {
			return nil, err
		}
		f.inline = data
		return f, nil
	}
	runs, err := fs.mapBlocks(in)
	if err != nil {
		return nil, err
	}
	f.runs = runs
	return f, nil
}

// Size returns the file's length in bytes.
func (f *file) Size() int64 { return f.size }

// DataRanges lists the byte ranges holding data, clipped to the size.
func (f *file) DataRanges() []fstree.Range {
	if f.inline != nil {
		if f.size == 0 {
			return nil
		}
		return []fstree.Range{{Offset: 0, Length: f.size}}
	}
	var ranges []fstree.Range
	shift := f.fs.blockShift
	for _, r := range f.runs {
		off := int64(r.logical << shift)
		end := min(int64(r.end()<<shift), f.size)
		if n := len(ranges); n > 0 && ranges[n-1].Offset+ranges[n-1].Length == off {
			ranges[n-1].Length = end - ranges[n-1].Offset
			continue
		}
		ranges = append(ranges, fstree.Range{Offset: off, Length: end - off})
	}
	return ranges
}

// ReadAt reads len(p) bytes at off; holes read as zeros, and each
// physically contiguous stretch is one read of the underlying image.
func (f *file) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, inodeError(f.ino, fmt.Errorf("negative read offset %d", off))
	}
	if off >= f.size {
		return 0, io.EOF
	}
	want := p[:min(int64(len(p)), f.size-off)]
	if f.inline != nil {
		copy(want, f.inline[off:])
	} else if err := f.readRuns(want, off); err != nil {
		return 0, err
	}
	if len(want) < len(p) {
		return len(want), io.EOF
	}
	return len(want), nil
}

// readRuns fills p with the file's bytes at off, which lie within the size.
func (f *file) readRuns(p []byte, off int64) error {
	shift := f.fs.blockShift
	pos, end := uint64(off), uint64(off)+uint64(len(p))
	i := sort.Search(len(f.runs), func(i int) bool { return f.runs[i].end()<<shift > pos })
	for pos < end {
		if i == len(f.runs) || f.runs[i].logical<<shift >= end {
			clear(p[pos-uint64(off):])
			return nil
		}
		r := f.runs[i]
		if start := r.logical << shift; pos < start {
			clear(p[pos-uint64(off) : start-uint64(off)])
			pos = start
		}
		stop := min(end, r.end()<<shift)
		physical := r.physical<<shift + pos - r.logical<<shift
		if err := readFull(f.fs.r, p[pos-uint64(off):stop-uint64(off)], int64(physical)); err != nil {
			return inodeError(f.ino, fmt.Errorf("reading data at offset %d (image byte %d): %w", pos, physical, err))
		}
		pos = stop
		i++
	}
	return nil
}

// readAll reads a whole small file (symlink target, xattr value) whose size
// the caller has bounded.
func (f *file) readAll() ([]byte, error) {
	buf := make([]byte, f.size)
	if n, err := f.ReadAt(buf, 0); n < len(buf) {
		return nil, err
	}
	return buf, nil
}
