package maasexport

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/c34478be/packer-plugin-maas/internal/export"
	"github.com/c34478be/packer-plugin-maas/internal/maasartifact"
	"github.com/c34478be/packer-plugin-maas/internal/tarball"
)

// hostFile makes a small host file for image_path and include sources.
func hostFile(t *testing.T, name string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	require.NoError(t, os.WriteFile(p, []byte("#!/bin/sh\n"), 0o755))
	return p
}

func TestConfigureDefaults(t *testing.T) {
	var p PostProcessor
	require.NoError(t, p.Configure(map[string]interface{}{}))
	assert.Equal(t, export.FiletypeTGZ, p.config.filetype())
	assert.Equal(t, tarball.DefaultCompressionLevel, p.config.CompressionLevel)
	assert.Equal(t, tarball.DefaultGeneralize(), p.config.tarOptions().Generalize, "every generalization rule is on by default")
	assert.Nil(t, p.config.tarOptions().ClampMtime)
}

func TestConfigureMapsSettingsToTarOptions(t *testing.T) {
	hook := hostFile(t, "curtin-hooks")
	var p PostProcessor
	require.NoError(t, p.Configure(map[string]interface{}{
		"skip_generalize": []string{"machine-id", "ssh-host-keys"},
		"exclude":         []string{"/var/cache/apt/*.bin", "/root/**"},
		"include": []map[string]interface{}{
			{"source": hook, "destination": "/curtin/curtin-hooks", "mode": "0750", "uid": 0, "gid": 4},
		},
		"clamp_mtime": "2026-01-02T03:04:05Z",
	}))
	opts := p.config.tarOptions()
	want := tarball.DefaultGeneralize()
	want.EmptyMachineID, want.RemoveSSHHostKeys = false, false
	assert.Equal(t, want, opts.Generalize)
	assert.Equal(t, []string{"/var/cache/apt/*.bin", "/root/**"}, opts.Exclude)
	assert.Equal(t, []tarball.Include{{Source: hook, Dest: "/curtin/curtin-hooks", Mode: 0o750, GID: 4}}, opts.Include)
	require.NotNil(t, opts.ClampMtime)
	assert.True(t, opts.ClampMtime.Equal(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)))
}

func TestConfigureErrorsNameTheSetting(t *testing.T) {
	hook := hostFile(t, "hook")
	dir := t.TempDir()
	image := hostFile(t, "disk.qcow2")
	include := func(fields map[string]interface{}) map[string]interface{} {
		return map[string]interface{}{"include": []map[string]interface{}{fields}}
	}
	cases := []struct {
		name     string
		settings map[string]interface{}
		want     []string
	}{
		{"unknown filetype", map[string]interface{}{"filetype": "ddxz"}, []string{`filetype "ddxz"`, `"tgz"`, `"ddgz"`}},
		{"level too high", map[string]interface{}{"compression_level": 10}, []string{"compression_level 10", "1 (fastest) to 9"}},
		{"level negative", map[string]interface{}{"compression_level": -1}, []string{"compression_level -1"}},
		{"image_path a directory", map[string]interface{}{"image_path": dir}, []string{"image_path", "not a regular file"}},
		{"image_path below a file", map[string]interface{}{"image_path": filepath.Join(image, "disk.qcow2")}, []string{"image_path", "not a directory"}},
		{"output is the input", map[string]interface{}{"image_path": image, "output": image}, []string{"output", "image_path"}},
		{"output is the input through ..", map[string]interface{}{"image_path": image, "output": dotDotPath(t, image)}, []string{"output", "is the disk image being exported"}},
		{"output is the input through a symlink", map[string]interface{}{"image_path": image, "output": symlinkTo(t, image)}, []string{"output", "is the disk image being exported"}},
		{"output below a file", map[string]interface{}{"output": filepath.Join(image, "out.tar.gz")}, []string{"output", "a directory in its path is a file"}},
		{"output not a regular file", map[string]interface{}{"output": "/dev/null"}, []string{"output /dev/null", "not a regular file"}},
		{"output ends in / but is a file", map[string]interface{}{"output": image + "/"}, []string{"output", "ends in / but is a file"}},
		{"architecture without subarch, unknown", map[string]interface{}{"architecture": "x86_64"}, []string{`architecture "x86_64"`, "amd64/generic"}},
		{"architecture with empty subarch", map[string]interface{}{"architecture": "amd64/"}, []string{`architecture "amd64/"`, "ARCH/SUBARCH"}},
		{"unknown architecture", map[string]interface{}{"architecture": "vax/generic"}, []string{`architecture "vax/generic"`}},
		{"boot_partition with ddgz", map[string]interface{}{"filetype": "ddgz", "boot_partition": "2"}, []string{"boot_partition apply to tgz exports only"}},
		{"boot_partition with blanks", map[string]interface{}{"boot_partition": " 2"}, []string{`boot_partition " 2" has blanks`}},
		{"unknown generalize rule", map[string]interface{}{"skip_generalize": []string{"machine-id", "everything"}}, []string{"skip_generalize", `"everything"`, "ssh-host-keys", "network-config"}},
		{"relative exclude", map[string]interface{}{"exclude": []string{"var/cache"}}, []string{`exclude "var/cache"`, "absolute"}},
		{"bad exclude pattern", map[string]interface{}{"exclude": []string{"/var/[log"}}, []string{`exclude "/var/[log"`, `"[log"`}},
		{"empty exclude segment", map[string]interface{}{"exclude": []string{"/var//log"}}, []string{`exclude "/var//log"`, "empty path segment"}},
		{"include without destination", include(map[string]interface{}{"source": hook}), []string{"include 1", "destination"}},
		{"include source missing", include(map[string]interface{}{"source": filepath.Join(dir, "gone"), "destination": "/x"}), []string{"include 1: source", "gone"}},
		{"include source a directory", include(map[string]interface{}{"source": dir, "destination": "/x"}), []string{"include 1", "not a regular file"}},
		{"include relative destination", include(map[string]interface{}{"source": hook, "destination": "curtin/hooks"}), []string{"include 1", `"curtin/hooks"`}},
		{"include unclean destination", include(map[string]interface{}{"source": hook, "destination": "/curtin//hooks"}), []string{"include 1", `"/curtin//hooks"`}},
		{"include root destination", include(map[string]interface{}{"source": hook, "destination": "/"}), []string{"include 1", `"/"`}},
		{"include bad mode", include(map[string]interface{}{"source": hook, "destination": "/x", "mode": "rwx"}), []string{"include 1", `mode "rwx"`}},
		{"include mode too large", include(map[string]interface{}{"source": hook, "destination": "/x", "mode": "17777"}), []string{"include 1", `mode "17777"`}},
		{"include twice to one file", map[string]interface{}{"include": []map[string]interface{}{
			{"source": hook, "destination": "/curtin/hook"}, {"source": hook, "destination": "/curtin/hook"},
		}}, []string{"include 2", "/curtin/hook", "include 1"}},
		{"include below another include", map[string]interface{}{"include": []map[string]interface{}{
			{"source": hook, "destination": "/curtin"}, {"source": hook, "destination": "/curtin/hook"},
		}}, []string{"include 2", "below include 1"}},
		{"backing_file_dirs missing", map[string]interface{}{"backing_file_dirs": []string{filepath.Join(dir, "gone")}}, []string{"backing_file_dirs", "gone"}},
		{"backing_file_dirs a file", map[string]interface{}{"backing_file_dirs": []string{hook}}, []string{"backing_file_dirs", "not a directory"}},
		{"clamp_mtime not RFC 3339", map[string]interface{}{"clamp_mtime": "2026-01-01"}, []string{`clamp_mtime "2026-01-01"`, "RFC 3339"}},
		{"ddgz with tgz-only settings", map[string]interface{}{
			"filetype": "ddgz", "root_partition": "1", "skip_generalize": []string{"machine-id"},
			"exclude": []string{"/tmp"}, "include": []map[string]interface{}{{"source": hook, "destination": "/x"}},
			"clamp_mtime": "2026-01-01T00:00:00Z",
		}, []string{"root_partition, skip_generalize, exclude, include, clamp_mtime apply to tgz exports only"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var p PostProcessor
			err := p.Configure(tc.settings)
			require.Error(t, err)
			for _, want := range tc.want {
				assert.Contains(t, err.Error(), want)
			}
		})
	}
}

