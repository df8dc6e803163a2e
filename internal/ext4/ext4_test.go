package ext4

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	iofs "io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/c34478be/packer-plugin-maas/internal/test/testtree"
)

// flagIndex marks an htree directory; the reader needs no special case
// for it, the tests check that they cover one.
const flagIndex = 0x1000

// inodeAt returns the decoded inode of path in the image.
func inodeAt(t *testing.T, fs *FS, path string) *inode {
	t.Helper()
	ino, err := fs.Lookup(path)
	if err != nil {
		t.Fatal(err)
	}
	in, err := fs.readInode(ino)
	if err != nil {
		t.Fatal(err)
	}
	return in
}

// extentDepth returns the depth of an inode's extent tree.
func extentDepth(t *testing.T, fs *FS, path string) int {
	in := inodeAt(t, fs, path)
	if in.flags&flagExtents == 0 {
		t.Fatalf("%s does not use extents", path)
	}
	return int(le16(in.block[6:]))
}

func expectExtentTrees(t *testing.T, fs *FS) {
	if d := extentDepth(t, fs, "/fragmented"); d < 1 || (fs.blockSize == 4096 && d != 2) {
		t.Errorf("/fragmented has extent depth %d, want 2 with 4 KiB blocks, at least 1 otherwise", d)
	}
}

func expectBlockMaps(t *testing.T, fs *FS) {
	for _, path := range []string{"/large", "/fragmented", "/hugesparse", "/bigdir"} {
		if in := inodeAt(t, fs, path); in.flags&flagExtents != 0 {
			t.Errorf("%s uses extents, want a block map", path)
		}
	}
	if in := inodeAt(t, fs, "/hugesparse"); le32(in.block[4*(directBlocks+2):]) == 0 {
		t.Error("/hugesparse has no triple indirect block; the test does not cover it")
	}
}

func expectInlineData(t *testing.T, fs *FS) {
	for _, path := range []string{"/sixty", "/small", "/smalldir", "/middir", "/len60"} {
		if in := inodeAt(t, fs, path); !in.hasInlineData() {
			t.Errorf("%s is not inline; the test does not cover inline data", path)
		}
	}
	in := inodeAt(t, fs, "/small")
	if rest, err := fs.inlineDataXattr(in); err != nil || len(rest) == 0 {
		t.Errorf("/small keeps no data in system.data (%v); the test does not cover it", err)
	}
}

// expectHtree checks that the big directory is hashed where the
// filesystem has dir_index.
func expectHtree(t *testing.T, fs *FS) {
	const compatDirIndex = 0x20
	if fs.sb.featureCompat&compatDirIndex == 0 {
		return
	}
	if in := inodeAt(t, fs, "/bigdir"); in.flags&flagIndex == 0 {
		t.Error("/bigdir is not an htree directory; the test does not cover htree")
	}
}

func expectMetaBG(t *testing.T, fs *FS) {
	perBlock := fs.blockSize / uint64(fs.sb.descSize)
	if !fs.sb.hasIncompat(incompatMetaBG) || fs.sb.groupCount() <= perBlock {
		t.Errorf("meta_bg with %d groups of %d per descriptor block; the test does not cover meta groups",
			fs.sb.groupCount(), perBlock)
	}
}

func TestReadTree(t *testing.T) {
	requireTools(t, "mkfs.ext4", "debugfs")
	tree := testtree.MetadataTree(t, true)
	treeWithoutSparse := testtree.MetadataTree(t, false)
	const size = "96M"
	common := []string{"-N", "16384"}
	variants := []struct {
		name   string
		args   []string
		expect func(*testing.T, *FS)
	}{
		{"ext4", []string{"-t", "ext4", "-b", "4096"}, expectExtentTrees},
		{"ext4-no64bit-inode128", []string{"-t", "ext4", "-b", "4096", "-O", "^64bit", "-I", "128"}, expectExtentTrees},
		{"ext4-inline", []string{"-t", "ext4", "-b", "4096", "-O", "inline_data"}, expectInlineData},
		{"ext4-blockmap", []string{"-t", "ext4", "-b", "4096", "-O", "^extent,^64bit"}, expectBlockMaps},
		{"ext4-1k", []string{"-t", "ext4", "-b", "1024"}, expectExtentTrees},
		{"ext4-metabg", []string{"-t", "ext4", "-b", "1024", "-g", "1024", "-O", "meta_bg,^resize_inode,^64bit"}, expectMetaBG},
		{"ext3", []string{"-t", "ext3", "-b", "4096"}, expectBlockMaps},
		{"ext2-1k", []string{"-t", "ext2", "-b", "1024"}, expectBlockMaps},
	}
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			source := tree
			if strings.Contains(v.name, "inline") {
				source = treeWithoutSparse
			}
			img := mkfs(t, source, size, append(common, v.args...)...)
			optimizeDirs(t, img)
			fs := openImage(t, img)
			v.expect(t, fs)
			expectHtree(t, fs)
			if n := compareTree(t, fs, source); n < testtree.BigDirEntries {
				t.Errorf("compared only %d paths", n)
			}
			checkAgainstDebugfs(t, fs, img, "/bigdir")
			checkAgainstDebugfs(t, fs, img, "/")
			checkLookup(t, fs, img)
			u := fs.UUID()
			if got := fmt.Sprintf("%x-%x-%x-%x-%x", u[:4], u[4:6], u[6:8], u[8:10], u[10:]); fs.Label() != testLabel || got != testUUID {
				t.Errorf("label %q uuid %s, want %q %s", fs.Label(), got, testLabel, testUUID)
			}
		})
	}
}

