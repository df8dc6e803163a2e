package export

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// sparseDisk writes a raw disk of mostly holes, each long one at least
// zeroRunThreshold and none a whole number of zeroMemberSize blocks: a
// hole at the start, one in the middle, a short one (deflated) and one to
// the end.
func sparseDisk(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "sparse.raw")
	f, err := os.Create(path)
	require.NoError(t, err)
	defer f.Close()
	rng := rand.New(rand.NewPCG(1, 2))
	data := func(off int64, size int) int64 {
		buf := make([]byte, size)
		for i := range buf {
			buf[i] = byte(rng.Uint32())
		}
		_, err := f.WriteAt(buf, off)
		require.NoError(t, err)
		return off + int64(size)
	}
	end := data(zeroRunThreshold+64<<10, 3*mib)
	end = data(end+2*zeroRunThreshold+12<<10, 5*mib)
	end = data(end+2*mib, 1*mib)
	require.NoError(t, f.Truncate(end+2*zeroRunThreshold+3*mib+4<<10))
	return path
}

func TestExportSparseDiskAsDDGZWritesHolesAsMembers(t *testing.T) {
	raw := sparseDisk(t)
	f, err := os.Open(raw)
	require.NoError(t, err)
	defer f.Close()
	want, wantSize := digest(t, f)
	for name, input := range map[string]string{"raw": raw, "qcow2": toQcow2(t, raw)} {
		t.Run(name, func(t *testing.T) {
			output := filepath.Join(t.TempDir(), "disk.dd.gz")
			res, err := Run(context.Background(), Options{Input: input, Output: output, Filetype: FiletypeDDGZ,
				Architecture: "amd64/generic"}) // a disk of random data has no programs to tell it
			require.NoError(t, err)
			assert.Equal(t, sha256File(t, output), res.SHA256)
			st, err := os.Stat(output)
			require.NoError(t, err)
			assert.Equal(t, st.Size(), res.Size)
			// 9 MiB of random data deflate to about 9 MiB; the rest
			// (more than 150 MiB of zeros) must cost next to nothing.
			assert.Less(t, res.Size, int64(9*mib+512<<10))
			assert.Greater(t, countMembers(t, output), 3, "the long holes must be written as their own members")

			got, gotSize := gunzipGo(t, output)
			assert.Equal(t, wantSize, gotSize)
			assert.Equal(t, want, got, "Go's gzip reader must read back the raw disk")
			got, gotSize = zcat(t, output)
			assert.Equal(t, wantSize, gotSize)
			assert.Equal(t, want, got, "GNU zcat (as curtin runs it) must read back the raw disk")
		})
	}
}

// digest is the hex SHA-256 and length of what r holds.
func digest(t *testing.T, r io.Reader) (string, int64) {
	t.Helper()
	h := sha256.New()
	n, err := io.Copy(h, r)
	require.NoError(t, err)
	return hex.EncodeToString(h.Sum(nil)), n
}

// countMembers counts the gzip members of path, reading each one.
func countMembers(t *testing.T, path string) int {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	// A bufio.Reader is an io.ByteReader, which the gzip reader reads
	// from without reading ahead past the end of a member.
	br := bufio.NewReader(f)
	zr, err := gzip.NewReader(br)
	require.NoError(t, err)
	members := 0
	for {
		zr.Multistream(false)
		_, err := io.Copy(io.Discard, zr)
		require.NoError(t, err)
		members++
		if err := zr.Reset(br); errors.Is(err, io.EOF) {
			return members
		} else {
			require.NoError(t, err)
		}
	}
}

func gunzipGo(t *testing.T, path string) (string, int64) {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	zr, err := gzip.NewReader(f)
	require.NoError(t, err)
	return digest(t, zr)
}

func zcat(t *testing.T, path string) (string, int64) {
	t.Helper()
	requireTool(t, "zcat")
	var stderr bytes.Buffer
	cmd := exec.Command("zcat", path)
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	sum, n := digest(t, stdout)
	require.NoError(t, cmd.Wait(), "zcat %s: %s", path, stderr.String())
	return sum, n
}
