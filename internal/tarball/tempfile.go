package tarball

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// A file is written as ".<name>.<16 hex digits>.maas-tmp" next to it and
// renamed when complete. The name ties a temporary file to its output, so
// a run can tell which leftovers are its own to remove. The writer holds
// an exclusive flock on its temporary file from creation to rename: the
// kernel drops it when the process dies, even by SIGKILL, so a file whose
// lock can be taken belongs to a run that is over, and one whose lock is
// held belongs to a run still writing (another build, even in another PID
// namespace on the same kernel). A PID in the name would need a liveness
// check that PID reuse and containers both fool.
const (
	tempSuffix    = ".maas-tmp"
	tempRandBytes = 8
)

// isTempFor reports whether name is a temporary file of the output base.
func isTempFor(name, base string) bool {
	prefix := "." + base + "."
	if !strings.HasPrefix(name, prefix) || !strings.HasSuffix(name, tempSuffix) {
		return false
	}
	random := strings.TrimSuffix(strings.TrimPrefix(name, prefix), tempSuffix)
	if len(random) != 2*tempRandBytes {
		return false
	}
	_, err := hex.DecodeString(random)
	return err == nil
}

// createTemp removes the temporary files that earlier, finished runs left
// for path, then creates and locks a new one. It returns the new file and
// the names of the removed ones.
func createTemp(path string) (*os.File, []string, error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	removed := removeStaleTemps(dir, base)
	for range 10 {
		var random [tempRandBytes]byte
		if _, err := rand.Read(random[:]); err != nil {
			return nil, removed, err
		}
		name := filepath.Join(dir, "."+base+"."+hex.EncodeToString(random[:])+tempSuffix)
		f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
		if errors.Is(err, os.ErrExist) {
			continue
		}
		if err != nil {
			return nil, removed, err
		}
		// Between creating and locking, another run may have taken the
		// lock and removed the file: then try a new name.
		if lockNew(f, name) {
			return f, removed, nil
		}
		f.Close()
	}
	return nil, removed, fmt.Errorf("no free temporary file name for %s", path)
}

// removeStaleTemps removes the temporary files of base in dir whose
// writer is gone, and returns their names. It is best effort: a file it
// cannot open or lock stays.
func removeStaleTemps(dir, base string) []string {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	var removed []string
	for _, e := range entries {
		if !e.Type().IsRegular() || !isTempFor(e.Name(), base) {
			continue
		}
		name := filepath.Join(dir, e.Name())
		f, err := os.OpenFile(name, os.O_RDONLY|unix.O_NOFOLLOW, 0)
		if err != nil {
			continue
		}
		if lockStale(f, name) && os.Remove(name) == nil {
			removed = append(removed, name)
		}
		f.Close()
	}
	return removed
}

// lockNew locks the new temporary file f, waiting out a cleaner that
// holds the lock, and reports whether name still is f: false when a
// cleaner removed it first. A filesystem without flock leaves f unlocked,
// but then no cleaner can lock, and so remove, it either.
func lockNew(f *os.File, name string) bool {
	err := unix.Flock(int(f.Fd()), unix.LOCK_EX)
	for errors.Is(err, unix.EINTR) {
		err = unix.Flock(int(f.Fd()), unix.LOCK_EX)
	}
	return isStill(f, name)
}

// lockStale takes the lock on a leftover f without waiting, and reports
// whether it holds it and name still is f: its writer is gone.
func lockStale(f *os.File, name string) bool {
	return unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB) == nil && isStill(f, name)
}

// isStill reports whether the directory entry name is the open file f.
func isStill(f *os.File, name string) bool {
	opened, err1 := f.Stat()
	named, err2 := os.Lstat(name)
	return err1 == nil && err2 == nil && os.SameFile(opened, named)
}
