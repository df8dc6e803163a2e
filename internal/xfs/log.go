package xfs

import (
	"errors"
	"fmt"
)

// The log is a ring of 512-byte basic blocks. Every block written in a
// pass over the ring starts with that pass's cycle number (record headers
// carry it after their magic), so the head, where the last pass stopped,
// is where the cycle number drops. The log is clean when the last record
// before the head is an unmount record, as the kernel and xfs_logprint
// decide it.
const (
	logBlockSize       = 512
	logRecordMagic     = 0xFEEDBABE
	logHeaderCycleSize = 32768
	logVersion2        = 2
	logUnmountTrans    = 0x20
	// maxLogRecordBlocks bounds the backward search for the last record
	// header: records are at most 256 KiB, with their headers.
	maxLogRecordBlocks = 2 * (256 << 10) / logBlockSize
)

// errDirtyLog is returned for a filesystem that was not cleanly unmounted.
var errDirtyLog = errors.New("xfs: the log holds changes not yet written to the filesystem " +
	"(it was not cleanly unmounted, like ext4's needs_recovery): shut the VM down cleanly, " +
	"or mount and unmount the filesystem once so that the kernel replays the log, before exporting")

// logReader reads the basic blocks of the internal log.
type logReader struct {
	fs     *FS
	start  int64
	blocks uint64
	buf    [logBlockSize]byte
}

func (l *logReader) read(bb uint64) ([]byte, error) {
	if err := readFull(l.fs.r, l.buf[:], l.start+int64(bb%l.blocks)*logBlockSize); err != nil {
		return nil, fmt.Errorf("xfs: reading log block %d: %w", bb, err)
	}
	return l.buf[:], nil
}

// cycle returns the cycle number stamped on basic block bb.
func (l *logReader) cycle(bb uint64) (uint32, error) {
	b, err := l.read(bb)
	if err != nil {
		return 0, err
	}
	if be32(b) == logRecordMagic {
		return be32(b[4:]), nil
	}
	return be32(b), nil
}

// checkLog refuses a filesystem whose log needs recovery.
func (fs *FS) checkLog() error {
	if fs.sb.logIncompat != 0 {
		return fmt.Errorf("%w (log-incompatible features %#x are set, which a clean unmount clears)", errDirtyLog, fs.sb.logIncompat)
	}
	if fs.sb.logStart == 0 {
		return fmt.Errorf("xfs: the log is on an external device, so whether it is clean cannot be told; " +
			"make the filesystem with an internal log")
	}
	start, err := fs.sb.blockOffset(fs.sb.logStart, fs.sb.logBlocks)
	if err != nil || fs.sb.logBlocks == 0 {
		return fmt.Errorf("xfs: the log (%d blocks at %#x) is outside the filesystem", fs.sb.logBlocks, fs.sb.logStart)
	}
	l := &logReader{fs: fs, start: start, blocks: fs.sb.logBlocks << fs.sb.blockLog / logBlockSize}
	head, err := l.head()
	if err != nil {
		return err
	}
	clean, err := l.cleanBefore(head)
	if err != nil {
		return err
	}
	if !clean {
		return errDirtyLog
	}
	return nil
}

// head finds the block after the last one written.
func (l *logReader) head() (uint64, error) {
	first, err := l.cycle(0)
	if err != nil {
		return 0, err
	}
	last, err := l.cycle(l.blocks - 1)
	if err != nil {
		return 0, err
	}
	if first == last {
		return l.blocks, nil // the last pass went all the way round
	}
	lo, hi := uint64(0), l.blocks-1 // cycle(lo) == first, cycle(hi) == last
	for hi-lo > 1 {
		mid := lo + (hi-lo)/2
		c, err := l.cycle(mid)
		if err != nil {
			return 0, err
		}
		if c == first {
			lo = mid
		} else {
			hi = mid
		}
	}
	return hi, nil
}

// cleanBefore reports whether the last record ending at head is an
// unmount record.
func (l *logReader) cleanBefore(head uint64) (bool, error) {
	for back := uint64(1); back <= min(maxLogRecordBlocks, l.blocks); back++ {
		rec := (head + l.blocks - back) % l.blocks
		b, err := l.read(rec)
		if err != nil {
			return false, err
		}
		if be32(b) != logRecordMagic {
			continue
		}
		length, version, ops, size := uint64(be32(b[12:])), be32(b[8:]), be32(b[40:]), uint64(be32(b[320:]))
		headerBlocks := uint64(1)
		if version&logVersion2 != 0 && size > logHeaderCycleSize {
			headerBlocks = (size + logHeaderCycleSize - 1) / logHeaderCycleSize
		}
		if length > l.blocks*logBlockSize || ops != 1 {
			return false, nil
		}
		end := rec + headerBlocks + (length+logBlockSize-1)/logBlockSize
		if end%l.blocks != head%l.blocks {
			return false, nil
		}
		op, err := l.read(rec + headerBlocks)
		if err != nil {
			return false, err
		}
		return op[9]&logUnmountTrans != 0, nil
	}
	return false, nil
}
