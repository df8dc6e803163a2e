package export

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// debianPackages names the package of each host tool the tests run.
var debianPackages = map[string]string{
	"mkfs.ext4": "e2fsprogs",
	"mke2fs":    "e2fsprogs",
	"mkfs.xfs":  "xfsprogs",
	"mkfs.vfat": "dosfstools",
	"sgdisk":    "gdisk",
	"sfdisk":    "fdisk",
	"qemu-img":  "qemu-utils",
	"tar":       "tar",
	"setfacl":   "acl",
	"setcap":    "libcap2-bin",
	"truncate":  "coreutils",
	"dd":        "coreutils",
	"sync":      "coreutils",
	"cp":        "coreutils",
	"debugfs":   "e2fsprogs",
	"e2fsck":    "e2fsprogs",
	"resize2fs": "e2fsprogs",
	"pigz":      "pigz",
	"fuse2fs":   "fuse2fs",
}

// requireTool fails, naming the Debian package, when a tool is missing.
func requireTool(t testing.TB, name string) {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		t.Fatalf("%s is missing: apt-get install %s", name, debianPackages[name])
	}
}

// Special sizes of the metadata tree.
const (
	bigDirEntries = 3000
	deepLevels    = 40
)

// treeBuilder writes a tree holding every kind of metadata a root
// filesystem tarball must carry.
type treeBuilder struct {
	t    testing.TB
	root string
	rnd  *rand.Rand
}

// metadataTree builds the tree. Without sparse it leaves out sparse
// files: mkfs.ext4 1.47.0 -O inline_data copies them wrongly (a trailing
// hole is lost, a zero block is allocated at offset 0).
func metadataTree(t testing.TB, sparse bool) string {
	requireTool(t, "setfacl")
	requireTool(t, "setcap")
	b := &treeBuilder{t: t, root: filepath.Join(t.TempDir(), "tree"), rnd: rand.New(rand.NewPCG(4, 2))}
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

// randomBytes has no zero bytes, so mkfs never turns a block into a hole.
func (b *treeBuilder) randomBytes(n int) []byte {
	data := make([]byte, n)
	for i := range data {
		data[i] = byte(1 + b.rnd.IntN(255))
	}
	return data
}

func (b *treeBuilder) files() {
	b.file("empty", nil)
	b.file("one", []byte("x"))
	b.file("sixty", b.randomBytes(60))
	b.file("large", b.randomBytes(3<<20+123))
	b.file("smalldir/a", []byte("a"))
}

func (b *treeBuilder) sparse(name string, size int64, spans ...[2]int64) {
	f, err := os.Create(b.path(name))
	b.check(err)
	defer f.Close()
	for _, s := range spans {
		_, err := f.WriteAt(b.randomBytes(int(s[1])), s[0])
		b.check(err)
	}
	b.check(f.Truncate(size))
}

func (b *treeBuilder) sparseFiles() {
	b.sparse("sparse", 3<<20, [2]int64{0, 4096}, [2]int64{1 << 20, 8192})
	b.sparse("trailinghole", 1<<20, [2]int64{0, 4096})
	var every [][2]int64
	for i := range int64(600) {
		every = append(every, [2]int64{i * 8192, 4096})
	}
	b.sparse("fragmented", 600*8192, every...)
	// Past 5 GiB: triple indirect blocks in a block map.
	b.sparse("hugesparse", 5<<30+4196, [2]int64{5 << 30, 4196})
}

func (b *treeBuilder) links() {
	b.file("dirA/linked", b.randomBytes(5000))
	b.check(os.MkdirAll(b.path("dirB"), 0o755))
	b.check(os.Link(b.path("dirA/linked"), b.path("dirB/linked-too")))
	for name, target := range map[string]string{
		"short":    "target",
		"len60":    strings.Repeat("b", 60),
		"long":     strings.Repeat("../", 60) + "etc/passwd",
		"dangling": "/does/not/exist",
		"todir":    "dirA",
	} {
		b.check(os.Symlink(target, b.path(name)))
	}
}

func (b *treeBuilder) specials() {
	b.check(os.MkdirAll(b.path("dev"), 0o755))
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
	b.check(os.MkdirAll(b.path("modes/sticky"), 0o755))
	b.check(unix.Chmod(b.path("modes/setuid"), 0o4755))
	b.check(unix.Chmod(b.path("modes/setgid"), 0o2711))
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
	run(b.t, "setcap", "cap_net_raw+ep", b.path("xattr/caps"))
	b.file("xattr/acl", []byte("acl"))
	run(b.t, "setfacl", "-m", "u:1234:r,g:4321:rw", b.path("xattr/acl"))
	b.check(os.MkdirAll(b.path("xattr/acldir"), 0o755))
	run(b.t, "setfacl", "-d", "-m", "u:1234:rwx,g:5678:r", b.path("xattr/acldir"))
	b.file("xattr/user", []byte("user"))
	b.check(unix.Setxattr(b.path("xattr/user"), "user.comment", []byte("hello"), 0))
	b.check(unix.Setxattr(b.path("xattr/user"), "trusted.secret", []byte{0, 1, 2, 255}, 0))
	b.file("xattr/selinux", []byte("labelled"))
	b.check(unix.Setxattr(b.path("xattr/selinux"), "security.selinux", []byte("system_u:object_r:bin_t:s0\x00"), 0))
	// More than fits in the inode: the rest goes to an xattr block.
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
}

// setTimes gives every path a distinct mtime (one before 1970).
func (b *treeBuilder) setTimes() {
	base := time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC).Unix()
	i := int64(0)
	b.check(filepath.WalkDir(b.root, func(path string, _ os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		i++
		mtime := base + i*1000
		if filepath.Base(path) == "one" {
			mtime = -300000000
		}
		ts := []unix.Timespec{unix.NsecToTimespec(mtime * 1e9), unix.NsecToTimespec(mtime * 1e9)}
		return unix.UtimesNanoAt(unix.AT_FDCWD, path, ts, unix.AT_SYMLINK_NOFOLLOW)
	}))
}

