package maasrootfs

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/hashicorp/packer-plugin-sdk/multistep"
	packersdk "github.com/hashicorp/packer-plugin-sdk/packer"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/c34478be/packer-plugin-maas/internal/generalize"
	"github.com/c34478be/packer-plugin-maas/internal/test/fakecomm"
)

func preparedConfig(t *testing.T, set map[string]interface{}) *Config {
	settings := validSettings(t)
	for k, v := range set {
		settings[k] = v
	}
	var c Config
	_, err := c.Prepare(settings)
	require.NoError(t, err)
	return &c
}

// TestGeneralizeSettings checks what the script is told for the build's
// settings (internal/generalize tests what it does with them).
func TestGeneralizeSettings(t *testing.T) {
	for _, tc := range []struct {
		name string
		set  map[string]interface{}
		want generalize.Settings
	}{
		{"defaults", nil, generalize.Settings{User: "packer-maas", ProxyFile: aptProxyFile}},
		{"skips, kernel and user", map[string]interface{}{
			"skip_generalize": []string{"ssh-host-keys", "machine-id", "network-config", "cloud-init-logs"},
			"remove_kernel":   true, "ssh_username": "builder"},
			generalize.Settings{User: "builder", Skip: []string{"machine-id", "cloud-init-logs", "ssh-host-keys", "network-config"},
				ProxyFile: aptProxyFile, RemoveKernel: true}},
		{"package-cache", map[string]interface{}{"skip_generalize": []string{"package-cache"}},
			generalize.Settings{User: "packer-maas", Skip: []string{"package-cache"}, ProxyFile: aptProxyFile}},
		{"apt-clean, package-cache's older name", map[string]interface{}{"skip_generalize": []string{"apt-clean", "hostname"}},
			generalize.Settings{User: "packer-maas", Skip: []string{"hostname", "package-cache"}, ProxyFile: aptProxyFile}},
		{"both names", map[string]interface{}{"skip_generalize": []string{"apt-clean", "package-cache"}},
			generalize.Settings{User: "packer-maas", Skip: []string{"package-cache"}, ProxyFile: aptProxyFile}},
		{"proxies", map[string]interface{}{"http_proxy": "http://p:3128", "no_proxy": "localhost,10.0.0.0/8"},
			generalize.Settings{User: "packer-maas", ProxyFile: aptProxyFile, ProxyLines: []string{
				"http_proxy=http://p:3128", "HTTP_PROXY=http://p:3128", "no_proxy=localhost,10.0.0.0/8", "NO_PROXY=localhost,10.0.0.0/8"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := preparedConfig(t, tc.set)
			assert.Equal(t, tc.want, c.generalizeSettings())
			_, err := c.generalizeScript()
			assert.NoError(t, err)
		})
	}
}

// TestExtraUserDataProxies checks the proxies reach the guest as
// write_files entries appended to the user's own.
func TestExtraUserDataProxies(t *testing.T) {
	c := preparedConfig(t, map[string]interface{}{
		"http_proxy": "http://p:3128", "https_proxy": "http://p:3129",
		"user_data": "packages: [curl]\nwrite_files:\n  - path: /etc/motd\n    content: hi\n",
	})
	extra, err := c.extraUserData()
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(string(extra), "#cloud-config\n"))
	var doc struct {
		Packages   []string `yaml:"packages"`
		WriteFiles []struct {
			Path    string `yaml:"path"`
			Content string `yaml:"content"`
			Append  bool   `yaml:"append"`
		} `yaml:"write_files"`
	}
	require.NoError(t, yaml.Unmarshal(extra, &doc))
	assert.Equal(t, []string{"curl"}, doc.Packages)
	require.Len(t, doc.WriteFiles, 3)
	assert.Equal(t, "/etc/motd", doc.WriteFiles[0].Path)
	assert.Equal(t, "/etc/environment", doc.WriteFiles[1].Path)
	assert.True(t, doc.WriteFiles[1].Append, "/etc/environment must be appended to, not replaced")
	assert.Contains(t, doc.WriteFiles[1].Content, "HTTPS_PROXY=http://p:3129\n")
	assert.Equal(t, aptProxyFile, doc.WriteFiles[2].Path)
	assert.Equal(t, "Acquire::http::Proxy \"http://p:3128\";\nAcquire::https::Proxy \"http://p:3129\";\n", doc.WriteFiles[2].Content)

	plain := preparedConfig(t, map[string]interface{}{"user_data": "packages: [curl]"})
	extra, err = plain.extraUserData()
	require.NoError(t, err)
	assert.Equal(t, "packages: [curl]", string(extra), "without proxies user_data goes through as written")
}

// generalizeStep is the generalize step for the settings c.
func generalizeStep(t *testing.T, c *Config) *stepGeneralize {
	script, err := c.generalizeScript()
	require.NoError(t, err)
	return &stepGeneralize{script: script}
}

func TestGeneralizeFailureNamesTheLastLine(t *testing.T) {
	comm := &fakecomm.Scripted{Answers: map[string]fakecomm.Answer{
		"sudo -n sh -s": {Code: 3, Stdout: "removing the build user\nuserdel: user packer-maas is currently used by process 1\n"},
	}}
	var ui bytes.Buffer
	state := new(multistep.BasicStateBag)
	state.Put("ui", &packersdk.BasicUi{Reader: strings.NewReader(""), Writer: &ui, ErrorWriter: &ui})
	state.Put("communicator", comm)

	assert.Equal(t, multistep.ActionHalt, generalizeStep(t, preparedConfig(t, nil)).Run(context.Background(), state))
	require.EqualError(t, state.Get("error").(error),
		"generalizing the image failed (exit 3): userdel: user packer-maas is currently used by process 1")
}

// TestGeneralizeSeesTheMarkerAfterMuchOutput checks that the marker
// printed last counts however much came before it (apt purging kernels
// prints hundreds of KiB), when the session then ends without an exit
// status as the guest powers off.
func TestGeneralizeSeesTheMarkerAfterMuchOutput(t *testing.T) {
	chatter := strings.Repeat("Removing linux-image-6.1.0-28-cloud-amd64 (6.1.119-1) ...\n", (300<<10)/58)
	comm := &fakecomm.Scripted{Answers: map[string]fakecomm.Answer{
		"sudo -n sh -s": {Code: packersdk.CmdDisconnect, Stdout: chatter + generalizedMarker + "\n"},
	}}
	var ui bytes.Buffer
	state := new(multistep.BasicStateBag)
	state.Put("ui", &packersdk.BasicUi{Reader: strings.NewReader(""), Writer: &ui, ErrorWriter: &ui})
	state.Put("communicator", comm)

	require.Greater(t, len(chatter), 256<<10)
	step := generalizeStep(t, preparedConfig(t, map[string]interface{}{"remove_kernel": true}))
	assert.Equal(t, multistep.ActionContinue, step.Run(context.Background(), state), "error: %v", state.Get("error"))
	assert.Equal(t, true, state.Get(keyShutdownAsked))
}
