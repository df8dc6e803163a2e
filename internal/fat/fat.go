// Package fat reads FAT12, FAT16 and FAT32 filesystems (with VFAT long
// names) as a read-only fstree.FS, so that a vfat /boot (the XBOOTLDR
// partition the Boot Loader Specification recommends) can be packed into
// a tarball without mounting it.
//
// It is a reader of its own rather than a dependency: go-diskfs reads
// FAT32 only, while an XBOOTLDR partition of the usual size is FAT16; and
// internal/cloudinit's FAT code only writes the small images it needs.
// The image is untrusted: every size and cluster number read from it is
// checked against the filesystem's geometry before it is used, cluster
// chains are bounded by the cluster count, and memory is bounded by the
// partition's size.
package fat

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"
	"unicode/utf16"

	"github.com/c34478be/packer-plugin-maas/internal/fstree"
)

// Options are the mount options that decide what the kernel's vfat
// driver shows as owners and modes (FAT itself has neither).
type Options struct {
	UID, GID uint32
	// FileMask and DirMask are the fmask and dmask (umask sets both);
	// the kernel's default is the mounting process's umask, 022.
	FileMask, DirMask uint32
}

// DefaultOptions is what `mount -t vfat` with no options gives.
var DefaultOptions = Options{FileMask: 0o022, DirMask: 0o022}

// maxFATBytes bounds the FAT kept in memory: a FAT32 of 2 TiB with 32 KiB
// clusters needs 256 MiB; /boot partitions need well under 1 MiB.
const maxFATBytes = 64 << 20

// rootIno is the root directory's inode; every other inode is the byte
// offset of its directory entry divided by 32, plus 2.
const rootIno = 1

const dirEntrySize = 32

// FS is an opened FAT filesystem.
type FS struct {
	r           io.ReaderAt
	opts        Options
	bits        int // 12, 16 or 32
	clusterSize int64
	dataStart   int64 // byte offset of cluster 2
	clusters    uint32
	rootStart   int64 // FAT12/16: byte offset of the fixed root directory
	rootEntries int64
	rootCluster uint32 // FAT32
	fat         []byte
}

// Open reads the boot sector and the first FAT of the filesystem held in
// the first size bytes of r.
func Open(r io.ReaderAt, size int64, opts Options) (*FS, error) {
	bs := make([]byte, 512)
	if _, err := r.ReadAt(bs, 0); err != nil {
		return nil, fmt.Errorf("fat: reading the boot sector: %w", err)
	}
	le := binary.LittleEndian
	bps, spc := int64(le.Uint16(bs[11:])), int64(bs[13])
	reserved, fats, rootEntries := int64(le.Uint16(bs[14:])), int64(bs[16]), int64(le.Uint16(bs[17:]))
	total := int64(le.Uint16(bs[19:]))
	if total == 0 {
		total = int64(le.Uint32(bs[32:]))
	}
	fatSectors := int64(le.Uint16(bs[22:]))
	if fatSectors == 0 {
		fatSectors = int64(le.Uint32(bs[36:]))
	}
	switch {
	case bs[510] != 0x55 || bs[511] != 0xaa:
		return nil, errors.New("fat: no boot sector signature")
	case bps < 512 || bps > 4096 || bps&(bps-1) != 0:
		return nil, fmt.Errorf("fat: %d bytes per sector is invalid", bps)
	case spc == 0 || spc&(spc-1) != 0:
		return nil, fmt.Errorf("fat: %d sectors per cluster is invalid", spc)
	case reserved == 0 || fats == 0 || fatSectors == 0:
		return nil, errors.New("fat: the boot sector has no reserved sectors or no FAT")
	case total*bps > size:
		return nil, fmt.Errorf("fat: the filesystem (%d sectors of %d bytes) is larger than its partition (%d bytes)", total, bps, size)
	}
	rootSectors := (rootEntries*dirEntrySize + bps - 1) / bps
	dataSector := reserved + fats*fatSectors + rootSectors
	if dataSector >= total {
		return nil, fmt.Errorf("fat: the data area starts at sector %d, past the end (%d sectors)", dataSector, total)
	}
	fs := &FS{
		r: r, opts: opts, clusterSize: bps * spc, dataStart: dataSector * bps,
		clusters: uint32((total - dataSector) / spc), rootStart: (reserved + fats*fatSectors) * bps, rootEntries: rootEntries,
	}
	// The FAT type follows from the cluster count alone (Microsoft's rule).
	switch {
	case fs.clusters < 4085:
		fs.bits = 12
	case fs.clusters < 65525:
		fs.bits = 16
	default:
		fs.bits = 32
		fs.rootCluster = le.Uint32(bs[44:]) & 0x0fffffff
		if !fs.valid(fs.rootCluster) {
			return nil, fmt.Errorf("fat: root directory cluster %d is out of range", fs.rootCluster)
		}
	}
	need := (int64(fs.clusters) + 2) * int64(fs.bits) / 8
	if need > fatSectors*bps || need > maxFATBytes {
		return nil, fmt.Errorf("fat: %d clusters do not fit the FAT of %d sectors", fs.clusters, fatSectors)
	}
	fs.fat = make([]byte, need+1) // +1: a FAT12 entry may straddle the end
	if _, err := r.ReadAt(fs.fat[:need], reserved*bps); err != nil {
		return nil, fmt.Errorf("fat: reading the FAT: %w", err)
	}
	return fs, nil
}

