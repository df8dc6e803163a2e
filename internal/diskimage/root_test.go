package diskimage

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func readTableOf(t *testing.T, path string) *Table {
	f, size := openRaw(t, path)
	table, err := ReadPartitions(f, size)
	require.NoError(t, err)
	return table
}

// gptDisk builds a GPT disk just large enough for parts.
func gptDisk(t *testing.T, parts ...testPart) *Table {
	path := filepath.Join(t.TempDir(), "disk.raw")
	var end int64
	for _, p := range parts {
		end = max(end, p.startMiB+p.sizeMiB)
	}
	buildGPT(t, path, end+1, parts)
	return readTableOf(t, path)
}

func osReleaseOn(numbers ...int) func(Partition) bool {
	return func(p Partition) bool {
		for _, n := range numbers {
			if p.Number == n {
				return true
			}
		}
		return false
	}
}

func TestFindRootCloudLayout(t *testing.T) {
	table := readTableOf(t, cloudDisk(t))
	noOSRelease := osReleaseOn()

	roles, err := FindRoot(table, "", "amd64/generic", noOSRelease)
	require.NoError(t, err)
	assert.Equal(t, 1, roles.Root.Number, "the x86-64 root type wins")
	require.NotNil(t, roles.Boot)
	assert.Equal(t, 2, roles.Boot.Number, "XBOOTLDR named bls_boot is /boot")

	roles, err = FindRoot(table, "", "arm64", noOSRelease)
	require.NoError(t, err)
	assert.Equal(t, 1, roles.Root.Number, "no arm64 root type: the cloudimg-rootfs label decides")

	for _, want := range []string{"1", "rootpart", "cloudimg-rootfs"} {
		roles, err = FindRoot(table, want, "", nil)
		require.NoError(t, err, want)
		assert.Equal(t, 1, roles.Root.Number, want)
	}

	errors := []struct{ want, arch, msg string }{
		{"xdata", "", `the root partition (partition 4, 300.0 MiB, Linux filesystem, xfs, name "data", label "xdata") holds xfs; only ext2/3/4 can be exported as a root tarball: use filetype = "ddgz"`},
		{"5", "", `holds btrfs`},
		{"15", "", `root_partition "15" is the EFI system partition`},
		{"EFI System", "", `root_partition "EFI System": no partition has that name or label`},
		{"3", "", `holds swap, not a Linux root filesystem`},
		{"9", "", `root_partition "9": no partition has that number`},
		{"", "sparc", `unknown architecture "sparc"`},
	}
	for _, e := range errors {
		_, err := FindRoot(table, e.want, e.arch, noOSRelease)
		require.Error(t, err, e.want)
		assert.Contains(t, err.Error(), e.msg)
	}
}

func TestFindRootByOSRelease(t *testing.T) {
	table := gptDisk(t,
		testPart{num: 1, startMiB: 1, sizeMiB: 2, code: "ef02"},
		testPart{num: 2, startMiB: 3, sizeMiB: 20, code: "8300", fs: FSExt4},
		testPart{num: 3, startMiB: 23, sizeMiB: 20, code: "8300", fs: FSExt4, label: "data"},
	)
	roles, err := FindRoot(table, "", "amd64", osReleaseOn(3))
	require.NoError(t, err)
	assert.Equal(t, 3, roles.Root.Number)
	assert.Nil(t, roles.Boot)

	_, err = FindRoot(table, "", "amd64", osReleaseOn(2, 3))
	require.Error(t, err)
	assert.Equal(t, `2 partitions have an ext filesystem holding /etc/os-release, so the root partition is ambiguous; set root_partition to the number, name or label of the root partition. The disk (gpt) has:
  partition 1, 2.0 MiB, BIOS boot, no known filesystem
  partition 2, 20.0 MiB, Linux filesystem, ext4
  partition 3, 20.0 MiB, Linux filesystem, ext4, label "data"`, err.Error())

	_, err = FindRoot(table, "", "amd64", nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "no root partition found; set root_partition")
	assert.Contains(t, err.Error(), `partition 3, 20.0 MiB, Linux filesystem, ext4, label "data"`)
}

func TestFindRootAmbiguousLabelsAndTypes(t *testing.T) {
	labels := gptDisk(t,
		testPart{num: 1, startMiB: 1, sizeMiB: 20, code: "8300", fs: FSExt4, label: "root"},
		testPart{num: 2, startMiB: 21, sizeMiB: 20, code: "8300", fs: FSExt4, name: "cloudimg-rootfs"},
	)
	_, err := FindRoot(labels, "", "", osReleaseOn(1))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "2 partitions have the label cloudimg-rootfs or root")

	types := gptDisk(t,
		testPart{num: 1, startMiB: 1, sizeMiB: 20, code: "8305", fs: FSExt4},
		testPart{num: 2, startMiB: 21, sizeMiB: 20, code: "8305", fs: FSExt4},
	)
	_, err = FindRoot(types, "", "aarch64", nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "2 partitions have a Linux root partition type")
	assert.Contains(t, err.Error(), "partition 2, 20.0 MiB, Linux root (arm64), ext4")
}

func TestFindRootRejectsNonExtRootAndBoot(t *testing.T) {
	xfsRoot := gptDisk(t,
		testPart{num: 1, startMiB: 1, sizeMiB: 20, code: "ef00"},
		testPart{num: 2, startMiB: 21, sizeMiB: 300, code: "8304", fs: FSXFS},
	)
	_, err := FindRoot(xfsRoot, "", "amd64", nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), `holds xfs; only ext2/3/4 can be exported as a root tarball: use filetype = "ddgz"`)

	xfsBoot := gptDisk(t,
		testPart{num: 1, startMiB: 1, sizeMiB: 20, code: "8304", fs: FSExt4},
		testPart{num: 2, startMiB: 21, sizeMiB: 300, code: "ea00", fs: FSXFS},
	)
	_, err = FindRoot(xfsBoot, "", "amd64", nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "the /boot partition (partition 2, 300.0 MiB, Linux extended boot, xfs) holds xfs")
}

func TestFindRootMBR(t *testing.T) {
	path := filepath.Join(t.TempDir(), "mbr.raw")
	buildMBR(t, path, 96, []testPart{
		{startMiB: 1, sizeMiB: 20, code: "ef", fs: FSVFAT, label: "root"},
		{startMiB: 21, sizeMiB: 70, code: "5"},
		{startMiB: 22, sizeMiB: 30, code: "83", fs: FSExt4, label: "cloudimg-rootfs"},
		{startMiB: 53, sizeMiB: 20, code: "ea", fs: FSExt4},
	})
	roles, err := FindRoot(readTableOf(t, path), "", "amd64", nil)
	require.NoError(t, err)
	assert.Equal(t, 5, roles.Root.Number, "the ESP labelled root is never root")
	require.NotNil(t, roles.Boot)
	assert.Equal(t, 6, roles.Boot.Number)
	assert.Equal(t, "partition 6, 20.0 MiB, MBR type 0xea (Linux extended boot), ext4", roles.Boot.Describe())
}

func TestFindRootWholeDisk(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bare.raw")
	run(t, "truncate", "-s", "16M", path)
	makeFilesystem(t, path, 0, 16*MiB, FSExt4, "")
	table := readTableOf(t, path)
	roles, err := FindRoot(table, "", "", nil)
	require.NoError(t, err)
	assert.Equal(t, Partition{Size: 16 * MiB, Filesystem: FSExt4}, roles.Root)
	assert.Equal(t, "whole disk, 16.0 MiB, no partition table, ext4", roles.Root.Describe())
}
