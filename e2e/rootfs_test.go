package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
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
	"github.com/c34478be/packer-plugin-maas/internal/test/packertest"
	"github.com/c34478be/packer-plugin-maas/internal/test/testimage"
)

// TestRootfsBuildThroughStockPacker builds the test cloud image with
// maas-rootfs, user_data, proxies and a shell provisioner under TCG,
// extracts the tarball as curtin does and checks that user_data's and the
// provisioner's changes are in it, that the guest saw the proxies during
// the build, and that the build's traces (proxies included) are not in the
// image; that the change list against the cloud image names exactly the
// package a provisioner installed and the one it purged; and that the
// build left no process or temporary file behind.
func TestRootfsBuildThroughStockPacker(t *testing.T) {
	image := testimage.Path(t)
	env := packertest.New(t, "testdata/rootfs.pkr.hcl")
	writeAddedDeb(t, env)
	tmp := t.TempDir()
	env.ExtraEnv = []string{"TMPDIR=" + tmp}
	vars := []string{"-var", "image=" + image, "-var", "checksum=sha256:" + testimage.SHA256(t)}

	env.MustRun("init", ".")
	env.MustRun(append([]string{"validate"}, append(vars, ".")...)...)
	build := env.MustRun(append([]string{"build"}, append(vars, ".")...)...)

	out := build.Output
	assert.Contains(t, out, "Accelerator: tcg", "the builder must say which accelerator it uses")
	assert.Regexp(t, `(?s)Base image: Debian GNU/Linux 12 \(bookworm\), amd64/generic; root: partition 1, [^\n]*, ext4, .*QEMU started`, out,
		"the base image is checked, and what it holds said, before QEMU starts")
	assert.NotContains(t, out, "is currently used by process", "userdel's warning about the build's own SSH session is noise")
	assert.Contains(t, out, "Warning: TCG")
	assert.Contains(t, out, "provisioned by packer-maas")
	assert.Regexp(t, `Time spent:(\n.*){7}\n.*  other .*\n.*  total `, out, "the summary lists every phase, then the untimed steps' time and the wall time")
	t.Log("phases:\n" + regexp.MustCompile(`(?s)Time spent:.*?total[^\n]*`).FindString(out))

	output := filepath.Join(env.Dir, "output")
	entries, err := os.ReadDir(output)
	require.NoError(t, err)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	assert.ElementsMatch(t, []string{"debian.tar.gz", "debian.tar.gz.manifest", "debian.tar.gz.spdx.json", "debian.tar.gz.sha256",
		"debian.tar.gz.changes", "console.log"}, names,
		"the image, the files beside it and the console log: the overlay, seed and UEFI vars must be gone")
	leftovers, err := filepath.Glob(filepath.Join(tmp, "maas-*"))
	require.NoError(t, err)
	assert.Empty(t, leftovers, "temporary files left in TMPDIR")
	assert.Empty(t, processesMentioning(t, output), "a process (QEMU?) still uses the output directory")

	root := extractAsCurtin(t, filepath.Join(output, "debian.tar.gz"))
	marker, err := os.ReadFile(filepath.Join(root, "etc/e2e-marker"))
	require.NoError(t, err, "the provisioner's file must be in the image")
	assert.Equal(t, "provisioned by packer-maas\n", string(marker))
	assertGeneralized(t, root)
	assertUserDataApplied(t, root)
	assertProxiesSeenThenRemoved(t, root)
	assertPackageChanges(t, out, output, root)
}

// The package writeAddedDeb makes, which rootfs.pkr.hcl installs; it
// also purges removedPackage, a package of the test image that nothing
// depends on.
const (
	addedPackage   = "e2e-added"
	addedVersion   = "1.2-3"
	removedPackage = "cloud-guest-utils"
)

// writeAddedDeb builds the tiny package rootfs.pkr.hcl installs (a
// control file and one file) with dpkg-deb, into the Env's directory.
func writeAddedDeb(t *testing.T, env *packertest.Env) {
	t.Helper()
	env.WriteFile("deb/DEBIAN/control", "Package: "+addedPackage+"\nVersion: "+addedVersion+
		"\nArchitecture: all\nMaintainer: e2e <e2e@example.invalid>\nDescription: installed by the e2e test\n")
	env.WriteFile("deb/usr/share/e2e-added/hello", "hello from e2e-added\n")
	sh(t, "dpkg-deb", "--root-owner-group", "--build", filepath.Join(env.Dir, "deb"), filepath.Join(env.Dir, addedPackage+".deb"))
}

