package ext4

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// corruptible is an image held in memory, to damage and reopen.
type corruptible struct {
	t    *testing.T
	data []byte
	fs   *FS // the undamaged image, to find structures
}

func newCorruptible(t *testing.T, img string) *corruptible {
	data, err := os.ReadFile(img)
	if err != nil {
		t.Fatal(err)
	}
	c := &corruptible{t: t, data: data}
	c.fs = c.open()
	return c
}

// open opens a copy of the current bytes.
func (c *corruptible) open() *FS {
	c.t.Helper()
	fs, err := Open(bytes.NewReader(c.data), int64(len(c.data)))
	if err != nil {
		c.t.Fatal(err)
	}
	return fs
}

// damaged returns a copy of the image with damage applied.
func (c *corruptible) damaged(damage func(b []byte)) *FS {
	c.t.Helper()
	b := bytes.Clone(c.data)
	damage(b)
	fs, err := Open(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		c.t.Fatal(err)
	}
	return fs
}

// inodeOffset returns the byte offset of inode ino in the image.
func (c *corruptible) inodeOffset(ino uint64) int {
	ipg := uint64(c.fs.sb.inodesPerGroup)
	table, err := c.fs.inodeTable((ino - 1) / ipg)
	if err != nil {
		c.t.Fatal(err)
	}
	return int(table<<c.fs.blockShift + (ino-1)%ipg*uint64(c.fs.sb.inodeSize))
}

func (c *corruptible) lookup(path string) uint64 {
	ino, err := c.fs.Lookup(path)
	if err != nil {
		c.t.Fatal(err)
	}
	return ino
}

// wantError checks that err exists and mentions every fragment.
func wantError(t *testing.T, what string, err error, fragments ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s: no error", what)
	}
	for _, f := range fragments {
		if !strings.Contains(err.Error(), f) {
			t.Errorf("%s: error %q does not mention %q", what, err, f)
		}
	}
}

func corruptTestImage(t *testing.T) string {
	requireTools(t, "setfacl")
	tree := t.TempDir()
	f := filepath.Join(tree, "f")
	writeFile(t, f, []byte("data"))
	writeEveryOtherBlock(t, filepath.Join(tree, "fragmented"), 1500)
	for i := range 200 {
		writeFile(t, filepath.Join(tree, "dir", strings.Repeat("x", 100)+string(rune('a'+i%26))+string(rune('a'+i/26))), nil)
	}
	command(t, "setfacl", "-m", "u:1234:r", f)
	if err := unix.Setxattr(f, "user.note", []byte("hello"), 0); err != nil {
		t.Fatal(err)
	}
	img := mkfs(t, tree, "32M")
	optimizeDirs(t, img)
	return img
}

func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// writeEveryOtherBlock writes one 'x' at the start of every other 4 KiB
// block, count times: as many extents.
func writeEveryOtherBlock(t *testing.T, path string, count int64) {
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for i := range count {
		if _, err := f.WriteAt([]byte("x"), i*8192); err != nil {
			t.Fatal(err)
		}
	}
}

func TestOpenRejects(t *testing.T) {
	c := newCorruptible(t, corruptTestImage(t))
	size := int64(len(c.data))
	cases := []struct {
		name      string
		damage    func(b []byte)
		size      int64
		fragments []string
	}{
		{"zeroed superblock", func(b []byte) { clear(b[1024:2048]) }, size, []string{"no ext2/3/4 filesystem"}},
		{"truncated", func([]byte) {}, size - 1<<20, []string{"truncated image"}},
		{"empty", func([]byte) {}, 0, []string{"superblock", "unexpected EOF"}},
		{"needs recovery", setIncompat(incompatRecover), size, []string{"needs_recovery", "e2fsck"}},
		{"compression", setIncompat(incompatCompression), size, []string{"compression"}},
		{"unknown feature", setIncompat(0x80000000), size, []string{"unknown feature 0x80000000"}},
		{"huge block size", func(b []byte) { binary.LittleEndian.PutUint32(b[1024+sbLogBlockSize:], 20) }, size, []string{"block size"}},
		{"bad inode size", func(b []byte) { binary.LittleEndian.PutUint16(b[1024+sbInodeSize:], 100) }, size, []string{"inode size 100"}},
		{"no inodes per group", func(b []byte) { binary.LittleEndian.PutUint32(b[1024+sbInodesPerGroup:], 0) }, size, []string{"inodes per group"}},
		{"inode table outside", func(b []byte) {
			gd := int(c.fs.descriptorBlock(0) << c.fs.blockShift)
			binary.LittleEndian.PutUint32(b[gd+gdInodeTableLo:], 0xfffffff0)
		}, size, []string{"group 0: inode table"}},
	}
	for _, tc := range cases {
		b := bytes.Clone(c.data)
		tc.damage(b)
		_, err := Open(bytes.NewReader(b[:min(int64(len(b)), tc.size)]), tc.size)
		wantError(t, tc.name, err, tc.fragments...)
	}
}

