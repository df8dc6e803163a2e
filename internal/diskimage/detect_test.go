package diskimage

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDetectFormatReadsOnlyTheHeader(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, data, 0o644))
		return p
	}
	// A qcow2 header alone: Open would reject it as truncated, detection
	// only looks at the magic and version.
	header := append([]byte(qcow2Magic), 0, 0, 0, 3)
	format, err := DetectFormat(write("header.qcow2", header))
	require.NoError(t, err)
	assert.Equal(t, FormatQcow2, format)

	format, err = DetectFormat(write("disk.img", make([]byte, 4096)))
	require.NoError(t, err)
	assert.Equal(t, FormatRaw, format)

	_, err = DetectFormat(write("disk.vmdk", []byte("KDMV and more")))
	assert.ErrorContains(t, err, "VMDK")
	_, err = DetectFormat(write("empty", nil))
	assert.ErrorContains(t, err, "empty")
	_, err = DetectFormat(filepath.Join(dir, "missing"))
	assert.ErrorIs(t, err, os.ErrNotExist)
}
