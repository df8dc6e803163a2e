package generalize

import (
	"bytes"
	"fmt"
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/c34478be/packer-plugin-maas/internal/test/testtool"
)

const proxyFile = "/etc/apt/apt.conf.d/90packer-maas-proxy"

var proxyLines = []string{"http_proxy=http://p:3128", "HTTP_PROXY=http://p:3128", "no_proxy=localhost", "NO_PROXY=localhost"}

// family is a fake root laid out like one family's cloud image after a
// build, with the package manager commands it has.
type family struct {
	name      string
	id        string // os-release's ID
	osRelease string
	commands  []string
	files     map[string]string // the family's own, besides buildFiles
	cacheGone []string          // the package cache's files, emptied by the script
	cacheCall []string          // the package manager's calls
}

var families = []family{
	{"debian", "debian", "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nID=debian\nVERSION_ID=\"12\"\n",
		[]string{"apt-get", "dpkg-query"}, map[string]string{"var/mail/builder": "mail\n", "etc/apt/sources.list": "deb http://deb.debian.org/debian bookworm main\n"},
		nil, []string{"apt-get clean"}},
	{"rocky", "rocky", "NAME=\"Rocky Linux\"\nID=\"rocky\"\nID_LIKE=\"rhel centos fedora\"\nVERSION_ID=\"9.5\"\n",
		[]string{"dnf"}, map[string]string{
			"var/spool/mail/builder":  "mail\n",
			"var/lib/dbus/machine-id": "-> /etc/machine-id",
			"etc/NetworkManager/system-connections/cloud-init-eth0.nmconnection": "[connection]\n",
			"etc/sysconfig/network-scripts/ifcfg-eth0":                           "DEVICE=eth0\n",
			"var/cache/dnf/baseos-0123/repodata/repomd.xml":                      "<repomd/>\n",
		},
		[]string{"var/cache/dnf/baseos-0123"}, []string{"dnf -q clean all"}},
	{"opensuse", "opensuse-leap", "NAME=\"openSUSE Leap\"\nID=\"opensuse-leap\"\nID_LIKE=\"suse opensuse\"\nVERSION_ID=\"15.6\"\n",
		[]string{"zypper"}, map[string]string{
			"var/spool/mail/builder":            "mail\n",
			"etc/sysconfig/network/ifcfg-eth0":  "BOOTPROTO=dhcp\n",
			"var/cache/zypp/solv/repo-oss/solv": "solv\n",
			"var/cache/zypp/packages/x.rpm":     "rpm\n",
		},
		[]string{"var/cache/zypp/solv", "var/cache/zypp/packages"}, []string{"zypper --non-interactive --quiet clean --all"}},
}

// buildFiles are what every build leaves in the image, whatever the
// family: each rule's files and some that must stay.
var buildFiles = map[string]string{
	"etc/machine-id":                                                  "0123456789abcdef0123456789abcdef\n",
	"var/lib/dbus/machine-id":                                         "0123456789abcdef0123456789abcdef\n",
	"etc/ssh/ssh_host_ed25519_key":                                    "key\n",
	"etc/ssh/ssh_host_ed25519_key.pub":                                "key\n",
	"etc/ssh/sshd_config":                                             "PermitRootLogin no\n",
	"var/lib/cloud/instances/iid-1/obj.pkl":                           "state\n",
	"var/lib/cloud/data/upgraded-network":                             "",
	"var/log/cloud-init.log":                                          "log\n",
	"var/log/cloud-init-output.log":                                   "log\n",
	"home/builder/.ssh/authorized_keys":                               "ssh-ed25519 AAAA\n",
	"home/builder/.bash_history":                                      "sudo -i\n",
	"home/admin/.profile":                                             "# the image's own user\n",
	"etc/sudoers.d/90-cloud-init-users":                               "# Created by cloud-init v. 24.1\n\n# User rules for builder\nbuilder ALL=(ALL) NOPASSWD:ALL\n",
	"etc/sudoers.d/50-site":                                           "# User rules for builder\nbuilder ALL=(ALL) NOPASSWD:ALL\nops ALL=(ALL) ALL\n",
	"etc/sudoers.d/10-builder2":                                       "builder2 ALL=(ALL) ALL\n",
	"etc/environment":                                                 "PATH=\"/usr/local/bin:/usr/bin\"\n" + strings.Join(proxyLines, "\n") + "\n",
	strings.TrimPrefix(proxyFile, "/"):                                "Acquire::http::Proxy \"http://p:3128\";\n",
	"etc/netplan/50-cloud-init.yaml":                                  "network: {}\n",
	"etc/netplan/90-site.yaml":                                        "network: {}\n",
	"etc/network/interfaces.d/50-cloud-init":                          "auto eth0\n",
	"etc/sysconfig/network-scripts/ifcfg-lo":                          "DEVICE=lo\n",
	"etc/sysconfig/network/ifcfg-lo":                                  "STARTMODE=auto\n",
	"etc/NetworkManager/system-connections/site.nmconnection":         "[connection]\n",
	"etc/hostname":                                                    "build-vm\n",
	"var/lib/systemd/random-seed":                                     "seed",
	"var/log/journal/0123456789abcdef0123456789abcdef/system.journal": "journal",
	"var/log/wtmp":                                                    "records",
	"var/log/wtmp.1":                                                  "records",
	"var/log/btmp":                                                    "records",
	"var/log/lastlog":                                                 "records",
	"var/log/auth.log":                                                "records",
	"var/log/auth.log.1":                                              "records",
	"var/log/secure":                                                  "records",
	"var/log/secure-20261201":                                         "records",
	"var/lib/wtmpdb/wtmp.db":                                          "records",
	"var/log/syslog":                                                  "kept",
}