func setIncompat(bit uint32) func(b []byte) {
	return func(b []byte) {
		off := 1024 + sbFeatureIncompat
		binary.LittleEndian.PutUint32(b[off:], binary.LittleEndian.Uint32(b[off:])|bit)
	}
}

func TestCorruptExtents(t *testing.T) {
	c := newCorruptible(t, corruptTestImage(t))
	ino := c.lookup("/fragmented")
	if d := extentDepth(t, c.fs, "/fragmented"); d != 2 {
		t.Fatalf("/fragmented has depth %d, want 2", d)
	}
	root := c.inodeOffset(ino) + inBlock
	firstIndex := root + extentHeaderSize
	// The root has one entry; the index node under it points to the leaves.
	level1 := int(c.extentChild(c.data, firstIndex)<<c.fs.blockShift) + extentHeaderSize
	cases := []struct {
		name      string
		damage    func(b []byte)
		fragments []string
	}{
		{"bad magic", func(b []byte) { b[root] = 0 }, []string{"extent header magic"}},
		{"too deep", func(b []byte) { binary.LittleEndian.PutUint16(b[root+6:], 9) }, []string{"depth 9"}},
		{"too many entries", func(b []byte) { binary.LittleEndian.PutUint16(b[root+2:], 5) }, []string{"entries"}},
		{"shared subtree", func(b []byte) {
			copy(b[level1+extentEntrySize+4:level1+extentEntrySize+10], b[level1+4:level1+10])
		}, []string{"referenced twice"}},
		{"index past the end", func(b []byte) { binary.LittleEndian.PutUint32(b[firstIndex+4:], 0xfffffff0) }, []string{"beyond the end"}},
		{"wrong child depth", func(b []byte) {
			child := int(c.extentChild(b, firstIndex) << c.fs.blockShift)
			binary.LittleEndian.PutUint16(b[child+6:], 0)
		}, []string{"depth 0, want 1"}},
		{"leaf out of order", func(b []byte) {
			leaf := c.firstLeaf(b, firstIndex)
			binary.LittleEndian.PutUint32(b[leaf+extentHeaderSize+extentEntrySize:], 0)
		}, []string{"out of order"}},
		{"leaf past the end", func(b []byte) {
			leaf := c.firstLeaf(b, firstIndex)
			binary.LittleEndian.PutUint32(b[leaf+extentHeaderSize+8:], 0xfffffff0)
		}, []string{"beyond the end of the filesystem"}},
		{"zero length", func(b []byte) {
			leaf := c.firstLeaf(b, firstIndex)
			binary.LittleEndian.PutUint16(b[leaf+extentHeaderSize+4:], 0)
		}, []string{"length 0"}},
	}
	for _, tc := range cases {
		fs := c.damaged(tc.damage)
		_, err := fs.OpenFile(ino)
		wantError(t, tc.name, err, append(tc.fragments, "inode "+strconv.FormatUint(ino, 10))...)
	}
	// An unwritten extent reads as a hole.
	fs := c.damaged(func(b []byte) {
		leaf := c.firstLeaf(b, firstIndex)
		lenOff := leaf + extentHeaderSize + 4
		binary.LittleEndian.PutUint16(b[lenOff:], binary.LittleEndian.Uint16(b[lenOff:])+maxInitExtentLen)
	})
	f, err := fs.OpenFile(ino)
	if err != nil {
		t.Fatal(err)
	}
	if r := f.DataRanges(); len(r) != 1499 || r[0].Offset != 8192 {
		t.Errorf("with the first extent unwritten: %d ranges from %v, want 1499 from 8192", len(r), r[0])
	}
}

