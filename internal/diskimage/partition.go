package diskimage

import (
	"errors"
	"fmt"
	"io"
)

// Partition table schemes reported in Table.Scheme.
const (
	SchemeGPT  = "gpt"
	SchemeMBR  = "mbr"
	SchemeNone = "none" // a filesystem on the whole disk
)

// Table is a disk's partition table.
type Table struct {
	Scheme     string
	SectorSize int64
	Partitions []Partition
	// Warnings tell about damage that was worked around, such as a
	// corrupted primary GPT replaced by the backup.
	Warnings []string

	diskSignature uint32 // MBR only
}

// Partition is one partition, with the filesystem found in it.
type Partition struct {
	// Number is the Linux partition number (sdaN); 0 for the whole-disk
	// pseudo-partition of Scheme "none".
	Number      int
	Start, Size int64  // bytes
	Name        string // GPT partition name
	TypeGUID    string // GPT type, lowercase
	MBRType     byte
	// Filesystem is sniffed from the superblock: ext2, ext3, ext4, jbd,
	// xfs, btrfs, vfat, swap, LVM2_member, crypto_LUKS, squashfs or "".
	Filesystem string
	FSLabel    string
	// FSUUID is the filesystem's UUID as blkid prints it (what fstab's
	// UUID= names); "" when it has none or is not known.
	FSUUID string
	// PartUUID is what fstab's PARTUUID= names: the GPT partition GUID,
	// or the MBR disk signature and partition number (1234abcd-02).
	PartUUID string
	// NeedsRecovery: the ext3/4 journal holds changes not yet written,
	// as a filesystem not cleanly unmounted does.
	NeedsRecovery bool
}

// Section reads the partition's bytes from the disk r.
func (p Partition) Section(r io.ReaderAt) *io.SectionReader {
	return io.NewSectionReader(r, p.Start, p.Size)
}

// ReadPartitions reads the partition table of a disk of the given size:
// GPT (512- or 4096-byte sectors, falling back to the backup header when the
// primary is damaged), MBR with logical partitions, or a filesystem
// spanning the whole disk.
func ReadPartitions(r io.ReaderAt, size int64) (*Table, error) {
	if size < 1024 {
		return nil, fmt.Errorf("disk of %d bytes is too small to hold a partition table", size)
	}
	t, err := readTable(r, size)
	if err != nil {
		return nil, err
	}
	buf := make([]byte, sniffSize)
	for i := range t.Partitions {
		p := &t.Partitions[i]
		info, err := sniffFilesystem(p.Section(r), buf)
		if err != nil {
			return nil, fmt.Errorf("partition %d: %w", p.Number, err)
		}
		p.Filesystem, p.FSLabel, p.FSUUID, p.NeedsRecovery = info.fs, info.label, info.uuid, info.needsRecovery
	}
	return t, nil
}

func readTable(r io.ReaderAt, size int64) (*Table, error) {
	for _, ss := range gptSectorSizes {
		if hasMagicAt(r, size, ss, gptSignature) {
			return readGPT(r, size, ss)
		}
	}
	mbr, err := readSector(r, 0, 512)
	if err != nil {
		return nil, fmt.Errorf("read MBR: %w", err)
	}
	if isMBR(mbr) && hasEntries(mbr) {
		if hasProtectiveEntry(mbr) {
			return readBackupGPTOnly(r, size)
		}
		return readMBR(r, size, mbr)
	}
	// A FAT boot sector looks like an empty MBR, so an empty MBR only
	// counts when no filesystem starts at sector 0.
	info, err := sniffFilesystem(io.NewSectionReader(r, 0, size), make([]byte, sniffSize))
	if err != nil {
		return nil, err
	}
	if info.fs != "" {
		return &Table{Scheme: SchemeNone, SectorSize: 512, Partitions: []Partition{{Number: 0, Start: 0, Size: size}}}, nil
	}
	if t, err := readBackupGPTOnly(r, size); err == nil {
		return t, nil
	}
	if isMBR(mbr) {
		return &Table{Scheme: SchemeMBR, SectorSize: mbrSectorSize}, nil
	}
	return nil, errors.New("no partition table (GPT or MBR) and no filesystem found on the disk")
}

func readSector(r io.ReaderAt, off, n int64) ([]byte, error) {
	b := make([]byte, n)
	if _, err := r.ReadAt(b, off); err != nil {
		return nil, err
	}
	return b, nil
}
