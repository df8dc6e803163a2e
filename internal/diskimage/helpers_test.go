package diskimage

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"testing"

	"github.com/c34478be/packer-plugin-maas/internal/test/testtool"
)

// run runs a tool and fails the test with its output when it fails or is
// missing.
var run = testtool.CombinedOutput

const MiB = 1 << 20

// writeScatteredRaw makes a sparse raw file with text and random data at
// offsets that straddle 64 KiB cluster and 4 KiB block boundaries, so
// readers and allocation maps meet partial clusters and holes.
func writeScatteredRaw(t testing.TB, path string, size int64) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewSource(1))
	random := func(n int) []byte { b := make([]byte, n); rng.Read(b); return b }
	text := func(n int) []byte {
		var b bytes.Buffer
		for i := 0; b.Len() < n; i++ {
			fmt.Fprintf(&b, "line %d of compressible text\n", i)
		}
		return b.Bytes()[:n]
	}
	writes := []struct {
		off  int64
		data []byte
	}{
		{0, text(MiB)},
		{5*MiB + 4096, random(300 << 10)},
		{20*MiB - 4096, text(64 << 10)},
		{size - 4096, random(4096)},
	}
	for _, w := range writes {
		if _, err := f.WriteAt(w.data, w.off); err != nil {
			t.Fatal(err)
		}
	}
}

// qemuMapData returns the merged ranges that qemu-img map reports as data.
func qemuMapData(t testing.TB, path string) []Range {
	t.Helper()
	out := run(t, "qemu-img", "map", "--output=json", path)
	var entries []struct {
		Start, Length int64
		Data          bool
	}
	if err := json.Unmarshal([]byte(out), &entries); err != nil {
		t.Fatalf("qemu-img map output: %v\n%s", err, out)
	}
	var rs []Range
	for _, e := range entries {
		if e.Data {
			rs = appendMerged(rs, Range{Start: e.Start, Length: e.Length})
		}
	}
	return rs
}

// qemuToRaw converts any image to raw with qemu-img, the oracle for what
// the virtual disk holds.
func qemuToRaw(t testing.TB, path string) []byte {
	t.Helper()
	out := filepath.Join(t.TempDir(), "oracle.raw")
	run(t, "qemu-img", "convert", "-O", "raw", path, out)
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
