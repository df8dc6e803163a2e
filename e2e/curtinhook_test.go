package e2e

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/c34478be/packer-plugin-maas/internal/cloudinit"
	"github.com/c34478be/packer-plugin-maas/internal/curtinhook"
	"github.com/c34478be/packer-plugin-maas/internal/lines"
	"github.com/c34478be/packer-plugin-maas/internal/test/packertest"
	"github.com/c34478be/packer-plugin-maas/internal/test/testimage"
	"github.com/c34478be/packer-plugin-maas/internal/test/testtool"
)

// requirePlugin makes packer init install this plugin for the builds on
// stock-qemu-debian.pkr.hcl's VM.
const requirePlugin = `
packer {
  required_plugins {
    maas = {
      source  = "github.com/c34478be/maas"
      version = ">= 0.1.0"
    }
  }
}
`

// readyBuild installs the built-in hook with a custom kernel (twice: it
// must be idempotent), shows the hook's digest and ownership, then replaces
// the hook with a source file and exports the image as a MAAS tarball.
// Both exports take the default output, which must survive Packer deleting
// the qemu builder's output directory at the end of the build: the first
// chain succeeds, the second fails after its export (shell-local exits 1),
// so the build fails with that one error.
const readyBuild = `
build {
  sources = ["source.qemu.debian"]

  provisioner "maas-curtin-hook" {
    custom_kernel  = "linux-image-cloud-amd64"
    install_kernel = true
    files          = { "extra.cfg" = "extra.cfg" }
  }

  provisioner "maas-curtin-hook" {
    custom_kernel  = "linux-image-cloud-amd64"
    install_kernel = true
    files          = { "extra.cfg" = "extra.cfg" }
  }

  provisioner "shell" {
    inline = ["sudo -n sha256sum /curtin/curtin-hooks", "sudo -n stat -c 'mode=%a owner=%u:%g' /curtin/curtin-hooks"]
  }

  provisioner "maas-curtin-hook" {
    source = "my-hook"
  }

  post-processor "maas-export" {
    compression_level = 1
  }

  post-processors {
    post-processor "maas-export" {
      filetype          = "ddgz"
      compression_level = 1
    }
    post-processor "shell-local" {
      inline = ["exit 1"]
    }
  }
}
`

// brokenBuild removes cloud-init before the provisioner checks the image.
const brokenBuild = `
build {
  sources = ["source.qemu.debian"]

  provisioner "shell" {
    inline = ["sudo -n rm /usr/bin/cloud-init"]
  }

  provisioner "maas-curtin-hook" {}

  post-processor "maas-export" {
    output = "image.tar.gz"
  }
}
`

// myHook is a user's hook with bytes an editor or a text transfer might
// change: it must arrive exactly as written.
const myHook = "#!/bin/bash\n# my own curtin hook \xe2\x9c\x93\tтест\nset -eu\necho \"configuring $TARGET_MOUNT_POINT\"  \n"

// newQemuEnv writes the template, the NoCloud seed files with a fresh SSH
// key, and the files the builds use.
func newQemuEnv(t *testing.T, build string) *packertest.Env {
	t.Helper()
	testtool.Require(t, "qemu-system-x86_64", "genisoimage")
	for _, f := range []string{"/usr/share/OVMF/OVMF_CODE_4M.fd", "/usr/share/OVMF/OVMF_VARS_4M.fd"} {
		require.FileExists(t, f, "UEFI firmware is needed (Debian package ovmf)")
	}
	image := testimage.Path(t)
	env := packertest.New(t, "testdata/stock-qemu-debian.pkr.hcl")
	env.WriteFile("build.pkr.hcl", requirePlugin+build)
	env.WriteFile("my-hook", myHook)
	env.WriteFile("extra.cfg", "extra: settings\n")

	privatePEM, authorizedKey, err := cloudinit.NewKeyPair()
	require.NoError(t, err)
	userData, err := cloudinit.BuildUserData("builder", authorizedKey, nil)
	require.NoError(t, err)
	instanceID, err := cloudinit.NewInstanceID()
	require.NoError(t, err)
	metaData, err := cloudinit.BuildMetaData(instanceID, "curtinhook")
	require.NoError(t, err)
	env.WriteFile("seed/user-data", string(userData))
	env.WriteFile("seed/meta-data", string(metaData))
	key := env.WriteFile("seed/id_ed25519", string(privatePEM))
	require.NoError(t, os.Chmod(key, 0o600))

	// Served over HTTP, so that the builder downloads it into Packer's
	// cache and its use_backing_file disk names the cached copy by its
	// absolute path: the case maas-export follows by default.
	srv := httptest.NewServer(http.FileServer(http.Dir(filepath.Dir(image))))
	t.Cleanup(srv.Close)
	env.ExtraEnv = []string{"PKR_VAR_image=" + srv.URL + "/" + filepath.Base(image), "PKR_VAR_image_sha256=" + testimage.SHA256(t),
		"PKR_VAR_ssh_private_key_file=seed/id_ed25519"}
	return env
}

