package tarball

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/c34478be/packer-plugin-maas/internal/fstree/dirfs"
)

func requireEmptyDir(t *testing.T, dir string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Empty(t, entries, "a failed export must leave nothing behind")
}

func TestCancelLeavesNoFile(t *testing.T) {
	src, _ := buildRichTree(t)
	fsys, err := dirfs.Open(src)
	require.NoError(t, err)
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	_, err = WriteTGZ(ctx, filepath.Join(dir, "root.tgz"), 6, func(w io.Writer) error {
		// Cancel once the archive is under way, as a user's Ctrl-C would.
		cancelling := &ProgressWriter{W: w, Add: func(n int64) { cancel() }}
		_, err := WriteTar(ctx, cancelling, fsys, Options{})
		return err
	})
	require.ErrorIs(t, err, context.Canceled)
	requireEmptyDir(t, dir)
}

func TestWriteErrorLeavesNoFile(t *testing.T) {
	dir := t.TempDir()
	boom := errors.New("boom")
	_, err := WriteTGZ(context.Background(), filepath.Join(dir, "x.tgz"), 6, func(w io.Writer) error {
		_, err := w.Write(bytes.Repeat([]byte("data"), 1<<20))
		require.NoError(t, err)
		return boom
	})
	require.ErrorIs(t, err, boom)
	require.ErrorContains(t, err, "x.tgz")
	requireEmptyDir(t, dir)
}

func TestCompressionLevels(t *testing.T) {
	dir := t.TempDir()
	for _, bad := range []int{0, 10, -1} {
		_, err := WriteTGZ(context.Background(), filepath.Join(dir, "x.tgz"), bad, func(io.Writer) error { return nil })
		require.ErrorContains(t, err, "out of range")
		require.ErrorIs(t, err, ErrCompressionLevel)
	}
	requireEmptyDir(t, dir)

	text := []byte(strings.Repeat("the quick brown fox jumps over the lazy dog ", 200000))
	sizes := map[int]int64{}
	for _, level := range []int{1, 9} {
		out, err := WriteTGZ(context.Background(), filepath.Join(dir, "l.gz"), level, func(w io.Writer) error {
			_, err := w.Write(text)
			return err
		})
		require.NoError(t, err)
		sizes[level] = out.Size
		unpacked := run(t, "gzip", "-dc", out.Path)
		require.Equal(t, string(text), unpacked)
	}
	require.Less(t, sizes[9], sizes[1])
}

func TestMissingDirectoryIsAnError(t *testing.T) {
	_, err := WriteTGZ(context.Background(), filepath.Join(t.TempDir(), "no", "such", "x.tgz"), 6, func(io.Writer) error { return nil })
	require.ErrorContains(t, err, "creating the output file")
}

func TestProgressWrappers(t *testing.T) {
	var written, read int64
	w := &ProgressWriter{W: io.Discard, Add: func(n int64) { written += n }}
	_, err := w.Write(make([]byte, 1000))
	require.NoError(t, err)
	require.Equal(t, int64(1000), written)

	r := &ProgressReaderAt{R: bytes.NewReader(make([]byte, 100)), Add: func(n int64) { read += n }}
	buf := make([]byte, 60)
	_, err = r.ReadAt(buf, 0)
	require.NoError(t, err)
	n, err := r.ReadAt(buf, 60)
	require.ErrorIs(t, err, io.EOF)
	require.Equal(t, 40, n)
	require.Equal(t, int64(100), read)
}

// gzipWithGNU compresses data with GNU gzip into one member.
func gzipWithGNU(t *testing.T, data string) []byte {
	t.Helper()
	path := filepath.Join(t.TempDir(), "member")
	require.NoError(t, os.WriteFile(path, []byte(data), 0o644))
	return []byte(run(t, "gzip", "-c", path))
}

func TestGzipMembersInterleavePrecompressedMembers(t *testing.T) {
	dir := t.TempDir()
	// More than one pgzip block before the appended member, so that
	// ending the member waits for compressors in flight.
	first := strings.Repeat("first member, compressed here ", 100000)
	middle := gzipWithGNU(t, "appended as it is\n")
	out, err := WriteGzipMembers(context.Background(), filepath.Join(dir, "m.gz"), 6, func(m *GzipMembers) error {
		if _, err := m.Write([]byte(first)); err != nil {
			return err
		}
		if err := m.AppendMember(middle); err != nil {
			return err
		}
		if err := m.AppendMember(middle); err != nil {
			return err
		}
		_, err := m.Write([]byte("last\n"))
		return err
	})
	require.NoError(t, err)
	require.Equal(t, first+"appended as it is\nappended as it is\nlast\n", run(t, "gzip", "-dc", out.Path))
	require.Equal(t, strings.Fields(run(t, "sha256sum", out.Path))[0], out.SHA256)
	st, err := os.Stat(out.Path)
	require.NoError(t, err)
	require.Equal(t, st.Size(), out.Size)
}

func TestGzipMembersWithNothingWrittenIsEmptyGzip(t *testing.T) {
	out, err := WriteGzipMembers(context.Background(), filepath.Join(t.TempDir(), "e.gz"), 6, func(*GzipMembers) error { return nil })
	require.NoError(t, err)
	require.Empty(t, run(t, "gzip", "-dc", out.Path))
	require.Positive(t, out.Size)
}

func TestGzipMembersCancelledAppendFails(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	_, err := WriteGzipMembers(ctx, filepath.Join(dir, "c.gz"), 6, func(m *GzipMembers) error {
		cancel()
		return m.AppendMember(gzipWithGNU(t, "never written"))
	})
	require.ErrorIs(t, err, context.Canceled)
	requireEmptyDir(t, dir)
}
