package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/c34478be/packer-plugin-maas/internal/test/fakemaas"
	"github.com/c34478be/packer-plugin-maas/internal/test/packertest"
)

// githubActionsExample is the workflow of example/github-actions and the
// template it builds once per matrix entry.
var githubActionsExample = struct{ dir, workflow, template string }{
	dir:      filepath.Join(exampleDir, "github-actions"),
	workflow: "build-images.yml",
	template: "maas-images.pkr.hcl",
}

// exampleWorkflow is the part of build-images.yml the test reads.
type exampleWorkflow struct {
	Env  map[string]string `yaml:"env"`
	Jobs struct {
		Build struct {
			Strategy struct {
				Matrix struct {
					Series       []string            `yaml:"series"`
					Architecture []string            `yaml:"architecture"`
					Flavour      []string            `yaml:"flavour"`
					Include      []map[string]string `yaml:"include"`
				} `yaml:"matrix"`
			} `yaml:"strategy"`
			Steps []struct {
				Name string            `yaml:"name"`
				Env  map[string]string `yaml:"env"`
			} `yaml:"steps"`
		} `yaml:"build"`
	} `yaml:"jobs"`
}

// TestPacker114ValidatesEveryGitHubActionsMatrixEntry: the example workflow
// pins the Packer release the tests call Packer114 and passes its matrix
// to the template as PKR_VAR_ variables; every entry must validate under
// that release, and every variable the workflow sets must be one the
// template declares (Packer ignores the others silently).
func TestPacker114ValidatesEveryGitHubActionsMatrixEntry(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(githubActionsExample.dir, githubActionsExample.workflow))
	require.NoError(t, err)
	var wf exampleWorkflow
	require.NoError(t, yaml.Unmarshal(data, &wf))
	assert.Equal(t, packertest.Packer114.Version, wf.Env["PACKER_VERSION"], "the workflow's Packer is the one this test runs")
	tplPath := filepath.Join(githubActionsExample.dir, githubActionsExample.template)
	tpl, err := os.ReadFile(tplPath)
	require.NoError(t, err)
	assertWorkflowVarsDeclared(t, wf, string(tpl))

	matrix := wf.Jobs.Build.Strategy.Matrix
	for _, arch := range matrix.Architecture {
		assert.True(t, includesRunner(matrix.Include, arch), "the matrix's include gives %s a runner and its QEMU packages", arch)
	}
	env := packertest.NewFor(t, packertest.Packer114, tplPath)
	env.MustRun("init", githubActionsExample.template)
	entries := 0
	for _, series := range matrix.Series {
		for _, arch := range matrix.Architecture {
			for _, flavour := range matrix.Flavour {
				env.ExtraEnv = []string{
					"MAAS_URL=http://maas.invalid:5240/MAAS", "MAAS_API_KEY=" + fakemaas.APIKey,
					"PKR_VAR_ubuntu_series=" + series, "PKR_VAR_architecture=" + arch, "PKR_VAR_flavour=" + flavour,
					"PKR_VAR_image_checksum=sha256:" + strings.Repeat("0", 64),
				}
				res := env.Run("validate", githubActionsExample.template)
				assert.Equal(t, 0, res.ExitCode, "%s %s %s: %s", series, arch, flavour, res.Output)
				entries++
			}
		}
	}
	assert.Equal(t, 8, entries, "two series, two architectures, two flavours")
}

// assertWorkflowVarsDeclared checks that each PKR_VAR_ the workflow's
// packer steps set names a variable of the template.
func assertWorkflowVarsDeclared(t *testing.T, wf exampleWorkflow, tpl string) {
	t.Helper()
	seen := 0
	for _, step := range wf.Jobs.Build.Steps {
		for name := range step.Env {
			if v, ok := strings.CutPrefix(name, "PKR_VAR_"); ok {
				seen++
				assert.True(t, strings.Contains(tpl, fmt.Sprintf("variable %q {", v)), "step %q sets %s, which the template does not declare", step.Name, name)
			}
		}
	}
	assert.NotZero(t, seen, "the workflow passes the matrix as PKR_VAR_ variables")
}

func includesRunner(include []map[string]string, arch string) bool {
	for _, inc := range include {
		if inc["architecture"] == arch && inc["runner"] != "" && inc["qemu_packages"] != "" {
			return true
		}
	}
	return false
}
