package ext4

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/c34478be/packer-plugin-maas/internal/fstree"
)

// walkLimits bounds the work of walkAll on hostile images.
type walkLimits struct {
	inodes int
	bytes  int64
}

// walkAll visits every inode reachable from the root once (directory
// cycles cannot loop), reading metadata, xattrs, link targets and up to
// limits.bytes of file data. It checks the File contract on the way and
// returns the first error of the reader, continuing past it; contract
// violations are returned as errContract.
func walkAll(fs *FS, limits walkLimits) error {
	var first error
	note := func(err error) {
		if err != nil && first == nil {
			first = err
		}
	}
	seen := map[uint64]bool{}
	stack := []uint64{fs.RootInode()}
	budget := limits.bytes
	buf := make([]byte, 1<<20)
	for len(stack) > 0 && len(seen) < limits.inodes {
		ino := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if seen[ino] {
			continue
		}
		seen[ino] = true
		st, err := fs.Stat(ino)
		if err != nil {
			note(err)
			continue
		}
		_, err = fs.Xattrs(ino)
		note(err)
		switch st.Mode & fstree.ModeType {
		case fstree.ModeDir:
			entries, err := fs.ReadDir(ino)
			note(err)
			for _, e := range entries {
				stack = append(stack, e.Ino)
			}
		case fstree.ModeSymlink:
			_, err := fs.ReadLink(ino)
			note(err)
		case fstree.ModeRegular:
			f, err := fs.OpenFile(ino)
			if err != nil {
				note(err)
				continue
			}
			if err := checkFile(f, buf, &budget); err != nil {
				if errors.Is(err, errContract) {
					return err
				}
				note(err)
			}
		}
	}
	return first
}

var errContract = errors.New("fstree.File contract broken")

// checkFile checks that the data ranges are sorted, disjoint and within
// the size, and reads them (and the first byte of each hole) within budget,
// in reads of len(buf).
func checkFile(f fstree.File, buf []byte, budget *int64) error {
	end := int64(0)
	for _, r := range f.DataRanges() {
		if r.Offset < end || r.Length <= 0 || r.Offset+r.Length > f.Size() {
			return fmt.Errorf("%w: range %v after offset %d, size %d", errContract, r, end, f.Size())
		}
		if r.Offset > end && *budget > 0 {
			if _, err := f.ReadAt(buf[:1], end); err != nil {
				return err
			}
			if buf[0] != 0 {
				return fmt.Errorf("%w: hole at %d reads %#x", errContract, end, buf[0])
			}
		}
		for off := r.Offset; off < r.Offset+r.Length && *budget > 0; off += int64(len(buf)) {
			n, err := f.ReadAt(buf, off)
			*budget -= int64(n)
			if err != nil && !errors.Is(err, io.EOF) {
				return err
			}
			if n < len(buf) && off+int64(n) != f.Size() {
				return fmt.Errorf("%w: short read of %d at %d, size %d", errContract, n, off, f.Size())
			}
		}
		end = r.Offset + r.Length
	}
	return nil
}

// seedImages returns the gzipped seed images of testdata.
func seedImages(t testing.TB) map[string][]byte {
	paths, err := filepath.Glob("testdata/seed-*.img.gz")
	if err != nil || len(paths) == 0 {
		t.Fatalf("no seed images in testdata (run testdata/mkseeds.sh): %v", err)
	}
	seeds := map[string][]byte{}
	for _, p := range paths {
		seeds[filepath.Base(p)] = gunzipFile(t, p)
	}
	return seeds
}

// gunzipFile returns the uncompressed content of a gzip file.
func gunzipFile(t testing.TB, path string) []byte {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	data, err := io.ReadAll(zr)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return data
}

// TestSeedImages walks the fuzz seeds cleanly, so the fuzzers start from
// images that reach every structure.
func TestSeedImages(t *testing.T) {
	for name, data := range seedImages(t) {
		fs, err := Open(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if err := walkAll(fs, walkLimits{inodes: 1000, bytes: 1 << 20}); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// The seeds are whole 256 KiB images: run the fuzzers with a short
// -fuzzminimizetime (e.g. 10x), or minimizing each new input takes a minute.

func FuzzOpen(f *testing.F) {
	for _, data := range seedImages(f) {
		f.Add(data)
	}
	f.Add(manyGroupsSeed())
	f.Fuzz(func(t *testing.T, data []byte) {
		fs, err := Open(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			return
		}
		_ = fs.Label()
		_, _ = fs.Stat(fs.RootInode())
	})
}

func FuzzWalk(f *testing.F) {
	for _, data := range seedImages(f) {
		f.Add(data)
	}
	f.Add(manyGroupsSeed())
	f.Fuzz(func(t *testing.T, data []byte) {
		fs, err := Open(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			return
		}
		if err := walkAll(fs, walkLimits{inodes: 2000, bytes: 4 << 20}); errors.Is(err, errContract) {
			t.Fatal(err)
		}
	})
}
