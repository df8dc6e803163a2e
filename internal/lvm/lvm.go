package lvm

import (
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
)

// Device is a partition or whole disk that may be a physical volume.
type Device struct {
	Name string // for messages: "partition 3", "disk"
	R    io.ReaderAt
	Size int64
}

// Segment maps a run of a logical volume's extents.
type Segment struct {
	StartExtent, ExtentCount int64  // in the LV
	Type                     string // "striped" with one stripe is linear
	PV                       string // UUID of the PV it lies on (linear only)
	PVExtent                 int64  // first extent on that PV (linear only)

	pvKey string
}

// LogicalVolume is a visible logical volume of a group.
type LogicalVolume struct {
	Name, VGName, UUID string
	Size               int64 // bytes
	Segments           []Segment

	group *VolumeGroup
	// unsupported names the first segment type that is not linear.
	unsupported string
}

// VolumeGroup is a volume group as its newest valid metadata copy describes
// it, with the devices its PVs were found on.
type VolumeGroup struct {
	Name, UUID string
	Seqno      int64
	ExtentSize int64 // bytes
	// LogicalVolumes are the visible LVs, in metadata order.
	LogicalVolumes []*LogicalVolume
	// PhysicalVolumes are the group's PVs, in metadata order, with the
	// devices they were found on.
	PhysicalVolumes []GroupPV

	pvs     []pvRecord
	devices map[string]*PhysicalVolume // by UUID without dashes
}

// GroupPV is a physical volume of a group.
type GroupPV struct {
	UUID string
	// DeviceHint is the device lvm2 last saw it on (/dev/sda3): only a hint,
	// for messages.
	DeviceHint string
	// Device is the scanned device it is on; "" when it was not found.
	Device string
}

// Set is what a scan of a disk's devices found.
type Set struct {
	Groups []*VolumeGroup
	// Problems are the labels and metadata copies that were passed over
	// (checksum mismatches, damaged headers, I/O errors); a group whose
	// every copy failed is not in Groups and shows up only here.
	Problems []error
}

// Scan reads the LVM2 labels and metadata of the devices (the partitions
// of one disk, or the disk itself) and assembles the volume groups on them.
// Devices without a label are skipped. A group's metadata is taken from
// the copy with the highest seqno among those that pass their checksums.
func Scan(devices []Device) *Set {
	set := &Set{}
	var pvs []*PhysicalVolume
	for _, dev := range devices {
		pv, err := ReadPhysicalVolume(dev)
		if errors.Is(err, ErrNoLabel) {
			continue
		}
		if err != nil {
			set.Problems = append(set.Problems, err)
			continue
		}
		pv.readCopies()
		set.Problems = append(set.Problems, pv.Skipped...)
		pvs = append(pvs, pv)
	}
	newest := map[string]*groupMetadata{}
	var order []string
	for _, pv := range pvs {
		for _, c := range pv.Copies {
			g, err := decodeMetadata(c.text)
			if err != nil {
				set.Problems = append(set.Problems, fmt.Errorf("%s: PV %s: metadata area at %d: %w", pv.dev.Name, pv.UUID, c.area.Offset, err))
				continue
			}
			old, ok := newest[g.uuid]
			if !ok {
				order = append(order, g.uuid)
			}
			if !ok || g.seqno > old.seqno {
				newest[g.uuid] = g
			}
		}
	}
	for _, id := range order {
		set.Groups = append(set.Groups, assemble(newest[id], pvs, set))
	}
	return set
}

