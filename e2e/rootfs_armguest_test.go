package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/c34478be/packer-plugin-maas/internal/test/packertest"
	"github.com/c34478be/packer-plugin-maas/internal/test/testtool"
)

// TestRootfsArm64VMStartsItsFirmware runs an arm64 build through stock
// Packer on this x86 host: auto must pick TCG, the VM must start on the
// virt machine with AAVMF found where Debian puts it, and its UEFI firmware
// must run (its output is in the console tail). No arm64 cloud image can be
// made here, so the disk is blank and the build must then fail cleanly.
func TestRootfsArm64VMStartsItsFirmware(t *testing.T) {
	testtool.Require(t, "qemu-system-aarch64", "qemu-img")
	_, err := os.Stat("/usr/share/AAVMF/AAVMF_CODE.fd")
	require.NoError(t, err, "arm64 UEFI firmware is needed (Debian package qemu-efi-aarch64)")

	env := packertest.New(t, "testdata/rootfs-arm64-firmware.pkr.hcl")
	blank := filepath.Join(t.TempDir(), "blank.qcow2")
	out, err := exec.Command("qemu-img", "create", "-f", "qcow2", blank, "1G").CombinedOutput()
	require.NoError(t, err, "qemu-img create: %s", out)
	env.MustRun("init", ".")

	res := env.Run("build", "-var", "image="+blank, ".")
	require.NotEqual(t, 0, res.ExitCode, "a blank disk must fail the build:\n%s", res.Output)
	assert.Contains(t, res.Output, "accelerator: tcg")
	assert.Contains(t, res.Output, "qemu-system-aarch64")
	assert.Contains(t, res.Output, "-machine virt")
	assert.Contains(t, res.Output, "/usr/share/AAVMF/AAVMF_CODE.fd")
	assert.Contains(t, res.Output, "no SSH login within ssh_timeout (1m0s)")
	assert.Contains(t, res.Output, "BdsDxe:", "AAVMF's boot manager must have run")
	assertFailedBuildLeftNothing(t, env)
}
