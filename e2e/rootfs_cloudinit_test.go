package e2e

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/c34478be/packer-plugin-maas/internal/test/packertest"
	"github.com/c34478be/packer-plugin-maas/internal/test/testimage"
)

// TestRootfsFailedCloudInitFailsTheBuild boots the test image with
// user_data whose runcmd fails: the build must stop before the
// provisioners with cloud-init's error, and leave nothing behind.
func TestRootfsFailedCloudInitFailsTheBuild(t *testing.T) {
	env := packertest.New(t, "testdata/rootfs-cloudinit-fails.pkr.hcl")
	env.MustRun("init", ".")
	res := env.Run("build", "-var", "image="+testimage.Path(t), "-var", "checksum=sha256:"+testimage.SHA256(t), ".")

	require.NotEqual(t, 0, res.ExitCode, "a failed cloud-init must fail the build:\n%s", res.Output)
	assert.Contains(t, res.Output, "cloud-init failed in the build VM (exit 1): see its status above, and check user_data")
	assert.Contains(t, res.Output, "status: error", "cloud-init's own status must be shown")
	assert.Contains(t, res.Output, "scripts-user", "cloud-init's detail names the failed module")
	assert.NotContains(t, res.Output, "never reached", "provisioners must not run after cloud-init failed")
	assertFailedBuildLeftNothing(t, env)
}
