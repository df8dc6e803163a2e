package tarball

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/c34478be/packer-plugin-maas/internal/fstree/dirfs"
)

// benchTreeBytes is the file data of the benchmark tree.
const benchTreeBytes = 300 << 20

// buildBenchTree copies ~300 MB of the host's /usr/bin and /usr/share
// (binaries, scripts, docs: what a root filesystem holds and how it
// compresses) into root, and returns the data size.
func buildBenchTree(b *testing.B, root string) int64 {
	b.Helper()
	var total int64
	errFull := errors.New("tree is full")
	for _, from := range []string{"/usr/bin", "/usr/share"} {
		err := filepath.WalkDir(from, func(p string, d fs.DirEntry, err error) error {
			if err != nil || !d.Type().IsRegular() {
				return nil //nolint:nilerr // unreadable or not a file: not needed
			}
			if total >= benchTreeBytes {
				return errFull
			}
			dst := filepath.Join(root, p)
			if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
				return err
			}
			n, err := copyFile(p, dst)
			total += n
			return err
		})
		if err != nil && !errors.Is(err, errFull) {
			b.Fatal(err)
		}
	}
	if total < benchTreeBytes/2 {
		b.Fatalf("only %d bytes in /usr/bin and /usr/share to benchmark with", total)
	}
	return total
}

func BenchmarkWriteTGZ(b *testing.B) {
	src := b.TempDir()
	size := buildBenchTree(b, src)
	out := filepath.Join(b.TempDir(), "bench.tgz")
	for _, level := range []int{DefaultCompressionLevel, 9} {
		b.Run(fmt.Sprintf("level%d", level), func(b *testing.B) {
			b.SetBytes(size)
			b.ReportAllocs()
			var compressed int64
			for b.Loop() {
				fsys, err := dirfs.Open(src)
				if err != nil {
					b.Fatal(err)
				}
				o, err := WriteTGZ(context.Background(), out, level, func(w io.Writer) error {
					_, err := WriteTar(context.Background(), w, fsys, Options{})
					return err
				})
				if err != nil {
					b.Fatal(err)
				}
				compressed = o.Size
			}
			b.ReportMetric(float64(compressed)/float64(size), "ratio")
		})
	}
}

func copyFile(src, dst string) (int64, error) {
	in, err := os.Open(src)
	if err != nil {
		return 0, nil // unreadable: not needed
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return 0, err
	}
	n, err := io.Copy(out, in)
	if err != nil {
		out.Close()
		return n, err
	}
	return n, out.Close()
}
