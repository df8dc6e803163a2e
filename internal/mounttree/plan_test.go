package mounttree

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/c34478be/packer-plugin-maas/internal/filesystem"
	"github.com/c34478be/packer-plugin-maas/internal/fstab"
	"github.com/c34478be/packer-plugin-maas/internal/fstree"
	"github.com/c34478be/packer-plugin-maas/internal/volume"
)

const linuxFS = "0fc63daf-8483-4772-8e79-3d69d8477de4"

// rhelTable is a GPT disk as volume.List reads one: an ESP, an XBOOTLDR
// /boot, the root and a /var; Plan needs only what List tells.
func rhelTable() (*volume.Table, volume.Roles) {
	t := &volume.Table{Scheme: volume.SchemeGPT, SectorSize: 512, Volumes: []volume.Volume{
		{Number: 1, Start: 1 << 20, Size: 32 << 20, TypeGUID: volume.TypeESP, Filesystem: filesystem.VFAT, FSUUID: "AAAA-BBBB"},
		{Number: 2, Start: 33 << 20, Size: 16 << 20, TypeGUID: volume.TypeXBOOTLDR, Filesystem: filesystem.Ext4, FSLabel: "boot", FSUUID: "22222222-0000-0000-0000-000000000000"},
		{Number: 3, Start: 49 << 20, Size: 64 << 20, TypeGUID: linuxFS, Filesystem: filesystem.Ext4, FSUUID: "33333333-0000-0000-0000-000000000000"},
		{Number: 4, Start: 113 << 20, Size: 16 << 20, TypeGUID: linuxFS, Name: "varpart", Filesystem: filesystem.XFS, FSLabel: "var", PartUUID: "44444444-0000-0000-0000-000000000000"},
	}}
	return t, volume.Roles{Root: t.Volumes[2], Boot: &t.Volumes[1]}
}

func parseFstab(t *testing.T, text string) []fstab.Entry {
	entries, skipped := fstab.Parse([]byte(text))
	require.Empty(t, skipped)
	return entries
}

func points(plan []Mount) map[string]int {
	m := map[string]int{}
	for _, p := range plan {
		m[p.Point] = p.Volume.Number
	}
	return m
}

func TestPlanMountsLocalFstabEntriesParentsFirst(t *testing.T) {
	table, roles := rhelTable()
	entries := parseFstab(t, `UUID=33333333-0000-0000-0000-000000000000 / ext4 defaults 1 1
PARTUUID=44444444-0000-0000-0000-000000000000 /var/lib xfs defaults 0 2
LABEL=boot /boot ext4 defaults 1 2
UUID=AAAA-BBBB /boot/efi vfat umask=0077 0 2
server:/export /srv nfs defaults 0 0
/dev/vda4 /var xfs defaults 0 2
LABEL=gone /data ext4 nofail 0 2
`)
	plan, err := Plan(table, roles, entries, "", t.Logf)
	require.NoError(t, err)
	assert.Equal(t, map[string]int{"/boot": 2, "/var": 4, "/var/lib": 4}, points(plan))
	assert.Equal(t, "/var/lib", plan[len(plan)-1].Point, "parents are mounted first")
	for _, m := range plan {
		assert.NotNil(t, m.Entry, m.Point)
	}
}

func TestPlanBootWithoutFstab(t *testing.T) {
	table, roles := rhelTable()
	plan, err := Plan(table, roles, nil, "", t.Logf)
	require.NoError(t, err)
	require.Len(t, plan, 1)
	assert.Equal(t, Mount{Point: "/boot", Volume: table.Volumes[1]}, plan[0], "the XBOOTLDR partition, as systemd-gpt-auto-generator mounts it")
	assert.Equal(t, fstree.MountOptions{"umask=0077"}, mountOptions(plan[0].Entry))

	plan, err = Plan(table, roles, parseFstab(t, "LABEL=boot /boot ext4 defaults 1 2\n"), BootNone, t.Logf)
	require.NoError(t, err)
	assert.Empty(t, plan, "boot_partition = none leaves /boot in the root")

	plan, err = Plan(table, roles, nil, "varpart", t.Logf)
	require.NoError(t, err)
	assert.Equal(t, map[string]int{"/boot": 4}, points(plan))
}

