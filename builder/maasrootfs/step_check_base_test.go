package maasrootfs

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/packer-plugin-sdk/multistep"
	packersdk "github.com/hashicorp/packer-plugin-sdk/packer"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/c34478be/packer-plugin-maas/internal/export"
	"github.com/c34478be/packer-plugin-maas/internal/test/testdisk"
	"github.com/c34478be/packer-plugin-maas/internal/test/testtool"
)

// runCheckBase runs the base image check on image for output_format
// format and returns what it did, what the user saw and the error it
// halted with.
func runCheckBase(t *testing.T, image, format string, settings export.Options) (multistep.StepAction, string, error) {
	t.Helper()
	return runStepCheckBase(t, image, &stepCheckBaseImage{format: format, settings: settings})
}

// runStepCheckBase runs step on image; see runCheckBase.
func runStepCheckBase(t *testing.T, image string, step *stepCheckBaseImage) (multistep.StepAction, string, error) {
	t.Helper()
	var ui bytes.Buffer
	state := new(multistep.BasicStateBag)
	putUI(state, &packersdk.BasicUi{Reader: strings.NewReader(""), Writer: &ui, ErrorWriter: &ui})
	state.Put(keyImagePath, image)
	action := step.Run(context.Background(), state)
	step.Cleanup(state)
	return action, ui.String(), getError(state)
}

const baseOS = "Debian GNU/Linux 12 (bookworm)"

// TestCheckBaseImagePassesAnExportableRoot: an ext4 root is found and
// described before the boot, with the root's filesystem and label.
func TestCheckBaseImagePassesAnExportableRoot(t *testing.T) {
	disk := testdisk.GPT(t,
		testdisk.Part{Type: "ef00", Name: "esp", SizeMiB: 4},
		testdisk.Part{Type: "8304", Name: "root", SizeMiB: 16, Format: testdisk.Ext4(testdisk.RootTree(t, baseOS), "cloudimg-rootfs")})
	action, ui, err := runCheckBase(t, disk, "tgz", export.Options{Architecture: "amd64"})
	require.NoError(t, err)
	assert.Equal(t, multistep.ActionContinue, action)
	assert.Contains(t, ui, "Base image: "+baseOS+", amd64/generic; root: partition 2, ")
	assert.Contains(t, ui, `ext4, name "root", label "cloudimg-rootfs"; no other filesystem mounted`)
	assert.NotContains(t, ui, "Warning")
}

// TestCheckBaseImageWarnsOfAnotherArchitecture: an amd64 image built
// with architecture arm64 would not boot; the user is told before it is
// tried.
func TestCheckBaseImageWarnsOfAnotherArchitecture(t *testing.T) {
	disk := testdisk.GPT(t, testdisk.Part{Type: "8300", Name: "root", SizeMiB: 16,
		Format: testdisk.Ext4(testdisk.RootTree(t, baseOS), "cloudimg-rootfs")})
	action, ui, err := runCheckBase(t, disk, "tgz", export.Options{Architecture: "arm64"})
	require.NoError(t, err)
	assert.Equal(t, multistep.ActionContinue, action)
	assert.Contains(t, ui, "Warning: the base image's programs are amd64/generic, but architecture is arm64")
}

