package maascurtinhook

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	packersdk "github.com/hashicorp/packer-plugin-sdk/packer"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/c34478be/packer-plugin-maas/internal/curtinhook"
	"github.com/c34478be/packer-plugin-maas/internal/test/fakecomm"
	"github.com/c34478be/packer-plugin-maas/internal/test/testtool"
)

// image is a fake Debian image root with cloud-init and coreutils
// installed (coreutils, because install_kernel's script runs on this host
// and must find the package installed here too).
func newImage(t *testing.T) string {
	t.Helper()
	testtool.RequireRoot(t) // the provisioner makes root-owned files
	testtool.Require(t, "sh", "dpkg-query")
	root := t.TempDir()
	write(t, filepath.Join(root, "etc/os-release"), "ID=debian\nVERSION_CODENAME=bookworm\n", 0o644)
	write(t, filepath.Join(root, "usr/bin/cloud-init"), "#!/bin/sh\n", 0o755)
	write(t, filepath.Join(root, "var/lib/dpkg/status"),
		"Package: coreutils\nStatus: install ok installed\nMaintainer: x\nDescription: x\nVersion: 9\nArchitecture: amd64\n\n", 0o644)
	dpkgQuery, err := exec.LookPath("dpkg-query")
	require.NoError(t, err, "dpkg-query is needed (Debian package dpkg)")
	require.NoError(t, os.Symlink(dpkgQuery, filepath.Join(root, "usr/bin/dpkg-query")))
	return root
}

func write(t *testing.T, path, content string, mode os.FileMode) {
	t.Helper()
	require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
	require.NoError(t, os.WriteFile(path, []byte(content), mode))
}

type provisionRun struct {
	err    error
	output string
	comm   *fakecomm.Local
}

// provision runs the provisioner with settings on the image root; staging
// directories go to a fresh TMPDIR that must be empty afterwards.
func provision(t *testing.T, root string, settings map[string]interface{}) provisionRun {
	t.Helper()
	return provisionWith(t, root, settings, nil)
}

// provisionWith is provision with the generated data a builder passes.
func provisionWith(t *testing.T, root string, settings, generated map[string]interface{}) provisionRun {
	t.Helper()
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	p := &Provisioner{imageRoot: root}
	require.NoError(t, p.Prepare(settings))
	var out bytes.Buffer
	ui := &packersdk.BasicUi{Reader: strings.NewReader(""), Writer: &out, ErrorWriter: &out}
	comm := &fakecomm.Local{}
	err := p.Provision(context.Background(), ui, comm, generated)
	left, readErr := os.ReadDir(tmp)
	require.NoError(t, readErr)
	assert.Empty(t, left, "the staging directory must be removed")
	return provisionRun{err: err, output: out.String(), comm: comm}
}

func assertFile(t *testing.T, path string, mode os.FileMode, content []byte) {
	t.Helper()
	info, err := os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, mode, info.Mode().Perm(), "%s mode", path)
	st := info.Sys().(*syscall.Stat_t)
	assert.Equal(t, uint32(0), st.Uid, "%s owner", path)
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, content, data, path)
}

func TestProvisionBuiltInHookWithCustomKernelTwice(t *testing.T) {
	root := newImage(t)
	extra := filepath.Join(t.TempDir(), "extra.cfg")
	write(t, extra, "debconf: x\n", 0o600)
	settings := map[string]interface{}{
		"custom_kernel":  "coreutils",
		"install_kernel": true,
		"files":          map[string]string{"extra.cfg": extra},
	}
	for run := 1; run <= 2; run++ {
		res := provision(t, root, settings)
		require.NoError(t, res.err, "run %d:\n%s", run, res.output)
		assertFile(t, filepath.Join(root, "curtin/curtin-hooks"), 0o750, curtinhook.UbuntuHook())
		assertFile(t, filepath.Join(root, "curtin/CUSTOM_KERNEL"), 0o644, []byte("coreutils\n"))
		assertFile(t, filepath.Join(root, "curtin/extra.cfg"), 0o644, []byte("debconf: x\n"))
		assert.Contains(t, res.output, "Installing the built-in ubuntu hook as /curtin/curtin-hooks")
		assert.Contains(t, res.output, "coreutils is installed already")
		assert.Contains(t, res.output, "kernel-installed: ok (dpkg)")
		assert.Contains(t, res.output, "cloud-init: ok (/usr/bin/cloud-init)")
		for _, c := range res.comm.Commands() {
			assert.NotContains(t, c, "sudo", "root needs no sudo")
		}
	}
}

