package volume

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/c34478be/packer-plugin-maas/internal/filesystem"
)

// lvmLayout is a table as List reads an anaconda disk: /boot, a PV, and
// the group rl's logical volumes, one of them thin.
func lvmLayout() *Table {
	return &Table{Scheme: SchemeGPT, SectorSize: 512, Volumes: []Volume{
		{Number: 1, Start: 1 << 20, Size: 1 << 30, Filesystem: filesystem.Ext4, FSLabel: "boot"},
		{Number: 2, Start: 1<<30 + 1<<20, Size: 9 << 30, Filesystem: filesystem.LVM},
		{Kind: KindLogical, VGName: "rl", LVName: "root", Size: 8 << 30, Filesystem: filesystem.Ext4},
		{Kind: KindLogical, VGName: "rl", LVName: "pool", Size: 1 << 30,
			OpenError: errors.New("logical volume rl/pool is of type thin-pool: only linear LVs are read")},
	}}
}

func TestRootPartitionNamesALogicalVolume(t *testing.T) {
	table := lvmLayout()
	for _, want := range []string{"rl/root", "/dev/rl/root", "/dev/mapper/rl-root"} {
		roles, err := FindRoot(table, want, "", nil)
		require.NoError(t, err, want)
		assert.Equal(t, "logical volume rl/root, 8.0 GiB, ext4", roles.Root.Describe(), want)
		v, err := Find(table, want)
		require.NoError(t, err, want)
		assert.True(t, v.Same(table.Volumes[2]), want)
	}
	_, err := FindRoot(table, "rl/var", "", nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), `root_partition "rl/var": no logical volume var in volume group rl`)
	assert.Contains(t, err.Error(), "\n  logical volume rl/pool, 1.0 GiB, unreadable: logical volume rl/pool is of type thin-pool")
}

func TestAnUnreadableLogicalVolumeOpensToItsError(t *testing.T) {
	pool := lvmLayout().Volumes[3]
	_, _, err := pool.Open(nil)
	require.Error(t, err)
	assert.Equal(t, "logical volume rl/pool is of type thin-pool: only linear LVs are read", err.Error())
	assert.False(t, pool.Same(lvmLayout().Volumes[2]))
	assert.Empty(t, pool.DiskRanges())
}
