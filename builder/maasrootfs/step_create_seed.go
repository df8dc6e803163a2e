package maasrootfs

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/hashicorp/packer-plugin-sdk/communicator"
	"github.com/hashicorp/packer-plugin-sdk/multistep"
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
//
// Uses the work directory (getWorkDir); produces the seed (getSeed) and
// sets the private key in comm for the SSH steps.
type stepCreateSeed struct {
	comm     *communicator.Config // its SSHUsername is the build user
	userData []byte               // user_data with the proxy settings
}

func (s *stepCreateSeed) Run(_ context.Context, state multistep.StateBag) multistep.StepAction {
	privatePEM, authorizedKey, err := cloudinit.NewKeyPair()
	if err != nil {
		return halt(state, fmt.Errorf("making the build's SSH key: %w", err))
	}
	userData, err := cloudinit.BuildUserData(s.comm.SSHUsername, authorizedKey, s.userData)
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
	seed := filepath.Join(getWorkDir(state), "seed.img")
	if err := cloudinit.WriteSeed(seed, map[string][]byte{"user-data": userData, "meta-data": metaData}); err != nil {
		return halt(state, fmt.Errorf("writing the cloud-init seed: %w", err))
	}
	s.comm.SSHPrivateKey = privatePEM
	putSeed(state, seed)
	getUI(state).Sayf("cloud-init seed: build user %s with a new ed25519 key, instance %s", s.comm.SSHUsername, instanceID)
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