// assemble ties a group's metadata to the PVs found by UUID.
func assemble(g *groupMetadata, pvs []*PhysicalVolume, set *Set) *VolumeGroup {
	vg := &VolumeGroup{Name: g.name, UUID: g.uuid, Seqno: g.seqno, ExtentSize: g.extentSize,
		LogicalVolumes: g.lvs, pvs: g.pvs, devices: map[string]*PhysicalVolume{}}
	for _, rec := range g.pvs {
		key := bareUUID(rec.uuid)
		for _, pv := range pvs {
			if bareUUID(pv.UUID) != key {
				continue
			}
			if first, dup := vg.devices[key]; dup {
				set.Problems = append(set.Problems, fmt.Errorf("PV %s of group %s is on both %s and %s; using %s", rec.uuid, g.name, first.dev.Name, pv.dev.Name, first.dev.Name))
				continue
			}
			vg.devices[key] = pv
		}
	}
	for _, rec := range g.pvs {
		gpv := GroupPV{UUID: rec.uuid, DeviceHint: rec.device}
		if pv := vg.devices[bareUUID(rec.uuid)]; pv != nil {
			gpv.Device = pv.dev.Name
		}
		vg.PhysicalVolumes = append(vg.PhysicalVolumes, gpv)
	}
	for _, lv := range vg.LogicalVolumes {
		lv.group = vg
		for i := range lv.Segments {
			if rec := vg.pv(lv.Segments[i].pvKey); rec != nil {
				lv.Segments[i].PV = rec.uuid
			}
		}
	}
	return vg
}

func bareUUID(s string) string { return strings.ReplaceAll(s, "-", "") }

// pv returns the group's PV of that metadata name (pv0...), or nil.
func (vg *VolumeGroup) pv(key string) *pvRecord {
	for i := range vg.pvs {
		if vg.pvs[i].key == key {
			return &vg.pvs[i]
		}
	}
	return nil
}

// Volume is the content of a logical volume.
type Volume struct {
	size    int64
	extents []mappedExtents
}

// mappedExtents is a segment resolved to a byte range of a device.
type mappedExtents struct {
	lvOffset, length int64
	r                io.ReaderAt
	device           string
	devOffset        int64
}

// Extent is a run of a volume's bytes on one device.
type Extent struct {
	Offset, Length int64 // in the LV
	Device         string
	DeviceOffset   int64
}

// Extents are where the volume's bytes lie, in LV order.
func (v *Volume) Extents() []Extent {
	out := make([]Extent, 0, len(v.extents))
	for _, e := range v.extents {
		out = append(out, Extent{Offset: e.lvOffset, Length: e.length, Device: e.device, DeviceOffset: e.devOffset})
	}
	return out
}

// Open maps the LV's segments onto its PVs. A segment type other than
// linear, a PV that was not among the scanned devices, or extents beyond a
// PV's device are errors naming the LV.
func (lv *LogicalVolume) Open() (*Volume, error) { return lv.OpenOn(nil) }

// OpenOn is Open reading each PV through readers[the device's Name] where
// one is given, in place of the scanned device's own reader: the same bytes
// seen another way (through a read counter, say).
func (lv *LogicalVolume) OpenOn(readers map[string]io.ReaderAt) (*Volume, error) {
	name := lv.VGName + "/" + lv.Name
	if lv.unsupported != "" {
		return nil, fmt.Errorf("logical volume %s is of type %s: only linear LVs are read", name, lv.unsupported)
	}
	vg := lv.group
	v := &Volume{size: lv.Size}
	for _, s := range lv.Segments {
		rec := vg.pv(s.pvKey)
		if rec == nil {
			return nil, fmt.Errorf("logical volume %s: a segment lies on %q, which the group does not list", name, s.pvKey)
		}
		pv := vg.devices[bareUUID(rec.uuid)]
		if pv == nil {
			return nil, fmt.Errorf("logical volume %s lies partly on PV %s (%s when the metadata was written), which is not on this disk", name, rec.uuid, rec.device)
		}
		dev := pv.dev
		if rec.peStart > dev.Size || (dev.Size-rec.peStart)/vg.ExtentSize < s.PVExtent+s.ExtentCount {
			return nil, fmt.Errorf("logical volume %s: extents %d to %d of PV %s lie beyond the end of %s (%d bytes): the image is truncated or damaged",
				name, s.PVExtent, s.PVExtent+s.ExtentCount-1, rec.uuid, dev.Name, dev.Size)
		}
		r := dev.R
		if alt, ok := readers[dev.Name]; ok {
			r = alt
		}
		v.extents = append(v.extents, mappedExtents{
			lvOffset:  s.StartExtent * vg.ExtentSize,
			length:    s.ExtentCount * vg.ExtentSize,
			r:         r,
			device:    dev.Name,
			devOffset: rec.peStart + s.PVExtent*vg.ExtentSize,
		})
	}
	return v, nil
}

