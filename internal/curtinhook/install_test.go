package curtinhook

import (
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/c34478be/packer-plugin-maas/internal/test/testtool"
)

func TestModeFor(t *testing.T) {
	assert.Equal(t, HookMode, ModeFor(HookName, 0o644), "the hook is executable whatever its host mode")
	assert.Equal(t, ExecutableMode, ModeFor("helper.sh", 0o700))
	assert.Equal(t, DataMode, ModeFor("curtin-hooks.cfg", 0o600))
}

func TestInstallScriptPlacesRootOwnedFilesAgainAndAgain(t *testing.T) {
	testtool.RequireRoot(t) // the install script sets root ownership
	testtool.Require(t, "sh")
	root := filepath.Join(t.TempDir(), "root with 'quote'")
	stage := filepath.Join(t.TempDir(), "stage")
	writeFile(t, filepath.Join(stage, HookName), "#!/bin/sh\n", 0o600)
	writeFile(t, filepath.Join(stage, "CUSTOM_KERNEL"), "linux-image-rt-amd64", 0o600)
	require.NoError(t, os.Chown(filepath.Join(stage, HookName), 1000, 1000))
	files := []File{{HookName, HookMode}, {CustomKernelName, DataMode}}
	script := InstallScript(root, stage, files)

	for run := 1; run <= 2; run++ {
		out, err := exec.Command("sh", "-c", script).CombinedOutput()
		require.NoError(t, err, "run %d:\n%s\n%s", run, script, out)
		assertOwnedByRoot(t, filepath.Join(root, "curtin"), fs.ModeDir|DirMode)
		assertOwnedByRoot(t, filepath.Join(root, "curtin", HookName), HookMode)
		assertOwnedByRoot(t, filepath.Join(root, "curtin", CustomKernelName), DataMode)
		// A second run must restore what someone changed in between.
		require.NoError(t, os.Chmod(filepath.Join(root, "curtin", HookName), 0o600))
		require.NoError(t, os.Chmod(filepath.Join(root, "curtin"), 0o700))
	}
	data, err := os.ReadFile(filepath.Join(root, "curtin", CustomKernelName))
	require.NoError(t, err)
	assert.Equal(t, "linux-image-rt-amd64", string(data))
}

func assertOwnedByRoot(t *testing.T, path string, mode fs.FileMode) {
	t.Helper()
	info, err := os.Lstat(path)
	require.NoError(t, err)
	assert.Equal(t, mode, info.Mode(), path)
	st := info.Sys().(*syscall.Stat_t)
	assert.Equal(t, [2]uint32{0, 0}, [2]uint32{st.Uid, st.Gid}, "%s owner", path)
}

func TestInstallKernelScriptLeavesAnInstalledPackage(t *testing.T) {
	testtool.Require(t, "sh", "dpkg-query")
	// coreutils is installed on every Debian host: the script must see that
	// and never reach apt-get.
	out, err := exec.Command("sh", "-c", InstallKernelScript("coreutils")).CombinedOutput()
	require.NoError(t, err, "%s", out)
	assert.Equal(t, "coreutils is installed already\n", string(out))
}

func TestInstallKernelScriptQuotesThePackage(t *testing.T) {
	script := InstallKernelScript("it's")
	assert.True(t, strings.HasPrefix(script, `pkg='it'\''s'`+"\n"), script)
}

func TestProbeScript(t *testing.T) {
	testtool.Require(t, "sh")
	root := newFakeRoot(t, "")
	root.write("usr/lib/os-release", rockyOSRelease, 0o644)
	out, err := exec.Command("sh", "-c", ProbeScript(root.dir)).CombinedOutput()
	require.NoError(t, err, "%s", out)
	g, err := ParseProbe(string(out))
	require.NoError(t, err)
	assert.Equal(t, Guest{UID: os.Getuid(), OSID: "rocky", IDLike: []string{"rhel", "centos", "fedora"}}, g)

	root.write("etc/os-release", ubuntuOSRelease, 0o644)
	out, err = exec.Command("sh", "-c", ProbeScript(root.dir)).CombinedOutput()
	require.NoError(t, err, "%s", out)
	g, err = ParseProbe(string(out))
	require.NoError(t, err)
	assert.Equal(t, "ubuntu", g.OSID, "/etc/os-release comes first")
}