// assertPackageChanges checks the build read the cloud image's packages
// before boot, and that the change list and its summary name exactly the
// package installed and the one purged, as the extracted image has them.
func assertPackageChanges(t *testing.T, out, output, root string) {
	t.Helper()
	assert.Regexp(t, `Base image: [^\n]*; \d+ packages \(dpkg\)\n`, out, "the cloud image's packages are read before boot")
	changes := filepath.Join(output, "debian.tar.gz.changes")
	assert.Contains(t, out, "Packages against the base image: 1 added, 1 removed, 0 upgraded: "+removedPackage+", "+addedPackage+" (")
	list, err := os.ReadFile(changes)
	require.NoError(t, err)
	assert.Regexp(t, `^removed\t`+removedPackage+`\t[^\t\n]+\nadded\t`+addedPackage+`\t`+regexp.QuoteMeta(addedVersion)+`\n$`, string(list))
	assertFileContent(t, root, "usr/share/e2e-added/hello", "hello from e2e-added\n")
	_, err = os.Lstat(filepath.Join(root, "usr/bin/growpart"))
	assert.True(t, os.IsNotExist(err), "the purged %s's growpart is still in the image", removedPackage)
}

// The proxies rootfs.pkr.hcl gives the guest.
const (
	e2eHTTPProxy  = "http://192.0.2.1:3128"
	e2eHTTPSProxy = "http://192.0.2.1:3129"
	e2eNoProxy    = "localhost,127.0.0.1,.e2e.internal"
)

// assertUserDataApplied checks that rootfs.pkr.hcl's user_data ran in the
// build (write_files and runcmd) and that cloud-init reported no error.
func assertUserDataApplied(t *testing.T, root string) {
	t.Helper()
	assertFileContent(t, root, "etc/e2e-user-data", "written by user_data\n")
	assertFileContent(t, root, "etc/e2e-runcmd", "runcmd ran\n")
	raw, err := os.ReadFile(filepath.Join(root, "etc/e2e-cloud-init-result.json"))
	require.NoError(t, err, "the provisioner's copy of cloud-init's result.json")
	var result struct {
		V1 struct {
			Errors []any `json:"errors"`
		} `json:"v1"`
	}
	require.NoError(t, json.Unmarshal(raw, &result), "result.json: %s", raw)
	assert.Empty(t, result.V1.Errors, "cloud-init reported errors with user_data and proxies set: %s", raw)
}

// assertProxiesSeenThenRemoved checks that the provisioner's environment
// and apt had the proxies, and that the image keeps neither the proxy lines
// in /etc/environment (but keeps its other lines) nor apt's proxy file.
func assertProxiesSeenThenRemoved(t *testing.T, root string) {
	t.Helper()
	seen, err := os.ReadFile(filepath.Join(root, "etc/e2e-proxy-env"))
	require.NoError(t, err, "the provisioner's record of its proxy environment")
	assert.ElementsMatch(t, []string{
		"http_proxy=" + e2eHTTPProxy, "HTTP_PROXY=" + e2eHTTPProxy,
		"https_proxy=" + e2eHTTPSProxy, "HTTPS_PROXY=" + e2eHTTPSProxy,
		"no_proxy=" + e2eNoProxy, "NO_PROXY=" + e2eNoProxy,
	}, strings.Fields(string(seen)), "the provisioner's SSH session must see the proxies")
	apt, err := os.ReadFile(filepath.Join(root, "etc/e2e-apt-proxy"))
	require.NoError(t, err, "the provisioner's record of apt's proxy settings")
	assert.ElementsMatch(t, []string{
		`Acquire::http::Proxy "` + e2eHTTPProxy + `";`, `Acquire::https::Proxy "` + e2eHTTPSProxy + `";`,
	}, strings.Split(strings.TrimSpace(string(apt)), "\n"), "apt in the guest must use the proxies")

	assertFileContent(t, root, "etc/environment", "E2E_KEPT=from-user-data\n")
	_, err = os.Lstat(filepath.Join(root, "etc/apt/apt.conf.d/90packer-maas-proxy"))
	assert.True(t, os.IsNotExist(err), "apt's proxy file must not be in the image")
	mentions, _ := exec.Command("grep", "-rlF", "192.0.2.1", filepath.Join(root, "etc/apt"), filepath.Join(root, "etc/environment")).Output()
	assert.Empty(t, strings.TrimSpace(string(mentions)), "the build's proxy must not be configured in the image")
}

