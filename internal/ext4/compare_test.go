package ext4

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/c34478be/packer-plugin-maas/internal/fstree"
	"github.com/c34478be/packer-plugin-maas/internal/test/testtree"
)

// comparer checks everything the reader returns against the source tree.
type comparer struct {
	t    *testing.T
	fs   *FS
	root string
	// imageIno maps source inode numbers to image inode numbers, to check
	// that hard links stay links and nothing else is merged.
	imageIno  map[uint64]uint64
	sourceIno map[uint64]uint64
	compared  int
}

// compareTree compares the image's whole tree with the source tree and
// returns how many paths it compared.
func compareTree(t *testing.T, fs *FS, root string) int {
	c := &comparer{t: t, fs: fs, root: root, imageIno: map[uint64]uint64{}, sourceIno: map[uint64]uint64{}}
	c.dir(root, fs.RootInode(), true)
	return c.compared
}

func (c *comparer) dir(path string, ino uint64, isRoot bool) {
	entries, err := c.fs.ReadDir(ino)
	if err != nil {
		c.t.Fatalf("ReadDir(%s): %v", path, err)
	}
	var got []string
	for _, e := range entries {
		if isRoot && e.Name == "lost+found" {
			continue
		}
		got = append(got, e.Name)
		c.entry(filepath.Join(path, e.Name), e.Ino)
	}
	source, err := os.ReadDir(path)
	if err != nil {
		c.t.Fatal(err)
	}
	var want []string
	for _, e := range source {
		want = append(want, e.Name())
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		c.t.Errorf("%s: names differ:\n got %q\nwant %q", path, got, want)
	}
}

func (c *comparer) entry(path string, ino uint64) {
	c.compared++
	var src unix.Stat_t
	if err := unix.Lstat(path, &src); err != nil {
		c.t.Fatal(err)
	}
	st, err := c.fs.Stat(ino)
	if err != nil {
		c.t.Fatalf("Stat(%s): %v", path, err)
	}
	c.links(path, src.Ino, ino)
	c.stat(path, &src, st)
	c.xattrs(path, ino)
	switch st.Mode & fstree.ModeType {
	case fstree.ModeDir:
		c.dir(path, ino, false)
	case fstree.ModeSymlink:
		want, _ := os.Readlink(path)
		if got, err := c.fs.ReadLink(ino); err != nil || got != want {
			c.t.Errorf("ReadLink(%s) = %q, %v; want %q", path, got, err, want)
		}
	case fstree.ModeRegular:
		c.content(path, ino)
	}
}

func (c *comparer) links(path string, srcIno, ino uint64) {
	if prev, ok := c.imageIno[srcIno]; ok && prev != ino {
		c.t.Errorf("%s: hard link to image inode %d, but an earlier link is inode %d", path, ino, prev)
	}
	if prev, ok := c.sourceIno[ino]; ok && prev != srcIno {
		c.t.Errorf("%s: image inode %d is shared by distinct source files", path, ino)
	}
	c.imageIno[srcIno], c.sourceIno[ino] = ino, srcIno
}

func (c *comparer) stat(path string, src *unix.Stat_t, st fstree.Stat) {
	check := func(what string, got, want any) {
		if got != want {
			c.t.Errorf("%s: %s = %v, want %v", path, what, got, want)
		}
	}
	check("mode", st.Mode, src.Mode)
	check("uid", st.UID, src.Uid)
	check("gid", st.GID, src.Gid)
	check("nlink", st.Nlink, uint32(src.Nlink))
	if src.Mode&unix.S_IFMT != unix.S_IFDIR {
		check("size", st.Size, src.Size)
	}
	// mkfs.ext4 -d copies whole seconds only (TestTimestampExtra covers
	// nanoseconds).
	check("mtime", st.Mtime, time.Unix(src.Mtim.Sec, 0))
	check("atime", st.Atime, time.Unix(src.Atim.Sec, 0))
	check("ctime", st.Ctime, time.Unix(src.Ctim.Sec, 0))
	if t := src.Mode & unix.S_IFMT; t == unix.S_IFCHR || t == unix.S_IFBLK {
		check("major", st.DevMajor, unix.Major(src.Rdev))
		check("minor", st.DevMinor, unix.Minor(src.Rdev))
	}
}

