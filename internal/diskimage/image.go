// Package diskimage reads virtual disk images (qcow2 and raw) as an
// io.ReaderAt, finds their partitions (GPT, MBR or a bare filesystem) and
// picks the partition that holds the root filesystem.
//
// It exists so that the export engine can turn a disk image into a MAAS image
// without root, nbd, FUSE or loop devices. Disk images are untrusted input:
// every structure read from them is validated before it sizes an allocation
// or bounds a loop.
//
// # What go-qcow2reader does, and what qcow2.go adds
//
// go-qcow2reader (v0.6.0; v0.7.1, the newest the module proxy serves,
// changes nothing of this) reads the virtual disk: the clusters of a
// backing chain, through the decompressors compressed.go registers. Its
// header types and constants are the ones qcow2.go decodes into. The rest
// of qcow2.go exists because the library lacks it:
//
//   - Validation before allocation. qcow2.Open allocates the L1 table from
//     the header's l1_size (up to 2^32-1 entries, 32 GiB) without
//     comparing it to the file, and checks no host offset against the
//     file's size. qcow2.go checks the header fields, the L1 table's size
//     and place, and every L2 table and data cluster (inside the file,
//     used once) before the library opens the file.
//   - Backing-file confinement. The library resolves and opens a backing
//     file by its name in the header, wherever it points, as soon as the
//     image is opened. qcow2.go walks the chain first, keeps it inside the
//     allowed directories (BackingPathError), refuses loops, non-regular
//     files and chains longer than 16, and hands the library only files
//     of the validated chain, in the format they were validated as: the
//     library's reading of the header extensions differs from QEMU's (it
//     does not skip an extension longer than 4096 bytes), so the format it
//     names for a backing file is not trusted.
//   - An allocation map bounded by the file. image.Image.Extent answers
//     one cluster at a time across the virtual size, so its cost grows
//     with the size the header claims (2^56 bytes from a file of a few
//     MiB), and a raw backing file is reported allocated throughout.
//     Allocated builds the map from the L2 entries present in the file,
//     and asks the host filesystem (SEEK_DATA/SEEK_HOLE) for raw files.
//   - BackingFile, the backing name read from the header alone: the
//     library has no way to read the header without opening the backing
//     file.
//   - A cache of inflated clusters and zstd (compressed.go): the library
//     inflates a compressed cluster anew, from its start, for every read,
//     and registers no zstd decompressor.
package diskimage

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/lima-vm/go-qcow2reader/image"
)

// Format is a disk image format, named as qemu-img names it.
type Format string

// The formats Open reads.
const (
	FormatQcow2 Format = "qcow2"
	FormatRaw   Format = "raw"
)

// Range is a byte range [Start, Start+Length) of the virtual disk.
type Range struct {
	Start, Length int64
}

// End is the offset just past the range.
func (r Range) End() int64 { return r.Start + r.Length }

// Image is an open disk image. ReadAt is safe for concurrent use.
type Image struct {
	path   string
	format Format
	size   int64
	data   io.ReaderAt // virtual disk contents
	alloc  layer       // allocation map, top layer first
	closer []io.Closer
	chain  []string
}

// Option changes how Open treats an image.
type Option func(*openConfig)

type openConfig struct {
	// backingAllowed are the directory trees and files a backing chain
	// may reach; the image's own directory is always one of them.
	backingAllowed []string
}

// AllowBacking lets a backing chain reach the given directory trees or
// single files, besides the image's own directory tree, which it may
// always reach. A backing file is untrusted input: without this, a qcow2
// naming /etc/shadow or ../../etc/passwd would put a host file into the
// export.
func AllowBacking(paths ...string) Option {
	return func(c *openConfig) { c.backingAllowed = append(c.backingAllowed, paths...) }
}

// Open opens the disk image at path. The format is detected from the file's
// content, never from its name: qcow2 (with backing chains and compressed
// clusters) or raw. Other image formats are rejected, and so is a backing
// file outside the image's directory tree and the AllowBacking paths.
func Open(path string, opts ...Option) (*Image, error) {
	var cfg openConfig
	for _, o := range opts {
		o(&cfg)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open disk image: %w", err)
	}
	img, err := openFile(path, f, cfg)
	if err != nil {
		f.Close()
		return nil, err
	}
	return img, nil
}

func openFile(path string, f *os.File, cfg openConfig) (*Image, error) {
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("disk image %s: %w", path, err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("disk image %s is not a regular file", path)
	}
	format, err := detectFormat(f, st.Size())
	if err != nil {
		return nil, fmt.Errorf("disk image %s: %w", path, err)
	}
	if format == FormatRaw {
		return &Image{
			path: path, format: FormatRaw, size: st.Size(), data: f,
			alloc: &rawLayer{f: f, size: st.Size()}, closer: []io.Closer{f},
			chain: []string{path},
		}, nil
	}
	return openQcow2Image(path, f, cfg)
}