// ruleEffects are, for each rule, the paths it removes and empties and
// the stand-in calls it makes.
var ruleEffects = map[string]struct{ gone, emptied, calls []string }{
	"machine-id":       {gone: []string{"var/lib/dbus/machine-id"}, emptied: []string{"etc/machine-id"}},
	"cloud-init-state": {gone: []string{"var/lib/cloud/instances"}},
	"cloud-init-logs":  {gone: []string{"var/log/cloud-init.log", "var/log/cloud-init-output.log"}},
	"ssh-host-keys":    {gone: []string{"etc/ssh/ssh_host_ed25519_key", "etc/ssh/ssh_host_ed25519_key.pub"}},
	"hostname":         {emptied: []string{"etc/hostname"}},
	"login-records": {gone: []string{"var/log/wtmp.1", "var/log/auth.log.1", "var/log/secure-20261201", "var/lib/wtmpdb/wtmp.db"},
		emptied: []string{"var/log/wtmp", "var/log/btmp", "var/log/lastlog", "var/log/auth.log", "var/log/secure"},
		calls:   []string{"systemctl stop systemd-update-utmp.service"}},
	"journal":     {gone: []string{"var/log/journal/0123456789abcdef0123456789abcdef"}, calls: []string{"journalctl --relinquish-var"}},
	"random-seed": {gone: []string{"var/lib/systemd/random-seed"}, calls: []string{"systemctl stop systemd-random-seed.service"}},
	"network-config": {gone: []string{"etc/netplan/50-cloud-init.yaml", "etc/network/interfaces.d/50-cloud-init",
		"etc/NetworkManager/system-connections/cloud-init-eth0.nmconnection",
		"etc/sysconfig/network-scripts/ifcfg-eth0", "etc/sysconfig/network/ifcfg-eth0"}},
}

// alwaysGone are what the build user and proxies leave, which no rule
// keeps.
var alwaysGone = []string{"home/builder", "var/mail/builder", "var/spool/mail/builder", "etc/sudoers.d/90-cloud-init-users", proxyFile[1:]}

var kept = []string{"etc/ssh/sshd_config", "home/admin/.profile", "etc/sudoers.d/10-builder2", "etc/netplan/90-site.yaml",
	"etc/sysconfig/network-scripts/ifcfg-lo", "etc/sysconfig/network/ifcfg-lo", "var/lib/cloud/data/upgraded-network",
	"etc/NetworkManager/system-connections/site.nmconnection", "var/log/syslog", "var/log/journal"}

// allFiles are the files of f's fake root.
func (f family) allFiles() map[string]string {
	files := map[string]string{"etc/os-release": f.osRelease}
	for p, c := range buildFiles {
		files[p] = c
	}
	for p, c := range f.files {
		files[p] = c
	}
	return files
}

func (f family) guest(t *testing.T) *guest { return newGuest(t, f.allFiles(), f.commands...) }

// has reports whether f's fake root holds p, a file or a directory.
func (f family) has(p string) bool {
	for file := range f.allFiles() {
		if file == p || strings.HasPrefix(file, p+"/") {
			return true
		}
	}
	return false
}

func settings(g *guest, skip ...string) Settings {
	return Settings{User: "builder", Skip: skip, ProxyLines: proxyLines, ProxyFile: proxyFile, Root: g.root}
}

func script(t *testing.T, s Settings) string {
	t.Helper()
	data, err := Script(s)
	require.NoError(t, err)
	return string(data)
}

