package volume

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/c34478be/packer-plugin-maas/internal/filesystem"
)

func readTableOf(t *testing.T, path string) *Table {
	f, size := openRaw(t, path)
	table, err := List(f, size)
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

func osReleaseOn(numbers ...int) func(Volume) bool {
	return func(p Volume) bool {
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

	roles, err = FindRoot(table, "xdata", "", nil)
	require.NoError(t, err, "an XFS root is read")
	assert.Equal(t, 4, roles.Root.Number)

	errors := []struct{ want, arch, msg string }{
		{"5", "", `holds btrfs; only XFS and ext2/3/4 can be exported as a root tarball: use filetype = "ddgz"`},
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
		testPart{num: 2, startMiB: 3, sizeMiB: 20, code: "8300", fs: filesystem.Ext4},
		testPart{num: 3, startMiB: 23, sizeMiB: 20, code: "8300", fs: filesystem.Ext4, label: "data"},
	)
	roles, err := FindRoot(table, "", "amd64", osReleaseOn(3))
	require.NoError(t, err)
	assert.Equal(t, 3, roles.Root.Number)
	assert.Nil(t, roles.Boot)

	_, err = FindRoot(table, "", "amd64", osReleaseOn(2, 3))
	require.Error(t, err)
	assert.Equal(t, `2 partitions have a filesystem holding /etc/os-release (XFS and ext2/3/4), so the root partition is ambiguous; set root_partition to the number, name or label of the root partition. The disk (gpt) has:
  partition 1, 2.0 MiB, BIOS boot, no known filesystem
  partition 2, 20.0 MiB, Linux filesystem, ext4
  partition 3, 20.0 MiB, Linux filesystem, ext4, label "data"`, err.Error())

	_, err = FindRoot(table, "", "amd64", nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "no root partition found; set root_partition")
	assert.Contains(t, err.Error(), `partition 3, 20.0 MiB, Linux filesystem, ext4, label "data"`)
}

// TestFindRootSaysWhyACandidateCannotBeRead: a filesystem that may hold
// the root but cannot be opened to look for /etc/os-release (an XFS log
// that needs recovery, which its superblock does not show) is not "no
// root": alone, its error is the error; with others, the listing says it.
func TestFindRootSaysWhyACandidateCannotBeRead(t *testing.T) {
	table := gptDisk(t,
		testPart{num: 1, startMiB: 1, sizeMiB: 2, code: "ef02"},
		testPart{num: 2, startMiB: 3, sizeMiB: 20, code: "8300", fs: filesystem.Ext4},
		testPart{num: 3, startMiB: 23, sizeMiB: 20, code: "8300", fs: filesystem.Ext4, label: "data"},
	)
	dirty := errors.New("the log holds changes not yet written: shut the VM down cleanly")
	unreadableOn := func(numbers ...int) RootProbe {
		return func(p Volume) (bool, error) {
			if slices.Contains(numbers, p.Number) {
				return false, fmt.Errorf("%s: %w", p.Title(), dirty)
			}
			return false, nil
		}
	}
	_, err := FindRootWith(table, "", "amd64", unreadableOn(3))
	require.ErrorIs(t, err, dirty)
	assert.Equal(t, "partition 3: the log holds changes not yet written: shut the VM down cleanly", err.Error())

	_, err = FindRootWith(table, "", "amd64", unreadableOn(2, 3))
	require.Error(t, err)
	assert.Equal(t, `no root partition found; set root_partition to the number, name or label of the root partition. The disk (gpt) has:
  partition 1, 2.0 MiB, BIOS boot, no known filesystem
  partition 2, 20.0 MiB, Linux filesystem, ext4: cannot be read: the log holds changes not yet written: shut the VM down cleanly
  partition 3, 20.0 MiB, Linux filesystem, ext4, label "data": cannot be read: the log holds changes not yet written: shut the VM down cleanly`, err.Error())
}

func TestFindRootAmbiguousLabelsAndTypes(t *testing.T) {
	labels := gptDisk(t,
		testPart{num: 1, startMiB: 1, sizeMiB: 20, code: "8300", fs: filesystem.Ext4, label: "root"},
		testPart{num: 2, startMiB: 21, sizeMiB: 20, code: "8300", fs: filesystem.Ext4, name: "cloudimg-rootfs"},
	)
	_, err := FindRoot(labels, "", "", osReleaseOn(1))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "2 partitions have the label cloudimg-rootfs or root")

	types := gptDisk(t,
		testPart{num: 1, startMiB: 1, sizeMiB: 20, code: "8305", fs: filesystem.Ext4},
		testPart{num: 2, startMiB: 21, sizeMiB: 20, code: "8305", fs: filesystem.Ext4},
	)
	_, err = FindRoot(types, "", "aarch64", nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "2 partitions have a Linux root partition type")
	assert.Contains(t, err.Error(), "partition 2, 20.0 MiB, Linux root (arm64), ext4")
}

func TestFindRootRejectsAnUnreadRoot(t *testing.T) {
	btrfsRoot := gptDisk(t,
		testPart{num: 1, startMiB: 1, sizeMiB: 20, code: "ef00"},
		testPart{num: 2, startMiB: 21, sizeMiB: 300, code: "8304", fs: filesystem.Btrfs},
	)
	_, err := FindRoot(btrfsRoot, "", "amd64", nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), `holds btrfs; only XFS and ext2/3/4 can be exported as a root tarball: use filetype = "ddgz"`)

	xfsRoot := gptDisk(t,
		testPart{num: 1, startMiB: 1, sizeMiB: 20, code: "ef00"},
		testPart{num: 2, startMiB: 21, sizeMiB: 300, code: "8304", fs: filesystem.XFS},
	)
	roles, err := FindRoot(xfsRoot, "", "amd64", nil)
	require.NoError(t, err, "an XFS root is read")
	assert.Equal(t, 2, roles.Root.Number)

	xfsBoot := gptDisk(t,
		testPart{num: 1, startMiB: 1, sizeMiB: 20, code: "8304", fs: filesystem.Ext4},
		testPart{num: 2, startMiB: 21, sizeMiB: 300, code: "ea00", fs: filesystem.XFS},
	)
	roles, err = FindRoot(xfsBoot, "", "amd64", nil)
	require.NoError(t, err, "the /boot is refused by the export that mounts it, if fstab does not say otherwise")
	require.NotNil(t, roles.Boot)
	assert.Equal(t, 2, roles.Boot.Number)
}