func TestParseProbe(t *testing.T) {
	g, err := ParseProbe("uid=1000\nid=ubuntu\nid_like=debian\n")
	require.NoError(t, err)
	assert.Equal(t, Guest{UID: 1000, OSID: "ubuntu", IDLike: []string{"debian"}}, g)
	assert.True(t, g.DebianFamily())

	g, err = ParseProbe("Last login: yesterday\nuid=0\nid=rocky\nid_like=rhel centos fedora\n")
	require.NoError(t, err)
	assert.Equal(t, 0, g.UID)
	assert.False(t, g.DebianFamily())

	g, err = ParseProbe("uid=0\nid=linuxmint\nid_like=ubuntu debian\n")
	require.NoError(t, err)
	assert.True(t, g.DebianFamily(), "ID_LIKE makes a derivative Debian-family")

	for _, bad := range []string{"", "id=debian\n", "uid=root\n", "uid=-1\n", strings.Repeat("x", maxProbeOutput+1)} {
		_, err := ParseProbe(bad)
		assert.Error(t, err, "%.40q", bad)
	}
}

func TestChooseHook(t *testing.T) {
	debian := Guest{OSID: "debian"}
	rocky := Guest{OSID: "rocky", IDLike: []string{"rhel"}}
	assert.True(t, ChooseHook(HookAuto, "linux-image-rt-amd64", debian))
	assert.False(t, ChooseHook(HookAuto, "", debian), "Ubuntu images deploy without a hook")
	assert.False(t, ChooseHook(HookAuto, "kernel-rt", rocky))
	assert.True(t, ChooseHook(HookUbuntu, "", rocky), "asked for by name, it is installed")
	assert.False(t, ChooseHook(HookNone, "linux-image-rt-amd64", debian))
}

func TestValidateSettings(t *testing.T) {
	for _, ok := range []string{HookAuto, HookUbuntu, HookNone} {
		assert.NoError(t, ValidateHook(ok))
	}
	err := ValidateHook("rhel")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "set source instead")

	for _, ok := range []string{"linux-image-lowlatency", "linux-image-6.8.0-31-generic", "kernel-rt", "kernel_uek", "g++"} {
		assert.NoError(t, ValidatePackageName(ok), ok)
	}
	for _, bad := range []string{"", "-rf", "linux; reboot", "a b", "$(id)", strings.Repeat("a", 201)} {
		assert.Error(t, ValidatePackageName(bad), bad)
	}

	assert.NoError(t, ValidateFileName("curtin-hooks.cfg", true))
	assert.NoError(t, ValidateFileName(CustomKernelName, false))
	for name, want := range map[string]string{
		"":                       "not a plain file name",
		"..":                     "not a plain file name",
		"a/b":                    "not a plain file name",
		HookName:                 "set it with source",
		CustomKernelName:         "written from custom_kernel",
		"x\x00":                  "not a plain file name",
		strings.Repeat("n", 256): "not a plain file name",
	} {
		err := ValidateFileName(name, true)
		require.Error(t, err, "%q", name)
		assert.Contains(t, err.Error(), want)
	}
}

// TestScriptsPassShellcheck holds every generated script to POSIX sh, so
// that it runs on whatever /bin/sh the guest has (dash, bash, busybox).
func TestScriptsPassShellcheck(t *testing.T) {
	testtool.Require(t, "shellcheck")
	scripts := map[string]string{
		"checks":         CheckScript(Params{Root: "/r", CustomKernel: "k", InstallKernel: true, Waived: []string{"netplan"}}),
		"install":        InstallScript("", "/tmp/stage", []File{{HookName, HookMode}, {CustomKernelName, DataMode}}),
		"install-kernel": InstallKernelScript("linux-image-generic"),
		"probe":          ProbeScript(""),
	}
	for name, script := range scripts {
		cmd := exec.Command("shellcheck", "--shell=sh", "-")
		cmd.Stdin = strings.NewReader(script)
		out, err := cmd.CombinedOutput()
		assert.NoError(t, err, "%s script:\n%s", name, out)
	}
}

func FuzzParseProbe(f *testing.F) {
	f.Add("uid=1000\nid=ubuntu\nid_like=debian\n")
	f.Add("uid=0\nid=rocky\nid_like=rhel centos fedora\n")
	f.Fuzz(func(t *testing.T, out string) {
		g, err := ParseProbe(out)
		if err == nil && g.UID < 0 {
			t.Fatalf("accepted uid %d", g.UID)
		}
	})
}
