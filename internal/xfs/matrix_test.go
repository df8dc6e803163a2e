package xfs

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
	"github.com/c34478be/packer-plugin-maas/internal/test/testtree"
)

// hugeDirEntries is the size of the largest directory: enough for the
// extent btree form on a 4 KiB-block filesystem.
const hugeDirEntries = 100000

// shapes writes, into a mounted XFS, one of each on-disk form this reader
// decodes: directories in short form, block, leaf, node and btree form;
// files with an inline extent list, an extent btree, unwritten extents and
// holes; inline and remote symlinks; xattrs in short form, leaf and node
// blocks, with remote values, and POSIX ACLs.
func shapes(t testing.TB, root string, huge bool) {
	t.Helper()
	w := &writer{t: t, root: root, rnd: rand.New(rand.NewPCG(3, 4))}
	w.dir("dirs/shortform", 3, 8)
	w.dir("dirs/block", 30, 20)
	w.dir("dirs/leaf", 300, 20)
	w.dir("dirs/node", 3000, 20)
	if huge {
		start := time.Now()
		w.file("dirs/target", []byte("linked 100000 times"))
		w.mkdir("dirs/btree")
		for i := range hugeDirEntries {
			w.check(unix.Link(w.path("dirs/target"), w.path(fmt.Sprintf("dirs/btree/link-with-a-long-name-%06d", i))))
		}
		t.Logf("%d hard links in %v", hugeDirEntries, time.Since(start))
	}

	w.mkdir("dev")
	w.check(unix.Mknod(w.path("dev/bigminor"), unix.S_IFCHR|0o600, int(unix.Mkdev(259, 1<<devMinorBits-1))))
	w.file("files/small", []byte("small"))
	w.file("files/random", testtree.RandomBytes(w.rnd, 3<<20+123))
	// Shares the blocks of files/random where reflink is on.
	command(t, "cp", "--reflink=auto", w.path("files/random"), w.path("files/reflinked"))
	f := w.create("files/btree") // one block in two: many extents
	for i := range int64(400) {
		_, err := f.WriteAt(testtree.RandomBytes(w.rnd, 4096), i*8192)
		w.check(err)
	}
	w.check(f.Close())
	f = w.create("files/unwritten")
	w.check(unix.Fallocate(int(f.Fd()), 0, 0, 1<<20))
	_, err := f.WriteAt(bytes.Repeat([]byte("XY"), 4096), 256<<10)
	w.check(err)
	w.check(f.Close())
	f = w.create("files/unwritten-past-eof")
	w.check(unix.Fallocate(int(f.Fd()), unix.FALLOC_FL_KEEP_SIZE, 0, 1<<20))
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

	w.mkdir("links")
	w.check(os.Symlink("short", w.path("links/inline")))
	w.check(os.Symlink(strings.Repeat("remote/", 146), w.path("links/remote")))

	w.file("xattrs/shortform", nil)
	w.check(unix.Setxattr(w.path("xattrs/shortform"), "user.a", []byte("1"), 0))
	w.check(unix.Setxattr(w.path("xattrs/shortform"), "security.selinux", []byte("system_u:object_r:etc_t:s0\x00"), 0))
	w.check(unix.Setxattr(w.path("xattrs/shortform"), "trusted.t", []byte{0, 1, 2}, 0))
	w.xattrs("xattrs/leaf", 5, 100)
	w.xattrs("xattrs/node", 2000, 10)
	w.file("xattrs/remote", nil)
	w.check(unix.Setxattr(w.path("xattrs/remote"), "user.five-k", testtree.RandomBytes(w.rnd, 5000), 0))
	w.check(unix.Setxattr(w.path("xattrs/remote"), "user.max", testtree.RandomBytes(w.rnd, 65536), 0))
	w.check(unix.Setxattr(w.path("xattrs/remote"), "security.ima", testtree.RandomBytes(w.rnd, 300), 0))
	w.file("xattrs/acl", []byte("acl"))
	command(t, "setfacl", "-m", "u:1234:r,g:4321:rw", w.path("xattrs/acl"))
	w.mkdir("xattrs/acldir")
	command(t, "setfacl", "-d", "-m", "u:1234:rwx,g:5678:r", w.path("xattrs/acldir"))
	command(t, "setfacl", "-m", "u:99:rx", w.path("xattrs/acldir"))
	w.file("xattrs/caps", []byte("binary"))
	command(t, "setcap", "cap_net_raw+ep", w.path("xattrs/caps"))
}

type writer struct {
	t    testing.TB
	root string
	rnd  *rand.Rand
}

func (w *writer) path(name string) string { return filepath.Join(w.root, name) }

func (w *writer) check(err error) {
	w.t.Helper()
	if err != nil {
		w.t.Fatal(err)
	}
}

func (w *writer) mkdir(name string) { w.check(os.MkdirAll(w.path(name), 0o755)) }

func (w *writer) create(name string) *os.File {
	w.mkdir(filepath.Dir(name))
	f, err := os.Create(w.path(name))
	w.check(err)
	return f
}

func (w *writer) file(name string, data []byte) {
	f := w.create(name)
	_, err := f.Write(data)
	w.check(err)
	w.check(f.Close())
}

// dir makes a directory of n empty files with names of about nameLen bytes.
func (w *writer) dir(name string, n, nameLen int) {
	w.mkdir(name)
	for i := range n {
		w.file(fmt.Sprintf("%s/%0*d", name, nameLen, i), nil)
	}
}

