// Package fstree is the contract between filesystem readers (internal/ext4,
// internal/fat) and the code that packs a filesystem into a MAAS image
// (internal/tarball); a reader describes itself to the export's registry
// (internal/filesystem) as a Reader.
// It describes a read-only tree addressed by inode number, with everything a
// GNU tar archive must carry: full st_mode, numeric owners, times, device
// numbers, extended attributes and the data layout of sparse files.
package fstree

import (
	"io"
	"time"
)

// FS is a read-only filesystem tree. Implementations must treat the
// underlying image as untrusted: every method returns an error rather than
// panicking, looping forever or allocating without bound.
type FS interface {
	// RootInode is the inode number of the root directory.
	RootInode() uint64
	// Stat returns the metadata of an inode.
	Stat(ino uint64) (Stat, error)
	// ReadDir lists a directory without "." and "..", in on-disk order.
	ReadDir(ino uint64) ([]DirEntry, error)
	// ReadLink returns a symbolic link's target, byte for byte.
	ReadLink(ino uint64) (string, error)
	// Xattrs returns the extended attributes with their full names
	// ("security.capability", "system.posix_acl_access", "user.x"), with
	// values in the kernel's user-visible (getxattr) format.
	Xattrs(ino uint64) ([]Xattr, error)
	// OpenFile opens a regular file's data.
	OpenFile(ino uint64) (File, error)
}

// Stat is an inode's metadata.
type Stat struct {
	Ino uint64
	// Mode is st_mode: the S_IFMT file type bits and all permission bits,
	// including setuid, setgid and sticky.
	Mode                uint32
	UID, GID            uint32
	Size                int64
	Nlink               uint32
	Atime, Mtime, Ctime time.Time
	// DevMajor and DevMinor are set for character and block devices.
	DevMajor, DevMinor uint32
}

// File type bits of Stat.Mode, as in <sys/stat.h>.
const (
	ModeType    = 0o170000
	ModeSocket  = 0o140000
	ModeSymlink = 0o120000
	ModeRegular = 0o100000
	ModeBlock   = 0o060000
	ModeDir     = 0o040000
	ModeChar    = 0o020000
	ModeFIFO    = 0o010000
	ModePerm    = 0o7777 // permission bits with setuid, setgid and sticky
)

// DirEntry is one name in a directory. Name may hold any bytes but '/'
// and NUL (it need not be UTF-8).
type DirEntry struct {
	Name string
	Ino  uint64
}

// Xattr is one extended attribute.
type Xattr struct {
	Name  string
	Value []byte
}

// File is a regular file's content.
type File interface {
	io.ReaderAt
	// Size is the file's length in bytes.
	Size() int64
	// DataRanges lists, in ascending order and without overlap, the byte
	// ranges that hold data; everything else reads as zeros (holes,
	// including unwritten extents). A file without holes has one range
	// covering it.
	DataRanges() []Range
}

// Range is a byte range [Offset, Offset+Length).
type Range struct {
	Offset, Length int64
}
