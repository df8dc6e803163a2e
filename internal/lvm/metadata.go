package lvm

import (
	"fmt"
	"slices"
	"strings"
)

// maxExtentSectors bounds a group's extent size: lvm2 stores it in 32 bits
// of sectors.
const maxExtentSectors = 1 << 32

// groupMetadata is one decoded copy of a volume group's metadata.
type groupMetadata struct {
	name, uuid string
	seqno      int64
	extentSize int64 // bytes
	pvs        []pvRecord
	lvs        []*LogicalVolume
}

// pvRecord is a physical volume as the group's metadata lists it.
type pvRecord struct {
	key     string // the metadata's own name for it: pv0, pv1...
	uuid    string
	device  string // the device it was on when lvm2 last wrote the metadata
	peStart int64  // bytes
	peCount int64
}

// decodeMetadata decodes a copy of the text metadata of one volume group.
func decodeMetadata(text []byte) (*groupMetadata, error) {
	root, err := parseConfig(text)
	if err != nil {
		return nil, err
	}
	var vgItem *item
	for i := range root.items {
		if root.items[i].sub == nil {
			continue
		}
		if vgItem != nil {
			return nil, fmt.Errorf("metadata holds two volume groups, %q and %q", vgItem.name, root.items[i].name)
		}
		vgItem = &root.items[i]
	}
	if vgItem == nil {
		return nil, fmt.Errorf("metadata holds no volume group")
	}
	where := "volume group " + vgItem.name
	vg := vgItem.sub
	g := &groupMetadata{name: vgItem.name}
	if g.uuid, err = vg.str("id", where); err != nil {
		return nil, err
	}
	if g.seqno, err = vg.int("seqno", where); err != nil {
		return nil, err
	}
	sectors, err := vg.int("extent_size", where)
	if err != nil {
		return nil, err
	}
	if sectors == 0 || sectors > maxExtentSectors {
		return nil, fmt.Errorf("%s: extent_size %d sectors is out of range", where, sectors)
	}
	g.extentSize = sectors * sectorSize
	if g.pvs, err = decodePVs(vg.subsection("physical_volumes"), where); err != nil {
		return nil, err
	}
	if lvs := vg.subsection("logical_volumes"); lvs != nil {
		for _, it := range lvs.items {
			if it.sub == nil {
				continue
			}
			lv, err := decodeLV(it.name, it.sub, g)
			if err != nil {
				return nil, err
			}
			if lv != nil {
				g.lvs = append(g.lvs, lv)
			}
		}
	}
	return g, nil
}

func decodePVs(sec *section, where string) ([]pvRecord, error) {
	if sec == nil {
		return nil, fmt.Errorf("%s: no physical_volumes section", where)
	}
	var pvs []pvRecord
	for _, it := range sec.items {
		if it.sub == nil {
			continue
		}
		pwhere := where + ", " + it.name
		pv := pvRecord{key: it.name}
		var err error
		if pv.uuid, err = it.sub.str("id", pwhere); err != nil {
			return nil, err
		}
		pv.device, _ = it.sub.str("device", pwhere) // only a hint, for errors
		start, err := it.sub.int("pe_start", pwhere)
		if err != nil {
			return nil, err
		}
		if start > 1<<53 {
			return nil, fmt.Errorf("%s: pe_start %d is out of range", pwhere, start)
		}
		pv.peStart = start * sectorSize
		if pv.peCount, err = it.sub.int("pe_count", pwhere); err != nil {
			return nil, err
		}
		pvs = append(pvs, pv)
	}
	return pvs, nil
}

// decodeLV decodes a logical volume, or returns nil for a hidden one (the
// parts of raid, thin and cache volumes, which are read, if at all, through
// the volume they belong to). A segment type other than linear leaves the
// volume listed, with the reason it cannot be read.
func decodeLV(name string, sec *section, g *groupMetadata) (*LogicalVolume, error) {
	where := "logical volume " + g.name + "/" + name
	status, err := sec.strings("status", where)
	if err != nil {
		return nil, err
	}
	if !slices.Contains(status, "VISIBLE") {
		return nil, nil
	}
	lv := &LogicalVolume{Name: name, VGName: g.name}
	if lv.UUID, err = sec.str("id", where); err != nil {
		return nil, err
	}
	for _, it := range sec.items {
		if it.sub == nil || !strings.HasPrefix(it.name, "segment") {
			continue
		}
		seg, err := decodeSegment(it.sub, where+", "+it.name, lv)
		if err != nil {
			return nil, err
		}
		lv.Segments = append(lv.Segments, seg)
	}
	if len(lv.Segments) == 0 {
		return nil, fmt.Errorf("%s has no segments", where)
	}
	slices.SortFunc(lv.Segments, func(a, b Segment) int { return compareInt(a.StartExtent, b.StartExtent) })
	var next int64
	for _, s := range lv.Segments {
		if s.StartExtent != next {
			return nil, fmt.Errorf("%s: segments leave extents %d to %d unmapped", where, next, s.StartExtent)
		}
		next += s.ExtentCount
	}
	if next > (1<<62)/g.extentSize {
		return nil, fmt.Errorf("%s: %d extents is out of range", where, next)
	}
	lv.Size = next * g.extentSize
	return lv, nil
}

func compareInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// decodeSegment decodes one segment. Linear segments are what lvm2 writes
// as "striped" with one stripe; any other kind is noted on the LV.
func decodeSegment(sec *section, where string, lv *LogicalVolume) (Segment, error) {
	var s Segment
	var err error
	if s.StartExtent, err = sec.int("start_extent", where); err != nil {
		return s, err
	}
	if s.ExtentCount, err = sec.int("extent_count", where); err != nil {
		return s, err
	}
	if s.StartExtent > 1<<53 || s.ExtentCount == 0 || s.ExtentCount > 1<<53 {
		return s, fmt.Errorf("%s: extents %d+%d are out of range", where, s.StartExtent, s.ExtentCount)
	}
	if s.Type, err = sec.str("type", where); err != nil {
		return s, err
	}
	stripes, _ := sec.int("stripe_count", where)
	if s.Type != "striped" || stripes != 1 {
		if lv.unsupported == "" {
			lv.unsupported = s.Type
			if s.Type == "striped" {
				lv.unsupported = fmt.Sprintf("striped (%d stripes)", stripes)
			}
		}
		return s, nil
	}
	it := sec.get("stripes")
	if it == nil || it.val == nil || !it.val.isList || len(it.val.list) != 2 ||
		it.val.list[0].isNum || it.val.list[0].isFloat || !it.val.list[1].isNum || it.val.list[1].num < 0 {
		return s, fmt.Errorf("%s: stripes is not [\"pvN\", extent]", where)
	}
	s.pvKey = it.val.list[0].str
	s.PVExtent = it.val.list[1].num
	if s.PVExtent > 1<<53 {
		return s, fmt.Errorf("%s: PV extent %d is out of range", where, s.PVExtent)
	}
	return s, nil
}