// Size is the volume's size in bytes.
func (v *Volume) Size() int64 { return v.size }

// ReadAt reads the volume's bytes across its segments.
func (v *Volume) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("lvm: negative offset %d", off)
	}
	n := 0
	for len(p) > 0 {
		if off >= v.size {
			return n, io.EOF
		}
		i := sort.Search(len(v.extents), func(i int) bool { return v.extents[i].lvOffset+v.extents[i].length > off })
		e := v.extents[i]
		within := off - e.lvOffset
		chunk := p[:min(int64(len(p)), e.length-within)]
		m, err := e.r.ReadAt(chunk, e.devOffset+within)
		n += m
		if m < len(chunk) {
			if err == nil || errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return n, err
		}
		p = p[m:]
		off += int64(m)
	}
	return n, nil
}

// Find returns the logical volume a device path or name refers to:
// /dev/mapper/VG-LV (dashes within names doubled, as lvm2 writes them),
// /dev/VG/LV or VG/LV.
func (s *Set) Find(name string) (*LogicalVolume, error) {
	vgName, lvName, ok := SplitName(name)
	if !ok {
		return nil, fmt.Errorf("%q is not an LVM volume name (want /dev/mapper/VG-LV, /dev/VG/LV or VG/LV)", name)
	}
	var groups []string
	for _, vg := range s.Groups {
		groups = append(groups, vg.Name)
		if vg.Name != vgName {
			continue
		}
		for _, lv := range vg.LogicalVolumes {
			if lv.Name == lvName {
				return lv, nil
			}
		}
		return nil, fmt.Errorf("volume group %s has no logical volume %s", vgName, lvName)
	}
	msg := fmt.Sprintf("no volume group %s on this disk (found: %s)", vgName, strings.Join(groups, ", "))
	if len(groups) == 0 {
		msg = fmt.Sprintf("no volume group %s on this disk (none found)", vgName)
	}
	if len(s.Problems) > 0 {
		msg += "; passed over: " + errors.Join(s.Problems...).Error()
	}
	return nil, errors.New(msg)
}

// SplitName splits /dev/mapper/VG-LV, /dev/VG/LV or VG/LV into the group
// and volume names.
func SplitName(name string) (vg, lv string, ok bool) {
	if rest, found := strings.CutPrefix(name, "/dev/mapper/"); found {
		return splitMapperName(rest)
	}
	rest, _ := strings.CutPrefix(name, "/dev/")
	vg, lv, found := strings.Cut(rest, "/")
	if !found || vg == "" || lv == "" || strings.Contains(lv, "/") {
		return "", "", false
	}
	return vg, lv, true
}

// splitMapperName undoes device-mapper's naming: VG and LV joined by one
// dash, each dash within them doubled.
func splitMapperName(s string) (vg, lv string, ok bool) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '-' {
			b.WriteByte(s[i])
			continue
		}
		if i+1 < len(s) && s[i+1] == '-' {
			b.WriteByte('-')
			i++
			continue
		}
		vg = b.String()
		lv = strings.ReplaceAll(s[i+1:], "--", "-")
		if vg == "" || lv == "" || strings.Contains(lv, "/") {
			return "", "", false
		}
		return vg, lv, true
	}
	return "", "", false
}
