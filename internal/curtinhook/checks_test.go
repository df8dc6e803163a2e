package curtinhook

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/c34478be/packer-plugin-maas/internal/test/testtool"
)

// fakeRoot is an image root directory for the check script to inspect.
type fakeRoot struct {
	t   *testing.T
	dir string
}

func newFakeRoot(t *testing.T, osRelease string) fakeRoot {
	t.Helper()
	r := fakeRoot{t: t, dir: filepath.Join(t.TempDir(), "image root with 'quotes' and spaces")}
	require.NoError(t, os.MkdirAll(r.dir, 0o755))
	if osRelease != "" {
		r.write("etc/os-release", osRelease, 0o644)
	}
	return r
}

const (
	debianOSRelease = "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nID=debian\nVERSION_CODENAME=bookworm\n"
	ubuntuOSRelease = "NAME=\"Ubuntu\"\nID=ubuntu\nID_LIKE=debian\nVERSION_CODENAME=noble\n"
	rockyOSRelease  = "NAME=\"Rocky Linux\"\nID=\"rocky\"\nID_LIKE=\"rhel centos fedora\"\n"
)

func (r fakeRoot) write(rel, content string, mode os.FileMode) {
	r.t.Helper()
	writeFile(r.t, filepath.Join(r.dir, rel), content, mode)
}

// program puts an executable stand-in for a program in /usr/bin.
func (r fakeRoot) program(name string) {
	r.write("usr/bin/"+name, "#!/bin/sh\nexit 0\n", 0o755)
}

// hostProgram links one of the host's programs into the image's /usr/bin,
// for checks that run the image's own program (python3, dpkg-query).
func (r fakeRoot) hostProgram(path string) {
	r.t.Helper()
	name := filepath.Base(path)
	require.NoError(r.t, os.MkdirAll(filepath.Join(r.dir, "usr/bin"), 0o755))
	require.NoError(r.t, os.Symlink(path, filepath.Join(r.dir, "usr/bin", name)))
}

func (r fakeRoot) dpkgStatus(packages map[string]string) {
	var b strings.Builder
	for name, status := range packages {
		b.WriteString("Package: " + name + "\nStatus: " + status +
			"\nMaintainer: nobody\nDescription: x\nVersion: 1\nArchitecture: amd64\n\n")
	}
	r.write("var/lib/dpkg/status", b.String(), 0o644)
	r.hostProgram(mustLookPath(r.t, "dpkg-query"))
}

// run runs the check script on the root with each shell a guest may have
// and returns the results by check name; every shell must agree.
func (r fakeRoot) run(p Params) map[string]Result {
	r.t.Helper()
	p.Root = r.dir
	script := filepath.Join(r.t.TempDir(), "checks.sh")
	require.NoError(r.t, os.WriteFile(script, []byte(CheckScript(p)), 0o644))
	var first map[string]Result
	for _, shell := range []string{"dash", "bash"} {
		testtool.Require(r.t, shell)
		out, err := exec.Command(shell, script).CombinedOutput()
		require.NoError(r.t, err, "%s %s:\n%s", shell, script, out)
		results, err := ParseResults(string(out))
		require.NoError(r.t, err, "%s output:\n%s", shell, out)
		byName := map[string]Result{}
		for _, res := range results {
			byName[res.Check] = res
		}
		if first == nil {
			first = byName
		} else {
			require.Equal(r.t, first, byName, "dash and bash disagree")
		}
	}
	return first
}

func TestChecksOnAReadyDebianImage(t *testing.T) {
	root := newFakeRoot(t, debianOSRelease)
	root.program("cloud-init")
	root.write("boot/vmlinuz-6.1.0-28-cloud-amd64", "kernel", 0o644)
	root.write("curtin/CUSTOM_KERNEL", "linux-image-cloud-amd64", 0o644)
	root.dpkgStatus(map[string]string{"linux-image-cloud-amd64": "install ok installed"})

	got := root.run(Params{CustomKernel: "linux-image-cloud-amd64", InstallKernel: true})
	assert.Equal(t, Result{CheckCloudInit, StatusOK, "/usr/bin/cloud-init"}, got[CheckCloudInit])
	assert.Equal(t, Result{CheckNetplan, StatusSkip, "ID=debian"}, got[CheckNetplan], "netplan is needed on Ubuntu only")
	assert.Equal(t, Result{CheckHookExecutable, StatusSkip, "no hook"}, got[CheckHookExecutable])
	assert.Equal(t, Result{CheckKernelInstalled, StatusOK, "dpkg"}, got[CheckKernelInstalled])
	assert.Equal(t, StatusOK, got[CheckKernelKept].Status)
	for _, r := range got {
		assert.Empty(t, r.Problem(), "%s", r.Check)
	}
}

