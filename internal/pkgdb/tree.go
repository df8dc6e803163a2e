package pkgdb

import (
	"errors"
	"fmt"
	"io"
	iofs "io/fs"
	"path"
	"strings"

	"github.com/c34478be/packer-plugin-maas/internal/fstree"
)

// maxSymlinks bounds symlink hops while resolving one path, as the
// kernel's MAXSYMLINKS does.
const maxSymlinks = 40

// resolve finds the inode of an absolute path in the tree, following
// symlinks the way the image's own kernel would with the tree as "/": an
// absolute target restarts at the tree's root and ".." never leaves it.
// A missing name gives an error matching io/fs.ErrNotExist.
func resolve(fsys fstree.FS, p string) (uint64, error) {
	hops := 0
	return resolveFrom(fsys, fsys.RootInode(), nil, p, &hops)
}

// resolveFrom walks p from dir, whose ancestors (root first) are parents.
func resolveFrom(fsys fstree.FS, dir uint64, parents []uint64, p string, hops *int) (uint64, error) {
	if strings.HasPrefix(p, "/") {
		dir, parents = fsys.RootInode(), nil
	}
	names := strings.Split(p, "/")
	for i, name := range names {
		switch name {
		case "", ".":
			continue
		case "..":
			if len(parents) > 0 {
				dir, parents = parents[len(parents)-1], parents[:len(parents)-1]
			}
			continue
		}
		ino, err := lookupName(fsys, dir, name)
		if err != nil {
			return 0, fmt.Errorf("%s: %w", p, err)
		}
		st, err := fsys.Stat(ino)
		if err != nil {
			return 0, err
		}
		if st.Mode&fstree.ModeType == fstree.ModeSymlink {
			*hops++
			if *hops > maxSymlinks {
				return 0, fmt.Errorf("%s: more than %d symbolic links", p, maxSymlinks)
			}
			target, err := fsys.ReadLink(ino)
			if err != nil {
				return 0, err
			}
			rest := path.Join(append([]string{target}, names[i+1:]...)...)
			return resolveFrom(fsys, dir, parents, rest, hops)
		}
		if i < len(names)-1 && st.Mode&fstree.ModeType != fstree.ModeDir {
			return 0, fmt.Errorf("%s: %s is not a directory: %w", p, name, iofs.ErrNotExist)
		}
		parents = append(parents, dir)
		dir = ino
	}
	return dir, nil
}

func lookupName(fsys fstree.FS, dir uint64, name string) (uint64, error) {
	entries, err := fsys.ReadDir(dir)
	if err != nil {
		return 0, err
	}
	for _, e := range entries {
		if e.Name == name {
			return e.Ino, nil
		}
	}
	return 0, fmt.Errorf("%q: %w", name, iofs.ErrNotExist)
}

// errTooLarge marks a database file past its size cap.
var errTooLarge = errors.New("file too large")

// openRegular resolves p to a regular file no larger than limit. A path
// that does not exist gives an error matching io/fs.ErrNotExist.
func openRegular(fsys fstree.FS, p string, limit int64) (fstree.File, error) {
	ino, err := resolve(fsys, p)
	if err != nil {
		return nil, err
	}
	st, err := fsys.Stat(ino)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	if st.Mode&fstree.ModeType != fstree.ModeRegular {
		return nil, fmt.Errorf("%s is not a regular file (mode %#o)", p, st.Mode)
	}
	if st.Size > limit {
		return nil, fmt.Errorf("%s: %w: %d bytes, at most %d read", p, errTooLarge, st.Size, limit)
	}
	f, err := fsys.OpenFile(ino)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	if f.Size() > limit {
		closeFile(f)
		return nil, fmt.Errorf("%s: %w: %d bytes, at most %d read", p, errTooLarge, f.Size(), limit)
	}
	return f, nil
}

// readAll reads a whole file opened by openRegular.
func readAll(f fstree.File) ([]byte, error) {
	buf := make([]byte, f.Size())
	n, err := f.ReadAt(buf, 0)
	if errors.Is(err, io.EOF) && n == len(buf) {
		err = nil
	}
	return buf[:n], err
}

func closeFile(f fstree.File) {
	if c, ok := f.(io.Closer); ok {
		c.Close()
	}
}
