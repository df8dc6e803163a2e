package maasrootfs

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"text/template"

	"github.com/hashicorp/packer-plugin-sdk/multistep"

	"github.com/c34478be/packer-plugin-maas/internal/exportcfg"
	"github.com/c34478be/packer-plugin-maas/internal/guestcmd"
	"github.com/c34478be/packer-plugin-maas/internal/lines"
)

// generalizedMarker is the line the script prints once the image is
// generalized, just before it asks the guest to power off: the SSH session
// may end without an exit status after that, which is then no failure.
const generalizedMarker = "packer-maas: generalized"

// stepGeneralize makes the image fit to deploy on many machines: it runs
// as root in the guest, removes what belongs to this build (its user, key,
// sudoers entry, proxies, network config, cloud-init state, host keys,
// machine-id) and ends by powering the guest off, since after the build
// user is gone nothing can log in to do so.
//
// Uses the communicator (getComm); produces the request that the guest
// powers off (getShutdownAsked) once the script has run.
type stepGeneralize struct {
	script []byte // the root shell script, from generalizeScript
}

func (s *stepGeneralize) Run(ctx context.Context, state multistep.StateBag) multistep.StepAction {
	ui := getUI(state)
	ui.Say("Generalizing the image and powering the guest off...")
	code, out, err := guestcmd.RunWithUi(ctx, getComm(state), ui, "sudo -n sh -s", bytes.NewReader(s.script))
	generalized := strings.Contains(out, generalizedMarker)
	switch {
	case generalized:
		putShutdownAsked(state)
	case err != nil:
		return halt(state, fmt.Errorf("generalizing the image: %w", err))
	default:
		return halt(state, fmt.Errorf("generalizing the image failed (exit %d): %s", code, lines.Last(out, 1)))
	}
	return multistep.ActionContinue
}

// Cleanup has nothing to do.
func (s *stepGeneralize) Cleanup(multistep.StateBag) {}

// generalizeScript is the root shell script for this build's settings.
func (c *Config) generalizeScript() ([]byte, error) {
	var b strings.Builder
	err := generalizeTemplate.Execute(&b, map[string]any{
		"User":           c.Comm.SSHUsername,
		"ProxyLines":     c.proxyEnvironment(),
		"AptProxyFile":   aptProxyFile,
		"EnvironFile":    environFile,
		"CloudInitLogs":  !c.Skips(exportcfg.RuleCloudInitLogs),
		"CloudInitState": !c.Skips(exportcfg.RuleCloudInitState),
		"HostKeys":       !c.Skips(exportcfg.RuleSSHHostKeys),
		"MachineID":      !c.Skips(exportcfg.RuleMachineID),
		"AptClean":       !c.Skips(ruleAptClean),
		"Traces":         c.traceSettings(""),
		"RemoveKernel":   c.RemoveKernel,
		"Marker":         generalizedMarker,
	})
	return []byte(b.String()), err
}

// traceSettings are the "traces" part's switches, with the image's root
// directory: "" in the guest.
func (c *Config) traceSettings(root string) map[string]any {
	return map[string]any{
		"Root":          root,
		"NetworkConfig": !c.Skips(exportcfg.RuleNetworkConfig),
		"Hostname":      !c.Skips(exportcfg.RuleHostname),
		"RandomSeed":    !c.Skips(exportcfg.RuleRandomSeed),
		"Journal":       !c.Skips(exportcfg.RuleJournal),
		"LoginRecords":  !c.Skips(exportcfg.RuleLoginRecords),
	}
}