func TestChecksFindCloudInitInSbinAndFailWithoutIt(t *testing.T) {
	root := newFakeRoot(t, debianOSRelease)
	got := root.run(Params{})
	require.Equal(t, StatusFail, got[CheckCloudInit].Status)
	assert.Contains(t, got[CheckCloudInit].Problem(), "Install the cloud-init package")
	assert.Contains(t, got[CheckCloudInit].Problem(), `skip_checks = ["cloud-init"]`)

	root.write("usr/sbin/cloud-init", "#!/bin/sh\n", 0o755)
	assert.Equal(t, Result{CheckCloudInit, StatusOK, "/usr/sbin/cloud-init"}, root.run(Params{})[CheckCloudInit])
}

func TestChecksCloudInitMustBeExecutable(t *testing.T) {
	root := newFakeRoot(t, debianOSRelease)
	root.write("usr/bin/cloud-init", "#!/bin/sh\n", 0o644)
	assert.Equal(t, StatusFail, root.run(Params{})[CheckCloudInit].Status)
}

func TestChecksNetplanOnUbuntu(t *testing.T) {
	root := newFakeRoot(t, ubuntuOSRelease)
	root.program("cloud-init")
	got := root.run(Params{})
	require.Equal(t, StatusFail, got[CheckNetplan].Status)
	assert.Contains(t, got[CheckNetplan].Problem(), "netplan.io")

	root.program("netplan")
	assert.Equal(t, Result{CheckNetplan, StatusOK, "/usr/bin/netplan"}, root.run(Params{})[CheckNetplan])
}

func TestChecksOSReleaseInUsrLib(t *testing.T) {
	root := newFakeRoot(t, "")
	root.write("usr/lib/os-release", ubuntuOSRelease, 0o644)
	assert.Equal(t, StatusFail, root.run(Params{})[CheckNetplan].Status, "Ubuntu is found through /usr/lib/os-release")
}

func TestChecksHookInterpreter(t *testing.T) {
	cases := []struct {
		firstLine string
		want      Status
		detail    string
	}{
		{"#!/usr/bin/env python3", StatusOK, "python3"},
		{"#! /usr/bin/env python3", StatusOK, "python3"},
		{"#!/usr/bin/env -S python3 -u", StatusOK, "python3"},
		{"#!/usr/bin/python3", StatusOK, "python3"},
		{"#!/bin/bash -e", StatusOK, "bash"},
		{"#!/usr/bin/env bash", StatusOK, "bash"},
		{"#!/bin/sh", StatusOK, "sh"},
		{"#!/usr/bin/python", StatusFail, "#!/usr/bin/python"},
		{"#!/usr/bin/env python2", StatusFail, "#!/usr/bin/env python2"},
		{"#!/usr/bin/python3.12", StatusFail, "#!/usr/bin/python3.12"},
		{"#!/usr/bin/perl", StatusFail, "#!/usr/bin/perl"},
		{"#!/usr/bin/env", StatusFail, "#!/usr/bin/env"},
		{"import curtin", StatusFail, "no #! line"},
		{"", StatusFail, "no #! line"},
		{"#!/bin/sh\r", StatusFail, "Windows line ending (CR) in: #!/bin/sh"},
	}
	for _, c := range cases {
		t.Run(c.firstLine, func(t *testing.T) {
			root := newFakeRoot(t, debianOSRelease)
			root.write("curtin/curtin-hooks", c.firstLine+"\necho hi\n", 0o750)
			got := root.run(Params{})
			assert.Equal(t, Result{CheckHookExecutable, StatusOK, ""}, got[CheckHookExecutable])
			assert.Equal(t, Result{CheckHookInterpreter, c.want, c.detail}, got[CheckHookInterpreter])
			if c.want == StatusFail {
				assert.Contains(t, got[CheckHookInterpreter].Problem(), "#!/usr/bin/env python3")
				assert.Equal(t, StatusSkip, got[CheckHookCompiles].Status)
			}
		})
	}
}

func TestChecksHookMustBeAnExecutableFile(t *testing.T) {
	root := newFakeRoot(t, debianOSRelease)
	root.write("curtin/curtin-hooks", "#!/bin/sh\n", 0o640)
	got := root.run(Params{})
	require.Equal(t, StatusFail, got[CheckHookExecutable].Status)
	assert.Contains(t, got[CheckHookExecutable].Detail, "-rw-r-----")
	assert.Contains(t, got[CheckHookExecutable].Problem(), "mode 0750")

	dirRoot := newFakeRoot(t, debianOSRelease)
	require.NoError(t, os.MkdirAll(filepath.Join(dirRoot.dir, "curtin/curtin-hooks"), 0o755))
	assert.Equal(t, StatusFail, dirRoot.run(Params{})[CheckHookExecutable].Status, "a directory is no hook")
}

