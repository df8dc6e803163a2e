package volume

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"strings"
	"unicode/utf16"
)

const (
	gptSignature    = "EFI PART"
	gptMinHeader    = 92
	gptMinEntrySize = 128
	gptMaxEntrySize = 4096
	// gptMaxArray bounds the entry array; sgdisk's largest is 1 MiB.
	gptMaxArray = 4 << 20
	// maxPartitions is Linux's limit (DISK_MAX_PARTS); it also bounds how
	// many superblocks are read.
	maxPartitions = 256
)

var gptSectorSizes = []int64{512, 4096}

type gptHeader struct {
	lba         int64 // where this header was read
	myLBA       int64
	altLBA      int64
	entriesLBA  int64
	numEntries  int64
	entrySize   int64
	entriesCRC  uint32
	sectorSize  int64
	totalSector int64
}

// readGPT reads the GPT whose primary header signature sits at LBA 1,
// using the backup when the primary header or its entries are damaged.
func readGPT(r io.ReaderAt, size, ss int64) (*Table, error) {
	total := size / ss
	h, err := readGPTHeader(r, 1, ss, total)
	if err == nil {
		var parts []Volume
		var warns []string
		if parts, warns, err = readGPTEntries(r, h); err == nil {
			return &Table{Scheme: SchemeGPT, SectorSize: ss, Volumes: parts, Warnings: warns}, nil
		}
	}
	primaryErr := err
	backupLBA := total - 1
	if h != nil && h.altLBA > 1 && h.altLBA < total {
		backupLBA = h.altLBA
	}
	t, err := readBackupGPT(r, ss, total, backupLBA)
	if err != nil {
		return nil, fmt.Errorf("GPT with %d-byte sectors is damaged: primary: %v; backup: %v", ss, primaryErr, err)
	}
	t.Warnings = append([]string{fmt.Sprintf("the primary GPT is damaged (%v); using the backup GPT at LBA %d", primaryErr, backupLBA)}, t.Warnings...)
	return t, nil
}

// readBackupGPTOnly looks for a backup GPT at the end of the disk when no
// primary header is found at all.
func readBackupGPTOnly(r io.ReaderAt, size int64) (*Table, error) {
	var errs []error
	for _, ss := range gptSectorSizes {
		t, err := readBackupGPT(r, ss, size/ss, size/ss-1)
		if err == nil {
			t.Warnings = append([]string{fmt.Sprintf("no primary GPT header at LBA 1; using the backup GPT at LBA %d", size/ss-1)}, t.Warnings...)
			return t, nil
		}
		errs = append(errs, fmt.Errorf("%d-byte sectors: %w", ss, err))
	}
	return nil, fmt.Errorf("protective MBR found but no valid GPT: %w", errors.Join(errs...))
}

func readBackupGPT(r io.ReaderAt, ss, total, lba int64) (*Table, error) {
	h, err := readGPTHeader(r, lba, ss, total)
	if err != nil {
		return nil, err
	}
	parts, warns, err := readGPTEntries(r, h)
	if err != nil {
		return nil, err
	}
	return &Table{Scheme: SchemeGPT, SectorSize: ss, Volumes: parts, Warnings: warns}, nil
}

func readGPTHeader(r io.ReaderAt, lba, ss, total int64) (*gptHeader, error) {
	if lba <= 0 || lba >= total {
		return nil, fmt.Errorf("GPT header LBA %d is outside the disk", lba)
	}
	b, err := readSector(r, lba*ss, ss)
	if err != nil {
		return nil, fmt.Errorf("read GPT header at LBA %d: %w", lba, err)
	}
	if string(b[:8]) != gptSignature {
		return nil, fmt.Errorf("no GPT signature at LBA %d", lba)
	}
	le := binary.LittleEndian
	hsize := int64(le.Uint32(b[12:]))
	if hsize < gptMinHeader || hsize > ss {
		return nil, fmt.Errorf("GPT header at LBA %d has invalid size %d", lba, hsize)
	}
	want := le.Uint32(b[16:])
	hdr := append([]byte(nil), b[:hsize]...)
	binary.LittleEndian.PutUint32(hdr[16:], 0)
	if got := crc32.ChecksumIEEE(hdr); got != want {
		return nil, fmt.Errorf("GPT header at LBA %d has a bad CRC (0x%08x, expected 0x%08x)", lba, got, want)
	}
	h := &gptHeader{
		lba: lba, myLBA: int64(le.Uint64(b[24:])), altLBA: int64(le.Uint64(b[32:])),
		entriesLBA: int64(le.Uint64(b[72:])), numEntries: int64(le.Uint32(b[80:])),
		entrySize: int64(le.Uint32(b[84:])), entriesCRC: le.Uint32(b[88:]),
		sectorSize: ss, totalSector: total,
	}
	return h, h.validate()
}

