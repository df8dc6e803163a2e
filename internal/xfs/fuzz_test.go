package xfs

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/c34478be/packer-plugin-maas/internal/fstree"
)

// sparseImage is an image given by its size and its non-zero 512-byte
// sectors (testdata/pack.go): XFS cannot be smaller than 300 MiB, but the
// seeds' few hundred KiB of metadata are what the fuzzers should mutate.
type sparseImage struct {
	size    int64
	sectors map[int64][]byte
}

const maxSparseSize = 1 << 40

// parseSparse decodes data; anything shorter than a header is an empty
// image.
func parseSparse(data []byte) *sparseImage {
	img := &sparseImage{sectors: map[int64][]byte{}}
	if len(data) < 8 {
		return img
	}
	img.size = int64(binary.BigEndian.Uint64(data) % maxSparseSize)
	for rec := data[8:]; len(rec) >= 8+512; rec = rec[8+512:] {
		off := int64(binary.BigEndian.Uint64(rec)%maxSparseSize) &^ 511
		img.sectors[off] = rec[8 : 8+512]
	}
	return img
}

func (s *sparseImage) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, errors.New("negative offset")
	}
	if off >= s.size {
		return 0, io.EOF
	}
	n := int(min(int64(len(p)), s.size-off))
	clear(p[:n])
	for sec := off &^ 511; sec < off+int64(n); sec += 512 {
		if data, ok := s.sectors[sec]; ok {
			lo, hi := max(sec, off), min(sec+512, off+int64(n))
			copy(p[lo-off:hi-off], data[lo-sec:hi-sec])
		}
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// seeds returns the packed seed images of testdata.
func seeds(t testing.TB) map[string][]byte {
	paths, err := filepath.Glob("testdata/seed-*.gz")
	if err != nil || len(paths) == 0 {
		t.Fatalf("no seeds in testdata (run testdata/mkseeds.sh): %v", err)
	}
	out := map[string][]byte{}
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		zr, err := gzip.NewReader(f)
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(zr)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		out[filepath.Base(p)] = data
	}
	return out
}

func openSeed(t testing.TB, data []byte) *FS {
	img := parseSparse(data)
	fs, err := Open(img, img.size)
	if err != nil {
		t.Fatal(err)
	}
	return fs
}

// walkLimits bounds the work of walkAll on hostile images.
type walkLimits struct {
	inodes int
	bytes  int64
}

var errContract = errors.New("fstree.File contract broken")

// walkAll visits every inode reachable from the root once, reading
// metadata, xattrs, link targets and up to limits.bytes of file data, and
// returns the first error of the reader; contract violations are
// errContract.
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
	buf := make([]byte, 64<<10)
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

// checkFile checks that the data ranges are sorted, disjoint and within
// the size, and reads them within budget.
func checkFile(f fstree.File, buf []byte, budget *int64) error {
	end := int64(0)
	for _, r := range f.DataRanges() {
		if r.Offset < end || r.Length <= 0 || r.Offset+r.Length > f.Size() {
			return fmt.Errorf("%w: range %v after offset %d, size %d", errContract, r, end, f.Size())
		}
		for off := r.Offset; off < r.Offset+r.Length && *budget > 0; off += int64(len(buf)) {
			n, err := f.ReadAt(buf, off)
			*budget -= int64(n)
			if err != nil && !errors.Is(err, io.EOF) {
				return err
			}
		}
		end = r.Offset + r.Length
	}
	return nil
}

// TestSeeds walks the fuzz seeds cleanly, so the fuzzers start from
// images that reach every structure.
func TestSeeds(t *testing.T) {
	for name, data := range seeds(t) {
		fs := openSeed(t, data)
		if err := walkAll(fs, walkLimits{inodes: 10000, bytes: 1 << 20}); err != nil {
			t.Errorf("%s: %v", name, err)
		}
		for _, form := range []string{"block", "leaf", "node"} {
			dir := form
			if !fs.sb.v5 {
				dir = map[string]string{"block": "d30", "leaf": "d150", "node": "d600"}[form]
			}
			if got := dirForm(t, fs, dir); got != form {
				t.Errorf("%s: /%s is in %s form", name, dir, got)
			}
		}
	}
}

// withoutCRCs turns the superblock and inode CRC checks off for a fuzz
// target, so that mutations reach what lies behind them.
func withoutCRCs(f *testing.F) {
	checkCRCs = false
	f.Cleanup(func() { checkCRCs = true })
}

