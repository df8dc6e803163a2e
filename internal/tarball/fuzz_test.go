package tarball

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/c34478be/packer-plugin-maas/internal/fstree"
)

// FuzzWriteTar feeds WriteTar names, link targets, xattrs and data maps
// as a hostile image could hold them. Whatever it accepts must read back
// with Go's archive/tar as members inside "./" with the same content.
func FuzzWriteTar(f *testing.F) {
	// Seeds from what real root filesystems hold.
	f.Add("hostname", "../usr/lib/os-release", "security.capability", []byte{1, 0, 0, 2, 0, 0x20, 0, 0}, int64(66<<20), int64(4096), int64(8192))
	f.Add("caf\xe9", "/etc/alternatives/python", "user.a=b%c", []byte("v\n"), int64(12), int64(0), int64(12))
	f.Add(strings.Repeat("n", 255), strings.Repeat("t/", 100), "system.posix_acl_access", []byte{2, 0, 0, 0}, int64(1<<20), int64(1<<19), int64(1))
	f.Add("..", "x", "trusted.x", []byte{}, int64(0), int64(0), int64(0))
	f.Fuzz(func(t *testing.T, name, target, xattrName string, xattrValue []byte, size, off, length int64) {
		size &= 1<<20 - 1 // keep each run small
		data := bytes.Repeat([]byte{0xa5}, int(size))
		m := &memFS{nodes: map[uint64]*memNode{
			2: dir(fstree.DirEntry{Name: name, Ino: 11}, fstree.DirEntry{Name: "link", Ino: 12}),
			11: {stat: fstree.Stat{Mode: fstree.ModeRegular | 0o644, Nlink: 1, Size: size},
				data: data, ranges: []fstree.Range{{Offset: off, Length: length}},
				xattrs: []fstree.Xattr{{Name: xattrName, Value: xattrValue}}},
			12: {stat: fstree.Stat{Mode: fstree.ModeSymlink | 0o777, Nlink: 1}, target: target},
		}}
		var buf bytes.Buffer
		if _, err := WriteTar(context.Background(), &buf, m, Options{}); err != nil {
			return
		}
		r := tar.NewReader(&buf)
		for {
			h, err := r.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("archive/tar cannot read the output: %v", err)
			}
			if !strings.HasPrefix(h.Name, "./") || strings.Contains(h.Name, "/../") || strings.HasSuffix(h.Name, "/..") {
				t.Fatalf("member %q could leave the target", h.Name)
			}
			switch h.Typeflag {
			case tar.TypeSymlink:
				if h.Linkname != target {
					t.Fatalf("symlink target %q, want %q", h.Linkname, target)
				}
			case tar.TypeReg:
				got, err := io.ReadAll(r)
				if err != nil {
					t.Fatal(err)
				}
				if int64(len(got)) != size {
					t.Fatalf("file of %d bytes read back as %d", size, len(got))
				}
				if h.PAXRecords["SCHILY.xattr."+encodeXattrName(xattrName)] != string(xattrValue) {
					t.Fatalf("xattr %q lost", xattrName)
				}
			}
		}
	})
}
