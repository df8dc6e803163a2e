package testtree

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/c34478be/packer-plugin-maas/internal/test/testtool"
)

// HugeDirEntries is the size of XFSForms' largest directory: enough for
// the extent btree form on a 4 KiB-block XFS.
const HugeDirEntries = 100000

// XFSMaxMinor is the largest device minor XFS holds: it keeps device
// numbers as major<<18|minor.
const XFSMaxMinor = 1<<18 - 1

// XFSForms writes, below root (a mounted XFS, as root), one of each
// on-disk form an XFS reader decodes: directories in short form, block,
// leaf, node and (with huge) btree form; files with an extent list, an
// extent btree, unwritten extents and holes, and one sharing blocks where
// reflink is on; inline and remote symlinks; xattrs in short form, leaf
// and node blocks, with remote values, and POSIX ACLs. It needs cp,
// setfacl and setcap.
func XFSForms(t testing.TB, root string, huge bool) {
	t.Helper()
	w := &formWriter{t: t, root: root, rnd: rand.New(rand.NewPCG(3, 4))}
	w.dir("dirs/shortform", 3, 8)
	w.dir("dirs/block", 30, 20)
	w.dir("dirs/leaf", 300, 20)
	w.dir("dirs/node", 3000, 20)
	if huge {
		start := time.Now()
		w.file("dirs/target", []byte("linked 100000 times"))
		w.mkdir("dirs/btree")
		for i := range HugeDirEntries {
			w.check(unix.Link(w.path("dirs/target"), w.path(fmt.Sprintf("dirs/btree/link-with-a-long-name-%06d", i))))
		}
		t.Logf("%d hard links in %v", HugeDirEntries, time.Since(start))
	}
	w.mkdir("dev")
	w.check(unix.Mknod(w.path("dev/bigminor"), unix.S_IFCHR|0o600, int(unix.Mkdev(259, XFSMaxMinor))))
	w.files()
	w.links()
	w.xattrs()
}

func (w *formWriter) files() {
	w.file("files/small", []byte("small"))
	w.file("files/random", RandomBytes(w.rnd, 3<<20+123))
	// Shares the blocks of files/random where reflink is on.
	testtool.CombinedOutput(w.t, "cp", "--reflink=auto", w.path("files/random"), w.path("files/reflinked"))
	f := w.create("files/btree") // one block in two: many extents
	for i := range int64(400) {
		_, err := f.WriteAt(RandomBytes(w.rnd, 4096), i*8192)
		w.check(err)
	}
	w.check(f.Close())
	f = w.create("files/unwritten")
	w.check(Fallocate(f, false, 1<<20))
	_, err := f.WriteAt(bytes.Repeat([]byte("XY"), 4096), 256<<10)
	w.check(err)
	w.check(f.Close())
	f = w.create("files/unwritten-past-eof")
	w.check(Fallocate(f, true, 1<<20))
	_, err = f.WriteAt([]byte("head"), 0)
	w.check(err)
	w.check(f.Close())
	f = w.create("files/sparse")
	_, err = f.WriteAt([]byte("start"), 0)
	w.check(err)
	_, err = f.WriteAt([]byte("middle"), 512<<20)
	w.check(err)
	w.check(f.Truncate(1 << 30))
	w.check(f.Close())
}

func (w *formWriter) links() {
	w.mkdir("links")
	w.check(os.Symlink("short", w.path("links/inline")))
	w.check(os.Symlink(strings.Repeat("remote/", 146), w.path("links/remote")))
}

func (w *formWriter) xattrs() {
	run := testtool.CombinedOutput
	w.file("xattrs/shortform", nil)
	w.check(unix.Setxattr(w.path("xattrs/shortform"), "user.a", []byte("1"), 0))
	w.check(unix.Setxattr(w.path("xattrs/shortform"), "security.selinux", []byte("system_u:object_r:etc_t:s0\x00"), 0))
	w.check(unix.Setxattr(w.path("xattrs/shortform"), "trusted.t", []byte{0, 1, 2}, 0))
	w.manyXattrs("xattrs/leaf", 5, 100)
	w.manyXattrs("xattrs/node", 2000, 10)
	w.file("xattrs/remote", nil)
	w.check(unix.Setxattr(w.path("xattrs/remote"), "user.five-k", RandomBytes(w.rnd, 5000), 0))
	w.check(unix.Setxattr(w.path("xattrs/remote"), "user.max", RandomBytes(w.rnd, 65536), 0))
	w.check(unix.Setxattr(w.path("xattrs/remote"), "security.ima", RandomBytes(w.rnd, 300), 0))
	w.file("xattrs/acl", []byte("acl"))
	run(w.t, "setfacl", "-m", "u:1234:r,g:4321:rw", w.path("xattrs/acl"))
	w.mkdir("xattrs/acldir")
	run(w.t, "setfacl", "-d", "-m", "u:1234:rwx,g:5678:r", w.path("xattrs/acldir"))
	run(w.t, "setfacl", "-m", "u:99:rx", w.path("xattrs/acldir"))
	w.file("xattrs/caps", []byte("binary"))
	run(w.t, "setcap", "cap_net_raw+ep", w.path("xattrs/caps"))
}

type formWriter struct {
	t    testing.TB
	root string
	rnd  *rand.Rand
}

func (w *formWriter) path(name string) string { return filepath.Join(w.root, name) }

func (w *formWriter) check(err error) {
	w.t.Helper()
	if err != nil {
		w.t.Fatal(err)
	}
}

func (w *formWriter) mkdir(name string) { w.check(os.MkdirAll(w.path(name), 0o755)) }

func (w *formWriter) create(name string) *os.File {
	w.mkdir(filepath.Dir(name))
	f, err := os.Create(w.path(name))
	w.check(err)
	return f
}

func (w *formWriter) file(name string, data []byte) {
	f := w.create(name)
	_, err := f.Write(data)
	w.check(err)
	w.check(f.Close())
}

// dir makes a directory of n empty files with names of about nameLen bytes.
func (w *formWriter) dir(name string, n, nameLen int) {
	w.mkdir(name)
	for i := range n {
		w.file(fmt.Sprintf("%s/%0*d", name, nameLen, i), nil)
	}
}

// manyXattrs makes a file with n user xattrs of size bytes.
func (w *formWriter) manyXattrs(name string, n, size int) {
	w.file(name, nil)
	for i := range n {
		w.check(unix.Setxattr(w.path(name), fmt.Sprintf("user.attribute-%05d", i), bytes.Repeat([]byte{byte('a' + i%26)}, size), 0))
	}
}
