package export

import (
	"fmt"

	"github.com/c34478be/packer-plugin-maas/internal/fstree"
)

// subTag marks inode numbers of the mounted filesystem so that they never
// collide with the root filesystem's (which hard-link detection relies on).
const subTag = 1 << 63

// mounted is a root filesystem with another one mounted on a directory, as
// a separate /boot partition is on a running system.
type mounted struct {
	root  fstree.FS
	sub   fstree.FS
	point uint64 // the root filesystem's inode of the mount point
}

func mountAt(root pathFS, dir string, sub fstree.FS) (fstree.FS, error) {
	point, err := root.Lookup(dir)
	if err != nil {
		return nil, fmt.Errorf("mounting the /boot partition: the root filesystem has no %s: %w", dir, err)
	}
	if root.RootInode()&subTag != 0 {
		return nil, fmt.Errorf("root inode %d is out of range", root.RootInode())
	}
	return &mounted{root: root, sub: sub, point: point}, nil
}

// which maps an inode of the combined tree to its filesystem and number.
func (m *mounted) which(ino uint64) (fstree.FS, uint64) {
	switch {
	case ino == m.point:
		return m.sub, m.sub.RootInode()
	case ino&subTag != 0:
		return m.sub, ino &^ subTag
	default:
		return m.root, ino
	}
}

func (m *mounted) RootInode() uint64 { return m.root.RootInode() }

func (m *mounted) Stat(ino uint64) (fstree.Stat, error) {
	fs, n := m.which(ino)
	st, err := fs.Stat(n)
	st.Ino = ino
	return st, err
}

func (m *mounted) ReadDir(ino uint64) ([]fstree.DirEntry, error) {
	fs, n := m.which(ino)
	entries, err := fs.ReadDir(n)
	if err != nil || fs == m.root {
		return entries, err
	}
	for i := range entries {
		if entries[i].Ino&subTag != 0 {
			return nil, fmt.Errorf("/boot partition: inode %d is out of range", entries[i].Ino)
		}
		entries[i].Ino |= subTag
	}
	return entries, nil
}

func (m *mounted) ReadLink(ino uint64) (string, error) {
	fs, n := m.which(ino)
	return fs.ReadLink(n)
}

func (m *mounted) Xattrs(ino uint64) ([]fstree.Xattr, error) {
	fs, n := m.which(ino)
	return fs.Xattrs(n)
}

func (m *mounted) OpenFile(ino uint64) (fstree.File, error) {
	fs, n := m.which(ino)
	return fs.OpenFile(n)
}
