// Package packertest runs the real, stock Packer binary against the plugin
// built from this module, the way a user's machine would: the plugin is
// installed into a private PACKER_PLUGIN_PATH with the file names `packer
// init` uses, and templates run through `packer init`, `validate` and
// `build`. Tests that use it need stock Packer (scripts/bootstrap.sh packer)
// and belong to the acceptance tier: they skip unless PACKER_ACC is set
// (see testtool).
package packertest

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	sdkplugin "github.com/hashicorp/packer-plugin-sdk/plugin"

	"github.com/c34478be/packer-plugin-maas/internal/lines"
	"github.com/c34478be/packer-plugin-maas/internal/test/testtool"
)

// PluginSource is the address users give `packer init`.
const PluginSource = "github.com/c34478be/maas"

// releaseVar is the linker variable that marks a build as a pre-release.
const releaseVar = "github.com/c34478be/packer-plugin-maas/version.VersionPrerelease"

// ModuleRoot returns the directory holding this module's go.mod.
func ModuleRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("packertest: no go.mod above the test's directory")
		}
		dir = parent
	}
}

// Release is one stock Packer the tests run: the binary its environment
// variable names (the Makefile sets it), else the link scripts/bootstrap.sh
// made in .tools/bin.
type Release struct {
	Version string // the version scripts/bootstrap.sh builds
	EnvVar  string // names the binary
	Tool    string // its name in .tools/bin
	// InstallsPlugins says `packer plugins install --path` exists (Packer
	// 1.10 and later): Envs install the plugin with it, as users do.
	InstallsPlugins bool
}

var (
	// Packer19 runs the whole e2e suite: it bundles the stock qemu builder.
	// PACKER_BIN may name any Packer from 1.9 on.
	Packer19 = Release{Version: "1.9.4", EnvVar: "PACKER_BIN", Tool: "packer"}
	// Packer114 is the newest Packer the Go module proxy serves. It bundles
	// no plugins, so it runs the subset that needs none but this one.
	Packer114 = Release{Version: "1.14.3", EnvVar: "PACKER_1_14_BIN", Tool: "packer-1.14", InstallsPlugins: true}
)

// Path returns the release's binary; a missing one fails the test.
func (r Release) Path(t testing.TB) string {
	t.Helper()
	testtool.RequireAcceptance(t, "stock Packer "+r.Version)
	if p := os.Getenv(r.EnvVar); p != "" {
		return p
	}
	p := filepath.Join(ModuleRoot(t), ".tools", "bin", r.Tool)
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("packertest: stock Packer %s not found at %s and %s is not set; run `scripts/bootstrap.sh packer` (or `make tools`)", r.Version, p, r.EnvVar)
	}
	return p
}

// Packer returns the default stock Packer binary, Packer19's.
func Packer(t testing.TB) string {
	t.Helper()
	return Packer19.Path(t)
}

var plugin struct {
	once    sync.Once
	path    string
	version string
	err     error
}

// PluginBinary builds the plugin once per test process and returns the
// binary's path and the version its `describe` reports.
func PluginBinary(t testing.TB) (path, version string) {
	t.Helper()
	testtool.RequireAcceptance(t, "the plugin binary (go build)")
	plugin.once.Do(func() {
		plugin.path, plugin.version, plugin.err = buildPlugin(ModuleRoot(t))
	})
	if plugin.err != nil {
		t.Fatalf("packertest: %v", plugin.err)
	}
	return plugin.path, plugin.version
}

func buildPlugin(root string) (string, string, error) {
	dir, err := os.MkdirTemp("", "packertest-plugin-")
	if err != nil {
		return "", "", err
	}
	bin := filepath.Join(dir, "packer-plugin-maas")
	// Built as a release of the current version, as `make install` does, so
	// templates can require ">= 0.1.0" like users' templates do.
	build := exec.Command("go", "build", "-ldflags", "-X "+releaseVar+"=", "-o", bin, ".")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		return "", "", fmt.Errorf("building the plugin: %v\n%s", err, out)
	}
	version, err := describeVersion(bin)
	return bin, version, err
}

func describeVersion(bin string) (string, error) {
	out, err := exec.Command(bin, "describe").Output()
	if err != nil {
		return "", fmt.Errorf("%s describe: %v", bin, err)
	}
	var d struct {
		Version string `json:"version"`
	}
	if err := json.Unmarshal(out, &d); err != nil {
		return "", fmt.Errorf("%s describe printed %q: %v", bin, out, err)
	}
	return d.Version, nil
}

// InstallPlugin copies the plugin into a new PACKER_PLUGIN_PATH with the
// name and checksum file `packer init` would write, and returns that path.
func InstallPlugin(t testing.TB) string {
	t.Helper()
	bin, version := PluginBinary(t)
	pluginPath := t.TempDir()
	if _, err := Install(bin, version, pluginPath); err != nil {
		t.Fatalf("packertest: %v", err)
	}
	return pluginPath
}