func TestConfigureReportsEveryMistakeAtOnce(t *testing.T) {
	var p PostProcessor
	err := p.Configure(map[string]interface{}{
		"filetype": "zip", "compression_level": 11, "architecture": "x86_64", "clamp_mtime": "yesterday",
	})
	require.Error(t, err)
	for _, setting := range []string{"filetype", "compression_level", "architecture", "clamp_mtime"} {
		assert.Contains(t, err.Error(), setting)
	}
}

// dotDotPath spells p relative to the working directory, through ../.
func dotDotPath(t *testing.T, p string) string {
	t.Helper()
	wd, err := os.Getwd()
	require.NoError(t, err)
	rel, err := filepath.Rel(wd, p)
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(rel, "../"), rel)
	return rel
}

// symlinkTo makes a symlink to target in another directory.
func symlinkTo(t *testing.T, target string) string {
	t.Helper()
	link := filepath.Join(t.TempDir(), "link.tar.gz")
	require.NoError(t, os.Symlink(target, link))
	return link
}

// TestConfigureAcceptsImagePathTheBuildWillCreate: the builder creates
// image_path, so it need not exist at validate.
func TestConfigureAcceptsImagePathTheBuildWillCreate(t *testing.T) {
	var p PostProcessor
	require.NoError(t, p.Configure(map[string]interface{}{"image_path": filepath.Join(t.TempDir(), "output-x", "disk.qcow2")}))
}

func TestDefaultName(t *testing.T) {
	assert.Equal(t, "web.tar.gz", defaultName("/b/output-x/disk.qcow2", "web", export.FiletypeTGZ))
	assert.Equal(t, "web.dd.gz", defaultName("/b/output-x/disk.qcow2", "web", export.FiletypeDDGZ))
	assert.Equal(t, "disk.tar.gz", defaultName("/b/disk.qcow2", "", export.FiletypeTGZ))
}

// TestConfigureTakesBothArchitectureForms: maas-rootfs's bare form and
// MAAS's ARCH/SUBARCH both pass validate; the artifact records the MAAS
// form.
func TestConfigureTakesBothArchitectureForms(t *testing.T) {
	for setting, recorded := range map[string]string{"amd64": "amd64/generic", "amd64/generic": "amd64/generic", "arm64/hwe-24.04": "arm64/hwe-24.04"} {
		t.Run(setting, func(t *testing.T) {
			var p PostProcessor
			require.NoError(t, p.Configure(map[string]interface{}{"architecture": setting}))
			assert.Equal(t, recorded, maasartifact.Architecture(p.config.Architecture, ""))
		})
	}
}
