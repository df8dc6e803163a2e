package testtree

import (
	"os"

	"golang.org/x/sys/unix"
)

// The field types of unix.Stat_t and unix.Statfs_t differ between Linux
// and macOS; these helpers give them in Linux's types, so tests compare
// the same numbers on both.

// statEntry is the Entry fields that stat alone gives.
func statEntry(st *unix.Stat_t) Entry {
	return Entry{Mode: st.Mode, UID: st.Uid, GID: st.Gid, Mtime: st.Mtim.Sec, Rdev: st.Rdev}
}

// StatMode is st_mode: file type and permission bits.
func StatMode(st *unix.Stat_t) uint32 { return st.Mode }

// StatNlink is the number of hard links.
func StatNlink(st *unix.Stat_t) uint32 { return uint32(st.Nlink) }

// StatRdev is the device number of a device node, for unix.Major/Minor.
func StatRdev(st *unix.Stat_t) uint64 { return st.Rdev }

// FreeBytes is the space an unprivileged writer has left on st's filesystem.
func FreeBytes(st *unix.Statfs_t) int64 { return int64(st.Bavail) * st.Bsize }

// Fallocate preallocates length bytes at the start of f as unwritten
// extents; keepSize leaves the file's size as it is.
func Fallocate(f *os.File, keepSize bool, length int64) error {
	mode := uint32(0)
	if keepSize {
		mode = unix.FALLOC_FL_KEEP_SIZE
	}
	return unix.Fallocate(int(f.Fd()), mode, 0, length)
}
