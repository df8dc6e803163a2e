package export

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/c34478be/packer-plugin-maas/internal/test/testimage"
)

// luksRoot writes the LUKS2 magic and version where a partition starts:
// all that is read of a LUKS volume before it is refused.
func luksRoot(t *testing.T, disk string, offset, _ int64) {
	f, err := os.OpenFile(disk, os.O_WRONLY, 0)
	require.NoError(t, err)
	defer f.Close()
	_, err = f.WriteAt([]byte("LUKS\xba\xbe\x00\x02"), offset)
	require.NoError(t, err)
}

// TestInspectFindsWhatTheExportPacks: an inspection of a RHEL-like disk
// (root, /boot and /var from fstab) finds the volumes, OS and architecture
// the export reports, its tree holds the mounted files, and nothing is
// written beside the image.
func TestInspectFindsWhatTheExportPacks(t *testing.T) {
	disk := rhelGPTDisk(t, fstabWith("LABEL=boot", "UUID="+varUUID+" /var ext4 defaults 0 2"))
	want, _, err := exportTGZ(t, disk, Options{})
	require.NoError(t, err)

	in, err := Inspect(context.Background(), Options{Input: disk})
	require.NoError(t, err)
	defer in.Close()
	assert.Equal(t, disk, in.Input)
	assert.Equal(t, want.Root, in.Root)
	assert.Equal(t, want.Boot, in.Boot)
	assert.Equal(t, want.Mounts, in.Mounts)
	assert.Equal(t, want.OS, in.OS)
	assert.Equal(t, "Rocky Linux 9.5 (Blue Onyx)", in.OS)
	assert.Equal(t, want.BaseImage, in.BaseImage)
	assert.Equal(t, want.Architecture, in.Architecture)
	assert.NotEmpty(t, in.Architecture)
	assert.Len(t, in.Table.Volumes, 4)

	for _, p := range []string{"/boot/" + kernelName, "/var/lib/rpm/rpmdb.sqlite", "/etc/fstab"} {
		_, err := in.Tree.Lookup(p)
		assert.NoError(t, err, "the inspected tree must hold %s", p)
	}
	assert.Equal(t, `Rocky Linux 9.5 (Blue Onyx), `+in.Architecture+`; root: partition 3, 23.0 MiB, Linux filesystem, ext4, name "rootpart"`+
		`; /boot: partition 2, 15.0 MiB, Linux filesystem, ext4, name "bootpart", label "boot"`+
		`; /var: partition 4, 15.0 MiB, Linux filesystem, ext4, name "varpart", label "var"`, in.Describe())

	entries, err := os.ReadDir(filepath.Dir(disk))
	require.NoError(t, err)
	assert.Len(t, entries, 1, "an inspection writes nothing")
}

// TestInspectFailsAsTheExportFails: for each image a tgz export refuses,
// the inspection fails with exactly the export's error.
func TestInspectFailsAsTheExportFails(t *testing.T) {
	tree := ubuntuLikeTree(t)
	blank := filepath.Join(t.TempDir(), "blank.raw")
	run(t, "truncate", "-s", "32M", blank)
	missingBoot := fstabWith("UUID=ffffffff-0000-0000-0000-000000000000")
	for _, tc := range []struct {
		name, disk string
		opts       Options
		want       string
	}{
		{"no partition table", blank, Options{}, "no partition table"},
		{"btrfs root", gptDisk(t, partSpec{num: 1, sizeMiB: 310, typ: "8304", name: "root", mkfs: btrfsFS}), Options{},
			`holds btrfs; only`},
		{"LUKS root", gptDisk(t, partSpec{num: 1, sizeMiB: 8, typ: "8304", name: "root", mkfs: luksRoot}), Options{},
			`holds crypto_LUKS; only`},
		{"two candidate roots", gptDisk(t,
			partSpec{num: 1, sizeMiB: 16, typ: "8300", name: "a", mkfs: ext4From(tree, "a")},
			partSpec{num: 2, sizeMiB: 16, typ: "8300", name: "b", mkfs: ext4From(tree, "b")},
		), Options{}, "root_partition"},
		{"fstab names a missing /boot", rhelGPTDisk(t, missingBoot), Options{}, "no volume of the disk has"},
		{"unknown boot_partition", rhelGPTDisk(t, missingBoot), Options{BootPartition: "7"}, "boot_partition:"},
		{"unknown root_partition", rhelGPTDisk(t, missingBoot), Options{RootPartition: "9"}, `root_partition "9"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, exportErr := exportTGZ(t, tc.disk, tc.opts)
			require.Error(t, exportErr)
			opts := tc.opts
			opts.Input = tc.disk
			in, err := Inspect(context.Background(), opts)
			require.Error(t, err, "the inspection passed an image the export refuses")
			assert.Nil(t, in)
			assert.Equal(t, exportErr.Error(), err.Error())
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

// TestInspectHonoursTheContext: a cancelled inspection reads nothing.
func TestInspectHonoursTheContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Inspect(ctx, Options{Input: filepath.Join(t.TempDir(), "absent.raw")})
	require.ErrorIs(t, err, context.Canceled)
}

// BenchmarkInspectTestImage inspects the test image (a compressed qcow2,
// as a downloaded cloud image is): the cost maas-rootfs adds before the
// boot. Target: well under a second.
func BenchmarkInspectTestImage(b *testing.B) {
	image := testimage.Path(b)
	for range b.N {
		in, err := Inspect(context.Background(), Options{Input: image, Architecture: "amd64"})
		if err != nil {
			b.Fatal(err)
		}
		if in.OS == "" || in.Root == nil {
			b.Fatalf("nothing found: %+v", in)
		}
		if err := in.Close(); err != nil {
			b.Fatal(err)
		}
	}
}