func TestProvisionSourceFileArrivesByteForByte(t *testing.T) {
	root := newImage(t)
	hook := []byte("#!/bin/bash\n# \x00\xff not text, and that is fine\r\nexit 0\n")
	source := filepath.Join(t.TempDir(), "my-hook")
	write(t, source, string(hook), 0o644)
	res := provision(t, root, map[string]interface{}{"source": source, "hook": "ubuntu"})
	require.NoError(t, res.err, res.output)
	assertFile(t, filepath.Join(root, "curtin/curtin-hooks"), 0o750, hook)
	assert.NoFileExists(t, filepath.Join(root, "curtin/CUSTOM_KERNEL"))
	assert.Contains(t, res.output, "hook-interpreter: ok (bash)")
}

func TestProvisionSourceDirectory(t *testing.T) {
	root := newImage(t)
	dir := t.TempDir()
	write(t, filepath.Join(dir, "curtin-hooks"), "#!/bin/sh\n", 0o755)
	write(t, filepath.Join(dir, "helper.sh"), "#!/bin/sh\n", 0o755)
	write(t, filepath.Join(dir, "settings.yaml"), "a: 1\n", 0o600)
	res := provision(t, root, map[string]interface{}{"source": dir})
	require.NoError(t, res.err, res.output)
	assertFile(t, filepath.Join(root, "curtin/curtin-hooks"), 0o750, []byte("#!/bin/sh\n"))
	assertFile(t, filepath.Join(root, "curtin/helper.sh"), 0o750, []byte("#!/bin/sh\n"))
	assertFile(t, filepath.Join(root, "curtin/settings.yaml"), 0o644, []byte("a: 1\n"))
}

func TestProvisionAutoWithoutKernelInstallsNothing(t *testing.T) {
	root := newImage(t)
	res := provision(t, root, map[string]interface{}{})
	require.NoError(t, res.err, res.output)
	assert.NoDirExists(t, filepath.Join(root, "curtin"))
	assert.Contains(t, res.output, `No curtin hook to install (hook = "auto", custom_kernel "", image ID=debian)`)
}

func TestProvisionWarnsWhenNoHookReadsTheCustomKernel(t *testing.T) {
	root := newImage(t)
	res := provision(t, root, map[string]interface{}{"hook": "none", "custom_kernel": "linux-image-rt-amd64"})
	require.NoError(t, res.err, res.output)
	assertFile(t, filepath.Join(root, "curtin/CUSTOM_KERNEL"), 0o644, []byte("linux-image-rt-amd64\n"))
	assert.NoFileExists(t, filepath.Join(root, "curtin/curtin-hooks"))
	assert.Contains(t, res.output, `WARNING: custom_kernel: no hook will read /curtin/CUSTOM_KERNEL in this image; set hook = "ubuntu"`)
}

func TestProvisionFailsOnAnImageWithoutCloudInit(t *testing.T) {
	root := newImage(t)
	require.NoError(t, os.Remove(filepath.Join(root, "usr/bin/cloud-init")))
	res := provision(t, root, map[string]interface{}{})
	require.Error(t, res.err)
	assert.Contains(t, res.err.Error(), "the image is not ready for MAAS:\n  - cloud-init: the image has no cloud-init")
	assert.Contains(t, res.output, "cloud-init: fail")

	res = provision(t, root, map[string]interface{}{"skip_checks": []string{"cloud-init"}})
	require.NoError(t, res.err, res.output)
	assert.Contains(t, res.output, "cloud-init: waived")
}

func TestProvisionWarnsAboutAKernelMAASWillReplace(t *testing.T) {
	root := newImage(t)
	write(t, filepath.Join(root, "boot/vmlinuz-6.1.0-28-cloud-amd64"), "k", 0o600)
	res := provision(t, root, map[string]interface{}{})
	require.NoError(t, res.err, res.output)
	assert.Contains(t, res.output, "WARNING: kernel-kept: the image holds a kernel (vmlinuz-6.1.0-28-cloud-amd64)")
}