// TestScriptGeneralizesEachFamily runs the whole script under dash and
// bash on a Debian, a Rocky Linux and an openSUSE root, skipping nothing
// and then each rule in turn (on Debian; the others skip the rules that
// differ by family): each rule's files go or are emptied (keeping
// their mode) unless skipped, the build user's and proxies' always go, the
// image's own stay, and the guest's commands run in order, power-off last.
func TestScriptGeneralizesEachFamily(t *testing.T) {
	rules := []string{""}
	for rule := range ruleEffects {
		rules = append(rules, rule)
	}
	rules = append(rules, RulePackageCache)
	for _, f := range families {
		if f.name != "debian" {
			// The rules that differ by family: the others' run on Debian.
			rules = []string{"", "network-config", RulePackageCache}
		}
		for _, shell := range shells {
			for _, skip := range rules {
				t.Run(f.name+"/"+shell+"/skip "+skip, func(t *testing.T) {
					g := f.guest(t)
					s := settings(g)
					if skip != "" {
						s.Skip = []string{skip}
					}
					out, code := g.run(t, shell, script(t, s))
					require.Equal(t, 0, code, out)
					assert.True(t, strings.HasSuffix(out, Marker+"\n"), "the marker comes last: %s", out)
					assert.Contains(t, out, "packer-maas: image family: "+map[string]string{"rocky": "rhel", "opensuse": "suse"}[f.name]+map[bool]string{true: "debian"}[f.name == "debian"])
					checkEffects(t, g, f, skip)
					assert.Equal(t, wantCalls(f, skip), g.called(t))
				})
			}
		}
	}
}

func checkEffects(t *testing.T, g *guest, f family, skip string) {
	t.Helper()
	for rule, effects := range ruleEffects {
		for _, p := range effects.gone {
			if !f.has(p) || strings.HasPrefix(f.allFiles()[p], "-> ") {
				continue // not in this family's root, or a symlink that stays
			}
			there, _ := g.exists(p)
			assert.Equal(t, rule == skip, there, "%s: /%s", rule, p)
		}
		for _, p := range effects.emptied {
			there, size := g.exists(p)
			require.True(t, there, "%s: /%s must stay", rule, p)
			assert.Equal(t, rule == skip, size > 0, "%s: /%s", rule, p)
			assert.Equal(t, "-rw-r-----", g.mode(t, p), "/%s keeps its mode", p)
		}
	}
	if skip == "cloud-init-state" {
		there, _ := g.exists("var/log/cloud-init.log")
		assert.False(t, there, "the logs go without cloud-init clean")
	}
	for _, p := range alwaysGone {
		there, _ := g.exists(p)
		assert.False(t, there, "/%s", p)
	}
	for _, p := range f.cacheGone {
		there, _ := g.exists(p)
		assert.Equal(t, skip == RulePackageCache, there, "package cache /%s", p)
	}
	for _, p := range kept {
		there, _ := g.exists(p)
		assert.True(t, there, "/%s must stay", p)
	}
	if strings.HasPrefix(f.allFiles()["var/lib/dbus/machine-id"], "-> ") {
		there, _ := g.exists("var/lib/dbus/machine-id")
		assert.True(t, there, "a symlink /var/lib/dbus/machine-id to /etc/machine-id stays")
	}
	assert.Equal(t, "ops ALL=(ALL) ALL\n", g.read(t, "etc/sudoers.d/50-site"), "only the build user's lines go")
	assert.Equal(t, "PATH=\"/usr/local/bin:/usr/bin\"\n", g.read(t, "etc/environment"), "the proxies go, the image's lines stay")
	there, _ := g.exists("etc/apt")
	assert.Equal(t, f.name == "debian", there, "apt's directories go where only the proxy file was in them")
}

// wantCalls are the stand-in calls for family f with rule skip skipped.
func wantCalls(f family, skip string) []string {
	var calls []string
	switch skip {
	case "cloud-init-state":
	case "cloud-init-logs":
		calls = append(calls, "cloud-init clean")
	default:
		calls = append(calls, "cloud-init clean --logs")
	}
	calls = append(calls, "getent passwd builder", "LC_ALL=C userdel -f builder")
	for _, rule := range []string{"random-seed", "journal", "login-records"} {
		if rule != skip {
			calls = append(calls, ruleEffects[rule].calls...)
		}
	}
	if skip != RulePackageCache {
		calls = append(calls, f.cacheCall...)
	}
	return append(calls, "sync ", "shutdown -P now")
}

