package rootfs

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"
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

// TestGeneralizeScript checks the script parses as POSIX sh (dash, as in
// the guests) and does what the settings ask, no more.
func TestGeneralizeScript(t *testing.T) {
	for _, tc := range []struct {
		name    string
		set     map[string]interface{}
		want    []string
		notWant []string
	}{
		{"defaults", nil,
			[]string{"cloud-init clean --logs", "userdel -f packer-maas", "rm -f /etc/ssh/ssh_host_*", ": > /etc/machine-id",
				"/etc/netplan/50-cloud-init.yaml", "interfaces.d/50-cloud-init", "apt-get clean", "shutdown -P now"},
			[]string{"purge", "PROXY_LINES"}},
		{"skips and kernel", map[string]interface{}{
			"skip_generalize": []string{"ssh-host-keys", "machine-id", "network-config", "apt-clean", "cloud-init-logs"},
			"remove_kernel":   true, "ssh_username": "builder"},
			[]string{"cloud-init clean\n", "userdel -f builder", "apt-get -y -q purge $kernels"},
			[]string{"ssh_host_", "machine-id", "netplan", "apt-get clean", "--logs"}},
		{"proxies", map[string]interface{}{"http_proxy": "http://p:3128", "no_proxy": "localhost,10.0.0.0/8"},
			[]string{"rm -f /etc/apt/apt.conf.d/90packer-maas-proxy", "http_proxy=http://p:3128\nHTTP_PROXY=http://p:3128\nno_proxy=localhost,10.0.0.0/8"},
			nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			script, err := preparedConfig(t, tc.set).generalizeScript()
			require.NoError(t, err)
			out, err := exec.Command("dash", "-n", "-c", string(script)).CombinedOutput()
			require.NoError(t, err, "dash -n: %s\n%s", out, script)
			for _, w := range tc.want {
				assert.Contains(t, string(script), w)
			}
			for _, w := range tc.notWant {
				assert.NotContains(t, string(script), w)
			}
			assert.True(t, strings.HasSuffix(string(script), "say \"generalized\"\nshutdown -P now\n"), "power-off must come last, after the marker")
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
