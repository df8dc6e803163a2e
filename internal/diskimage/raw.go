package diskimage

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// rawLayer is a raw file; its data regions come from the host filesystem.
type rawLayer struct {
	f    *os.File
	size int64
}

// allocated walks the file with SEEK_DATA/SEEK_HOLE. Each step moves
// forward, so the walk ends; filesystems without hole support report the
// whole file as data.
func (l *rawLayer) allocated(start, end int64, emit func(Range)) error {
	end = min(end, l.size)
	fd := int(l.f.Fd())
	for pos := start; pos < end; {
		data, err := unix.Seek(fd, pos, unix.SEEK_DATA)
		if errors.Is(err, unix.ENXIO) {
			return nil // only a hole remains
		}
		if err != nil {
			return &os.PathError{Op: "seek data", Path: l.f.Name(), Err: err}
		}
		data = max(data, pos)
		if data >= end {
			return nil
		}
		hole, err := unix.Seek(fd, data, unix.SEEK_HOLE)
		if err != nil {
			return &os.PathError{Op: "seek hole", Path: l.f.Name(), Err: err}
		}
		hole = min(max(hole, data+1), end)
		emit(Range{Start: data, Length: hole - data})
		pos = hole
	}
	return nil
}
