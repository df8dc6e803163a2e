package volume

import (
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/c34478be/packer-plugin-maas/internal/diskimage"
	"github.com/c34478be/packer-plugin-maas/internal/filesystem"
)

const (
	guidLinuxFS   = "0fc63daf-8483-4772-8e79-3d69d8477de4"
	guidRootAMD64 = "4f68bce3-e8cd-4db1-96e7-fbcaf984b709"
	guidSwap      = "0657fd6d-a4ab-43c4-84e5-0933c84b4f4f"
)

// cloudLayout is a GPT disk like a modern cloud image: ESP as partition
// 15, a root, a separate /boot, swap, and an xfs data partition.
var cloudLayout = []testPart{
	{num: 15, startMiB: 1, sizeMiB: 32, code: "ef00", name: "EFI System", fs: filesystem.VFAT, label: "ESP"},
	{num: 1, startMiB: 34, sizeMiB: 40, code: "8304", name: "rootpart", fs: filesystem.Ext4, label: "cloudimg-rootfs"},
	{num: 2, startMiB: 74, sizeMiB: 16, code: "ea00", name: "bls_boot", fs: filesystem.Ext2, label: "BOOT"},
	{num: 3, startMiB: 90, sizeMiB: 8, code: "8200", fs: filesystem.Swap, label: "swappy"},
	{num: 4, startMiB: 98, sizeMiB: 300, code: "8300", name: "data", fs: filesystem.XFS, label: "xdata"},
	{num: 5, startMiB: 398, sizeMiB: 120, code: "8300", fs: filesystem.Btrfs, label: "bt"},
}

const cloudLayoutSummary = `1 34+40 "rootpart" 4f68bce3-e8cd-4db1-96e7-fbcaf984b709 ext4 "cloudimg-rootfs"
2 74+16 "bls_boot" bc13c2ff-59e6-4262-a352-b275fd6f7172 ext2 "BOOT"
3 90+8 "" 0657fd6d-a4ab-43c4-84e5-0933c84b4f4f swap "swappy"
4 98+300 "data" 0fc63daf-8483-4772-8e79-3d69d8477de4 xfs "xdata"
5 398+120 "" 0fc63daf-8483-4772-8e79-3d69d8477de4 btrfs "bt"
15 1+32 "EFI System" c12a7328-f81f-11d2-ba4b-00a0c93ec93b vfat "ESP"`

var cloudDiskOnce struct {
	sync.Once
	path string
}

// cloudDisk returns a fresh sparse copy of the cloudLayout disk, which is
// built once per test run because mkfs.xfs and mkfs.btrfs are slow.
func cloudDisk(t *testing.T) string {
	cloudDiskOnce.Do(func() {
		cloudDiskOnce.path = filepath.Join(sharedTestDir, "cloud.raw")
		buildGPT(t, cloudDiskOnce.path, 520, cloudLayout)
	})
	path := filepath.Join(t.TempDir(), "cloud.raw")
	run(t, "cp", "--sparse=always", cloudDiskOnce.path, path)
	return path
}

func TestGPT(t *testing.T) {
	path := cloudDisk(t)
	f, size := openRaw(t, path)
	table, err := List(f, size)
	require.NoError(t, err)
	assert.Equal(t, SchemeGPT, table.Scheme)
	assert.Equal(t, int64(512), table.SectorSize)
	assert.Empty(t, table.Warnings)
	assert.Equal(t, cloudLayoutSummary, summary(table.Volumes))

	t.Run("through qcow2", func(t *testing.T) {
		q := convertTo(t, path, filepath.Join(t.TempDir(), "cloud.qcow2"), "-c")
		img, err := diskimage.Open(q)
		require.NoError(t, err)
		defer img.Close()
		qt, err := List(img, img.Size())
		require.NoError(t, err)
		assert.Equal(t, table, qt)
	})
}

func TestGPTFallsBackToBackup(t *testing.T) {
	cases := []struct {
		name       string
		damage     func(t *testing.T, path string)
		wantInWarn string
	}{
		{"primary header zeroed", func(t *testing.T, path string) { zeroBytes(t, path, 512, 512) }, "no primary GPT header"},
		{"primary header CRC", func(t *testing.T, path string) { zeroBytes(t, path, 512+24, 1) }, "bad CRC"},
		{"primary entries CRC", func(t *testing.T, path string) { zeroBytes(t, path, 1024+32, 8) }, "entries at LBA 2 have a bad CRC"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := cloudDisk(t)
			tc.damage(t, path)
			f, size := openRaw(t, path)
			table, err := List(f, size)
			require.NoError(t, err)
			assert.Equal(t, cloudLayoutSummary, summary(table.Volumes))
			require.Len(t, table.Warnings, 1)
			assert.Contains(t, table.Warnings[0], tc.wantInWarn)
			assert.Contains(t, table.Warnings[0], "backup GPT at LBA 1064959")
		})
	}
}

func TestGPTBothCopiesDamaged(t *testing.T) {
	path := cloudDisk(t)
	zeroBytes(t, path, 512+24, 1)
	f, size := openRaw(t, path)
	zeroBytes(t, path, size-512+24, 1)
	_, err := List(f, size)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "primary: GPT header at LBA 1 has a bad CRC")
	assert.Contains(t, err.Error(), "backup: GPT header at LBA 1064959 has a bad CRC")
}