// checkLookup compares Lookup with the inode numbers debugfs finds.
func checkLookup(t *testing.T, fs *FS, img string) {
	for path, canonical := range map[string]string{
		"/dirA/linked":    "/dirA/linked",
		"dirB/linked-too": "/dirB/linked-too",
		"//xattr/./acl":   "/xattr/acl",
		"/dev/null":       "/dev/null",
	} {
		ino, err := fs.Lookup(path)
		if err != nil {
			t.Fatalf("Lookup(%q): %v", path, err)
		}
		if want := debugfsInode(t, img, canonical); ino != want {
			t.Errorf("Lookup(%q) = %d, debugfs says %d", path, ino, want)
		}
	}
	if ino, err := fs.Lookup("/"); err != nil || ino != rootInode {
		t.Errorf("Lookup(/) = %d, %v", ino, err)
	}
	if _, err := fs.Lookup("/dirA/missing"); !errors.Is(err, iofs.ErrNotExist) {
		t.Errorf("Lookup of a missing name: %v, want ErrNotExist", err)
	}
	if _, err := fs.Lookup("/todir/linked"); err == nil || !strings.Contains(err.Error(), "not a directory") {
		t.Errorf("Lookup through a symlink: %v, want a not-a-directory error", err)
	}
}

// debugfsInode returns the inode number debugfs gives a path.
func debugfsInode(t *testing.T, img, path string) uint64 {
	out := command(t, "debugfs", "-R", "stat "+path, img)
	var ino uint64
	at := strings.Index(out, "Inode:")
	if at < 0 {
		t.Fatalf("debugfs stat %s printed no inode:\n%s", path, out)
	}
	if _, err := fmt.Sscanf(out[at:], "Inode: %d", &ino); err != nil {
		t.Fatalf("debugfs stat %s: %v\n%s", path, err, out)
	}
	return ino
}

