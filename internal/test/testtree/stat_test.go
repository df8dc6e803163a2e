package testtree

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// TestStatHelpersGiveTheKernelsNumbers runs in the unit tier on every OS
// CI tests (Linux and macOS), whose unix.Stat_t field types differ.
func TestStatHelpersGiveTheKernelsNumbers(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	require.NoError(t, os.WriteFile(file, []byte("x"), 0o600))
	require.NoError(t, unix.Chmod(file, 0o4751))
	require.NoError(t, os.Link(file, filepath.Join(dir, "link")))
	var st unix.Stat_t
	require.NoError(t, unix.Lstat(file, &st))
	assert.Equal(t, uint32(unix.S_IFREG|0o4751), StatMode(&st))
	assert.Equal(t, uint32(2), StatNlink(&st))
	assert.Equal(t, StatMode(&st), statEntry(&st).Mode)

	require.NoError(t, unix.Lstat("/dev/null", &st))
	assert.Equal(t, uint32(unix.S_IFCHR), StatMode(&st)&unix.S_IFMT)
	assert.NotZero(t, StatRdev(&st), "/dev/null has a device number")
	assert.Equal(t, StatRdev(&st), statEntry(&st).Rdev)

	var fs unix.Statfs_t
	require.NoError(t, unix.Statfs(dir, &fs))
	assert.Positive(t, FreeBytes(&fs), "the temporary directory has free space")
}
