package tarball

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/c34478be/packer-plugin-maas/internal/fstree"
)

// memFS is a tiny fstree.FS for what a real filesystem cannot hold but a
// corrupted or hostile image can claim.
type memFS struct {
	nodes map[uint64]*memNode
	// deepFrom, when set, makes every directory at or above this inode
	// contain a directory with the next inode number, without end.
	deepFrom uint64
}

type memNode struct {
	stat    fstree.Stat
	entries []fstree.DirEntry
	target  string
	data    []byte
	ranges  []fstree.Range
	xattrs  []fstree.Xattr
}

func (m *memFS) RootInode() uint64 { return 2 }

func (m *memFS) node(ino uint64) (*memNode, error) {
	if m.deepFrom != 0 && ino >= m.deepFrom {
		return &memNode{
			stat:    fstree.Stat{Ino: ino, Mode: fstree.ModeDir | 0o755, Nlink: 2},
			entries: []fstree.DirEntry{{Name: "d", Ino: ino + 1}},
		}, nil
	}
	n, ok := m.nodes[ino]
	if !ok {
		return nil, fmt.Errorf("no inode %d", ino)
	}
	n.stat.Ino = ino
	return n, nil
}

func (m *memFS) Stat(ino uint64) (fstree.Stat, error) {
	n, err := m.node(ino)
	if err != nil {
		return fstree.Stat{}, err
	}
	return n.stat, nil
}

func (m *memFS) ReadDir(ino uint64) ([]fstree.DirEntry, error) {
	n, err := m.node(ino)
	if err != nil {
		return nil, err
	}
	return n.entries, nil
}

func (m *memFS) ReadLink(ino uint64) (string, error) {
	n, err := m.node(ino)
	if err != nil {
		return "", err
	}
	return n.target, nil
}

func (m *memFS) Xattrs(ino uint64) ([]fstree.Xattr, error) {
	n, err := m.node(ino)
	if err != nil {
		return nil, err
	}
	return n.xattrs, nil
}

func (m *memFS) OpenFile(ino uint64) (fstree.File, error) {
	n, err := m.node(ino)
	if err != nil {
		return nil, err
	}
	ranges := n.ranges
	if ranges == nil && len(n.data) > 0 {
		ranges = []fstree.Range{{Offset: 0, Length: int64(len(n.data))}}
	}
	return &memFile{Reader: bytes.NewReader(n.data), size: n.stat.Size, ranges: ranges}, nil
}

type memFile struct {
	*bytes.Reader
	size   int64
	ranges []fstree.Range
}

func (f *memFile) Size() int64                { return f.size }
func (f *memFile) DataRanges() []fstree.Range { return f.ranges }

func dir(entries ...fstree.DirEntry) *memNode {
	return &memNode{stat: fstree.Stat{Mode: fstree.ModeDir | 0o755, Nlink: 2}, entries: entries}
}

func file(data string) *memNode {
	return &memNode{stat: fstree.Stat{Mode: fstree.ModeRegular | 0o644, Nlink: 1, Size: int64(len(data))}, data: []byte(data)}
}

func writeMem(t *testing.T, m *memFS) (*bytes.Buffer, error) {
	t.Helper()
	var buf bytes.Buffer
	_, err := WriteTar(context.Background(), &buf, m, Options{})
	return &buf, err
}

func TestHostileNamesAreRejected(t *testing.T) {
	for _, name := range []string{"..", ".", "", "a/../../etc", "/etc/passwd", "x\x00y"} {
		m := &memFS{nodes: map[uint64]*memNode{
			2:  dir(fstree.DirEntry{Name: name, Ino: 12}),
			12: file("owned"),
		}}
		_, err := writeMem(t, m)
		require.Error(t, err, "name %q", name)
		require.ErrorContains(t, err, "inode 12", "the error must name the inode")
	}
}