func TestChecksPythonHookCompiles(t *testing.T) {
	root := newFakeRoot(t, ubuntuOSRelease)
	root.hostProgram(python3(t))
	root.write("curtin/curtin-hooks", string(UbuntuHook()), 0o750)
	got := root.run(Params{})
	assert.Equal(t, Result{CheckHookCompiles, StatusOK, "/usr/bin/python3"}, got[CheckHookCompiles], "the built-in hook compiles")
	entries, err := os.ReadDir(filepath.Join(root.dir, "curtin"))
	require.NoError(t, err)
	require.Len(t, entries, 1, "compiling must leave nothing (no __pycache__) in /curtin")

	root.write("curtin/curtin-hooks", "#!/usr/bin/env python3\nprint('unclosed'\n", 0o750)
	got = root.run(Params{})
	require.Equal(t, StatusFail, got[CheckHookCompiles].Status)
	assert.Contains(t, got[CheckHookCompiles].Detail, "SyntaxError")
	assert.Contains(t, got[CheckHookCompiles].Detail, "/curtin/curtin-hooks", "the error names the file as it is in the image")
}

func TestChecksPythonHookInAnImageWithoutPython(t *testing.T) {
	root := newFakeRoot(t, rockyOSRelease)
	root.write("curtin/curtin-hooks", "#!/usr/bin/env python3\nprint('unclosed'\n", 0o750)
	got := root.run(Params{})
	assert.Equal(t, Result{CheckHookCompiles, StatusSkip, "the image has no python3"}, got[CheckHookCompiles])
}

func TestChecksShellHookIsNotCompiled(t *testing.T) {
	root := newFakeRoot(t, debianOSRelease)
	root.hostProgram(python3(t))
	root.write("curtin/curtin-hooks", "#!/bin/bash\nthis is not python(\n", 0o750)
	assert.Equal(t, Result{CheckHookCompiles, StatusSkip, "not Python"}, root.run(Params{})[CheckHookCompiles])
}

func TestChecksKernelInstalled(t *testing.T) {
	root := newFakeRoot(t, debianOSRelease)
	root.dpkgStatus(map[string]string{
		"linux-image-cloud-amd64": "install ok installed",
		"linux-image-rt-amd64":    "deinstall ok config-files",
	})
	for pkg, want := range map[string]Status{
		"linux-image-cloud-amd64": StatusOK,
		"linux-image-rt-amd64":    StatusFail, // removed, configuration kept
		"linux-image-lowlatency":  StatusFail,
	} {
		got := root.run(Params{CustomKernel: pkg, InstallKernel: true})[CheckKernelInstalled]
		assert.Equal(t, want, got.Status, pkg)
		if want == StatusFail {
			assert.Equal(t, "dpkg has no "+pkg+" installed", got.Detail)
			assert.Contains(t, got.Problem(), "install_kernel is set")
		}
	}
	got := root.run(Params{CustomKernel: "linux-image-lowlatency"})[CheckKernelInstalled]
	assert.Equal(t, StatusSkip, got.Status, "only install_kernel asks for the kernel now")

	bare := newFakeRoot(t, debianOSRelease)
	got = bare.run(Params{CustomKernel: "kernel", InstallKernel: true})[CheckKernelInstalled]
	assert.Equal(t, Result{CheckKernelInstalled, StatusFail, "the image has neither dpkg nor rpm"}, got)
}

// TestChecksKernelInstalledWithRPM registers a package in a fake
// RHEL-family image's rpm database, as dnf would, and checks through rpm.
func TestChecksKernelInstalledWithRPM(t *testing.T) {
	testtool.Require(t, "rpm", "rpmbuild")
	work := t.TempDir()
	spec := filepath.Join(work, "kernel-rt.spec")
	writeFile(t, spec, "Name: kernel-rt\nVersion: 5.14.0\nRelease: 1\nSummary: stand-in\nLicense: none\n"+
		"BuildArch: noarch\n%description\nstand-in\n%files\n", 0o644)
	out, err := exec.Command("rpmbuild", "-bb", "--define", "_topdir "+filepath.Join(work, "top"), spec).CombinedOutput()
	require.NoError(t, err, "rpmbuild: %s", out)

	root := newFakeRoot(t, rockyOSRelease)
	root.hostProgram(mustLookPath(t, "rpm"))
	out, err = exec.Command("rpm", "--root", root.dir, "--initdb").CombinedOutput()
	require.NoError(t, err, "rpm --initdb: %s", out)
	out, err = exec.Command("rpm", "--root", root.dir, "-i", "--justdb", "--nodeps", "--noscripts",
		filepath.Join(work, "top/RPMS/noarch/kernel-rt-5.14.0-1.noarch.rpm")).CombinedOutput()
	require.NoError(t, err, "rpm -i: %s", out)

	got := root.run(Params{CustomKernel: "kernel-rt", InstallKernel: true})[CheckKernelInstalled]
	assert.Equal(t, Result{CheckKernelInstalled, StatusOK, "rpm"}, got)
	got = root.run(Params{CustomKernel: "kernel-uek", InstallKernel: true})[CheckKernelInstalled]
	assert.Equal(t, Result{CheckKernelInstalled, StatusFail, "rpm has no kernel-uek installed"}, got)
}

