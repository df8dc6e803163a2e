package testtree

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// The field types of unix.Stat_t and unix.Statfs_t differ between Linux
// and macOS; these helpers give them in Linux's types, so tests compare
// the same numbers on both.

// statEntry is the Entry fields that stat alone gives.
func statEntry(st *unix.Stat_t) Entry {
	return Entry{Mode: StatMode(st), UID: st.Uid, GID: st.Gid, Mtime: st.Mtim.Sec, Rdev: StatRdev(st)}
}

// StatMode is st_mode: file type and permission bits.
func StatMode(st *unix.Stat_t) uint32 { return uint32(st.Mode) }

// StatNlink is the number of hard links.
func StatNlink(st *unix.Stat_t) uint32 { return uint32(st.Nlink) }

// StatRdev is the device number of a device node, for unix.Major/Minor.
func StatRdev(st *unix.Stat_t) uint64 { return uint64(uint32(st.Rdev)) }

// FreeBytes is the space an unprivileged writer has left on st's filesystem.
func FreeBytes(st *unix.Statfs_t) int64 { return int64(st.Bavail) * int64(st.Bsize) }

// Fallocate has no macOS form that makes unwritten extents; its callers
// write XFS fixtures on Linux loop mounts, as root.
func Fallocate(*os.File, bool, int64) error {
	return errors.New("fallocate: unwritten extents need Linux")
}
