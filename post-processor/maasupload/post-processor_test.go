package maasupload

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
	"testing"

	packersdk "github.com/hashicorp/packer-plugin-sdk/packer"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/c34478be/packer-plugin-maas/internal/maas"
	"github.com/c34478be/packer-plugin-maas/internal/maasartifact"
	"github.com/c34478be/packer-plugin-maas/internal/test/fakemaas"
)

const goodKey = "ck1234567:tk1234567:secret123456789"

func validSettings() map[string]interface{} {
	return map[string]interface{}{
		"maas_url":   "http://maas.example:5240/MAAS",
		"api_key":    goodKey,
		"image_name": "custom/noble-web",
	}
}

func TestConfigureDefaults(t *testing.T) {
	var p PostProcessor
	require.NoError(t, p.Configure(validSettings()))
	assert.Equal(t, int64(maas.DefaultChunkSize), p.config.ChunkSize)
	assert.Equal(t, 5, p.config.Attempts)
	assert.Equal(t, "5m0s", p.config.Timeout.String())
}

func TestConfigureFromEnvironment(t *testing.T) {
	t.Setenv("MAAS_URL", "https://maas.example/MAAS")
	t.Setenv("MAAS_API_KEY", goodKey)
	var p PostProcessor
	require.NoError(t, p.Configure(map[string]interface{}{"image_name": "custom/x1"}))
	assert.Equal(t, "https://maas.example/MAAS", p.config.MAASURL)
	assert.Equal(t, goodKey, p.config.APIKey)
}

// A key copied with its line break, or read from a file, is trimmed.
func TestConfigureTrimsTheKey(t *testing.T) {
	t.Setenv("MAAS_URL", "https://maas.example/MAAS\n")
	t.Setenv("MAAS_API_KEY", goodKey+"\n")
	var p PostProcessor
	require.NoError(t, p.Configure(map[string]interface{}{"image_name": "custom/x1"}))
	assert.Equal(t, goodKey, p.config.APIKey)
	assert.Equal(t, "https://maas.example/MAAS", p.config.MAASURL)

	raw := validSettings()
	raw["api_key"] = " " + goodKey + "\r\n"
	require.NoError(t, p.Configure(raw))
	assert.Equal(t, goodKey, p.config.APIKey)
}

// Bad values from MAAS_URL and MAAS_API_KEY are named as such.
func TestConfigureNamesTheEnvironment(t *testing.T) {
	t.Setenv("MAAS_URL", "maas.example/MAAS")
	t.Setenv("MAAS_API_KEY", "ck:tk:two words")
	var p PostProcessor
	err := p.Configure(map[string]interface{}{"image_name": "custom/x1"})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "MAAS_URL (used as maas_url is not set): maas_url")
	assert.Contains(t, err.Error(), "MAAS_API_KEY (used as api_key is not set): api_key holds a space or line break")
	assert.NotContains(t, err.Error(), "two words")
}

func TestConfigureErrors(t *testing.T) {
	t.Setenv("MAAS_URL", "")
	t.Setenv("MAAS_API_KEY", "")
	cases := []struct {
		setting string
		value   interface{}
		want    string
	}{
		{"maas_url", "", "maas_url is required"},
		{"maas_url", "maas.example/MAAS", "must be an http:// or https:// URL"},
		{"maas_url", "http://maas.example:5240/MAAS/api/2.0/", "without the API path"},
		{"api_key", "", "api_key is required"},
		{"api_key", "only:two", "CONSUMER_KEY:TOKEN_KEY:TOKEN_SECRET"},
		{"image_name", "", "name is required"},
		{"image_name", "custom/noble", "is reserved"},
		{"image_name", "ubuntu", "is reserved"},
		{"image_name", "centos8", "is reserved"},
		{"image_name", "debian/bookworm-web", "unknown operating system"},
		{"architecture", "x86_64", `unknown architecture "x86_64"`},
		{"architecture", "amd64/", "ARCH/SUBARCH"},
		{"architecture", "sparc/generic", "unknown architecture"},
		{"base_image", "ubuntu/24.04", "must be a codename"},
		{"base_image", "windows/2022", "cannot be a base image"},
		{"filetype", "qcow2", "not a MAAS filetype"},
		{"chunk_size", 10 << 20, "chunk_size 10485760 must be between"},
		{"chunk_size", 1000, "must be between"},
		{"attempts", -1, "attempts -1 must be at least 1"},
		{"timeout", "-1s", "must not be negative"},
		{"username", "admin", "username and password go together"},
		{"ca_cert", "/nonexistent/ca.pem", "ca_cert"},
		{"image_path", "/", "is not a regular file"},
	}
	for _, tc := range cases {
		t.Run(tc.setting+"="+toString(tc.value), func(t *testing.T) {
			raw := validSettings()
			raw[tc.setting] = tc.value
			var p PostProcessor
			err := p.Configure(raw)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
			assert.NotContains(t, err.Error(), "secret123456789", "the key must never appear in errors")
		})
	}
}

