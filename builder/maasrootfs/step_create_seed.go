package maasrootfs

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/hashicorp/packer-plugin-sdk/multistep"
	packersdk "github.com/hashicorp/packer-plugin-sdk/packer"
	"gopkg.in/yaml.v3"

	"github.com/c34478be/packer-plugin-maas/internal/cloudinit"
)

// Files the proxy settings go to in the guest; generalize removes them.
const (
	aptProxyFile = "/etc/apt/apt.conf.d/90packer-maas-proxy"
	environFile  = "/etc/environment"
	seedHostname = "packer-maas"
)

// stepCreateSeed makes the throw-away SSH key pair and the NoCloud seed
// that creates the build user with its public key.
type stepCreateSeed struct{}

func (s *stepCreateSeed) Run(_ context.Context, state multistep.StateBag) multistep.StepAction {
	c := state.Get("config").(*Config)
	privatePEM, authorizedKey, err := cloudinit.NewKeyPair()
	if err != nil {
		return halt(state, fmt.Errorf("making the build's SSH key: %w", err))
	}
	extra, err := c.extraUserData()
	if err != nil {
		return halt(state, err)
	}
	userData, err := cloudinit.BuildUserData(c.Comm.SSHUsername, authorizedKey, extra)
	if err != nil {
		return halt(state, fmt.Errorf("user-data: %w", err))
	}
	instanceID, err := cloudinit.NewInstanceID()
	if err != nil {
		return halt(state, err)
	}
	metaData, err := cloudinit.BuildMetaData(instanceID, seedHostname)
	if err != nil {
		return halt(state, err)
	}
	seed := filepath.Join(state.Get(stateWorkDir).(string), "seed.img")
	if err := cloudinit.WriteSeed(seed, map[string][]byte{"user-data": userData, "meta-data": metaData}); err != nil {
		return halt(state, fmt.Errorf("writing the cloud-init seed: %w", err))
	}
	c.Comm.SSHPrivateKey = privatePEM
	state.Put(stateSeed, seed)
	state.Get("ui").(packersdk.Ui).Sayf("cloud-init seed: build user %s with a new ed25519 key, instance %s", c.Comm.SSHUsername, instanceID)
	return multistep.ActionContinue
}

// Cleanup has nothing to do: the seed is in the work directory.
func (s *stepCreateSeed) Cleanup(multistep.StateBag) {}

// extraUserData is user_data with the proxy settings added as write_files
// entries, which cloud-init applies before it installs any package.
func (c *Config) extraUserData() ([]byte, error) {
	files := c.proxyFiles()
	if len(files) == 0 {
		return []byte(c.UserData), nil
	}
	doc := map[string]any{}
	if strings.TrimSpace(c.UserData) != "" {
		if err := yaml.Unmarshal([]byte(c.UserData), &doc); err != nil {
			return nil, fmt.Errorf("user_data is not valid cloud-config YAML: %w", err)
		}
	}
	existing, ok := doc["write_files"].([]any)
	if _, present := doc["write_files"]; present && !ok {
		return nil, fmt.Errorf("user_data: write_files must be a list")
	}
	for _, f := range files {
		existing = append(existing, f)
	}
	doc["write_files"] = existing
	out, err := yaml.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("user_data with proxy settings: %w", err)
	}
	return append([]byte("#cloud-config\n"), out...), nil
}

// proxyFiles are the write_files entries that give the guest the proxies.
func (c *Config) proxyFiles() []map[string]any {
	env := c.proxyEnvironment()
	if len(env) == 0 {
		return nil
	}
	var apt strings.Builder
	if c.HTTPProxy != "" {
		fmt.Fprintf(&apt, "Acquire::http::Proxy %q;\n", c.HTTPProxy)
	}
	if c.HTTPSProxy != "" {
		fmt.Fprintf(&apt, "Acquire::https::Proxy %q;\n", c.HTTPSProxy)
	}
	files := []map[string]any{{
		"path": environFile, "append": true, "content": strings.Join(env, "\n") + "\n",
	}}
	if apt.Len() > 0 {
		files = append(files, map[string]any{"path": aptProxyFile, "permissions": "0644", "content": apt.String()})
	}
	return files
}

// proxyEnvironment is the lines added to /etc/environment, in both cases
// since tools disagree on which one they read.
func (c *Config) proxyEnvironment() []string {
	var lines []string
	for _, v := range []struct{ name, value string }{
		{"http_proxy", c.HTTPProxy}, {"https_proxy", c.HTTPSProxy}, {"no_proxy", c.NoProxy},
	} {
		if v.value != "" {
			lines = append(lines, v.name+"="+v.value, strings.ToUpper(v.name)+"="+v.value)
		}
	}
	return lines
}
