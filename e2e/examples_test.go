package e2e

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/c34478be/packer-plugin-maas/internal/test/fakemaas"
	"github.com/c34478be/packer-plugin-maas/internal/test/packertest"
)

// exampleDir holds the templates users copy; every one of them must pass
// `packer validate` and `packer fmt -check` through stock Packer.
const exampleDir = "../example"

// exampleCase is one template of example/ with what validating it needs.
type exampleCase struct {
	// template is the template's path below example/.
	template string
	// files are copied from example/ next to the template (e.g. http/ks.cfg).
	files []string
	// vars are values for variables without a default, given as
	// PKR_VAR_ environment variables (which, unlike -var, may name a
	// variable the template does not declare). Values that would make
	// validate reach the network (checksum files) are replaced.
	vars map[string]string
	// qemuPlugin is set when the template requires the qemu builder, which
	// Packer 1.10 and newer install through required_plugins.
	qemuPlugin bool
}

var exampleCases = []exampleCase{
	{
		template: "debian-local.pkr.hcl",
		vars:     map[string]string{"image": "disk.qcow2", "image_checksum": "sha256:" + strings.Repeat("0", 64)},
	},
	{
		template: "upload-only.pkr.hcl",
		vars:     map[string]string{"image_path": "image.tar.gz"},
	},
	{
		template:   "qemu-builder-export.pkr.hcl",
		files:      []string{"http/ks.cfg"},
		vars:       map[string]string{"iso_checksum": "sha256:" + strings.Repeat("0", 64)},
		qemuPlugin: true,
	},
	{
		template: "ubuntu-cloudimg.pkr.hcl",
		files:    []string{"scripts/ubuntu-customize.sh"},
	},
	{
		template: "github-actions/maas-images.pkr.hcl",
	},
}

// TestExamplesAreAllListed keeps exampleCases in step with example/ and
// its subdirectories: a new example is validated from the day it is added.
func TestExamplesAreAllListed(t *testing.T) {
	top, err := filepath.Glob(filepath.Join(exampleDir, "*.pkr.hcl"))
	require.NoError(t, err)
	nested, err := filepath.Glob(filepath.Join(exampleDir, "*", "*.pkr.hcl"))
	require.NoError(t, err)
	var found, listed []string
	for _, p := range append(top, nested...) {
		rel, err := filepath.Rel(exampleDir, p)
		require.NoError(t, err)
		found = append(found, rel)
	}
	for _, c := range exampleCases {
		listed = append(listed, c.template)
	}
	sort.Strings(found)
	sort.Strings(listed)
	assert.Equal(t, found, listed, "every example/*.pkr.hcl and example/*/*.pkr.hcl needs an entry in exampleCases")
}

func TestExamplesValidateAndAreFormatted(t *testing.T) {
	for _, c := range exampleCases {
		t.Run(c.template, func(t *testing.T) {
			env := newExampleEnv(t, c)
			env.ExtraEnv = append(varEnv(c.vars), "MAAS_URL=http://maas.invalid:5240/MAAS", "MAAS_API_KEY="+fakemaas.APIKey)

			init := env.MustRun("init", c.template)
			assert.NotContains(t, init.Output, "Installed plugin", "init must find every plugin installed, with no download")
			validate := env.MustRun("validate", c.template)
			assert.Contains(t, validate.Output, "The configuration is valid.")
			env.MustRun("fmt", "-check", c.template)
		})
	}
}

// TestExamplesValidateNeedsMAASSettings shows that validating the examples
// really runs the plugin's checks: without MAAS_URL, maas-upload says what
// to set.
func TestExamplesValidateNeedsMAASSettings(t *testing.T) {
	for _, c := range exampleCases {
		t.Run(c.template, func(t *testing.T) {
			env := newExampleEnv(t, c)
			env.ExtraEnv = append(varEnv(c.vars), "MAAS_URL=", "MAAS_API_KEY="+fakemaas.APIKey)
			env.MustRun("init", c.template)
			res := env.Run("validate", c.template)
			assert.NotEqual(t, 0, res.ExitCode)
			assert.Contains(t, res.Output, "maas_url is required (or set MAAS_URL)")
		})
	}
}