func (c *comparer) xattrs(path string, ino uint64) {
	xs, err := c.fs.Xattrs(ino)
	if err != nil {
		c.t.Fatalf("Xattrs(%s): %v", path, err)
	}
	got := map[string]string{}
	for _, x := range xs {
		got[x.Name] = string(x.Value)
	}
	want := testtree.Xattrs(c.t, path)
	for name, v := range want {
		if got[name] != v {
			c.t.Errorf("%s: xattr %s = %x, want %x", path, name, got[name], v)
		}
	}
	for name := range got {
		if _, ok := want[name]; !ok {
			c.t.Errorf("%s: unexpected xattr %s", path, name)
		}
	}
}

func (c *comparer) content(path string, ino uint64) {
	f, err := c.fs.OpenFile(ino)
	if err != nil {
		c.t.Fatalf("OpenFile(%s): %v", path, err)
	}
	src, err := os.Open(path)
	if err != nil {
		c.t.Fatal(err)
	}
	defer src.Close()
	want := testtree.DataRanges(c.t, src)
	if got := f.DataRanges(); !slices.Equal(got, want) {
		c.t.Errorf("%s: DataRanges = %v, want %v", path, got, want)
	}
	// Compare every byte of files up to 32 MiB, and around every data
	// range of larger (sparse) ones.
	windows := []fstree.Range{{Offset: 0, Length: f.Size()}}
	if f.Size() > 32<<20 {
		windows = nil
		for _, r := range want {
			start := max(r.Offset-65536, 0)
			windows = append(windows, fstree.Range{Offset: start, Length: min(r.Offset+r.Length+65536, f.Size()) - start})
		}
	}
	for _, w := range windows {
		if !sameContent(c.t, f, src, w) {
			c.t.Errorf("%s: content differs in %v", path, w)
		}
	}
}

// sameContent compares a window of two readers in 1 MiB reads that do not
// fall on block boundaries.
func sameContent(t testing.TB, got fstree.File, want io.ReaderAt, w fstree.Range) bool {
	const chunk = 1<<20 + 7
	a, b := make([]byte, chunk), make([]byte, chunk)
	for off := w.Offset; off < w.Offset+w.Length; off += chunk {
		n := min(chunk, w.Offset+w.Length-off)
		if _, err := got.ReadAt(a[:n], off); err != nil && !(errors.Is(err, io.EOF) && off+n == got.Size()) {
			t.Fatalf("ReadAt(%d, %d): %v", n, off, err)
		}
		if _, err := want.ReadAt(b[:n], off); err != nil && !errors.Is(err, io.EOF) {
			t.Fatal(err)
		}
		if !bytes.Equal(a[:n], b[:n]) {
			return false
		}
	}
	return true
}

// debugfsListing returns name -> inode of a directory as debugfs sees it.
func debugfsListing(t testing.TB, img, dir string) map[string]uint64 {
	out := command(t, "debugfs", "-R", "ls -p "+dir, img)
	listing := map[string]uint64{}
	for _, line := range bytes.Split([]byte(out), []byte("\n")) {
		// Lines look like /ino/mode/uid/gid/name/size/.
		fields := bytes.Split(line, []byte("/"))
		if len(fields) < 7 {
			continue
		}
		var ino uint64
		for _, d := range fields[1] {
			ino = ino*10 + uint64(d-'0')
		}
		if name := string(fields[5]); ino != 0 && name != "." && name != ".." {
			listing[name] = ino
		}
	}
	return listing
}

// checkAgainstDebugfs compares ReadDir of a directory with debugfs.
func checkAgainstDebugfs(t *testing.T, fs *FS, img, dir string) {
	ino, err := fs.Lookup(dir)
	if err != nil {
		t.Fatal(err)
	}
	entries, err := fs.ReadDir(ino)
	if err != nil {
		t.Fatal(err)
	}
	want := debugfsListing(t, img, dir)
	if len(entries) != len(want) {
		t.Errorf("%s: %d entries, debugfs lists %d", dir, len(entries), len(want))
	}
	for _, e := range entries {
		if want[e.Name] != e.Ino {
			t.Errorf("%s/%s: inode %d, debugfs says %d", dir, e.Name, e.Ino, want[e.Name])
		}
	}
}
