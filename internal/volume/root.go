package volume

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/c34478be/packer-plugin-maas/internal/filesystem"
	"github.com/c34478be/packer-plugin-maas/internal/lvm"
)

// Partition types that decide roles.
const (
	TypeESP      = "c12a7328-f81f-11d2-ba4b-00a0c93ec93b"
	TypeXBOOTLDR = "bc13c2ff-59e6-4262-a352-b275fd6f7172"
	mbrTypeESP   = 0xef
	mbrTypeXBOOT = 0xea
)

// rootTypes maps an architecture (Discoverable Volumes Specification
// names) to its root partition type.
var rootTypes = map[string]string{
	"x86":         "44479540-f297-41b2-9af7-d131d5f0458a",
	"x86-64":      "4f68bce3-e8cd-4db1-96e7-fbcaf984b709",
	"arm":         "69dad710-2ce4-4e3c-b16c-21a1d49abed3",
	"arm64":       "b921b045-1df0-41c3-af44-4c6f280d3fae",
	"ia64":        "993d8d3d-f80e-4225-855a-9daf8ed7ea97",
	"loongarch64": "77055800-792c-4f94-b39a-98c91b762bb6",
	"mips-le":     "37c58c8a-d913-4156-a25f-48b1b64e07f0",
	"mips64-le":   "700bda43-7a34-4507-b179-eeb93d7a7ca3",
	"ppc":         "1de3f1ef-fa98-47b5-8dcd-4a860a654d78",
	"ppc64":       "912ade1d-a839-4913-8964-a10eee08fbd2",
	"ppc64-le":    "c31c45e6-3f39-412e-80fb-4809c4980599",
	"riscv32":     "60d5a7fe-8e7d-435c-b714-3dd8162144e1",
	"riscv64":     "72ec70a6-cf74-40e6-bd49-4bda08e8f224",
	"s390":        "08a7acea-624c-4a20-91e8-6e0fa67d23f9",
	"s390x":       "5eead9a9-fe09-4a1e-a1d7-520d00531306",
	"alpha":       "6523f8ae-3eb1-4e2a-a05a-18b695ae656f",
	"arc":         "d27f46ed-2919-4cb8-bd25-9531f3c16534",
}

// archAliases maps Debian, MAAS and kernel architecture names to the
// specification's names.
var archAliases = map[string]string{
	"amd64": "x86-64", "x86_64": "x86-64", "i386": "x86", "i686": "x86",
	"aarch64": "arm64", "armhf": "arm", "armel": "arm", "armv7l": "arm",
	"ppc64el": "ppc64-le", "ppc64le": "ppc64-le",
	"mipsel": "mips-le", "mips64el": "mips64-le", "loong64": "loongarch64",
}

// rootTypeFor returns the root partition types to look for: the one for
// arch, or all of them when arch is "".
func rootTypeFor(arch string) (map[string]bool, error) {
	want := map[string]bool{}
	if arch == "" {
		for _, g := range rootTypes {
			want[g] = true
		}
		return want, nil
	}
	a, _, _ := strings.Cut(strings.ToLower(arch), "/") // MAAS: "amd64/generic"
	if alias, ok := archAliases[a]; ok {
		a = alias
	}
	g, ok := rootTypes[a]
	if !ok {
		return nil, fmt.Errorf("unknown architecture %q", arch)
	}
	want[g] = true
	return want, nil
}

// Roles are the partitions an export reads.
type Roles struct {
	Root Volume
	// Boot is an XBOOTLDR partition (or one named bls_boot): /boot,
	// unless the root's /etc/fstab or a setting says otherwise.
	Boot *Volume
}

// rootLabels are the labels cloud images give their root filesystem.
var rootLabels = []string{"cloudimg-rootfs", "root"}

// RootProbe reports whether v holds a root filesystem with an
// /etc/os-release; err is why v's filesystem could not be read at all (a
// log that needs recovery, damage), which the error naming no root lists.
type RootProbe func(v Volume) (found bool, err error)

// FindRoot is FindRootWith for a probe that gives no reasons.
func FindRoot(t *Table, want, arch string, hasOSRelease func(Volume) bool) (Roles, error) {
	var probe RootProbe
	if hasOSRelease != nil {
		probe = func(v Volume) (bool, error) { return hasOSRelease(v), nil }
	}
	return FindRootWith(t, want, arch, probe)
}