func (h *gptHeader) validate() error {
	switch {
	case h.myLBA != h.lba:
		return fmt.Errorf("GPT header at LBA %d says it is at LBA %d", h.lba, h.myLBA)
	case h.entrySize < gptMinEntrySize || h.entrySize > gptMaxEntrySize || h.entrySize%8 != 0:
		return fmt.Errorf("GPT header at LBA %d has invalid entry size %d", h.lba, h.entrySize)
	case h.numEntries*h.entrySize > gptMaxArray:
		return fmt.Errorf("GPT header at LBA %d declares %d entries of %d bytes, more than %d bytes", h.lba, h.numEntries, h.entrySize, gptMaxArray)
	case h.entriesLBA <= 0 || h.entriesLBA >= h.totalSector ||
		h.numEntries*h.entrySize > (h.totalSector-h.entriesLBA)*h.sectorSize:
		return fmt.Errorf("GPT entry array at LBA %d lies outside the disk", h.entriesLBA)
	}
	return nil
}

func readGPTEntries(r io.ReaderAt, h *gptHeader) ([]Volume, []string, error) {
	arr, err := readSector(r, h.entriesLBA*h.sectorSize, h.numEntries*h.entrySize)
	if err != nil {
		return nil, nil, fmt.Errorf("read GPT entries at LBA %d: %w", h.entriesLBA, err)
	}
	if got := crc32.ChecksumIEEE(arr); got != h.entriesCRC {
		return nil, nil, fmt.Errorf("GPT entries at LBA %d have a bad CRC (0x%08x, expected 0x%08x)", h.entriesLBA, got, h.entriesCRC)
	}
	var parts []Volume
	var warns []string
	for i := int64(0); i < h.numEntries; i++ {
		e := arr[i*h.entrySize : (i+1)*h.entrySize]
		typ := guidString(e[0:16])
		if typ == zeroGUID {
			continue
		}
		if len(parts) == maxPartitions {
			warns = append(warns, fmt.Sprintf("GPT has more than %d partitions; the rest are ignored", maxPartitions))
			break
		}
		p, warn := gptPartition(int(i+1), e, h)
		if warn != "" {
			warns = append(warns, warn)
		}
		if p.Size > 0 {
			p.TypeGUID, p.PartUUID = typ, guidString(e[16:32])
			parts = append(parts, p)
		}
	}
	return parts, warns, nil
}

// gptPartition converts one entry, clipping it to the disk; a partition
// that starts beyond the disk comes back with Size 0 and a warning.
func gptPartition(number int, e []byte, h *gptHeader) (Volume, string) {
	first, last := int64(binary.LittleEndian.Uint64(e[32:])), int64(binary.LittleEndian.Uint64(e[40:]))
	p := Volume{Number: number, Name: utf16Name(e[56:min(128, len(e))])}
	if first < 0 || last < first || first >= h.totalSector {
		return p, fmt.Sprintf("GPT partition %d (LBA %d..%d) lies outside the disk of %d sectors; ignored", number, uint64(first), uint64(last), h.totalSector)
	}
	var warn string
	if last >= h.totalSector {
		warn = fmt.Sprintf("GPT partition %d ends at LBA %d, past the end of the disk (%d sectors); it is cut short", number, last, h.totalSector)
		last = h.totalSector - 1
	}
	p.Start, p.Size = first*h.sectorSize, (last-first+1)*h.sectorSize
	return p, warn
}

const zeroGUID = "00000000-0000-0000-0000-000000000000"

// guidString formats a GUID stored in GPT's mixed-endian layout.
func guidString(b []byte) string {
	le := binary.LittleEndian
	return fmt.Sprintf("%08x-%04x-%04x-%x-%x", le.Uint32(b[0:]), le.Uint16(b[4:]), le.Uint16(b[6:]), b[8:10], b[10:16])
}

func utf16Name(b []byte) string {
	u := make([]uint16, 0, len(b)/2)
	for i := 0; i+1 < len(b); i += 2 {
		c := binary.LittleEndian.Uint16(b[i:])
		if c == 0 {
			break
		}
		u = append(u, c)
	}
	return strings.ToValidUTF8(string(utf16.Decode(u)), "\uFFFD")
}
