package export

import (
	"os/exec"
	"path/filepath"
	"testing"

	packersdk "github.com/hashicorp/packer-plugin-sdk/packer"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// qcow2File makes a real, empty qcow2 image.
func qcow2File(t *testing.T, dir, name string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	out, err := exec.Command("qemu-img", "create", "-q", "-f", "qcow2", p, "16M").CombinedOutput()
	require.NoError(t, err, "qemu-img (Debian package qemu-utils): %s", out)
	return p
}

func TestInputImageChoice(t *testing.T) {
	dir := t.TempDir()
	disk := qcow2File(t, dir, "web")
	other := qcow2File(t, dir, "data")
	vars := hostFile(t, "efivars.fd")

	cases := []struct {
		name      string
		imagePath string
		artifact  *packersdk.MockArtifact
		want      string
		wantErr   string
	}{
		{"image_path wins", vars, &packersdk.MockArtifact{FilesValue: []string{disk}}, vars, ""},
		{"the qemu builder's diskName", "", &packersdk.MockArtifact{
			FilesValue: []string{other, disk, vars}, StateValues: map[string]interface{}{"diskName": "web"},
		}, disk, ""},
		{"the only qcow2 beside UEFI variables", "", &packersdk.MockArtifact{FilesValue: []string{vars, disk}}, disk, ""},
		{"the only file", "", &packersdk.MockArtifact{FilesValue: []string{vars}}, vars, ""},
		{"no files", "", &packersdk.MockArtifact{FilesValue: []string{}}, "", "has no files; set image_path"},
		{"two disks", "", &packersdk.MockArtifact{FilesValue: []string{disk, other}}, "", "several files"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := inputImage(tc.imagePath, tc.artifact)
			if tc.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tc.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}