func TestCurtinHookThroughStockQemuBuilder(t *testing.T) {
	env := newQemuEnv(t, readyBuild)
	env.MustRun("init", ".")
	env.MustRun("validate", ".")
	start := time.Now()
	res := env.Run("build", ".")
	t.Logf("packer build took %s", time.Since(start).Round(time.Second))
	onlyTheLastPostProcessorFailed := res.ExitCode != 0 && strings.Contains(res.Output, "1 error(s) occurred") &&
		strings.Contains(res.Output, "* Post-processor failed: Script exited with non-zero exit status: 1.")
	if !onlyTheLastPostProcessorFailed {
		console, _ := os.ReadFile(filepath.Join(env.Dir, "console.log"))
		t.Fatalf("packer build exited %d, not with shell-local's error alone\n--- output\n%s\n--- serial console tail\n%s",
			res.ExitCode, res.Output, lines.Last(string(console), 30))
	}
	assertDefaultExportsSurvive(t, env.Dir, res)

	// The built-in hook went in as the provisioner promises, with sudo.
	sum := sha256.Sum256(curtinhook.UbuntuHook())
	assert.Contains(t, res.Output, hex.EncodeToString(sum[:])+"  /curtin/curtin-hooks")
	assert.Contains(t, res.Output, "mode=750 owner=0:0")
	assert.Contains(t, res.Output, "Installing the built-in ubuntu hook as /curtin/curtin-hooks")
	assert.Contains(t, res.Output, "linux-image-cloud-amd64 is installed already")
	assert.Contains(t, res.Output, "cloud-init: ok (/usr/bin/cloud-init)")
	assert.Contains(t, res.Output, "kernel-installed: ok (dpkg)")
	assert.Contains(t, res.Output, "hook-compiles: ok (/usr/bin/python3)", "the guest's python3 compiled the built-in hook")
	assert.Contains(t, res.Output, "hook-interpreter: ok (bash)", "the source hook was checked too")
	assert.Equal(t, 3, strings.Count(res.Output, "Checking that MAAS can deploy the image"))
	assert.Regexp(t, `backing chain: output/disk.qcow2 -> \S*/packer_cache/[0-9a-f]+\.iso`, res.Output,
		"maas-export followed the builder's backing file into Packer's cache and said so")

	// curtin unpacks the tarball with GNU tar; so does this test.
	extracted := t.TempDir()
	out, err := exec.Command("tar", "-C", extracted, "--numeric-owner", "-xzpf",
		filepath.Join(env.Dir, "debian.tar.gz"), "./curtin").CombinedOutput()
	require.NoError(t, err, "GNU tar extracting ./curtin: %s", out)
	assertImageFile(t, filepath.Join(extracted, "curtin/curtin-hooks"), 0o750, myHook)
	assertImageFile(t, filepath.Join(extracted, "curtin/CUSTOM_KERNEL"), 0o644, "linux-image-cloud-amd64\n")
	assertImageFile(t, filepath.Join(extracted, "curtin/extra.cfg"), 0o644, "extra: settings\n")
	info, err := os.Stat(filepath.Join(extracted, "curtin"))
	require.NoError(t, err)
	assert.Equal(t, os.ModeDir|0o755, info.Mode())
}

// assertDefaultExportsSurvive: Packer deleted the qemu builder's output
// directory, and the exports with no output, in the working directory,
// are still there, that of the failed chain too.
func assertDefaultExportsSurvive(t *testing.T, dir string, res packertest.Result) {
	t.Helper()
	assert.Contains(t, res.Log(), "Deleting original artifact for build", "Packer deletes the builder's artifact")
	assert.NoDirExists(t, filepath.Join(dir, "output"), "the qemu builder's artifact removes its output directory")
	assert.NotContains(t, res.Output, "Warning: output")
	for _, name := range []string{"debian.tar.gz", "debian.dd.gz"} {
		// The tarball is extracted below; gunzipping the ddgz would
		// inflate the whole 40 GiB disk, so only its gzip magic is read.
		head := make([]byte, 2)
		f, err := os.Open(filepath.Join(dir, name))
		if assert.NoError(t, err, "the default output survives the build") {
			_, err = io.ReadFull(f, head)
			f.Close()
			assert.NoError(t, err)
			assert.Equal(t, []byte{0x1f, 0x8b}, head, "%s is gzip", name)
		}
	}
}

func assertImageFile(t *testing.T, path string, mode os.FileMode, content string) {
	t.Helper()
	info, err := os.Stat(path)
	require.NoError(t, err, "the tarball must hold %s", path)
	assert.Equal(t, mode, info.Mode(), path)
	st := info.Sys().(*syscall.Stat_t)
	assert.Equal(t, fmt.Sprintf("%d:%d", 0, 0), fmt.Sprintf("%d:%d", st.Uid, st.Gid), "%s owner in the tarball", path)
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, content, string(data), "%s must arrive byte for byte", path)
}

func TestCurtinHookFailsAnImageWithoutCloudInit(t *testing.T) {
	env := newQemuEnv(t, brokenBuild)
	env.MustRun("init", ".")
	res := env.Run("build", ".")
	require.NotEqual(t, 0, res.ExitCode, "the build must fail:\n%s", res.Output)
	assert.Contains(t, res.Output, "the image is not ready for MAAS:")
	assert.Contains(t, res.Output, "cloud-init: the image has no cloud-init")
	assert.Contains(t, res.Output, `skip_checks = ["cloud-init"]`)
	assert.NoFileExists(t, filepath.Join(env.Dir, "image.tar.gz"), "no image may come out of a failed check")
}
