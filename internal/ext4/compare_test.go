package ext4

import (
	"bytes"
	"testing"
	"time"

	"github.com/c34478be/packer-plugin-maas/internal/test/testtree"
)

// compareTree compares the image's whole tree with the source tree mkfs
// copied (mkfs.ext4 -d: whole seconds only; TestTimestampExtra covers
// nanoseconds) and returns how many paths it compared.
func compareTree(t *testing.T, fs *FS, root string) int {
	return testtree.CompareFS(t, fs, root, testtree.CompareOptions{
		SkipRootNames:  []string{"lost+found"},
		TimeResolution: time.Second,
	})
}

// debugfsListing returns name -> inode of a directory as debugfs sees it.
func debugfsListing(t testing.TB, img, dir string) map[string]uint64 {
	out := command(t, "debugfs", "-R", "ls -p "+dir, img)
	listing := map[string]uint64{}
	for _, line := range bytes.Split([]byte(out), []byte("\n")) {
		// Lines look like /ino/mode/uid/gid/name/size/.
		fields := bytes.Split(line, []byte("/"))
		if len(fields) < 7 {
			continue
		}
		var ino uint64
		for _, d := range fields[1] {
			ino = ino*10 + uint64(d-'0')
		}
		if name := string(fields[5]); ino != 0 && name != "." && name != ".." {
			listing[name] = ino
		}
	}
	return listing
}

// checkAgainstDebugfs compares ReadDir of a directory with debugfs.
func checkAgainstDebugfs(t *testing.T, fs *FS, img, dir string) {
	ino, err := fs.Lookup(dir)
	if err != nil {
		t.Fatal(err)
	}
	entries, err := fs.ReadDir(ino)
	if err != nil {
		t.Fatal(err)
	}
	want := debugfsListing(t, img, dir)
	if len(entries) != len(want) {
		t.Errorf("%s: %d entries, debugfs lists %d", dir, len(entries), len(want))
	}
	for _, e := range entries {
		if want[e.Name] != e.Ino {
			t.Errorf("%s/%s: inode %d, debugfs says %d", dir, e.Name, e.Ino, want[e.Name])
		}
	}
}