// extentChild returns the block an index entry points to.
func (c *corruptible) extentChild(b []byte, entry int) uint64 {
	return uint64(binary.LittleEndian.Uint32(b[entry+4:])) | uint64(binary.LittleEndian.Uint16(b[entry+8:]))<<32
}

// firstLeaf returns the byte offset of the first leaf under an index entry
// of a depth-2 tree.
func (c *corruptible) firstLeaf(b []byte, entry int) int {
	node := int(c.extentChild(b, entry) << c.fs.blockShift)
	return int(c.extentChild(b, node+extentHeaderSize) << c.fs.blockShift)
}

func TestCorruptDirectory(t *testing.T) {
	c := newCorruptible(t, corruptTestImage(t))
	ino := c.lookup("/dir")
	in, err := c.fs.readInode(ino)
	if err != nil {
		t.Fatal(err)
	}
	runs, err := c.fs.mapBlocks(in)
	if err != nil {
		t.Fatal(err)
	}
	// The second block is a leaf of the htree.
	leaf := int((runs[0].physical + 1) << c.fs.blockShift)
	cases := []struct {
		name      string
		damage    func(b []byte)
		fragments []string
	}{
		{"zero record length", func(b []byte) { clear(b[leaf : leaf+8]) }, []string{"record length 0", "directory block 1"}},
		{"record past the block", func(b []byte) { binary.LittleEndian.PutUint16(b[leaf+4:], 8000) }, []string{"record length 8000"}},
		{"name longer than record", func(b []byte) { b[leaf+6] = 250 }, []string{"name length 250"}},
		{"slash in name", func(b []byte) { b[leaf+8] = '/' }, []string{"invalid name"}},
		{"inode out of range", func(b []byte) { binary.LittleEndian.PutUint32(b[leaf:], 0xfffffff0) }, []string{"beyond the inode count"}},
		{"hole", func(b []byte) {
			size := c.inodeOffset(ino) + inSizeLo
			binary.LittleEndian.PutUint32(b[size:], binary.LittleEndian.Uint32(b[size:])+uint32(c.fs.blockSize))
		}, []string{"holes in a directory"}},
	}
	for _, tc := range cases {
		_, err := c.damaged(tc.damage).ReadDir(ino)
		wantError(t, tc.name, err, append(tc.fragments, "inode "+strconv.FormatUint(ino, 10))...)
	}
}

func TestCorruptXattrs(t *testing.T) {
	c := newCorruptible(t, corruptTestImage(t))
	ino := c.lookup("/f")
	in, err := c.fs.readInode(ino)
	if err != nil {
		t.Fatal(err)
	}
	entries := c.inodeOffset(ino) + goodOldInodeSize + int(in.extraIsize) + 4
	if binary.LittleEndian.Uint32(b4(c.data, entries-4)) != xattrMagic {
		t.Fatal("/f has no xattrs in the inode; the test does not cover them")
	}
	// Find the ACL entry and its value.
	var acl int
	for pos := entries; c.data[pos] != 0 || c.data[pos+1] != 0; pos += (xattrEntryHeaderSize + int(c.data[pos]) + 3) &^ 3 {
		if c.data[pos+1] == xattrIndexACLAccess {
			acl = entries + int(binary.LittleEndian.Uint16(c.data[pos+2:]))
		}
	}
	if acl == 0 {
		t.Fatal("/f has no in-inode ACL; the test does not cover it")
	}
	cases := []struct {
		name      string
		damage    func(b []byte)
		fragments []string
	}{
		{"value offset past the inode", func(b []byte) { binary.LittleEndian.PutUint16(b[entries+2:], 0xfff0) }, []string{"runs past"}},
		{"name past the inode", func(b []byte) { b[entries] = 255 }, []string{"runs past"}},
		{"unknown ACL tag", func(b []byte) { binary.LittleEndian.PutUint16(b[acl+4:], 0x40) }, []string{"system.posix_acl_access", "unknown tag 0x40"}},
		{"ACL version", func(b []byte) { b[acl] = 9 }, []string{"no version 1 header"}},
		{"extra isize", func(b []byte) { binary.LittleEndian.PutUint16(b[c.inodeOffset(ino)+inExtraIsize:], 1000) }, []string{"extra inode size 1000"}},
	}
	for _, tc := range cases {
		_, err := c.damaged(tc.damage).Xattrs(ino)
		wantError(t, tc.name, err, append(tc.fragments, "inode "+strconv.FormatUint(ino, 10))...)
	}
}

