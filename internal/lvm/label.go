package lvm

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
)

const (
	sectorSize = 512
	// labelScanSectors is how many leading sectors may hold the label.
	labelScanSectors = 4
	labelHeaderSize  = 32
	mdaHeaderSize    = 512
	// initialCRC seeds lvm2's checksums (a CRC-32 without final inversion).
	initialCRC = 0xf597a6cf
	// rawLocnIgnored marks a metadata area lvm2 was told not to use.
	rawLocnIgnored = 1
	// maxMetadataAreas is lvm2's limit of metadata areas per PV: one at
	// its start and, optionally, one at its end.
	maxMetadataAreas = 2
	// maxMetadataBytes caps one copy of the text metadata; lvm2's own
	// areas are 1 MiB by default and a group's text is a few KiB per LV.
	maxMetadataBytes = 16 << 20
)

var (
	labelID   = []byte("LABELONE")
	labelType = []byte("LVM2 001")
	mdaMagic  = []byte(" LVM2 x[5A%r0N*>")
)

// ErrNoLabel is returned by ReadPhysicalVolume for a device that is not an
// LVM2 physical volume.
var ErrNoLabel = errors.New("no LVM2 label")

// crc is lvm2's checksum: CRC-32 (IEEE, reflected) from state, without the
// final inversion.
func crc(state uint32, p []byte) uint32 {
	return ^crc32.Update(^state, crc32.IEEETable, p)
}

// area is a byte range of the device: data or metadata.
type area struct {
	Offset, Size int64
}

// PhysicalVolume is the label of a PV and the metadata copies found on it.
type PhysicalVolume struct {
	UUID       string // as lvm2 prints it, with dashes
	DeviceSize int64  // bytes, as recorded in the PV header
	// Copies are the text metadata copies that passed their checksums.
	Copies []metadataCopy
	// Skipped says why metadata areas were passed over (bad checksum...).
	Skipped []error

	dev Device
}

// metadataCopy is one copy of a group's text metadata.
type metadataCopy struct {
	text []byte
	area area
}

// ReadPhysicalVolume reads the PV label of a device and every metadata copy
// its metadata areas hold. It returns ErrNoLabel when the device has no
// LVM2 label; a label or PV header that is damaged is another error.
func ReadPhysicalVolume(dev Device) (*PhysicalVolume, error) {
	if dev.Size < labelScanSectors*sectorSize {
		return nil, ErrNoLabel
	}
	head := make([]byte, labelScanSectors*sectorSize)
	if _, err := dev.R.ReadAt(head, 0); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%s: reading the LVM label: %w", dev.Name, err)
	}
	for s := 0; s < labelScanSectors; s++ {
		sector := head[s*sectorSize : (s+1)*sectorSize]
		if !bytes.Equal(sector[:8], labelID) {
			continue
		}
		pv, err := decodeLabelSector(sector, uint64(s), dev.Size)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", dev.Name, err)
		}
		pv.dev = dev
		return pv, nil
	}
	return nil, ErrNoLabel
}

// decodeLabelSector decodes the label header and PV header in the sector
// numbered sectorNr, checked against the device's size. The metadata areas
// are read by the caller.
func decodeLabelSector(sector []byte, sectorNr uint64, devSize int64) (*PhysicalVolume, error) {
	le := binary.LittleEndian
	if got := le.Uint64(sector[8:]); got != sectorNr {
		return nil, fmt.Errorf("LVM label in sector %d says it is in sector %d", sectorNr, got)
	}
	if sum := crc(initialCRC, sector[20:]); sum != le.Uint32(sector[16:]) {
		return nil, fmt.Errorf("LVM label in sector %d: stored checksum %#08x does not match its content (%#08x)", sectorNr, le.Uint32(sector[16:]), sum)
	}
	if !bytes.Equal(sector[24:32], labelType) {
		return nil, fmt.Errorf("LVM label of type %q, only %q is read", sector[24:32], labelType)
	}
	off := le.Uint32(sector[20:])
	if off < labelHeaderSize || off > sectorSize-40 {
		return nil, fmt.Errorf("LVM label: PV header at offset %d is outside the label sector", off)
	}
	h := sector[off:]
	pv := &PhysicalVolume{UUID: formatUUID(h[:32])}
	devSizeField := le.Uint64(h[32:])
	if devSizeField > uint64(1<<62) {
		return nil, fmt.Errorf("PV %s: device size %d is out of range", pv.UUID, devSizeField)
	}
	pv.DeviceSize = int64(devSizeField)
	rest := h[40:]
	_, rest, err := readAreas(rest, devSize, pv.UUID, "data")
	if err != nil {
		return nil, err
	}
	mdas, _, err := readAreas(rest, devSize, pv.UUID, "metadata")
	if err != nil {
		return nil, err
	}
	if len(mdas) > maxMetadataAreas {
		return nil, fmt.Errorf("PV %s: %d metadata areas, lvm2 writes at most %d", pv.UUID, len(mdas), maxMetadataAreas)
	}
	for _, a := range mdas {
		pv.Copies = append(pv.Copies, metadataCopy{area: a})
	}
	return pv, nil
}

// readAreas reads a zero-terminated list of disk locations. A list that
// runs out of the sector unterminated is an error; so is a metadata area
// outside the device. Data areas are not used (pe_start in the metadata
// says where extents start) and so are only bounded.
func readAreas(p []byte, devSize int64, uuid, kind string) ([]area, []byte, error) {
	var areas []area
	for {
		if len(p) < 16 {
			return nil, nil, fmt.Errorf("PV %s: %s area list runs past the label sector", uuid, kind)
		}
		off, size := binary.LittleEndian.Uint64(p), binary.LittleEndian.Uint64(p[8:])
		p = p[16:]
		if off == 0 {
			return areas, p, nil
		}
		if kind == "metadata" && (size < mdaHeaderSize || off > uint64(devSize) || size > uint64(devSize)-off) {
			return nil, nil, fmt.Errorf("PV %s: metadata area at %d of %d bytes is outside the %d-byte device", uuid, off, size, devSize)
		}
		areas = append(areas, area{Offset: int64(off), Size: int64(size)})
	}
}

// formatUUID prints a 32-character LVM UUID the way lvm2 does, in groups of
// 6-4-4-4-4-4-6.
func formatUUID(raw []byte) string {
	s := string(bytes.TrimRight(raw, "\x00"))
	if len(s) != 32 {
		return s
	}
	groups := []int{6, 4, 4, 4, 4, 4, 6}
	var b []byte
	for i, n := range groups {
		if i > 0 {
			b = append(b, '-')
		}
		b = append(b, s[:n]...)
		s = s[n:]
	}
	return string(b)
}
