package maasartifact_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	packersdk "github.com/hashicorp/packer-plugin-sdk/packer"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/c34478be/packer-plugin-maas/internal/export"
	"github.com/c34478be/packer-plugin-maas/internal/maasartifact"
	"github.com/c34478be/packer-plugin-maas/internal/pkgdb"
	"github.com/c34478be/packer-plugin-maas/internal/tarball"
	"github.com/c34478be/packer-plugin-maas/internal/test/testtool"
)

const builderID = "test.producer"

func TestArtifactStateIsWhatMaasUploadReads(t *testing.T) {
	res := export.Result{
		Output:       tarball.Output{Path: "/out/img.tar.gz", SHA256: "ab12", Size: 4096},
		Filetype:     export.FiletypeTGZ,
		Architecture: "arm64/generic",
		BaseImage:    "ubuntu/noble",
	}
	a := maasartifact.FromResult(builderID, "", res, map[interface{}]interface{}{"ID": "from the builder"})
	assert.Equal(t, builderID, a.BuilderId())
	assert.Equal(t, []string{"/out/img.tar.gz"}, a.Files())
	for key, want := range map[string]interface{}{
		maasartifact.StatePath:         "/out/img.tar.gz",
		maasartifact.StateFiletype:     "tgz",
		maasartifact.StateArchitecture: "arm64/generic",
		maasartifact.StateBaseImage:    "ubuntu/noble",
		maasartifact.StateSHA256:       "ab12",
		maasartifact.StateSize:         int64(4096),
	} {
		assert.Equal(t, want, a.State(key), key)
	}
	assert.Nil(t, a.State("unknown"))
	generated, ok := a.State("generated_data").(map[string]interface{})
	require.True(t, ok)
	assert.Equal(t, "ab12", generated["MAASImageSHA256"])
	assert.Equal(t, "from the builder", generated["ID"], "the builder's generated data passes on")
	assert.Contains(t, a.String(), "/out/img.tar.gz")
	assert.Equal(t, maasartifact.FromState(a), a.Image, "FromState reads back what the state says")
}

// TestGeneratedDataIsTheSameForEveryProducer: maas-export used to leave
// out MAASFiletype, which maas-rootfs published.
func TestGeneratedDataIsTheSameForEveryProducer(t *testing.T) {
	a := maasartifact.New(builderID, maasartifact.Image{Path: "/o/x.dd.gz", Filetype: export.FiletypeDDGZ}, nil)
	generated := a.State("generated_data").(map[string]interface{})
	for _, name := range maasartifact.GeneratedDataNames {
		assert.Contains(t, generated, name)
	}
	assert.Equal(t, "ddgz", generated["MAASFiletype"])
}

func TestArtifactArchitecturePrecedence(t *testing.T) {
	detected := export.Result{Architecture: "arm64/generic"}
	assert.Equal(t, "amd64/generic", maasartifact.FromResult(builderID, "amd64/generic", detected, nil).Architecture, "the setting wins")
	assert.Equal(t, "arm64/generic", maasartifact.FromResult(builderID, "", detected, nil).Architecture, "then the image's programs")
	assert.Empty(t, maasartifact.FromResult(builderID, "", export.Result{}, nil).Architecture, "no amd64 guess (the export fails before it comes to that)")
}

// TestArchitectureOfBothSettingForms: maas-rootfs's setting is "amd64",
// maas-export's "amd64/generic"; both record the MAAS form.
func TestArchitectureOfBothSettingForms(t *testing.T) {
	for _, c := range []struct{ setting, detected, want string }{
		{"amd64", "", "amd64/generic"},
		{"arm64", "arm64/generic", "arm64/generic"},
		{"amd64/generic", "", "amd64/generic"},
		{"arm64/xgene-uboot", "arm64/generic", "arm64/xgene-uboot"},
		{"", "ppc64el/generic", "ppc64el/generic"},
		{"", "", ""},
	} {
		assert.Equal(t, c.want, maasartifact.Architecture(c.setting, c.detected), "%+v", c)
	}
}

// TestDiskArtifactIsNoMAASImage: maas-rootfs's qcow2 output is a disk for
// maas-export (diskName, as the qemu builder's), not a file for
// maas-upload.
func TestDiskArtifactIsNoMAASImage(t *testing.T) {
	img := maasartifact.Image{Path: "/o/web.qcow2", SHA256: "cd34", Size: 1 << 20, Architecture: "amd64/generic"}
	a := maasartifact.NewDisk(builderID, img, "qcow2", map[string]interface{}{"SourceImageURL": "https://x/img"})
	assert.Equal(t, "/o/web.qcow2", a.State("diskName"))
	for _, key := range []string{maasartifact.StatePath, maasartifact.StateFiletype, maasartifact.StateSHA256} {
		assert.Nil(t, a.State(key), key)
	}
	assert.Empty(t, maasartifact.FromState(a).Path)
	generated := a.State("generated_data").(map[string]interface{})
	assert.Equal(t, "qcow2", generated["MAASFiletype"])
	assert.Equal(t, "https://x/img", generated["SourceImageURL"])
	assert.Contains(t, a.String(), "disk image /o/web.qcow2 (qcow2")
}

