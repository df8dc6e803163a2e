package maasexport

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/c34478be/packer-plugin-maas/internal/export"
)

// TestSidecarSettings: manifest, sbom and checksum_file are on unless set
// to false, each on its own.
func TestSidecarSettings(t *testing.T) {
	sidecars := func(raw map[string]interface{}) export.Sidecars {
		var p PostProcessor
		require.NoError(t, p.Configure(raw))
		for _, name := range []string{"manifest", "sbom", "checksum_file"} {
			assert.Contains(t, p.ConfigSpec(), name, "HCL2 spec")
		}
		s := p.config.Outputs.Sidecars()
		assert.Contains(t, s.Tool, "packer-plugin-maas-")
		s.Tool = ""
		return s
	}
	assert.Equal(t, export.Sidecars{Manifest: true, SBOM: true, Checksum: true}, sidecars(map[string]interface{}{}))
	assert.Equal(t, export.Sidecars{SBOM: true, Checksum: true}, sidecars(map[string]interface{}{"manifest": false}))
	assert.Equal(t, export.Sidecars{Manifest: true, Checksum: true}, sidecars(map[string]interface{}{"sbom": false}))
	assert.Equal(t, export.Sidecars{Manifest: true, SBOM: true}, sidecars(map[string]interface{}{"checksum_file": false}))
}
