package xfs

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/c34478be/packer-plugin-maas/internal/test/testtool"
	"github.com/c34478be/packer-plugin-maas/internal/test/testtree"
)

// hugeDirEntries is the size of the largest directory the forms hold.
const hugeDirEntries = testtree.HugeDirEntries

// fill copies the metadata tree into a mounted filesystem and adds the
// XFS on-disk forms.
func fill(t testing.TB, tree, mnt string, huge bool) {
	t.Helper()
	command(t, "cp", "-a", tree+"/.", mnt+"/meta")
	testtree.XFSForms(t, mnt, huge)
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
