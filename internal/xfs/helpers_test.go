package xfs

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/c34478be/packer-plugin-maas/internal/test/testtool"
)

var command = testtool.CombinedOutput

const (
	testLabel = "xfs-label"
	testUUID  = "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
)

// mkfs makes an XFS image of size bytes with mkfs.xfs and the extra
// arguments, and returns its path.
func mkfs(t testing.TB, size int64, args ...string) string {
	t.Helper()
	testtool.Require(t, "mkfs.xfs")
	img := filepath.Join(t.TempDir(), "fs.img")
	f, err := os.Create(img)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	f.Close()
	all := append([]string{"-q", "-f", "-L", testLabel, "-m", "uuid=" + testUUID, "-K"}, args...)
	command(t, "mkfs.xfs", append(all, img)...)
	return img
}

// mount loop-mounts img (as root) and returns the mount point; the test
// must call the returned unmount before reading the image.
func mount(t testing.TB, img string, opts ...string) (dir string, unmount func()) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("loop mounts need root")
	}
	dir = t.TempDir()
	command(t, "mount", "-o", strings.Join(append([]string{"loop"}, opts...), ","), img, dir)
	mounted := true
	unmount = func() {
		if mounted {
			mounted = false
			command(t, "umount", dir)
		}
	}
	t.Cleanup(unmount)
	return dir, unmount
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
