package e2e

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/c34478be/packer-plugin-maas/internal/test/fakemaas"
	"github.com/c34478be/packer-plugin-maas/internal/test/packertest"
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
	fake.Regions, fake.SyncReads = 2, 2
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
	assert.Contains(t, build.Output, "for MAAS to report the image complete on every region controller...")
	assert.Contains(t, build.Output, "MAAS: 1 of 2 regions hold it (50.0%)")
	assert.Contains(t, build.Output, "MAAS: 2 of 2 regions hold it (100.0%)")
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

// uploadEnv is a Packer directory whose builds upload to fake.
func uploadEnv(t *testing.T, fake *fakemaas.Server) *packertest.Env {
	t.Helper()
	env := packertest.New(t)
	env.ExtraEnv = []string{"MAAS_URL=" + fake.URL, "MAAS_API_KEY=" + fakemaas.APIKey}
	return env
}

// TestUploadHAWaitCompleteThroughStockPacker: on a 3-region MAAS the
// upload is done when its last chunk is accepted; wait_complete then
// waits until every region holds the file and says how many do.
func TestUploadHAWaitCompleteThroughStockPacker(t *testing.T) {
	fake := fakemaas.Start()
	defer fake.Close()
	fake.Regions, fake.SyncReads = 3, 3
	content := strings.Repeat("pretend this is a root tarball\n", 5000)
	env := uploadEnv(t, fake)
	env.WriteFile("upload.pkr.hcl", fmt.Sprintf(uploadTemplate, content, "custom/e2e-ha", "    wait_complete = true\n"))
	env.MustRun("init", ".")
	build := env.MustRun("build", ".")

	files := fake.Files()
	require.Len(t, files, 1)
	assert.True(t, files[0].Complete)
	assert.Equal(t, 3, files[0].RegionsHolding)
	assert.Contains(t, build.Output, "MAAS: 1 of 3 regions hold it (33.3%)")
	assert.Contains(t, build.Output, "MAAS: 3 of 3 regions hold it (100.0%)")
	assert.Contains(t, build.Output, fmt.Sprintf("Uploaded: MAAS boot resource %d, custom/e2e-ha", files[0].ResourceID))
}

// TestUploadIdenticalRebuildThroughStockPacker: a rebuild that changed
// nothing creates and sends nothing, and the image keeps its data.
func TestUploadIdenticalRebuildThroughStockPacker(t *testing.T) {
	fake := fakemaas.Start()
	defer fake.Close()
	content := strings.Repeat("pretend this is a root tarball\n", 5000)
	env := uploadEnv(t, fake)
	env.WriteFile("upload.pkr.hcl", fmt.Sprintf(uploadTemplate, content, "custom/e2e-same", ""))
	env.MustRun("init", ".")
	env.MustRun("build", ".")
	before := fake.Stats()
	again := env.MustRun("build", ".")

	files := fake.Files()
	require.Len(t, files, 1)
	assert.True(t, files[0].Complete)
	assert.Equal(t, int64(len(content)), files[0].Stored, "the image keeps its data")
	assert.Equal(t, before.Creates, fake.Stats().Creates, "no new version")
	assert.Equal(t, before.Puts, fake.Stats().Puts, "nothing sent")
	assert.Contains(t, again.Output, fmt.Sprintf("Already in MAAS as boot resource %d (custom/e2e-same, amd64/generic), version %s", files[0].ResourceID, files[0].Version))
}

// TestUploadSameContentSecondNameThroughStockPacker: the same content
// under a second name stops before any change, and the first image keeps
// its data (MAAS 3.4+ would delete the shared stored file).
func TestUploadSameContentSecondNameThroughStockPacker(t *testing.T) {
	fake := fakemaas.Start()
	defer fake.Close()
	content := strings.Repeat("pretend this is a root tarball\n", 5000)
	env := uploadEnv(t, fake)
	env.WriteFile("upload.pkr.hcl", fmt.Sprintf(uploadTemplate, content, "custom/e2e-first", ""))
	env.MustRun("init", ".")
	env.MustRun("build", ".")
	env.WriteFile("upload.pkr.hcl", fmt.Sprintf(uploadTemplate, content, "custom/e2e-second", ""))
	second := env.Run("build", ".")

	assert.NotEqual(t, 0, second.ExitCode)
	files := fake.Files()
	require.Len(t, files, 1, "nothing created for the second name")
	assert.True(t, files[0].Complete)
	assert.Equal(t, int64(len(content)), files[0].Stored, "the first image keeps its data")
	assert.Contains(t, second.Output, fmt.Sprintf("as boot resource %d (custom/e2e-first, amd64/generic)", files[0].ResourceID))
	assert.Contains(t, second.Output, "would destroy that image")
	assert.Equal(t, 1, fake.Stats().Creates)
}

// TestUploadFailedRebuildThroughStockPacker: a rebuild that fails does
// not delete the resource it did not create, and says what MAAS holds.
func TestUploadFailedRebuildThroughStockPacker(t *testing.T) {
	fake := fakemaas.Start()
	defer fake.Close()
	env := uploadEnv(t, fake)
	env.WriteFile("upload.pkr.hcl", fmt.Sprintf(uploadTemplate, "first build", "custom/e2e-rebuilt", "    attempts = 2\n"))
	env.MustRun("init", ".")
	env.MustRun("build", ".")
	first := fake.Files()[0]

	fake.SetFaults(fakemaas.Faults{DropEvery: 1, DropAfterBytes: 3})
	env.WriteFile("upload.pkr.hcl", fmt.Sprintf(uploadTemplate, "second build, new content", "custom/e2e-rebuilt", "    attempts = 2\n"))
	failed := env.Run("build", ".")

	assert.NotEqual(t, 0, failed.ExitCode)
	assert.Zero(t, fake.Stats().Deletes, "the resource existed before this upload")
	assert.Len(t, fake.Sets(first.ResourceID), 2)
	out := failed.Output
	assert.Contains(t, out, "keep_old is false: MAAS drops the files of boot resource")
	assert.Contains(t, out, fmt.Sprintf("boot resource %d (custom/e2e-rebuilt, amd64/generic) existed before this upload, so it was not deleted", first.ResourceID))
	assert.Contains(t, out, fmt.Sprintf("version %s: no file (MAAS dropped it at this upload's create, as keep_old is false)", first.Version))
	assert.NotContains(t, out, "deleted boot resource")
}
