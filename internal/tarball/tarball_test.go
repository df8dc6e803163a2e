package tarball

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/c34478be/packer-plugin-maas/internal/fstree/dirfs"
	"github.com/c34478be/packer-plugin-maas/internal/test/testtool"
	"github.com/c34478be/packer-plugin-maas/internal/test/testtree"
)

var (
	longName   = strings.Repeat("n", 255)
	nonUTF8    = "caf\xe9-\xff\xfe"
	deepDir    = filepath.Join("deep", strings.Repeat("d", 60), strings.Repeat("e", 60), strings.Repeat("f", 60))
	longTarget = "/" + strings.Repeat("target/", 30) + "end"
)

// buildRichTree makes a tree with every kind of file and metadata a root
// filesystem holds. It returns its path and the relative path of a unix
// socket in it, which tar cannot hold.
func buildRichTree(t testing.TB) (root, socket string) {
	testtool.RequireRoot(t)
	t.Helper()
	root = t.TempDir()
	at := func(p string) string { return filepath.Join(root, p) }
	mkdir := func(p string, mode uint32) {
		require.NoError(t, os.MkdirAll(at(p), 0o755))
		require.NoError(t, syscall.Chmod(at(p), mode))
	}
	write := func(p, content string, mode uint32) {
		require.NoError(t, os.WriteFile(at(p), []byte(content), 0o600))
		require.NoError(t, syscall.Chmod(at(p), mode))
	}
	for _, d := range []string{"etc", "usr/bin", "opt", "var/log", "dev", "big", deepDir} {
		mkdir(d, 0o755)
	}
	mkdir("tmp", 0o1777)
	mkdir("srv/shared", 0o2775)
	write("etc/hostname", "builder\n", 0o644)
	write("etc/empty", "", 0o600)

	// setuid/setgid files and owners beyond ustar's 2^21.
	write("usr/bin/su", "#!/bin/su\n", 0o644)
	require.NoError(t, syscall.Chmod(at("usr/bin/su"), 0o4755))
	write("usr/bin/wall", "wall", 0o644)
	require.NoError(t, os.Lchown(at("usr/bin/wall"), 0, 5))
	require.NoError(t, syscall.Chmod(at("usr/bin/wall"), 0o2755))
	write("srv/shared/bigid", "owned by a high uid", 0o640)
	require.NoError(t, os.Lchown(at("srv/shared/bigid"), 3000000, 3000001))

	// Extended attributes: capabilities, ACLs, SELinux, trusted, user.
	write("usr/bin/ping", "ping binary", 0o755)
	run(t, "setcap", "cap_net_raw+ep", at("usr/bin/ping"))
	run(t, "setfacl", "-m", "u:1234:rw,g:2345:r", at("etc/hostname"))
	run(t, "setfacl", "-m", "u:1234:rwx", "-d", "-m", "u:1234:rx", at("srv/shared"))
	run(t, "setfattr", "-n", "security.selinux", "-v", "system_u:object_r:bin_t:s0", at("usr/bin/ping"))
	run(t, "setfattr", "-n", "trusted.overlay.opaque", "-v", "0x00ff0a3d25", at("opt"))
	run(t, "setfattr", "-n", "user.with=equals%percent", "-v", "value\nwith newline", at("etc/empty"))

	// Hard links across directories, one of them long-named.
	write("usr/bin/python3.12", "interpreter", 0o755)
	require.NoError(t, os.Link(at("usr/bin/python3.12"), at("opt/python")))
	require.NoError(t, os.Link(at("usr/bin/python3.12"), at(filepath.Join(deepDir, "python"))))

	// Symlinks: relative, absolute, dangling, long target.
	require.NoError(t, os.Symlink("hostname", at("etc/alias")))
	require.NoError(t, os.Symlink("/etc/hostname", at("opt/absolute")))
	require.NoError(t, os.Symlink("/does/not/exist", at("opt/dangling")))
	require.NoError(t, os.Symlink(longTarget, at("opt/long")))
	require.NoError(t, os.Lchown(at("opt/long"), 4000000, 4000001))

	// Devices and FIFOs.
	require.NoError(t, syscall.Mknod(at("dev/null"), syscall.S_IFCHR|0o666, 1<<8|3))
	require.NoError(t, syscall.Chmod(at("dev/null"), 0o666))
	require.NoError(t, syscall.Mknod(at("dev/loop0"), syscall.S_IFBLK|0o660, 7<<8))
	require.NoError(t, syscall.Mkfifo(at("dev/initctl"), 0o600))

	// Sparse files: holes inside, at the end, and nothing but a hole.
	writeSparse(t, at("var/log/lastlog"), 64<<20, map[int64]string{4096: "first", 40 << 20: "middle"})
	writeSparse(t, at("var/log/tail"), 8<<20, map[int64]string{0: strings.Repeat("head", 2048)})
	writeSparse(t, at("var/log/hole"), 1<<20, nil)
	writeSparse(t, at("var/log/almost-full"), 8192, map[int64]string{0: strings.Repeat("x", 8000)})

	// A big directory, long and non-UTF-8 names, a deep path.
	for i := range 3000 {
		write(fmt.Sprintf("big/entry-%04d", i), fmt.Sprint(i), 0o644)
	}
	write("etc/"+longName, "255-byte name", 0o644)
	write("etc/"+nonUTF8, "latin-1 name", 0o644)
	write(filepath.Join(deepDir, longName), "deep and long", 0o644)

	socket = "var/run.sock"
	l, err := net.Listen("unix", at(socket))
	require.NoError(t, err)
	t.Cleanup(func() { l.Close() })

	// Distinct mtimes, set last (bottom-up) so nothing changes them again.
	old := time.Date(2001, 2, 3, 4, 5, 6, 700000000, time.UTC)
	require.NoError(t, os.Chtimes(at("etc/hostname"), old, old))
	setLinkMtime(t, at("opt/dangling"), old.Add(time.Hour))
	require.NoError(t, os.Chtimes(at("etc"), old, old))
	return root, socket
}

