package tarball

import "github.com/c34478be/packer-plugin-maas/internal/fstree"

// Generalize selects what is removed from the image while it is packed,
// so that every machine deployed from it starts fresh. The image itself is
// never changed.
type Generalize struct {
	// EmptyMachineID stores /etc/machine-id as an empty file, so systemd
	// makes a new machine ID on first boot, and leaves out a regular file
	// /var/lib/dbus/machine-id (a symlink to /etc/machine-id is kept).
	EmptyMachineID bool
	// RemoveCloudInitState leaves out /var/lib/cloud/instance and what is
	// in /var/lib/cloud/instances, so cloud-init runs again on deploy and
	// takes MAAS's network and user data.
	RemoveCloudInitState bool
	// RemoveCloudInitLogs leaves out /var/log/cloud-init*.log of the
	// build.
	RemoveCloudInitLogs bool
	// RemoveSSHHostKeys leaves out /etc/ssh/ssh_host_*, so each deployed
	// machine makes its own host keys instead of sharing the build's.
	RemoveSSHHostKeys bool
	// EmptyHostname stores /etc/hostname as an empty file: systemd takes
	// an empty file as no static hostname, and cloud-init writes the one
	// MAAS gives on first boot, instead of every machine starting as the
	// build VM.
	EmptyHostname bool
	// EmptyLoginRecords stores /var/log/wtmp, btmp, lastlog, auth.log and
	// secure as empty files (mode and owner kept, so their writers go on
	// as before) and leaves out their rotated copies and the wtmpdb and
	// lastlog2 databases: the build's SSH logins are no deployed machine's.
	EmptyLoginRecords bool
	// RemoveJournal leaves out what is in /var/log/journal (the build's
	// journal, under its machine ID); the directory stays, so journald
	// keeps logging persistently.
	RemoveJournal bool
	// RemoveRandomSeed leaves out /var/lib/systemd/random-seed, which
	// every machine would otherwise share; systemd-random-seed writes a
	// new one on first boot.
	RemoveRandomSeed bool
	// RemoveNetworkConfig leaves out the network configuration cloud-init
	// wrote for the build VM (netplan, ifupdown, NetworkManager
	// cloud-init-*.nmconnection, ifcfg-* but ifcfg-lo on RHEL and SUSE):
	// cloud-init writes MAAS's on deploy, and the build's may match the
	// build VM's MAC address.
	RemoveNetworkConfig bool
}

// DefaultGeneralize turns every switch on.
func DefaultGeneralize() Generalize {
	return Generalize{
		EmptyMachineID:       true,
		RemoveCloudInitState: true,
		RemoveCloudInitLogs:  true,
		RemoveSSHHostKeys:    true,
		EmptyHostname:        true,
		EmptyLoginRecords:    true,
		RemoveJournal:        true,
		RemoveRandomSeed:     true,
		RemoveNetworkConfig:  true,
	}
}

const (
	machineIDPath     = "/etc/machine-id"
	dbusMachineIDPath = "/var/lib/dbus/machine-id"
)

// loginRecords are stored empty by EmptyLoginRecords.
var loginRecords = []string{
	"/var/log/wtmp", "/var/log/btmp", "/var/log/lastlog", "/var/log/auth.log", "/var/log/secure",
}

// ifcfgDirs hold RHEL's (network-scripts) and SUSE's ifcfg files.
var ifcfgDirs = []string{"/etc/sysconfig/network-scripts", "/etc/sysconfig/network"}

// patterns returns the globs of what the switches leave out.
func (g Generalize) patterns() []string {
	var p []string
	if g.RemoveCloudInitState {
		p = append(p, "/var/lib/cloud/instance", "/var/lib/cloud/instances/*")
	}
	if g.RemoveCloudInitLogs {
		p = append(p, "/var/log/cloud-init*.log")
	}
	if g.RemoveSSHHostKeys {
		p = append(p, "/etc/ssh/ssh_host_*")
	}
	if g.EmptyLoginRecords {
		p = append(p, "/var/log/wtmp.*", "/var/log/btmp.*", "/var/log/auth.log.*", "/var/log/secure-*", "/var/log/secure.*",
			"/var/lib/wtmpdb/wtmp.db", "/var/lib/lastlog/lastlog2.db")
	}
	if g.RemoveJournal {
		p = append(p, "/var/log/journal/*")
	}
	if g.RemoveRandomSeed {
		p = append(p, "/var/lib/systemd/random-seed")
	}
	if g.RemoveNetworkConfig {
		p = append(p, "/etc/netplan/50-cloud-init.yaml",
			"/etc/network/interfaces.d/50-cloud-init", "/etc/network/interfaces.d/50-cloud-init.cfg",
			"/etc/NetworkManager/system-connections/cloud-init-*.nmconnection")
		for _, dir := range ifcfgDirs {
			p = append(p, dir+"/ifcfg-*")
		}
	}
	return p
}

// keptPatterns returns the globs that patterns match but that stay.
func (g Generalize) keptPatterns() []string {
	var p []string
	if g.RemoveNetworkConfig {
		for _, dir := range ifcfgDirs {
			p = append(p, dir+"/ifcfg-lo") // the loopback, not the build's
		}
	}
	return p
}

// fileActions returns, by image path, what happens to a regular file
// there that the globs do not already leave out.
func (g Generalize) fileActions() map[string]action {
	a := map[string]action{}
	if g.EmptyMachineID {
		a[machineIDPath] = empty
		a[dbusMachineIDPath] = drop
	}
	if g.EmptyHostname {
		a["/etc/hostname"] = empty
	}
	if g.EmptyLoginRecords {
		for _, p := range loginRecords {
			a[p] = empty
		}
	}
	return a
}

// action is what packing does with one image entry.
type action int

const (
	keep action = iota
	empty
	drop
)

// fileAction applies the per-file switches to the entry at p: only
// regular files are emptied or dropped this way (a symlink
// /var/lib/dbus/machine-id -> /etc/machine-id stays).
func (r *rules) fileAction(p string, mode uint32) action {
	if mode&fstree.ModeType != fstree.ModeRegular {
		return keep
	}
	return r.fileActions[p] // keep when absent
}
