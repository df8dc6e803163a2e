// Package mounttree is the export's tree assembler: it builds what a tgz
// export packs, the root filesystem plus the local filesystems its
// /etc/fstab mounts (a separate /boot, /var, /home, ...), in three steps:
// Plan resolves fstab entries (and boot_partition, and an XBOOTLDR
// partition) to volumes, Open opens each volume's filesystem through the
// filesystem registry with the entry's mount options, and Assemble mounts
// them into one fstree.FS, as on the running system.
package mounttree

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/c34478be/packer-plugin-maas/internal/fstab"
	"github.com/c34478be/packer-plugin-maas/internal/lvm"
	"github.com/c34478be/packer-plugin-maas/internal/volume"
)

// BootNone is the boot_partition value that says the image has no
// separate /boot.
const BootNone = "none"

// Mount is a filesystem mounted into the exported tree.
type Mount struct {
	Point  string // /boot
	Volume volume.Volume
	// Entry is the fstab line that mounts it; nil for a /boot found by
	// boot_partition or by its XBOOTLDR type.
	Entry *fstab.Entry
}

// Plan decides what is mounted where: the fstab entries of local
// filesystems, and /boot from bootPartition (a number, name or label, or
// BootNone) or else fstab or else the XBOOTLDR partition roles found.
func Plan(table *volume.Table, roles volume.Roles, entries []fstab.Entry, bootPartition string, log func(string, ...any)) ([]Mount, error) {
	var plan []Mount
	bootFromFstab := false
	for i := range entries {
		e := &entries[i]
		if skip := skipReason(e, bootPartition); skip != "" {
			log("%s: left out (%s)", e, skip)
			continue
		}
		p, err := findVolume(table, e)
		if errors.Is(err, errNotFound) && e.HasOption("nofail") {
			log("%s: left out: %v, and the entry is nofail", e, err)
			continue
		}
		if err != nil {
			return nil, mountError(table, e, err)
		}
		switch {
		case p.Same(roles.Root):
			log("%s: left out (the root filesystem itself)", e)
			continue
		case p.IsESP():
			log("%s: left out (the EFI system partition; curtin installs its own)", e)
			continue
		}
		if idx := slices.IndexFunc(plan, func(m Mount) bool { return m.Point == e.File }); idx >= 0 {
			return nil, fmt.Errorf("%s and %s both mount %s; remove one of them from the image's /etc/fstab", plan[idx].Entry, e, e.File)
		}
		bootFromFstab = bootFromFstab || e.File == "/boot"
		plan = append(plan, Mount{Point: e.File, Volume: p, Entry: e})
	}
	boot, err := bootMount(table, roles, bootPartition, bootFromFstab)
	if err != nil {
		return nil, err
	}
	if boot != nil {
		plan = append(plan, *boot)
	}
	// Parents before children: /boot before /boot/grub.
	slices.SortStableFunc(plan, func(a, b Mount) int { return strings.Count(a.Point, "/") - strings.Count(b.Point, "/") })
	return plan, nil
}

// skipReason says why an fstab entry is not packed; "" when it is.
func skipReason(e *fstab.Entry, bootPartition string) string {
	switch {
	case e.File == "/":
		return "the root filesystem"
	case e.NotLocal() != "":
		return e.NotLocal()
	case e.File == "/boot/efi" || e.File == "/efi":
		return "the EFI system partition; curtin installs its own"
	case e.File == "/boot" && bootPartition != "":
		return "boot_partition is set"
	}
	return ""
}

// bootMount is the /boot that comes not from fstab: boot_partition, or
// the XBOOTLDR partition when fstab mounts no /boot (as
// systemd-gpt-auto-generator would mount it).
func bootMount(table *volume.Table, roles volume.Roles, bootPartition string, bootFromFstab bool) (*Mount, error) {
	switch {
	case bootPartition == BootNone:
		return nil, nil
	case bootPartition != "":
		p, err := volume.Find(table, bootPartition)
		if err != nil {
			return nil, fmt.Errorf("boot_partition: %w", err)
		}
		if p.Same(roles.Root) {
			return nil, fmt.Errorf("boot_partition %q is the root partition; set it to the /boot partition, or to %q when /boot is part of the root", bootPartition, BootNone)
		}
		return &Mount{Point: "/boot", Volume: p}, nil
	case roles.Boot != nil && !bootFromFstab:
		return &Mount{Point: "/boot", Volume: *roles.Boot}, nil
	}
	return nil, nil
}

