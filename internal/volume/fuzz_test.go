package volume

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// smallDisks builds tiny real disks (at most 64 KiB, because the fuzzer
// mutates and minimizes whole inputs) as seeds: GPT, MBR with logical
// partitions, a bare ext2 filesystem. 4096-byte-sector GPTs are left to
// TestGPT4KSectors: the smallest is 128 KiB and parses with the same code.
func smallDisks(f *testing.F) [][]byte {
	dir := f.TempDir()
	var seeds [][]byte
	add := func(path string) {
		b, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		seeds = append(seeds, b)
	}
	gpt := filepath.Join(dir, "gpt.raw")
	run(f, "truncate", "-s", "64K", gpt)
	run(f, "sgdisk", "-a", "1", "-n1:34:80", "-t1:8304", "-c1:root", "-n2:81:94", "-t2:ef00", gpt)
	add(gpt)

	mbr := filepath.Join(dir, "mbr.raw")
	run(f, "truncate", "-s", "16K", mbr)
	runStdin(f, "label: dos\nstart=2, size=6, type=ef\nstart=10, size=20, type=5\nstart=12, size=6, type=83\nstart=20, size=6, type=82\n", "sfdisk", "-q", mbr)
	add(mbr)

	bare := filepath.Join(dir, "bare.raw")
	run(f, "truncate", "-s", "64K", bare)
	run(f, "mkfs.ext2", "-q", "-F", "-N", "16", "-L", "cloudimg-rootfs", bare, "64k")
	add(bare)
	return seeds
}

func FuzzListVolumes(f *testing.F) {
	for _, seed := range smallDisks(f) {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, disk []byte) {
		size := int64(len(disk))
		table, err := List(bytes.NewReader(disk), size)
		if err != nil {
			return
		}
		for _, p := range table.Volumes {
			if p.Start < 0 || p.Size <= 0 || p.Start+p.Size > size {
				t.Fatalf("partition %d (%d+%d) is outside the %d-byte disk", p.Number, p.Start, p.Size, size)
			}
			_ = p.Describe()
		}
		_, _ = FindRoot(table, "", "amd64", func(Volume) bool { return true })
		_, _ = FindRoot(table, "1", "", nil)
	})
}