// openQcow2Image validates the whole backing chain first (header fields,
// cluster placement, cycles), then reads through go-qcow2reader.
func openQcow2Image(path string, f *os.File, cfg openConfig) (*Image, error) {
	chain, err := newChainState(path, cfg.backingAllowed)
	if err != nil {
		return nil, err
	}
	top, err := openQcow2Chain(path, f, chain)
	if err != nil {
		top.close()
		return nil, err
	}
	reader, err := openQcow2Reader(f, chain)
	if err != nil {
		top.close()
		return nil, fmt.Errorf("qcow2 image %s: %w", path, err)
	}
	return &Image{
		path: path, format: FormatQcow2, size: top.size, data: reader,
		alloc: top, closer: []io.Closer{reader, closerFunc(top.close)},
		chain: chain.paths,
	}, nil
}

// Path is the file name the image was opened with.
func (img *Image) Path() string { return img.path }

// Chain is the image's backing chain: path first, then each backing file
// as resolved (absolute, symlinks followed). A self-contained image's
// chain is just path.
func (img *Image) Chain() []string { return img.chain }

// Format is "qcow2" or "raw".
func (img *Image) Format() Format { return img.format }

// Size is the virtual size of the disk in bytes.
func (img *Image) Size() int64 { return img.size }

// ReadAt reads the virtual disk. Reading at or past Size returns io.EOF.
func (img *Image) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("disk image %s: negative offset %d", img.path, off)
	}
	if off >= img.size {
		return 0, io.EOF
	}
	if int64(len(p)) > img.size-off {
		n, err := img.ReadAt(p[:img.size-off], off)
		if err == nil {
			err = io.EOF
		}
		return n, err
	}
	n, err := img.data.ReadAt(p, off)
	// The io.ReaderAt contract: io.EOF itself, never wrapped. A library error
	// that wraps io.EOF (a truncated compressed cluster) is corruption.
	if err == io.EOF && n == len(p) { //nolint:errorlint // see above
		err = nil
	}
	if err != nil && err != io.EOF { //nolint:errorlint // see above
		err = fmt.Errorf("disk image %s: read %d bytes at virtual offset %d: %w", img.path, len(p), off, err)
	}
	return n, err
}

// Allocated returns the sorted, merged byte ranges of the virtual disk that
// may hold data; everything else reads as zeros. For qcow2 these are the
// data and compressed clusters of every image in the backing chain that are
// not hidden by an upper image; for raw files the data regions the host
// filesystem reports (SEEK_DATA/SEEK_HOLE).
func (img *Image) Allocated() ([]Range, error) {
	var out []Range
	err := img.alloc.allocated(0, img.size, func(r Range) { out = appendMerged(out, r) })
	if err != nil {
		return nil, fmt.Errorf("disk image %s: allocation map: %w", img.path, err)
	}
	return out, nil
}

// Close releases the image and its backing files.
func (img *Image) Close() error {
	var errs []error
	for _, c := range img.closer {
		errs = append(errs, c.Close())
	}
	return errors.Join(errs...)
}

// layer is one image of a backing chain as seen by the allocation map.
type layer interface {
	// allocated calls emit, in ascending order, for the ranges within
	// [start, end) that may hold data.
	allocated(start, end int64, emit func(Range)) error
}

// appendMerged appends r to sorted ranges, merging it with the last range
// when they touch.
func appendMerged(rs []Range, r Range) []Range {
	if r.Length <= 0 {
		return rs
	}
	if n := len(rs); n > 0 && rs[n-1].End() >= r.Start {
		if r.End() > rs[n-1].End() {
			rs[n-1].Length = r.End() - rs[n-1].Start
		}
		return rs
	}
	return append(rs, r)
}

type closerFunc func()

func (c closerFunc) Close() error { c(); return nil }

// failedImage stands in for a backing image that could not be opened: the
// qcow2 library closes whatever its opener returns, even on error.
type failedImage struct{ err error }

func (f failedImage) ReadAt([]byte, int64) (int, error)         { return 0, f.err }
func (f failedImage) Close() error                              { return nil }
func (f failedImage) Extent(int64, int64) (image.Extent, error) { return image.Extent{}, f.err }
func (f failedImage) Type() image.Type                          { return "" }
func (f failedImage) Size() int64                               { return 0 }
func (f failedImage) Readable() error                           { return f.err }
