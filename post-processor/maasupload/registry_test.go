package maasupload

import (
	"context"
	"net/url"
	"testing"

	packersdk "github.com/hashicorp/packer-plugin-sdk/packer"
	registryimage "github.com/hashicorp/packer-plugin-sdk/packer/registry/image"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/c34478be/packer-plugin-maas/internal/maas"
	"github.com/c34478be/packer-plugin-maas/internal/maasartifact"
	"github.com/c34478be/packer-plugin-maas/internal/test/fakemaas"
	"github.com/c34478be/packer-plugin-maas/internal/test/registrytest"
)

// upload sends a small maas-export-style file to fake with the settings
// given over validSettings, and returns maas-upload's artifact.
func upload(t *testing.T, fake *fakemaas.Server, img maasartifact.Image, settings map[string]interface{}) packersdk.Artifact {
	t.Helper()
	var p PostProcessor
	raw := validSettings()
	raw["maas_url"], raw["api_key"] = fake.URL, fakemaas.APIKey
	for k, v := range settings {
		raw[k] = v
	}
	require.NoError(t, p.Configure(raw))
	out, _, _, err := p.PostProcess(context.Background(), packersdk.TestUi(t), maasartifact.New("test.producer", img, nil))
	require.NoError(t, err)
	return out
}

// TestRegistryImageOfAnUpload: HCP Packer records the boot resource in the
// MAAS it went to, with what identifies the image there, as Packer core
// reads it across the plugin RPC.
func TestRegistryImageOfAnUpload(t *testing.T) {
	fake := fakemaas.Start()
	defer fake.Close()
	path, sum := writeFile(t, []byte("a small root tarball"))
	img := maasartifact.Image{Path: path, Filetype: maas.Filetype("tgz"), Architecture: "arm64/generic", BaseImage: "ubuntu/noble"}
	out := upload(t, fake, img, nil)

	files := fake.Files()
	require.Len(t, files, 1)
	u, err := url.Parse(fake.URL)
	require.NoError(t, err)
	images := registrytest.Images(t, out)
	require.Len(t, images, 1)
	assert.Equal(t, registryimage.Image{
		ImageID: itoa(files[0].ResourceID), ProviderName: "maas", ProviderRegion: u.Host,
		Labels: map[string]string{
			"name": "custom/noble-web", "architecture": "arm64/generic", "filetype": "tgz",
			"sha256": sum, "base_image": "ubuntu/noble",
		},
	}, images[0])
	sdkDefault, err := registryimage.FromArtifact(out)
	require.NoError(t, err)
	assert.Equal(t, sdkDefault.ImageID, images[0].ImageID, "the SDK's default id, the artifact's: the resource id")
}

// TestRegistryImageSettingsWin: the settings maas-upload sent, not the
// incoming artifact's, are what it records; no base image, no label.
func TestRegistryImageSettingsWin(t *testing.T) {
	fake := fakemaas.Start()
	defer fake.Close()
	path, _ := writeFile(t, []byte("a whole disk"))
	img := maasartifact.Image{Path: path, Filetype: maas.Filetype("tgz"), Architecture: "arm64/generic"}
	out := upload(t, fake, img, map[string]interface{}{"filetype": "ddgz", "architecture": "amd64"})

	images := registrytest.Images(t, out)
	require.Len(t, images, 1)
	labels := images[0].Labels
	assert.Equal(t, "ddgz", labels["filetype"])
	assert.Equal(t, "amd64/generic", labels["architecture"])
	assert.NotContains(t, labels, "base_image")
}