// writeSparse makes a file of size with data only at the given offsets.
func writeSparse(t testing.TB, p string, size int64, data map[int64]string) {
	t.Helper()
	f, err := os.Create(p)
	require.NoError(t, err)
	defer f.Close()
	require.NoError(t, f.Truncate(size))
	for off, s := range data {
		_, err := f.WriteAt([]byte(s), off)
		require.NoError(t, err)
	}
}

func setLinkMtime(t testing.TB, p string, m time.Time) {
	t.Helper()
	ts := []unix.Timespec{unix.NsecToTimespec(m.UnixNano()), unix.NsecToTimespec(m.UnixNano())}
	require.NoError(t, unix.UtimesNanoAt(unix.AT_FDCWD, p, ts, unix.AT_SYMLINK_NOFOLLOW))
}

func TestRoundTripThroughCurtinTar(t *testing.T) {
	src, socket := buildRichTree(t)
	tgz := filepath.Join(t.TempDir(), "root.tgz")
	out, stats := packDir(t, src, tgz, Options{})

	want := testtree.SnapshotWithBlocks(t, src)
	delete(want, socket)
	got := testtree.SnapshotWithBlocks(t, extractCurtin(t, tgz))
	testtree.AssertSame(t, want, got)

	// Holes stayed holes (the whole-file comparison checked blocks too).
	require.Less(t, got["var/log/lastlog"].Blocks*512, int64(1<<20))
	require.Equal(t, int64(1), stats.SkippedSockets)
	require.Equal(t, int64(2), stats.Hardlinks)
	require.Equal(t, int64(3), stats.SparseFiles, "lastlog, tail and hole; almost-full has no hole")
	require.Equal(t, int64(2), stats.Devices)
	require.Equal(t, int64(1), stats.FIFOs)
	require.Equal(t, int64(len(want)), stats.Entries)

	// The file and its digest are what sha256sum and stat see.
	sum := strings.Fields(run(t, "sha256sum", tgz))[0]
	require.Equal(t, sum, out.SHA256)
	fi, err := os.Stat(tgz)
	require.NoError(t, err)
	require.Equal(t, fi.Size(), out.Size)
	require.Equal(t, os.FileMode(0o644), fi.Mode().Perm())
}

