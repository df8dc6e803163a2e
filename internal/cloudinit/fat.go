package cloudinit

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"slices"
	"strconv"
	"strings"
)

// The seed is a FAT12 file system with VFAT long names, written here rather
// than with mkfs.vfat and mtools, xorriso or cloud-localds: it is small,
// needs no root and no external tool. FAT12 is the simplest FAT; VFAT long
// names carry the names NoCloud wants ("user-data" does not fit 8.3), and
// every Linux kernel reads them.

const (
	sectorSize      = 512
	dirEntrySize    = 32
	reservedSectors = 1
	fatCopies       = 2
	// maxFAT12Clusters is the most clusters a FAT12 may have: with one more,
	// readers take the file system for FAT16.
	maxFAT12Clusters = 4084
	// minClusters keeps tiny seeds a plausible size for every FAT reader.
	minClusters = 16
	maxNameLen  = 255
	// maxRootEntries is the largest multiple of a sector's entries that the
	// 16-bit root entry count holds.
	maxRootEntries = 65520
	lfnChars       = 13 // UCS-2 characters per long-name entry
	attrArchive    = 0x20
	attrVolume     = 0x08
	attrLFN        = 0x0F
	mediaFixed     = 0xF8
	endOfChain     = 0xFFF
)

// fatDate is 2024-01-01 in FAT's date format: a fixed date keeps seeds
// byte-for-byte reproducible.
const fatDate = (2024-1980)<<9 | 1<<5 | 1

// SeedLabel is the volume label NoCloud looks for.
const SeedLabel = "CIDATA"

// fatLayout is where everything goes in the image.
type fatLayout struct {
	sectorsPerCluster int
	clusters          int
	fatSectors        int
	rootEntries       int
	dataStart         int // first data sector
	totalSectors      int
}

func (l fatLayout) clusterBytes() int { return l.sectorsPerCluster * sectorSize }

// WriteSeed writes a FAT12 image labelled CIDATA at path holding files in
// its root directory (names of up to 255 of the characters A-Z a-z 0-9 . _ -),
// for cloud-init's NoCloud datasource: user-data, meta-data and optionally
// network-config and vendor-data. The file is private (0600): user-data
// may hold credentials.
func WriteSeed(path string, files map[string][]byte) error {
	names, err := seedNames(files)
	if err != nil {
		return err
	}
	layout, err := planFAT(names, files)
	if err != nil {
		return err
	}
	meta, placement := buildFATMetadata(layout, names, files)

	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("writing the cloud-init seed: %w", err)
	}
	err = writeSeedFile(f, layout, meta, placement, files)
	if closeErr := f.Close(); err == nil {
		err = closeErr
	}
	if err != nil {
		return fmt.Errorf("writing the cloud-init seed %s: %w", path, err)
	}
	return nil
}

func writeSeedFile(f *os.File, layout fatLayout, meta []byte, placement map[string]int, files map[string][]byte) error {
	if err := f.Truncate(int64(layout.totalSectors) * sectorSize); err != nil {
		return err
	}
	if _, err := f.WriteAt(meta, 0); err != nil {
		return err
	}
	for name, cluster := range placement {
		offset := int64(layout.dataStart)*sectorSize + int64(cluster-2)*int64(layout.clusterBytes())
		if _, err := f.WriteAt(files[name], offset); err != nil {
			return err
		}
	}
	return nil
}

// seedNames checks the names and returns them sorted.
func seedNames(files map[string][]byte) ([]string, error) {
	if len(files) == 0 {
		return nil, errors.New("cloud-init seed: no files")
	}
	names := make([]string, 0, len(files))
	folded := map[string]string{}
	for name := range files {
		if err := checkSeedName(name); err != nil {
			return nil, err
		}
		if other, dup := folded[strings.ToUpper(name)]; dup {
			return nil, fmt.Errorf("cloud-init seed: names %q and %q differ only in case, which FAT cannot keep apart", other, name)
		}
		folded[strings.ToUpper(name)] = name
		names = append(names, name)
	}
	slices.Sort(names)
	return names, nil
}

