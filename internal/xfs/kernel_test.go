package xfs

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/c34478be/packer-plugin-maas/internal/fstree"
	"github.com/c34478be/packer-plugin-maas/internal/test/testtool"
)

// TestOpenFresh opens a fresh mkfs.xfs image and checks its identity.
func TestOpenFresh(t *testing.T) {
	img := mkfs(t, 300<<20)
	fs := openImage(t, img)
	if fs.Label() != testLabel || formatUUID(fs.sb.uuid[:]) != testUUID {
		t.Errorf("label %q uuid %s", fs.Label(), formatUUID(fs.sb.uuid[:]))
	}
	entries, err := fs.ReadDir(fs.RootInode())
	if err != nil || len(entries) != 0 {
		t.Errorf("root: %v, %v", entries, err)
	}
}

// TestDirtyLog shuts a filesystem down with its log flushed but the
// metadata not written back, as a crash leaves it: Open must refuse it
// until the kernel has replayed the log.
func TestDirtyLog(t *testing.T) {
	testtool.Require(t, "xfs_io")
	img := mkfs(t, 300<<20)
	mnt, unmount := mount(t, img)
	for i := range 50 {
		if err := os.WriteFile(filepath.Join(mnt, fmt.Sprint("file-", i)), []byte("data"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	command(t, "xfs_io", "-x", "-c", "shutdown -f", mnt)
	unmount()
	f, err := os.Open(img)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, _ := f.Stat()
	if _, err := Open(f, st.Size()); !errors.Is(err, errDirtyLog) {
		t.Fatalf("Open of a crashed filesystem: %v, want %v", err, errDirtyLog)
	}
	_, unmount = mount(t, img) // replays the log
	unmount()
	fs := openImage(t, img)
	if entries, err := fs.ReadDir(fs.RootInode()); err != nil || len(entries) != 50 {
		t.Errorf("after recovery: %d entries, %v", len(entries), err)
	}
}

// TestV4Protofile reads a v4 (crc=0) filesystem, which this kernel cannot
// mount, made with mkfs.xfs -p from a tree (so it holds no xattrs), and
// compares it with that tree.
func TestV4Protofile(t *testing.T) {
	src := t.TempDir()
	var proto strings.Builder
	proto.WriteString("/dev/null\n0 0\nd--755 0 0\n")
	add := func(line string) { proto.WriteString(line + "\n") }
	writeSrc := func(name string, data []byte) string {
		p := filepath.Join(src, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	want := map[string]string{} // path -> content, link target or "dir"
	add("small ---644 1000 1000 " + writeSrc("small", []byte("small file")))
	want["small"] = "small file"
	big := strings.Repeat("0123456789abcdef", 100000)
	add("big -u-755 0 0 " + writeSrc("big", []byte(big)))
	want["big"] = big
	add("inline l--777 0 0 small")
	want["inline"] = "-> small"
	long := strings.Repeat("long/", 200)
	add("remote l--777 0 0 " + long)
	want["remote"] = "-> " + long
	add("null c--666 0 0 1 3")
	add("fifo p--644 0 0")
	// mkfs.xfs -p allocates each file's data between its directory's
	// blocks: a directory of many non-empty files has dozens of extents,
	// the btree form.
	for _, d := range []struct {
		name, data string
		n          int
	}{{"shortform", "", 3}, {"block", "", 30}, {"leaf", "", 300}, {"node", "", 3000}, {"btree", "x", 3000}} {
		add(d.name + " d--755 0 0")
		for i := range d.n {
			name := fmt.Sprintf("entry-%020d", i)
			add(name + " ---600 0 0 " + writeSrc("file-"+d.data, []byte(d.data)))
			want[d.name+"/"+name] = d.data
		}
		add("$")
		want[d.name] = "dir"
	}
	add("$")
	protoFile := writeSrc("proto", []byte(proto.String()))
	for _, ftype := range []string{"ftype=1", "ftype=0"} {
		t.Run(ftype, func(t *testing.T) {
			img := mkfs(t, 300<<20, "-m", "crc=0,finobt=0,reflink=0,bigtime=0,inobtcount=0", "-i", "sparse=0", "-n", ftype, "-p", protoFile)
			fs := openImage(t, img)
			if fs.sb.ftype != (ftype == "ftype=1") {
				t.Fatalf("mkfs.xfs -n %s made a filesystem with ftype %v", ftype, fs.sb.ftype)
			}
			checkV4(t, fs, want)
		})
	}
}

// checkV4 compares the protofile filesystem with what went into it.
func checkV4(t *testing.T, fs *FS, want map[string]string) {
	if fs.sb.v5 {
		t.Fatal("mkfs.xfs -m crc=0 made a v5 filesystem")
	}
	got := map[string]string{}
	var walk func(dir string, ino uint64)
	walk = func(dir string, ino uint64) {
		entries, err := fs.ReadDir(ino)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			p := strings.TrimPrefix(dir+"/"+e.Name, "/")
			st, err := fs.Stat(e.Ino)
			if err != nil {
				t.Fatal(err)
			}
			switch st.Mode & fstree.ModeType {
			case fstree.ModeDir:
				got[p] = "dir"
				walk(p, e.Ino)
			case fstree.ModeSymlink:
				target, err := fs.ReadLink(e.Ino)
				if err != nil {
					t.Fatal(err)
				}
				got[p] = "-> " + target
			case fstree.ModeRegular:
				f, err := fs.OpenFile(e.Ino)
				if err != nil {
					t.Fatal(err)
				}
				data := make([]byte, f.Size())
				if _, err := f.ReadAt(data, 0); err != nil && f.Size() > 0 {
					t.Fatal(err)
				}
				got[p] = string(data)
			case fstree.ModeChar:
				if st.DevMajor != 1 || st.DevMinor != 3 || st.Mode != fstree.ModeChar|0o666 {
					t.Errorf("%s: %d:%d mode %#o", p, st.DevMajor, st.DevMinor, st.Mode)
				}
			case fstree.ModeFIFO:
			}
			if p == "big" && (st.Mode != fstree.ModeRegular|0o4755 || st.UID != 0) {
				t.Errorf("big: mode %#o", st.Mode)
			}
			if p == "small" && (st.UID != 1000 || st.GID != 1000) {
				t.Errorf("small: owner %d:%d", st.UID, st.GID)
			}
		}
	}
	walk("", fs.RootInode())
	for _, form := range []string{"shortform", "block", "leaf", "node"} {
		if got := dirForm(t, fs, form); got != form {
			t.Errorf("/%s is in %s form", form, got)
		}
	}
	if in := lookup(t, fs, "btree"); in.format != formatBtree {
		t.Errorf("/btree has data fork format %d", in.format)
	}
	for p, w := range want {
		if got[p] != w {
			t.Errorf("%s: got %.40q, want %.40q", p, got[p], w)
		}
	}
	if len(got) != len(want) {
		t.Errorf("%d paths, want %d", len(got), len(want))
	}
}
