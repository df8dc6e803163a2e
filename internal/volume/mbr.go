package volume

import (
	"encoding/binary"
	"fmt"
	"io"
)

const (
	mbrSectorSize    = 512
	mbrEntriesOffset = 446
	// mbrSignatureOffset holds the disk signature Linux builds PARTUUIDs of.
	mbrSignatureOffset = 440
	mbrTypeGPT         = 0xee
	// maxLogical bounds the extended partition's EBR chain; Linux stops
	// well before this.
	maxLogical = 256
)

type mbrEntry struct {
	boot  byte
	typ   byte
	start int64 // sectors
	count int64
}

func mbrEntries(sector []byte) [4]mbrEntry {
	var es [4]mbrEntry
	for i := range es {
		b := sector[mbrEntriesOffset+16*i:]
		es[i] = mbrEntry{
			boot: b[0], typ: b[4],
			start: int64(binary.LittleEndian.Uint32(b[8:])),
			count: int64(binary.LittleEndian.Uint32(b[12:])),
		}
	}
	return es
}

// isMBR checks the boot signature and that every entry's boot flag is
// valid, which tells an MBR from a FAT boot sector (also signed 0x55AA).
func isMBR(sector []byte) bool {
	if sector[510] != 0x55 || sector[511] != 0xaa {
		return false
	}
	for _, e := range mbrEntries(sector) {
		if e.boot != 0 && e.boot != 0x80 {
			return false
		}
	}
	return true
}

func hasEntries(sector []byte) bool {
	for _, e := range mbrEntries(sector) {
		if e.typ != 0 && e.count != 0 {
			return true
		}
	}
	return false
}

func hasProtectiveEntry(sector []byte) bool {
	for _, e := range mbrEntries(sector) {
		if e.typ == mbrTypeGPT {
			return true
		}
	}
	return false
}

func isExtended(typ byte) bool { return typ == 0x05 || typ == 0x0f || typ == 0x85 }

func readMBR(r io.ReaderAt, size int64, sector []byte) (*Table, error) {
	t := &Table{Scheme: SchemeMBR, SectorSize: mbrSectorSize, diskSignature: binary.LittleEndian.Uint32(sector[mbrSignatureOffset:])}
	total := size / mbrSectorSize
	var ext *mbrEntry
	for i, e := range mbrEntries(sector) {
		if e.typ == 0 || e.count == 0 {
			continue
		}
		if isExtended(e.typ) {
			if ext == nil {
				ext = &e
			}
			continue
		}
		t.addMBR(i+1, e, 0, total)
	}
	if ext != nil {
		t.readLogical(r, *ext, total)
	}
	return t, nil
}

// addMBR adds a partition starting base+e.start, clipped to the disk.
func (t *Table) addMBR(number int, e mbrEntry, base, total int64) {
	start, end := base+e.start, base+e.start+e.count
	if e.start == 0 || start >= total {
		t.Warnings = append(t.Warnings, fmt.Sprintf("MBR partition %d (sectors %d..%d) lies outside the disk of %d sectors; ignored", number, start, end-1, total))
		return
	}
	if end > total {
		t.Warnings = append(t.Warnings, fmt.Sprintf("MBR partition %d ends at sector %d, past the end of the disk (%d sectors); it is cut short", number, end-1, total))
		end = total
	}
	t.Volumes = append(t.Volumes, Volume{
		Number: number, Start: start * mbrSectorSize, Size: (end - start) * mbrSectorSize, MBRType: e.typ,
		PartUUID: fmt.Sprintf("%08x-%02x", t.diskSignature, number),
	})
}

// readLogical follows the chain of extended boot records. Each link must
// stay inside the extended partition and visit a new sector, and the chain
// is bounded, so a looping or hostile chain ends with a warning.
func (t *Table) readLogical(r io.ReaderAt, ext mbrEntry, total int64) {
	extStart, extEnd := ext.start, min(ext.start+ext.count, total)
	ebr := extStart
	visited := map[int64]bool{}
	for n := 0; n < maxLogical; n++ {
		visited[ebr] = true
		sector, err := readSector(r, ebr*mbrSectorSize, mbrSectorSize)
		if err != nil || sector[510] != 0x55 || sector[511] != 0xaa {
			t.Warnings = append(t.Warnings, fmt.Sprintf("extended boot record at sector %d is unreadable or unsigned; logical partitions from %d on are ignored", ebr, 5+n))
			return
		}
		es := mbrEntries(sector)
		if es[0].typ != 0 && es[0].count != 0 {
			t.addMBR(5+n, es[0], ebr, total)
		}
		next := extStart + es[1].start
		if !isExtended(es[1].typ) || es[1].start == 0 {
			return
		}
		if visited[next] || next >= extEnd {
			t.Warnings = append(t.Warnings, fmt.Sprintf("extended boot record at sector %d links to sector %d, outside the extended partition or back into the chain; chain stopped", ebr, next))
			return
		}
		ebr = next
	}
	t.Warnings = append(t.Warnings, fmt.Sprintf("more than %d logical partitions; the rest are ignored", maxLogical))
}
