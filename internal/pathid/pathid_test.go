package pathid

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSameAndInside(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "output")
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "sub"), 0o755))
	disk := filepath.Join(dir, "disk.qcow2")
	require.NoError(t, os.WriteFile(disk, nil, 0o644))
	link := filepath.Join(root, "link")
	require.NoError(t, os.Symlink(dir, link))
	hard := filepath.Join(root, "hard.qcow2")
	require.NoError(t, os.Link(disk, hard))
	t.Chdir(filepath.Join(dir, "sub"))

	for _, p := range []string{disk, "../disk.qcow2", filepath.Join(link, "disk.qcow2"), hard} {
		assert.True(t, Same(p, disk), p)
	}
	assert.False(t, Same(filepath.Join(dir, "missing"), disk))
	assert.False(t, Same(root, disk))

	for _, p := range []string{disk, "x.tar.gz", "../new/deeper/x", filepath.Join(link, "sub", "x"), filepath.Join(link, "..", "output", "x")} {
		assert.True(t, Inside(p, dir), p)
	}
	for _, p := range []string{hard, filepath.Join(root, "x"), "/x", "../../x"} {
		assert.False(t, Inside(p, dir), p)
	}
	assert.False(t, Inside(filepath.Join(dir, "x"), disk), "a file holds nothing")
}