// xattrs makes a file with n user xattrs of size bytes.
func (w *writer) xattrs(name string, n, size int) {
	w.file(name, nil)
	for i := range n {
		w.check(unix.Setxattr(w.path(name), fmt.Sprintf("user.attribute-%05d", i), bytes.Repeat([]byte{byte('a' + i%26)}, size), 0))
	}
}

// fill copies the metadata tree into a mounted filesystem and adds the
// XFS shapes.
func fill(t testing.TB, tree, mnt string, huge bool) {
	t.Helper()
	command(t, "cp", "-a", tree+"/.", mnt+"/meta")
	shapes(t, mnt, huge)
}

// metadataTree is testtree's metadata tree less what XFS cannot hold.
func metadataTree(t testing.TB) string {
	t.Helper()
	testtool.Require(t, "setfacl", "setcap")
	tree := testtree.MetadataTree(t, true)
	// XFS keeps device numbers as major<<18|minor: the tree's minor
	// 300000 does not fit (EINVAL), 2^18-1 is the largest that does.
	if err := os.Remove(filepath.Join(tree, "dev/bigminor")); err != nil {
		t.Fatal(err)
	}
	return tree
}

// TestKernelMatrix fills XFS filesystems of several feature sets through
// the kernel, then compares everything the reader returns with the
// kernel's view of the same image, mounted read-only.
func TestKernelMatrix(t *testing.T) {
	tree := metadataTree(t)
	for _, tc := range []struct {
		name string
		args []string
		huge bool
	}{
		{"defaults", nil, true},
		{"reflink=0,bigtime=0", []string{"-m", "reflink=0,bigtime=0"}, false},
		{"reflink=1,bigtime=1,nrext64,1k-blocks,8k-dirs", []string{"-m", "reflink=1,bigtime=1", "-i", "nrext64=1", "-b", "size=1024", "-n", "size=8192"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			img := mkfs(t, 2<<30, tc.args...)
			mnt, unmount := mount(t, img)
			start := time.Now()
			fill(t, tree, mnt, tc.huge)
			unmount()
			t.Logf("filled in %v", time.Since(start))

			fs := openImage(t, img)
			checkForms(t, fs, tc.huge)
			mnt, _ = mount(t, img, "ro", "norecovery")
			start = time.Now()
			n := compareTree(t, fs, mnt)
			t.Logf("compared %d paths in %v", n, time.Since(start))
		})
	}
}

// lookup resolves a slash-separated path from the root.
func lookup(t testing.TB, fs *FS, path string) *inode {
	t.Helper()
	ino := fs.RootInode()
	for _, name := range strings.Split(path, "/") {
		entries, err := fs.ReadDir(ino)
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, e := range entries {
			if e.Name == name {
				ino, found = e.Ino, true
				break
			}
		}
		if !found {
			t.Fatalf("%s: no %s", path, name)
		}
	}
	in, err := fs.readInode(ino)
	if err != nil {
		t.Fatal(err)
	}
	return in
}

// checkForms checks that the shapes reached the on-disk forms they are for.
func checkForms(t *testing.T, fs *FS, huge bool) {
	for _, form := range []string{"shortform", "block", "leaf", "node"} {
		if got := dirForm(t, fs, "dirs/"+form); got != form {
			t.Errorf("dirs/%s is in %s form", form, got)
		}
	}
	if huge {
		in := lookup(t, fs, "dirs/btree")
		if in.format != formatBtree {
			t.Errorf("dirs/btree has data fork format %d", in.format)
		}
		start := time.Now()
		entries, err := fs.ReadDir(in.num)
		if err != nil || len(entries) != hugeDirEntries {
			t.Errorf("dirs/btree: %d entries, %v", len(entries), err)
		}
		t.Logf("listed %d entries in %v", len(entries), time.Since(start))
	}
	if in := lookup(t, fs, "files/btree"); in.format != formatBtree {
		t.Errorf("files/btree has data fork format %d", in.format)
	}
	if in := lookup(t, fs, "links/remote"); in.format != formatExtents {
		t.Errorf("links/remote has data fork format %d", in.format)
	}
	attrForm := func(path string) string {
		in := lookup(t, fs, path)
		if in.aformat == formatLocal {
			return "shortform"
		}
		exts, err := fs.forkExtents(in.attrFork(), in.aformat, in.anextents)
		if err != nil {
			t.Fatal(err)
		}
		b, err := fs.readAttrBlock(exts, 0)
		if err != nil {
			t.Fatal(err)
		}
		switch be16(b[8:]) {
		case daNodeMagicV4, daNodeMagicV5:
			return "node"
		case attrLeafMagicV4, attrLeafMagicV5:
			return "leaf"
		}
		return "unknown"
	}
	for _, form := range []string{"shortform", "leaf", "node"} {
		if got := attrForm("xattrs/" + form); got != form {
			t.Errorf("xattrs/%s is in %s form", form, got)
		}
	}
	if got := attrForm("xattrs/remote"); got != "leaf" {
		t.Errorf("xattrs/remote is in %s form", got)
	}
}

// dirForm tells a directory's form from where its blocks lie: all in one
// directory block, with a leaf at 32 GiB, or also a free index at 64 GiB.
func dirForm(t *testing.T, fs *FS, path string) string {
	in := lookup(t, fs, path)
	if in.format == formatLocal {
		return "shortform"
	}
	exts, err := fs.dataExtents(in)
	if err != nil {
		t.Fatal(err)
	}
	last := exts[len(exts)-1].end() << fs.sb.blockLog
	switch {
	case last <= fs.sb.blockSize<<fs.sb.dirBlkLog:
		return "block"
	case last > 2*dirLeafOffset:
		return "node"
	default:
		return "leaf"
	}
}