func checkSeedName(name string) error {
	if name == "" || name == "." || name == ".." || len(name) > maxNameLen {
		return fmt.Errorf("cloud-init seed: invalid file name %q", name)
	}
	for _, c := range []byte(name) {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return fmt.Errorf("cloud-init seed: file name %q: only A-Z a-z 0-9 . _ - are allowed", name)
		}
	}
	return nil
}

// planFAT picks the smallest cluster size that keeps the image a FAT12.
func planFAT(names []string, files map[string][]byte) (fatLayout, error) {
	entries := 1 // the volume label
	for _, name := range names {
		entries += 1 + lfnEntries(name)
	}
	var l fatLayout
	l.rootEntries = roundUp(entries, sectorSize/dirEntrySize)
	if l.rootEntries > maxRootEntries {
		return fatLayout{}, fmt.Errorf("cloud-init seed: %d files need %d directory entries, more than a FAT12 root directory holds (%d)",
			len(names), entries, maxRootEntries)
	}
	for spc := 1; spc <= 128; spc *= 2 {
		clusterBytes := spc * sectorSize
		needed := 0
		for _, name := range names {
			needed += (len(files[name]) + clusterBytes - 1) / clusterBytes
		}
		if needed > maxFAT12Clusters {
			continue
		}
		l.sectorsPerCluster = spc
		l.clusters = max(needed, minClusters)
		l.fatSectors = (((l.clusters+2)*3+1)/2 + sectorSize - 1) / sectorSize
		l.dataStart = reservedSectors + fatCopies*l.fatSectors + l.rootEntries*dirEntrySize/sectorSize
		l.totalSectors = l.dataStart + l.clusters*spc
		return l, nil
	}
	return fatLayout{}, fmt.Errorf("cloud-init seed: files too large for a FAT12 seed (at most %d MiB)",
		maxFAT12Clusters*128*sectorSize>>20)
}

func lfnEntries(name string) int { return (len(name) + lfnChars - 1) / lfnChars }

func roundUp(n, to int) int { return (n + to - 1) / to * to }

// buildFATMetadata returns the boot sector, FATs and root directory as one
// buffer, and the first cluster of each non-empty file.
func buildFATMetadata(l fatLayout, names []string, files map[string][]byte) ([]byte, map[string]int) {
	meta := make([]byte, l.dataStart*sectorSize)
	writeBootSector(meta[:sectorSize], l, files)

	fat := make([]byte, l.fatSectors*sectorSize)
	setFAT12(fat, 0, 0xF00|mediaFixed)
	setFAT12(fat, 1, endOfChain)
	root := meta[(reservedSectors+fatCopies*l.fatSectors)*sectorSize:]
	putDirEntry(root, []byte(fmt.Sprintf("%-11s", SeedLabel)), attrVolume, 0, 0)
	slot := 1
	next := 2
	placement := map[string]int{}
	for i, name := range names {
		size := len(files[name])
		first := 0
		if size > 0 {
			first = next
			n := (size + l.clusterBytes() - 1) / l.clusterBytes()
			for c := first; c < first+n-1; c++ {
				setFAT12(fat, c, c+1)
			}
			setFAT12(fat, first+n-1, endOfChain)
			next += n
			placement[name] = first
		}
		short := shortName(name, i+1)
		slot = putLongName(root, slot, name, lfnChecksum(short))
		putDirEntry(root[slot*dirEntrySize:], short, attrArchive, first, size)
		slot++
	}
	for i := range fatCopies {
		copy(meta[(reservedSectors+i*l.fatSectors)*sectorSize:], fat)
	}
	return meta, placement
}

func writeBootSector(bs []byte, l fatLayout, files map[string][]byte) {
	copy(bs[0:], []byte{0xEB, 0x3C, 0x90}) // jump over the BPB, as DOS expects
	copy(bs[3:11], "PKRMAAS ")
	le := binary.LittleEndian
	le.PutUint16(bs[11:], sectorSize)
	bs[13] = byte(l.sectorsPerCluster)
	le.PutUint16(bs[14:], reservedSectors)
	bs[16] = fatCopies
	le.PutUint16(bs[17:], uint16(l.rootEntries))
	if l.totalSectors < 1<<16 {
		le.PutUint16(bs[19:], uint16(l.totalSectors))
	} else {
		le.PutUint32(bs[32:], uint32(l.totalSectors))
	}
	bs[21] = mediaFixed
	le.PutUint16(bs[22:], uint16(l.fatSectors))
	le.PutUint16(bs[24:], 32) // sectors per track and heads: any plausible geometry
	le.PutUint16(bs[26:], 64)
	bs[36] = 0x80 // drive number: a hard disk
	bs[38] = 0x29 // extended boot signature: the next three fields are valid
	le.PutUint32(bs[39:], volumeSerial(files))
	copy(bs[43:54], fmt.Sprintf("%-11s", SeedLabel))
	copy(bs[54:62], "FAT12   ")
	bs[510], bs[511] = 0x55, 0xAA
}