// The user name is validated (letters, digits, _ and -) and the proxy lines
// go through a quoted here-document, so nothing here needs shell quoting.
var generalizeTemplate = template.Must(template.New("generalize").Parse(`set -eu
say() { echo "packer-maas: $*"; }
{{- if .RemoveKernel}}
say "removing the image's kernel packages"
command -v dpkg-query >/dev/null || { echo "remove_kernel needs a dpkg-based image" >&2; exit 1; }
kernels=$(dpkg-query -W -f '${Package} ${db:Status-Status}\n' 'linux-image-*' 'linux-modules-*' 'linux-headers-*' 'linux-virtual' 'linux-generic*' 'linux-kvm' 'linux-cloud-tools-*' 'linux-tools-*' 2>/dev/null | awk '$2 == "installed" {print $1}')
if [ -n "$kernels" ]; then
	# shellcheck disable=SC2086 # one word per package
	DEBIAN_FRONTEND=noninteractive apt-get -y -q purge $kernels
fi
{{- end}}
{{- if .CloudInitState}}
say "cloud-init clean{{if .CloudInitLogs}} --logs{{end}}"
cloud-init clean{{if .CloudInitLogs}} --logs{{end}}
rm -rf /var/lib/cloud/instance /var/lib/cloud/instances
{{- else if .CloudInitLogs}}
rm -f /var/log/cloud-init.log /var/log/cloud-init-output.log
{{- end}}
say "removing the build user {{.User}}"
home=$(getent passwd {{.User}} | cut -d: -f6)
{{template "userdel" .User}}
case "$home" in /home/?*) rm -rf "$home" ;; esac
rm -f /var/mail/{{.User}} /var/spool/mail/{{.User}}
for f in /etc/sudoers.d/*; do
	[ -f "$f" ] || continue
	if grep -q '^{{.User}}[[:space:]]' "$f"; then
		sed -i -e '/^{{.User}}[[:space:]]/d' -e '/^# User rules for {{.User}}$/d' "$f"
		grep -q '^[^#[:space:]]' "$f" || rm -f "$f"
	fi
done
{{- if .ProxyLines}}
say "removing the build's proxy settings"
{{template "proxies" .}}
{{- end}}
{{- template "traces" .Traces}}
{{- if .AptClean}}
if command -v apt-get >/dev/null; then
	say "apt-get clean"
	apt-get clean
fi
{{- end}}
{{- if .HostKeys}}
say "removing SSH host keys"
rm -f /etc/ssh/ssh_host_*
{{- end}}
{{- if .MachineID}}
say "emptying machine-id"
: > /etc/machine-id
[ -L /var/lib/dbus/machine-id ] || rm -f /var/lib/dbus/machine-id
{{- end}}
sync
say "generalized"
shutdown -P now
{{- define "traces"}}
{{- /* What the tar rules of the same names leave out or empty, done in the
guest too for the ddgz and qcow2 outputs. */ -}}
{{- if .NetworkConfig}}
say "removing the build VM's network configuration"
rm -f {{.Root}}/etc/netplan/50-cloud-init.yaml {{.Root}}/etc/network/interfaces.d/50-cloud-init {{.Root}}/etc/network/interfaces.d/50-cloud-init.cfg
rm -f {{.Root}}/etc/NetworkManager/system-connections/cloud-init-*.nmconnection
for f in {{.Root}}/etc/sysconfig/network-scripts/ifcfg-* {{.Root}}/etc/sysconfig/network/ifcfg-*; do
	[ "${f##*/}" = ifcfg-lo ] || rm -f "$f"
done
{{- end}}
{{- if .Hostname}}
say "emptying /etc/hostname"
if [ -f {{.Root}}/etc/hostname ]; then : > {{.Root}}/etc/hostname; fi
{{- end}}
{{- if .RandomSeed}}
say "removing the random seed"
{{- /* Stopping the service saves the seed now rather than at power-off,
after its removal. */}}
systemctl stop systemd-random-seed.service 2>/dev/null || :
rm -f {{.Root}}/var/lib/systemd/random-seed
{{- end}}
{{- if .Journal}}
say "removing the build's journal"
{{- /* journald writes to /run from here to power-off. */}}
journalctl --relinquish-var 2>/dev/null || :
rm -rf {{.Root}}/var/log/journal/*
{{- end}}
{{- if .LoginRecords}}
say "emptying the login records"
{{- /* Stopping it writes the shutdown record now, before the emptying. */}}
systemctl stop systemd-update-utmp.service 2>/dev/null || :
for f in /var/log/wtmp /var/log/btmp /var/log/lastlog /var/log/auth.log /var/log/secure; do
	if [ -f "{{.Root}}$f" ]; then : > "{{.Root}}$f"; fi
done
rm -f {{.Root}}/var/log/wtmp.* {{.Root}}/var/log/btmp.* {{.Root}}/var/log/auth.log.* {{.Root}}/var/log/secure-* {{.Root}}/var/log/secure.* {{.Root}}/var/lib/wtmpdb/wtmp.db {{.Root}}/var/lib/lastlog/lastlog2.db
{{- end}}
{{- end}}
{{- define "proxies" -}}
rm -f {{.AptProxyFile}}
if [ -f {{.EnvironFile}} ]; then
	grep -vxF -f - {{.EnvironFile}} > {{.EnvironFile}}.packer-maas <<'PROXY_LINES' || [ $? -eq 1 ]
{{- range .ProxyLines}}
{{.}}
{{- end}}
PROXY_LINES
	cat {{.EnvironFile}}.packer-maas > {{.EnvironFile}}
	rm -f {{.EnvironFile}}.packer-maas
fi
{{- end}}
{{- define "userdel"}}
{{- /* userdel -f warns that the user is "currently used by process N":
that is this script's own SSH session, which ends at power-off. Other
messages are shown; a failure shows everything and stops the script. */ -}}
out=$(LC_ALL=C userdel -f {{.}} 2>&1) || { rc=$?; printf '%s\n' "$out" >&2; exit $rc; }
[ -z "$out" ] || printf '%s\n' "$out" | grep -vx 'userdel: user {{.}} is currently used by process [0-9]*' || :
{{- end}}
`))
