package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

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

// TestRootfsInterruptDuringBoot sends Packer a SIGINT (Ctrl-C) while the
// VM boots: the build must fail, stop QEMU and leave no overlay, seed or
// socket behind.
func TestRootfsInterruptDuringBoot(t *testing.T) {
	image := testimage.Path(t)
	env := packertest.New(t, "testdata/rootfs.pkr.hcl")
	tmp := t.TempDir()
	env.MustRun("init", ".")

	cmd := exec.Command(packertest.Packer(t), "build", "-var", "image="+image, "-var", "checksum=none", ".")
	cmd.Dir = env.Dir
	cmd.Env = append(os.Environ(),
		"PACKER_PLUGIN_PATH="+env.PluginPath,
		"PACKER_CACHE_DIR="+filepath.Join(env.Dir, "packer_cache"),
		"PACKER_CONFIG_DIR="+filepath.Join(env.Dir, ".packer.d"),
		"PACKER_NO_COLOR=1", "CHECKPOINT_DISABLE=1", "TMPDIR="+tmp,
	)
	// Its own process group, which gets the SIGINT as a terminal's Ctrl-C
	// would: Packer's outer (panicwrap) process ignores a SIGINT of its own.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	require.NoError(t, cmd.Start())
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()

	output := filepath.Join(env.Dir, "output")
	// The guest writing to its console means QEMU runs and the boot is on.
	booting := func() bool {
		info, err := os.Stat(filepath.Join(output, "console.log"))
		return err == nil && info.Size() > 0
	}
	require.True(t, pollUntil(3*time.Minute, exited, booting), "the guest never wrote to its console:\n%s", &out)
	require.NoError(t, syscall.Kill(-cmd.Process.Pid, syscall.SIGINT))

	select {
	case err := <-exited:
		var exit *exec.ExitError
		require.ErrorAs(t, err, &exit, "packer must exit non-zero after Ctrl-C:\n%s", &out)
	case <-time.After(2 * time.Minute):
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		t.Fatalf("packer did not exit within 2 minutes of SIGINT:\n%s", &out)
	}
	assert.Contains(t, out.String(), "Stopping QEMU")
	assert.Empty(t, processesMentioning(t, output), "QEMU survived the interrupt")
	_, err := os.Stat(output)
	assert.True(t, os.IsNotExist(err), "the output directory (overlay, seed) must be removed on cancel")
	leftovers, err := filepath.Glob(filepath.Join(tmp, "maas-*"))
	require.NoError(t, err)
	assert.Empty(t, leftovers, "temporary files left in TMPDIR")
}

// pollUntil checks cond every 200ms until it holds (true), the deadline
// passes or exited receives (false; the value is put back).
func pollUntil(deadline time.Duration, exited chan error, cond func() bool) bool {
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	timeout := time.After(deadline)
	for !cond() {
		select {
		case err := <-exited:
			exited <- err
			return false
		case <-timeout:
			return false
		case <-tick.C:
		}
	}
	return true
}