// Bits is 12, 16 or 32: the FAT type.
func (fs *FS) Bits() int { return fs.bits }

func (fs *FS) valid(c uint32) bool { return c >= 2 && c < fs.clusters+2 }

// next returns the cluster after c, and whether the chain ends at c.
func (fs *FS) next(c uint32) (uint32, bool, error) {
	var v, eoc uint32
	switch fs.bits {
	case 12:
		off := c + c/2
		v = uint32(binary.LittleEndian.Uint16(fs.fat[off:]))
		if c&1 == 1 {
			v >>= 4
		}
		v &= 0xfff
		eoc = 0xff8
	case 16:
		v, eoc = uint32(binary.LittleEndian.Uint16(fs.fat[2*c:])), 0xfff8
	default:
		v, eoc = binary.LittleEndian.Uint32(fs.fat[4*c:])&0x0fffffff, 0x0ffffff8
	}
	switch {
	case v >= eoc:
		return 0, true, nil
	case !fs.valid(v):
		return 0, false, fmt.Errorf("fat: cluster %d links to %#x, not a data cluster", c, v)
	}
	return v, false, nil
}

// chain lists the first maxLen clusters of a file or directory starting
// at first. A chain that comes back to a cluster loops, and is refused.
func (fs *FS) chain(first uint32, maxLen int64) ([]uint32, error) {
	var out []uint32
	seen := map[uint32]bool{}
	for c := first; int64(len(out)) < maxLen; {
		if !fs.valid(c) {
			return nil, fmt.Errorf("fat: cluster %d is out of range", c)
		}
		if seen[c] {
			return nil, fmt.Errorf("fat: the cluster chain from %d comes back to cluster %d (a loop)", first, c)
		}
		seen[c] = true
		out = append(out, c)
		n, end, err := fs.next(c)
		if err != nil {
			return nil, err
		}
		if end {
			return out, nil
		}
		c = n
	}
	return out, nil
}

func (fs *FS) clusterOffset(c uint32) int64 { return fs.dataStart + int64(c-2)*fs.clusterSize }

// entry is a parsed 32-byte directory entry.
type entry struct {
	attr                    byte
	first                   uint32
	size                    uint32
	mtime, atime, ctime     time.Time
	isDir, isVolume, isLong bool
}

const (
	attrVolume = 0x08
	attrDir    = 0x10
	attrLong   = 0x0f
)

func parseEntry(b []byte) entry {
	le := binary.LittleEndian
	e := entry{attr: b[11], size: le.Uint32(b[28:])}
	e.isLong = e.attr&0x3f == attrLong
	e.isDir = e.attr&attrDir != 0
	e.isVolume = e.attr&attrVolume != 0 && !e.isLong
	e.first = uint32(le.Uint16(b[26:])) | uint32(le.Uint16(b[20:]))<<16
	e.mtime = fatTime(le.Uint16(b[24:]), le.Uint16(b[22:]))
	e.atime = fatTime(le.Uint16(b[18:]), 0)
	e.ctime = fatTime(le.Uint16(b[16:]), le.Uint16(b[14:]))
	return e
}

// fatTime decodes a FAT date and time, taken as UTC (the kernel's default
// without tz= or time_offset=).
func fatTime(date, tm uint16) time.Time {
	if date == 0 {
		return time.Unix(0, 0).UTC()
	}
	return time.Date(1980+int(date>>9), time.Month(date>>5&0xf), int(date&0x1f),
		int(tm>>11), int(tm>>5&0x3f), int(tm&0x1f)*2, 0, time.UTC)
}

