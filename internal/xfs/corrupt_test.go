package xfs

import (
	"encoding/binary"
	"strings"
	"testing"

	"github.com/c34478be/packer-plugin-maas/internal/fstree"
)

// patch writes b at off into a sparse image.
func (s *sparseImage) patch(off int64, b []byte) {
	for len(b) > 0 {
		sec := off &^ 511
		data := make([]byte, 512)
		copy(data, s.sectors[sec])
		n := copy(data[off-sec:], b)
		s.sectors[sec] = data
		off, b = off+int64(n), b[n:]
	}
}

func (s *sparseImage) read(t testing.TB, off int64, n int) []byte {
	b := make([]byte, n)
	if _, err := s.ReadAt(b, off); err != nil {
		t.Fatal(err)
	}
	return b
}

// seedImage returns the v5 seed as an image to corrupt.
func seedImage(t testing.TB) *sparseImage {
	return parseSparse(seeds(t)["seed-v5.gz"])
}

// patchSuperblock changes the superblock with edit and fixes its CRC.
func patchSuperblock(t testing.TB, img *sparseImage, edit func(sb []byte)) {
	sb := img.read(t, 0, 512)
	edit(sb)
	binary.LittleEndian.PutUint32(sb[sbCRC:], 0)
	binary.LittleEndian.PutUint32(sb[sbCRC:], crc32c(sb))
	img.patch(0, sb)
}

// patchInode changes inode ino with edit and fixes its CRC.
func patchInode(t testing.TB, fs *FS, img *sparseImage, ino uint64, edit func(raw []byte)) {
	off, err := fs.inodeOffset(ino)
	if err != nil {
		t.Fatal(err)
	}
	raw := img.read(t, off, int(fs.sb.inodeSize))
	edit(raw)
	binary.LittleEndian.PutUint32(raw[inodeCRCOffset:], 0)
	binary.LittleEndian.PutUint32(raw[inodeCRCOffset:], crc32c(raw))
	img.patch(off, raw)
}

func expectOpenError(t *testing.T, img *sparseImage, size int64, want string) {
	t.Helper()
	if _, err := Open(img, size); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("Open: %v, want an error with %q", err, want)
	}
}

func TestCorruptSuperblock(t *testing.T) {
	t.Run("unknown incompatible feature", func(t *testing.T) {
		img := seedImage(t)
		patchSuperblock(t, img, func(sb []byte) { sb[sbFeaturesIncompat] |= 0x80 })
		expectOpenError(t, img, img.size, "incompatible features: unknown feature 0x80000000")
	})
	t.Run("needs repair", func(t *testing.T) {
		img := seedImage(t)
		patchSuperblock(t, img, func(sb []byte) { sb[sbFeaturesIncompat+3] |= incompatNeedsRepair })
		expectOpenError(t, img, img.size, "run `xfs_repair`")
	})
	t.Run("log incompatible feature", func(t *testing.T) {
		img := seedImage(t)
		patchSuperblock(t, img, func(sb []byte) { sb[sbFeaturesLogIncompat+3] |= 1 })
		expectOpenError(t, img, img.size, "not cleanly unmounted")
	})
	t.Run("CRC", func(t *testing.T) {
		img := seedImage(t)
		img.patch(sbFname, []byte("x"))
		expectOpenError(t, img, img.size, "CRC is wrong")
	})
	t.Run("truncated image", func(t *testing.T) {
		img := seedImage(t)
		expectOpenError(t, img, img.size-1<<20, "a truncated image?")
	})
	t.Run("AG count", func(t *testing.T) {
		img := seedImage(t)
		patchSuperblock(t, img, func(sb []byte) { binary.BigEndian.PutUint32(sb[sbAGCount:], 1000000) })
		expectOpenError(t, img, img.size, "do not fill 1000000 allocation groups")
	})
	t.Run("log pointing past the end", func(t *testing.T) {
		img := seedImage(t)
		patchSuperblock(t, img, func(sb []byte) { binary.BigEndian.PutUint32(sb[sbLogBlocks:], 1<<30) })
		expectOpenError(t, img, img.size, "the log")
	})
}

func TestCorruptInodes(t *testing.T) {
	t.Run("inode CRC", func(t *testing.T) {
		img := seedImage(t)
		fs := openSeed(t, seeds(t)["seed-v5.gz"])
		off, _ := fs.inodeOffset(fs.RootInode())
		img.patch(off+8, []byte{1}) // the owner, without fixing the CRC
		expectOpenError(t, img, img.size, "CRC is wrong")
	})
	t.Run("extent btree whose pointers all name one leaf", func(t *testing.T) {
		fs, ino := openCrafted(t, craftSharedBtree)
		if _, err := fs.OpenFile(ino); err == nil || !strings.Contains(err.Error(), "too many") {
			t.Errorf("OpenFile: %v, want the extent btree refused", err)
		}
	})
	t.Run("attribute leaf linking to itself", func(t *testing.T) {
		fs, ino := openCrafted(t, craftAttrLeafCycle)
		if _, err := fs.Xattrs(ino); err == nil || !strings.Contains(err.Error(), "links back") {
			t.Errorf("Xattrs: %v, want the leaf cycle refused", err)
		}
	})
	t.Run("extent past the filesystem", func(t *testing.T) {
		img := seedImage(t)
		fs, err := Open(img, img.size)
		if err != nil {
			t.Fatal(err)
		}
		in := lookup(t, fs, "long")
		patchInode(t, fs, img, in.num, func(raw []byte) {
			rec := raw[in.coreSize:]
			rec[7] |= 0x1f // the high bits of the start block
		})
		if _, err := fs.ReadLink(in.num); err == nil || !strings.Contains(err.Error(), "outside the filesystem") {
			t.Errorf("ReadLink: %v, want the extent refused", err)
		}
	})
}

