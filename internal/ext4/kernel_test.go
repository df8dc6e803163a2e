package ext4

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"slices"
	"strings"
	"testing"
)

// TestKernelImage reads testdata/kernel.img.gz, written by the Linux kernel
// (testdata/mkkernel.sh), and checks the facts that script created.
func TestKernelImage(t *testing.T) {
	data := gunzipFile(t, "testdata/kernel.img.gz")
	fs, err := Open(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	if err := walkAll(fs, walkLimits{inodes: 10000, bytes: 1 << 30}); err != nil {
		t.Fatal(err)
	}
	t.Run("inline directory spilling into system.data", func(t *testing.T) {
		in := inodeAt(t, fs, "/inline")
		if rest, err := fs.inlineDataXattr(in); !in.hasInlineData() || err != nil || len(rest) == 0 {
			t.Fatalf("/inline is not an inline directory with entries in system.data (%v)", err)
		}
		expectNames(t, fs, "/inline", []string{"a", "b", "c", "dddddddddddd", "eeeeeeeeeeee"})
	})
	t.Run("htree directory", func(t *testing.T) {
		if in := inodeAt(t, fs, "/hashed"); in.flags&flagIndex == 0 {
			t.Fatal("/hashed is not an htree directory")
		}
		var want []string
		for i := 1; i <= 1000; i++ {
			want = append(want, fmt.Sprintf("file-with-a-long-name-%d", i))
		}
		expectNames(t, fs, "/hashed", want)
	})
	t.Run("unwritten extents", func(t *testing.T) {
		f := openPath(t, fs, "/unwritten")
		if f.Size() != 1<<20 || len(f.DataRanges()) != 0 {
			t.Errorf("/unwritten: size %d, ranges %v; want 1 MiB without data", f.Size(), f.DataRanges())
		}
		expectContent(t, f, 4096, make([]byte, 4096))
		f = openPath(t, fs, "/mixed")
		want := "[{0 16384} {122880 8192}]"
		if got := fmt.Sprint(f.DataRanges()); got != want || f.Size() != 131072 {
			t.Errorf("/mixed: ranges %s size %d, want %s size 131072", got, f.Size(), want)
		}
		expectContent(t, f, 0, []byte(strings.Repeat("abcdefgh", 2048)))
		expectContent(t, f, 16384, make([]byte, 122880-16384))
		expectContent(t, f, 122880, []byte(strings.Repeat("XY", 4096)))
	})
	t.Run("value in an EA inode", func(t *testing.T) {
		expectContent(t, openPath(t, fs, "/tiny"), 0, []byte("data"))
		expectXattr(t, fs, "/tiny", "user.big", []byte(strings.Repeat("z", 6000)))
		in := inodeAt(t, fs, "/tiny")
		entries, err := fs.inodeXattrs(in)
		if err != nil || len(entries) != 2 || entries[1].valueInode == 0 { // system.data, user.big
			t.Errorf("/tiny in-inode xattrs %v, %v; want system.data and user.big in an EA inode", entries, err)
		}
	})
	t.Run("inline file with an ACL", func(t *testing.T) {
		expectContent(t, openPath(t, fs, "/hundred"), 0, []byte(strings.Repeat("0123456789", 10)))
		const none = 0xFFFFFFFF                         // the id of an entry without one
		acl := binary.LittleEndian.AppendUint32(nil, 2) // posix_acl_xattr version
		for _, e := range [][3]uint32{{0x01, 6, none}, {0x02, 6, 5}, {0x04, 4, none}, {0x10, 6, none}, {0x20, 4, none}} {
			acl = binary.LittleEndian.AppendUint16(acl, uint16(e[0]))
			acl = binary.LittleEndian.AppendUint16(acl, uint16(e[1]))
			acl = binary.LittleEndian.AppendUint32(acl, e[2])
		}
		expectXattr(t, fs, "/hundred", "system.posix_acl_access", acl)
	})
	t.Run("slow symlink and device", func(t *testing.T) {
		ino, _ := fs.Lookup("/longlink")
		if target, err := fs.ReadLink(ino); err != nil || target != strings.Repeat("L", 100) {
			t.Errorf("/longlink -> %q, %v", target, err)
		}
		ino, _ = fs.Lookup("/cdev")
		if st, err := fs.Stat(ino); err != nil || st.DevMajor != 200 || st.DevMinor != 70000 {
			t.Errorf("/cdev: %d:%d, %v; want 200:70000", st.DevMajor, st.DevMinor, err)
		}
	})
}

func openPath(t *testing.T, fs *FS, path string) *file {
	t.Helper()
	f, err := fs.openData(inodeAt(t, fs, path))
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func expectNames(t *testing.T, fs *FS, dir string, want []string) {
	t.Helper()
	ino, _ := fs.Lookup(dir)
	entries, err := fs.ReadDir(ino)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.Name)
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("%s lists %d names %q..., want %d", dir, len(got), got[:min(len(got), 5)], len(want))
	}
}

func expectContent(t *testing.T, f *file, off int64, want []byte) {
	t.Helper()
	got := make([]byte, len(want))
	if _, err := f.ReadAt(got, off); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("inode %d at %d: content differs", f.ino, off)
	}
}

func expectXattr(t *testing.T, fs *FS, path, name string, want []byte) {
	t.Helper()
	ino, _ := fs.Lookup(path)
	xs, err := fs.Xattrs(ino)
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range xs {
		if x.Name == name {
			if !bytes.Equal(x.Value, want) {
				t.Errorf("%s: %s = %x, want %x", path, name, x.Value, want)
			}
			return
		}
	}
	t.Errorf("%s has no xattr %s (has %v)", path, name, xs)
}
