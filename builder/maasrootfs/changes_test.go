package maasrootfs

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/packer-plugin-sdk/multistep"
	packersdk "github.com/hashicorp/packer-plugin-sdk/packer"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/c34478be/packer-plugin-maas/internal/export"
	"github.com/c34478be/packer-plugin-maas/internal/pkgdb"
	"github.com/c34478be/packer-plugin-maas/internal/test/testdisk"
)

// dpkgStatus is a dpkg status file of installed packages, name and
// version pairs.
func dpkgStatus(pkgs ...string) string {
	var b strings.Builder
	for i := 0; i+1 < len(pkgs); i += 2 {
		b.WriteString("Package: " + pkgs[i] + "\nStatus: install ok installed\nArchitecture: all\nVersion: " + pkgs[i+1] + "\n\n")
	}
	return b.String()
}

// dpkgDisk is a GPT disk whose ext4 root has the dpkg status file status.
func dpkgDisk(t *testing.T, status string) string {
	t.Helper()
	tree := testdisk.RootTree(t, baseOS)
	require.NoError(t, os.MkdirAll(filepath.Join(tree, "var/lib/dpkg"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(tree, "var/lib/dpkg/status"), []byte(status), 0o644))
	return testdisk.GPT(t, testdisk.Part{Type: "8304", Name: "root", SizeMiB: 16, Format: testdisk.Ext4(tree, "cloudimg-rootfs")})
}

// checkBase runs the base image check with changes_file on or off and
// returns the state, what the user saw, and the action.
func checkBase(t *testing.T, image, format string, changes bool) (multistep.StateBag, string, multistep.StepAction) {
	t.Helper()
	state, ui := testState()
	state.Put(keyImagePath, image)
	step := &stepCheckBaseImage{format: format, changes: changes, settings: export.Options{Architecture: "amd64"}}
	action := step.Run(context.Background(), state)
	step.Cleanup(state)
	return state, ui.String(), action
}

// TestCheckBaseImageKeepsItsPackages: with changes_file the check reads
// the cloud image's packages into the state for the export step, and says
// how many: for a tgz build from the inspected tree, for a ddgz build
// (which is not otherwise checked) from the root it finds.
func TestCheckBaseImageKeepsItsPackages(t *testing.T) {
	disk := dpkgDisk(t, dpkgStatus("hello", "2.10-3", "tzdata", "2024a-0+deb12u1"))
	for _, format := range []string{"tgz", "ddgz"} {
		state, ui, action := checkBase(t, disk, format, true)
		assert.Equal(t, multistep.ActionContinue, action, format)
		require.NoError(t, getError(state), format)
		inv := getBasePackages(state)
		require.NotNil(t, inv, format)
		assert.Equal(t, pkgdb.FormatDpkg, inv.Format)
		var listed []string
		for _, p := range inv.Packages {
			listed = append(listed, p.ID+" "+p.Version)
		}
		assert.Equal(t, []string{"hello 2.10-3", "tzdata 2024a-0+deb12u1"}, listed, format)
		assert.Contains(t, ui, "2 packages (dpkg)", format)
		assert.NotContains(t, ui, "Warning", format)
	}
	_, ui, _ := checkBase(t, disk, "tgz", true)
	assert.Regexp(t, `Base image: Debian GNU/Linux 12 \(bookworm\), amd64/generic; root: [^\n]*; no other filesystem mounted; 2 packages \(dpkg\)\n`, ui)
	_, ui, _ = checkBase(t, disk, "ddgz", true)
	assert.Equal(t, "Base image: 2 packages (dpkg)\n", ui, "a ddgz build tells only of the packages")

	state, ui, _ := checkBase(t, disk, "tgz", false)
	assert.Nil(t, getBasePackages(state), "changes_file = false reads no packages")
	assert.NotContains(t, ui, "packages")
	state, ui, _ = checkBase(t, disk, "ddgz", false)
	assert.Nil(t, getBasePackages(state))
	assert.Empty(t, ui, "a ddgz build without changes_file reads nothing")
}

// TestCheckBaseImageGoesOnWithoutPackages: packages that cannot be read
// (a damaged database, a ddgz disk whose root is not found) never fail the
// build: the user is warned that no change list is written.
func TestCheckBaseImageGoesOnWithoutPackages(t *testing.T) {
	damaged := dpkgDisk(t, "Package: hello\nStatus: install ok installed\n\n") // no Version
	blank := testdisk.GPT(t, testdisk.Part{Type: "8300", Name: "data", SizeMiB: 8})
	for _, tc := range []struct{ image, format, why string }{
		{damaged, "tgz", "package hello has no Version"},
		{damaged, "ddgz", "package hello has no Version"},
		{blank, "ddgz", "no root partition found"},
	} {
		state, ui, action := checkBase(t, tc.image, tc.format, true)
		assert.Equal(t, multistep.ActionContinue, action, tc.format)
		assert.NoError(t, getError(state), tc.format)
		assert.Nil(t, getBasePackages(state), tc.format)
		assert.Contains(t, ui, "Warning: cannot read the base image's packages (", tc.format)
		assert.Contains(t, ui, tc.why, tc.format)
		assert.Contains(t, ui, "the build writes no change list (<image>.changes); set changes_file = false", tc.format)
	}
}

// TestExportWritesTheChangeList: the export step diffs the image's
// packages against the cloud image's from the state, writes the change
// list beside the image, lists it among the artifact's files and tells
// the user its summary; without the cloud image's packages it writes none.
func TestExportWritesTheChangeList(t *testing.T) {
	disk := dpkgDisk(t, dpkgStatus("hello", "2.10-3", "tzdata", "2024b-0+deb12u1", "e2e-added", "1.0"))
	base := &pkgdb.Inventory{Format: pkgdb.FormatDpkg, Packages: []pkgdb.Package{
		{Name: "cloud-guest-utils", ID: "cloud-guest-utils", Version: "0.33-1"},
		{Name: "hello", ID: "hello", Version: "2.10-3"},
		{Name: "tzdata", ID: "tzdata", Version: "2024a-0+deb12u1"},
	}}
	run := func(t *testing.T, basePackages *pkgdb.Inventory) (string, *stepExport, multistep.StateBag) {
		t.Helper()
		step := &stepExport{output: filepath.Join(t.TempDir(), "image.tar.gz"), format: "tgz", arch: "amd64",
			settings: export.Options{Filetype: export.FiletypeTGZ, Sidecars: export.Sidecars{Checksum: true}}}
		ui := &packersdk.MockUi{} // BasicUi has no progress bar
		state := new(multistep.BasicStateBag)
		putUI(state, ui)
		state.Put(keyImagePath, disk)
		putOverlay(state, disk)
		if basePackages != nil {
			putBasePackages(state, basePackages)
		}
		require.Equal(t, multistep.ActionContinue, step.Run(context.Background(), state), "error: %v", getError(state))
		var said strings.Builder
		for _, m := range ui.SayMessages {
			said.WriteString(m.Message + "\n")
		}
		return said.String(), step, state
	}

	ui, step, state := run(t, base)
	changes := step.output + pkgdb.ChangesSuffix
	got, err := os.ReadFile(changes)
	require.NoError(t, err)
	assert.Equal(t, "removed\tcloud-guest-utils\t0.33-1\nadded\te2e-added\t1.0\nupgraded\ttzdata\t2024a-0+deb12u1\t2024b-0+deb12u1\n", string(got))
	assert.Contains(t, ui, "Packages against the base image: 1 added, 1 removed, 1 upgraded: cloud-guest-utils, e2e-added, tzdata ("+changes+")\n")
	assert.Equal(t, []string{step.output, step.output + pkgdb.ChecksumSuffix, changes}, getResult(state).Files())

	ui, step, state = run(t, nil)
	assert.NoFileExists(t, step.output+pkgdb.ChangesSuffix)
	assert.NotContains(t, ui, "Packages against the base image")
	assert.Equal(t, []string{step.output, step.output + pkgdb.ChecksumSuffix}, getResult(state).Files())
}

// TestChangesFileSetting: on by default for tgz and ddgz, off when set so
// or for a qcow2 disk, which gets no files beside it.
func TestChangesFileSetting(t *testing.T) {
	for _, tc := range []struct {
		set  map[string]interface{}
		want bool
	}{
		{map[string]interface{}{}, true},
		{map[string]interface{}{"output_format": "ddgz"}, true},
		{map[string]interface{}{"changes_file": false}, false},
		{map[string]interface{}{"output_format": "qcow2"}, false},
	} {
		raw := validSettings(t)
		for k, v := range tc.set {
			raw[k] = v
		}
		var c Config
		_, err := c.Prepare(raw)
		require.NoError(t, err)
		assert.Equal(t, tc.want, newStepCheckBaseImage(&c).changes, "%v", tc.set)
	}
	var c Config
	assert.Contains(t, c.FlatMapstructure().HCL2Spec(), "changes_file", "HCL2 spec")
}
