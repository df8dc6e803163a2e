package e2e

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/c34478be/packer-plugin-maas/internal/test/packertest"
)

func TestDescribeReportsProtocolAndVersion(t *testing.T) {
	bin, _ := packertest.PluginBinary(t)
	out, err := exec.Command(bin, "describe").Output()
	require.NoError(t, err)
	var d struct {
		Version    string `json:"version"`
		SDKVersion string `json:"sdk_version"`
		APIVersion string `json:"api_version"`
	}
	require.NoError(t, json.Unmarshal(out, &d), "describe printed %s", out)
	assert.Equal(t, packertest.APIVersion, d.APIVersion)
	assert.Equal(t, "0.6.6", d.SDKVersion)
	assert.Regexp(t, `^\d+\.\d+\.\d+(-dev)?$`, d.Version)
}

// TestStockPackerLoadsInstalledPlugin is what a user does after `make
// install`: init finds the plugin already installed (no download), and
// validate and build run a template that requires it.
func TestStockPackerLoadsInstalledPlugin(t *testing.T) {
	env := packertest.New(t, "testdata/plugin.pkr.hcl")

	init := env.MustRun("init", ".")
	assert.NotContains(t, init.Output, "Installed plugin", "init must not download what is installed")

	installed := env.MustRun("plugins", "installed")
	assert.Contains(t, installed.Output, filepath.Join(env.PluginPath, "github.com", "c34478be", "maas"))

	env.MustRun("validate", ".")
	build := env.MustRun("build", ".")
	assert.Contains(t, build.Output, "Build 'null.smoke' finished")
	data, err := os.ReadFile(filepath.Join(env.Dir, "built.txt"))
	require.NoError(t, err)
	assert.Equal(t, "built", strings.TrimSpace(string(data)))
}
