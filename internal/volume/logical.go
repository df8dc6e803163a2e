package volume

import (
	"fmt"
	"io"

	"github.com/c34478be/packer-plugin-maas/internal/filesystem"
	"github.com/c34478be/packer-plugin-maas/internal/lvm"
)

// DiskRange is a run of the disk's bytes.
type DiskRange struct{ Start, Length int64 }

// logical is what a Volume of KindLogical needs to read its bytes.
type logical struct {
	lv *lvm.LogicalVolume
	// pvs are the partitions (or the disk) the scan was given, by device
	// name, to be seen again through the reader handed to Open.
	pvs map[string]DiskRange
	// extents are the LV's bytes on the disk, in LV order.
	extents []DiskRange
}

// Open gives the volume's bytes read from the disk r, and their size: a
// range of the disk for a partition, the extents mapped onto the disk for a
// logical volume. An LV lvm cannot read (a type other than linear) is
// lvm's error naming it.
func (v Volume) Open(r io.ReaderAt) (io.ReaderAt, int64, error) {
	if v.Kind != KindLogical {
		return io.NewSectionReader(r, v.Start, v.Size), v.Size, nil
	}
	if v.OpenError != nil {
		return nil, 0, v.OpenError
	}
	if v.logical == nil {
		return nil, 0, fmt.Errorf("logical volume %s/%s was not found by a scan of the disk", v.VGName, v.LVName)
	}
	readers := map[string]io.ReaderAt{}
	for name, rg := range v.logical.pvs {
		readers[name] = io.NewSectionReader(r, rg.Start, rg.Length)
	}
	lv, err := v.logical.lv.OpenOn(readers)
	if err != nil {
		return nil, 0, err
	}
	return lv, lv.Size(), nil
}

// DiskRanges are where the volume's bytes lie on the disk: its own range
// for a partition, its extents for a logical volume (none when it cannot
// be read).
func (v Volume) DiskRanges() []DiskRange {
	if v.Kind != KindLogical {
		return []DiskRange{{v.Start, v.Size}}
	}
	if v.logical == nil {
		return nil
	}
	return v.logical.extents
}

// Same reports whether v and w are the same volume of a disk.
func (v Volume) Same(w Volume) bool {
	if v.Kind == KindLogical || w.Kind == KindLogical {
		return v.Kind == w.Kind && v.VGName == w.VGName && v.LVName == w.LVName
	}
	return v.Kind == w.Kind && v.Number == w.Number && v.Start == w.Start
}

// listLogical scans the LVM2 physical volumes among the volumes for their
// groups, and lists each group's visible logical volumes with the
// filesystem on it. Problems lvm passed over become warnings.
func listLogical(r io.ReaderAt, volumes []Volume) (lvs []Volume, warnings []string, err error) {
	var devices []lvm.Device
	pvs := map[string]DiskRange{}
	for _, v := range volumes {
		if v.Filesystem != filesystem.LVM {
			continue
		}
		name := "disk"
		if v.Kind == KindPartition {
			name = fmt.Sprintf("partition %d", v.Number)
		}
		devices = append(devices, lvm.Device{Name: name, R: io.NewSectionReader(r, v.Start, v.Size), Size: v.Size})
		pvs[name] = DiskRange{v.Start, v.Size}
	}
	if len(devices) == 0 {
		return nil, nil, nil
	}
	set := lvm.Scan(devices)
	for _, p := range set.Problems {
		warnings = append(warnings, "LVM: "+p.Error())
	}
	for _, vg := range set.Groups {
		for _, lv := range vg.LogicalVolumes {
			v, err := logicalVolume(lv, pvs)
			if err != nil {
				return nil, warnings, err
			}
			lvs = append(lvs, v)
		}
	}
	return lvs, warnings, nil
}

// logicalVolume is the Volume of an LV, its filesystem identified; an LV
// that cannot be opened is listed with the reason.
func logicalVolume(lv *lvm.LogicalVolume, pvs map[string]DiskRange) (Volume, error) {
	v := Volume{Kind: KindLogical, VGName: lv.VGName, LVName: lv.Name, Size: lv.Size}
	content, openErr := lv.Open()
	if openErr != nil {
		v.OpenError = openErr
		return v, nil //nolint:nilerr // listed, with why it cannot be read
	}
	l := &logical{lv: lv, pvs: pvs}
	for _, e := range content.Extents() {
		l.extents = append(l.extents, DiskRange{pvs[e.Device].Start + e.DeviceOffset, e.Length})
	}
	v.logical = l
	id, err := filesystem.Identify(content)
	if err != nil {
		return Volume{}, fmt.Errorf("logical volume %s/%s: %w", lv.VGName, lv.Name, err)
	}
	v.Filesystem, v.FSLabel, v.FSUUID, v.NeedsRecovery = id.Type, id.Label, id.UUID, id.NeedsRecovery
	return v, nil
}