// TestCheckBaseImageRefusesWhatTheExportCannotRead: roots a tgz export
// cannot read stop the build here with the export's error, saying that
// nothing was booted and how to build anyway; qcow2 and ddgz builds are
// not checked.
func TestCheckBaseImageRefusesWhatTheExportCannotRead(t *testing.T) {
	btrfs := testdisk.GPT(t, testdisk.Part{Type: "8304", Name: "root", SizeMiB: 160, Format: testdisk.Btrfs(testdisk.RootTree(t, baseOS))})
	luks := testdisk.GPT(t, testdisk.Part{Type: "8304", Name: "root", SizeMiB: 8, Format: testdisk.LUKS2Header()})
	blank := testdisk.GPT(t, testdisk.Part{Type: "8300", Name: "data", SizeMiB: 8})
	ext4 := testdisk.GPT(t, testdisk.Part{Type: "8304", Name: "root", SizeMiB: 16,
		Format: testdisk.Ext4(testdisk.RootTree(t, baseOS), "cloudimg-rootfs")})
	for _, tc := range []struct {
		name, image string
		settings    export.Options
		want        string
	}{
		{"btrfs root", btrfs, export.Options{}, `btrfs, name "root") holds btrfs; only`},
		{"LUKS root", luks, export.Options{}, "holds crypto_LUKS; only"},
		{"no root", blank, export.Options{}, "no root partition found"},
		{"root_partition names none", ext4, export.Options{RootPartition: "7"}, `root_partition "7": no partition has that number`},
		{"boot_partition names none", ext4, export.Options{BootPartition: "bootpart"}, `boot_partition: no partition has the number, name or label "bootpart"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			action, ui, err := runCheckBase(t, tc.image, "tgz", tc.settings)
			assert.Equal(t, multistep.ActionHalt, action)
			require.Error(t, err)
			opts := tc.settings
			opts.Input = tc.image
			_, exportErr := export.Inspect(context.Background(), opts)
			require.Error(t, exportErr)
			assert.Contains(t, err.Error(), "checking the base image (image_url) before booting anything: "+exportErr.Error()+";")
			assert.Contains(t, err.Error(), tc.want)
			assert.Contains(t, err.Error(), `set output_format = "ddgz" (the whole disk) or "qcow2"`)
			assert.Contains(t, ui, err.Error(), "the user sees the error")

			for _, format := range []string{"qcow2", "ddgz"} {
				action, ui, err := runCheckBase(t, tc.image, format, tc.settings)
				assert.Equal(t, multistep.ActionContinue, action, format)
				assert.NoError(t, err, format)
				assert.Empty(t, ui, "a %s build reads no filesystem, so it is not checked", format)
			}
		})
	}
}

// TestCheckBaseImageLeavesABackedImageToTheOverlayStep: a cloud image with
// a backing file is not inspected (its backing file is not read): the
// overlay step refuses it, naming image_url.
func TestCheckBaseImageLeavesABackedImageToTheOverlayStep(t *testing.T) {
	backed := t.TempDir() + "/backed.qcow2"
	testtool.CombinedOutput(t, "qemu-img", "create", "-q", "-f", "qcow2", "-u", "-b", "/etc/shadow", "-F", "raw", backed, "1M")
	action, ui, err := runCheckBase(t, backed, "tgz", export.Options{})
	assert.Equal(t, multistep.ActionContinue, action)
	assert.NoError(t, err)
	assert.Empty(t, ui)
}

// TestCheckBaseImageRunsBeforeTheVMDisk: the check comes right after the
// download, before the output directory, the overlay and QEMU.
func TestCheckBaseImageRunsBeforeTheVMDisk(t *testing.T) {
	var c Config
	_, err := c.Prepare(validSettings(t))
	require.NoError(t, err)
	b := &Builder{config: c}
	steps, err := b.steps(newPhases(time.Now), &fakeDriver{})
	require.NoError(t, err)
	var names []string
	for _, s := range steps {
		if timed, ok := s.(*timedStep); ok {
			s = timed.Step
		}
		names = append(names, strings.TrimPrefix(strings.TrimPrefix(fmt.Sprintf("%T", s), "*maasrootfs."), "*commonsteps."))
	}
	require.GreaterOrEqual(t, len(names), 5)
	assert.Equal(t, []string{"stepFindFirmware", "stepDownloadImage", "stepCheckBaseImage", "StepOutputDir", "stepCreateOverlay"}, names[:5])
}

// TestCheckBaseImageRefusesRemoveKernelOfAnRPMImage: with remove_kernel,
// a base whose packages are in rpm's database stops before the boot,
// whatever its file name; the same image without remove_kernel, and a
// dpkg image with it, go on.
func TestCheckBaseImageRefusesRemoveKernelOfAnRPMImage(t *testing.T) {
	testtool.Require(t, "rpm")
	const rocky = "Rocky Linux 9.4 (Blue Onyx)"
	tree := testdisk.RootTree(t, rocky)
	testtool.Output(t, "rpm", "--define", "_db_backend sqlite", "--dbpath", tree+"/var/lib/rpm", "--initdb")
	rpmDisk := testdisk.GPT(t, testdisk.Part{Type: "8304", Name: "root", SizeMiB: 16, Format: testdisk.Ext4(tree, "root")})
	dpkgTree := testdisk.RootTree(t, baseOS)
	require.NoError(t, os.MkdirAll(dpkgTree+"/var/lib/dpkg", 0o755))
	require.NoError(t, os.WriteFile(dpkgTree+"/var/lib/dpkg/status", []byte("Package: base-files\nStatus: install ok installed\nVersion: 12.4\n"), 0o644))
	dpkgDisk := testdisk.GPT(t, testdisk.Part{Type: "8304", Name: "root", SizeMiB: 16, Format: testdisk.Ext4(dpkgTree, "root")})

	action, _, err := runStepCheckBase(t, rpmDisk, &stepCheckBaseImage{format: "tgz", removeKernel: true})
	assert.Equal(t, multistep.ActionHalt, action)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "remove_kernel cannot be used with this base image ("+rocky+"), whose packages rpm manages")

	for name, step := range map[string]struct {
		image string
		step  *stepCheckBaseImage
	}{
		"rpm image without remove_kernel": {rpmDisk, &stepCheckBaseImage{format: "tgz"}},
		"dpkg image with remove_kernel":   {dpkgDisk, &stepCheckBaseImage{format: "tgz", removeKernel: true}},
	} {
		action, _, err := runStepCheckBase(t, step.image, step.step)
		assert.NoError(t, err, name)
		assert.Equal(t, multistep.ActionContinue, action, name)
	}
}