// FindRootWith picks the root partition and any separate /boot partition.
//
// want selects the root by partition number ("2") or by GPT partition name
// or filesystem label; "" finds it: the GPT root type for arch (a Debian,
// MAAS or kernel architecture name; "" for any), else the partition named or
// labelled cloudimg-rootfs or root, else the only volume whose filesystem
// may hold a root (filesystem.HoldsRoot) for which hasOSRelease finds
// one. The EFI system partition is never root or boot. A root no
// registered reader reads is refused with what each volume holds, and why
// those hasOSRelease could not read failed.
func FindRootWith(t *Table, want, arch string, hasOSRelease RootProbe) (Roles, error) {
	rootTypeSet, err := rootTypeFor(arch)
	if err != nil {
		return Roles{}, err
	}
	root, err := pickRoot(t, want, rootTypeSet, hasOSRelease)
	if err != nil {
		return Roles{}, err
	}
	if err := checkExportable("root", root); err != nil {
		return Roles{}, err
	}
	roles := Roles{Root: root}
	boot, err := pickBoot(t, root)
	if err != nil {
		return roles, err
	}
	roles.Boot = boot // opened, or refused, by whoever mounts it
	return roles, nil
}

func pickRoot(t *Table, want string, rootTypeSet map[string]bool, hasOSRelease RootProbe) (Volume, error) {
	candidates := rootCandidates(t)
	if want != "" {
		return pickWanted(t, candidates, want)
	}
	unreadable := map[string]error{} // volume title -> why its filesystem could not be read
	holdsOSRelease := func(p Volume) bool {
		switch {
		case !filesystem.HoldsRoot(p.Filesystem):
			return false
		case t.Scheme == SchemeNone:
			return true
		case hasOSRelease == nil:
			return false
		}
		found, err := hasOSRelease(p)
		if err != nil {
			unreadable[p.Title()] = err
		}
		return found
	}
	steps := []struct {
		what  string
		match func(Volume) bool
	}{
		{"a Linux root partition type", func(p Volume) bool { return rootTypeSet[p.TypeGUID] }},
		{"the label cloudimg-rootfs or root", hasRootLabel},
		{"a filesystem holding /etc/os-release (" + filesystem.RootNames() + ")", holdsOSRelease},
	}
	for _, s := range steps {
		found := filter(candidates, s.match)
		switch len(found) {
		case 0:
			continue
		case 1:
			return found[0], nil
		default:
			return Volume{}, listingError(t, fmt.Sprintf("%d partitions have %s, so the root partition is ambiguous", len(found), s.what))
		}
	}
	if len(unreadable) == 1 { // the root, most likely: say what keeps it from being read
		for _, err := range unreadable {
			return Volume{}, err
		}
	}
	return Volume{}, listingErrorWith(t, "no root partition found", unreadable)
}

// rootCandidates leaves out the ESP and /boot partitions.
func rootCandidates(t *Table) []Volume {
	return filter(t.Volumes, func(p Volume) bool { return !p.IsESP() && !isBoot(p) })
}

func pickWanted(t *Table, candidates []Volume, want string) (Volume, error) {
	if vg, lv, ok := lvm.SplitName(want); ok {
		if v, found := findLogical(t, vg, lv); found {
			return v, nil
		}
		return Volume{}, listingError(t, fmt.Sprintf("root_partition %q: no logical volume %s in volume group %s", want, lv, vg))
	}
	if n, err := strconv.Atoi(want); err == nil {
		for _, p := range t.Volumes {
			if p.Number == n {
				if p.IsESP() {
					return Volume{}, listingError(t, fmt.Sprintf("root_partition %q is the EFI system partition", want))
				}
				return p, nil
			}
		}
		return Volume{}, listingError(t, fmt.Sprintf("root_partition %q: no partition has that number", want))
	}
	found := filter(candidates, func(p Volume) bool { return p.Name == want || p.FSLabel == want })
	switch len(found) {
	case 1:
		return found[0], nil
	case 0:
		return Volume{}, listingError(t, fmt.Sprintf("root_partition %q: no partition has that name or label", want))
	default:
		return Volume{}, listingError(t, fmt.Sprintf("root_partition %q matches %d partitions", want, len(found)))
	}
}

// findLogical is the logical volume vg/lv of the table.
func findLogical(t *Table, vg, lv string) (Volume, bool) {
	for _, v := range t.Volumes {
		if v.Kind == KindLogical && v.VGName == vg && v.LVName == lv {
			return v, true
		}
	}
	return Volume{}, false
}

