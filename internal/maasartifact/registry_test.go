package maasartifact_test

import (
	"os"
	"path/filepath"
	"testing"

	registryimage "github.com/hashicorp/packer-plugin-sdk/packer/registry/image"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/c34478be/packer-plugin-maas/internal/export"
	"github.com/c34478be/packer-plugin-maas/internal/maasartifact"
	"github.com/c34478be/packer-plugin-maas/internal/tarball"
	"github.com/c34478be/packer-plugin-maas/internal/test/registrytest"
)

// TestRegistryImageOfAMAASImageFile: what HCP Packer records of a file
// that maas-rootfs or maas-export wrote, read across the plugin RPC as
// Packer core reads it.
func TestRegistryImageOfAMAASImageFile(t *testing.T) {
	res := export.Result{
		Output:   tarball.Output{Path: "/out/noble.tar.gz", SHA256: "ab12", Size: 4096},
		Filetype: export.FiletypeTGZ, Architecture: "arm64/generic", BaseImage: "ubuntu/noble",
	}
	a := maasartifact.FromResult(builderID, "", res, nil)
	host, err := os.Hostname()
	require.NoError(t, err)

	images := registrytest.Images(t, a)
	require.Len(t, images, 1)
	got := images[0]
	sdkDefault, err := registryimage.FromArtifact(a)
	require.NoError(t, err)
	assert.Equal(t, sdkDefault.ProviderName, got.ProviderName, "the SDK's default provider, the builder id")
	assert.Equal(t, registryimage.Image{
		ImageID: "/out/noble.tar.gz", ProviderName: builderID, ProviderRegion: host,
		Labels: map[string]string{"sha256": "ab12", "architecture": "arm64/generic", "filetype": "tgz", "base_image": "ubuntu/noble"},
	}, got)
	assert.NoError(t, got.Validate())
}

// TestRegistryImageOfADisk: maas-rootfs's qcow2 is labelled as one, an
// unknown base image makes no blank label, and a path relative to
// Packer's directory (maas-rootfs's output_directory) is recorded whole.
func TestRegistryImageOfADisk(t *testing.T) {
	img := maasartifact.Image{Path: "output/web.qcow2", SHA256: "cd34", Size: 1 << 20, Architecture: "amd64/generic"}
	images := registrytest.Images(t, maasartifact.NewDisk(builderID, img, "qcow2", nil))
	require.Len(t, images, 1)
	wd, err := os.Getwd()
	require.NoError(t, err)
	assert.Equal(t, filepath.Join(wd, "output/web.qcow2"), images[0].ImageID)
	assert.Equal(t, map[string]string{"sha256": "cd34", "architecture": "amd64/generic", "filetype": "qcow2"}, images[0].Labels)
}
