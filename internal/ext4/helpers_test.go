package ext4

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// toolPackages names the Debian package of each external tool the tests run.
var toolPackages = map[string]string{
	"mkfs.ext4": "e2fsprogs",
	"debugfs":   "e2fsprogs",
	"e2fsck":    "e2fsprogs",
	"setfattr":  "attr",
	"setfacl":   "acl",
	"setcap":    "libcap2-bin",
}

// requireTools fails (never skips) when a tool is missing.
func requireTools(t testing.TB, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s not found: install the Debian package %s", tool, toolPackages[tool])
		}
	}
}

func command(t testing.TB, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

const (
	testLabel = "test-label"
	testUUID  = "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
)

// mkfs makes an image of size bytes from tree with mkfs.ext4 and the extra
// arguments, and returns its path.
func mkfs(t testing.TB, tree, size string, args ...string) string {
	t.Helper()
	requireTools(t, "mkfs.ext4")
	img := filepath.Join(t.TempDir(), "fs.img")
	all := append([]string{"-q", "-F", "-L", testLabel, "-U", testUUID, "-E", "nodiscard", "-d", tree}, args...)
	command(t, "mkfs.ext4", append(all, img, size)...)
	return img
}

// optimizeDirs runs e2fsck -D, which turns multi-block directories into
// htree directories where dir_index is on (mkfs.ext4 -d writes them
// linearly).
func optimizeDirs(t testing.TB, img string) {
	t.Helper()
	requireTools(t, "e2fsck")
	out, err := exec.Command("e2fsck", "-fyD", img).CombinedOutput()
	var exit *exec.ExitError
	if err != nil && !(errors.As(err, &exit) && exit.ExitCode() == 1) { // 1: fixed (optimized)
		t.Fatalf("e2fsck -fyD %s: %v\n%s", img, err, out)
	}
}

// openImage opens an image file with Open.
func openImage(t testing.TB, img string) *FS {
	t.Helper()
	f, err := os.Open(img)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	st, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	fs, err := Open(f, st.Size())
	if err != nil {
		t.Fatalf("Open(%s): %v", img, err)
	}
	return fs
}

// span is a byte range written into a sparse file.
type span struct{ off, len int64 }

// randomBytes returns n bytes from a seeded generator, with no zero bytes
// so that mkfs never turns a block of them into a hole.
func randomBytes(rnd *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(1 + rnd.IntN(255))
	}
	return b
}

func writeSparse(t testing.TB, rnd *rand.Rand, path string, size int64, spans []span) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, s := range spans {
		if _, err := f.WriteAt(randomBytes(rnd, int(s.len)), s.off); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
}

// Special paths of the test tree.
const (
	bigDirEntries = 3000
	deepLevels    = 40
	pastMtime     = -300000000 // 1960
)

// treeBuilder writes the test tree under root.
type treeBuilder struct {
	t    testing.TB
	root string
	rnd  *rand.Rand
}

func (b *treeBuilder) path(name string) string { return filepath.Join(b.root, name) }

func (b *treeBuilder) check(err error) {
	b.t.Helper()
	if err != nil {
		b.t.Fatal(err)
	}
}

func (b *treeBuilder) file(name string, data []byte) {
	b.t.Helper()
	b.check(os.MkdirAll(filepath.Dir(b.path(name)), 0o755))
	b.check(os.WriteFile(b.path(name), data, 0o644))
}

func (b *treeBuilder) dir(name string) {
	b.t.Helper()
	b.check(os.MkdirAll(b.path(name), 0o755))
}

// buildTree makes a tree holding every kind of metadata the reader must
// carry, and returns its root. Without sparse, it leaves out the sparse
// files: mkfs.ext4 1.47.0 -O inline_data gets them wrong (it drops a
// trailing hole from the size and allocates a zero block at offset 0).
func buildTree(t testing.TB, sparse bool) string {
	requireTools(t, "setfacl", "setcap")
	b := &treeBuilder{t: t, root: filepath.Join(t.TempDir(), "tree"), rnd: rand.New(rand.NewPCG(1, 2))}
	b.dir("")
	b.files()
	if sparse {
		b.sparseFiles()
	}
	b.links()
	b.specials()
	b.names()
	b.xattrs()
	b.owners()
	b.setTimes()
	return b.root
}

func (b *treeBuilder) files() {
	b.file("empty", nil)
	b.file("one", []byte("x"))
	b.file("sixty", randomBytes(b.rnd, 60))
	b.file("sixtyone", randomBytes(b.rnd, 61))
	b.file("small", randomBytes(b.rnd, 100))
	b.file("large", randomBytes(b.rnd, 3<<20+123))
	// Directories small enough to be inline with inline_data.
	b.file("smalldir/a", []byte("a"))
	b.file("middir/entry-one-12", nil)
	b.file("middir/entry-two-12", nil)
}

func (b *treeBuilder) sparseFiles() {
	writeSparse(b.t, b.rnd, b.path("sparse"), 3<<20, []span{{0, 4096}, {1 << 20, 8192}})
	// One 4 KiB block of data every other block: 1500 extents, an
	// extent tree of depth 2 with 4 KiB blocks.
	var every []span
	for i := range int64(1500) {
		every = append(every, span{i * 8192, 4096})
	}
	writeSparse(b.t, b.rnd, b.path("fragmented"), 1500*8192, every)
	// Data past 5 GiB needs triple indirect blocks in a block map.
	writeSparse(b.t, b.rnd, b.path("hugesparse"), 5<<30+4196, []span{{5 << 30, 4196}})
}

