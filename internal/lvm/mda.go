package lvm

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// rawLocation is where a metadata area's current text lies, relative to
// the area's start; the text may wrap around the area's end back to just
// after its header, since lvm2 writes the area as a ring.
type rawLocation struct {
	offset, size uint64
	checksum     uint32
	flags        uint32
}

// readCopies reads the text of every metadata area of the PV, keeping the
// copies whose header and text pass their checksums and noting in Skipped
// why the others were passed over.
func (pv *PhysicalVolume) readCopies() {
	areas := pv.Copies
	pv.Copies = nil
	for _, c := range areas {
		text, err := readMetadataArea(pv.dev.R, c.area)
		if err != nil {
			pv.Skipped = append(pv.Skipped, fmt.Errorf("%s: PV %s: metadata area at %d: %w", pv.dev.Name, pv.UUID, c.area.Offset, err))
			continue
		}
		if text != nil {
			pv.Copies = append(pv.Copies, metadataCopy{text: text, area: c.area})
		}
	}
}

// readMetadataArea returns the current text of the metadata area, or nil
// when the area holds none (a PV not in a group, or an ignored area).
func readMetadataArea(r io.ReaderAt, a area) ([]byte, error) {
	hdr := make([]byte, mdaHeaderSize)
	if _, err := r.ReadAt(hdr, a.Offset); err != nil {
		return nil, fmt.Errorf("reading its header: %w", err)
	}
	loc, err := decodeMetadataHeader(hdr, a)
	if err != nil || loc.size == 0 {
		return nil, err
	}
	first := min(loc.size, uint64(a.Size)-loc.offset)
	text := make([]byte, loc.size)
	if _, err := r.ReadAt(text[:first], a.Offset+int64(loc.offset)); err != nil {
		return nil, fmt.Errorf("reading its text: %w", err)
	}
	if first < loc.size {
		if _, err := r.ReadAt(text[first:], a.Offset+mdaHeaderSize); err != nil {
			return nil, fmt.Errorf("reading its text: %w", err)
		}
	}
	if sum := crc(initialCRC, text); sum != loc.checksum {
		return nil, fmt.Errorf("text: stored checksum %#08x does not match its content (%#08x)", loc.checksum, sum)
	}
	return bytes.TrimRight(text, "\x00"), nil
}

// decodeMetadataHeader checks a metadata area header and returns the
// location of its current text, checked to lie within the area and under
// maxMetadataBytes. A zero location means the area holds no text.
func decodeMetadataHeader(hdr []byte, a area) (rawLocation, error) {
	le := binary.LittleEndian
	if !bytes.Equal(hdr[4:20], mdaMagic) {
		return rawLocation{}, errors.New("no metadata area header (bad magic)")
	}
	if sum := crc(initialCRC, hdr[4:]); sum != le.Uint32(hdr) {
		return rawLocation{}, fmt.Errorf("header: stored checksum %#08x does not match its content (%#08x)", le.Uint32(hdr), sum)
	}
	if v := le.Uint32(hdr[20:]); v != 1 {
		return rawLocation{}, fmt.Errorf("metadata area version %d, only 1 is read", v)
	}
	if start := le.Uint64(hdr[24:]); start != uint64(a.Offset) {
		return rawLocation{}, fmt.Errorf("header says it starts at %d", start)
	}
	if size := le.Uint64(hdr[32:]); size != uint64(a.Size) {
		return rawLocation{}, fmt.Errorf("header says the area has %d bytes, the PV header %d", size, a.Size)
	}
	// The first raw location is the committed metadata; a second one, when
	// present, is a precommitted update that lvm2 reads only while it holds
	// its lock, never on a scan.
	l := hdr[40:]
	loc := rawLocation{offset: le.Uint64(l), size: le.Uint64(l[8:]), checksum: le.Uint32(l[16:]), flags: le.Uint32(l[20:])}
	if loc.offset == 0 || loc.flags&rawLocnIgnored != 0 {
		return rawLocation{}, nil
	}
	areaSize := uint64(a.Size)
	if loc.offset < mdaHeaderSize || loc.offset >= areaSize {
		return rawLocation{}, fmt.Errorf("text at offset %d is outside the %d-byte area", loc.offset, areaSize)
	}
	if loc.size > areaSize-mdaHeaderSize {
		return rawLocation{}, fmt.Errorf("text of %d bytes does not fit the %d-byte area", loc.size, areaSize)
	}
	if loc.size > maxMetadataBytes {
		return rawLocation{}, fmt.Errorf("text of %d bytes is over the %d-byte limit", loc.size, maxMetadataBytes)
	}
	return loc, nil
}
