package testtree

import "golang.org/x/sys/unix"

// statEntry is the Entry fields that stat alone gives; the field types
// of unix.Stat_t differ between Linux and macOS.
func statEntry(st *unix.Stat_t) Entry {
	return Entry{Mode: st.Mode, UID: st.Uid, GID: st.Gid, Mtime: st.Mtim.Sec, Rdev: st.Rdev}
}