func FuzzXFSOpen(f *testing.F) {
	withoutCRCs(f)
	for _, data := range seeds(f) {
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		img := parseSparse(data)
		fs, err := Open(img, img.size)
		if err != nil {
			return
		}
		_, _ = fs.Stat(fs.RootInode())
		_, _ = fs.ReadDir(fs.RootInode())
	})
}

func FuzzXFSWalk(f *testing.F) {
	for _, data := range seeds(f) {
		f.Add(data)
	}
	for _, c := range crafts {
		img := seedImage(f)
		fs, err := Open(img, img.size)
		if err != nil {
			f.Fatal(err)
		}
		c(f, fs, img)
		f.Add(img.encode())
	}
	withoutCRCs(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		img := parseSparse(data)
		fs, err := Open(img, img.size)
		if err != nil {
			return
		}
		if err := walkAll(fs, walkLimits{inodes: 2000, bytes: 1 << 20}); errors.Is(err, errContract) {
			t.Fatal(err)
		}
	})
}

// seedInodes returns the raw inodes of the v5 seed, for the inode fuzzer.
func seedInodes(t testing.TB) (*FS, [][]byte) {
	fs := openSeed(t, seeds(t)["seed-v5.gz"])
	var raws [][]byte
	var visit func(ino uint64)
	visit = func(ino uint64) {
		in, err := fs.readInode(ino)
		if err != nil {
			t.Fatal(err)
		}
		raws = append(raws, in.raw)
		if in.fileType() == fstree.ModeDir {
			entries, _ := fs.ReadDir(ino)
			for _, e := range entries[:min(len(entries), 20)] {
				visit(e.Ino)
			}
		}
	}
	visit(fs.RootInode())
	return fs, raws
}

// FuzzInode decodes mutated inodes of the v5 seed in the place of its
// root inode, then everything that hangs off them: forks, short-form
// directories and xattrs, extent btrees, remote blocks. The inode CRC is
// recomputed so that mutations get past it.
func FuzzXFSInode(f *testing.F) {
	fs, raws := seedInodes(f)
	for _, raw := range raws {
		f.Add(raw)
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		if len(raw) != int(fs.sb.inodeSize) {
			return
		}
		raw = bytes.Clone(raw)
		binary.BigEndian.PutUint64(raw[152:], fs.sb.rootIno)
		binary.LittleEndian.PutUint32(raw[inodeCRCOffset:], 0)
		binary.LittleEndian.PutUint32(raw[inodeCRCOffset:], crc32c(raw))
		in, err := fs.parseInode(fs.sb.rootIno, raw)
		if err != nil {
			return
		}
		_, _ = fs.xattrs(in)
		switch in.fileType() {
		case fstree.ModeDir:
			if in.format == formatLocal {
				_, _ = fs.shortformDir(in)
			} else {
				_, _ = fs.blockDir(in)
			}
		case fstree.ModeSymlink:
			if in.format != formatLocal {
				_, _ = fs.remoteSymlink(in)
			}
		default:
			_, _ = fs.dataExtents(in)
		}
	})
}

// FuzzDirBlock decodes mutated directory data blocks.
func FuzzXFSDirBlock(f *testing.F) {
	fs, raws := seedInodes(f)
	for _, raw := range raws {
		in, err := fs.parseInode(be64(raw[152:]), raw)
		if err != nil || in.fileType() != fstree.ModeDir || in.format == formatLocal {
			continue
		}
		exts, _ := fs.dataExtents(in)
		b := make([]byte, fs.sb.blockSize<<fs.sb.dirBlkLog)
		if err := fs.readExtents(exts, b, 0); err == nil {
			f.Add(b)
		}
	}
	f.Add(truncatedEntryBlock(fs))
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) != int(fs.sb.blockSize<<fs.sb.dirBlkLog) {
			return
		}
		_, _ = fs.dataBlockEntries(b, nil)
	})
}

// FuzzXattrBlock decodes mutated attribute leaf blocks and ACLs.
func FuzzXFSXattrBlock(f *testing.F) {
	fs, raws := seedInodes(f)
	for _, raw := range raws {
		in, err := fs.parseInode(be64(raw[152:]), raw)
		if err != nil || in.aformat == formatLocal || in.attrFork() == nil {
			continue
		}
		exts, err := fs.forkExtents(in.attrFork(), in.aformat, in.anextents)
		if err != nil || len(exts) == 0 {
			continue
		}
		if b, err := fs.readAttrBlock(exts, 0); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) != int(fs.sb.blockSize) {
			return
		}
		raws, err := fs.leafBlockXattrs(b, nil)
		if err != nil {
			return
		}
		for _, r := range raws {
			if !r.remote {
				_, _ = aclToXattr(r.value)
			}
		}
	})
}
