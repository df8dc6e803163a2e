// Package volume is the export's volume layer: it lists the volumes of a
// disk (the partitions of its GPT or MBR, or the disk itself when a
// filesystem spans it, and the linear logical volumes of the LVM2 physical
// volumes among them), names what each holds through the filesystem
// registry, and finds the ones an export reads: the root and a separate
// /boot.
//
// The disk is untrusted: tables are checked against the disk's size, and
// the number of partitions and of MBR logical partitions is bounded.
package volume

import (
	"errors"
	"fmt"
	"io"

	"github.com/c34478be/packer-plugin-maas/internal/filesystem"
)

// Partition table schemes reported in Table.Scheme.
const (
	SchemeGPT  = "gpt"
	SchemeMBR  = "mbr"
	SchemeNone = "none" // a filesystem on the whole disk
)

// Table is what a disk holds: its partition table and the volumes in it.
type Table struct {
	Scheme     string
	SectorSize int64
	Volumes    []Volume
	// Warnings tell about damage that was worked around, such as a
	// corrupted primary GPT replaced by the backup.
	Warnings []string

	diskSignature uint32 // MBR only
}

// Kind is what a volume is on its disk.
type Kind int

// Kinds of volume. A partition is the zero Kind.
const (
	KindPartition Kind = iota
	KindWholeDisk      // a filesystem on the disk itself (Scheme "none")
	KindLogical        // an LVM2 logical volume on the disk's physical volumes
)

// Volume is what may hold a filesystem: a partition, the whole disk when
// it has no partition table, or a logical volume on the disk's LVM2
// physical volumes; with the filesystem its superblock names.
type Volume struct {
	Kind Kind
	// Number is the Linux partition number (sdaN); 0 for the whole disk
	// and for a logical volume.
	Number int
	// Start is the offset on the disk (0 for a logical volume, whose
	// bytes lie where DiskRanges says); Size is the volume's size.
	Start, Size int64  // bytes
	Name        string // GPT partition name
	TypeGUID    string // GPT type, lowercase
	MBRType     byte
	// Filesystem is what filesystem.Identify names: ext2, ext3, ext4,
	// jbd, xfs, btrfs, vfat, swap, LVM2_member, crypto_LUKS, squashfs
	// or "".
	Filesystem string
	FSLabel    string
	// FSUUID is the filesystem's UUID as blkid prints it (what fstab's
	// UUID= names); "" when it has none or is not known.
	FSUUID string
	// PartUUID is what fstab's PARTUUID= names: the GPT partition GUID,
	// or the MBR disk signature and partition number (1234abcd-02).
	PartUUID string
	// NeedsRecovery: the filesystem's journal holds changes not yet
	// written, as a filesystem not cleanly unmounted does.
	NeedsRecovery bool
	// VGName and LVName name a logical volume (rl, root).
	VGName, LVName string
	// OpenError is why a logical volume cannot be read (a type other than
	// linear); what it holds is then unknown.
	OpenError error

	logical *logical
}

// List reads the volumes of a disk of the given size: the partitions of
// its GPT (512- or 4096-byte sectors, falling back to the backup header
// when the primary is damaged) or MBR (with logical partitions), or the
// disk itself when a filesystem spans it; then the linear logical volumes
// of the LVM2 physical volumes among them; and names the filesystem each
// holds.
func List(r io.ReaderAt, size int64) (*Table, error) {
	if size < 1024 {
		return nil, fmt.Errorf("disk of %d bytes is too small to hold a partition table", size)
	}
	t, err := readTable(r, size)
	if err != nil {
		return nil, err
	}
	for i := range t.Volumes {
		v := &t.Volumes[i]
		id, err := filesystem.Identify(io.NewSectionReader(r, v.Start, v.Size))
		if err != nil {
			return nil, fmt.Errorf("partition %d: %w", v.Number, err)
		}
		v.Filesystem, v.FSLabel, v.FSUUID, v.NeedsRecovery = id.Type, id.Label, id.UUID, id.NeedsRecovery
	}
	lvs, warnings, err := listLogical(r, t.Volumes)
	if err != nil {
		return nil, err
	}
	t.Volumes = append(t.Volumes, lvs...)
	t.Warnings = append(t.Warnings, warnings...)
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
	id, err := filesystem.Identify(io.NewSectionReader(r, 0, size))
	if err != nil {
		return nil, err
	}
	if id.Type != "" {
		return &Table{Scheme: SchemeNone, SectorSize: 512, Volumes: []Volume{{Kind: KindWholeDisk, Start: 0, Size: size}}}, nil
	}
	if t, err := readBackupGPTOnly(r, size); err == nil {
		return t, nil
	}
	if isMBR(mbr) {
		return &Table{Scheme: SchemeMBR, SectorSize: mbrSectorSize}, nil
	}
	return nil, errors.New("no partition table (GPT or MBR) and no filesystem found on the disk")
}

// hasMagicAt reports whether the disk holds magic at offset.
func hasMagicAt(r io.ReaderAt, size, offset int64, magic string) bool {
	if offset+int64(len(magic)) > size {
		return false
	}
	buf := make([]byte, len(magic))
	if _, err := r.ReadAt(buf, offset); err != nil {
		return false
	}
	return string(buf) == magic
}

func readSector(r io.ReaderAt, off, n int64) ([]byte, error) {
	b := make([]byte, n)
	if _, err := r.ReadAt(b, off); err != nil {
		return nil, err
	}
	return b, nil
}