// assertFileContent checks a regular file of an extracted image.
func assertFileContent(t *testing.T, root, path, want string) {
	t.Helper()
	got, err := os.ReadFile(filepath.Join(root, path))
	if assert.NoError(t, err, "/%s must be in the image", path) {
		assert.Equal(t, want, string(got), "/%s", path)
	}
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
	assertBuildTracesCleared(t, root)
}

// assertBuildTracesCleared checks the build VM's hostname, its SSH login
// records, its journal and its random seed are not in the image, and that
// the files their writers expect stay, empty, with their mode and owner.
func assertBuildTracesCleared(t *testing.T, root string) {
	t.Helper()
	for _, f := range []struct {
		path     string
		required bool
		mode     os.FileMode
		gid      uint32
	}{
		{"etc/hostname", true, 0o644, 0},
		{"var/log/wtmp", true, 0o664, 43}, // utmp
		{"var/log/btmp", true, 0o660, 43},
		{"var/log/lastlog", false, 0, 0}, // mode 0: whatever it had
		{"var/log/auth.log", false, 0, 0},
	} {
		info, err := os.Lstat(filepath.Join(root, f.path))
		if os.IsNotExist(err) && !f.required {
			continue
		}
		if assert.NoError(t, err, "/%s must stay in the image, empty", f.path) {
			assert.Zero(t, info.Size(), "/%s must be empty", f.path)
			if f.mode != 0 {
				assert.Equal(t, f.mode, info.Mode(), "/%s keeps its mode", f.path)
				assert.Equal(t, f.gid, info.Sys().(*syscall.Stat_t).Gid, "/%s keeps its group", f.path)
			}
		}
	}
	journal, err := os.ReadDir(filepath.Join(root, "var/log/journal"))
	if assert.NoError(t, err, "/var/log/journal must stay, so deployed machines keep a persistent journal") {
		assert.Empty(t, journal, "the build's journal must not be in the image")
	}
	_, err = os.Lstat(filepath.Join(root, "var/lib/systemd/random-seed"))
	assert.True(t, os.IsNotExist(err), "/var/lib/systemd/random-seed must not be in the image: every machine would share it")
}

// TestRootfsQcow2ThroughMaasExport downloads the image over HTTP, checked
// against a SHA256SUMS file there as cloud image mirrors publish it, writes
// the provisioned disk as a standalone qcow2 and hands it to maas-export:
// the tarball must come from that disk (the artifact's diskName), hold the
// provisioners' changes and the curtin hook as MAAS needs it, and none of
// the build's traces; with remove_kernel, no kernel either.
func TestRootfsQcow2ThroughMaasExport(t *testing.T) {
	env := packertest.New(t, "testdata/rootfs-qcow2.pkr.hcl")
	mirror := serveImage(t, testimage.Path(t), testimage.SHA256(t))
	vars := []string{"-var", "image=" + mirror + "/debian.qcow2", "-var", "checksum=file:" + mirror + "/SHA256SUMS"}
	env.MustRun("init", ".")
	out := env.MustRun(append([]string{"build"}, append(vars, ".")...)...).Output
	assert.Contains(t, out, "packer-maas: removing the image's kernel packages")
	cached, _ := filepath.Glob(filepath.Join(env.Dir, "packer_cache", "*"))
	assert.NotEmpty(t, cached, "the downloaded image must be in Packer's cache")

	disk := filepath.Join("output", "debian.qcow2")
	assert.Contains(t, out, "Writing the disk to "+disk+" (qcow2)")
	assert.Contains(t, out, "Exporting "+disk+" to "+filepath.Join(env.Dir, "image.tar.gz"), "maas-export must read the builder's qcow2 and say where it writes, in full")
	assert.Contains(t, out, "Installing the built-in ubuntu hook as /curtin/curtin-hooks")
	assert.Contains(t, out, "hook-compiles: ok (/usr/bin/python3)", "the guest's python3 compiled the hook")
	assert.Contains(t, out, "kernel-kept: ok (remove_kernel removes it at generalize)", "maas-rootfs tells the hook's checks about remove_kernel")
	assert.NotContains(t, out, "WARNING: kernel-kept")

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
	assertNoKernel(t, root)
}