func TestPlanErrorsListTheVolumes(t *testing.T) {
	table, roles := rhelTable()
	_, err := Plan(table, roles, parseFstab(t, "LABEL=nothere /home ext4 defaults 0 2\n"), "", t.Logf)
	require.Error(t, err)
	assert.Equal(t, `/etc/fstab line 1 ("LABEL=nothere /home ext4 defaults 0 2"): no volume of the disk has LABEL=nothere; correct the image's /etc/fstab, or add nofail to the entry to leave it out. The disk (gpt) has:
  partition 1, 32.0 MiB, EFI system, vfat, UUID AAAA-BBBB
  partition 2, 16.0 MiB, Linux extended boot, ext4, label "boot", UUID 22222222-0000-0000-0000-000000000000
  partition 3, 64.0 MiB, Linux filesystem, ext4, UUID 33333333-0000-0000-0000-000000000000
  partition 4, 16.0 MiB, Linux filesystem, xfs, name "varpart", label "var", PARTUUID 44444444-0000-0000-0000-000000000000`, err.Error())

	_, err = Plan(table, roles, parseFstab(t, "LABEL=var /var xfs defaults 0 2\n/dev/sda4 /var xfs defaults 0 2\n"), "", t.Logf)
	assert.ErrorContains(t, err, "both mount /var")

	_, err = Plan(table, roles, nil, "3", t.Logf)
	assert.ErrorContains(t, err, `boot_partition "3" is the root partition`)
}

// TestOpenNamesAVolumeNoReaderReads: the registry has no btrfs reader,
// so opening one says what the volume holds and what to do.
func TestOpenNamesAVolumeNoReaderReads(t *testing.T) {
	table, _ := rhelTable()
	btrfs := table.Volumes[3]
	btrfs.Filesystem = filesystem.Btrfs
	_, err := Open(nil, btrfs, nil)
	assert.EqualError(t, err, `partition 4, 16.0 MiB, Linux filesystem, btrfs, name "varpart", label "var" holds btrfs, which a tgz export cannot read; export the whole disk with filetype = "ddgz"`)
}

// lvmTable is an anaconda layout as volume.List reads it: a /boot
// partition, a PV partition, and the group rl's logical volumes (a dash in
// the group's name, as /dev/mapper doubles it).
func lvmTable() (*volume.Table, volume.Roles) {
	t := &volume.Table{Scheme: volume.SchemeGPT, SectorSize: 512, Volumes: []volume.Volume{
		{Number: 1, Start: 1 << 20, Size: 16 << 20, TypeGUID: linuxFS, Filesystem: filesystem.Ext4, FSUUID: "11111111-0000-0000-0000-000000000000"},
		{Number: 2, Start: 17 << 20, Size: 64 << 20, Filesystem: filesystem.LVM},
		{Kind: volume.KindLogical, VGName: "rl-vg", LVName: "root", Size: 32 << 20, Filesystem: filesystem.Ext4},
		{Kind: volume.KindLogical, VGName: "rl-vg", LVName: "home", Size: 16 << 20, Filesystem: filesystem.Ext4, FSLabel: "home"},
		{Kind: volume.KindLogical, VGName: "rl-vg", LVName: "data", Size: 8 << 20, Filesystem: filesystem.Ext4, FSUUID: "55555555-0000-0000-0000-000000000000"},
		{Kind: volume.KindLogical, VGName: "rl-vg", LVName: "swap", Size: 8 << 20, Filesystem: filesystem.Swap},
	}}
	return t, volume.Roles{Root: t.Volumes[2]}
}

func TestPlanFindsLogicalVolumesByName(t *testing.T) {
	table, roles := lvmTable()
	entries := parseFstab(t, `/dev/mapper/rl--vg-root / ext4 defaults 1 1
UUID=11111111-0000-0000-0000-000000000000 /boot ext4 defaults 1 2
/dev/mapper/rl--vg-home /home ext4 defaults 1 2
/dev/rl-vg/home /srv/home ext4 defaults 1 2
UUID=55555555-0000-0000-0000-000000000000 /data ext4 defaults 1 2
/dev/mapper/rl--vg-root /again ext4 defaults 1 2
/dev/mapper/rl--vg-swap none swap defaults 0 0
`)
	plan, err := Plan(table, roles, entries, "", t.Logf)
	require.NoError(t, err)
	got := map[string]string{}
	for _, m := range plan {
		got[m.Point] = m.Volume.Title()
	}
	assert.Equal(t, map[string]string{
		"/boot":     "partition 1",
		"/home":     "logical volume rl-vg/home",
		"/srv/home": "logical volume rl-vg/home",
		"/data":     "logical volume rl-vg/data",
	}, got, "the root LV itself (/again) is left out, as the root partition is")
}

func TestPlanMissingLogicalVolume(t *testing.T) {
	table, roles := lvmTable()
	_, err := Plan(table, roles, parseFstab(t, "/dev/mapper/rl--vg-var /var ext4 defaults 0 2\n"), "", t.Logf)
	require.Error(t, err)
	assert.Contains(t, err.Error(), `no volume of the disk has /dev/mapper/rl--vg-var`)
	assert.Contains(t, err.Error(), "\n  logical volume rl-vg/home, 16.0 MiB, ext4, label \"home\"")
}
