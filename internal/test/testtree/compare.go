package testtree

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
)

// CompareOptions say how a filesystem reader's tree may rightly differ
// from the directory it is compared with.
type CompareOptions struct {
	// SkipRootNames are names in the reader's root directory that the
	// directory lacks (lost+found, when the directory is mkfs's source).
	SkipRootNames []string
	// SameInodes says the directory is the same filesystem, mounted by the
	// kernel, so inode numbers must be equal.
	SameInodes bool
	// TimeResolution is what the directory's times are truncated to before
	// comparing (a second where mkfs.ext4 -d copied whole seconds); 0
	// compares nanoseconds.
	TimeResolution time.Duration
	// DirSizes compares directories' sizes too (only the same filesystem
	// has the same ones).
	DirSizes bool
	// IgnoreXattr names attributes the directory shows that the reader
	// rightly leaves out; nil ignores none.
	IgnoreXattr func(name string) bool
}

// CompareFS checks everything fs returns (names, inodes and hard links,
// st_mode, owners, sizes, times, device numbers, xattrs, link targets,
// data ranges and bytes) against the directory dir, and returns how many
// paths it compared. It is the oracle of every filesystem reader's tests.
func CompareFS(t testing.TB, fs fstree.FS, dir string, opts CompareOptions) int {
	t.Helper()
	c := &comparer{t: t, fs: fs, opts: opts, imageIno: map[uint64]uint64{}, sourceIno: map[uint64]uint64{}}
	c.dir(dir, fs.RootInode(), true)
	return c.compared
}

type comparer struct {
	t    testing.TB
	fs   fstree.FS
	opts CompareOptions
	// imageIno and sourceIno map inode numbers both ways, to check that
	// hard links stay links and nothing else is merged.
	imageIno  map[uint64]uint64
	sourceIno map[uint64]uint64
	compared  int
	a, b      []byte // sameContent's buffers
}

func (c *comparer) dir(path string, ino uint64, isRoot bool) {
	entries, err := c.fs.ReadDir(ino)
	if err != nil {
		c.t.Fatalf("ReadDir(%s): %v", path, err)
	}
	var got []string
	for _, e := range entries {
		if isRoot && slices.Contains(c.opts.SkipRootNames, e.Name) {
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
		c.t.Errorf("%s: names differ:\n got %d %.200q\nwant %d %.200q", path, len(got), got, len(want), want)
	}
}

func (c *comparer) entry(path string, ino uint64) {
	c.compared++
	var src unix.Stat_t
	if err := unix.Lstat(path, &src); err != nil {
		c.t.Fatal(err)
	}
	if c.opts.SameInodes && src.Ino != ino {
		c.t.Errorf("%s: inode %d, the kernel says %d", path, ino, src.Ino)
	}
	_, seen := c.imageIno[src.Ino]
	c.links(path, src.Ino, ino)
	if seen && src.Mode&unix.S_IFMT != unix.S_IFDIR {
		return // another link to an inode already compared
	}
	st, err := c.fs.Stat(ino)
	if err != nil {
		c.t.Fatalf("Stat(%s): %v", path, err)
	}
	c.stat(path, &src, st)
	c.xattrs(path, ino)
	switch st.Mode & fstree.ModeType {
	case fstree.ModeDir:
		c.dir(path, ino, false)
	case fstree.ModeSymlink:
		want, _ := os.Readlink(path)
		if got, err := c.fs.ReadLink(ino); err != nil || got != want {
			c.t.Errorf("ReadLink(%s) = %.40q, %v; want %.40q", path, got, err, want)
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
	check("mode", st.Mode, StatMode(src))
	check("uid", st.UID, src.Uid)
	check("gid", st.GID, src.Gid)
	check("nlink", st.Nlink, StatNlink(src))
	if c.opts.DirSizes || src.Mode&unix.S_IFMT != unix.S_IFDIR {
		check("size", st.Size, src.Size)
	}
	check("mtime", st.Mtime.UnixNano(), c.time(src.Mtim))
	check("atime", st.Atime.UnixNano(), c.time(src.Atim))
	check("ctime", st.Ctime.UnixNano(), c.time(src.Ctim))
	if t := src.Mode & unix.S_IFMT; t == unix.S_IFCHR || t == unix.S_IFBLK {
		check("major", st.DevMajor, unix.Major(StatRdev(src)))
		check("minor", st.DevMinor, unix.Minor(StatRdev(src)))
	}
}

// time is a directory time in nanoseconds, at the options' resolution.
func (c *comparer) time(ts unix.Timespec) int64 {
	t := time.Unix(ts.Sec, ts.Nsec)
	if c.opts.TimeResolution > 0 {
		t = t.Truncate(c.opts.TimeResolution)
	}
	return t.UnixNano()
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
	want := Xattrs(c.t, path)
	for name, v := range want {
		if c.opts.IgnoreXattr != nil && c.opts.IgnoreXattr(name) {
			continue
		}
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

// content compares every byte of files up to 32 MiB, and around every
// data range of larger (sparse) ones.
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
	want := DataRanges(c.t, src)
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
	a, b := c.a, c.b
	for off := w.Offset; off < w.Offset+w.Length; off += chunk {
		n := min(chunk, w.Offset+w.Length-off)
		if _, err := got.ReadAt(a[:n], off); err != nil && !(errors.Is(err, io.EOF) && off+n == got.Size()) {
			c.t.Fatalf("ReadAt(%d, %d): %v", n, off, err)
		}
		if _, err := want.ReadAt(b[:n], off); err != nil && !errors.Is(err, io.EOF) {
			c.t.Fatal(err)
		}
		if !bytes.Equal(a[:n], b[:n]) {
			return false
		}
	}
	return true
}