// assertNoKernel checks that an extracted image has no kernel package in
// dpkg's database and none of a kernel's files: MAAS installs its own.
func assertNoKernel(t *testing.T, root string) {
	t.Helper()
	status, err := os.ReadFile(filepath.Join(root, "var/lib/dpkg/status"))
	require.NoError(t, err, "dpkg's status file")
	packages := 0
	for _, stanza := range strings.Split(string(status), "\n\n") {
		name := dpkgField(stanza, "Package")
		if name == "" {
			continue
		}
		packages++
		if strings.HasPrefix(name, "linux-image-") || strings.HasPrefix(name, "linux-modules-") {
			assert.Fail(t, "a kernel package is left in dpkg's database", "%s: %s", name, dpkgField(stanza, "Status"))
		}
	}
	assert.Greater(t, packages, 100, "dpkg's status file lists too few packages to be the image's")
	for _, pattern := range []string{"boot/vmlinuz*", "boot/initrd.img*", "boot/System.map-*", "boot/config-*", "lib/modules/*", "usr/lib/modules/*", "vmlinuz*", "initrd.img*"} {
		found, err := filepath.Glob(filepath.Join(root, pattern))
		require.NoError(t, err)
		assert.Empty(t, found, "remove_kernel must leave no /%s", pattern)
	}
}

// dpkgField returns a field of one dpkg status stanza, "" if absent.
func dpkgField(stanza, name string) string {
	for _, line := range strings.Split(stanza, "\n") {
		if value, ok := strings.CutPrefix(line, name+": "); ok {
			return value
		}
	}
	return ""
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
	assertFailedBuildLeftNothing(t, env)
	assert.NotContains(t, res.Output, "never reached")
}

// serveImage serves the image as /debian.qcow2 and a SHA256SUMS file
// naming it, over HTTP on 127.0.0.1, and returns the base URL.
func serveImage(t *testing.T, image, sum string) string {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("/debian.qcow2", func(w http.ResponseWriter, r *http.Request) { http.ServeFile(w, r, image) })
	mux.HandleFunc("/SHA256SUMS", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%s  other.qcow2\n%s *debian.qcow2\n", strings.Repeat("0", 64), sum)
	})
	server := httptest.NewServer(mux)
	t.Cleanup(server.Close)
	return server.URL
}

// TestRootfsChecksumMismatchFailsBeforeBoot gives the image a wrong
// sha256: the build must fail naming image_checksum, without starting QEMU.
func TestRootfsChecksumMismatchFailsBeforeBoot(t *testing.T) {
	env := packertest.New(t, "testdata/rootfs.pkr.hcl")
	env.MustRun("init", ".")
	res := env.Run("build", "-var", "image="+testimage.Path(t), "-var", "checksum=sha256:"+strings.Repeat("ab", 32), ".")
	require.NotEqual(t, 0, res.ExitCode, "a wrong checksum must fail the build:\n%s", res.Output)
	assert.Contains(t, res.Output, "image_checksum does not match the image: check image_checksum against image_url")
	assert.NotContains(t, res.Output, "QEMU started", "nothing may boot from an image that failed its checksum")
	assertFailedBuildLeftNothing(t, env)
}

// assertFailedBuildLeftNothing checks a failed maas-rootfs build (output
// directory "output") stopped its QEMU and removed that directory.
func assertFailedBuildLeftNothing(t *testing.T, env *packertest.Env) {
	t.Helper()
	output := filepath.Join(env.Dir, "output")
	assert.Empty(t, processesMentioning(t, output), "QEMU survived the failed build")
	_, err := os.Stat(output)
	assert.True(t, os.IsNotExist(err), "a failed build must remove its output directory")
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