func TestTimestampExtra(t *testing.T) {
	requireTools(t, "debugfs")
	tree := t.TempDir()
	if err := os.WriteFile(filepath.Join(tree, "f"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	img := mkfs(t, tree, "4M", "-I", "256")
	// 0x83abfb25 is 2040-01-02 03:04:05 modulo 2^32; epoch bit 1 lifts it
	// past 2038, the other 30 bits of *_extra are nanoseconds.
	var lo uint32 = 0x83abfb25
	command(t, "debugfs", "-w", "-R", "sif /f mtime 0x83abfb25", img)
	command(t, "debugfs", "-w", "-R", "sif /f mtime_extra 493827157", img) // 123456789<<2 | 1
	command(t, "debugfs", "-w", "-R", "sif /f atime_extra 4", img)         // 1 ns, epoch 0
	command(t, "debugfs", "-w", "-R", "sif /f uid_hi 45", img)
	fs := openImage(t, img)
	ino, err := fs.Lookup("/f")
	if err != nil {
		t.Fatal(err)
	}
	st, err := fs.Stat(ino)
	if err != nil {
		t.Fatal(err)
	}
	want := time.Date(2040, 1, 2, 3, 4, 5, 123456789, time.UTC)
	if !st.Mtime.Equal(want) {
		t.Errorf("mtime %v, want %v", st.Mtime, want)
	}
	if st.Atime.Nanosecond() != 1 {
		t.Errorf("atime %v, want 1 ns", st.Atime)
	}
	if st.UID != 45<<16 {
		t.Errorf("uid %d, want %d", st.UID, 45<<16)
	}
	// The same seconds without epoch bits are before 1970.
	command(t, "debugfs", "-w", "-R", "sif /f mtime_extra 0", img)
	fs = openImage(t, img)
	if st, _ := fs.Stat(ino); st.Mtime.Unix() != int64(int32(lo)) {
		t.Errorf("mtime without epoch bits %v, want %d", st.Mtime, int64(int32(lo)))
	}
}

func TestEAInode(t *testing.T) {
	requireTools(t, "setfattr")
	tree := t.TempDir()
	path := filepath.Join(tree, "big")
	if err := os.WriteFile(path, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	value := strings.Repeat("0123456789abcdef", 250) // 4000 bytes: more than a 1 KiB block
	command(t, "setfattr", "-n", "user.big", "-v", value, path)
	command(t, "setfattr", "-n", "user.small", "-v", "tiny", path)
	fs := openImage(t, mkfs(t, tree, "16M", "-b", "1024", "-O", "ea_inode"))
	in := inodeAt(t, fs, "/big")
	entries, err := fs.inodeXattrs(in)
	if err != nil {
		t.Fatal(err)
	}
	more, err := fs.blockXattrs(in)
	if err != nil {
		t.Fatal(err)
	}
	inEAInode := false
	for _, e := range append(entries, more...) {
		inEAInode = inEAInode || e.valueInode != 0
	}
	if !inEAInode {
		t.Fatal("no value is in an EA inode; the test does not cover ea_inode")
	}
	if n := compareTree(t, fs, tree); n != 1 {
		t.Errorf("compared %d paths, want 1", n)
	}
}

func TestFileReadAt(t *testing.T) {
	tree := t.TempDir()
	data := []byte(strings.Repeat("abcdefgh", 2000))
	f, err := os.Create(filepath.Join(tree, "f"))
	if err != nil {
		t.Fatal(err)
	}
	// data, a hole, data again, ending in the middle of a block.
	if _, err := f.WriteAt(data, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(data[:100], 65536); err != nil {
		t.Fatal(err)
	}
	f.Close()
	fs := openImage(t, mkfs(t, tree, "4M"))
	ino, _ := fs.Lookup("/f")
	file, err := fs.OpenFile(ino)
	if err != nil {
		t.Fatal(err)
	}
	if file.Size() != 65636 {
		t.Fatalf("size %d", file.Size())
	}
	buf := make([]byte, 200)
	// Across the end of the first data range into the hole.
	n, err := file.ReadAt(buf, 16000-100)
	if n != 200 || err != nil || string(buf[:100]) != string(data[15900:]) || strings.Trim(string(buf[100:]), "\x00") != "" {
		t.Errorf("ReadAt across data and hole: %d, %v, %q", n, err, buf)
	}
	// Past the end: short read with io.EOF.
	n, err = file.ReadAt(buf, 65636-50)
	if n != 50 || !errors.Is(err, io.EOF) || string(buf[:50]) != string(data[50:100]) {
		t.Errorf("ReadAt at the end: %d, %v", n, err)
	}
	if n, err := file.ReadAt(buf, 65636); n != 0 || !errors.Is(err, io.EOF) {
		t.Errorf("ReadAt past the end: %d, %v", n, err)
	}
	if _, err := file.ReadAt(buf, -1); err == nil {
		t.Error("ReadAt at a negative offset succeeded")
	}
	if _, err := fs.OpenFile(rootInode); err == nil {
		t.Error("OpenFile of a directory succeeded")
	}
	if _, err := fs.ReadLink(ino); err == nil {
		t.Error("ReadLink of a regular file succeeded")
	}
	if _, err := fs.ReadDir(ino); err == nil {
		t.Error("ReadDir of a regular file succeeded")
	}
}

// TestInlineDirSpill reads an inline directory whose entries continue in
// the system.data xattr. mkfs.ext4 never writes one (it moves a full
// inline directory to a block), the kernel does; debugfs makes one here.
func TestInlineDirSpill(t *testing.T) {
	requireTools(t, "debugfs")
	tree := t.TempDir()
	if err := os.Mkdir(filepath.Join(tree, "d"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(tree, "f"), []byte("hi"), 0o644); err != nil {
		t.Fatal(err)
	}
	img := mkfs(t, tree, "8M", "-O", "inline_data")
	target := debugfsInode(t, img, "/f")
	// One entry "spilled" -> /f filling the whole value.
	entry := binary.LittleEndian.AppendUint32(nil, uint32(target))
	entry = binary.LittleEndian.AppendUint16(entry, 16)
	entry = append(entry, 7, 1)
	entry = append(entry, "spilled\x00"...)
	value := filepath.Join(t.TempDir(), "value")
	if err := os.WriteFile(value, entry, 0o644); err != nil {
		t.Fatal(err)
	}
	command(t, "debugfs", "-w", "-R", "ea_set -f "+value+" /d system.data", img)
	command(t, "debugfs", "-w", "-R", fmt.Sprintf("sif /d size %d", inlineBlockSize+len(entry)), img)
	fs := openImage(t, img)
	if in := inodeAt(t, fs, "/d"); !in.hasInlineData() {
		t.Fatal("/d is not inline; the test does not cover inline directories")
	}
	checkAgainstDebugfs(t, fs, img, "/d")
	ino, err := fs.Lookup("/d/spilled")
	if err != nil || ino != target {
		t.Errorf("Lookup(/d/spilled) = %d, %v; want %d", ino, err, target)
	}
	xs, err := fs.Xattrs(ino)
	if err != nil || len(xs) != 0 {
		t.Errorf("Xattrs of an inline file = %v, %v; want none (system.data is hidden)", xs, err)
	}
}
