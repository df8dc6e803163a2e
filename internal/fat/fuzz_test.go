package fat

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/c34478be/packer-plugin-maas/internal/fstree"
)

// FuzzFAT opens mutated small FAT images and reads every file: errors are
// fine, panics, hangs and unbounded allocations are not.
func FuzzFAT(f *testing.F) {
	dir := f.TempDir()
	for i, sizeKiB := range []int{64, 160} {
		img := filepath.Join(dir, fmt.Sprintf("fat%d.img", i))
		run(f, "mkfs.vfat", "-C", "-s", "1", img, fmt.Sprint(sizeKiB))
		src := filepath.Join(dir, "vmlinuz-6.1.0-long-name")
		if err := os.WriteFile(src, bytes.Repeat([]byte("k"), 3000), 0o644); err != nil {
			f.Fatal(err)
		}
		run(f, "mmd", "-i", img, "::loader")
		run(f, "mcopy", "-i", img, src, "::loader/")
		run(f, "mcopy", "-i", img, src, "::")
		data, err := os.ReadFile(img)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		fs, err := Open(bytes.NewReader(data), int64(len(data)), DefaultOptions)
		if err != nil {
			return
		}
		readTree(fs, fs.RootInode(), 0)
	})
}

func readTree(fs *FS, ino uint64, depth int) {
	if depth > 8 {
		return
	}
	entries, err := fs.ReadDir(ino)
	if err != nil {
		return
	}
	for _, e := range entries {
		st, err := fs.Stat(e.Ino)
		if err != nil {
			continue
		}
		if st.Mode&fstree.ModeType == fstree.ModeDir {
			readTree(fs, e.Ino, depth+1)
			continue
		}
		if f, err := fs.OpenFile(e.Ino); err == nil {
			_, _ = io.Copy(io.Discard, io.NewSectionReader(f, 0, f.Size()))
		}
	}
}