func TestFindRootMBR(t *testing.T) {
	path := filepath.Join(t.TempDir(), "mbr.raw")
	buildMBR(t, path, 96, []testPart{
		{startMiB: 1, sizeMiB: 20, code: "ef", fs: filesystem.VFAT, label: "root"},
		{startMiB: 21, sizeMiB: 70, code: "5"},
		{startMiB: 22, sizeMiB: 30, code: "83", fs: filesystem.Ext4, label: "cloudimg-rootfs"},
		{startMiB: 53, sizeMiB: 20, code: "ea", fs: filesystem.Ext4},
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
	makeFilesystem(t, path, 0, 16*MiB, filesystem.Ext4, "")
	table := readTableOf(t, path)
	roles, err := FindRoot(table, "", "", nil)
	require.NoError(t, err)
	assert.NotEmpty(t, roles.Root.FSUUID)
	roles.Root.FSUUID = ""
	assert.Equal(t, Volume{Kind: KindWholeDisk, Size: 16 * MiB, Filesystem: filesystem.Ext4}, roles.Root)
	assert.Equal(t, "whole disk, 16.0 MiB, no partition table, ext4", roles.Root.Describe())
}

// TestFindRootExplainsUnreadableRoots: a root the export cannot read (a
// journal that needs recovery; LVM, LUKS or btrfs on a plain,
// unlabelled partition) is not "just missing": the listing says what each
// partition holds and what to do.
func TestFindRootExplainsUnreadableRoots(t *testing.T) {
	dirtyExt4 := func(t *testing.T, disk string, start int64) {
		run(t, "debugfs", "-w", "-R", "feature needs_recovery", fmt.Sprintf("%s?offset=%d", disk, start))
	}
	// LVM2 and LUKS headers as pvcreate and cryptsetup write them (neither
	// tool runs here without root): the label sector and the magic.
	lvm := func(t *testing.T, disk string, start int64) {
		sector := make([]byte, 512)
		copy(sector, "LABELONE")
		copy(sector[24:], "LVM2 001")
		writeAt(t, disk, sector, start+512)
	}
	luks := func(t *testing.T, disk string, start int64) {
		hdr := make([]byte, 4096)
		copy(hdr, "LUKS\xba\xbe\x00\x02")
		copy(hdr[168:], "3f5e0c0a-5d4e-4f7b-8b1a-2c3d4e5f6a7b")
		writeAt(t, disk, hdr, start)
	}
	cases := []struct {
		fs    string
		alter func(t *testing.T, disk string, start int64)
		want  string
	}{
		{filesystem.Ext4, dirtyExt4, "partition 2, 300.0 MiB, Linux filesystem, ext4 (journal needs recovery): its journal holds changes not yet written, as after a crash or a power-off without shutdown; shut the VM down cleanly (or run `e2fsck -fy` on the image) and export again"},
		{"", lvm, `partition 2, 300.0 MiB, Linux filesystem, LVM2_member: an LVM physical volume: the root may be one of its logical volumes, listed by their VG/LV names when its metadata can be read`},
		{"", luks, `partition 2, 300.0 MiB, Linux filesystem, crypto_LUKS: encrypted with LUKS, which a tgz export cannot read; use filetype = "ddgz"`},
		{filesystem.Btrfs, nil, `partition 2, 300.0 MiB, Linux filesystem, btrfs: a tgz export cannot read btrfs yet; use filetype = "ddgz"`},
	}
	for _, tc := range cases {
		t.Run(tc.want[:45], func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "disk.raw")
			parts := []testPart{
				{num: 1, startMiB: 1, sizeMiB: 20, code: "ef00", fs: filesystem.VFAT},
				{num: 2, startMiB: 21, sizeMiB: 300, code: "8300", fs: tc.fs},
			}
			buildGPT(t, path, 322, parts)
			if tc.alter != nil {
				tc.alter(t, path, parts[1].start())
			}
			_, err := FindRoot(readTableOf(t, path), "", "amd64", func(Volume) bool { return false })
			require.Error(t, err)
			assert.Contains(t, err.Error(), "no root partition found; set root_partition")
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

// TestPartitionIdentities: the UUIDs and PARTUUIDs fstab names are read as
// blkid and sfdisk report them.
func TestPartitionIdentities(t *testing.T) {
	path := filepath.Join(t.TempDir(), "gpt.raw")
	buildGPT(t, path, 700, []testPart{
		{num: 1, startMiB: 1, sizeMiB: 40, code: "ef00", fs: filesystem.VFAT},
		{num: 2, startMiB: 41, sizeMiB: 20, code: "8300", fs: filesystem.Ext4},
		{num: 3, startMiB: 61, sizeMiB: 300, code: "8300", fs: filesystem.XFS},
		{num: 4, startMiB: 361, sizeMiB: 300, code: "8300", fs: filesystem.Btrfs},
		{num: 5, startMiB: 661, sizeMiB: 20, code: "8200", fs: filesystem.Swap},
	})
	table := readTableOf(t, path)
	require.Len(t, table.Volumes, 5)
	for _, p := range table.Volumes {
		uuid := strings.TrimSpace(run(t, "blkid", "-p", "-O", fmt.Sprint(p.Start), "-o", "value", "-s", "UUID", path))
		assert.Equal(t, uuid, p.FSUUID, "partition %d (%s)", p.Number, p.Filesystem)
		assert.NotEmpty(t, p.FSUUID)
		partUUID := strings.TrimSpace(run(t, "sfdisk", "--part-uuid", path, fmt.Sprint(p.Number)))
		assert.Equal(t, strings.ToLower(partUUID), p.PartUUID, "partition %d", p.Number)
	}

	mbr := filepath.Join(t.TempDir(), "mbr.raw")
	buildMBR(t, mbr, 64, []testPart{
		{startMiB: 1, sizeMiB: 20, code: "83", fs: filesystem.Ext4},
		{startMiB: 21, sizeMiB: 40, code: "5"},
		{startMiB: 22, sizeMiB: 20, code: "83", fs: filesystem.Ext4},
	})
	signature := strings.TrimSpace(run(t, "blkid", "-p", "-o", "value", "-s", "PTUUID", mbr))
	var got []string
	for _, p := range readTableOf(t, mbr).Volumes {
		got = append(got, p.PartUUID)
	}
	assert.Equal(t, []string{signature + "-01", signature + "-05"}, got)
}