// RootInode returns the root directory's inode number.
func (fs *FS) RootInode() uint64 { return rootIno }

// entryAt reads the directory entry an inode number stands for.
func (fs *FS) entryAt(ino uint64) (entry, error) {
	if ino < 2 {
		return entry{}, fmt.Errorf("fat: inode %d is not a directory entry", ino)
	}
	b := make([]byte, dirEntrySize)
	if _, err := fs.r.ReadAt(b, int64(ino-2)*dirEntrySize); err != nil {
		return entry{}, fmt.Errorf("fat: inode %d: %w", ino, err)
	}
	return parseEntry(b), nil
}

// Stat returns an inode's metadata, with owners and modes from the mount
// options.
func (fs *FS) Stat(ino uint64) (fstree.Stat, error) {
	if ino == rootIno {
		return fstree.Stat{Ino: ino, Mode: fstree.ModeDir | 0o777&^fs.opts.DirMask, UID: fs.opts.UID, GID: fs.opts.GID,
			Nlink: 2, Atime: time.Unix(0, 0).UTC(), Mtime: time.Unix(0, 0).UTC(), Ctime: time.Unix(0, 0).UTC()}, nil
	}
	e, err := fs.entryAt(ino)
	if err != nil {
		return fstree.Stat{}, err
	}
	st := fstree.Stat{Ino: ino, UID: fs.opts.UID, GID: fs.opts.GID, Nlink: 1, Atime: e.atime, Mtime: e.mtime, Ctime: e.ctime}
	if e.isDir {
		st.Mode, st.Nlink = fstree.ModeDir|0o777&^fs.opts.DirMask, 2
	} else {
		st.Mode, st.Size = fstree.ModeRegular|0o777&^fs.opts.FileMask, int64(e.size)
	}
	return st, nil
}

// dirRegions returns the byte ranges holding a directory's entries.
func (fs *FS) dirRegions(ino uint64) ([][2]int64, error) {
	if ino == rootIno && fs.bits != 32 {
		return [][2]int64{{fs.rootStart, fs.rootEntries * dirEntrySize}}, nil
	}
	first := fs.rootCluster
	if ino != rootIno {
		e, err := fs.entryAt(ino)
		if err != nil {
			return nil, err
		}
		if !e.isDir {
			return nil, fmt.Errorf("fat: inode %d is not a directory", ino)
		}
		if e.first == 0 { // ".." of a child of the root
			return fs.dirRegions(rootIno)
		}
		first = e.first
	}
	// A directory holds at most 65536 entries (the FAT specification).
	chain, err := fs.chain(first, 65536*dirEntrySize/fs.clusterSize+1)
	if err != nil {
		return nil, err
	}
	regions := make([][2]int64, len(chain))
	for i, c := range chain {
		regions[i] = [2]int64{fs.clusterOffset(c), fs.clusterSize}
	}
	return regions, nil
}

// ReadDir lists a directory, with long names where they are intact.
func (fs *FS) ReadDir(ino uint64) ([]fstree.DirEntry, error) {
	regions, err := fs.dirRegions(ino)
	if err != nil {
		return nil, err
	}
	var out []fstree.DirEntry
	var long longName
	for _, reg := range regions {
		buf := make([]byte, reg[1])
		if _, err := fs.r.ReadAt(buf, reg[0]); err != nil {
			return nil, fmt.Errorf("fat: reading directory inode %d: %w", ino, err)
		}
		for off := 0; off+dirEntrySize <= len(buf); off += dirEntrySize {
			b := buf[off : off+dirEntrySize]
			switch b[0] {
			case 0x00:
				return out, nil
			case 0xe5:
				long.reset()
				continue
			}
			e := parseEntry(b)
			if e.isLong {
				long.add(b)
				continue
			}
			name := long.name(b)
			long.reset()
			if e.isVolume || name == "." || name == ".." {
				continue
			}
			if name == "" || containsAny(name, "/\x00") {
				return nil, fmt.Errorf("fat: directory inode %d has an entry with an invalid name %q", ino, name)
			}
			out = append(out, fstree.DirEntry{Name: name, Ino: uint64(reg[0]+int64(off))/dirEntrySize + 2})
		}
	}
	return out, nil
}

func containsAny(s, chars string) bool {
	for i := 0; i < len(s); i++ {
		for j := 0; j < len(chars); j++ {
			if s[i] == chars[j] {
				return true
			}
		}
	}
	return false
}

