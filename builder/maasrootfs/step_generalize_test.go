package maasrootfs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/packer-plugin-sdk/multistep"
	packersdk "github.com/hashicorp/packer-plugin-sdk/packer"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/c34478be/packer-plugin-maas/internal/test/fakecomm"
	"github.com/c34478be/packer-plugin-maas/internal/test/testtool"
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
			for _, w := range tc.want {
				assert.Contains(t, string(script), w)
			}
			for _, w := range tc.notWant {
				assert.NotContains(t, string(script), w)
			}
			assert.True(t, strings.HasSuffix(string(script), "say \"generalized\"\nshutdown -P now\n"), "power-off must come last, after the marker")
			t.Run("dash and shellcheck", func(t *testing.T) {
				testtool.Require(t, "dash", "shellcheck")
				out, err := exec.Command("dash", "-n", "-c", string(script)).CombinedOutput()
				require.NoError(t, err, "dash -n: %s\n%s", out, script)
				check := exec.Command("shellcheck", "--shell=sh", "-")
				check.Stdin = bytes.NewReader(script)
				out, err = check.CombinedOutput()
				require.NoError(t, err, "shellcheck:\n%s\n%s", out, script)
			})
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

// TestGeneralizeUserdelOutput runs the script's userdel part with dash
// against a stand-in userdel (the real one would edit this machine's
// users): the warning about the build user's own SSH session is dropped,
// every other message shows, and a failure stops the script with
// userdel's exit status and all its output.
func TestGeneralizeUserdelOutput(t *testing.T) {
	testtool.Require(t, "dash")
	var fragment strings.Builder
	require.NoError(t, generalizeTemplate.ExecuteTemplate(&fragment, "userdel", "builder"))
	busy := "userdel: user builder is currently used by process 1234"
	other := "userdel: group builder not removed because it has other members."
	for _, tc := range []struct {
		name     string
		printed  string // by userdel, on stderr
		exitCode int
		wantOut  string
		wantExit int
	}{
		{"silent", "", 0, "after\n", 0},
		{"own session", busy, 0, "after\n", 0},
		{"another message", busy + "\n" + other, 0, other + "\nafter\n", 0},
		{"another user's process", "userdel: user builder2 is currently used by process 1", 0, "userdel: user builder2 is currently used by process 1\nafter\n", 0},
		{"failure", busy + "\nuserdel: cannot open /etc/passwd", 10, busy + "\nuserdel: cannot open /etc/passwd\n", 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bin := t.TempDir()
			calls := filepath.Join(bin, "calls")
			message := filepath.Join(bin, "message")
			require.NoError(t, os.WriteFile(message, []byte(tc.printed), 0o644))
			stub := fmt.Sprintf("#!/bin/sh\necho \"LC_ALL=$LC_ALL $*\" >> %s\ncat %s >&2\nexit %d\n", calls, message, tc.exitCode)
			require.NoError(t, os.WriteFile(filepath.Join(bin, "userdel"), []byte(stub), 0o755))
			cmd := exec.Command("dash", "-c", "set -eu\n"+fragment.String()+"\necho after\n")
			cmd.Env = append(os.Environ(), "PATH="+bin+":"+os.Getenv("PATH"))
			out, err := cmd.CombinedOutput()
			exit := 0
			var exitErr *exec.ExitError
			if errors.As(err, &exitErr) {
				exit = exitErr.ExitCode()
			} else {
				require.NoError(t, err, "dash (Debian package dash)")
			}
			assert.Equal(t, tc.wantExit, exit)
			assert.Equal(t, tc.wantOut, string(out))
			called, err := os.ReadFile(calls)
			require.NoError(t, err)
			assert.Equal(t, "LC_ALL=C -f builder\n", string(called), "userdel runs once, untranslated, forced")
		})
	}
}

