package export

import (
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/c34478be/packer-plugin-maas/internal/diskimage"
	"github.com/c34478be/packer-plugin-maas/internal/ext4"
	"github.com/c34478be/packer-plugin-maas/internal/fat"
	"github.com/c34478be/packer-plugin-maas/internal/fstab"
	"github.com/c34478be/packer-plugin-maas/internal/fstree"
)

// The tree assembler builds what a tgz export packs: the root filesystem
// plus the local filesystems its /etc/fstab mounts (a separate /boot,
// /var, /home, ...), in three steps: fstab entries are resolved to
// partitions (volumes), the partitions' filesystems are opened, and they
// are mounted into one fstree.FS.

// BootNone is the boot_partition value that says the image has no
// separate /boot.
const BootNone = "none"

// Mount is a filesystem mounted into the exported tree.
type Mount struct {
	Point     string // /boot
	Partition diskimage.Partition
	// Entry is the fstab line that mounts it; nil for a /boot found by
	// boot_partition or by its XBOOTLDR type.
	Entry *fstab.Entry
}

// planMounts decides what is mounted where: the fstab entries of local
// filesystems, and /boot from bootPartition (a number, name or label, or
// BootNone) or else fstab or else the XBOOTLDR partition roles found.
func planMounts(table *diskimage.Table, roles diskimage.Roles, entries []fstab.Entry, bootPartition string, log func(string, ...any)) ([]Mount, error) {
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
		case p.Number == roles.Root.Number && p.Start == roles.Root.Start:
			log("%s: left out (the root filesystem itself)", e)
			continue
		case isESP(p):
			log("%s: left out (the EFI system partition; curtin installs its own)", e)
			continue
		}
		if idx := slices.IndexFunc(plan, func(m Mount) bool { return m.Point == e.File }); idx >= 0 {
			return nil, fmt.Errorf("%s and %s both mount %s; remove one of them from the image's /etc/fstab", plan[idx].Entry, e, e.File)
		}
		bootFromFstab = bootFromFstab || e.File == "/boot"
		plan = append(plan, Mount{Point: e.File, Partition: p, Entry: e})
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
func bootMount(table *diskimage.Table, roles diskimage.Roles, bootPartition string, bootFromFstab bool) (*Mount, error) {
	switch {
	case bootPartition == BootNone:
		return nil, nil
	case bootPartition != "":
		p, err := diskimage.FindPartition(table, bootPartition)
		if err != nil {
			return nil, fmt.Errorf("boot_partition: %w", err)
		}
		if p.Number == roles.Root.Number {
			return nil, fmt.Errorf("boot_partition %q is the root partition; set it to the /boot partition, or to %q when /boot is part of the root", bootPartition, BootNone)
		}
		return &Mount{Point: "/boot", Partition: p}, nil
	case roles.Boot != nil && !bootFromFstab:
		return &Mount{Point: "/boot", Partition: *roles.Boot}, nil
	}
	return nil, nil
}

var errNotFound = errors.New("no partition of the disk")