// node is every attribute of one file that the tarball must carry.
type node struct {
	Mode     uint32
	UID, GID uint32
	Mtime    int64
	Size     int64
	Rdev     uint64
	Target   string
	Data     string // data ranges and a hash of their bytes; holes read as zeros
	Xattrs   string
	LinkPeer string // the first path (in walk order) of the same inode
}

// snapshot records every file under root by its path relative to root.
func snapshot(t testing.TB, root string) map[string]node {
	t.Helper()
	tree := map[string]node{}
	firstOfInode := map[uint64]string{}
	require.NoError(t, filepath.WalkDir(root, func(p string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			return err
		}
		n := node{Mode: st.Mode, UID: st.Uid, GID: st.Gid, Mtime: st.Mtim.Sec, Rdev: st.Rdev, Xattrs: listXattrs(t, p)}
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFREG:
			n.Size, n.Data = st.Size, fileData(t, p, st.Size)
		case unix.S_IFLNK:
			n.Target, _ = os.Readlink(p)
		}
		if st.Mode&unix.S_IFMT != unix.S_IFDIR && st.Nlink > 1 {
			if first, ok := firstOfInode[st.Ino]; ok {
				n.LinkPeer = first
			} else {
				firstOfInode[st.Ino] = rel
			}
		}
		tree[rel] = n
		return nil
	}))
	return tree
}

// fileData lists the data ranges SEEK_DATA/SEEK_HOLE report, with a hash
// of the bytes in them (holes read as zeros, so this is the content).
func fileData(t testing.TB, p string, size int64) string {
	f, err := os.Open(p)
	require.NoError(t, err)
	defer f.Close()
	h := sha256.New()
	var ranges []string
	for off := int64(0); off < size; {
		start, err := unix.Seek(int(f.Fd()), off, unix.SEEK_DATA)
		if errors.Is(err, unix.ENXIO) {
			break
		}
		require.NoError(t, err)
		end, err := unix.Seek(int(f.Fd()), start, unix.SEEK_HOLE)
		require.NoError(t, err)
		_, err = io.Copy(h, io.NewSectionReader(f, start, end-start))
		require.NoError(t, err)
		ranges = append(ranges, fmt.Sprintf("%d-%d", start, end))
		off = end
	}
	return strings.Join(ranges, ",") + " " + hex.EncodeToString(h.Sum(nil))
}

func listXattrs(t testing.TB, p string) string {
	buf := make([]byte, 64<<10)
	n, err := unix.Llistxattr(p, buf)
	require.NoError(t, err, p)
	var out []string
	for _, name := range strings.Split(strings.TrimRight(string(buf[:n]), "\x00"), "\x00") {
		if name == "" {
			continue
		}
		value := make([]byte, 64<<10)
		m, err := unix.Lgetxattr(p, name, value)
		require.NoError(t, err, "%s: %s", p, name)
		out = append(out, name+"="+hex.EncodeToString(value[:m]))
	}
	slices.Sort(out) // listxattr's order carries no meaning
	return strings.Join(out, ";")
}

// requireSameTree compares snapshots path by path, ignoring the paths in
// skip (expected differences, each with its reason at the caller).
func requireSameTree(t testing.TB, want, got map[string]node, skip ...string) {
	t.Helper()
	ignored := map[string]bool{}
	for _, p := range skip {
		ignored[p] = true
	}
	for p, w := range want {
		if ignored[p] {
			continue
		}
		if g, ok := got[p]; !ok {
			t.Errorf("%q is missing from the extracted tree", p)
		} else if w != g {
			t.Errorf("%q differs:\nsource    %+v\nextracted %+v", p, w, g)
		}
	}
	for p := range got {
		if _, ok := want[p]; !ok && !ignored[p] {
			t.Errorf("%q appeared in the extracted tree", p)
		}
	}
}