// TestGeneralizeProxyRemoval runs the script's proxy part with dash on
// stand-ins for /etc/environment and apt's proxy file: the lines the build
// added go, the image's own stay (a proxy of its own included), in order.
func TestGeneralizeProxyRemoval(t *testing.T) {
	testtool.Require(t, "dash")
	c := preparedConfig(t, map[string]interface{}{"http_proxy": "http://p:3128", "no_proxy": "localhost"})
	dir := t.TempDir()
	environ, apt := filepath.Join(dir, "environment"), filepath.Join(dir, "90packer-maas-proxy")
	var fragment strings.Builder
	require.NoError(t, generalizeTemplate.ExecuteTemplate(&fragment, "proxies", map[string]any{
		"ProxyLines": c.proxyEnvironment(), "EnvironFile": environ, "AptProxyFile": apt,
	}))
	run := func(environment string) string {
		t.Helper()
		require.NoError(t, os.WriteFile(environ, []byte(environment), 0o644))
		require.NoError(t, os.WriteFile(apt, []byte("Acquire::http::Proxy \"http://p:3128\";\n"), 0o644))
		out, err := exec.Command("dash", "-c", "set -eu\n"+fragment.String()).CombinedOutput()
		require.NoError(t, err, "dash (Debian package dash): %s\n%s", out, fragment.String())
		_, err = os.Stat(apt)
		assert.True(t, os.IsNotExist(err), "apt's proxy file must be removed")
		got, err := os.ReadFile(environ)
		require.NoError(t, err)
		return string(got)
	}

	own := "PATH=\"/usr/local/bin:/usr/bin\"\nHTTP_PROXY=http://site-proxy:8080\n"
	added := "http_proxy=http://p:3128\nHTTP_PROXY=http://p:3128\nno_proxy=localhost\nNO_PROXY=localhost\n"
	assert.Equal(t, own, run(own+added))
	assert.Equal(t, "A=1\nB=2\n", run("A=1\nhttp_proxy=http://p:3128\nB=2\n"), "lines around the proxies stay in order")
	assert.Empty(t, run(added), "only the build's lines: nothing is left")
	assert.Equal(t, own, run(own), "nothing to remove")
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

// TestGeneralizeTraces runs the script's "traces" part with dash on a fake
// root holding what RHEL, SUSE, Debian and Ubuntu builds leave behind,
// with stand-ins for systemctl and journalctl: the same files go or are
// emptied as in the tarball (internal/tarball's rules), keeping their mode,
// and each skip_generalize name keeps its own.
func TestGeneralizeTraces(t *testing.T) {
	testtool.Require(t, "dash")
	gone := map[string][]string{
		"network-config": {"etc/netplan/50-cloud-init.yaml", "etc/network/interfaces.d/50-cloud-init",
			"etc/NetworkManager/system-connections/cloud-init-eth0.nmconnection",
			"etc/sysconfig/network-scripts/ifcfg-eth0", "etc/sysconfig/network/ifcfg-eth0"},
		"random-seed":   {"var/lib/systemd/random-seed"},
		"journal":       {"var/log/journal/0123456789abcdef0123456789abcdef/system.journal"},
		"login-records": {"var/log/wtmp.1", "var/log/auth.log.1", "var/log/secure-20261201", "var/lib/wtmpdb/wtmp.db"},
	}
	emptied := map[string][]string{
		"hostname":      {"etc/hostname"},
		"login-records": {"var/log/wtmp", "var/log/btmp", "var/log/lastlog", "var/log/auth.log", "var/log/secure"},
	}
	kept := []string{"etc/sysconfig/network-scripts/ifcfg-lo", "etc/sysconfig/network/ifcfg-lo", "etc/netplan/90-site.yaml",
		"etc/NetworkManager/system-connections/site.nmconnection", "var/log/syslog"}
	var all []string
	for _, list := range []map[string][]string{gone, emptied} {
		for _, paths := range list {
			all = append(all, paths...)
		}
	}
	all = append(all, kept...)

	for _, skip := range []string{"", "network-config", "hostname", "random-seed", "journal", "login-records"} {
		t.Run("skip "+skip, func(t *testing.T) {
			root := t.TempDir()
			for _, p := range all {
				require.NoError(t, os.MkdirAll(filepath.Dir(filepath.Join(root, p)), 0o755))
				require.NoError(t, os.WriteFile(filepath.Join(root, p), []byte("from the build\n"), 0o640))
			}
			bin := t.TempDir()
			calls := filepath.Join(bin, "calls")
			for _, tool := range []string{"systemctl", "journalctl"} {
				stub := fmt.Sprintf("#!/bin/sh\necho \"%s $*\" >> %s\n", tool, calls)
				require.NoError(t, os.WriteFile(filepath.Join(bin, tool), []byte(stub), 0o755))
			}
			set := map[string]interface{}{}
			if skip != "" {
				set["skip_generalize"] = []string{skip}
			}
			var fragment strings.Builder
			require.NoError(t, generalizeTemplate.ExecuteTemplate(&fragment, "traces", preparedConfig(t, set).traceSettings(root)))
			cmd := exec.Command("dash", "-c", "set -eu\nsay() { :; }\n"+fragment.String())
			cmd.Env = append(os.Environ(), "PATH="+bin+":"+os.Getenv("PATH"))
			out, err := cmd.CombinedOutput()
			require.NoError(t, err, "dash (Debian package dash): %s\n%s", out, fragment.String())

			for rule, paths := range gone {
				for _, p := range paths {
					_, err := os.Lstat(filepath.Join(root, p))
					assert.Equal(t, rule != skip, os.IsNotExist(err), "%s: /%s", rule, p)
				}
			}
			for rule, paths := range emptied {
				for _, p := range paths {
					info, err := os.Stat(filepath.Join(root, p))
					require.NoError(t, err, "%s: /%s must stay", rule, p)
					assert.Equal(t, rule == skip, info.Size() > 0, "%s: /%s", rule, p)
					assert.Equal(t, os.FileMode(0o640), info.Mode(), "/%s keeps its mode", p)
				}
			}
			for _, p := range kept {
				assert.FileExists(t, filepath.Join(root, p))
			}
			_, err = os.Stat(filepath.Join(root, "var/log/journal"))
			assert.NoError(t, err, "the journal directory stays, for a persistent journal")
			called, _ := os.ReadFile(filepath.Join(calls))
			if skip != "random-seed" {
				assert.Contains(t, string(called), "systemctl stop systemd-random-seed.service\n", "the seed must be saved before it is removed, not at power-off")
			}
			if skip != "journal" {
				assert.Contains(t, string(called), "journalctl --relinquish-var\n")
			}
		})
	}
}