// longName gathers the VFAT long-name entries that precede a short entry.
type longName struct {
	parts    [20][13]uint16 // 20 entries of 13 characters: 255 and more
	count    int
	checksum byte
	valid    bool
}

func (l *longName) reset() { *l = longName{} }

func (l *longName) add(b []byte) {
	seq := int(b[0] & 0x1f)
	if b[0]&0x40 != 0 { // the last part comes first
		l.reset()
		l.count, l.checksum, l.valid = seq, b[13], seq >= 1 && seq <= len(l.parts)
	}
	if !l.valid || seq < 1 || seq > l.count || b[13] != l.checksum {
		l.valid = false
		return
	}
	p := &l.parts[seq-1]
	for i, off := range []int{1, 3, 5, 7, 9, 14, 16, 18, 20, 22, 24, 28, 30} {
		p[i] = binary.LittleEndian.Uint16(b[off:])
	}
}

// name is the long name when it belongs to the short entry b (by its
// checksum), else the short name as the kernel shows it.
func (l *longName) name(b []byte) string {
	if l.valid && l.count > 0 && shortChecksum(b) == l.checksum {
		var u []uint16
	parts:
		for i := 0; i < l.count; i++ {
			for _, c := range l.parts[i] {
				if c == 0 {
					break parts
				}
				u = append(u, c)
			}
		}
		return string(utf16.Decode(u))
	}
	return shortName(b)
}

func shortChecksum(b []byte) byte {
	var sum byte
	for i := 0; i < 11; i++ {
		sum = (sum>>1 | sum<<7) + b[i]
	}
	return sum
}

// shortName renders an 8.3 name, lowercasing the parts the NT case flags
// (byte 12) mark, as Linux does.
func shortName(b []byte) string {
	base, ext := trimSpaces(b[0:8]), trimSpaces(b[8:11])
	if len(base) > 0 && base[0] == 0x05 {
		base[0] = 0xe5
	}
	if b[12]&0x08 != 0 {
		base = lower(base)
	}
	if b[12]&0x10 != 0 {
		ext = lower(ext)
	}
	if len(ext) == 0 {
		return string(base)
	}
	return string(base) + "." + string(ext)
}

func trimSpaces(b []byte) []byte {
	out := append([]byte(nil), b...)
	for len(out) > 0 && out[len(out)-1] == ' ' {
		out = out[:len(out)-1]
	}
	return out
}

func lower(b []byte) []byte {
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return b
}

// ReadLink fails: FAT has no symbolic links.
func (fs *FS) ReadLink(ino uint64) (string, error) {
	return "", fmt.Errorf("fat: inode %d is not a symbolic link", ino)
}

// Xattrs returns nothing: FAT has no extended attributes.
func (fs *FS) Xattrs(uint64) ([]fstree.Xattr, error) { return nil, nil }

// OpenFile opens a regular file.
func (fs *FS) OpenFile(ino uint64) (fstree.File, error) {
	e, err := fs.entryAt(ino)
	if err != nil {
		return nil, err
	}
	if e.isDir || e.isLong || e.isVolume {
		return nil, fmt.Errorf("fat: inode %d is not a regular file", ino)
	}
	f := &file{fs: fs, size: int64(e.size)}
	if e.size == 0 {
		return f, nil
	}
	need := (f.size + fs.clusterSize - 1) / fs.clusterSize
	if f.chain, err = fs.chain(e.first, need); err != nil {
		return nil, err
	}
	if int64(len(f.chain)) < need {
		return nil, fmt.Errorf("fat: inode %d: %d bytes in %d clusters of %d bytes", ino, f.size, len(f.chain), fs.clusterSize)
	}
	return f, nil
}

type file struct {
	fs    *FS
	size  int64
	chain []uint32
}

func (f *file) Size() int64 { return f.size }

func (f *file) DataRanges() []fstree.Range {
	if f.size == 0 {
		return nil
	}
	return []fstree.Range{{Offset: 0, Length: f.size}}
}

func (f *file) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, errors.New("fat: negative offset")
	}
	n := 0
	for n < len(p) && off < f.size {
		idx, in := off/f.fs.clusterSize, off%f.fs.clusterSize
		want := min(int64(len(p)-n), f.fs.clusterSize-in, f.size-off)
		got, err := f.fs.r.ReadAt(p[n:n+int(want)], f.fs.clusterOffset(f.chain[idx])+in)
		n += got
		off += int64(got)
		if got < int(want) {
			if err == nil || err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return n, err
		}
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}
