package diskimage

import (
	"bytes"
	"fmt"
	"io"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/c34478be/packer-plugin-maas/internal/test/testtool"
)

// qcow2Seeds converts a 64 KiB disk with text and random data into the
// qcow2 variants QEMU writes, with 512-byte clusters to keep them tiny.
// The unit tier has no qemu-img: there the targets run on the crafted
// shapes and testdata/fuzz alone.
func qcow2Seeds(f *testing.F) [][]byte {
	if !testtool.Acceptance() {
		f.Logf("no qemu-img seeds: set %s=1 for them", testtool.AcceptanceEnv)
		return nil
	}
	dir := f.TempDir()
	rawPath := filepath.Join(dir, "base.raw")
	disk := make([]byte, 64<<10)
	copy(disk, bytes.Repeat([]byte("compressible text "), 120))
	rand.New(rand.NewSource(1)).Read(disk[40<<10 : 41<<10])
	if err := os.WriteFile(rawPath, disk, 0o600); err != nil {
		f.Fatal(err)
	}
	var seeds [][]byte
	for i, opts := range []string{
		"cluster_size=512",
		"cluster_size=512,compression_type=zlib",
		"cluster_size=512,compression_type=zstd",
		"cluster_size=512,compat=0.10",
	} {
		out := filepath.Join(dir, fmt.Sprintf("seed%d.qcow2", i))
		args := []string{"convert", "-O", "qcow2", "-o", opts}
		if strings.Contains(opts, "compression") {
			args = append(args, "-c")
		}
		run(f, "qemu-img", append(args, rawPath, out)...)
		checkSeedReads(f, out, disk)
		b, err := os.ReadFile(out)
		if err != nil {
			f.Fatal(err)
		}
		seeds = append(seeds, b)
	}
	return seeds
}

// checkSeedReads makes sure a seed is a valid image that reads back as
// disk, so that the fuzzer starts from inputs that reach the data paths.
func checkSeedReads(f *testing.F, path string, disk []byte) {
	img, err := Open(path)
	if err != nil {
		f.Fatal(err)
	}
	defer img.Close()
	got := make([]byte, len(disk))
	if _, err := img.ReadAt(got, 0); err != nil && err != io.EOF { //nolint:errorlint // ReaderAt sentinel
		f.Fatal(err)
	}
	if !bytes.Equal(got, disk) {
		f.Fatalf("seed %s does not read back as the disk it was made from", path)
	}
}

// backingEscapes are qcow2 images whose backing file is a host file, by
// absolute name and by a relative name climbing out of the image's
// directory.
func backingEscapes() [][]byte {
	var out [][]byte
	for _, name := range []string{"/etc/passwd", "../../../../../../etc/passwd"} {
		c := &craftedQcow2{clusterBits: 9, size: 4096, l1: make([]uint64, 1), backing: name}
		out = append(out, c.bytes())
	}
	return out
}

func FuzzOpenQcow2(f *testing.F) {
	seeds := append(qcow2Seeds(f), craftedClusterMaps()...)
	for _, seed := range append(seeds, backingEscapes()...) {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(t.TempDir(), "fuzz.img")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		img, err := Open(path)
		if err != nil {
			return
		}
		defer img.Close()
		alloc, err := img.Allocated()
		if err == nil {
			checkRangesInside(t, alloc, img.Size())
		}
		buf := make([]byte, 256<<10)
		for _, off := range []int64{0, img.Size() / 2, img.Size() - 1000} {
			if off < 0 {
				continue
			}
			n, err := img.ReadAt(buf, off)
			if n < 0 || n > len(buf) || (err == nil && n != len(buf)) || (err == io.EOF && int64(n) != min(int64(len(buf)), img.Size()-off)) { //nolint:errorlint // ReaderAt sentinel
				t.Fatalf("ReadAt(%d) = %d, %v", off, n, err)
			}
		}
	})
}

func checkRangesInside(t *testing.T, rs []Range, size int64) {
	prevEnd := int64(-1)
	for _, r := range rs {
		if r.Start <= prevEnd || r.Length <= 0 || r.End() > size {
			t.Fatalf("allocation ranges not sorted, merged and inside the %d-byte disk: %v", size, rs)
		}
		prevEnd = r.End()
	}
}

// craftedClusterMaps are the hostile shapes, small enough for the fuzzer:
// L1 entries sharing an L2 table, L2 entries sharing a data cluster.
func craftedClusterMaps() [][]byte {
	return [][]byte{sharedL2Sized(9, 64).bytes(), sharedData().bytes()}
}

// FuzzQcow2ClusterMap drives the header checks and the L1/L2 walk alone,
// with the bound the walk promises: no host cluster serves twice, so the
// map has at most one extent per 8 bytes of file.
func FuzzQcow2ClusterMap(f *testing.F) {
	for _, seed := range append(qcow2Seeds(f), craftedClusterMaps()...) {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r, size := bytes.NewReader(data), int64(len(data))
		h, err := parseQcow2Header(r, size)
		if err != nil {
			return
		}
		extents, err := readClusterMap(r, h, size)
		if err != nil {
			return
		}
		if int64(len(extents)) > size/8 {
			t.Fatalf("%d extents from a %d-byte file", len(extents), size)
		}
		end := int64(0)
		for _, e := range extents {
			if e.start < end || e.length <= 0 || e.start+e.length > int64(h.Size) {
				t.Fatalf("extent %+v is out of order or outside the %d-byte disk", e, h.Size)
			}
			end = e.start + e.length
		}
	})
}
