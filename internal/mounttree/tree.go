package mounttree

import (
	"errors"
	"fmt"
	iofs "io/fs"
	"path"
	"strings"

	"github.com/c34478be/packer-plugin-maas/internal/fstree"
)

// Inode numbers of the combined tree carry the index of their filesystem
// in the top bits, so that the filesystems' numbers never collide (hard
// link detection relies on that). ext2/3/4 inode numbers are 32-bit.
const (
	fsIndexShift = 56
	maxMounts    = 1<<(64-fsIndexShift) - 1
	inoMask      = 1<<fsIndexShift - 1
)

// Tree is a root filesystem with others mounted on its directories (and
// on each other's), as on the running system: what the tarball packs.
type Tree struct {
	fss    []fstree.FS    // [0] is the root filesystem
	points map[uint64]int // combined inode of a mount point -> index in fss
}

// New is the tree of root alone; Assemble mounts the others on it.
func New(root fstree.FS) (*Tree, error) {
	if root.RootInode()&^inoMask != 0 {
		return nil, fmt.Errorf("root inode %d is out of range", root.RootInode())
	}
	return &Tree{fss: []fstree.FS{root}, points: map[uint64]int{}}, nil
}

// errNoMountPoint means the directory to mount on is missing or is not a
// directory.
var errNoMountPoint = errors.New("no such directory")

// mount puts sub on the directory dir of the tree as assembled so far
// (mount parents first).
func (t *Tree) mount(dir string, sub fstree.FS) error {
	if len(t.fss) > maxMounts {
		return fmt.Errorf("more than %d filesystems to mount", maxMounts)
	}
	if sub.RootInode()&^inoMask != 0 {
		return fmt.Errorf("root inode %d is out of range", sub.RootInode())
	}
	ino, err := t.Lookup(dir)
	if err != nil {
		return fmt.Errorf("%w: %v", errNoMountPoint, err)
	}
	st, err := t.Stat(ino)
	if err != nil {
		return err
	}
	if st.Mode&fstree.ModeType != fstree.ModeDir {
		return fmt.Errorf("%w: %s is not a directory", errNoMountPoint, dir)
	}
	t.fss = append(t.fss, sub)
	t.points[ino] = len(t.fss) - 1
	return nil
}

// which maps an inode of the combined tree to its filesystem and number.
func (t *Tree) which(ino uint64) (fstree.FS, uint64) {
	i, n := t.locate(ino)
	return t.fss[i], n
}

// locate maps an inode of the combined tree to the index of its
// filesystem and its number there.
func (t *Tree) locate(ino uint64) (int, uint64) {
	if i, ok := t.points[ino]; ok {
		return i, t.fss[i].RootInode()
	}
	i := int(ino >> fsIndexShift)
	if i >= len(t.fss) {
		return 0, ino & inoMask // cannot happen: every number handed out is tagged
	}
	return i, ino & inoMask
}

// tag is the combined inode of inode ino of filesystem i.
func (t *Tree) tag(i int, ino uint64) (uint64, error) {
	if ino&^inoMask != 0 {
		return 0, fmt.Errorf("inode %d is out of range", ino)
	}
	return uint64(i)<<fsIndexShift | ino, nil
}

func (t *Tree) RootInode() uint64 { return t.fss[0].RootInode() }

func (t *Tree) Stat(ino uint64) (fstree.Stat, error) {
	fs, n := t.which(ino)
	st, err := fs.Stat(n)
	st.Ino = ino
	return st, err
}

func (t *Tree) ReadDir(ino uint64) ([]fstree.DirEntry, error) {
	i, n := t.locate(ino)
	entries, err := t.fss[i].ReadDir(n)
	if err != nil {
		return nil, err
	}
	for k := range entries {
		if entries[k].Ino, err = t.tag(i, entries[k].Ino); err != nil {
			return nil, err
		}
	}
	return entries, nil
}

func (t *Tree) ReadLink(ino uint64) (string, error) {
	fs, n := t.which(ino)
	return fs.ReadLink(n)
}

func (t *Tree) Xattrs(ino uint64) ([]fstree.Xattr, error) {
	fs, n := t.which(ino)
	return fs.Xattrs(n)
}

func (t *Tree) OpenFile(ino uint64) (fstree.File, error) {
	fs, n := t.which(ino)
	return fs.OpenFile(n)
}

// Lookup finds the inode of an absolute path in the combined tree,
// crossing mount points; symlinks are not followed (resolve does that).
func (t *Tree) Lookup(p string) (uint64, error) {
	ino := t.RootInode()
	for _, name := range strings.Split(strings.Trim(path.Clean("/"+p), "/"), "/") {
		if name == "" {
			continue
		}
		entries, err := t.ReadDir(ino)
		if err != nil {
			return 0, err
		}
		found := false
		for _, e := range entries {
			if e.Name == name {
				ino, found = e.Ino, true
				break
			}
		}
		if !found {
			return 0, fmt.Errorf("%s: %w", p, iofs.ErrNotExist)
		}
	}
	return ino, nil
}