func TestDirectoryCycleIsAnError(t *testing.T) {
	m := &memFS{nodes: map[uint64]*memNode{
		2:  dir(fstree.DirEntry{Name: "a", Ino: 11}),
		11: dir(fstree.DirEntry{Name: "back", Ino: 2}),
	}}
	_, err := writeMem(t, m)
	require.ErrorContains(t, err, "directory inode 2 is reached both at / and at /a/back")
}

func TestEndlessDepthIsAnError(t *testing.T) {
	m := &memFS{nodes: map[uint64]*memNode{2: dir(fstree.DirEntry{Name: "d", Ino: 100})}, deepFrom: 100}
	done := make(chan error, 1)
	go func() {
		_, err := writeMem(t, m)
		done <- err
	}()
	select {
	case err := <-done:
		require.ErrorContains(t, err, "nested deeper than")
	case <-time.After(time.Minute):
		t.Fatal("WriteTar did not stop on an endlessly deep tree")
	}
}

func TestBadFilesAreErrors(t *testing.T) {
	for name, n := range map[string]*memNode{
		"range outside the file": {stat: fstree.Stat{Mode: fstree.ModeRegular, Nlink: 1, Size: 10}, data: make([]byte, 10),
			ranges: []fstree.Range{{Offset: 5, Length: 10}}},
		"overlapping ranges": {stat: fstree.Stat{Mode: fstree.ModeRegular, Nlink: 1, Size: 8192}, data: make([]byte, 8192),
			ranges: []fstree.Range{{Offset: 0, Length: 4096}, {Offset: 100, Length: 10}}},
		"data shorter than size": {stat: fstree.Stat{Mode: fstree.ModeRegular, Nlink: 1, Size: 5 << 20}, data: make([]byte, 1<<20),
			ranges: []fstree.Range{{Offset: 0, Length: 5 << 20}}},
		"empty symlink target": {stat: fstree.Stat{Mode: fstree.ModeSymlink | 0o777, Nlink: 1}},
		"unknown file type":    {stat: fstree.Stat{Mode: 0o070000 | 0o644, Nlink: 1}},
		"xattr name with NUL": {stat: fstree.Stat{Mode: fstree.ModeFIFO | 0o644, Nlink: 1},
			xattrs: []fstree.Xattr{{Name: "user.a\x00b", Value: nil}}},
	} {
		m := &memFS{nodes: map[uint64]*memNode{2: dir(fstree.DirEntry{Name: "bad", Ino: 13}), 13: n}}
		_, err := writeMem(t, m)
		require.ErrorContains(t, err, "inode 13", name)
	}
}

func TestDuplicateNamesAreAnError(t *testing.T) {
	m := &memFS{nodes: map[uint64]*memNode{
		2:  dir(fstree.DirEntry{Name: "x", Ino: 11}, fstree.DirEntry{Name: "x", Ino: 12}),
		11: file("a"), 12: file("b"),
	}}
	_, err := writeMem(t, m)
	require.ErrorContains(t, err, `lists the name "x" twice`)
}

// TestLargeValuesGoToPAX checks the values ustar cannot hold: ids of 2^21
// and more, mtimes before 1970 and after 2242, device numbers of 2^21 and
// more.
func TestLargeValuesGoToPAX(t *testing.T) {
	future := time.Unix(1<<34, 0)
	past := time.Unix(-86400, 0)
	m := &memFS{nodes: map[uint64]*memNode{
		2:  dir(fstree.DirEntry{Name: "f", Ino: 11}, fstree.DirEntry{Name: "p", Ino: 12}, fstree.DirEntry{Name: "c", Ino: 13}),
		11: {stat: fstree.Stat{Mode: fstree.ModeRegular | 0o600, Nlink: 1, UID: 1 << 31, GID: 1<<32 - 1, Mtime: future}},
		12: {stat: fstree.Stat{Mode: fstree.ModeFIFO | 0o600, Nlink: 1, Mtime: past}},
		13: {stat: fstree.Stat{Mode: fstree.ModeChar | 0o600, Nlink: 1, DevMajor: 4095, DevMinor: 1<<20 - 1}},
	}}
	buf, err := writeMem(t, m)
	require.NoError(t, err)
	r := tar.NewReader(buf)
	got := map[string]*tar.Header{}
	for {
		h, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err)
		got[h.Name] = h
	}
	require.Equal(t, 1<<31, got["./f"].Uid)
	require.Equal(t, 1<<32-1, got["./f"].Gid)
	require.Equal(t, future.Unix(), got["./f"].ModTime.Unix())
	require.Equal(t, past.Unix(), got["./p"].ModTime.Unix())
	require.Equal(t, int64(4095), got["./c"].Devmajor)
	require.Equal(t, int64(1<<20-1), got["./c"].Devminor)
}

