package testtree

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/c34478be/packer-plugin-maas/internal/test/testtool"
)

func TestSnapshotRecordsEveryAttribute(t *testing.T) {
	root := MetadataTree(t, true)
	tree := Snapshot(t, root)

	assert.Len(t, tree["bigdir"].Xattrs, 0)
	assert.EqualValues(t, pastMtime, tree["one"].Mtime)
	assert.EqualValues(t, unix.S_IFREG|0o4755, tree["modes/setuid"].Mode)
	assert.EqualValues(t, unix.S_IFDIR|0o1777, tree["modes/sticky"].Mode)
	assert.Equal(t, [2]uint32{3000000, 4000000}, [2]uint32{tree["owners/high"].UID, tree["owners/high"].GID})
	assert.Equal(t, [2]uint32{70000, 80000}, [2]uint32{tree["owners/link"].UID, tree["owners/link"].GID}, "a symlink's own owner")
	assert.Equal(t, unix.Mkdev(259, 300000), tree["dev/bigminor"].Rdev)
	assert.EqualValues(t, unix.S_IFIFO|0o644, tree["dev/fifo"].Mode)
	assert.Equal(t, strings.Repeat("b", 60), tree["len60"].Target)
	assert.Equal(t, "dirA/linked", tree["dirB/linked-too"].LinkPeer)
	assert.Empty(t, tree["dirA/linked"].LinkPeer, "the first path of an inode names no peer")
	assert.Equal(t, "0-4096,1048576-1056768", tree["sparse"].Data)
	assert.Equal(t, "0-4096", tree["trailinghole"].Data)
	assert.EqualValues(t, 1<<20, tree["trailinghole"].Size)
	assert.Equal(t, "5368709120-5368713316", tree["hugesparse"].Data)
	assert.Contains(t, tree["xattr/user"].Xattrs, "trusted.secret=000102ff;user.comment=68656c6c6f")
	assert.Contains(t, tree["xattr/caps"].Xattrs, "security.capability=")
	assert.Contains(t, tree["xattr/acldir"].Xattrs, "system.posix_acl_default=")
	assert.Zero(t, tree["large"].Blocks, "Snapshot leaves blocks out")
	assert.Equal(t, BigDirEntries+94, len(tree), "every path")

	withBlocks := SnapshotWithBlocks(t, root)
	assert.EqualValues(t, 3*8, withBlocks["sparse"].Blocks, "three 4 KiB blocks of data")
	large := withBlocks["large"]
	large.Blocks = 0
	assert.Equal(t, tree["large"], large)
}

// TestDiffFindsEachChange changes one attribute of each of several real
// files and expects Diff to name exactly those.
func TestDiffFindsEachChange(t *testing.T) {
	testtool.RequireRoot(t)
	root := t.TempDir()
	at := func(p string) string { return filepath.Join(root, p) }
	t0 := time.Unix(2e9, 0)
	names := []string{"mode", "owner", "mtime", "xattr", "hole", "content", "size", "gone", "a-first", "ignored", "same"}
	for _, name := range names {
		require.NoError(t, os.WriteFile(at(name), []byte("data"), 0o644))
		require.NoError(t, os.Chtimes(at(name), t0, t0))
	}
	require.NoError(t, os.Truncate(at("hole"), 1<<20))
	require.NoError(t, os.Link(at("a-first"), at("b-second")))
	require.NoError(t, os.Symlink("mode", at("symlink")))
	require.NoError(t, os.Chtimes(root, t0, t0))
	want := Snapshot(t, root)

	require.NoError(t, os.Chmod(at("mode"), 0o600))
	require.NoError(t, os.Lchown(at("owner"), 1, 2))
	require.NoError(t, os.Chtimes(at("mtime"), time.Unix(1e9, 0), time.Unix(1e9, 0)))
	require.NoError(t, unix.Setxattr(at("xattr"), "user.new", []byte("v"), 0))
	writeAt(t, at("hole"), []byte{0}, 512<<10) // same content, but data where a hole was
	writeAt(t, at("content"), []byte("D"), 0)
	require.NoError(t, os.Truncate(at("size"), 3))
	require.NoError(t, os.Remove(at("gone")))
	require.NoError(t, os.Remove(at("b-second"))) // a copy is no longer a hard link
	require.NoError(t, os.WriteFile(at("b-second"), []byte("data"), 0o644))
	require.NoError(t, os.Chtimes(at("b-second"), t0, t0))
	require.NoError(t, os.Remove(at("symlink")))
	require.NoError(t, os.Symlink("owner", at("symlink")))
	require.NoError(t, os.WriteFile(at("new"), nil, 0o644))
	require.NoError(t, os.WriteFile(at("ignored"), []byte("changed"), 0o644))
	require.NoError(t, os.Chtimes(root, t0, t0))

	var reported []string
	for _, d := range Diff(want, Snapshot(t, root), "ignored") {
		first, _, _ := strings.Cut(d, "\n")
		reported = append(reported, first)
	}
	assert.Equal(t, []string{
		`"b-second" differs:`, `"content" differs:`, `"gone" is missing`, `"hole" differs:`, `"mode" differs:`,
		`"mtime" differs:`, `"owner" differs:`, `"size" differs:`, `"symlink" differs:`, `"xattr" differs:`,
		`"new" appeared`,
	}, reported)
}

func writeAt(t *testing.T, path string, data []byte, off int64) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	require.NoError(t, err)
	defer f.Close()
	_, err = f.WriteAt(data, off)
	require.NoError(t, err)
}

// recorder keeps what AssertSame reports instead of failing the test.
type recorder struct {
	testing.TB
	errors []string
}

func (r *recorder) Helper()           {}
func (r *recorder) Error(args ...any) { r.errors = append(r.errors, fmt.Sprint(args...)) }
func (r *recorder) Errorf(format string, args ...any) {
	r.errors = append(r.errors, fmt.Sprintf(format, args...))
}

func TestAssertSameReportsAtMostTwentyDifferences(t *testing.T) {
	want, got := Tree{}, Tree{}
	for i := range 25 {
		want[fmt.Sprint(i)] = Entry{Mtime: 1}
		got[fmt.Sprint(i)] = Entry{Mtime: 2}
	}
	r := &recorder{TB: t}
	AssertSame(r, want, got)
	require.Len(t, r.errors, maxReported+1)
	assert.Equal(t, "and 5 more differences", r.errors[maxReported])

	r = &recorder{TB: t}
	AssertSame(r, want, want)
	assert.Empty(t, r.errors)
}
