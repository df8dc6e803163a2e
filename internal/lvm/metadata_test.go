package lvm

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"testing"
)

// groupText is one volume group's metadata with a single LV of the given
// segment sections.
func groupText(segments string) string {
	return `vg {
	id = "vg-uuid"
	seqno = 3
	extent_size = 8192
	physical_volumes { pv0 { id = "pv-uuid" device = "/dev/sda2" pe_start = 2048 pe_count = 100 } }
	logical_volumes {
		hidden_part { id = "h" status = ["READ"] segment1 { start_extent = 0 extent_count = 1 type = "striped" stripe_count = 1 stripes = ["pv0", 50] } }
		data { id = "lv-uuid" status = ["READ", "WRITE", "VISIBLE"] ` + segments + ` }
	}
}`
}

func TestOtherSegmentTypesAreRefusedNamingTheLVAndType(t *testing.T) {
	for _, typ := range []string{"thin", "thin-pool", "raid1", "raid5", "mirror", "cache", "vdo", "snapshot", "error", "zero"} {
		g, err := decodeMetadata([]byte(groupText(fmt.Sprintf(`segment1 { start_extent = 0 extent_count = 4 type = %q }`, typ))))
		if err != nil {
			t.Fatalf("%s: %v", typ, err)
		}
		if len(g.lvs) != 1 {
			t.Fatalf("%s: %d visible LVs, want data only (hidden parts are not listed)", typ, len(g.lvs))
		}
		vg := assemble(g, nil, &Set{})
		_, err = vg.LogicalVolumes[0].Open()
		if err == nil || !strings.Contains(err.Error(), "vg/data") || !strings.Contains(err.Error(), typ) {
			t.Errorf("%s: Open = %v, want an error naming vg/data and the type", typ, err)
		}
	}
}

func TestLinearSegmentsMustCoverTheVolume(t *testing.T) {
	gap := `segment1 { start_extent = 0 extent_count = 2 type = "striped" stripe_count = 1 stripes = ["pv0", 0] }
		segment2 { start_extent = 3 extent_count = 2 type = "striped" stripe_count = 1 stripes = ["pv0", 5] }`
	if _, err := decodeMetadata([]byte(groupText(gap))); err == nil || !strings.Contains(err.Error(), "unmapped") {
		t.Errorf("a gap between segments: %v, want an error", err)
	}
	if _, err := decodeMetadata([]byte(groupText(""))); err == nil {
		t.Error("an LV without segments must be an error")
	}
	bad := `segment1 { start_extent = 0 extent_count = 2 type = "striped" stripe_count = 1 stripes = [0, "pv0"] }`
	if _, err := decodeMetadata([]byte(groupText(bad))); err == nil {
		t.Error("stripes of the wrong shape must be an error")
	}
}

func TestExtentsBeyondTheDeviceAreAnError(t *testing.T) {
	g, err := decodeMetadata([]byte(groupText(`segment1 { start_extent = 0 extent_count = 4 type = "striped" stripe_count = 1 stripes = ["pv0", 90] }`)))
	if err != nil {
		t.Fatal(err)
	}
	// A 10 MiB device: 94 extents of 4 MiB after pe_start cannot be there.
	pv := &PhysicalVolume{UUID: "pv-uuid", dev: Device{Name: "partition 2", R: bytes.NewReader(nil), Size: 10 << 20}}
	vg := assemble(g, []*PhysicalVolume{pv}, &Set{})
	_, err = vg.LogicalVolumes[0].Open()
	if err == nil || !strings.Contains(err.Error(), "beyond the end") || !strings.Contains(err.Error(), "vg/data") {
		t.Errorf("Open = %v, want an error about extents beyond the device", err)
	}
}

// realPV is the first seed PV, zero-padded to its device size.
func realPV(t *testing.T) []byte {
	t.Helper()
	p := make([]byte, fuzzDeviceSize)
	copy(p, seedPVs(t)[0])
	return p
}

func scanBytes(p []byte) *Set {
	return Scan([]Device{{Name: "pv", R: bytes.NewReader(p), Size: int64(len(p))}})
}

func TestDamagedLabelsAndHeadersAreErrors(t *testing.T) {
	le := binary.LittleEndian
	label := func(p []byte) []byte { return p[512:1024] } // lvm2 writes it in sector 1
	for name, damage := range map[string]func(p []byte){
		"label checksum": func(p []byte) { label(p)[100] ^= 1 },
		"label sector number": func(p []byte) {
			le.PutUint64(label(p)[8:], 3)
			le.PutUint32(label(p)[16:], crc(initialCRC, label(p)[20:]))
		},
		"label type": func(p []byte) {
			copy(label(p)[24:], "LVM1 001")
			le.PutUint32(label(p)[16:], crc(initialCRC, label(p)[20:]))
		},
		"metadata area outside the device": func(p []byte) {
			le.PutUint64(label(p)[32+40+32:], fuzzDeviceSize) // the first metadata area's offset
			le.PutUint32(label(p)[16:], crc(initialCRC, label(p)[20:]))
		},
		"header checksum": func(p []byte) { p[4096+100] ^= 1 },
		"text bigger than its area": func(p []byte) {
			le.PutUint64(p[4096+48:], maxMetadataBytes+1)
			le.PutUint32(p[4096:], crc(initialCRC, p[4096+4:4096+512]))
		},
	} {
		p := realPV(t)
		damage(p)
		set := scanBytes(p)
		t.Logf("%s: %v", name, set.Problems)
		if len(set.Groups) != 0 || len(set.Problems) == 0 {
			t.Errorf("%s: groups %d, problems %v; want no group and a problem", name, len(set.Groups), set.Problems)
		}
	}
	if set := scanBytes(realPV(t)); len(set.Groups) != 1 || len(set.Problems) != 0 {
		t.Fatalf("the undamaged seed: %d groups, %v", len(set.Groups), set.Problems)
	}
	if _, err := ReadPhysicalVolume(Device{Name: "zeros", R: bytes.NewReader(make([]byte, 8192)), Size: 8192}); !errors.Is(err, ErrNoLabel) {
		t.Errorf("a device without a label: %v, want ErrNoLabel", err)
	}
}

// TestMetadataThatWrapsAroundTheAreaIsRead puts the current text across
// the end of the metadata area, where lvm2 continues it right after the
// area's header.
func TestMetadataThatWrapsAroundTheAreaIsRead(t *testing.T) {
	le := binary.LittleEndian
	p := realPV(t)
	const mda = 4096
	hdr := p[mda : mda+512]
	areaSize := le.Uint64(hdr[32:])
	off, size := le.Uint64(hdr[40:]), le.Uint64(hdr[48:])
	text := bytes.Clone(p[mda+off : mda+off+size])
	newOff := areaSize - 100
	copy(p[mda+newOff:mda+areaSize], text[:100])
	copy(p[mda+512:], text[100:])
	le.PutUint64(hdr[40:], newOff)
	le.PutUint32(hdr, crc(initialCRC, hdr[4:]))
	set := scanBytes(p)
	if len(set.Groups) != 1 || len(set.Problems) != 0 {
		t.Errorf("wrapped text: %d groups, problems %v", len(set.Groups), set.Problems)
	}
}