func TestPAXRecordLength(t *testing.T) {
	// A record whose length crosses a power of ten when its own digits
	// are counted: "99 k=<93 bytes>\n" would be 100 bytes long.
	for n := 80; n < 120; n++ {
		rec := appendPAXRecords(nil, []paxRecord{{"k", strings.Repeat("v", n)}})
		length, _, ok := strings.Cut(string(rec), " ")
		require.True(t, ok)
		require.Equal(t, fmt.Sprint(len(rec)), length, "value of %d bytes", n)
	}
}

// TestNamesBeyondTheLinkCountAreAnError: many names for one inode whose
// links count is 1 wrote its data once per name (an 87 MB tarball from a
// 32 MiB filesystem); names beyond a count above 1 would be links the
// filesystem does not have.
func TestNamesBeyondTheLinkCountAreAnError(t *testing.T) {
	big := &memNode{stat: fstree.Stat{Mode: fstree.ModeRegular | 0o644, Nlink: 1, Size: 1 << 20},
		data: make([]byte, 1<<20), ranges: []fstree.Range{{Offset: 0, Length: 1 << 20}}}
	var names []fstree.DirEntry
	for i := range 50 {
		names = append(names, fstree.DirEntry{Name: fmt.Sprintf("copy%d", i), Ino: 11})
	}
	m := &memFS{nodes: map[uint64]*memNode{2: dir(names...), 11: big}}
	buf, err := writeMem(t, m)
	require.ErrorContains(t, err, "/copy1 (inode 11) is reached by more names than its link count 1")
	require.ErrorContains(t, err, "e2fsck")
	require.Less(t, buf.Len(), 2<<20, "the data was written more than once")

	linked := file("shared")
	linked.stat.Nlink = 2
	m = &memFS{nodes: map[uint64]*memNode{
		2:  dir(fstree.DirEntry{Name: "a", Ino: 12}, fstree.DirEntry{Name: "b", Ino: 12}, fstree.DirEntry{Name: "c", Ino: 12}),
		12: linked,
	}}
	_, err = writeMem(t, m)
	require.ErrorContains(t, err, "/c (inode 12) is reached by more names than its link count 2 (also by /a)")

	m.nodes[2].entries = m.nodes[2].entries[:2] // as many names as links: a hard link
	buf, err = writeMem(t, m)
	require.NoError(t, err)
	r := tar.NewReader(buf)
	var types []byte
	for h, err := r.Next(); err == nil; h, err = r.Next() {
		types = append(types, h.Typeflag)
	}
	require.Equal(t, []byte{tar.TypeDir, tar.TypeReg, tar.TypeLink}, types)
}

// TestSizeBeyondExt4IsAnError: an i_size of 2^63-1 made a tarball GNU tar
// cannot extract, found only at deploy time.
func TestSizeBeyondExt4IsAnError(t *testing.T) {
	m := &memFS{nodes: map[uint64]*memNode{
		2:  dir(fstree.DirEntry{Name: "huge", Ino: 14}),
		14: {stat: fstree.Stat{Mode: fstree.ModeRegular | 0o644, Nlink: 1, Size: 1<<63 - 1}},
	}}
	_, err := writeMem(t, m)
	require.ErrorContains(t, err, "/huge (inode 14) claims a size of 9223372036854775807 bytes")
}