var errNotFound = errors.New("no volume of the disk")

// mountError names the fstab line, what the disk has, and the ways out.
func mountError(table *volume.Table, e *fstab.Entry, err error) error {
	fix := "correct the image's /etc/fstab, or add nofail to the entry to leave it out"
	if e.File == "/boot" {
		fix = fmt.Sprintf("set boot_partition to the /boot partition's number, name or label (or %q to leave /boot out)", BootNone)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %v; %s. The disk (%s) has:", e, err, fix, table.Scheme)
	for _, p := range table.Volumes {
		fmt.Fprintf(&b, "\n  %s", p.Describe())
		if p.FSUUID != "" {
			fmt.Fprintf(&b, ", UUID %s", p.FSUUID)
		}
		if p.PartUUID != "" {
			fmt.Fprintf(&b, ", PARTUUID %s", p.PartUUID)
		}
	}
	return errors.New(b.String())
}

// diskDevice matches the names the one disk of a VM gets (sda, vda, xvda,
// hda, nvme0n1, mmcblk0) with a partition number.
var diskDevice = regexp.MustCompile(`^/dev/(?:(?:sd|vd|xvd|hd)a|(?:nvme0n1|mmcblk0)p)([0-9]+)$`)

// findVolume finds the volume an fstab entry names. /dev/sdaN-style names
// are taken to mean partition N of the exported disk, since the image is
// the machine's first disk; /dev/mapper/VG-LV and /dev/VG/LV name a
// logical volume; other device paths (/dev/md, /dev/sdbN, by-id) cannot be
// told from the image.
func findVolume(table *volume.Table, e *fstab.Entry) (volume.Volume, error) {
	src := e.Source()
	var match func(volume.Volume) bool
	switch src.Kind {
	case fstab.ByUUID:
		match = func(p volume.Volume) bool { return strings.EqualFold(p.FSUUID, src.Value) }
	case fstab.ByLabel:
		match = func(p volume.Volume) bool { return p.FSLabel == src.Value }
	case fstab.ByPartUUID:
		match = func(p volume.Volume) bool { return strings.EqualFold(p.PartUUID, src.Value) }
	case fstab.ByPartLabel:
		match = func(p volume.Volume) bool { return table.Scheme == volume.SchemeGPT && p.Name == src.Value }
	case fstab.ByDevice:
		match = deviceMatch(src.Value)
		if match == nil {
			return volume.Volume{}, fmt.Errorf("%w is %s: only UUID=, LABEL=, PARTUUID=, PARTLABEL=, /dev/disk/by-*, the first disk's partitions (/dev/vda2) and LVM volumes (/dev/mapper/VG-LV, /dev/VG/LV) can be found in an image", errNotFound, src.Value)
		}
	}
	found := filterParts(table.Volumes, match)
	switch len(found) {
	case 0:
		return volume.Volume{}, fmt.Errorf("%w has %s", errNotFound, e.Spec)
	case 1:
		return found[0], nil
	}
	return volume.Volume{}, fmt.Errorf("%d partitions have %s", len(found), e.Spec)
}

// deviceMatch matches the volume a device path names; nil when the path
// cannot be told from the image.
func deviceMatch(dev string) func(volume.Volume) bool {
	if m := diskDevice.FindStringSubmatch(dev); m != nil {
		n, _ := strconv.Atoi(m[1])
		return func(p volume.Volume) bool { return p.Kind == volume.KindPartition && p.Number == n }
	}
	if vg, lv, ok := lvm.SplitName(dev); ok && strings.HasPrefix(dev, "/dev/") {
		return func(p volume.Volume) bool { return p.Kind == volume.KindLogical && p.VGName == vg && p.LVName == lv }
	}
	return nil
}

func filterParts(ps []volume.Volume, keep func(volume.Volume) bool) []volume.Volume {
	var out []volume.Volume
	for _, p := range ps {
		if keep(p) {
			out = append(out, p)
		}
	}
	return out
}
