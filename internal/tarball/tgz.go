package tarball

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

// ErrCompressionLevel is matched (errors.Is) by CheckCompressionLevel's
// error.
var ErrCompressionLevel = errors.New("compression level out of range")

// CheckCompressionLevel checks a gzip level, 1-9. Its error names the
// compression_level setting of maas-rootfs and maas-export, which both
// validate with it, and wraps ErrCompressionLevel.
func CheckCompressionLevel(level int) error {
	if level < 1 || level > 9 {
		return levelError(level)
	}
	return nil
}

type levelError int

func (e levelError) Error() string {
	return fmt.Sprintf("compression_level %d is out of range: use 1 (fastest) to 9 (smallest)", int(e))
}

func (levelError) Is(target error) bool { return target == ErrCompressionLevel }

// Output is a finished image file.
type Output struct {
	Path   string
	SHA256 string // hex digest of the file's bytes
	Size   int64  // bytes
	// RemovedTemps are the temporary files of this output that earlier
	// runs, killed before they finished, had left and this run removed.
	RemovedTemps []string `json:",omitempty"`
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
// renamed; on an error or a cancelled ctx the temporary file is removed,
// and the next run for path removes one that a killed run left (see
// tempfile.go).
// The SHA-256 and size are computed from the compressed bytes as they
// are written.
func WriteTGZ(ctx context.Context, path string, level int, write func(io.Writer) error) (Output, error) {
	return WriteGzipMembers(ctx, path, level, func(m *GzipMembers) error { return write(m) })
}

// WriteGzipMembers is WriteTGZ for a producer that may also append
// precompressed gzip members between its writes (GzipMembers.AppendMember),
// as a ddgz export does for long runs of zeros. What it writes through
// GzipMembers.Write alone comes out byte for byte as from WriteTGZ.
func WriteGzipMembers(ctx context.Context, path string, level int, write func(*GzipMembers) error) (out Output, err error) {
	if err := CheckCompressionLevel(level); err != nil {
		return Output{}, err
	}
	tmp, removed, err := createTemp(path)
	if err != nil {
		return Output{}, fmt.Errorf("creating the output file in %s: %w", filepath.Dir(path), err)
	}
	defer func() {
		if err != nil {
			os.Remove(tmp.Name())
			tmp.Close()
		}
	}()

	hash := sha256.New()
	counted := &countingWriter{w: io.MultiWriter(tmp, hash)}
	buffered := bufio.NewWriterSize(counted, outputBufferSize)
	members := &GzipMembers{ctx: ctx, level: level, dst: buffered}
	writeErr := write(members)
	closeErr := members.finish()
	if err := errors.Join(writeErr, ctx.Err(), closeErr); err != nil {
		return Output{}, fmt.Errorf("writing %s: %w", path, err)
	}
	if err := buffered.Flush(); err != nil {
		return Output{}, fmt.Errorf("writing %s: %w", path, err)
	}
	if err := finishFile(tmp, path); err != nil {
		return Output{}, err
	}
	return Output{Path: path, SHA256: hex.EncodeToString(hash.Sum(nil)), Size: counted.n, RemovedTemps: removed}, nil
}

// GzipMembers writes a gzip file as a sequence of members (RFC 1952),
// which gzip readers (GNU zcat, Go's gzip.Reader) decompress one after
// another as one stream. Write compresses into the current member, starting
// one when none is open; AppendMember ends it and copies a finished member.
// Writes fail once the context is done, so that a cancelled export stops
// at the next write whatever the producer does.
type GzipMembers struct {
	ctx     context.Context
	level   int
	dst     io.Writer     // the file, through its hash and byte count
	gz      *pgzip.Writer // reused from member to member
	open    bool          // gz has a member in progress
	written bool          // a member has been finished
}

// Write compresses p into the current member.
func (m *GzipMembers) Write(p []byte) (int, error) {
	if err := m.ctx.Err(); err != nil {
		return 0, err
	}
	if !m.open {
		if err := m.startMember(); err != nil {
			return 0, err
		}
	}
	return m.gz.Write(p)
}

// AppendMember ends the current member and writes member, which must be
// one or more complete gzip members, as it is.
func (m *GzipMembers) AppendMember(member []byte) error {
	if err := m.ctx.Err(); err != nil {
		return err
	}
	if err := m.endMember(); err != nil {
		return err
	}
	if _, err := m.dst.Write(member); err != nil {
		return err
	}
	m.written = true
	return nil
}

func (m *GzipMembers) startMember() error {
	if m.gz == nil {
		gz, err := pgzip.NewWriterLevel(m.dst, m.level)
		if err != nil {
			return err
		}
		m.gz = gz
	} else {
		// Reset keeps the compressors but also the library's default
		// concurrency, which SetConcurrency then replaces.
		m.gz.Reset(m.dst)
	}
	if err := m.gz.SetConcurrency(gzipBlockSize, gzipBlocksPerCPU*runtime.GOMAXPROCS(0)); err != nil {
		return err
	}
	m.open = true
	return nil
}

func (m *GzipMembers) endMember() error {
	if !m.open {
		return nil
	}
	m.open = false
	m.written = true
	return m.gz.Close()
}

// finish ends the last member; a file with nothing written still gets
// one (empty) member, so that it is valid gzip.
func (m *GzipMembers) finish() error {
	if !m.written && !m.open {
		if err := m.startMember(); err != nil {
			return err
		}
	}
	return m.endMember()
}

// finishFile makes the temporary file durable and gives it its name. It
// is renamed while still open, so that its lock keeps other runs from
// taking it for a leftover until it has its name.
func finishFile(tmp *os.File, path string) error {
	if err := tmp.Chmod(tempFilePermission); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("moving the finished file into place: %w", err)
	}
	// Synced and named: closing only releases the lock.
	_ = tmp.Close()
	return nil
}