// APIVersion is the plugin API version in installed file names, the
// SDK's, which the plugin's `describe` reports too.
var APIVersion = "x" + sdkplugin.APIVersionMajor + "." + sdkplugin.APIVersionMinor

// Install places bin under pluginPath as `packer init` does and returns the
// installed file's path.
func Install(bin, version, pluginPath string) (string, error) {
	dir := filepath.Join(pluginPath, filepath.FromSlash(PluginSource))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	name := fmt.Sprintf("packer-plugin-maas_v%s_%s_%s_%s", version, APIVersion, runtime.GOOS, runtime.GOARCH)
	dst := filepath.Join(dir, name)
	sum, err := copyExecutable(bin, dst)
	if err != nil {
		return "", err
	}
	return dst, os.WriteFile(dst+"_SHA256SUM", []byte(sum), 0o644)
}

func copyExecutable(src, dst string) (sha256Hex string, err error) {
	in, err := os.Open(src)
	if err != nil {
		return "", err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o755)
	if err != nil {
		return "", err
	}
	h := sha256.New()
	if _, err := io.Copy(io.MultiWriter(out, h), in); err != nil {
		out.Close()
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), out.Close()
}

// Env is one Packer working directory with its own plugin path, cache and
// log, isolated from the user's configuration.
type Env struct {
	t          testing.TB
	Release    Release  // the Packer that runs
	Dir        string   // where packer runs; templates go here
	PluginPath string   // PACKER_PLUGIN_PATH
	ExtraEnv   []string // added to every run, e.g. MAAS_URL=...
	runs       int
}

// New returns an Env of Packer19 whose directory holds copies of the given
// template files (paths relative to the test's package directory).
func New(t testing.TB, templates ...string) *Env {
	t.Helper()
	return NewFor(t, Packer19, templates...)
}

// NewFor is New for the given Packer release. Releases that have `packer
// plugins install --path` install the plugin with it (the run is the
// Env's first, packer-1-plugins.log); the others get the layout `packer
// init` writes (Install).
func NewFor(t testing.TB, r Release, templates ...string) *Env {
	t.Helper()
	e := &Env{t: t, Release: r, Dir: t.TempDir()}
	if r.InstallsPlugins {
		bin, _ := PluginBinary(t)
		e.PluginPath = t.TempDir()
		e.MustRun("plugins", "install", "--path", bin, PluginSource)
	} else {
		e.PluginPath = InstallPlugin(t)
	}
	for _, tpl := range templates {
		data, err := os.ReadFile(tpl)
		if err != nil {
			t.Fatal(err)
		}
		e.WriteFile(filepath.Base(tpl), string(data))
	}
	return e
}

// WriteFile writes a file into the working directory.
func (e *Env) WriteFile(name, content string) string {
	e.t.Helper()
	p := filepath.Join(e.Dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		e.t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		e.t.Fatal(err)
	}
	return p
}

// Result is what one Packer run left.
type Result struct {
	Args     []string
	ExitCode int
	Output   string // stdout and stderr, interleaved
	LogPath  string // PACKER_LOG=1 log, including the plugin's own lines
}

// Log reads the run's Packer log.
func (r Result) Log() string {
	data, _ := os.ReadFile(r.LogPath)
	return string(data)
}

// Run runs the Env's stock Packer with args in the Env and returns what happened,
// whatever the exit code.
func (e *Env) Run(args ...string) Result {
	e.t.Helper()
	e.runs++
	res := Result{Args: args, LogPath: filepath.Join(e.Dir, fmt.Sprintf("packer-%d-%s.log", e.runs, args[0]))}
	cmd := exec.Command(e.Release.Path(e.t), args...)
	cmd.Dir = e.Dir
	cmd.Env = append(os.Environ(),
		"PACKER_PLUGIN_PATH="+e.PluginPath,
		"PACKER_CACHE_DIR="+filepath.Join(e.Dir, "packer_cache"),
		"PACKER_CONFIG_DIR="+filepath.Join(e.Dir, ".packer.d"),
		"PACKER_LOG=1",
		"PACKER_LOG_PATH="+res.LogPath,
		"PACKER_NO_COLOR=1",
		"CHECKPOINT_DISABLE=1",
	)
	cmd.Env = append(cmd.Env, e.ExtraEnv...)
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	err := cmd.Run()
	res.Output = out.String()
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		res.ExitCode = exit.ExitCode()
	case err != nil:
		e.t.Fatalf("packertest: running packer %s: %v", strings.Join(args, " "), err)
	}
	return res
}

// MustRun runs Packer and fails the test, showing the output and the log's
// tail, unless it exits 0.
func (e *Env) MustRun(args ...string) Result {
	e.t.Helper()
	res := e.Run(args...)
	if res.ExitCode != 0 {
		e.t.Fatalf("packer %s exited %d\n--- output\n%s\n--- log tail\n%s",
			strings.Join(args, " "), res.ExitCode, res.Output, lines.Last(res.Log(), 60))
	}
	return res
}
