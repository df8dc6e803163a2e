package e2e

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/c34478be/packer-plugin-maas/internal/curtinhook"
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

	root := extractAsCurtin(t, filepath.Join(output, "debian.tar.gz"))
	marker, err := os.ReadFile(filepath.Join(root, "etc/e2e-marker"))
	require.NoError(t, err, "the provisioner's file must be in the image")
	assert.Equal(t, "provisioned by packer-maas\n", string(marker))
	assertGeneralized(t, root)
}

// extractAsCurtin unpacks a MAAS tarball with curtin's tar command and
// returns the directory.
func extractAsCurtin(t *testing.T, tarball string) string {
	t.Helper()
	root := t.TempDir()
	tar := exec.Command("tar", "-C", root, "--xattrs", "--xattrs-include=*", "-Sxpf", tarball, "--numeric-owner")
	out, err := tar.CombinedOutput()
	require.NoError(t, err, "curtin's tar command on %s: %s", tarball, out)
	return root
}

// assertGeneralized checks that an extracted image holds none of the
// build's traces: machine-id, build user, its key and sudo rule, SSH host
// keys, cloud-init's instance state and logs, the build VM's network config.
func assertGeneralized(t *testing.T, root string) {
	t.Helper()
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

// TestRootfsQcow2ThroughMaasExport writes the provisioned disk as a
// standalone qcow2 and hands it to maas-export: the tarball must come from
// that disk (the artifact's diskName), hold the provisioners' changes and
// the curtin hook as MAAS needs it, and none of the build's traces.
func TestRootfsQcow2ThroughMaasExport(t *testing.T) {
	env := packertest.New(t, "testdata/rootfs-qcow2.pkr.hcl")
	vars := []string{"-var", "image=" + testimage.Path(t), "-var", "checksum=sha256:" + testimage.SHA256(t)}
	env.MustRun("init", ".")
	out := env.MustRun(append([]string{"build"}, append(vars, ".")...)...).Output

	disk := filepath.Join("output", "debian.qcow2")
	assert.Contains(t, out, "Writing the disk to "+disk+" (qcow2)")
	assert.Contains(t, out, "Exporting "+disk+" to image.tar.gz", "maas-export must read the builder's qcow2")
	assert.Contains(t, out, "Installing the built-in ubuntu hook as /curtin/curtin-hooks")
	assert.Contains(t, out, "hook-compiles: ok (/usr/bin/python3)", "the guest's python3 compiled the hook")

	info, err := exec.Command("qemu-img", "info", "--output=json", filepath.Join(env.Dir, disk)).Output()
	require.NoError(t, err, "qemu-img info on the builder's qcow2")
	var image struct {
		Format      string `json:"format"`
		BackingFile string `json:"backing-filename"`
	}
	require.NoError(t, json.Unmarshal(info, &image))
	assert.Equal(t, "qcow2", image.Format)
	assert.Empty(t, image.BackingFile, "the qcow2 must stand alone, not lean on packer_cache")

	root := extractAsCurtin(t, filepath.Join(env.Dir, "image.tar.gz"))
	marker, err := os.ReadFile(filepath.Join(root, "etc/e2e-marker"))
	require.NoError(t, err, "the provisioner's file must be in the image")
	assert.Equal(t, "provisioned by packer-maas\n", string(marker))
	assertImageFile(t, filepath.Join(root, "curtin/curtin-hooks"), 0o750, string(curtinhook.UbuntuHook()))
	assertGeneralized(t, root)
}

// TestRootfsUnbootableImageFailsWithConsoleTail boots a blank disk: the
// firmware finds nothing to boot, so SSH never comes and the build must
// fail once ssh_timeout (2m) is over, saying what ran and what the guest
// printed, and leave no QEMU behind.
func TestRootfsUnbootableImageFailsWithConsoleTail(t *testing.T) {
	env := packertest.New(t, "testdata/rootfs-broken.pkr.hcl")
	blank := filepath.Join(t.TempDir(), "blank.qcow2")
	out, err := exec.Command("qemu-img", "create", "-f", "qcow2", blank, "1G").CombinedOutput()
	require.NoError(t, err, "qemu-img create (Debian package qemu-utils): %s", out)
	env.MustRun("init", ".")

	start := time.Now()
	res := env.Run("build", "-var", "image="+blank, ".")
	elapsed := time.Since(start)
	require.NotEqual(t, 0, res.ExitCode, "an unbootable image must fail the build:\n%s", res.Output)
	assert.Less(t, elapsed, 4*time.Minute, "the build must give up soon after ssh_timeout (2m)")
	assert.Contains(t, res.Output, "no SSH login within ssh_timeout (2m0s)")
	assert.Contains(t, res.Output, "accelerator: tcg")
	assert.Contains(t, res.Output, "QEMU command: ")
	assert.Contains(t, res.Output, "last 30 lines of the serial console:")
	// What OVMF prints on the serial console when no disk boots.
	assert.Contains(t, res.Output, `BdsDxe: failed to load Boot0001 "UEFI Misc Device"`)
	assert.Contains(t, res.Output, "Shell>")
	assert.Empty(t, processesMentioning(t, filepath.Join(env.Dir, "output")), "QEMU survived the failed build")
	_, err = os.Stat(filepath.Join(env.Dir, "output"))
	assert.True(t, os.IsNotExist(err), "a failed build must remove its output directory")
	assert.NotContains(t, res.Output, "never reached")
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
	build := startBuild(t, "testdata/rootfs.pkr.hcl", "-var", "image="+testimage.Path(t), "-var", "checksum=none")
	// The guest writing to its console means QEMU runs and the boot is on.
	booting := func() bool {
		info, err := os.Stat(filepath.Join(build.output, "console.log"))
		return err == nil && info.Size() > 0
	}
	require.True(t, pollUntil(3*time.Minute, build.exited, booting), "the guest never wrote to its console:\n%s", build.out)
	build.interruptAndCheckCleanup(t)
}

// TestRootfsInterruptDuringProvisioning sends the SIGINT while a shell
// provisioner runs in the guest: the same cleanup must happen.
func TestRootfsInterruptDuringProvisioning(t *testing.T) {
	build := startBuild(t, "testdata/rootfs-interrupt-provisioning.pkr.hcl", "-var", "image="+testimage.Path(t))
	provisioning := func() bool { return strings.Contains(build.out.String(), "provisioner-42-sleeping") }
	require.True(t, pollUntil(10*time.Minute, build.exited, provisioning), "the provisioner never ran in the guest:\n%s", build.out)
	build.interruptAndCheckCleanup(t)
	assert.NotContains(t, build.out.String(), "Time spent:", "a cancelled build must not report as if it finished")
}

// runningBuild is `packer build` in its own process group, which gets a
// SIGINT as a terminal's Ctrl-C would: Packer's outer (panicwrap) process
// ignores a SIGINT sent to it alone.
type runningBuild struct {
	cmd    *exec.Cmd
	out    *syncBuffer
	exited chan error // receives once, when packer exits
	output string     // the builder's output_directory
	tmp    string     // TMPDIR of the build
}

func startBuild(t *testing.T, template string, vars ...string) *runningBuild {
	t.Helper()
	env := packertest.New(t, template)
	env.MustRun("init", ".")
	b := &runningBuild{out: &syncBuffer{}, exited: make(chan error, 1),
		output: filepath.Join(env.Dir, "output"), tmp: t.TempDir()}
	b.cmd = exec.Command(packertest.Packer(t), append(append([]string{"build"}, vars...), ".")...)
	b.cmd.Dir = env.Dir
	b.cmd.Env = append(os.Environ(),
		"PACKER_PLUGIN_PATH="+env.PluginPath,
		"PACKER_CACHE_DIR="+filepath.Join(env.Dir, "packer_cache"),
		"PACKER_CONFIG_DIR="+filepath.Join(env.Dir, ".packer.d"),
		"PACKER_NO_COLOR=1", "CHECKPOINT_DISABLE=1", "TMPDIR="+b.tmp,
	)
	b.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	b.cmd.Stdout, b.cmd.Stderr = b.out, b.out
	require.NoError(t, b.cmd.Start())
	go func() { b.exited <- b.cmd.Wait() }()
	t.Cleanup(func() { _ = syscall.Kill(-b.cmd.Process.Pid, syscall.SIGKILL) })
	return b
}

// interruptAndCheckCleanup presses Ctrl-C and checks that Packer exits
// non-zero having stopped QEMU and removed the overlay, seed and sockets.
func (b *runningBuild) interruptAndCheckCleanup(t *testing.T) {
	t.Helper()
	require.NoError(t, syscall.Kill(-b.cmd.Process.Pid, syscall.SIGINT))
	select {
	case err := <-b.exited:
		var exit *exec.ExitError
		require.ErrorAs(t, err, &exit, "packer must exit non-zero after Ctrl-C:\n%s", b.out)
	case <-time.After(2 * time.Minute):
		t.Fatalf("packer did not exit within 2 minutes of SIGINT:\n%s", b.out)
	}
	assert.Contains(t, b.out.String(), "Stopping QEMU")
	assert.Empty(t, processesMentioning(t, b.output), "QEMU survived the interrupt")
	_, err := os.Stat(b.output)
	assert.True(t, os.IsNotExist(err), "the output directory (overlay, seed) must be removed on cancel")
	leftovers, err := filepath.Glob(filepath.Join(b.tmp, "maas-*"))
	require.NoError(t, err)
	assert.Empty(t, leftovers, "temporary files left in TMPDIR")
}

// syncBuffer collects a process's output while the test reads it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
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