func toString(v interface{}) string {
	if s, ok := v.(string); ok {
		return s
	}
	return "number"
}

func TestConfigureHidesSecretsFromLogs(t *testing.T) {
	var logged bytes.Buffer
	packersdk.LogSecretFilter.SetOutput(&logged)
	var p PostProcessor
	raw := validSettings()
	raw["username"], raw["password"] = "admin", "hunter2-password"
	require.NoError(t, p.Configure(raw))
	_, err := packersdk.LogSecretFilter.Write([]byte("key " + goodKey + " pw hunter2-password\n"))
	require.NoError(t, err)
	assert.NotContains(t, logged.String(), "secret123456789")
	assert.NotContains(t, logged.String(), "hunter2-password")
}

// fakeArtifact is a stand-in for another component's artifact, with the
// state keys maas-rootfs and maas-export set.
type fakeArtifact struct {
	files []string
	state map[string]interface{}
}

func (a *fakeArtifact) BuilderId() string                  { return "test.producer" }
func (a *fakeArtifact) Files() []string                    { return a.files }
func (a *fakeArtifact) Id() string                         { return "x" }
func (a *fakeArtifact) String() string                     { return "test artifact" }
func (a *fakeArtifact) State(k string) interface{}         { return a.state[k] }
func (a *fakeArtifact) Destroy() error                     { return nil }
func (a *fakeArtifact) with(k string, v any) *fakeArtifact { a.state[k] = v; return a }

func writeFile(t *testing.T, content []byte) (string, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "image.tar.gz")
	require.NoError(t, os.WriteFile(path, content, 0o644))
	sum := sha256.Sum256(content)
	return path, hex.EncodeToString(sum[:])
}

func TestPostProcessUsesArtifactState(t *testing.T) {
	fake := fakemaas.Start()
	defer fake.Close()
	content := bytes.Repeat([]byte("maas image "), 600_000) // 6.6 MB: two chunks
	path, sum := writeFile(t, content)
	in := (&fakeArtifact{files: []string{path, path + ".sha256"}, state: map[string]interface{}{}}).
		with(maasartifact.StatePath, path).with(maasartifact.StateFiletype, "ddgz").with(maasartifact.StateArchitecture, "arm64/generic").
		with(maasartifact.StateBaseImage, "ubuntu/jammy").with(maasartifact.StateSHA256, sum).with(maasartifact.StateSize, int64(len(content)))

	var p PostProcessor
	raw := validSettings()
	raw["maas_url"], raw["api_key"], raw["wait_complete"] = fake.URL, fakemaas.APIKey, true
	require.NoError(t, p.Configure(raw))
	var said bytes.Buffer
	ui := &packersdk.BasicUi{Reader: new(bytes.Buffer), Writer: &said, ErrorWriter: &said, PB: &countingTracker{}}
	out, keep, force, err := p.PostProcess(context.Background(), ui, in)
	require.NoError(t, err)
	assert.True(t, keep)
	assert.False(t, force)

	files := fake.Files()
	require.Len(t, files, 1)
	assert.True(t, files[0].Complete)
	assert.Equal(t, sum, files[0].SHA256)
	assert.Equal(t, "arm64/generic", files[0].Architecture)
	assert.Equal(t, "ubuntu/jammy", files[0].BaseImage)
	assert.Equal(t, "root-dd.gz", files[0].Filetype)

	assert.Equal(t, BuilderID, out.BuilderId())
	assert.Equal(t, itoa(files[0].ResourceID), out.Id())
	assert.Contains(t, out.String(), "custom/noble-web (arm64/generic)")
	assert.Contains(t, out.String(), "127.0.0.1")
	assert.Equal(t, sum, out.State(maasartifact.StateSHA256))
	assert.Contains(t, said.String(), "osystem=custom distro_series=noble-web")
	bar := ui.PB.(*countingTracker)
	assert.Equal(t, int64(len(content)), bar.total, "progress bar total")
	assert.Equal(t, int64(len(content)), bar.read.n, "progress bar must reach the file size")
	assert.True(t, bar.read.closed)
}

// countingTracker records what the progress bar was shown.
type countingTracker struct {
	total int64
	read  *countingStream
}

func (c *countingTracker) TrackProgress(_ string, _, total int64, stream io.ReadCloser) io.ReadCloser {
	c.total, c.read = total, &countingStream{ReadCloser: stream}
	return c.read
}

type countingStream struct {
	io.ReadCloser
	n      int64
	closed bool
}

func (s *countingStream) Read(p []byte) (int, error) {
	n, err := s.ReadCloser.Read(p)
	s.n += int64(n)
	return n, err
}

func (s *countingStream) Close() error { s.closed = true; return s.ReadCloser.Close() }

func itoa(i int) string { return (&Artifact{ResourceID: i}).Id() }

