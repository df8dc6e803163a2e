package lvm

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fuzzDeviceSize is the size fuzzed devices claim: the seeds are the first
// 32 KiB of real 8 MiB PVs (one with a second metadata area at its end);
// the rest reads as zeros.
const fuzzDeviceSize = 8 << 20

// zeroPadded is data followed by zeros up to size.
type zeroPadded struct {
	data []byte
	size int64
}

func (z zeroPadded) ReadAt(p []byte, off int64) (int, error) {
	if off >= z.size {
		return 0, io.EOF
	}
	n := len(p)
	if int64(n) > z.size-off {
		n = int(z.size - off)
	}
	clear(p[:n])
	if off < int64(len(z.data)) {
		copy(p[:n], z.data[off:])
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func seedPVs(tb testing.TB) [][]byte {
	tb.Helper()
	paths, err := filepath.Glob("testdata/seed-pv*.bin.gz")
	if err != nil || len(paths) == 0 {
		tb.Fatalf("no PV seeds in testdata (testdata/mkseeds.sh makes them): %v", err)
	}
	var seeds [][]byte
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			tb.Fatal(err)
		}
		zr, err := gzip.NewReader(f)
		if err != nil {
			tb.Fatal(err)
		}
		data, err := io.ReadAll(zr)
		f.Close()
		if err != nil {
			tb.Fatal(err)
		}
		seeds = append(seeds, data)
	}
	return seeds
}

func seedMetadata(tb testing.TB) []byte {
	tb.Helper()
	text, err := os.ReadFile("testdata/seed-metadata.txt")
	if err != nil {
		tb.Fatal(err)
	}
	return text
}

// openAll scans a device and reads a little of every LV that opens.
func openAll(dev Device) {
	set := Scan([]Device{dev})
	buf := make([]byte, 4096)
	for _, vg := range set.Groups {
		for _, lv := range vg.LogicalVolumes {
			if v, err := lv.Open(); err == nil {
				_, _ = v.ReadAt(buf, 0)
				_, _ = v.ReadAt(buf, v.Size()-100)
			}
			_, _ = set.Find(vg.Name + "/" + lv.Name)
		}
	}
}

func FuzzReadPhysicalVolume(f *testing.F) {
	for _, s := range seedPVs(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		openAll(Device{Name: "fuzz", R: zeroPadded{data: data, size: fuzzDeviceSize}, Size: fuzzDeviceSize})
		// Again with the checksums made right, so that mutations reach the
		// structures behind them.
		fixed := fixChecksums(data)
		openAll(Device{Name: "fuzz", R: zeroPadded{data: fixed, size: fuzzDeviceSize}, Size: fuzzDeviceSize})
	})
}

func FuzzParseMetadata(f *testing.F) {
	f.Add(seedMetadata(f))
	f.Add([]byte(`vg { id = "x" seqno = 1 extent_size = 8 physical_volumes { pv0 { id = "p" pe_start = 8 pe_count = 4 } }
logical_volumes { lv { id = "l" status = ["VISIBLE"] segment1 { start_extent = 0 extent_count = 1 type = "thin" } } } }`))
	f.Add([]byte(`a = [ "e\"sc\\aped", -1, 1.5 ] # comment` + "\n" + `b { c { d = 'q' } }`))
	f.Add([]byte(strings.Repeat("a {\n", maxConfigDepth+2)))
	f.Add([]byte(groupText(`segment1 { start_extent = 0 extent_count = 2 type = "striped" stripe_count = 1 stripes = ["pv0", 0] }
		segment2 { start_extent = 3 extent_count = 2 type = "striped" stripe_count = 1 stripes = ["pv0", 5] }`)))
	f.Add([]byte(groupText(`segment1 { start_extent = 9007199254740992 extent_count = 9007199254740992 type = "striped" stripe_count = 1 stripes = ["pv0", 9007199254740992] }`)))
	f.Fuzz(func(t *testing.T, text []byte) {
		if g, err := decodeMetadata(text); err == nil {
			vg := assemble(g, nil, &Set{})
			for _, lv := range vg.LogicalVolumes {
				_, _ = lv.Open()
			}
		}
	})
}

// TestSeedsAreRealPhysicalVolumes keeps the seeds meaningful: each decodes
// into the group mkseeds.sh made.
func TestSeedsAreRealPhysicalVolumes(t *testing.T) {
	for i, s := range seedPVs(t) {
		set := Scan([]Device{{Name: "seed", R: zeroPadded{data: s, size: fuzzDeviceSize}, Size: fuzzDeviceSize}})
		if len(set.Groups) != 1 || set.Groups[0].Name != "my-vg" || len(set.Groups[0].LogicalVolumes) != 4 {
			t.Errorf("seed %d: groups %+v, problems %v; want my-vg with four LVs", i, set.Groups, set.Problems)
		}
	}
	g, err := decodeMetadata(seedMetadata(t))
	if err != nil || g.name != "my-vg" || len(g.lvs) != 4 {
		t.Errorf("seed metadata: %+v, %v", g, err)
	}
	if !bytes.Contains(seedMetadata(t), []byte("stripe_count = 2")) {
		t.Error("seed metadata lacks the striped LV")
	}
}

// fixChecksums returns a copy of a PV's first bytes with the label's, the
// metadata area headers' and their texts' checksums recomputed, wherever
// those lie within the data.
func fixChecksums(data []byte) []byte {
	p := bytes.Clone(data)
	le := binary.LittleEndian
	for s := 0; s < labelScanSectors && (s+1)*sectorSize <= len(p); s++ {
		sector := p[s*sectorSize : (s+1)*sectorSize]
		if !bytes.Equal(sector[:8], labelID) {
			continue
		}
		off := int(le.Uint32(sector[20:]))
		for i := off + 40; off >= labelHeaderSize && i+16 <= sectorSize; i += 16 {
			fixMetadataArea(p, le.Uint64(sector[i:]))
		}
		le.PutUint32(sector[16:], crc(initialCRC, sector[20:]))
		break
	}
	return p
}

// fixMetadataArea fixes the checksums of what may be a metadata area header
// at off.
func fixMetadataArea(p []byte, off uint64) {
	le := binary.LittleEndian
	if off == 0 || off > uint64(len(p)) || uint64(len(p))-off < mdaHeaderSize {
		return
	}
	hdr := p[off : off+mdaHeaderSize]
	if !bytes.Equal(hdr[4:20], mdaMagic) {
		return
	}
	textOff, textSize := le.Uint64(hdr[40:]), le.Uint64(hdr[48:])
	if start := off + textOff; textOff < uint64(len(p)) && start <= uint64(len(p)) && textSize <= uint64(len(p))-start {
		le.PutUint32(hdr[56:], crc(initialCRC, p[start:start+textSize]))
	}
	le.PutUint32(hdr, crc(initialCRC, hdr[4:]))
}
