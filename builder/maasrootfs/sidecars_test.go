package maasrootfs

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestSidecarSettings: the export step writes the manifest, SBOM and
// checksum file unless turned off, and none for a qcow2 disk, which is
// no MAAS image.
func TestSidecarSettings(t *testing.T) {
	var c Config
	_, err := c.Prepare(validSettings(t))
	require.NoError(t, err)
	s := newStepExport(&c, nil).settings.Sidecars
	assert.True(t, s.Manifest && s.SBOM && s.Checksum, "%+v", s)

	raw := validSettings(t)
	raw["sbom"], raw["checksum_file"] = false, false
	c = Config{}
	_, err = c.Prepare(raw)
	require.NoError(t, err)
	s = newStepExport(&c, nil).settings.Sidecars
	assert.True(t, s.Manifest && !s.SBOM && !s.Checksum, "%+v", s)

	raw = validSettings(t)
	raw["output_format"] = "qcow2"
	c = Config{}
	_, err = c.Prepare(raw)
	require.NoError(t, err)
	assert.Zero(t, newStepExport(&c, nil).settings.Sidecars)

	spec := c.FlatMapstructure().HCL2Spec()
	for _, name := range []string{"manifest", "sbom", "checksum_file"} {
		assert.Contains(t, spec, name, "HCL2 spec")
	}
}
