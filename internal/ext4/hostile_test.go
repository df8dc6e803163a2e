package ext4

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"

	"github.com/c34478be/packer-plugin-maas/internal/test/testtool"
)

// hostileMemoryLimit bounds the peak RSS of a child test process that
// opens a hostile filesystem: the test binary itself (with the race
// detector) and the metadata cache; the unbounded code asked for 32 GiB.
const hostileMemoryLimit = 96 << 20

// manyGroupsHead is the first 4 KiB of a filesystem of blocks 1 KiB
// blocks with one block (and one inode) per group: the superblock
// when blocks is 2^32-1. The descriptors of groups 0 and 1 (the root
// inode's) are valid; every other one reads as zeros.
func manyGroupsHead(blocks uint32) []byte {
	head := make([]byte, 4096)
	sb := head[superblockOffset:]
	le := binary.LittleEndian
	le.PutUint16(sb[sbMagic:], superblockMagic)
	le.PutUint32(sb[sbBlocksCountLo:], blocks)
	le.PutUint32(sb[sbFirstDataBlock:], 1)
	le.PutUint32(sb[sbBlocksPerGroup:], 1)
	le.PutUint32(sb[sbInodesPerGroup:], 1)
	le.PutUint32(sb[sbInodesCount:], blocks-1)
	le.PutUint32(sb[sbRevLevel:], 1)
	le.PutUint16(sb[sbInodeSize:], 128)
	le.PutUint32(head[2048+gdInodeTableLo:], 3)
	le.PutUint32(head[2048+32+gdInodeTableLo:], 3)
	return head
}

// manyGroupsSeed is a 64 KiB fuzz seed of the same shape.
func manyGroupsSeed() []byte {
	return append(manyGroupsHead(64), make([]byte, 60<<10)...)
}

// writeManyGroups writes the shape, 2^32-2 groups, as a 4 TiB
// sparse file.
func writeManyGroups(t *testing.T) string {
	const blocks = 1<<32 - 1
	path := filepath.Join(t.TempDir(), "many-groups.img")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Truncate(blocks << 10); err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(manyGroupsHead(blocks), 0); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestHugeGroupCountInBoundedMemory(t *testing.T) {
	if rss, parent := testtool.InChild(t); parent {
		if rss >= hostileMemoryLimit {
			t.Errorf("peak RSS %d MiB opening a superblock with 2^32 groups, want under %d MiB", rss>>20, hostileMemoryLimit>>20)
		}
		t.Logf("peak RSS %d MiB", rss>>20)
		return
	}
	path := writeManyGroups(t)
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	fs, err := Open(f, st.Size())
	if err != nil {
		t.Fatal(err)
	}
	_, err = fs.Stat(1000)
	wantError(t, "inode of a group whose descriptor is zeros", err, "inode 1000", "group 999: inode table at block 0")
}
