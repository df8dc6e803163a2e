package filesystem

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/c34478be/packer-plugin-maas/internal/fstree"
	"github.com/c34478be/packer-plugin-maas/internal/test/testtool"
)

// TestEveryReaderIsComplete: a registered reader names itself, opens at
// least one type no other reader claims, and can be sniffed and opened.
func TestEveryReaderIsComplete(t *testing.T) {
	owner := map[string]string{}
	for _, rd := range readers {
		assert.NotEmpty(t, rd.Name)
		assert.NotNil(t, rd.Sniff, rd.Name)
		assert.NotNil(t, rd.Open, rd.Name)
		require.NotEmpty(t, rd.Types, rd.Name)
		for _, typ := range rd.Types {
			assert.Empty(t, owner[typ], "%s is claimed by %s and %s", typ, owner[typ], rd.Name)
			owner[typ] = rd.Name
		}
	}
}

func TestWhatTheRegistryReads(t *testing.T) {
	for _, typ := range []string{Ext2, Ext3, Ext4, XFS} {
		assert.True(t, HoldsRoot(typ), typ)
	}
	assert.True(t, Readable(VFAT))
	assert.False(t, HoldsRoot(VFAT), "a FAT filesystem is never a Linux root")
	for _, typ := range []string{Btrfs, LVM, LUKS, Swap, Squash, JBD, ""} {
		assert.False(t, Readable(typ), typ)
	}
	assert.Equal(t, "XFS and ext2/3/4", RootNames())

	_, err := Open(Btrfs, nil, 0, nil)
	assert.ErrorIs(t, err, ErrNoReader)
	assert.ErrorContains(t, err, "btrfs")
}

// TestIdentifyAndOpenAnXFS: the registry names a real mkfs.xfs filesystem
// as blkid does and opens it with xfs.Reader.
func TestIdentifyAndOpenAnXFS(t *testing.T) {
	img := filepath.Join(t.TempDir(), "root.img")
	require.NoError(t, os.WriteFile(img, nil, 0o644))
	require.NoError(t, os.Truncate(img, 300<<20))
	testtool.CombinedOutput(t, "mkfs.xfs", "-q", "-L", "rootfs", "-m", "uuid=5c1f0e2a-7b3d-4e8f-9a6b-1d2c3e4f5a6b", img)
	f, err := os.Open(img)
	require.NoError(t, err)
	defer f.Close()

	id, err := Identify(f)
	require.NoError(t, err)
	assert.Equal(t, fstree.Identity{Type: XFS, Label: "rootfs", UUID: "5c1f0e2a-7b3d-4e8f-9a6b-1d2c3e4f5a6b"}, id)
	blkid := testtool.CombinedOutput(t, "blkid", "-p", "-o", "value", "-s", "UUID", img)
	assert.Equal(t, id.UUID, strings.TrimSpace(blkid))

	fs, err := Open(id.Type, f, 300<<20, nil)
	require.NoError(t, err)
	entries, err := fs.ReadDir(fs.RootInode())
	require.NoError(t, err)
	assert.Empty(t, entries)
}

// TestIdentifyAndOpenAVFATWithItsMountOptions: the registry names a real
// mkfs.vfat filesystem and opens it with fat.Reader, which shows owners and
// modes as the kernel would under the options given.
func TestIdentifyAndOpenAVFATWithItsMountOptions(t *testing.T) {
	img := filepath.Join(t.TempDir(), "boot.img")
	testtool.CombinedOutput(t, "mkfs.vfat", "-C", "-F", "16", "-s", "1", "-n", "BOOT", "-i", "b007b007", img, "8192")
	f, err := os.Open(img)
	require.NoError(t, err)
	defer f.Close()
	st, err := f.Stat()
	require.NoError(t, err)

	id, err := Identify(f)
	require.NoError(t, err)
	assert.Equal(t, fstree.Identity{Type: VFAT, Label: "BOOT", UUID: "B007-B007"}, id)

	fs, err := Open(id.Type, f, st.Size(), fstree.MountOptions{"rw", "uid=1000", "gid=42", "umask=0027"})
	require.NoError(t, err)
	root, err := fs.Stat(fs.RootInode())
	require.NoError(t, err)
	assert.Equal(t, uint32(1000), root.UID)
	assert.Equal(t, uint32(42), root.GID)
	assert.Equal(t, uint32(0o750), root.Mode&fstree.ModePerm)

	_, err = Open(id.Type, f, st.Size(), fstree.MountOptions{"uid=nobody"})
	assert.ErrorContains(t, err, "option uid=nobody is not a number")
}

// TestIdentifyKnowsNothingOfZeros: a volume of zeros holds nothing known.
func TestIdentifyKnowsNothingOfZeros(t *testing.T) {
	id, err := Identify(zeros{})
	require.NoError(t, err)
	assert.Equal(t, fstree.Identity{}, id)
}

type zeros struct{}

func (zeros) ReadAt(p []byte, _ int64) (int, error) {
	clear(p)
	return len(p), nil
}

// TestIdentifyTriesTheStrongestTestFirst: where two formats' tests both
// match, the one that wins is the one blkid-like order trusts most: a magic
// in the first sectors over an ext superblock, an ext superblock over a
// magic deep in the volume (which file data may hold by chance), and any
// magic over FAT's loose boot-sector test.
func TestIdentifyTriesTheStrongestTestFirst(t *testing.T) {
	ext := func(b []byte) { b[1024+0x38], b[1024+0x39] = 0x53, 0xef }
	swap := func(b []byte) { copy(b[4096-10:], "SWAPSPACE2") }
	btrfs := func(b []byte) { copy(b[64<<10+64:], "_BHRfS_M") }
	xfs := func(b []byte) { copy(b, "XFSB"); b[100], b[101] = 0, 5 } // magic, version 5
	lvm := func(b []byte) { copy(b[512:], "LABELONE"); copy(b[512+24:], "LVM2 001") }
	fat16 := func(b []byte) {
		b[0], b[11], b[12], b[13], b[14], b[16], b[21] = 0xeb, 0x00, 0x02, 1, 1, 2, 0xf8
		copy(b[54:], "FAT16   ")
		b[510], b[511] = 0x55, 0xaa
	}
	for _, c := range []struct {
		want   string
		crafts []func([]byte)
	}{
		{Ext2, []func([]byte){ext}},
		{Ext2, []func([]byte){ext, swap}},
		{Ext2, []func([]byte){ext, btrfs}},
		{LVM, []func([]byte){ext, lvm}},
		{XFS, []func([]byte){ext, xfs}},
		{LVM, []func([]byte){xfs, lvm}},
		{VFAT, []func([]byte){fat16}},
		{Btrfs, []func([]byte){fat16, btrfs}},
		{Swap, []func([]byte){fat16, swap}},
	} {
		b := make([]byte, fstree.SniffSize)
		for _, craft := range c.crafts {
			craft(b)
		}
		id, err := Identify(bytes.NewReader(b))
		require.NoError(t, err)
		assert.Equal(t, c.want, id.Type, "%d formats crafted", len(c.crafts))
	}
}