// TestScriptRemovesDebianKernels checks remove_kernel on a Debian root:
// the installed kernel packages are purged, first, non-interactively.
func TestScriptRemovesDebianKernels(t *testing.T) {
	for _, shell := range shells {
		t.Run(shell, func(t *testing.T) {
			g := families[0].guest(t)
			s := settings(g)
			s.RemoveKernel = true
			out, code := g.run(t, shell, script(t, s))
			require.Equal(t, 0, code, out)
			calls := g.called(t)
			require.GreaterOrEqual(t, len(calls), 2)
			assert.Regexp(t, `^dpkg-query -W -f \$\{Package\} \$\{db:Status-Status\}\\n linux-image-\* `, calls[0])
			assert.Equal(t, "DEBIAN_FRONTEND=noninteractive apt-get -y -q purge linux-image-6.1.0-28-cloud-amd64 linux-image-cloud-amd64", calls[1],
				"installed packages only, before anything else")
			assert.Contains(t, out, "packer-maas: removing the image's kernel packages\n")
		})
	}
}

// TestScriptRefusesToRemoveOtherKernels checks remove_kernel on the
// families MAAS installs no kernel into, and on an image of no family
// known here: the script stops with a message naming remove_kernel and
// why, having run nothing and changed nothing.
func TestScriptRefusesToRemoveOtherKernels(t *testing.T) {
	said := map[string]string{"rocky": "a RHEL-family image", "opensuse": "a SUSE image", "arch": "of no family known here"}
	for _, f := range []family{families[1], families[2], unknownFamily} {
		for _, shell := range shells {
			t.Run(f.name+"/"+shell, func(t *testing.T) {
				g := f.guest(t)
				before := g.tree(t)
				s := settings(g)
				s.RemoveKernel = true
				out, code := g.run(t, shell, script(t, s))
				assert.Equal(t, 1, code, out)
				lines := strings.Split(strings.TrimSpace(out), "\n")
				last := lines[len(lines)-1]
				assert.Contains(t, last, "remove_kernel is for Debian-family images (Debian, Ubuntu) only")
				assert.Contains(t, last, "this one is "+said[f.name]+" (ID="+f.id+")")
				assert.Contains(t, last, "cannot boot without the kernel it holds; remove remove_kernel")
				assert.Equal(t, []string{""}, g.called(t), "nothing may run")
				assert.Equal(t, before, g.tree(t), "nothing may change")
				assert.NotContains(t, out, Marker)
			})
		}
	}
}

// unknownFamily is an image of a family the script has no rules for.
var unknownFamily = family{name: "arch", id: "arch", osRelease: "NAME=\"Arch Linux\"\nID=arch\n"}

// TestCheckScript runs the check before the provisioners under dash and
// bash: with remove_kernel it passes on a Debian image with dpkg-query,
// and fails on one without and on the other families, with the message
// generalize would give; without remove_kernel it passes everywhere. It
// says the family, runs no command and changes nothing.
func TestCheckScript(t *testing.T) {
	noDpkg := families[0]
	noDpkg.name, noDpkg.commands = "debian without dpkg-query", []string{"apt-get"}
	for _, tc := range []struct {
		f      family
		family string
		fails  string // with remove_kernel
	}{
		{families[0], "debian", ""},
		{noDpkg, "debian", "remove_kernel needs dpkg-query, which this Debian-family image (ID=debian) lacks; remove remove_kernel"},
		{families[1], "rhel", "this one is a RHEL-family image (ID=rocky)"},
		{families[2], "suse", "this one is a SUSE image (ID=opensuse-leap)"},
		{unknownFamily, "unknown", "this one is of no family known here (ID=arch)"},
	} {
		for _, removeKernel := range []bool{true, false} {
			for _, shell := range shells {
				t.Run(fmt.Sprintf("%s/remove_kernel=%v/%s", tc.f.name, removeKernel, shell), func(t *testing.T) {
					g := tc.f.guest(t)
					before := g.tree(t)
					s := settings(g)
					s.RemoveKernel = removeKernel
					check, err := CheckScript(s)
					require.NoError(t, err)
					out, code := g.run(t, shell, string(check))
					assert.True(t, strings.HasPrefix(out, "packer-maas: image family: "+tc.family+" (ID="+tc.f.id+")\n"), out)
					if removeKernel && tc.fails != "" {
						assert.Equal(t, 1, code, out)
						assert.Contains(t, out, tc.fails)
					} else {
						assert.Equal(t, 0, code, out)
					}
					assert.Equal(t, []string{""}, g.called(t), "nothing may run")
					assert.Equal(t, before, g.tree(t), "nothing may change")
				})
			}
		}
	}
}

