package xfs

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/c34478be/packer-plugin-maas/internal/fstree"
	"github.com/c34478be/packer-plugin-maas/internal/test/testtree"
)

// comparer checks everything the reader returns against the kernel's view
// of the same filesystem, mounted read-only.
type comparer struct {
	t    *testing.T
	fs   *FS
	root string
	// imageIno and sourceIno check that hard links stay links and nothing
	// else is merged.
	imageIno  map[uint64]uint64
	sourceIno map[uint64]uint64
	compared  int
	a, b      []byte // buffers of sameContent
}

// compareTree compares the reader's whole tree with the mounted one and
// returns how many paths it compared.
func compareTree(t *testing.T, fs *FS, root string) int {
	c := &comparer{t: t, fs: fs, root: root, imageIno: map[uint64]uint64{}, sourceIno: map[uint64]uint64{}}
	c.dir(root, fs.RootInode())
	return c.compared
}

func (c *comparer) dir(path string, ino uint64) {
	entries, err := c.fs.ReadDir(ino)
	if err != nil {
		c.t.Fatalf("ReadDir(%s): %v", path, err)
	}
	var got []string
	for _, e := range entries {
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
		c.t.Errorf("%s: names differ:\n got %d %.200q\nwant %d %.200q", path, len(got), got, len(want), want)
	}
}

func (c *comparer) entry(path string, ino uint64) {
	c.compared++
	var src unix.Stat_t
	if err := unix.Lstat(path, &src); err != nil {
		c.t.Fatal(err)
	}
	if src.Ino != ino {
		c.t.Errorf("%s: inode %d, the kernel says %d", path, ino, src.Ino)
	}
	if _, seen := c.imageIno[src.Ino]; seen && src.Mode&unix.S_IFMT != unix.S_IFDIR {
		return // another link to an inode already compared
	}
	st, err := c.fs.Stat(ino)
	if err != nil {
		c.t.Fatalf("Stat(%s): %v", path, err)
	}
	c.stat(path, &src, st)
	c.imageIno[src.Ino], c.sourceIno[ino] = ino, src.Ino
	c.xattrs(path, ino)
	switch st.Mode & fstree.ModeType {
	case fstree.ModeDir:
		c.dir(path, ino)
	case fstree.ModeSymlink:
		want, _ := os.Readlink(path)
		if got, err := c.fs.ReadLink(ino); err != nil || got != want {
			c.t.Errorf("ReadLink(%s) = %.40q, %v; want %.40q", path, got, err, want)
		}
	case fstree.ModeRegular:
		c.content(path, ino)
	}
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
	check("size", st.Size, src.Size)
	check("mtime", st.Mtime.UnixNano(), src.Mtim.Nano())
	check("atime", st.Atime.UnixNano(), src.Atim.Nano())
	check("ctime", st.Ctime.UnixNano(), src.Ctim.Nano())
	if t := src.Mode & unix.S_IFMT; t == unix.S_IFCHR || t == unix.S_IFBLK {
		check("major", st.DevMajor, unix.Major(src.Rdev))
		check("minor", st.DevMinor, unix.Minor(src.Rdev))
	}
}

// kernelXattrs is what getxattr shows of path, less the trusted.SGI_ACL_*
// names the kernel lists to root beside the POSIX ACLs they hold: a
// tarball must carry the ACLs once, as system.posix_acl_*.
func kernelXattrs(t testing.TB, path string) map[string]string {
	want := testtree.Xattrs(t, path)
	for name := range want {
		if strings.HasPrefix(name, "trusted.SGI_ACL_") {
			delete(want, name)
		}
	}
	return want
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
	want := kernelXattrs(c.t, path)
	for name, v := range want {
		if g, ok := got[name]; !ok || g != v {
			c.t.Errorf("%s: xattr %s = %.64x (present %v), want %.64x", path, name, g, ok, v)
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
		c.t.Errorf("%s: DataRanges = %.300v, want %.300v", path, got, want)
	}
	windows := []fstree.Range{{Offset: 0, Length: f.Size()}}
	if f.Size() > 32<<20 {
		windows = nil
		for _, r := range want {
			start := max(r.Offset-65536, 0)
			windows = append(windows, fstree.Range{Offset: start, Length: min(r.Offset+r.Length+65536, f.Size()) - start})
		}
	}
	for _, w := range windows {
		if !c.sameContent(f, src, w) {
			c.t.Errorf("%s: content differs in %v", path, w)
		}
	}
}

// sameContent compares a window of two readers in reads that do not fall
// on block boundaries.
func (c *comparer) sameContent(got fstree.File, want io.ReaderAt, w fstree.Range) bool {
	const chunk = 1<<20 + 7
	if c.a == nil {
		c.a, c.b = make([]byte, chunk), make([]byte, chunk)
	}
	t, a, b := c.t, c.a, c.b
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
