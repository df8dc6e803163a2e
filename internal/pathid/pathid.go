// Package pathid compares paths by the files they name (device and inode),
// not by how they are spelled: ../, symlinks and hard links name the same
// file however the strings differ.
package pathid

import (
	"os"
	"path/filepath"
)

// Same reports whether a and b name one existing file.
func Same(a, b string) bool {
	ia, err := os.Stat(a)
	if err != nil {
		return false
	}
	ib, err := os.Stat(b)
	return err == nil && os.SameFile(ia, ib)
}

// Inside reports whether p, existing or not, lies below the existing
// directory dir: each existing directory above p is resolved and compared
// with dir by device and inode.
func Inside(p, dir string) bool {
	target, err := os.Stat(dir)
	if err != nil || !target.IsDir() {
		return false
	}
	abs, err := filepath.Abs(p)
	if err != nil {
		return false
	}
	for d := filepath.Dir(abs); ; {
		if info, err := os.Stat(d); err == nil {
			if os.SameFile(info, target) {
				return true
			}
			if real, err := filepath.EvalSymlinks(d); err == nil {
				d = real
			}
		}
		parent := filepath.Dir(d)
		if parent == d {
			return false
		}
		d = parent
	}
}
