// Package testtree snapshots directory trees into comparable entries and
// builds a tree holding every kind of file metadata, for tests only.
//
// The ext4 reader, the rootfs tarball writer, the exporter and the
// end-to-end tests all check one claim: a tree comes out of the plugin
// with every attribute a root filesystem needs (type, mode, owner, mtime,
// size, data and holes, device numbers, link targets, hard links, extended
// attributes). They share this one definition of "every attribute" so
// that none of them checks less than the others. It is an ordinary
// package so that tests in several packages can import it; no
// non-test code does.
package testtree

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/c34478be/packer-plugin-maas/internal/fstree"
)

// Entry is what the tests compare of one file.
type Entry struct {
	Mode     uint32 // st_mode: type and permission bits
	UID, GID uint32
	Mtime    int64  // whole seconds: tar and mkfs.ext4 -d keep no more
	Size     int64  // regular files only
	Blocks   int64  // 512-byte blocks allocated; SnapshotWithBlocks only
	Rdev     uint64 // device number of device files
	Target   string // symlink target
	Data     string // data ranges SEEK_DATA/SEEK_HOLE report: holes must stay holes
	Hash     string // SHA-256 of the bytes in the data ranges
	Xattrs   string // every extended attribute, sorted by name: name=hexvalue;...
	LinkPeer string // first path (in walk order) of the same inode
}

// Tree maps each path, relative to the snapshot's root ("." for the root
// itself), to its entry.
type Tree map[string]Entry

// Snapshot records every file below root. It leaves Blocks zero: how many
// blocks a file takes depends on the filesystem and on whether writeback
// has run, so most comparisons cannot use it.
func Snapshot(t testing.TB, root string) Tree {
	t.Helper()
	return snapshot(t, root, false)
}

// SnapshotWithBlocks is Snapshot that also records each regular file's
// allocated blocks, for trees written alike on one filesystem.
func SnapshotWithBlocks(t testing.TB, root string) Tree {
	t.Helper()
	return snapshot(t, root, true)
}

func snapshot(t testing.TB, root string, withBlocks bool) Tree {
	t.Helper()
	tree := Tree{}
	firstOfInode := map[uint64]string{}
	err := filepath.WalkDir(root, func(p string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			return err
		}
		e := statEntry(&st)
		e.Xattrs = formatXattrs(Xattrs(t, p))
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFREG:
			e.Size = st.Size
			e.Data, e.Hash = fileData(t, p)
			if withBlocks {
				e.Blocks = st.Blocks
			}
		case unix.S_IFLNK:
			if e.Target, err = os.Readlink(p); err != nil {
				return err
			}
		}
		if st.Mode&unix.S_IFMT != unix.S_IFDIR && st.Nlink > 1 {
			if first, ok := firstOfInode[st.Ino]; ok {
				e.LinkPeer = first
			} else {
				firstOfInode[st.Ino] = rel
			}
		}
		tree[rel] = e
		return nil
	})
	require.NoError(t, err, "snapshot of %s", root)
	return tree
}

// fileData returns a file's data ranges and a hash of the bytes in them.
// Holes read as zeros, so together they say what the content is without
// reading gigabytes of holes.
func fileData(t testing.TB, p string) (ranges, hash string) {
	t.Helper()
	f, err := os.Open(p)
	require.NoError(t, err)
	defer f.Close()
	h := sha256.New()
	var spans []string
	for _, r := range DataRanges(t, f) {
		_, err := io.Copy(h, io.NewSectionReader(f, r.Offset, r.Length))
		require.NoError(t, err, p)
		spans = append(spans, fmt.Sprintf("%d-%d", r.Offset, r.Offset+r.Length))
	}
	return strings.Join(spans, ","), hex.EncodeToString(h.Sum(nil))
}

// DataRanges lists the data of f as SEEK_DATA and SEEK_HOLE report it.
func DataRanges(t testing.TB, f *os.File) []fstree.Range {
	t.Helper()
	st, err := f.Stat()
	require.NoError(t, err)
	var out []fstree.Range
	for off := int64(0); off < st.Size(); {
		data, err := unix.Seek(int(f.Fd()), off, unix.SEEK_DATA)
		if errors.Is(err, unix.ENXIO) { // only a hole is left
			break
		}
		require.NoError(t, err, "SEEK_DATA in %s at %d", f.Name(), off)
		hole, err := unix.Seek(int(f.Fd()), data, unix.SEEK_HOLE)
		require.NoError(t, err, "SEEK_HOLE in %s at %d", f.Name(), data)
		out = append(out, fstree.Range{Offset: data, Length: hole - data})
		off = hole
	}
	return out
}

// Xattrs returns every extended attribute of path (not following a
// symlink), name to value; none where the filesystem has no xattrs.
func Xattrs(t testing.TB, path string) map[string]string {
	t.Helper()
	out := map[string]string{}
	size, err := unix.Llistxattr(path, nil)
	if errors.Is(err, unix.ENOTSUP) || size == 0 {
		return out
	}
	require.NoError(t, err, "listxattr %s", path)
	names := make([]byte, size)
	size, err = unix.Llistxattr(path, names)
	require.NoError(t, err, "listxattr %s", path)
	for _, name := range strings.Split(strings.TrimRight(string(names[:size]), "\x00"), "\x00") {
		n, err := unix.Lgetxattr(path, name, nil)
		require.NoError(t, err, "getxattr %s %s", path, name)
		value := make([]byte, n)
		n, err = unix.Lgetxattr(path, name, value)
		require.NoError(t, err, "getxattr %s %s", path, name)
		out[name] = string(value[:n])
	}
	return out
}

// formatXattrs writes xattrs sorted by name: listxattr's order carries no
// meaning.
func formatXattrs(xattrs map[string]string) string {
	names := make([]string, 0, len(xattrs))
	for name := range xattrs {
		names = append(names, name)
	}
	slices.Sort(names)
	for i, name := range names {
		names[i] = name + "=" + hex.EncodeToString([]byte(xattrs[name]))
	}
	return strings.Join(names, ";")
}

// Diff lists, sorted by path, what is missing from got, what differs and
// what got has in addition, leaving out the paths in ignore (expected
// differences, each with its reason at the caller).
func Diff(want, got Tree, ignore ...string) []string {
	var out []string
	for _, p := range sortedPaths(want) {
		g, ok := got[p]
		switch {
		case slices.Contains(ignore, p):
		case !ok:
			out = append(out, fmt.Sprintf("%q is missing", p))
		case want[p] != g:
			out = append(out, fmt.Sprintf("%q differs:\nwant %+v\ngot  %+v", p, want[p], g))
		}
	}
	for _, p := range sortedPaths(got) {
		if _, ok := want[p]; !ok && !slices.Contains(ignore, p) {
			out = append(out, fmt.Sprintf("%q appeared", p))
		}
	}
	return out
}

func sortedPaths(tree Tree) []string {
	paths := make([]string, 0, len(tree))
	for p := range tree {
		paths = append(paths, p)
	}
	slices.Sort(paths)
	return paths
}

// maxReported bounds how many differences AssertSame reports one by one:
// a tree that differs everywhere (a wrong mtime on every file) would
// drown the first, telling ones.
const maxReported = 20

// AssertSame marks the test failed, and goes on, with each difference
// Diff finds.
func AssertSame(t testing.TB, want, got Tree, ignore ...string) {
	t.Helper()
	diffs := Diff(want, got, ignore...)
	for i, d := range diffs {
		if i == maxReported {
			t.Errorf("and %d more differences", len(diffs)-i)
			break
		}
		t.Error(d)
	}
}
