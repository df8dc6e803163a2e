package rootfs

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"

	"github.com/klauspost/pgzip"
)

// DefaultCompressionLevel is the gzip level MAAS images get unless the
// user asks otherwise: close to level 9 in size at a fraction of the time.
const DefaultCompressionLevel = 6

// Output is a finished image file.
type Output struct {
	Path   string
	SHA256 string // hex digest of the file's bytes
	Size   int64  // bytes
}

// pgzip settings: 1 MiB blocks, two blocks in flight per CPU so that
// compressors never wait for the producer. Memory stays near
// blocks * (input block + compressor state), a few tens of MiB.
const (
	gzipBlockSize      = 1 << 20
	gzipBlocksPerCPU   = 2
	outputBufferSize   = 1 << 20
	tempFilePermission = 0o644
)

// WriteTGZ creates the gzip file path from what write writes, compressing
// on all CPUs at level (1-9). The file appears only when everything
// succeeded: it is written to a temporary file in the same directory and
// renamed; on an error or a cancelled ctx the temporary file is removed.
// The SHA-256 and size are computed from the compressed bytes as they
// are written.
func WriteTGZ(ctx context.Context, path string, level int, write func(io.Writer) error) (out Output, err error) {
	if level < 1 || level > 9 {
		return Output{}, fmt.Errorf("compression level %d is out of range: use 1 (fastest) to 9 (smallest); %d is the default", level, DefaultCompressionLevel)
	}
	dir, base := filepath.Split(path)
	tmp, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return Output{}, fmt.Errorf("creating the output file in %s: %w", filepath.Dir(path), err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()

	hash := sha256.New()
	counted := &countingWriter{w: io.MultiWriter(tmp, hash)}
	buffered := bufio.NewWriterSize(counted, outputBufferSize)
	gz, err := pgzip.NewWriterLevel(buffered, level)
	if err != nil {
		return Output{}, err
	}
	if err := gz.SetConcurrency(gzipBlockSize, gzipBlocksPerCPU*runtime.GOMAXPROCS(0)); err != nil {
		return Output{}, err
	}
	writeErr := write(&ctxWriter{ctx: ctx, w: gz})
	closeErr := gz.Close()
	if err := errors.Join(writeErr, ctx.Err(), closeErr); err != nil {
		return Output{}, fmt.Errorf("writing %s: %w", path, err)
	}
	if err := buffered.Flush(); err != nil {
		return Output{}, fmt.Errorf("writing %s: %w", path, err)
	}
	if err := finishFile(tmp, path); err != nil {
		return Output{}, err
	}
	return Output{Path: path, SHA256: hex.EncodeToString(hash.Sum(nil)), Size: counted.n}, nil
}

// finishFile makes the temporary file durable and gives it its name.
func finishFile(tmp *os.File, path string) error {
	if err := tmp.Chmod(tempFilePermission); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("moving the finished file into place: %w", err)
	}
	return nil
}

// ctxWriter fails writes once ctx is done, so that a cancelled export
// stops at the next write whatever the producer does.
type ctxWriter struct {
	ctx context.Context
	w   io.Writer
}

func (c *ctxWriter) Write(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.w.Write(p)
}
