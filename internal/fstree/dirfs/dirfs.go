// Package dirfs serves a directory of the host as an fstree.FS, so that
// host files can be packed exactly like a filesystem read from a disk
// image: tests use it as a real source tree, and the exporter uses it to
// add host files to an image.
//
// Inodes are st_ino of the host filesystem. The tree is confined to one
// filesystem: an entry on another device (a mount point) is an error,
// because inode numbers are only unique within one filesystem.
package dirfs

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/c34478be/packer-plugin-maas/internal/fstree"
)

// FS is an fstree.FS over a host directory. It is safe for concurrent use.
type FS struct {
	root    string
	rootDev uint64
	rootIno uint64

	mu sync.Mutex
	// paths maps every inode seen in a ReadDir (and the root) to one of
	// its host paths, so that Stat and friends can find it again.
	paths map[uint64]string
}

// Open returns the tree rooted at the directory dir.
func Open(dir string) (*FS, error) {
	var st unix.Stat_t
	if err := unix.Stat(dir, &st); err != nil {
		return nil, fmt.Errorf("dirfs: stat %s: %w", dir, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR {
		return nil, fmt.Errorf("dirfs: %s is not a directory", dir)
	}
	return &FS{
		root:    dir,
		rootDev: uint64(st.Dev), //nolint:unconvert // int32 on darwin
		rootIno: st.Ino,
		paths:   map[uint64]string{st.Ino: dir},
	}, nil
}

// RootInode is the inode number of the directory given to Open.
func (fsys *FS) RootInode() uint64 { return fsys.rootIno }

// path returns the host path of ino, known from an earlier ReadDir.
func (fsys *FS) path(ino uint64) (string, error) {
	fsys.mu.Lock()
	defer fsys.mu.Unlock()
	p, ok := fsys.paths[ino]
	if !ok {
		return "", fmt.Errorf("dirfs: inode %d under %s was not listed by ReadDir", ino, fsys.root)
	}
	return p, nil
}

// lstat stats ino's path and checks that it still is inode ino on the
// tree's filesystem.
func (fsys *FS) lstat(ino uint64) (string, unix.Stat_t, error) {
	var st unix.Stat_t
	p, err := fsys.path(ino)
	if err != nil {
		return "", st, err
	}
	if err := unix.Lstat(p, &st); err != nil {
		return "", st, fmt.Errorf("dirfs: lstat %s: %w", p, err)
	}
	if uint64(st.Dev) != fsys.rootDev { //nolint:unconvert // int32 on darwin
		return "", st, fmt.Errorf("dirfs: %s is on another filesystem than %s (a mount point)", p, fsys.root)
	}
	if st.Ino != ino {
		return "", st, fmt.Errorf("dirfs: %s changed while reading: inode %d, expected %d", p, st.Ino, ino)
	}
	return p, st, nil
}

// Stat returns the metadata of ino.
func (fsys *FS) Stat(ino uint64) (fstree.Stat, error) {
	_, st, err := fsys.lstat(ino)
	if err != nil {
		return fstree.Stat{}, err
	}
	return statFromUnix(&st), nil
}

func statFromUnix(st *unix.Stat_t) fstree.Stat {
	return fstree.Stat{
		Ino:      st.Ino,
		Mode:     uint32(st.Mode), //nolint:unconvert // uint16 on darwin
		UID:      st.Uid,
		GID:      st.Gid,
		Size:     st.Size,
		Nlink:    uint32(st.Nlink),
		Atime:    time.Unix(st.Atim.Unix()),
		Mtime:    time.Unix(st.Mtim.Unix()),
		Ctime:    time.Unix(st.Ctim.Unix()),
		DevMajor: unix.Major(uint64(st.Rdev)), //nolint:unconvert // int32 on darwin
		DevMinor: unix.Minor(uint64(st.Rdev)), //nolint:unconvert // int32 on darwin
	}
}

// ReadDir lists the directory ino in the host's readdir order.
func (fsys *FS) ReadDir(ino uint64) ([]fstree.DirEntry, error) {
	p, _, err := fsys.lstat(ino)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, fmt.Errorf("dirfs: %w", err)
	}
	defer f.Close()
	names, err := f.Readdirnames(-1)
	if err != nil {
		return nil, fmt.Errorf("dirfs: reading directory %s: %w", p, err)
	}
	entries := make([]fstree.DirEntry, 0, len(names))
	fsys.mu.Lock()
	defer fsys.mu.Unlock()
	for _, name := range names {
		child := filepath.Join(p, name)
		var st unix.Stat_t
		if err := unix.Lstat(child, &st); err != nil {
			return nil, fmt.Errorf("dirfs: lstat %s: %w", child, err)
		}
		entries = append(entries, fstree.DirEntry{Name: name, Ino: st.Ino})
		fsys.paths[st.Ino] = child
	}
	return entries, nil
}

// ReadLink returns the target of the symbolic link ino.
func (fsys *FS) ReadLink(ino uint64) (string, error) {
	p, _, err := fsys.lstat(ino)
	if err != nil {
		return "", err
	}
	target, err := os.Readlink(p)
	if err != nil {
		return "", fmt.Errorf("dirfs: %w", err)
	}
	return target, nil
}

// Xattrs returns the extended attributes of ino (without following a
// symbolic link), sorted as the host lists them.
func (fsys *FS) Xattrs(ino uint64) ([]fstree.Xattr, error) {
	p, _, err := fsys.lstat(ino)
	if err != nil {
		return nil, err
	}
	names, err := listXattrs(p)
	if err != nil {
		return nil, err
	}
	xattrs := make([]fstree.Xattr, 0, len(names))
	for _, name := range names {
		value, err := getXattr(p, name)
		if errors.Is(err, unix.ENODATA) {
			continue // removed since it was listed
		}
		if err != nil {
			return nil, err
		}
		xattrs = append(xattrs, fstree.Xattr{Name: name, Value: value})
	}
	return xattrs, nil
}

// xattrListMax is the kernel's limit on the size of an xattr name list
// (XATTR_LIST_MAX) and of one value (XATTR_SIZE_MAX).
const xattrListMax = 64 << 10

func listXattrs(p string) ([]string, error) {
	buf := make([]byte, xattrListMax)
	n, err := unix.Llistxattr(p, buf)
	if errors.Is(err, unix.ENOTSUP) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("dirfs: llistxattr %s: %w", p, err)
	}
	var names []string
	for list := buf[:n]; len(list) > 0; {
		end := 0
		for end < len(list) && list[end] != 0 {
			end++
		}
		if end > 0 {
			names = append(names, string(list[:end]))
		}
		list = list[min(end+1, len(list)):]
	}
	return names, nil
}