func b4(b []byte, off int) []byte { return b[off : off+4] }

// TestTruncatedReader walks an image whose reader ends halfway although
// its size claims more: every read past the end is an error, not a panic.
func TestTruncatedReader(t *testing.T) {
	c := newCorruptible(t, corruptTestImage(t))
	in, err := c.fs.readInode(c.lookup("/fragmented"))
	if err != nil {
		t.Fatal(err)
	}
	runs, err := c.fs.mapBlocks(in)
	if err != nil {
		t.Fatal(err)
	}
	cut := runs[len(runs)/2].physical << c.fs.blockShift
	fs, err := Open(bytes.NewReader(c.data[:cut]), int64(len(c.data)))
	if err != nil {
		t.Fatal(err)
	}
	err = walkAll(fs, walkLimits{inodes: 10000, bytes: 1 << 30})
	wantError(t, "walk of a truncated image", err, "unexpected EOF")
}

func TestInodeRange(t *testing.T) {
	c := newCorruptible(t, corruptTestImage(t))
	for _, ino := range []uint64{0, uint64(c.fs.sb.inodesCount) + 1, 1 << 40} {
		_, err := c.fs.Stat(ino)
		wantError(t, "Stat of inode "+strconv.FormatUint(ino, 10), err, "out of range")
	}
	// Inode 1 (bad blocks) has mode 0: not a file of any type.
	_, err := c.fs.Stat(1)
	wantError(t, "Stat of inode 1", err, "unknown file type")
}

func TestProbe(t *testing.T) {
	c := newCorruptible(t, corruptTestImage(t))
	if !Probe(bytes.NewReader(c.data)) {
		t.Error("Probe of an ext4 image is false")
	}
	if Probe(bytes.NewReader(make([]byte, 4096))) {
		t.Error("Probe of zeros is true")
	}
	if Probe(bytes.NewReader(c.data[:1000])) {
		t.Error("Probe of 1000 bytes is true")
	}
}

func TestEncryptedInode(t *testing.T) {
	c := newCorruptible(t, corruptTestImage(t))
	file, dir := c.lookup("/f"), c.lookup("/dir")
	fs := c.damaged(func(b []byte) {
		for _, ino := range []uint64{file, dir} {
			flags := c.inodeOffset(ino) + inFlags
			binary.LittleEndian.PutUint32(b[flags:], binary.LittleEndian.Uint32(b[flags:])|flagEncrypt)
		}
	})
	if _, err := fs.OpenFile(file); !errors.Is(err, ErrEncrypted) {
		t.Errorf("OpenFile of an encrypted file: %v, want ErrEncrypted", err)
	}
	if _, err := fs.ReadDir(dir); !errors.Is(err, ErrEncrypted) {
		t.Errorf("ReadDir of an encrypted directory: %v, want ErrEncrypted", err)
	}
	if _, err := fs.Stat(file); err != nil {
		t.Errorf("Stat of an encrypted file: %v", err)
	}
}

// TestConcurrentWalks walks one FS from several goroutines (run with -race).
func TestConcurrentWalks(t *testing.T) {
	c := newCorruptible(t, corruptTestImage(t))
	errs := make(chan error, 4)
	for range 4 {
		go func() { errs <- walkAll(c.fs, walkLimits{inodes: 10000, bytes: 1 << 30}) }()
	}
	for range 4 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}