func TestSniff(t *testing.T) {
	img := seedImage(t)
	id, ok := Sniff(img.read(t, 0, 512))
	if want := (fstree.Identity{Type: TypeXFS, UUID: "11111111-2222-3333-4444-555555555555"}); !ok || id != want {
		t.Errorf("Sniff = %+v, %v; want %+v", id, ok, want)
	}
	if _, ok := Sniff(make([]byte, 512)); ok {
		t.Error("Sniff accepts zeros")
	}
	if _, ok := Sniff([]byte("XFSB")); ok {
		t.Error("Sniff accepts 4 bytes")
	}
}

// encodeExtent packs a written bmbt record.
func encodeExtent(e extent) []byte {
	l0 := e.off<<9 | e.block>>43
	l1 := e.block<<extentCountBits | e.count
	return binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint64(nil, l0), l1)
}

func TestCorruptDirectories(t *testing.T) {
	t.Run("directory mapping one block twice", func(t *testing.T) {
		fs, ino := openCrafted(t, craftSharedDirBlock)
		if entries, err := fs.ReadDir(ino); err == nil || !strings.Contains(err.Error(), "share filesystem block") {
			t.Errorf("ReadDir: %d entries, %v; want the shared block refused", len(entries), err)
		}
	})
	t.Run("entry header in the last 8 bytes", func(t *testing.T) {
		fs := openSeed(t, seeds(t)["seed-v5.gz"])
		if _, err := fs.dataBlockEntries(truncatedEntryBlock(fs), nil); err == nil {
			t.Error("a truncated entry was accepted")
		}
	})
}

// truncatedEntryBlock is a directory data block whose free space stops 8
// bytes short of its end, where an entry's inode number starts.
func truncatedEntryBlock(fs *FS) []byte {
	b := make([]byte, fs.sb.blockSize<<fs.sb.dirBlkLog)
	binary.BigEndian.PutUint32(b, dirDataMagicV5)
	free := len(b) - 8 - dirHeaderV5
	binary.BigEndian.PutUint16(b[dirHeaderV5:], dirFreeTag)
	binary.BigEndian.PutUint16(b[dirHeaderV5+2:], uint16(free))
	b[len(b)-1] = 1 // an inode number, not a free tag
	return b
}

// A craft corrupts one inode of the v5 seed and returns its number.
type craft func(t testing.TB, fs *FS, img *sparseImage) uint64

// crafts are the corrupted seeds, also seeds of FuzzXFSWalk.
var crafts = []craft{craftSharedBtree, craftAttrLeafCycle, craftSharedDirBlock}

// openCrafted applies c to the v5 seed and opens the result.
func openCrafted(t testing.TB, c craft) (*FS, uint64) {
	img := seedImage(t)
	fs, err := Open(img, img.size)
	if err != nil {
		t.Fatal(err)
	}
	return fs, c(t, fs, img)
}

// craftSharedBtree points every record of the root of the file btree's
// extent btree at one leaf.
func craftSharedBtree(t testing.TB, fs *FS, img *sparseImage) uint64 {
	in := lookup(t, fs, "btree")
	if in.format != formatBtree {
		t.Fatalf("btree has fork format %d", in.format)
	}
	patchInode(t, fs, img, in.num, func(raw []byte) {
		fork := raw[in.coreSize : in.coreSize+len(in.dataFork())]
		maxrecs := (len(fork) - bmdrHeaderSize) / 16
		binary.BigEndian.PutUint16(fork[2:], uint16(maxrecs))
		ptrs := fork[bmdrHeaderSize+maxrecs*8:]
		for i := 1; i < maxrecs; i++ {
			copy(ptrs[i*8:i*8+8], ptrs[:8])
		}
	})
	return in.num
}

// craftAttrLeafCycle makes nodeattrs' first attribute leaf its own
// successor.
func craftAttrLeafCycle(t testing.TB, fs *FS, img *sparseImage) uint64 {
	in := lookup(t, fs, "nodeattrs")
	exts, err := fs.forkExtents(in.attrFork(), in.aformat, in.anextents)
	if err != nil {
		t.Fatal(err)
	}
	node, err := fs.readAttrBlock(exts, 0)
	if err != nil || be16(node[8:]) != daNodeMagicV5 {
		t.Fatalf("nodeattrs has no attribute node block (%v)", err)
	}
	leaf := uint64(be32(node[daNodeHdrV5+4:]))
	e := exts[lookupExtent(exts, leaf)]
	off, _ := fs.sb.blockOffset(e.block+leaf-e.off, 1)
	img.patch(off, binary.BigEndian.AppendUint32(nil, uint32(leaf)))
	return in.num
}

// craftSharedDirBlock maps the block directory's one block a second time,
// as its next directory block.
func craftSharedDirBlock(t testing.TB, fs *FS, img *sparseImage) uint64 {
	in := lookup(t, fs, "block")
	exts, err := fs.dataExtents(in)
	if err != nil || len(exts) != 1 {
		t.Fatalf("block: extents %v, %v; want one", exts, err)
	}
	again := exts[0]
	again.off += again.count
	patchInode(t, fs, img, in.num, func(raw []byte) {
		binary.BigEndian.PutUint32(raw[76:], 2) // di_nextents
		copy(raw[in.coreSize+extentRecSize:], encodeExtent(again))
	})
	return in.num
}

// encode packs a sparse image as parseSparse reads it.
func (s *sparseImage) encode() []byte {
	out := binary.BigEndian.AppendUint64(nil, uint64(s.size))
	for off, data := range s.sectors {
		out = append(binary.BigEndian.AppendUint64(out, uint64(off)), data...)
	}
	return out
}
