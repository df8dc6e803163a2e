package testtree

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/c34478be/packer-plugin-maas/internal/test/testtool"
)

// BigDirEntries is how many files the metadata tree's bigdir holds: a
// directory of many blocks (an htree once e2fsck -D indexes it).
const BigDirEntries = 3000

const (
	deepLevels = 40         // directories above the deepest file
	pastMtime  = -300000000 // mtime of "one", before 1970
)

// MetadataTree writes a tree holding every kind of metadata a root
// filesystem tarball must carry and an ext4 reader must return, and
// returns its root. Without sparse it leaves out the sparse files:
// mkfs.ext4 1.47.0 -O inline_data copies them wrongly (it drops a trailing
// hole from the size and allocates a zero block at offset 0).
//
// It needs root (mknod, chown) and setcap and setfacl.
func MetadataTree(t testing.TB, sparse bool) string {
	t.Helper()
	testtool.RequireRoot(t)
	b := &treeBuilder{t: t, root: filepath.Join(t.TempDir(), "tree"), rnd: rand.New(rand.NewPCG(1, 2))}
	b.file("etc/os-release", []byte("PRETTY_NAME=\"Ubuntu 24.04 LTS\"\nID=ubuntu\nVERSION_CODENAME=noble\n"))
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

// RandomBytes returns n bytes from rnd with no zero byte, so that no tool
// turns a block of them into a hole.
func RandomBytes(rnd *rand.Rand, n int) []byte {
	data := make([]byte, n)
	for i := range data {
		data[i] = byte(1 + rnd.IntN(255))
	}
	return data
}

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
	b.dir(filepath.Dir(name))
	b.check(os.WriteFile(b.path(name), data, 0o644))
}

func (b *treeBuilder) dir(name string) {
	b.t.Helper()
	b.check(os.MkdirAll(b.path(name), 0o755))
}

func (b *treeBuilder) files() {
	b.file("empty", nil)
	b.file("one", []byte("x"))
	b.file("sixty", RandomBytes(b.rnd, 60))
	b.file("sixtyone", RandomBytes(b.rnd, 61))
	b.file("small", RandomBytes(b.rnd, 100))
	b.file("large", RandomBytes(b.rnd, 3<<20+123))
	// Directories small enough to be inline with inline_data.
	b.file("smalldir/a", []byte("a"))
	b.file("middir/entry-one-12", nil)
	b.file("middir/entry-two-12", nil)
}

// sparse writes a file of size with random data in the spans (offset,
// length) and holes elsewhere.
func (b *treeBuilder) sparse(name string, size int64, spans ...[2]int64) {
	b.t.Helper()
	f, err := os.Create(b.path(name))
	b.check(err)
	defer f.Close()
	for _, s := range spans {
		_, err := f.WriteAt(RandomBytes(b.rnd, int(s[1])), s[0])
		b.check(err)
	}
	b.check(f.Truncate(size))
}

func (b *treeBuilder) sparseFiles() {
	b.sparse("sparse", 3<<20, [2]int64{0, 4096}, [2]int64{1 << 20, 8192})
	b.sparse("trailinghole", 1<<20, [2]int64{0, 4096})
	// One 4 KiB block of data every other block: 1500 extents, an extent
	// tree of depth 2 with 4 KiB blocks.
	var every [][2]int64
	for i := range int64(1500) {
		every = append(every, [2]int64{i * 8192, 4096})
	}
	b.sparse("fragmented", 1500*8192, every...)
	// Data past 5 GiB needs triple indirect blocks in a block map.
	b.sparse("hugesparse", 5<<30+4196, [2]int64{5 << 30, 4196})
}

func (b *treeBuilder) links() {
	b.file("dirA/linked", RandomBytes(b.rnd, 5000))
	b.dir("dirB")
	b.check(os.Link(b.path("dirA/linked"), b.path("dirB/linked-too")))
	for name, target := range map[string]string{
		"short":    "target",
		"len59":    strings.Repeat("a", 59), // the longest fast symlink
		"len60":    strings.Repeat("b", 60),
		"long":     strings.Repeat("../", 60) + "etc/passwd",
		"dangling": "/does/not/exist",
		"todir":    "dirA",
	} {
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
	for i := range BigDirEntries {
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
	testtool.CombinedOutput(b.t, "setcap", "cap_net_raw+ep", b.path("xattr/caps"))
	b.file("xattr/acl", []byte("acl"))
	testtool.CombinedOutput(b.t, "setfacl", "-m", "u:1234:r,g:4321:rw", b.path("xattr/acl"))
	b.dir("xattr/acldir")
	testtool.CombinedOutput(b.t, "setfacl", "-d", "-m", "u:1234:rwx,g:5678:r", b.path("xattr/acldir"))
	testtool.CombinedOutput(b.t, "setfacl", "-m", "u:99:rx", b.path("xattr/acldir"))
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
	b.file("owners/high", []byte("uid and gid above 2^21"))
	b.check(os.Lchown(b.path("owners/high"), 3000000, 4000000))
	b.check(os.Symlink("high", b.path("owners/link")))
	b.check(os.Lchown(b.path("owners/link"), 70000, 80000))
	b.dir("owners/dir")
	b.check(os.Lchown(b.path("owners/dir"), 1000, 1000))
}

// setTimes gives every path a distinct mtime and an atime in the future,
// so that reading the tree (mkfs, a comparison) never updates atimes
// under relatime. Times stay within 32 bits: mkfs.ext4 -d drops
// nanoseconds and the epoch bits.
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
