package xfs

import (
	"fmt"
	"io"

	"github.com/c34478be/packer-plugin-maas/internal/fstree"
)

// maxSymlinkLen is XFS_SYMLINK_MAXLEN, the longest link target.
const maxSymlinkLen = 1024

// file is a regular file's data: its written extents (unwritten ones are
// holes).
type file struct {
	fs   *FS
	ino  uint64
	size int64
	exts []extent
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
	exts, err := fs.dataExtents(in)
	if err != nil {
		return nil, inodeError(ino, err)
	}
	written := exts[:0]
	for _, e := range exts {
		if !e.unwritten {
			written = append(written, e)
		}
	}
	return &file{fs: fs, ino: ino, size: int64(in.size), exts: written}, nil
}

// dataExtents maps an inode's data fork.
func (fs *FS) dataExtents(in *inode) ([]extent, error) {
	exts, err := fs.forkExtents(in.dataFork(), in.format, in.nextents)
	if err != nil {
		return nil, fmt.Errorf("data fork: %w", err)
	}
	return exts, nil
}

// Size returns the file's length in bytes.
func (f *file) Size() int64 { return f.size }

// DataRanges lists the byte ranges holding data, clipped to the size.
func (f *file) DataRanges() []fstree.Range {
	var ranges []fstree.Range
	shift := f.fs.sb.blockLog
	for _, e := range f.exts {
		off := int64(e.off << shift)
		if off >= f.size {
			break
		}
		end := min(int64(e.end()<<shift), f.size)
		if n := len(ranges); n > 0 && ranges[n-1].Offset+ranges[n-1].Length == off {
			ranges[n-1].Length = end - ranges[n-1].Offset
			continue
		}
		ranges = append(ranges, fstree.Range{Offset: off, Length: end - off})
	}
	return ranges
}

// ReadAt reads len(p) bytes at off; holes read as zeros.
func (f *file) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, inodeError(f.ino, fmt.Errorf("negative read offset %d", off))
	}
	if off >= f.size {
		return 0, io.EOF
	}
	want := p[:min(int64(len(p)), f.size-off)]
	if err := f.fs.readExtents(f.exts, want, uint64(off)); err != nil {
		return 0, inodeError(f.ino, err)
	}
	if len(want) < len(p) {
		return len(want), io.EOF
	}
	return len(want), nil
}

// readExtents fills p with the bytes at off of the data the extents map,
// zeros where none does.
func (fs *FS) readExtents(exts []extent, p []byte, off uint64) error {
	shift := fs.sb.blockLog
	pos, end := off, off+uint64(len(p))
	for i := lookupExtent(exts, off>>shift); pos < end; i++ {
		if i == len(exts) || exts[i].off<<shift >= end {
			clear(p[pos-off:])
			return nil
		}
		e := exts[i]
		if start := e.off << shift; pos < start {
			clear(p[pos-off : start-off])
			pos = start
		}
		stop := min(end, e.end()<<shift)
		base, err := fs.sb.blockOffset(e.block, e.count)
		if err != nil {
			return err
		}
		physical := base + int64(pos-e.off<<shift)
		if err := readFull(fs.r, p[pos-off:stop-off], physical); err != nil {
			return fmt.Errorf("reading data at offset %d (image byte %d): %w", pos, physical, err)
		}
		pos = stop
	}
	return nil
}

const (
	symlinkMagic      = 0x58534c4d // "XSLM"
	symlinkHeaderSize = 56
)

// ReadLink returns the target of the symbolic link ino.
func (fs *FS) ReadLink(ino uint64) (string, error) {
	in, err := fs.readInode(ino)
	if err != nil {
		return "", err
	}
	if in.fileType() != fstree.ModeSymlink {
		return "", inodeError(ino, fmt.Errorf("not a symbolic link (mode %#o)", in.mode))
	}
	if in.size == 0 || in.size > maxSymlinkLen {
		return "", inodeError(ino, fmt.Errorf("link target of %d bytes (1 to %d)", in.size, maxSymlinkLen))
	}
	if in.format == formatLocal {
		fork := in.dataFork()
		if in.size > uint64(len(fork)) {
			return "", inodeError(ino, fmt.Errorf("inline link target of %d bytes overruns the %d-byte fork", in.size, len(fork)))
		}
		return string(fork[:in.size]), nil
	}
	target, err := fs.remoteSymlink(in)
	if err != nil {
		return "", inodeError(ino, err)
	}
	return target, nil
}

// remoteSymlink reads a link target kept in blocks; on v5 each extent
// starts with a header saying which bytes it holds.
func (fs *FS) remoteSymlink(in *inode) (string, error) {
	exts, err := fs.dataExtents(in)
	if err != nil {
		return "", err
	}
	maxBlocks := (maxSymlinkLen+symlinkHeaderSize)>>fs.sb.blockLog + 1
	var out []byte
	for _, e := range exts {
		if uint64(len(out)) >= in.size {
			break
		}
		if e.count > uint64(maxBlocks) {
			return "", fmt.Errorf("remote link extent of %d blocks is longer than any link target", e.count)
		}
		data := make([]byte, e.count<<fs.sb.blockLog)
		if err := fs.readExtents([]extent{e}, data, e.off<<fs.sb.blockLog); err != nil {
			return "", err
		}
		if fs.sb.v5 {
			n := uint64(be32(data[8:]))
			if be32(data) != symlinkMagic || uint64(be32(data[4:])) != uint64(len(out)) || n > uint64(len(data)-symlinkHeaderSize) {
				return "", fmt.Errorf("remote link block %#x has no header for byte %d", e.block, len(out))
			}
			data = data[symlinkHeaderSize : symlinkHeaderSize+n]
		}
		out = append(out, data[:min(uint64(len(data)), in.size-uint64(len(out)))]...)
	}
	if uint64(len(out)) != in.size {
		return "", fmt.Errorf("remote link target holds %d of its %d bytes", len(out), in.size)
	}
	return string(out), nil
}
