package ext4

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/c34478be/packer-plugin-maas/internal/test/testtool"
)

var (
	requireTools = testtool.Require
	command      = testtool.CombinedOutput
)

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
