package diskimage

import (
	"bytes"
	"errors"
	"io"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const testDiskSize = 32 * MiB

// imageCase builds an image in dir and returns its path.
type imageCase struct {
	name   string
	format Format
	build  func(t *testing.T, dir string) string
}

func rawBase(t *testing.T, dir string) string {
	p := filepath.Join(dir, "base.raw")
	writeScatteredRaw(t, p, testDiskSize)
	return p
}

func convertTo(t *testing.T, src, dst string, opts ...string) string {
	args := append([]string{"convert", "-O", "qcow2"}, opts...)
	run(t, "qemu-img", append(args, src, dst)...)
	return dst
}

func imageCases() []imageCase {
	return []imageCase{
		{"raw", FormatRaw, rawBase},
		{"qcow2", FormatQcow2, func(t *testing.T, dir string) string {
			return convertTo(t, rawBase(t, dir), filepath.Join(dir, "disk.qcow2"))
		}},
		{"qcow2 4k clusters", FormatQcow2, func(t *testing.T, dir string) string {
			return convertTo(t, rawBase(t, dir), filepath.Join(dir, "disk.qcow2"), "-o", "cluster_size=4096")
		}},
		{"qcow2 v2", FormatQcow2, func(t *testing.T, dir string) string {
			return convertTo(t, rawBase(t, dir), filepath.Join(dir, "disk.qcow2"), "-o", "compat=0.10")
		}},
		{"compressed qcow2", FormatQcow2, func(t *testing.T, dir string) string {
			return convertTo(t, rawBase(t, dir), filepath.Join(dir, "disk.qcow2"), "-c")
		}},
		{"zstd compressed qcow2", FormatQcow2, func(t *testing.T, dir string) string {
			return convertTo(t, rawBase(t, dir), filepath.Join(dir, "disk.qcow2"), "-c", "-o", "compression_type=zstd")
		}},
		{"overlay on compressed qcow2", FormatQcow2, func(t *testing.T, dir string) string {
			base := convertTo(t, rawBase(t, dir), filepath.Join(dir, "base.qcow2"), "-c")
			top := filepath.Join(dir, "top.qcow2")
			run(t, "qemu-img", "create", "-q", "-f", "qcow2", "-b", "base.qcow2", "-F", "qcow2", top)
			run(t, "qemu-io", "-c", "write -P 0xab 1M 64k", "-c", "write -z 0 64k", "-c", "write -P 0xcd 30M 4k", top)
			_ = base
			return top
		}},
		{"larger overlay on raw backing, 3 levels", FormatQcow2, func(t *testing.T, dir string) string {
			rawBase(t, dir)
			sub := filepath.Join(dir, "sub")
			require.NoError(t, os.Mkdir(sub, 0o755))
			mid := filepath.Join(sub, "mid.qcow2")
			run(t, "qemu-img", "create", "-q", "-f", "qcow2", "-o", "cluster_size=16384", "-b", "../base.raw", "-F", "raw", mid)
			run(t, "qemu-io", "-c", "write -P 0x11 8M 100k", mid)
			top := filepath.Join(dir, "top.qcow2")
			run(t, "qemu-img", "create", "-q", "-f", "qcow2", "-b", "sub/mid.qcow2", "-F", "qcow2", top, "48M")
			run(t, "qemu-io", "-c", "write -P 0x22 8M 4k", "-c", "write -P 0x33 40M 64k", top)
			return top
		}},
	}
}

func TestImagesReadLikeQemu(t *testing.T) {
	for _, tc := range imageCases() {
		t.Run(tc.name, func(t *testing.T) {
			path := tc.build(t, t.TempDir())
			want := qemuToRaw(t, path)

			img, err := Open(path)
			require.NoError(t, err)
			defer img.Close()
			assert.Equal(t, tc.format, img.Format())
			require.Equal(t, int64(len(want)), img.Size())

			got := make([]byte, len(want))
			n, err := img.ReadAt(got, 0)
			require.True(t, err == nil || err == io.EOF, "read whole disk: %v", err) //nolint:errorlint // ReaderAt sentinel
			require.Equal(t, len(want), n)
			require.True(t, bytes.Equal(want, got), "virtual disk differs from qemu-img convert -O raw")

			checkUnalignedReads(t, img, want)

			alloc, err := img.Allocated()
			require.NoError(t, err)
			assert.Equal(t, qemuMapData(t, path), alloc, "Allocated() differs from qemu-img map")
			checkHolesAreZero(t, want, alloc)
		})
	}
}

// checkUnalignedReads reads odd-sized pieces at odd offsets, crossing
// cluster boundaries, from several goroutines at once.
func checkUnalignedReads(t *testing.T, img *Image, want []byte) {
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func(seed int64) {
			defer wg.Done()
			rng := rand.New(rand.NewSource(seed))
			for i := 0; i < 200; i++ {
				off := rng.Int63n(int64(len(want)))
				buf := make([]byte, 1+rng.Intn(200<<10))
				n, err := img.ReadAt(buf, off)
				end := min(off+int64(len(buf)), int64(len(want)))
				if int64(n) != end-off || (err != nil && !(err == io.EOF && end == int64(len(want)))) { //nolint:errorlint // ReaderAt sentinel
					errs <- errors.New("short read or error at " + strings.TrimSpace(err.Error()))
					return
				}
				if !bytes.Equal(buf[:n], want[off:end]) {
					errs <- errors.New("unaligned read returned wrong bytes")
					return
				}
			}
		}(int64(g))
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// checkHolesAreZero: whatever Allocated leaves out must read as zeros, or
// the ddgz encoder would lose data.
func checkHolesAreZero(t *testing.T, disk []byte, alloc []Range) {
	pos := int64(0)
	for _, r := range append(alloc, Range{Start: int64(len(disk))}) {
		if !isZero(disk[pos:r.Start]) {
			t.Fatalf("bytes %d..%d are outside Allocated() but hold data", pos, r.Start)
		}
		pos = r.End()
	}
}

func isZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

func TestReadAtBounds(t *testing.T) {
	dir := t.TempDir()
	path := convertTo(t, rawBase(t, dir), filepath.Join(dir, "disk.qcow2"))
	img, err := Open(path)
	require.NoError(t, err)
	defer img.Close()

	buf := make([]byte, 8192)
	n, err := img.ReadAt(buf, img.Size()-4096)
	assert.Equal(t, 4096, n)
	assert.Equal(t, io.EOF, err)

	n, err = img.ReadAt(buf, img.Size())
	assert.Equal(t, 0, n)
	assert.Equal(t, io.EOF, err)

	_, err = img.ReadAt(buf, -1)
	assert.ErrorContains(t, err, "negative offset")

	n, err = img.ReadAt(buf[:4096], img.Size()-4096)
	assert.Equal(t, 4096, n)
	assert.NoError(t, err, "a read ending exactly at the end is complete")
}

func TestOpenRejects(t *testing.T) {
	cases := []struct {
		name  string
		build func(t *testing.T, dir string) string
		want  []string
	}{
		{"missing backing file", func(t *testing.T, dir string) string {
			convertTo(t, rawBase(t, dir), filepath.Join(dir, "base.qcow2"))
			top := filepath.Join(dir, "top.qcow2")
			run(t, "qemu-img", "create", "-q", "-f", "qcow2", "-b", "base.qcow2", "-F", "qcow2", top)
			require.NoError(t, os.Remove(filepath.Join(dir, "base.qcow2")))
			return top
		}, []string{`backing file "base.qcow2"`, filepath.Join("base.qcow2"), "no such file"}},
		{"truncated qcow2", func(t *testing.T, dir string) string {
			p := convertTo(t, rawBase(t, dir), filepath.Join(dir, "disk.qcow2"))
			st, err := os.Stat(p)
			require.NoError(t, err)
			require.NoError(t, os.Truncate(p, st.Size()/2))
			return p
		}, []string{"truncated"}},
		{"truncated header", func(t *testing.T, dir string) string {
			p := convertTo(t, rawBase(t, dir), filepath.Join(dir, "disk.qcow2"))
			require.NoError(t, os.Truncate(p, 40))
			return p
		}, []string{"header is truncated"}},
		{"backing loop", func(t *testing.T, dir string) string {
			a, b := filepath.Join(dir, "a.qcow2"), filepath.Join(dir, "b.qcow2")
			run(t, "qemu-img", "create", "-q", "-f", "qcow2", a, "1M")
			run(t, "qemu-img", "create", "-q", "-f", "qcow2", "-b", "a.qcow2", "-F", "qcow2", b)
			run(t, "qemu-img", "rebase", "-u", "-b", "b.qcow2", "-F", "qcow2", a)
			return b
		}, []string{"backing file loop"}},
		{"vmdk", foreign("vmdk"), []string{"VMDK", "qemu-img convert -O qcow2"}},
		{"vdi", foreign("vdi"), []string{"VDI", "qemu-img convert -O qcow2"}},
		{"vhdx", foreign("vhdx"), []string{"VHDX", "qemu-img convert -O qcow2"}},
		{"vpc", foreign("vpc"), []string{"VHD", "qemu-img convert -O qcow2"}},
		{"gzip", func(t *testing.T, dir string) string {
			p := filepath.Join(dir, "disk.img.gz")
			require.NoError(t, os.WriteFile(p, []byte("\x1f\x8b\x08\x00rest"), 0o644))
			return p
		}, []string{"gzip", "decompress"}},
		{"empty", func(t *testing.T, dir string) string {
			p := filepath.Join(dir, "empty.img")
			require.NoError(t, os.WriteFile(p, nil, 0o644))
			return p
		}, []string{"empty"}},
		{"directory", func(t *testing.T, dir string) string { return dir }, []string{"not a regular file"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := tc.build(t, t.TempDir())
			img, err := Open(path)
			if err == nil {
				img.Close()
				t.Fatal("Open succeeded")
			}
			assert.Contains(t, err.Error(), path, "the error names the image")
			for _, w := range tc.want {
				assert.Contains(t, err.Error(), w)
			}
		})
	}
}

func foreign(format string) func(t *testing.T, dir string) string {
	return func(t *testing.T, dir string) string {
		p := filepath.Join(dir, "disk.img") // the name hides the format
		run(t, "qemu-img", "convert", "-O", format, rawBase(t, dir), p)
		return p
	}
}
