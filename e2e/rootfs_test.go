package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/c34478be/packer-plugin-maas/internal/packertest"
	"github.com/c34478be/packer-plugin-maas/internal/testimage"
)

// TestRootfsBuildThroughStockPacker builds the test cloud image with
// maas-rootfs and a shell provisioner under TCG, extracts the tarball as
// curtin does and checks that the provisioner's change is in it and the
// build's traces are not; and that the build left no process or
// temporary file behind.
func TestRootfsBuildThroughStockPacker(t *testing.T) {
	image := testimage.Path(t)
	env := packertest.New(t, "testdata/rootfs.pkr.hcl")
	tmp := t.TempDir()
	env.ExtraEnv = []string{"TMPDIR=" + tmp}
	vars := []string{"-var", "image=" + image, "-var", "checksum=sha256:" + testimage.SHA256(t)}

	env.MustRun("init", ".")
	env.MustRun(append([]string{"validate"}, append(vars, ".")...)...)
	build := env.MustRun(append([]string{"build"}, append(vars, ".")...)...)

	out := build.Output
	assert.Contains(t, out, "Accelerator: tcg", "the builder must say which accelerator it uses")
	assert.Contains(t, out, "Warning: TCG")
	assert.Contains(t, out, "provisioned by packer-maas")
	assert.Regexp(t, `Time spent:(\n.*){7}\n.*total`, out, "the summary lists every phase")
	t.Log("phases:\n" + regexp.MustCompile(`(?s)Time spent:.*?total[^\n]*`).FindString(out))

	output := filepath.Join(env.Dir, "output")
	entries, err := os.ReadDir(output)
	require.NoError(t, err)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	assert.ElementsMatch(t, []string{"debian.tar.gz", "console.log"}, names, "the overlay, seed and UEFI vars must be gone")
	leftovers, err := filepath.Glob(filepath.Join(tmp, "maas-*"))
	require.NoError(t, err)
	assert.Empty(t, leftovers, "temporary files left in TMPDIR")
	assert.Empty(t, processesMentioning(t, output), "a process (QEMU?) still uses the output directory")

	root := t.TempDir()
	tar := exec.Command("tar", "-C", root, "--xattrs", "--xattrs-include=*", "-Sxpf", filepath.Join(output, "debian.tar.gz"), "--numeric-owner")
	tarOut, err := tar.CombinedOutput()
	require.NoError(t, err, "curtin's tar command: %s", tarOut)

	marker, err := os.ReadFile(filepath.Join(root, "etc/e2e-marker"))
	require.NoError(t, err, "the provisioner's file must be in the image")
	assert.Equal(t, "provisioned by packer-maas\n", string(marker))
	machineID, err := os.Stat(filepath.Join(root, "etc/machine-id"))
	require.NoError(t, err)
	assert.Zero(t, machineID.Size(), "machine-id must be empty")

	for _, f := range []string{"etc/passwd", "etc/shadow", "etc/group"} {
		content, err := os.ReadFile(filepath.Join(root, f))
		require.NoError(t, err)
		assert.NotContains(t, string(content), "packer-maas", "%s still names the build user", f)
	}
	sudoers, _ := filepath.Glob(filepath.Join(root, "etc/sudoers.d/*"))
	for _, f := range sudoers {
		content, err := os.ReadFile(f)
		require.NoError(t, err)
		assert.NotContains(t, string(content), "packer-maas", "%s keeps the build user's sudo rule", f)
	}
	for _, gone := range []string{
		"home/packer-maas", "var/lib/cloud/instance", "var/lib/cloud/instances",
		"etc/network/interfaces.d/50-cloud-init", "etc/network/interfaces.d/50-cloud-init.cfg", "etc/netplan/50-cloud-init.yaml",
		"var/log/cloud-init.log",
	} {
		_, err := os.Lstat(filepath.Join(root, gone))
		assert.True(t, os.IsNotExist(err), "/%s must not be in the image", gone)
	}
	hostKeys, _ := filepath.Glob(filepath.Join(root, "etc/ssh/ssh_host_*"))
	assert.Empty(t, hostKeys, "SSH host keys must not be in the image")
	keys, _ := exec.Command("grep", "-rl", "packer-maas", filepath.Join(root, "root"), filepath.Join(root, "etc/ssh")).Output()
	assert.Empty(t, strings.TrimSpace(string(keys)), "the build key must not be authorized anywhere")
}

// processesMentioning lists the processes whose command line holds s.
func processesMentioning(t *testing.T, s string) []string {
	t.Helper()
	procs, err := filepath.Glob("/proc/[0-9]*/cmdline")
	require.NoError(t, err)
	var found []string
	for _, p := range procs {
		cmdline, err := os.ReadFile(p)
		if err != nil {
			continue // exited meanwhile
		}
		if strings.Contains(string(cmdline), s) {
			found = append(found, strings.ReplaceAll(string(cmdline), "\x00", " "))
		}
	}
	return found
}
