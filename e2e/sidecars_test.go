package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/c34478be/packer-plugin-maas/internal/test/testimage"
)

// TestExportSidecarsInPackerManifest: maas-export of the test image writes
// the manifest, SBOM and checksum file next to the image, names them in
// its summary line, and lists them among its artifact's files, which
// Packer's own manifest post-processor records.
func TestExportSidecarsInPackerManifest(t *testing.T) {
	env := newExportEnv(t, "testdata/export-manifest.pkr.hcl")
	build := env.MustRun("build", "-var", "image="+testimage.Path(t), ".")

	image := filepath.Join(env.Dir, "image.tar.gz")
	want := []string{image, image + ".manifest", image + ".spdx.json", image + ".sha256"}
	for _, f := range want {
		require.FileExists(t, f)
	}
	assert.Regexp(t, `Wrote .*image\.tar\.gz: .*; \d+ packages \(dpkg\); wrote .*image\.tar\.gz\.manifest, .*image\.tar\.gz\.spdx\.json, .*image\.tar\.gz\.sha256`, build.Output)
	manifest, err := os.ReadFile(image + ".manifest")
	require.NoError(t, err)
	assert.Contains(t, string(manifest), "\ndpkg\t", "the manifest lists the image's packages")
	checksum, err := os.ReadFile(image + ".sha256")
	require.NoError(t, err)
	assert.Equal(t, hashFile(t, image)+"  image.tar.gz\n", string(checksum))

	data, err := os.ReadFile(filepath.Join(env.Dir, "packer-manifest.json"))
	require.NoError(t, err)
	var recorded struct {
		Builds []struct {
			Files []struct {
				Name string `json:"name"`
				Size int64  `json:"size"`
			} `json:"files"`
		} `json:"builds"`
	}
	require.NoError(t, json.Unmarshal(data, &recorded), "%s", data)
	require.Len(t, recorded.Builds, 1, "%s", data)
	var names []string
	for _, f := range recorded.Builds[0].Files {
		names = append(names, f.Name)
	}
	require.NotEmpty(t, names, "%s", data)
	assert.True(t, strings.HasSuffix(names[0], "image.tar.gz"), "the image first: %v", names)
	var base []string
	for _, n := range names {
		base = append(base, filepath.Base(n))
	}
	assert.Equal(t, []string{"image.tar.gz", "image.tar.gz.manifest", "image.tar.gz.spdx.json", "image.tar.gz.sha256"}, base)
}
