package ext4

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/c34478be/packer-plugin-maas/internal/test/testtree"
)

// writeBenchTree writes about 200 MB: 4000 files of 1 to 80 KB in 50
// directories and three 16 MiB files, and returns the bytes written.
func writeBenchTree(b *testing.B, root string) int64 {
	rnd := rand.New(rand.NewPCG(5, 6))
	pool := testtree.RandomBytes(rnd, 16<<20)
	var total int64
	write := func(path string, n int) {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			b.Fatal(err)
		}
		start := rnd.IntN(len(pool) - n + 1)
		if err := os.WriteFile(path, pool[start:start+n], 0o644); err != nil {
			b.Fatal(err)
		}
		total += int64(n)
	}
	for d := range 50 {
		for f := range 80 {
			write(filepath.Join(root, fmt.Sprintf("dir%02d/file%03d", d, f)), 1024+rnd.IntN(79*1024))
		}
	}
	for i := range 3 {
		write(filepath.Join(root, fmt.Sprintf("big%d", i)), 16<<20)
	}
	return total
}

// BenchmarkWalkTree walks a ~200 MB image (in the page cache) and reads
// every file in 1 MiB reads, as an export does.
func BenchmarkWalkTree(b *testing.B) {
	tree := filepath.Join(b.TempDir(), "tree")
	total := writeBenchTree(b, tree)
	fs := openImage(b, mkfs(b, tree, "320M", "-N", "16384"))
	b.Run("read-all", func(b *testing.B) {
		b.SetBytes(total)
		for b.Loop() {
			if err := walkAll(fs, walkLimits{inodes: 1 << 30, bytes: 1 << 40}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("metadata", func(b *testing.B) {
		for b.Loop() {
			if err := walkAll(fs, walkLimits{inodes: 1 << 30, bytes: 0}); err != nil {
				b.Fatal(err)
			}
		}
	})
}