func (b *treeBuilder) links() {
	b.file("dirA/linked", randomBytes(b.rnd, 5000))
	b.dir("dirB")
	b.check(os.Link(b.path("dirA/linked"), b.path("dirB/linked-too")))
	symlinks := map[string]string{
		"short":    "target",
		"len59":    strings.Repeat("a", 59),
		"len60":    strings.Repeat("b", 60),
		"long":     strings.Repeat("../", 60) + "etc/passwd",
		"dangling": "/does/not/exist",
		"todir":    "dirA",
	}
	for name, target := range symlinks {
		b.check(os.Symlink(target, b.path(name)))
	}
}

func (b *treeBuilder) specials() {
	b.dir("dev")
	if err := unix.Mknod(b.path("dev/null"), unix.S_IFCHR|0o666, int(unix.Mkdev(1, 3))); err != nil {
		b.t.Fatalf("mknod needs root: %v", err)
	}
	b.check(unix.Mknod(b.path("dev/bigminor"), unix.S_IFCHR|0o600, int(unix.Mkdev(259, 300000))))
	b.check(unix.Mknod(b.path("dev/sda1"), unix.S_IFBLK|0o660, int(unix.Mkdev(8, 1))))
	b.check(unix.Mkfifo(b.path("dev/fifo"), 0o644))
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: b.path("dev/sock"), Net: "unix"})
	b.check(err)
	l.SetUnlinkOnClose(false)
	b.check(l.Close())

	b.file("modes/setuid", []byte("#!/bin/sh\n"))
	b.file("modes/setgid", []byte("#!/bin/sh\n"))
	b.dir("modes/setgiddir")
	b.dir("modes/sticky")
	b.check(unix.Chmod(b.path("modes/setuid"), 0o4755))
	b.check(unix.Chmod(b.path("modes/setgid"), 0o2711))
	b.check(unix.Chmod(b.path("modes/setgiddir"), 0o2775))
	b.check(unix.Chmod(b.path("modes/sticky"), 0o1777))
}

func (b *treeBuilder) names() {
	for i := range bigDirEntries {
		b.file(fmt.Sprintf("bigdir/entry-%04d", i), nil)
	}
	b.file(strings.Repeat("n", 255), []byte("long name"))
	b.file("bad-\xff\xfe-name", []byte("not UTF-8"))
	deep := ""
	for i := range deepLevels {
		deep = filepath.Join(deep, fmt.Sprintf("level-%02d-abcdefghij", i))
	}
	b.file(filepath.Join(deep, "bottom"), []byte("deep"))
}

func (b *treeBuilder) xattrs() {
	b.file("xattr/caps", []byte("binary"))
	command(b.t, "setcap", "cap_net_raw+ep", b.path("xattr/caps"))
	b.file("xattr/acl", []byte("acl"))
	command(b.t, "setfacl", "-m", "u:1234:r,g:4321:rw", b.path("xattr/acl"))
	b.dir("xattr/acldir")
	command(b.t, "setfacl", "-d", "-m", "u:1234:rwx,g:5678:r", b.path("xattr/acldir"))
	command(b.t, "setfacl", "-m", "u:99:rx", b.path("xattr/acldir"))
	b.file("xattr/user", []byte("user"))
	b.check(unix.Setxattr(b.path("xattr/user"), "user.comment", []byte("hello"), 0))
	b.check(unix.Setxattr(b.path("xattr/user"), "trusted.secret", []byte{0, 1, 2, 255}, 0))
	b.file("xattr/selinux", []byte("labelled"))
	b.check(unix.Setxattr(b.path("xattr/selinux"), "security.selinux", []byte("system_u:object_r:bin_t:s0\x00"), 0))
	// More than fits in the inode: the rest goes to an xattr block (of
	// 1 KiB at least).
	b.file("xattr/many", nil)
	for i := range 6 {
		b.check(unix.Setxattr(b.path("xattr/many"), fmt.Sprintf("user.attr%02d", i), bytes.Repeat([]byte{byte('a' + i)}, 100), 0))
	}
}

func (b *treeBuilder) owners() {
	b.file("owners/high", []byte("high ids"))
	b.check(os.Lchown(b.path("owners/high"), 3000000, 4000000))
	b.check(os.Symlink("high", b.path("owners/link")))
	b.check(os.Lchown(b.path("owners/link"), 70000, 80000))
	b.dir("owners/dir")
	b.check(os.Lchown(b.path("owners/dir"), 1000, 1000))
}

// setTimes gives every path a distinct mtime and an atime in the future,
// so that reading the tree (mkfs, the comparison) never updates atimes
// under relatime. Times stay within 32 bits: mkfs.ext4 -d drops
// nanoseconds and the epoch bits (TestTimestampExtra covers those).
func (b *treeBuilder) setTimes() {
	base := time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC).Unix()
	atime := time.Date(2037, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
	i := int64(0)
	b.check(filepath.WalkDir(b.root, func(path string, _ os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		i++
		mtime := base + i*1000
		if filepath.Base(path) == "one" {
			mtime = pastMtime
		}
		ts := []unix.Timespec{unix.NsecToTimespec((atime + i) * 1e9), unix.NsecToTimespec(mtime * 1e9)}
		return unix.UtimesNanoAt(unix.AT_FDCWD, path, ts, unix.AT_SYMLINK_NOFOLLOW)
	}))
}