func TestListingIsSortedAndStable(t *testing.T) {
	src, _ := buildRichTree(t)
	dir := t.TempDir()
	first, _ := packDir(t, src, filepath.Join(dir, "a.tgz"), Options{})
	second, _ := packDir(t, src, filepath.Join(dir, "b.tgz"), Options{})
	require.Equal(t, first.SHA256, second.SHA256, "the same tree must give the same bytes")

	names := strings.Split(strings.TrimSuffix(run(t, "tar", "--quoting-style=literal", "-tzf", first.Path), "\n"), "\n")
	require.Equal(t, "./", names[0])
	for _, n := range names {
		require.True(t, strings.HasPrefix(n, "./"), "member %q lacks ./", n)
	}
	want := depthFirstSorted(t, src)
	for i := range min(len(want), len(names)) {
		require.Equal(t, want[i], names[i], "member %d", i)
	}
	require.Len(t, names, len(want))

	verbose := run(t, "tar", "--numeric-owner", "-tvzf", first.Path)
	require.Contains(t, verbose, "-rwsr-xr-x 0/0")
	require.Contains(t, verbose, "drwxrwxrwt 0/0")
	require.Contains(t, verbose, "-rw-r----- 3000000/3000001")
	require.Contains(t, verbose, "./usr/bin/python3.12 link to ./"+filepath.Join(deepDir, "python"))
	require.Contains(t, verbose, "./opt/long -> "+longTarget)
}

// depthFirstSorted lists a host tree as the archive must: parents first,
// each directory's names in byte order, directories with a trailing
// slash, without sockets.
func depthFirstSorted(t testing.TB, root string) []string {
	t.Helper()
	names := []string{"./"}
	var walk func(dir, prefix string)
	walk = func(dir, prefix string) {
		entries, err := os.ReadDir(dir)
		require.NoError(t, err)
		slices.SortFunc(entries, func(a, b os.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
		for _, e := range entries {
			switch {
			case e.Type()&os.ModeSocket != 0:
			case e.IsDir():
				names = append(names, prefix+e.Name()+"/")
				walk(filepath.Join(dir, e.Name()), prefix+e.Name()+"/")
			default:
				names = append(names, prefix+e.Name())
			}
		}
	}
	walk(root, "./")
	return names
}

// TestGoReaderAgrees reads the archive with Go's archive/tar, an
// independent reader of PAX and GNU sparse 1.0.
func TestGoReaderAgrees(t *testing.T) {
	src := t.TempDir()
	writeSparse(t, filepath.Join(src, "sparse"), 3<<20, map[int64]string{1 << 20: "data"})
	require.NoError(t, os.Symlink(longTarget, filepath.Join(src, strings.Repeat("l", 150))))
	fsys, err := dirfs.Open(src)
	require.NoError(t, err)
	var buf bytes.Buffer
	_, err = WriteTar(context.Background(), &buf, fsys, Options{})
	require.NoError(t, err)
	require.Zero(t, buf.Len()%recordSize)

	r := tar.NewReader(&buf)
	var seen []string
	for {
		h, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err)
		seen = append(seen, h.Name)
		switch h.Name {
		case "./sparse":
			require.Equal(t, int64(3<<20), h.Size)
			data, err := io.ReadAll(r)
			require.NoError(t, err)
			want := make([]byte, 3<<20)
			copy(want[1<<20:], "data")
			require.Equal(t, want, data)
		case "./" + strings.Repeat("l", 150):
			require.Equal(t, longTarget, h.Linkname)
		}
	}
	require.Equal(t, []string{"./", "./" + strings.Repeat("l", 150), "./sparse"}, seen)
}

func TestClampMtime(t *testing.T) {
	src := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(src, "new"), nil, 0o644))
	old := time.Unix(1000000000, 0)
	require.NoError(t, os.WriteFile(filepath.Join(src, "old"), nil, 0o644))
	require.NoError(t, os.Chtimes(filepath.Join(src, "old"), old, old))
	clamp := time.Unix(1500000000, 0)
	tgz := filepath.Join(t.TempDir(), "c.tgz")
	packDir(t, src, tgz, Options{ClampMtime: &clamp})
	got := testtree.Snapshot(t, extractCurtin(t, tgz))
	require.Equal(t, clamp.Unix(), got["new"].Mtime)
	require.Equal(t, clamp.Unix(), got["."].Mtime)
	require.Equal(t, old.Unix(), got["old"].Mtime)
}

