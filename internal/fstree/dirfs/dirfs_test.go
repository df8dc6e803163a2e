package dirfs

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/c34478be/packer-plugin-maas/internal/fstree"
	"github.com/c34478be/packer-plugin-maas/internal/test/testtool"
)

func entriesByName(t *testing.T, fsys *FS, ino uint64) map[string]uint64 {
	t.Helper()
	entries, err := fsys.ReadDir(ino)
	require.NoError(t, err)
	m := map[string]uint64{}
	for _, e := range entries {
		m[e.Name] = e.Ino
	}
	return m
}

func TestStatReadDirReadLinkXattrs(t *testing.T) {
	testtool.RequireRoot(t)
	dir := t.TempDir()
	require.NoError(t, os.Mkdir(filepath.Join(dir, "sub"), 0o755))
	require.NoError(t, syscall.Chmod(filepath.Join(dir, "sub"), 0o2750))
	file := filepath.Join(dir, "sub", "file")
	require.NoError(t, os.WriteFile(file, []byte("hello"), 0o4755))
	require.NoError(t, os.Lchown(file, 3000000, 3000001))
	require.NoError(t, syscall.Chmod(file, 0o4755)) // after chown, which clears setuid
	mtime := time.Unix(1700000000, 123456789)
	require.NoError(t, os.Chtimes(file, mtime, mtime))
	require.NoError(t, os.Symlink("../nowhere/"+strings.Repeat("x", 200), filepath.Join(dir, "link")))
	require.NoError(t, syscall.Mknod(filepath.Join(dir, "tty"), syscall.S_IFCHR|0o620, int(4<<8|5)))
	require.NoError(t, syscall.Chmod(filepath.Join(dir, "tty"), 0o620)) // past the umask
	testtool.CombinedOutput(t, "setfattr", "-n", "user.k", "-v", "0x00ff0a", file)
	testtool.CombinedOutput(t, "setfattr", "-n", "trusted.t", "-v", "v", file)

	fsys, err := Open(dir)
	require.NoError(t, err)
	var rootSt syscall.Stat_t
	require.NoError(t, syscall.Stat(dir, &rootSt))
	require.Equal(t, rootSt.Ino, fsys.RootInode())

	root := entriesByName(t, fsys, fsys.RootInode())
	require.ElementsMatch(t, []string{"sub", "link", "tty"}, keys(root))
	sub := entriesByName(t, fsys, root["sub"])
	require.Contains(t, sub, "file")

	st, err := fsys.Stat(sub["file"])
	require.NoError(t, err)
	require.Equal(t, uint32(fstree.ModeRegular|0o4755), st.Mode)
	require.Equal(t, uint32(3000000), st.UID)
	require.Equal(t, uint32(3000001), st.GID)
	require.Equal(t, int64(5), st.Size)
	require.Equal(t, uint32(1), st.Nlink)
	require.True(t, st.Mtime.Equal(mtime), "mtime %v", st.Mtime)

	dirSt, err := fsys.Stat(root["sub"])
	require.NoError(t, err)
	require.Equal(t, uint32(fstree.ModeDir|0o2750), dirSt.Mode)

	dev, err := fsys.Stat(root["tty"])
	require.NoError(t, err)
	require.Equal(t, uint32(fstree.ModeChar|0o620), dev.Mode)
	require.Equal(t, [2]uint32{4, 5}, [2]uint32{dev.DevMajor, dev.DevMinor})

	target, err := fsys.ReadLink(root["link"])
	require.NoError(t, err)
	require.Equal(t, "../nowhere/"+strings.Repeat("x", 200), target)

	xattrs, err := fsys.Xattrs(sub["file"])
	require.NoError(t, err)
	got := map[string][]byte{}
	for _, x := range xattrs {
		got[x.Name] = x.Value
	}
	require.Equal(t, map[string][]byte{"user.k": {0, 0xff, '\n'}, "trusted.t": []byte("v")}, got)

	f, err := fsys.OpenFile(sub["file"])
	require.NoError(t, err)
	defer f.(*File).Close()
	buf := make([]byte, 5)
	_, err = f.ReadAt(buf, 0)
	require.NoError(t, err)
	require.Equal(t, "hello", string(buf))
	require.Equal(t, []fstree.Range{{Offset: 0, Length: 5}}, f.DataRanges())
}

func keys(m map[string]uint64) []string {
	var k []string
	for name := range m {
		k = append(k, name)
	}
	return k
}

func TestDataRangesFindHoles(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "sparse")
	f, err := os.Create(p)
	require.NoError(t, err)
	require.NoError(t, f.Truncate(10<<20))
	_, err = f.WriteAt(bytes.Repeat([]byte{1}, 8192), 1<<20)
	require.NoError(t, err)
	_, err = f.WriteAt([]byte("end"), 9<<20)
	require.NoError(t, err)
	require.NoError(t, f.Close())

	file, err := OpenPath(p)
	require.NoError(t, err)
	defer file.Close()
	require.Equal(t, int64(10<<20), file.Size())
	ranges := file.DataRanges()
	require.Len(t, ranges, 2)
	require.Equal(t, int64(1<<20), ranges[0].Offset)
	require.GreaterOrEqual(t, ranges[0].Length, int64(8192))
	require.LessOrEqual(t, ranges[1].Offset, int64(9<<20))
	require.GreaterOrEqual(t, ranges[1].Offset+ranges[1].Length, int64(9<<20+3))
	require.True(t, slices.IsSortedFunc(ranges, func(a, b fstree.Range) int { return int(a.Offset - b.Offset) }))
}

func TestErrors(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "f")
	require.NoError(t, os.WriteFile(file, nil, 0o644))

	_, err := Open(file)
	require.ErrorContains(t, err, "not a directory")

	fsys, err := Open(dir)
	require.NoError(t, err)
	_, err = fsys.Stat(123456789)
	require.ErrorContains(t, err, "inode 123456789")

	entries := entriesByName(t, fsys, fsys.RootInode())
	_, err = fsys.OpenFile(fsys.RootInode())
	require.ErrorContains(t, err, "not a regular file")

	// A file replaced after listing is noticed, not silently read.
	require.NoError(t, os.WriteFile(file+".tmp", []byte("new"), 0o644))
	require.NoError(t, os.Rename(file+".tmp", file))
	_, err = fsys.Stat(entries["f"])
	require.ErrorContains(t, err, "changed while reading")
}