func mustLookPath(t *testing.T, program string) string {
	t.Helper()
	testtool.Require(t, program)
	path, err := exec.LookPath(program)
	require.NoError(t, err)
	return path
}

func TestChecksWarnWhenTheImagesKernelWillBeReplaced(t *testing.T) {
	root := newFakeRoot(t, ubuntuOSRelease)
	root.write("boot/vmlinuz-6.8.0-31-generic", "k", 0o600)
	root.write("boot/vmlinuz-6.8.0-35-generic", "k", 0o600)
	got := root.run(Params{})[CheckKernelKept]
	require.Equal(t, Result{CheckKernelKept, StatusWarn, "vmlinuz-6.8.0-31-generic vmlinuz-6.8.0-35-generic"}, got)
	assert.Contains(t, got.Problem(), "Set custom_kernel")

	root.write("curtin/CUSTOM_KERNEL", "linux-image-generic", 0o644)
	assert.Equal(t, StatusOK, root.run(Params{})[CheckKernelKept].Status)

	rocky := newFakeRoot(t, rockyOSRelease)
	rocky.write("boot/vmlinuz-5.14.0-427.el9.x86_64", "k", 0o600)
	assert.Equal(t, Result{CheckKernelKept, StatusSkip, "ID=rocky"}, rocky.run(Params{})[CheckKernelKept],
		"curtin installs a kernel only into Debian-family images")
}

func TestChecksWaived(t *testing.T) {
	root := newFakeRoot(t, ubuntuOSRelease)
	root.write("curtin/curtin-hooks", "#!/usr/bin/perl\n", 0o644)
	got := root.run(Params{Waived: []string{CheckCloudInit, CheckNetplan, CheckHookExecutable, CheckHookInterpreter}})
	for _, name := range []string{CheckCloudInit, CheckNetplan, CheckHookExecutable, CheckHookInterpreter} {
		assert.Equal(t, Result{name, StatusWaived, ""}, got[name])
	}
	assert.Equal(t, StatusSkip, got[CheckHookCompiles].Status)
}

func TestValidateSkipChecks(t *testing.T) {
	require.NoError(t, ValidateSkipChecks(Checks))
	err := ValidateSkipChecks([]string{"cloud-init", "cloudinit"})
	require.Error(t, err)
	assert.Contains(t, err.Error(), `"cloudinit" is not a check; the checks are cloud-init, netplan,`)
}

func TestParseResults(t *testing.T) {
	var full strings.Builder
	full.WriteString("Welcome to the guest\n")
	for _, c := range Checks {
		full.WriteString("MAAS-CHECK\t" + c + "\tok\tdetail of " + c + "\r\n")
	}
	full.WriteString("MAAS-CHECK\tend\n")
	results, err := ParseResults(full.String())
	require.NoError(t, err)
	require.Len(t, results, len(Checks))
	for i, r := range results {
		assert.Equal(t, Result{Checks[i], StatusOK, "detail of " + Checks[i]}, r)
	}

	one := "MAAS-CHECK\tcloud-init\tok\t\n"
	bad := map[string]string{
		"no end line":    one,
		"too few checks": one + "MAAS-CHECK\tend\n",
		"unknown check":  "MAAS-CHECK\tkernel\tok\t\nMAAS-CHECK\tend\n",
		"unknown status": "MAAS-CHECK\tcloud-init\tmaybe\t\nMAAS-CHECK\tend\n",
		"malformed":      "MAAS-CHECK\tcloud-init\n",
		"twice":          one + one + "MAAS-CHECK\tend\n",
		"after the end":  full.String() + one,
		"empty":          "",
	}
	for name, out := range bad {
		_, err := ParseResults(out)
		assert.Error(t, err, name)
	}
}

func FuzzParseResults(f *testing.F) {
	f.Add("MAAS-CHECK\tcloud-init\tok\t/usr/bin/cloud-init\nMAAS-CHECK\tend\n")
	f.Add("MAAS-CHECK\tnetplan\tskip\tID=debian\n")
	f.Fuzz(func(t *testing.T, out string) {
		results, err := ParseResults(out)
		if err != nil {
			return
		}
		if len(results) != len(Checks) {
			t.Fatalf("%d results", len(results))
		}
		for i, r := range results {
			if r.Check != Checks[i] {
				t.Fatalf("result %d is %s", i, r.Check)
			}
		}
	})
}