// TestUploadOnlyExampleUploads builds example/upload-only.pkr.hcl against
// the fake MAAS: the file arrives whole, with the template's settings.
func TestUploadOnlyExampleUploads(t *testing.T) {
	fake := fakemaas.Start()
	defer fake.Close()
	env := newExampleEnv(t, exampleCase{template: "upload-only.pkr.hcl"})
	env.ExtraEnv = []string{"MAAS_URL=" + fake.URL, "MAAS_API_KEY=" + fakemaas.APIKey}
	content := strings.Repeat("an existing root tarball\n", 1000)
	env.WriteFile("existing.tar.gz", content)

	env.MustRun("init", ".")
	build := env.MustRun("build", "-var", "image_path=existing.tar.gz", "-var", "name=custom/from-file",
		"-var", "base_image=rhel/9", "upload-only.pkr.hcl")

	files := fake.Files()
	require.Len(t, files, 1, "the fake MAAS should hold the uploaded file")
	sum := sha256.Sum256([]byte(content))
	assert.True(t, files[0].Complete)
	assert.Equal(t, hex.EncodeToString(sum[:]), files[0].SHA256)
	assert.Equal(t, "custom/from-file", files[0].Name)
	assert.Equal(t, "rhel/9", files[0].BaseImage)
	assert.Equal(t, "amd64/generic", files[0].Architecture)
	assert.Equal(t, "root-tgz", files[0].Filetype, "MAAS stores a tgz upload as a root-tgz file")
	assert.Contains(t, build.Output, "Build 'null.existing' finished")
}

// TestKickstartSuitsMAASExport checks the promises example/http/ks.cfg makes
// to maas-export and the qemu builder: an ext4 root (the export reads
// ext2/3/4 only), no bootloader (curtin installs one), cloud-init, and a
// power-off at the end (the template has no communicator to shut down).
func TestKickstartSuitsMAASExport(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(exampleDir, "http", "ks.cfg"))
	require.NoError(t, err)
	ks := string(data)
	for _, want := range []string{
		`(?m)^part / .*--fstype=ext4`,
		`(?m)^bootloader --disabled$`,
		`(?m)^cloud-init$`,
		`(?m)^poweroff$`,
	} {
		assert.Regexp(t, want, ks)
	}
	assert.NotRegexp(t, `(?m)^(part|logvol) swap`, ks, "a swap partition would end up in MAAS's fstab")
	tpl, err := os.ReadFile(filepath.Join(exampleDir, "qemu-builder-export.pkr.hcl"))
	require.NoError(t, err)
	assert.Regexp(t, regexp.MustCompile(`inst\.ks=http://\{\{ \.HTTPIP \}\}:\{\{ \.HTTPPort \}\}/ks\.cfg`), string(tpl))
}

func newExampleEnv(t *testing.T, c exampleCase) *packertest.Env {
	t.Helper()
	env := packertest.New(t)
	for _, f := range append([]string{c.template}, c.files...) {
		data, err := os.ReadFile(filepath.Join(exampleDir, f))
		require.NoError(t, err)
		env.WriteFile(f, string(data))
	}
	if c.qemuPlugin {
		installQemuPlugin(t, env.PluginPath)
	}
	return env
}

func varEnv(vars map[string]string) []string {
	var env []string
	for name, value := range vars {
		env = append(env, "PKR_VAR_"+name+"="+value)
	}
	return env
}

// qemuPluginVersion is the qemu builder stock Packer 1.9.4 bundles; the
// examples require it as Packer 1.10 and newer do, from a plugin directory.
const qemuPluginVersion = "1.0.9"

var qemuPlugin struct {
	once   sync.Once
	binary []byte
	err    error
}

// installQemuPlugin builds packer-plugin-qemu from the Go module proxy
// (once per test process; Go's caches make later builds quick) and
// installs it under pluginPath as `packer init` would. The binary is kept
// in memory so no build directory outlives the test process.
func installQemuPlugin(t *testing.T, pluginPath string) {
	t.Helper()
	qemuPlugin.once.Do(func() { qemuPlugin.binary, qemuPlugin.err = buildQemuPlugin() })
	require.NoError(t, qemuPlugin.err)
	dir := filepath.Join(pluginPath, "github.com", "hashicorp", "qemu")
	require.NoError(t, os.MkdirAll(dir, 0o755))
	dst := filepath.Join(dir, fmt.Sprintf("packer-plugin-qemu_v%s_x5.0_%s_%s", qemuPluginVersion, runtime.GOOS, runtime.GOARCH))
	require.NoError(t, os.WriteFile(dst, qemuPlugin.binary, 0o755))
	sum := sha256.Sum256(qemuPlugin.binary)
	require.NoError(t, os.WriteFile(dst+"_SHA256SUM", []byte(hex.EncodeToString(sum[:])), 0o644))
}

func buildQemuPlugin() ([]byte, error) {
	dir, err := os.MkdirTemp("", "qemu-plugin-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	steps := [][]string{
		{"go", "mod", "init", "qemuplugin"},
		{"go", "get", "github.com/hashicorp/packer-plugin-qemu@v" + qemuPluginVersion},
		{"go", "build", "-o", "packer-plugin-qemu", "github.com/hashicorp/packer-plugin-qemu"},
	}
	for _, args := range steps {
		cmd := exec.Command(args[0], args[1:]...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOWORK=off")
		if out, err := cmd.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("building the qemu plugin for the examples (%s): %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	return os.ReadFile(filepath.Join(dir, "packer-plugin-qemu"))
}
