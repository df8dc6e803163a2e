package e2e

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/c34478be/packer-plugin-maas/internal/maas/fakemaas"
	"github.com/c34478be/packer-plugin-maas/internal/packertest"
)

// uploadTemplate has the built-in file builder write a small "image" and
// maas-upload send it to MAAS (the fake, from MAAS_URL and MAAS_API_KEY).
const uploadTemplate = `
packer {
  required_plugins {
    maas = {
      source  = "github.com/c34478be/maas"
      version = ">= 0.1.0"
    }
  }
}

source "file" "image" {
  content = %q
  target  = "image.tar.gz"
}

build {
  sources = ["source.file.image"]

  post-processor "maas-upload" {
    image_name = %q
    title      = "end to end"
    filetype   = "tgz"
    base_image = "ubuntu/noble"
    chunk_size = 65536
%s  }
}
`

func TestUploadThroughStockPacker(t *testing.T) {
	fake := fakemaas.Start()
	defer fake.Close()
	content := strings.Repeat("pretend this is a root tarball\n", 5000) // 150 kB: three chunks
	env := packertest.New(t)
	env.ExtraEnv = []string{"MAAS_URL=" + fake.URL, "MAAS_API_KEY=" + fakemaas.APIKey}
	env.WriteFile("upload.pkr.hcl", fmt.Sprintf(uploadTemplate, content, "custom/e2e-file", ""))

	env.MustRun("init", ".")
	env.MustRun("validate", ".")
	build := env.MustRun("build", ".")

	sum := sha256.Sum256([]byte(content))
	files := fake.Files()
	require.Len(t, files, 1, "the fake should hold the one uploaded file")
	f := files[0]
	assert.True(t, f.Complete)
	assert.Equal(t, hex.EncodeToString(sum[:]), f.SHA256)
	assert.Equal(t, int64(len(content)), f.Received)
	assert.Equal(t, "custom/e2e-file", f.Name)
	assert.Equal(t, "ubuntu/noble", f.BaseImage)
	assert.GreaterOrEqual(t, fake.Stats().Puts, 3)

	assert.Contains(t, build.Output, fmt.Sprintf("Uploaded: MAAS boot resource %d, custom/e2e-file (amd64/generic), sha256 %s", f.ResourceID, f.SHA256),
		"the file builder records no sha256: the one computed for the upload is shown")
	assert.Contains(t, build.Output, fmt.Sprintf("boot resource %d, custom/e2e-file (amd64/generic)", f.ResourceID),
		"the artifact's String() appears in Packer's summary")
	assert.Contains(t, build.Output, "osystem=custom distro_series=e2e-file")
	assert.NotContains(t, build.Log(), fakemaas.TokenSecret, "the API key must never reach Packer's log")
}

// TestUploadAPIv3WaitsThroughStockPacker: with a user name and password
// the file goes to API 3 in one request; wait_complete then follows the
// resource id of API 3's answer through API 2.0 until MAAS has synced it.
func TestUploadAPIv3WaitsThroughStockPacker(t *testing.T) {
	fake := fakemaas.Start()
	defer fake.Close()
	fake.V3 = true
	fake.SyncReads = 2
	content := strings.Repeat("pretend this is a root tarball\n", 5000)
	env := packertest.New(t)
	env.ExtraEnv = []string{"MAAS_URL=" + fake.URL, "MAAS_API_KEY=" + fakemaas.APIKey}
	v3 := fmt.Sprintf("    username      = %q\n    password      = %q\n    wait_complete = true\n", fakemaas.Username, fakemaas.Password)
	env.WriteFile("upload.pkr.hcl", fmt.Sprintf(uploadTemplate, content, "custom/e2e-v3", v3))

	env.MustRun("init", ".")
	build := env.MustRun("build", ".")

	files := fake.Files()
	require.Len(t, files, 1)
	assert.True(t, files[0].Complete)
	assert.Equal(t, 1, fake.Stats().V3Uploads)
	assert.Zero(t, fake.Stats().Puts, "API 3 takes the file in one request")
	assert.Contains(t, build.Output, "Waiting for MAAS to report the image complete...")
	assert.Contains(t, build.Output, fmt.Sprintf("Uploaded: MAAS boot resource %d, custom/e2e-v3 (amd64/generic)", files[0].ResourceID))
	assert.NotContains(t, build.Log(), fakemaas.Password, "the password must never reach Packer's log")
	assert.NotContains(t, build.Log(), fakemaas.TokenSecret, "the API key must never reach Packer's log")
}

func TestUploadValidateNamesTheBadSetting(t *testing.T) {
	env := packertest.New(t)
	env.ExtraEnv = []string{"MAAS_URL=http://maas.example:5240/MAAS", "MAAS_API_KEY=" + fakemaas.APIKey}
	env.WriteFile("upload.pkr.hcl", fmt.Sprintf(uploadTemplate, "x", "custom/noble", ""))
	env.MustRun("init", ".")
	res := env.Run("validate", ".")
	assert.NotEqual(t, 0, res.ExitCode)
	assert.Contains(t, res.Output, `image_name "custom/noble": "noble" is reserved by MAAS`)
}