// TestByteIdenticalToGNUTar compares the archive with what GNU tar writes
// for the same tree, sorted and without the sub-second times it adds.
// GNU tar puts its process ID into the stand-in name of a sparse member
// (GNUSparseFile.PID); that name and the checksum are not compared.
func TestByteIdenticalToGNUTar(t *testing.T) {
	testtool.RequireRoot(t)
	src := t.TempDir()
	at := func(p string) string { return filepath.Join(src, p) }
	long := strings.Repeat("d", 110)
	for _, d := range []string{"etc", "usr/bin", long} {
		require.NoError(t, os.MkdirAll(at(d), 0o755))
	}
	require.NoError(t, os.WriteFile(at("etc/hostname"), []byte("hi\n"), 0o644))
	require.NoError(t, os.Lchown(at("etc/hostname"), 3000000, 5))
	require.NoError(t, os.Link(at("etc/hostname"), at("usr/bin/hl")))
	require.NoError(t, os.Symlink("/etc/hostname", at("usr/bin/sl")))
	require.NoError(t, os.Symlink(strings.Repeat("x", 120), at("usr/bin/longlink")))
	require.NoError(t, syscall.Mkfifo(at("usr/bin/fifo"), 0o644))
	require.NoError(t, syscall.Mknod(at("usr/bin/null"), syscall.S_IFCHR|0o644, 1<<8|3))
	require.NoError(t, os.WriteFile(at(filepath.Join(long, strings.Repeat("f", 50))), []byte("x\n"), 0o644))
	run(t, "setfattr", "-n", "user.a=b", "-v", "0x000a", at("etc"))
	run(t, "setcap", "cap_net_raw+ep", at("usr/bin/hl"))
	writeSparse(t, at("usr/sparse"), 8<<20, map[int64]string{4096: "a", 6 << 20: "b"})
	whole := time.Unix(1700000000, 0)
	require.NoError(t, filepath.WalkDir(src, func(p string, _ os.DirEntry, err error) error {
		require.NoError(t, err)
		setLinkMtime(t, p, whole)
		return nil
	}))

	gnu := filepath.Join(t.TempDir(), "gnu.tar")
	run(t, "tar", "-C", src, "--sort=name", "--format=pax", "--numeric-owner", "--xattrs", "--xattrs-include=*",
		"--pax-option=delete=atime,delete=ctime,delete=mtime", "-Scf", gnu, ".")
	want, err := os.ReadFile(gnu)
	require.NoError(t, err)

	fsys, err := dirfs.Open(src)
	require.NoError(t, err)
	var ours bytes.Buffer
	_, err = WriteTar(context.Background(), &ours, fsys, Options{})
	require.NoError(t, err)
	got := ours.Bytes()
	require.Equal(t, len(want), len(got))
	for off := 0; off < len(want); off += blockSize {
		w, g := want[off:off+blockSize], got[off:off+blockSize]
		if bytes.Contains(w[:nameLen], []byte("/GNUSparseFile.")) {
			w, g = withoutNameAndChecksum(w), withoutNameAndChecksum(g)
			require.Contains(t, string(got[off:off+nameLen]), "./usr/GNUSparseFile.0/sparse")
		}
		require.Equal(t, string(w), string(g), "block %d differs", off/blockSize)
	}
}

func withoutNameAndChecksum(block []byte) []byte {
	b := slices.Clone(block)
	clear(b[:nameLen])
	clear(b[offChksum : offChksum+8])
	return b
}
