package e2e

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/c34478be/packer-plugin-maas/internal/test/packertest"
	"github.com/c34478be/packer-plugin-maas/internal/test/testdisk"
)

// TestRootfsUnexportableBaseFailsBeforeBoot gives maas-rootfs a base image
// whose root is btrfs (as Fedora Cloud's is), which a tgz export cannot
// read: the build must fail within seconds, with the export's error and
// the way out, before QEMU starts, and leave nothing behind.
func TestRootfsUnexportableBaseFailsBeforeBoot(t *testing.T) {
	root := testdisk.RootTree(t, "Fedora Linux 41 (Cloud Edition)")
	base := testdisk.GPT(t,
		testdisk.Part{Type: "ef00", Name: "EFI System Partition", SizeMiB: 8},
		testdisk.Part{Type: "8304", Name: "root", SizeMiB: 160, Format: testdisk.Btrfs(root)})
	env := packertest.New(t, "testdata/rootfs-preboot.pkr.hcl")
	env.MustRun("init", ".")

	start := time.Now()
	res := env.Run("build", "-var", "image="+base, ".")
	elapsed := time.Since(start)

	require.NotEqual(t, 0, res.ExitCode, "a btrfs root must fail a tgz build:\n%s", res.Output)
	assert.Contains(t, res.Output, "checking the base image (image_url) before booting anything: ")
	assert.Contains(t, res.Output, `the root partition (partition 2, 160.0 MiB, Linux root (x86-64), btrfs, name "root") holds btrfs`)
	assert.Contains(t, res.Output, `set output_format = "ddgz" (the whole disk) or "qcow2"`)
	for what, text := range map[string]string{"output": res.Output, "log": res.Log()} {
		for _, qemu := range []string{"QEMU started", "QEMU command: ", "Accelerator: "} {
			assert.NotContains(t, text, qemu, "QEMU must not start for a base the export cannot read (%s)", what)
		}
	}
	assert.NotContains(t, res.Output, "VM disk: ", "no VM disk may be made")
	assert.NotContains(t, res.Output, "never reached")
	assert.Less(t, elapsed, 30*time.Second, "the check must fail the build in seconds, not after a boot")
	t.Logf("the build failed after %s", elapsed.Round(100*time.Millisecond))
	assertFailedBuildLeftNothing(t, env)
}
