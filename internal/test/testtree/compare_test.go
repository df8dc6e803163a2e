package testtree

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/c34478be/packer-plugin-maas/internal/fstree/dirfs"
)

func smallTree(t *testing.T) string {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "a"), []byte("hello"), 0o644))
	require.NoError(t, os.Mkdir(filepath.Join(dir, "d"), 0o755))
	require.NoError(t, os.Symlink("../a", filepath.Join(dir, "d", "l")))
	return dir
}

// compareTrees compares a reader of one small tree with another that
// change altered (their ctimes differ too: nobody can set a ctime).
func compareTrees(t *testing.T, change func(dir string)) []string {
	source, other := smallTree(t), smallTree(t)
	change(other)
	fs, err := dirfs.Open(source)
	require.NoError(t, err)
	r := &recorder{TB: t}
	assert.Equal(t, 3, CompareFS(r, fs, other, CompareOptions{}), "paths compared")
	return r.errors
}

func TestCompareFSAcceptsTheSameTree(t *testing.T) {
	dir := smallTree(t)
	fs, err := dirfs.Open(dir)
	require.NoError(t, err)
	r := &recorder{TB: t}
	assert.Equal(t, 3, CompareFS(r, fs, dir, CompareOptions{SameInodes: true, DirSizes: true}), "paths compared")
	assert.Empty(t, r.errors)
}

func TestCompareFSReportsEachDifference(t *testing.T) {
	for name, c := range map[string]struct {
		change func(dir string)
		want   string
	}{
		"content": {func(dir string) { require.NoError(t, os.WriteFile(filepath.Join(dir, "a"), []byte("HELLO"), 0o644)) }, "a: content differs"},
		"mode":    {func(dir string) { require.NoError(t, os.Chmod(filepath.Join(dir, "a"), 0o600)) }, "a: mode"},
		"size":    {func(dir string) { require.NoError(t, os.WriteFile(filepath.Join(dir, "a"), []byte("hello!"), 0o644)) }, "a: size"},
		"link": {func(dir string) {
			require.NoError(t, os.Remove(filepath.Join(dir, "d", "l")))
			require.NoError(t, os.Symlink("../b", filepath.Join(dir, "d", "l")))
		}, "ReadLink("},
	} {
		t.Run(name, func(t *testing.T) {
			errs := compareTrees(t, c.change)
			require.NotEmpty(t, errs)
			assert.True(t, strings.Contains(strings.Join(errs, "\n"), c.want), "%q does not report %q", errs, c.want)
		})
	}
}