// mountError names the fstab line, what the disk has, and the ways out.
func mountError(table *diskimage.Table, e *fstab.Entry, err error) error {
	fix := "correct the image's /etc/fstab, or add nofail to the entry to leave it out"
	if e.File == "/boot" {
		fix = fmt.Sprintf("set boot_partition to the /boot partition's number, name or label (or %q to leave /boot out)", BootNone)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %v; %s. The disk (%s) has:", e, err, fix, table.Scheme)
	for _, p := range table.Partitions {
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

// findVolume finds the partition an fstab entry names. /dev/sdaN-style names
// are taken to mean partition N of the exported disk, since the image is
// the machine's first disk; other device paths (/dev/mapper, /dev/md,
// /dev/sdbN, by-id) cannot be told from the image.
func findVolume(table *diskimage.Table, e *fstab.Entry) (diskimage.Partition, error) {
	src := e.Source()
	var match func(diskimage.Partition) bool
	switch src.Kind {
	case fstab.ByUUID:
		match = func(p diskimage.Partition) bool { return strings.EqualFold(p.FSUUID, src.Value) }
	case fstab.ByLabel:
		match = func(p diskimage.Partition) bool { return p.FSLabel == src.Value }
	case fstab.ByPartUUID:
		match = func(p diskimage.Partition) bool { return strings.EqualFold(p.PartUUID, src.Value) }
	case fstab.ByPartLabel:
		match = func(p diskimage.Partition) bool { return table.Scheme == diskimage.SchemeGPT && p.Name == src.Value }
	case fstab.ByDevice:
		m := diskDevice.FindStringSubmatch(src.Value)
		if m == nil {
			return diskimage.Partition{}, fmt.Errorf("%w is %s: only UUID=, LABEL=, PARTUUID=, PARTLABEL=, /dev/disk/by-* and the first disk's partitions (/dev/vda2) can be found in an image", errNotFound, src.Value)
		}
		n, _ := strconv.Atoi(m[1])
		match = func(p diskimage.Partition) bool { return p.Number == n }
	}
	found := filterParts(table.Partitions, match)
	switch len(found) {
	case 0:
		return diskimage.Partition{}, fmt.Errorf("%w has %s", errNotFound, e.Spec)
	case 1:
		return found[0], nil
	}
	return diskimage.Partition{}, fmt.Errorf("%d partitions have %s", len(found), e.Spec)
}

func filterParts(ps []diskimage.Partition, keep func(diskimage.Partition) bool) []diskimage.Partition {
	var out []diskimage.Partition
	for _, p := range ps {
		if keep(p) {
			out = append(out, p)
		}
	}
	return out
}

func isESP(p diskimage.Partition) bool {
	return p.TypeGUID == diskimage.TypeESP || p.MBRType == 0xef
}

// assemble opens every Mount filesystem and mounts it into the tree.
func assemble(r io.ReaderAt, root *ext4.FS, plan []Mount) (*tree, error) {
	t, err := newTree(root)
	if err != nil {
		return nil, err
	}
	for _, m := range plan {
		what := describeMount(m)
		fs, err := openMounted(r, m)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		if err := t.mount(m.Point, fs); err != nil {
			if errors.Is(err, errNoMountPoint) {
				return nil, fmt.Errorf("%s: the image has no directory %s to mount it on: %v; create it in the image, or remove the entry", what, m.Point, err)
			}
			return nil, fmt.Errorf("%s: %w", what, err)
		}
	}
	return t, nil
}

func describeMount(m Mount) string {
	if m.Entry != nil {
		return m.Entry.String()
	}
	return fmt.Sprintf("/boot (%s)", m.Partition.Describe())
}

func openMounted(r io.ReaderAt, m Mount) (fstree.FS, error) {
	p := m.Partition
	switch {
	case diskimage.IsExt(p.Filesystem):
		fs, err := ext4.Open(p.Section(r), p.Size)
		if err != nil {
			return nil, fmt.Errorf("partition %d: %w", p.Number, err)
		}
		return fs, nil
	case p.Filesystem == diskimage.FSVFAT:
		opts, err := fatOptions(m.Entry)
		if err != nil {
			return nil, err
		}
		fs, err := fat.Open(p.Section(r), p.Size, opts)
		if err != nil {
			return nil, fmt.Errorf("partition %d: %w", p.Number, err)
		}
		return fs, nil
	}
	return nil, fmt.Errorf("%s holds %s, which a tgz export cannot read; export the whole disk with filetype = \"ddgz\"",
		p.Describe(), orUnknown(p.Filesystem))
}

// fatOptions are the owners and modes the kernel would show for a vfat
// filesystem mounted by entry: its uid=, gid=, umask=, fmask= and dmask=.
// A /boot that fstab does not mount gets umask=0077, as
// systemd-gpt-auto-generator mounts an XBOOTLDR partition.
func fatOptions(e *fstab.Entry) (fat.Options, error) {
	if e == nil {
		return fat.Options{FileMask: 0o077, DirMask: 0o077}, nil
	}
	opts := fat.DefaultOptions
	for _, o := range []struct {
		name string
		base int
		set  func(uint32)
	}{
		{"umask", 8, func(v uint32) { opts.FileMask, opts.DirMask = v, v }},
		{"fmask", 8, func(v uint32) { opts.FileMask = v }},
		{"dmask", 8, func(v uint32) { opts.DirMask = v }},
		{"uid", 10, func(v uint32) { opts.UID = v }},
		{"gid", 10, func(v uint32) { opts.GID = v }},
	} {
		if v, ok := e.Option(o.name); ok {
			n, err := strconv.ParseUint(v, o.base, 32)
			if err != nil || o.base == 8 && n > 0o777 {
				return opts, fmt.Errorf("option %s=%s is not a number this export understands", o.name, v)
			}
			o.set(uint32(n))
		}
	}
	return opts, nil
}