// TestImageFamily checks which family's rules an image gets: from
// os-release's ID, then ID_LIKE, then the package manager present.
func TestImageFamily(t *testing.T) {
	for _, tc := range []struct {
		name, osRelease string
		usrLib          bool     // os-release only in /usr/lib
		commands        []string // package managers present
		want            string
	}{
		{"ubuntu", "ID=ubuntu\nID_LIKE=debian\n", false, nil, "debian"},
		{"debian", "ID=debian\n", false, nil, "debian"},
		{"mint", "ID=linuxmint\nID_LIKE=\"ubuntu debian\"\n", false, nil, "debian"},
		{"rhel", "ID=\"rhel\"\nID_LIKE=\"fedora\"\n", false, nil, "rhel"},
		{"centos stream", "ID=\"centos\"\nID_LIKE=\"rhel fedora\"\n", false, nil, "rhel"},
		{"almalinux", "ID=\"almalinux\"\nID_LIKE=\"rhel centos fedora\"\n", false, nil, "rhel"},
		{"oracle", "ID=\"ol\"\nID_LIKE=\"fedora\"\n", false, nil, "rhel"},
		{"fedora", "ID=fedora\n", false, nil, "rhel"},
		{"amazon", "ID=\"amzn\"\nID_LIKE=\"centos rhel fedora\"\n", false, nil, "rhel"},
		{"tumbleweed", "ID=\"opensuse-tumbleweed\"\nID_LIKE=\"opensuse suse\"\n", false, nil, "suse"},
		{"sles", "ID=\"sles\"\nID_LIKE=\"suse\"\n", false, nil, "suse"},
		{"sles, no ID_LIKE", "ID=\"sles\"\n", false, nil, "suse"},
		{"single quotes", "ID='rocky'\n", false, nil, "rhel"},
		{"usr lib", "ID=debian\n", true, nil, "debian"},
		{"by ID before package manager", "ID=fedora\n", false, []string{"apt-get"}, "rhel"},
		{"unknown, apt-get", "ID=pureos\n", false, []string{"apt-get"}, "debian"},
		{"no os-release, dnf", "", false, []string{"dnf"}, "rhel"},
		{"no os-release, yum", "", false, []string{"yum"}, "rhel"},
		{"no os-release, zypper", "", false, []string{"zypper"}, "suse"},
		{"arch", "ID=arch\n", false, []string{"pacman"}, ""},
		{"nothing", "", false, nil, ""},
	} {
		for _, shell := range shells {
			t.Run(tc.name+"/"+shell, func(t *testing.T) {
				files := map[string]string{}
				switch {
				case tc.osRelease == "":
				case tc.usrLib:
					files["usr/lib/os-release"] = tc.osRelease
				default:
					files["etc/os-release"] = tc.osRelease
				}
				g := newGuest(t, files, tc.commands...)
				lib, err := library(Settings{User: "builder", Root: g.root})
				require.NoError(t, err)
				out, code := g.run(t, shell, lib+"\nimage_family\n")
				require.Equal(t, 0, code, out)
				assert.Equal(t, tc.want, strings.TrimSpace(out))
			})
		}
	}
}

// TestScriptShape checks what holds whatever the settings: the script and
// the check script are shellcheck-clean as sent, dash and bash parse it, and its last lines are
// the marker and then the power-off.
func TestScriptShape(t *testing.T) {
	testtool.Require(t, "dash", "bash", "shellcheck")
	for _, s := range []Settings{
		{User: "packer-maas"},
		{User: "builder", Skip: []string{"machine-id", RulePackageCache}, RemoveKernel: true, ProxyLines: proxyLines, ProxyFile: proxyFile},
	} {
		text := script(t, s)
		assert.True(t, strings.HasSuffix(text, "say \"generalized\"\n# shellcheck disable=SC2086 # a command and its arguments\n$power_off\n"))
		assert.Contains(t, text, "\npower_off='shutdown -P now'\n")
		for _, shell := range shells {
			out, err := exec.Command(shell, "-n", "-c", text).CombinedOutput()
			require.NoError(t, err, "%s -n: %s", shell, out)
		}
		checkScript, err := CheckScript(s)
		require.NoError(t, err)
		for _, sent := range []string{text, string(checkScript)} {
			check := exec.Command("shellcheck", "--shell=sh", "-")
			check.Stdin = bytes.NewReader([]byte(sent))
			out, err := check.CombinedOutput()
			require.NoError(t, err, "shellcheck:\n%s", out)
		}
	}
}