// Find picks a volume by partition number ("2"), logical volume name
// (VG/LV, /dev/VG/LV, /dev/mapper/VG-LV), GPT partition name or
// filesystem label, for settings such as boot_partition; never the ESP.
func Find(t *Table, want string) (Volume, error) {
	var found []Volume
	if vg, lv, ok := lvm.SplitName(want); ok {
		if v, ok := findLogical(t, vg, lv); ok {
			found = []Volume{v}
		}
	} else if n, err := strconv.Atoi(want); err == nil {
		found = filter(t.Volumes, func(p Volume) bool { return p.Number == n })
	} else {
		found = filter(t.Volumes, func(p Volume) bool { return p.Name == want || p.FSLabel == want })
	}
	var problem string
	switch {
	case len(found) == 1 && found[0].IsESP():
		problem = fmt.Sprintf("%q is the EFI system partition", want)
	case len(found) == 1:
		return found[0], nil
	case len(found) == 0:
		problem = fmt.Sprintf("no partition has the number, name or label %q", want)
	default:
		problem = fmt.Sprintf("%q matches %d partitions", want, len(found))
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s. The disk (%s) has:", problem, t.Scheme)
	for _, p := range t.Volumes {
		b.WriteString("\n  " + p.Describe())
	}
	return Volume{}, errors.New(b.String())
}

func pickBoot(t *Table, root Volume) (*Volume, error) {
	found := filter(t.Volumes, func(p Volume) bool { return isBoot(p) && !p.Same(root) })
	switch len(found) {
	case 0:
		return nil, nil
	case 1:
		return &found[0], nil
	default:
		return nil, listingError(t, fmt.Sprintf("%d partitions look like a separate /boot (XBOOTLDR type or named bls_boot)", len(found)))
	}
}

func checkExportable(role string, p Volume) error {
	if filesystem.HoldsRoot(p.Filesystem) {
		return nil
	}
	switch p.Filesystem {
	case filesystem.XFS, filesystem.Btrfs, filesystem.LVM, filesystem.LUKS: // XFS: when no reader is registered
		return fmt.Errorf("the %s partition (%s) holds %s; only %s can be exported as a root tarball: use filetype = \"ddgz\" to export the whole disk instead", role, p.Describe(), p.Filesystem, filesystem.RootNames())
	case "":
		return fmt.Errorf("the %s partition (%s) holds no filesystem that could be recognised; set root_partition to the right partition, or use filetype = \"ddgz\"", role, p.Describe())
	}
	return fmt.Errorf("the %s partition (%s) holds %s, not a Linux root filesystem; set root_partition to the right partition", role, p.Describe(), p.Filesystem)
}

// IsESP reports whether v is the EFI system partition, which an export
// never reads: curtin installs its own.
func (v Volume) IsESP() bool { return v.TypeGUID == TypeESP || v.MBRType == mbrTypeESP }

func isBoot(p Volume) bool {
	return p.TypeGUID == TypeXBOOTLDR || p.MBRType == mbrTypeXBOOT || p.Name == "bls_boot"
}

func hasRootLabel(p Volume) bool {
	for _, l := range rootLabels {
		if p.Name == l || p.FSLabel == l {
			return true
		}
	}
	return false
}

func filter(ps []Volume, keep func(Volume) bool) []Volume {
	var out []Volume
	for _, p := range ps {
		if keep(p) {
			out = append(out, p)
		}
	}
	return out
}

func listingError(t *Table, problem string) error { return listingErrorWith(t, problem, nil) }

// listingErrorWith is listingError that also says, for the volumes named
// in unreadable (by Title), why their filesystem could not be read.
func listingErrorWith(t *Table, problem string, unreadable map[string]error) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%s; set root_partition to the number, name or label of the root partition. The disk (%s) has:", problem, t.Scheme)
	if len(t.Volumes) == 0 {
		b.WriteString(" no partitions")
	}
	for _, p := range t.Volumes {
		b.WriteString("\n  ")
		b.WriteString(p.Describe())
		if note := unreadableNote(p); note != "" {
			b.WriteString(": " + note)
		} else if err, ok := unreadable[p.Title()]; ok {
			b.WriteString(": cannot be read: " + strings.TrimPrefix(err.Error(), p.Title()+": "))
		}
	}
	return fmt.Errorf("%s", b.String())
}