func TestPostProcessSingleFileArtifact(t *testing.T) {
	fake := fakemaas.Start()
	defer fake.Close()
	path, sum := writeFile(t, []byte("a small root tarball"))
	var p PostProcessor
	raw := validSettings()
	raw["maas_url"], raw["api_key"], raw["filetype"] = fake.URL, fakemaas.APIKey, "tgz"
	require.NoError(t, p.Configure(raw))
	_, _, _, err := p.PostProcess(context.Background(), packersdk.TestUi(t), &fakeArtifact{files: []string{path}})
	require.NoError(t, err)
	files := fake.Files()
	require.Len(t, files, 1)
	assert.Equal(t, sum, files[0].SHA256, "computed in one pass when the artifact has no digest")
	assert.Equal(t, "amd64/generic", files[0].Architecture)
}

func TestPostProcessArtifactErrors(t *testing.T) {
	path, _ := writeFile(t, []byte("x"))
	cases := []struct {
		name     string
		artifact *fakeArtifact
		settings map[string]interface{}
		want     string
	}{
		{"no files", &fakeArtifact{}, map[string]interface{}{"filetype": "tgz"}, "has no file to upload: set image_path"},
		{"several files", &fakeArtifact{files: []string{"a", "b"}}, map[string]interface{}{"filetype": "tgz"}, "has 2 files (a, b): set image_path"},
		{"unknown filetype", &fakeArtifact{files: []string{path}}, nil, "set filetype"},
		{"bad state architecture", (&fakeArtifact{files: []string{path}, state: map[string]interface{}{}}).
			with(maasartifact.StateArchitecture, "x86_64"), map[string]interface{}{"filetype": "tgz"}, "from the incoming artifact"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			raw := validSettings()
			for k, v := range tc.settings {
				raw[k] = v
			}
			var p PostProcessor
			require.NoError(t, p.Configure(raw))
			_, _, _, err := p.PostProcess(context.Background(), packersdk.TestUi(t), tc.artifact)
			require.ErrorContains(t, err, tc.want)
		})
	}
}

func TestDeployCommand(t *testing.T) {
	assert.Equal(t, "maas $PROFILE machine deploy $SYSTEM_ID osystem=custom distro_series=web", deployCommand("web"))
	assert.Equal(t, "maas $PROFILE machine deploy $SYSTEM_ID osystem=rhel distro_series=9-web", deployCommand("rhel/9-web"))
}

// TestConfigureTakesBothArchitectureForms: the bare form maas-rootfs takes
// and MAAS's ARCH/SUBARCH both pass validate; MAAS gets ARCH/SUBARCH.
func TestConfigureTakesBothArchitectureForms(t *testing.T) {
	path, sum := writeFile(t, []byte("image"))
	for setting, uploaded := range map[string]string{"amd64": "amd64/generic", "arm64/generic": "arm64/generic", "arm64/hwe-24.04": "arm64/hwe-24.04"} {
		t.Run(setting, func(t *testing.T) {
			raw := validSettings()
			raw["architecture"] = setting
			var p PostProcessor
			require.NoError(t, p.Configure(raw))
			in := (&fakeArtifact{files: []string{path}, state: map[string]interface{}{}}).
				with(maasartifact.StatePath, path).with(maasartifact.StateFiletype, "tgz").with(maasartifact.StateSHA256, sum)
			req, err := p.request(in)
			require.NoError(t, err)
			assert.Equal(t, uploaded, req.Architecture)
		})
	}
}

// TestConfigureRefusesRetries: the setting is attempts now; the old name
// is an error at validate, not silently ignored.
func TestConfigureRefusesRetries(t *testing.T) {
	raw := validSettings()
	raw["retries"] = 3
	var p PostProcessor
	err := p.Configure(raw)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "retries")
}

// TestRequestTakesTheImageNotItsSidecars: maas-export and maas-rootfs list
// the manifest, SBOM and checksum file among their artifact's files;
// maas-upload uploads the image the state names, wherever it is listed.
func TestRequestTakesTheImageNotItsSidecars(t *testing.T) {
	path, sum := writeFile(t, []byte("image"))
	sidecars := []string{path + ".manifest", path + ".spdx.json", path + ".sha256"}
	made := maasartifact.New("test.producer", maasartifact.Image{
		Path: path, Filetype: "tgz", SHA256: sum, Size: 5, Architecture: "amd64/generic", Sidecars: sidecars,
	}, nil)
	sidecarFirst := (&fakeArtifact{files: append(append([]string{}, sidecars...), path), state: map[string]interface{}{}}).
		with(maasartifact.StatePath, path).with(maasartifact.StateFiletype, "tgz").with(maasartifact.StateSHA256, sum).with(maasartifact.StateSize, int64(5))
	var p PostProcessor
	require.NoError(t, p.Configure(validSettings()))
	for _, in := range []packersdk.Artifact{made, sidecarFirst} {
		require.Len(t, in.Files(), 4)
		req, err := p.request(in)
		require.NoError(t, err)
		assert.Equal(t, path, req.Path)
		assert.Equal(t, sum, req.SHA256)
	}
}