func getXattr(p, name string) ([]byte, error) {
	size, err := unix.Lgetxattr(p, name, nil)
	if err != nil {
		return nil, fmt.Errorf("dirfs: lgetxattr %s %s: %w", p, name, err)
	}
	for range 3 { // the value may grow between the two calls
		buf := make([]byte, size)
		n, err := unix.Lgetxattr(p, name, buf)
		if errors.Is(err, unix.ERANGE) {
			size = xattrListMax
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("dirfs: lgetxattr %s %s: %w", p, name, err)
		}
		return buf[:n], nil
	}
	return nil, fmt.Errorf("dirfs: lgetxattr %s %s: value keeps changing size", p, name)
}

// OpenFile opens the regular file ino. The returned File holds an open
// descriptor: it implements io.Closer and should be closed.
func (fsys *FS) OpenFile(ino uint64) (fstree.File, error) {
	p, _, err := fsys.lstat(ino)
	if err != nil {
		return nil, err
	}
	f, err := os.OpenFile(p, os.O_RDONLY|unix.O_NOFOLLOW, 0)
	if err != nil {
		return nil, fmt.Errorf("dirfs: %w", err)
	}
	file, err := newFile(f)
	if err != nil {
		return nil, err
	}
	if file.Info.Ino != ino {
		file.Close()
		return nil, fmt.Errorf("dirfs: %s changed while opening it (inode %d expected)", p, ino)
	}
	return file, nil
}

// OpenPath opens a single host regular file by path, following symbolic
// links, for callers that add host files to a tree.
func OpenPath(p string) (*File, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, fmt.Errorf("dirfs: %w", err)
	}
	return newFile(f)
}

// newFile takes over f, a file that must be a regular file.
func newFile(f *os.File) (*File, error) {
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		f.Close()
		return nil, fmt.Errorf("dirfs: fstat %s: %w", f.Name(), err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		f.Close()
		return nil, fmt.Errorf("dirfs: %s is not a regular file (mode %o)", f.Name(), st.Mode)
	}
	ranges, err := dataRanges(f, st.Size)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("dirfs: mapping the data of %s: %w", f.Name(), err)
	}
	return &File{File: f, Info: statFromUnix(&st), ranges: ranges}, nil
}

// File is an open regular file of an FS.
type File struct {
	*os.File
	// Info is the file's metadata when it was opened.
	Info   fstree.Stat
	ranges []fstree.Range
}

// Size is the file's length when it was opened.
func (f *File) Size() int64 { return f.Info.Size }

// DataRanges lists the file's data as SEEK_DATA/SEEK_HOLE found it when
// the file was opened.
func (f *File) DataRanges() []fstree.Range { return f.ranges }

var _ io.ReaderAt = (*File)(nil)

// dataRanges maps a file's data with SEEK_DATA and SEEK_HOLE. Each step
// moves forward, so the loop ends; a filesystem without SEEK_DATA support
// reports the whole file as data.
func dataRanges(f *os.File, size int64) ([]fstree.Range, error) {
	fd := int(f.Fd())
	var ranges []fstree.Range
	for off := int64(0); off < size; {
		start, err := unix.Seek(fd, off, unix.SEEK_DATA)
		if errors.Is(err, unix.ENXIO) {
			break // only a hole remains
		}
		if errors.Is(err, unix.EINVAL) && off == 0 {
			return []fstree.Range{{Offset: 0, Length: size}}, nil
		}
		if err != nil {
			return nil, err
		}
		end, err := unix.Seek(fd, start, unix.SEEK_HOLE)
		if err != nil {
			return nil, err
		}
		end = min(end, size)
		if start < off || end <= start {
			return nil, fmt.Errorf("SEEK_DATA/SEEK_HOLE went backwards at offset %d", off)
		}
		ranges = append(ranges, fstree.Range{Offset: start, Length: end - start})
		off = end
	}
	return ranges, nil
}