// TestFromStateAcrossRPC: numbers come back from the plugin RPC boundary
// as other types; a missing or odd value reads as zero.
func TestFromStateAcrossRPC(t *testing.T) {
	for _, size := range []interface{}{int64(42), 42, uint64(42), float64(42), "42"} {
		in := &packersdk.MockArtifact{StateValues: map[string]interface{}{maasartifact.StateSize: size}}
		assert.Equal(t, int64(42), maasartifact.FromState(in).Size, "%T", size)
	}
	odd := &packersdk.MockArtifact{StateValues: map[string]interface{}{maasartifact.StatePath: 7, maasartifact.StateSize: []byte("x")}}
	assert.Equal(t, maasartifact.Image{}, maasartifact.FromState(odd))
}

func TestArtifactDestroyRemovesTheFile(t *testing.T) {
	f := filepath.Join(t.TempDir(), "img.tar.gz")
	require.NoError(t, os.WriteFile(f, []byte("x"), 0o644))
	a := maasartifact.New(builderID, maasartifact.Image{Path: f}, nil)
	require.NoError(t, a.Destroy())
	assert.NoFileExists(t, f)
	require.NoError(t, a.Destroy(), "destroying twice is fine")
}

// TestRunWithTheRootfsSettingForm: the glue both components share runs
// the export with progress and records maas-rootfs's "amd64" setting as
// the MAAS architecture; a setting the image's programs contradict is
// pointed out.
func TestRunWithTheRootfsSettingForm(t *testing.T) {
	testtool.Require(t, "mkfs.ext4")
	disk := ext4Disk(t)
	for _, c := range []struct{ setting, want, warning string }{
		{"amd64", "amd64/generic", ""},
		{"arm64", "arm64/generic", "the image's programs are amd64/generic; MAAS will deploy it as arm64/generic"},
	} {
		ui := &packersdk.MockUi{}
		output := filepath.Join(t.TempDir(), "img.tar.gz")
		art, res, err := maasartifact.Run(context.Background(), ui, maasartifact.Export{
			Options:   export.Options{Input: disk, Output: output, Filetype: export.FiletypeTGZ, Architecture: c.setting},
			BuilderID: builderID, ProgressName: "img", PassOn: map[string]interface{}{"SourceImageURL": "u"},
		})
		require.NoError(t, err)
		assert.Equal(t, "amd64/generic", res.Architecture, "what the programs are")
		assert.Equal(t, c.want, art.State(maasartifact.StateArchitecture))
		assert.Equal(t, output, art.State(maasartifact.StatePath))
		assert.Equal(t, "u", art.State("generated_data").(map[string]interface{})["SourceImageURL"])
		assert.True(t, ui.TrackProgressCalled, "progress is shown")
		assert.Contains(t, ui.SayMessages[len(ui.SayMessages)-1].Message, "Wrote "+output)
		if c.warning == "" {
			assert.Empty(t, ui.ErrorMessage)
		} else {
			assert.Contains(t, ui.ErrorMessage, c.warning)
		}
	}
}

func ext4Disk(t *testing.T) string {
	t.Helper()
	tree := filepath.Join(t.TempDir(), "root")
	require.NoError(t, os.MkdirAll(filepath.Join(tree, "etc"), 0o755))
	require.NoError(t, os.MkdirAll(filepath.Join(tree, "usr/bin"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(tree, "etc/os-release"), []byte("ID=ubuntu\nVERSION_CODENAME=noble\n"), 0o644))
	env, err := os.ReadFile("/usr/bin/env")
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(tree, "usr/bin/env"), env, 0o755))
	disk := filepath.Join(t.TempDir(), "disk.raw")
	out, err := exec.Command("mkfs.ext4", "-q", "-L", "root", "-d", tree, disk, "8M").CombinedOutput()
	require.NoError(t, err, "mkfs.ext4 (Debian package e2fsprogs): %s", out)
	return disk
}

// TestSidecarsAreListedAfterTheImage: Packer's manifest post-processor
// and users' pipelines see the files written next to the image; the
// image comes first, and Destroy removes them all.
func TestSidecarsAreListedAfterTheImage(t *testing.T) {
	dir := t.TempDir()
	img := filepath.Join(dir, "img.tar.gz")
	sidecars := []string{img + ".manifest", img + ".spdx.json", img + ".sha256"}
	for _, f := range append([]string{img}, sidecars...) {
		require.NoError(t, os.WriteFile(f, []byte("x"), 0o644))
	}
	res := export.Result{Output: tarball.Output{Path: img, SHA256: "ab12", Size: 1}, Filetype: export.FiletypeTGZ}
	res.SidecarFiles = sidecars
	res.Packages = &pkgdb.Inventory{Format: pkgdb.FormatDpkg, Packages: make([]pkgdb.Package, 312)}
	a := maasartifact.FromResult(builderID, "", res, nil)
	assert.Equal(t, append([]string{img}, sidecars...), a.Files())
	assert.Equal(t, img, a.State(maasartifact.StatePath))
	assert.Equal(t, 312, a.State(maasartifact.StatePackages))
	assert.Equal(t, 312, maasartifact.FromState(a).Packages)
	require.NoError(t, a.Destroy())
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Empty(t, entries)
}