// volumeSerial derives the serial number from the content, so equal seeds
// are equal images.
func volumeSerial(files map[string][]byte) uint32 {
	h := crc32.NewIEEE()
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		h.Write([]byte(name))
		h.Write([]byte{0})
		h.Write(files[name])
	}
	return h.Sum32()
}

// setFAT12 sets the 12-bit entry for cluster n: two entries share three
// bytes, the even one in the low 12 bits.
func setFAT12(fat []byte, n, value int) {
	off := n * 3 / 2
	if n%2 == 0 {
		fat[off] = byte(value)
		fat[off+1] = fat[off+1]&0xF0 | byte(value>>8)&0x0F
	} else {
		fat[off] = fat[off]&0x0F | byte(value<<4)
		fat[off+1] = byte(value >> 4)
	}
}

func putDirEntry(e []byte, name11 []byte, attr byte, firstCluster, size int) {
	copy(e[0:11], name11)
	e[11] = attr
	le := binary.LittleEndian
	le.PutUint16(e[16:], fatDate) // created
	le.PutUint16(e[18:], fatDate) // accessed
	le.PutUint16(e[24:], fatDate) // written
	le.PutUint16(e[26:], uint16(firstCluster))
	le.PutUint32(e[28:], uint32(size))
}

// shortName makes the 8.3 alias of a long name: "user-data" (the n-th file)
// becomes "USER-D~n". The numeric tail keeps aliases unique.
func shortName(name string, n int) []byte {
	base, ext := name, ""
	if i := strings.LastIndexByte(name, '.'); i > 0 {
		base, ext = name[:i], name[i+1:]
	}
	clean := func(s string, limit int) string {
		var b strings.Builder
		for _, c := range strings.ToUpper(s) {
			if b.Len() < limit && c != '.' {
				b.WriteRune(c)
			}
		}
		return b.String()
	}
	tail := "~" + strconv.Itoa(n)
	stem := clean(base, 8-len(tail))
	if stem == "" {
		stem = "F"
	}
	return []byte(fmt.Sprintf("%-8s%-3s", stem+tail, clean(ext, 3)))
}

// lfnChecksum ties long-name entries to their 8.3 entry.
func lfnChecksum(short []byte) byte {
	var sum byte
	for _, c := range short[:11] {
		sum = (sum&1)<<7 + sum>>1 + c
	}
	return sum
}

// putLongName writes the VFAT long-name entries for name starting at slot,
// last part first as the format wants, and returns the next free slot.
func putLongName(dir []byte, slot int, name string, checksum byte) int {
	n := lfnEntries(name)
	for part := n; part >= 1; part-- {
		e := dir[slot*dirEntrySize : (slot+1)*dirEntrySize]
		e[0] = byte(part)
		if part == n {
			e[0] |= 0x40 // the last part
		}
		e[11] = attrLFN
		e[13] = checksum
		chars := lfnPart(name, part)
		offsets := []int{1, 3, 5, 7, 9, 14, 16, 18, 20, 22, 24, 28, 30}
		for i, off := range offsets {
			binary.LittleEndian.PutUint16(e[off:], chars[i])
		}
		slot++
	}
	return slot
}

// lfnPart returns the 13 UCS-2 characters of part (1-based) of name: the
// name ends with a NUL and the rest is padded with 0xFFFF.
func lfnPart(name string, part int) [lfnChars]uint16 {
	var chars [lfnChars]uint16
	for i := range chars {
		pos := (part-1)*lfnChars + i
		switch {
		case pos < len(name):
			chars[i] = uint16(name[pos])
		case pos == len(name):
			chars[i] = 0
		default:
			chars[i] = 0xFFFF
		}
	}
	return chars
}