// TestProvisionTrustsRemoveKernel checks that kernel-kept does not warn in
// a maas-rootfs build with remove_kernel: the builder says so in the
// generated data, since generalize removes the kernel after the
// provisioners.
func TestProvisionTrustsRemoveKernel(t *testing.T) {
	root := newImage(t)
	write(t, filepath.Join(root, "boot/vmlinuz-6.1.0-28-cloud-amd64"), "k", 0o600)
	for _, removed := range []interface{}{true, "true"} {
		res := provisionWith(t, root, map[string]interface{}{}, map[string]interface{}{"MAASRemoveKernel": removed, "PackerRunUUID": "x"})
		require.NoError(t, res.err, res.output)
		assert.Contains(t, res.output, "kernel-kept: ok (remove_kernel removes it at generalize)")
		assert.NotContains(t, res.output, "WARNING: kernel-kept")
	}
	res := provisionWith(t, root, map[string]interface{}{}, map[string]interface{}{"MAASRemoveKernel": false})
	require.NoError(t, res.err, res.output)
	assert.Contains(t, res.output, "WARNING: kernel-kept", "without remove_kernel the kernel stays and MAAS replaces it")
}

func TestPrepareErrors(t *testing.T) {
	dir := t.TempDir()
	hookless := filepath.Join(dir, "hookless")
	write(t, filepath.Join(hookless, "settings.yaml"), "a: 1\n", 0o644)
	nested := filepath.Join(dir, "nested")
	write(t, filepath.Join(nested, "curtin-hooks"), "#!/bin/sh\n", 0o755)
	write(t, filepath.Join(nested, "sub", "x"), "x", 0o644)
	withKernel := filepath.Join(dir, "with-kernel")
	write(t, filepath.Join(withKernel, "curtin-hooks"), "#!/bin/sh\n", 0o755)
	write(t, filepath.Join(withKernel, "CUSTOM_KERNEL"), "linux-image-rt-amd64\n", 0o644)
	file := filepath.Join(dir, "file")
	write(t, file, "x", 0o644)

	cases := []struct {
		settings map[string]interface{}
		want     string
	}{
		{map[string]interface{}{"hook": "centos"}, `hook "centos" is not one of "auto"`},
		{map[string]interface{}{"source": filepath.Join(dir, "missing")}, "source: stat"},
		{map[string]interface{}{"source": hookless}, "has no curtin-hooks: put the hook there"},
		{map[string]interface{}{"source": nested}, "is not a regular file: a source directory holds only the files for /curtin/"},
		{map[string]interface{}{"source": withKernel, "custom_kernel": "linux-image-generic"}, "has a CUSTOM_KERNEL and custom_kernel is set"},
		{map[string]interface{}{"source": withKernel, "files": map[string]string{"curtin-hooks": file}}, `files: "curtin-hooks" is the hook itself`},
		{map[string]interface{}{"custom_kernel": "linux; reboot"}, `custom_kernel "linux; reboot" is not a package name`},
		{map[string]interface{}{"install_kernel": true}, "install_kernel needs custom_kernel"},
		{map[string]interface{}{"files": map[string]string{"../x": file}}, `files: "../x" is not a plain file name`},
		{map[string]interface{}{"files": map[string]string{"CUSTOM_KERNEL": file}, "custom_kernel": "k"}, "written from custom_kernel"},
		{map[string]interface{}{"files": map[string]string{"x.cfg": dir}}, `files: "x.cfg": ` + dir + " is not a regular file"},
		{map[string]interface{}{"skip_checks": []string{"netplan", "cloudinit"}}, `"cloudinit" is not a check`},
	}
	for _, c := range cases {
		var p Provisioner
		err := p.Prepare(c.settings)
		if assert.Error(t, err, "%v", c.settings) {
			assert.Contains(t, err.Error(), c.want)
		}
	}
}

func TestPrepareDefaults(t *testing.T) {
	var p Provisioner
	require.NoError(t, p.Prepare(map[string]interface{}{}))
	assert.Equal(t, curtinhook.HookAuto, p.config.Hook)
}

func TestExitErrorExplainsSudo(t *testing.T) {
	g := &guestShell{sudo: true}
	err := g.exitError("sudo -n sh '/tmp/x/install.sh'", 1, "sudo: a password is required\n")
	assert.Contains(t, err.Error(), "the SSH user is not root and needs sudo without a password")

	g.sudo = false
	err = g.exitError("sh '/tmp/x/install.sh'", 2, strings.Repeat("line\n", 30)+"install: cannot stat\n")
	assert.Contains(t, err.Error(), "sh '/tmp/x/install.sh' failed (exit 2):")
	assert.Contains(t, err.Error(), "install: cannot stat")
	assert.Equal(t, 19, strings.Count(err.Error(), "line\n"), "only the last 20 lines of output: 19 of 30 lines, then the error")
}