// unreadableNote says why a partition that may well be the root cannot be
// read as one, and what to do about it; "" when nothing stands in the way.
func unreadableNote(p Volume) string {
	switch {
	case filesystem.HoldsRoot(p.Filesystem) && p.NeedsRecovery:
		return "its journal holds changes not yet written, as after a crash or a power-off without shutdown; " +
			"shut the VM down cleanly (or run `e2fsck -fy` on the image) and export again"
	case p.Filesystem == filesystem.LVM:
		return "an LVM physical volume: the root may be one of its logical volumes, listed by their VG/LV names when its metadata can be read"
	case p.Filesystem == filesystem.LUKS:
		return "encrypted with LUKS, which a tgz export cannot read; use filetype = \"ddgz\" to export the whole disk"
	case (p.Filesystem == filesystem.XFS || p.Filesystem == filesystem.Btrfs) && !filesystem.Readable(p.Filesystem):
		return "a tgz export cannot read " + p.Filesystem + " yet; use filetype = \"ddgz\" to export the whole disk"
	}
	return ""
}

// Describe is a one-line summary: number (or VG/LV name), size, type,
// filesystem, name and label.
func (p Volume) Describe() string {
	var b strings.Builder
	b.WriteString(p.Title() + ", " + humanSize(p.Size))
	if p.Kind != KindLogical {
		b.WriteString(", " + p.typeName())
	}
	if p.OpenError != nil {
		return b.String() + ", unreadable: " + p.OpenError.Error()
	}
	fs := p.Filesystem
	if fs == "" {
		fs = "no known filesystem"
	}
	b.WriteString(", " + fs)
	if p.NeedsRecovery {
		b.WriteString(" (journal needs recovery)")
	}
	if p.Name != "" {
		fmt.Fprintf(&b, ", name %q", p.Name)
	}
	if p.FSLabel != "" {
		fmt.Fprintf(&b, ", label %q", p.FSLabel)
	}
	return b.String()
}

// Title names the volume: "partition 2", "whole disk", "logical volume
// rl/root".
func (p Volume) Title() string {
	switch p.Kind {
	case KindWholeDisk:
		return "whole disk"
	case KindLogical:
		return "logical volume " + p.VGName + "/" + p.LVName
	}
	return fmt.Sprintf("partition %d", p.Number)
}

func (p Volume) typeName() string {
	switch {
	case p.TypeGUID != "":
		if n, ok := gptTypeNames[p.TypeGUID]; ok {
			return n
		}
		for arch, g := range rootTypes {
			if g == p.TypeGUID {
				return "Linux root (" + arch + ")"
			}
		}
		return "type " + p.TypeGUID
	case p.Kind == KindWholeDisk:
		return "no partition table"
	}
	if n, ok := mbrTypeNames[p.MBRType]; ok {
		return fmt.Sprintf("MBR type 0x%02x (%s)", p.MBRType, n)
	}
	return fmt.Sprintf("MBR type 0x%02x", p.MBRType)
}

var gptTypeNames = map[string]string{
	TypeESP:                                "EFI system",
	TypeXBOOTLDR:                           "Linux extended boot",
	"0fc63daf-8483-4772-8e79-3d69d8477de4": "Linux filesystem",
	"0657fd6d-a4ab-43c4-84e5-0933c84b4f4f": "Linux swap",
	"e6d6d379-f507-44c2-a23c-238f2a3df928": "Linux LVM",
	"a19d880f-05fc-4d3b-a006-743f0f84911e": "Linux RAID",
	"933ac7e1-2eb4-4f13-b844-0e14e2aef915": "Linux home",
	"3b8f8425-20e0-4f3b-907f-1a25a76f98e8": "Linux srv",
	"4d21b016-b534-45c2-a9fb-5c16e091fd2d": "Linux var",
	"21686148-6449-6e6f-744e-656564454649": "BIOS boot",
	"9e1a2d38-c612-4316-aa26-8b49521e5a8b": "PowerPC PReP boot",
	"ebd0a0a2-b9e5-4433-87c0-68b6b72699c7": "Microsoft basic data",
	"e3c9e316-0b5c-4db8-817d-f92df00215ae": "Microsoft reserved",
}

var mbrTypeNames = map[byte]string{
	0x07: "NTFS/exFAT", 0x0b: "FAT32", 0x0c: "FAT32 LBA", 0x0e: "FAT16 LBA",
	0x82: "Linux swap", 0x83: "Linux", 0x8e: "Linux LVM", 0xfd: "Linux RAID",
	mbrTypeXBOOT: "Linux extended boot", mbrTypeESP: "EFI system",
}

func humanSize(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 5; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
