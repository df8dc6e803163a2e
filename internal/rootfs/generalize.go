package rootfs

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
}

// DefaultGeneralize turns every switch on.
func DefaultGeneralize() Generalize {
	return Generalize{
		EmptyMachineID:       true,
		RemoveCloudInitState: true,
		RemoveCloudInitLogs:  true,
		RemoveSSHHostKeys:    true,
	}
}

const (
	machineIDPath     = "/etc/machine-id"
	dbusMachineIDPath = "/var/lib/dbus/machine-id"
)

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
	return p
}

// action is what packing does with one image entry.
type action int

const (
	keep action = iota
	empty
	drop
)

// machineIDAction applies EmptyMachineID to the entry at p.
func (g Generalize) machineIDAction(p string, mode uint32) action {
	if !g.EmptyMachineID || mode&fstree.ModeType != fstree.ModeRegular {
		return keep
	}
	switch p {
	case machineIDPath:
		return empty
	case dbusMachineIDPath:
		return drop
	}
	return keep
}
