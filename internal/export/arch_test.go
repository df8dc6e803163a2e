package export

import (
	"context"
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// arm64Tree is a root whose programs are arm64 ELF files (a header is
// all the export reads).
func arm64Tree(t *testing.T) string {
	root := ubuntuLikeTree(t)
	elf := make([]byte, 64)
	copy(elf, "\x7fELF\x02\x01\x01")
	binary.LittleEndian.PutUint16(elf[16:], 2)    // ET_EXEC
	binary.LittleEndian.PutUint16(elf[18:], 0xb7) // EM_AARCH64
	require.NoError(t, os.WriteFile(filepath.Join(root, "usr/bin/env"), elf, 0o755))
	return root
}

// TestExportDDGZReadsTheArchitecture: a ddgz export finds the root and
// reads its programs, as a tgz export does, instead of calling every
// disk amd64.
func TestExportDDGZReadsTheArchitecture(t *testing.T) {
	raw := gptDisk(t, partSpec{num: 1, sizeMiB: 24, typ: "8300", name: "root", mkfs: ext4From(arm64Tree(t), "root")})
	res, err := Run(context.Background(), Options{Input: raw, Output: filepath.Join(t.TempDir(), "disk.dd.gz"), Filetype: FiletypeDDGZ})
	require.NoError(t, err)
	assert.Equal(t, "arm64/generic", res.Architecture)

	res, err = Run(context.Background(), Options{Input: raw, Output: filepath.Join(t.TempDir(), "disk.tar.gz")})
	require.NoError(t, err)
	assert.Equal(t, "arm64/generic", res.Architecture, "the tgz path agrees")
}

// TestExportRequiresArchitectureWhenTheImageCannotTell: no readable root
// (here btrfs) means no architecture; without the setting the export fails
// before it writes anything, naming the setting.
func TestExportRequiresArchitectureWhenTheImageCannotTell(t *testing.T) {
	btrfsRoot := gptDisk(t, partSpec{num: 1, sizeMiB: 310, typ: "8300", name: "root", mkfs: btrfsFS})
	dir := t.TempDir()
	_, err := Run(context.Background(), Options{Input: btrfsRoot, Output: filepath.Join(dir, "disk.dd.gz"), Filetype: FiletypeDDGZ})
	require.Error(t, err)
	assert.Contains(t, err.Error(), `holds btrfs): set architecture to what it is, like "amd64/generic" or "arm64/generic"`)
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Empty(t, entries, "nothing is written")

	res, err := Run(context.Background(), Options{Input: btrfsRoot, Output: filepath.Join(dir, "disk.dd.gz"), Filetype: FiletypeDDGZ, Architecture: "arm64/generic"})
	require.NoError(t, err)
	assert.Empty(t, res.Architecture, "the setting stands; the result says only what was read")
}
