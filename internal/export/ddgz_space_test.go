package export

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/c34478be/packer-plugin-maas/internal/test/testtree"
)

// TestDDGZOfAnImpossibleVirtualSizeIsRefusedBeforeWriting: a qcow2 of a
// few MiB declaring a virtual size whose smallest ddgz is twice the free
// space at the output (about 140 TiB here) is refused before anything is
// written; the old code started writing it, for hours.
func TestDDGZOfAnImpossibleVirtualSizeIsRefusedBeforeWriting(t *testing.T) {
	dir := t.TempDir()
	var st unix.Statfs_t
	require.NoError(t, unix.Statfs(dir, &st))
	free := testtree.FreeBytes(&st)
	// Twice what the free space could take as a ddgz, in whole GiB.
	size := (2*free*deflateMaxRatio)>>30 + 1
	require.Less(t, size<<30, int64(1)<<56, "the filesystem has too much free space for this test")
	input := filepath.Join(t.TempDir(), "huge.qcow2")
	run(t, "qemu-img", "create", "-q", "-f", "qcow2", "-o", "cluster_size=2M", input, fmt.Sprintf("%dG", size))
	info, err := os.Stat(input)
	require.NoError(t, err)
	t.Logf("%d-byte qcow2 of virtual size %d GiB, %d bytes free at the output", info.Size(), size, free)

	_, err = Run(context.Background(), Options{Input: input, Output: filepath.Join(dir, "huge.dd.gz"), Filetype: FiletypeDDGZ})
	require.Error(t, err)
	assert.Contains(t, err.Error(), input)
	assert.Contains(t, err.Error(), "its ddgz needs at least")
	assert.Contains(t, err.Error(), "qemu-img resize --shrink")
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Empty(t, entries, "nothing is written")
}