func TestGPT4KSectors(t *testing.T) {
	path := filepath.Join(t.TempDir(), "4k.raw")
	build4KGPT(t, path, 64, []testPart{
		{num: 1, startMiB: 1, sizeMiB: 20, code: guidRootAMD64, fs: filesystem.Ext4, label: "root4k"},
		{num: 2, startMiB: 21, sizeMiB: 30, code: guidLinuxFS, fs: filesystem.Ext3},
	})
	f, size := openRaw(t, path)
	table, err := List(f, size)
	require.NoError(t, err)
	assert.Equal(t, int64(4096), table.SectorSize)
	assert.Equal(t, `1 1+20 "" 4f68bce3-e8cd-4db1-96e7-fbcaf984b709 ext4 "root4k"
2 21+30 "" 0fc63daf-8483-4772-8e79-3d69d8477de4 ext3 ""`, summary(table.Volumes))

	zeroBytes(t, path, 4096, 4096)
	table, err = List(f, size)
	require.NoError(t, err)
	assert.Equal(t, int64(4096), table.SectorSize)
	assert.Len(t, table.Volumes, 2)
	require.Len(t, table.Warnings, 1)
	assert.Contains(t, table.Warnings[0], "backup GPT at LBA 16383")
}

func TestMBRWithLogicalPartitions(t *testing.T) {
	path := filepath.Join(t.TempDir(), "mbr.raw")
	buildMBR(t, path, 128, []testPart{
		{startMiB: 1, sizeMiB: 20, code: "ef", fs: filesystem.VFAT, label: "EFI"},
		{startMiB: 21, sizeMiB: 100, code: "5"},
		{startMiB: 22, sizeMiB: 40, code: "83", fs: filesystem.Ext4, label: "root"},
		{startMiB: 63, sizeMiB: 10, code: "82", fs: filesystem.Swap},
		{startMiB: 74, sizeMiB: 20, code: "83", fs: filesystem.Ext2},
	})
	f, size := openRaw(t, path)
	table, err := List(f, size)
	require.NoError(t, err)
	assert.Equal(t, SchemeMBR, table.Scheme)
	assert.Empty(t, table.Warnings)
	assert.Equal(t, `1 1+20 "" ef vfat "EFI"
5 22+40 "" 83 ext4 "root"
6 63+10 "" 82 swap ""
7 74+20 "" 83 ext2 ""`, summary(table.Volumes))
}

func TestMBRLoopingEBRChain(t *testing.T) {
	path := filepath.Join(t.TempDir(), "mbr.raw")
	buildMBR(t, path, 64, []testPart{
		{startMiB: 1, sizeMiB: 60, code: "5"},
		{startMiB: 2, sizeMiB: 10, code: "83"},
		{startMiB: 13, sizeMiB: 10, code: "83"},
	})
	// Point the second EBR's link back at the first EBR.
	f, size := openRaw(t, path)
	patchEBRLink(t, path, 12*MiB, (12-1)*MiB/512)
	table, err := List(f, size)
	require.NoError(t, err)
	assert.Len(t, table.Volumes, 2)
	require.Len(t, table.Warnings, 1)
	assert.Contains(t, table.Warnings[0], "back into the chain")
}

// patchEBRLink rewrites the EBR at off to link to the extended partition's
// relative sector rel.
func patchEBRLink(t *testing.T, path string, off int64, rel uint32) {
	f, _ := openRaw(t, path)
	sector := make([]byte, 512)
	_, err := f.ReadAt(sector, off)
	require.NoError(t, err)
	require.Equal(t, []byte{0x55, 0xaa}, sector[510:], "an EBR is at %d", off)
	e := sector[446+16:]
	e[4] = 0x05
	e[8], e[9], e[10], e[11] = byte(rel), byte(rel>>8), byte(rel>>16), byte(rel>>24)
	e[12] = 1
	writeAt(t, path, sector, off)
}

func TestWholeDiskFilesystem(t *testing.T) {
	for _, fs := range []string{filesystem.Ext4, filesystem.VFAT, filesystem.XFS} {
		t.Run(fs, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "bare.raw")
			run(t, "truncate", "-s", "300M", path)
			makeFilesystem(t, path, 0, 300*MiB, fs, "bare")
			f, size := openRaw(t, path)
			table, err := List(f, size)
			require.NoError(t, err)
			assert.Equal(t, SchemeNone, table.Scheme)
			uuid := strings.TrimSpace(run(t, "blkid", "-p", "-o", "value", "-s", "UUID", path))
			assert.Equal(t, []Volume{{Kind: KindWholeDisk, Start: 0, Size: size, Filesystem: fs, FSLabel: "bare", FSUUID: uuid}}, table.Volumes)
		})
	}
}

func TestNoTableNoFilesystem(t *testing.T) {
	path := filepath.Join(t.TempDir(), "blank.raw")
	run(t, "truncate", "-s", "8M", path)
	f, size := openRaw(t, path)
	_, err := List(f, size)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "no partition table")

	_, err = List(f, 100)
	assert.ErrorContains(t, err, "too small")
}

func TestProtectiveMBRWithoutGPT(t *testing.T) {
	path := cloudDisk(t)
	f, size := openRaw(t, path)
	zeroBytes(t, path, 512, 512)
	zeroBytes(t, path, size-512, 512)
	_, err := List(f, size)
	require.Error(t, err)
	assert.True(t, strings.Contains(err.Error(), "protective MBR found but no valid GPT"), err.Error())
}
