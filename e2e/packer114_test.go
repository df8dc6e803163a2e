package e2e

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/c34478be/packer-plugin-maas/internal/curtinhook"
	"github.com/c34478be/packer-plugin-maas/internal/test/fakemaas"
	"github.com/c34478be/packer-plugin-maas/internal/test/packertest"
	"github.com/c34478be/packer-plugin-maas/internal/test/testimage"
)

// The tests named TestPacker114* run every component once under the
// newest Packer the module proxy serves (packertest.Packer114), which
// installs the plugin with `packer plugins install --path` and bundles no
// other plugin: no test here needs the qemu builder.

// TestPacker114InstallsInitsValidatesAndBuilds: `plugins install --path`
// writes the layout the 1.9 tests install by hand, init takes it without a
// download, and validate and build run a template that requires it.
func TestPacker114InstallsInitsValidatesAndBuilds(t *testing.T) {
	env := packertest.NewFor(t, packertest.Packer114, "testdata/plugin.pkr.hcl")
	assert.Contains(t, env.MustRun("version").Output, "Packer v"+packertest.Packer114.Version)

	bin, version := packertest.PluginBinary(t)
	want, err := packertest.Install(bin, version, t.TempDir())
	require.NoError(t, err)
	installed := filepath.Join(env.PluginPath, "github.com", "c34478be", "maas", filepath.Base(want))
	assert.Equal(t, hashFile(t, bin), hashFile(t, installed), "Packer installed the plugin under the name packertest.Install uses")
	sum, err := os.ReadFile(installed + "_SHA256SUM")
	require.NoError(t, err)
	assert.Equal(t, hashFile(t, bin), strings.TrimSpace(string(sum)))
	assert.Contains(t, filepath.Base(installed), "_"+runtime.GOOS+"_"+runtime.GOARCH)

	init := env.MustRun("init", ".")
	assert.NotContains(t, init.Output, "Installed plugin", "init must not download what is installed")
	assert.Contains(t, env.MustRun("plugins", "installed").Output, installed)
	env.MustRun("validate", ".")
	build := env.MustRun("build", ".")
	assert.Contains(t, build.Output, "Build 'null.smoke' finished")
}

func TestPacker114ValidateNamesBadSettings(t *testing.T) {
	env := packertest.NewFor(t, packertest.Packer114, "testdata/export-bad-settings.pkr.hcl")
	env.MustRun("init", ".")
	res := env.Run("validate", ".")
	assert.NotEqual(t, 0, res.ExitCode)
	for _, want := range []string{`filetype "ddxz"`, "compression_level 12", `architecture "amd64/generic/x"`} {
		assert.Contains(t, res.Output, want)
	}
}

// TestPacker114ExportThenUpload: the file builder hands the test image to
// maas-export, whose tarball maas-upload sends to the fake MAAS.
func TestPacker114ExportThenUpload(t *testing.T) {
	fake := fakemaas.Start()
	defer fake.Close()
	env := packertest.NewFor(t, packertest.Packer114, "testdata/export-upload.pkr.hcl")
	env.ExtraEnv = []string{"MAAS_URL=" + fake.URL, "MAAS_API_KEY=" + fakemaas.APIKey}
	env.MustRun("init", ".")
	vars := []string{"-var", "image=" + testimage.Path(t), "."}
	env.MustRun(append([]string{"validate"}, vars...)...)
	env.MustRun(append([]string{"build"}, vars...)...)

	tarball := filepath.Join(env.Dir, "image.tar.gz")
	files := fake.Files()
	require.Len(t, files, 1)
	assert.True(t, files[0].Complete)
	assert.Equal(t, "custom/debian-e2e", files[0].Name)
	assert.Equal(t, "root-tgz", files[0].Filetype)
	assert.Equal(t, "amd64/generic", files[0].Architecture)
	assert.Equal(t, hashFile(t, tarball), files[0].SHA256)
	root := extractAsCurtin(t, tarball)
	assert.FileExists(t, filepath.Join(root, "etc/os-release"), "the tarball holds the image's root")
	assertFileContent(t, root, "etc/machine-id", "")
}

// TestPacker114RootfsWithCurtinHookThenUpload: maas-rootfs boots the test
// image (TCG), maas-curtin-hook installs the built-in hook, and
// maas-upload sends the tarball to the fake MAAS.
func TestPacker114RootfsWithCurtinHookThenUpload(t *testing.T) {
	fake := fakemaas.Start()
	defer fake.Close()
	env := packertest.NewFor(t, packertest.Packer114, "testdata/rootfs-curtin-hook-upload.pkr.hcl")
	env.ExtraEnv = []string{"MAAS_URL=" + fake.URL, "MAAS_API_KEY=" + fakemaas.APIKey, "TMPDIR=" + t.TempDir()}
	vars := []string{"-var", "image=" + testimage.Path(t), "-var", "checksum=sha256:" + testimage.SHA256(t), "."}
	env.MustRun("init", ".")
	env.MustRun(append([]string{"validate"}, vars...)...)
	start := time.Now()
	out := env.MustRun(append([]string{"build"}, vars...)...).Output
	t.Logf("packer build took %s", time.Since(start).Round(time.Second))
	assert.Contains(t, out, "Installing the built-in ubuntu hook as /curtin/curtin-hooks")
	assert.Contains(t, out, "hook-compiles: ok (/usr/bin/python3)", "the guest's python3 compiled the hook")

	tarball := filepath.Join(env.Dir, "output", "debian.tar.gz")
	files := fake.Files()
	require.Len(t, files, 1)
	assert.True(t, files[0].Complete)
	assert.Equal(t, "custom/debian-current-packer", files[0].Name)
	assert.Equal(t, "root-tgz", files[0].Filetype)
	assert.Equal(t, "ubuntu/noble", files[0].BaseImage)
	assert.Equal(t, hashFile(t, tarball), files[0].SHA256, "maas-upload sent maas-rootfs's tarball")

	root := extractAsCurtin(t, tarball)
	assertImageFile(t, filepath.Join(root, "curtin/curtin-hooks"), 0o750, string(curtinhook.UbuntuHook()))
	assertImageFile(t, filepath.Join(root, "curtin/CUSTOM_KERNEL"), 0o644, "linux-image-cloud-amd64\n")
	assertGeneralized(t, root)
}
