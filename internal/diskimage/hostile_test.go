package diskimage

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/c34478be/packer-plugin-maas/internal/test/testtool"
)

// craftedQcow2 is a qcow2 version 3 image laid out byte by byte, for the
// shapes qemu-img never writes: cluster 0 holds the header (and the
// backing file name), the L1 table starts at cluster 1, and clusters
// holds the content of any other host cluster. Refcounts are left out:
// neither this package nor go-qcow2reader reads them.
type craftedQcow2 struct {
	clusterBits uint32
	size        uint64 // virtual size
	l1          []uint64
	backing     string
	clusters    map[int64][]byte // by host offset
}

func (c *craftedQcow2) clusterSize() int64 { return 1 << c.clusterBits }

// firstFree is the host offset of the first cluster after the L1 table.
func (c *craftedQcow2) firstFree() int64 {
	cs := c.clusterSize()
	return cs + (int64(len(c.l1))*8+cs-1)/cs*cs
}

func (c *craftedQcow2) bytes() []byte {
	end := c.firstFree()
	for off, b := range c.clusters {
		end = max(end, off+int64(len(b)))
	}
	img := make([]byte, end)
	be := binary.BigEndian
	copy(img, qcow2Magic)
	be.PutUint32(img[4:], 3)
	be.PutUint32(img[20:], c.clusterBits)
	be.PutUint64(img[24:], c.size)
	be.PutUint32(img[36:], uint32(len(c.l1)))
	be.PutUint64(img[40:], uint64(c.clusterSize()))
	be.PutUint32(img[96:], 4)    // refcount_order
	be.PutUint32(img[100:], 104) // header_length; the extension end marker follows
	if c.backing != "" {
		be.PutUint64(img[8:], 112)
		be.PutUint32(img[16:], uint32(len(c.backing)))
		copy(img[112:], c.backing)
	}
	for i, e := range c.l1 {
		be.PutUint64(img[c.clusterSize()+int64(i)*8:], e)
	}
	for off, b := range c.clusters {
		copy(img[off:], b)
	}
	return img
}

func (c *craftedQcow2) write(t testing.TB, path string) string {
	t.Helper()
	require.NoError(t, os.WriteFile(path, c.bytes(), 0o600))
	return path
}

// sharedL2 is the shape: every L1 entry points at the one L2
// table, whose entries alternate between a zero cluster (which needs no
// host cluster) and a hole, so that each would become an extent of its
// own. With 64 KiB clusters and 4096 L1 entries the file is 128 KiB, the
// virtual disk 2 TiB, and the map the old code built 4096 x 4096 extents
// (400 MB).
func sharedL2() *craftedQcow2 { return sharedL2Sized(16, 4096) }

func sharedL2Sized(clusterBits uint32, l1Entries int) *craftedQcow2 {
	c := &craftedQcow2{clusterBits: clusterBits, l1: make([]uint64, l1Entries)}
	cs := c.clusterSize()
	c.size = uint64(len(c.l1)) * uint64(cs*cs/8)
	l2Off := c.firstFree()
	l2 := make([]byte, cs)
	for j := 0; j < len(l2)/8; j += 2 {
		binary.BigEndian.PutUint64(l2[j*8:], 1) // QCOW_OFLAG_ZERO
	}
	for i := range c.l1 {
		c.l1[i] = uint64(l2Off) | 1<<63
	}
	c.clusters = map[int64][]byte{l2Off: l2}
	return c
}

// sharedData is one L2 table whose every entry maps the same data
// cluster: a virtual disk of one cluster repeated, which QEMU never
// writes.
func sharedData() *craftedQcow2 {
	c := &craftedQcow2{clusterBits: 9, l1: make([]uint64, 1), size: 512 * 64}
	l2Off := c.firstFree()
	dataOff := l2Off + 512
	l2 := make([]byte, 512)
	for j := 0; j < 64; j++ {
		binary.BigEndian.PutUint64(l2[j*8:], uint64(dataOff)|1<<63)
	}
	c.l1[0] = uint64(l2Off) | 1<<63
	data := make([]byte, 512)
	copy(data, "the one cluster")
	c.clusters = map[int64][]byte{l2Off: l2, dataOff: data}
	return c
}

// hostileMemoryLimit bounds the peak RSS of a child test process that
// opens a hostile image: the test binary itself (with the race detector)
// plus a few MiB for the image; the unbounded code needed hundreds of MB.
const hostileMemoryLimit = 96 << 20

func TestSharedL2TableIsRefusedInBoundedMemory(t *testing.T) {
	if rss, parent := testtool.InChild(t); parent {
		assert.Less(t, rss, int64(hostileMemoryLimit), "peak RSS of opening a 128 KiB qcow2")
		t.Logf("peak RSS %d MiB", rss>>20)
		return
	}
	path := sharedL2().write(t, filepath.Join(t.TempDir(), "shared-l2.qcow2"))
	img, err := Open(path)
	if err == nil {
		img.Close()
		t.Fatal("Open accepted L1 entries sharing one L2 table")
	}
	assert.ErrorContains(t, err, "L2 table #1")
	assert.ErrorContains(t, err, "already in use")
}

func TestSharedDataClusterIsRefused(t *testing.T) {
	path := sharedData().write(t, filepath.Join(t.TempDir(), "shared-data.qcow2"))
	img, err := Open(path)
	if err == nil {
		img.Close()
		t.Fatal("Open accepted L2 entries sharing one data cluster")
	}
	assert.ErrorContains(t, err, "cluster at virtual offset 512")
	assert.ErrorContains(t, err, "already in use")
}

// backingCase builds, under root, an image whose backing file is outside
// the image's directory, and returns the image and where the backing
// file really is.
type backingCase struct {
	name  string
	build func(t *testing.T, root string) (image, backing string)
}

func outsideBackingCases() []backingCase {
	// secret is a raw file next to (not inside) the image's directory.
	secret := func(t *testing.T, root string) string {
		p := filepath.Join(root, "secret.raw")
		require.NoError(t, os.WriteFile(p, make([]byte, 64<<10), 0o600))
		require.NoError(t, os.Mkdir(filepath.Join(root, "img"), 0o755))
		return p
	}
	overlay := func(t *testing.T, image, backing string) string {
		run(t, "qemu-img", "create", "-q", "-f", "qcow2", "-u", "-b", backing, "-F", "raw", image, "64K")
		return image
	}
	return []backingCase{
		{"absolute host path", func(t *testing.T, root string) (string, string) {
			require.NoError(t, os.Mkdir(filepath.Join(root, "img"), 0o755))
			return overlay(t, filepath.Join(root, "img", "top.qcow2"), "/etc/passwd"), "/etc/passwd"
		}},
		{"relative path climbing out", func(t *testing.T, root string) (string, string) {
			s := secret(t, root)
			return overlay(t, filepath.Join(root, "img", "top.qcow2"), "../secret.raw"), s
		}},
		{"symlink inside pointing out", func(t *testing.T, root string) (string, string) {
			s := secret(t, root)
			require.NoError(t, os.Symlink("../secret.raw", filepath.Join(root, "img", "base.raw")))
			return overlay(t, filepath.Join(root, "img", "top.qcow2"), "base.raw"), s
		}},
		{"second level of the chain climbing out", func(t *testing.T, root string) (string, string) {
			s := secret(t, root)
			mid := overlay(t, filepath.Join(root, "img", "mid.qcow2"), "../secret.raw")
			top := filepath.Join(root, "img", "top.qcow2")
			run(t, "qemu-img", "create", "-q", "-f", "qcow2", "-u", "-b", filepath.Base(mid), "-F", "qcow2", top, "64K")
			return top, s
		}},
	}
}

func TestBackingOutsideTheImageTreeIsRefused(t *testing.T) {
	for _, tc := range outsideBackingCases() {
		t.Run(tc.name, func(t *testing.T) {
			root, err := filepath.EvalSymlinks(t.TempDir())
			require.NoError(t, err)
			image, backing := tc.build(t, root)
			img, err := Open(image)
			if err == nil {
				img.Close()
				t.Fatalf("Open followed the backing file %s", backing)
			}
			var bad *BackingPathError
			require.True(t, errors.As(err, &bad), "error %v is not a BackingPathError", err)
			assert.Equal(t, backing, bad.Resolved)
			assert.ErrorContains(t, err, backing, "the error names the backing file")
			assert.ErrorContains(t, err, "qemu-img convert", "the error says how to fix it")
		})
	}
}

func TestAllowBackingFollowsAndReportsTheChain(t *testing.T) {
	for _, tc := range outsideBackingCases() {
		t.Run(tc.name, func(t *testing.T) {
			root, err := filepath.EvalSymlinks(t.TempDir())
			require.NoError(t, err)
			image, backing := tc.build(t, root)
			img, err := Open(image, AllowBacking(filepath.Dir(backing)))
			require.NoError(t, err)
			defer img.Close()
			chain := img.Chain()
			assert.Equal(t, image, chain[0])
			assert.Equal(t, backing, chain[len(chain)-1])

			// Allowing the one file works too; allowing a sibling does not.
			img2, err := Open(image, AllowBacking(backing))
			require.NoError(t, err)
			img2.Close()
			_, err = Open(image, AllowBacking(filepath.Join(filepath.Dir(backing), "other")))
			assert.Error(t, err)
		})
	}
}

func TestBackingFile(t *testing.T) {
	dir := t.TempDir()
	base := convertTo(t, rawBase(t, dir), filepath.Join(dir, "base.qcow2"))
	top := filepath.Join(dir, "top.qcow2")
	run(t, "qemu-img", "create", "-q", "-f", "qcow2", "-b", "base.qcow2", "-F", "qcow2", top)
	for path, want := range map[string]string{top: "base.qcow2", base: "", filepath.Join(dir, "base.raw"): ""} {
		got, err := BackingFile(path)
		require.NoError(t, err)
		assert.Equal(t, want, got, path)
	}
}

// misreadBackingFormat is an overlay whose header extensions go-qcow2reader
// v0.6.0 reads differently from QEMU: it skips no extension longer than
// 4096 bytes but reads on from inside its data, where this one holds a
// backing format "qcow2"; QEMU and this package skip the long extension and
// find the real one, "raw". The backing file is a qcow2 header claiming
// 2^32-1 L1 entries (32 GiB), which only a validated qcow2 may be read as.
func misreadBackingFormat(t *testing.T, dir string) (top string, base []byte) {
	hostile := &craftedQcow2{clusterBits: 9, size: 4096, l1: make([]uint64, 1)}
	base = hostile.bytes()
	binary.BigEndian.PutUint32(base[36:], 0xffffffff)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "base.img"), base, 0o600))

	c := &craftedQcow2{clusterBits: 16, size: 64 << 10, l1: make([]uint64, 1)}
	img := c.bytes()
	be := binary.BigEndian
	extension := func(off int64, typ uint32, length int, data string) {
		be.PutUint32(img[off:], typ)
		be.PutUint32(img[off+4:], uint32(length))
		copy(img[off+8:], data)
	}
	const backingFormatExt = 0xe2792aca
	extension(104, 0x0000abcd, 5000, "")
	extension(112, backingFormatExt, 5, "qcow2") // inside the long extension's data
	extension(112+5000, backingFormatExt, 3, "raw")
	be.PutUint64(img[8:], 8192) // the backing file name, past the extensions
	be.PutUint32(img[16:], uint32(len("base.img")))
	copy(img[8192:], "base.img")
	top = filepath.Join(dir, "top.qcow2")
	require.NoError(t, os.WriteFile(top, img, 0o600))
	return top, base
}

func TestBackingFileIsReadInTheFormatValidated(t *testing.T) {
	if rss, parent := testtool.InChild(t); parent {
		assert.Less(t, rss, int64(hostileMemoryLimit), "peak RSS of opening a 128 KiB qcow2 on a 1 KiB backing file")
		t.Logf("peak RSS %d MiB", rss>>20)
		return
	}
	top, base := misreadBackingFormat(t, t.TempDir())
	img, err := Open(top)
	require.NoError(t, err)
	defer img.Close()
	got := make([]byte, img.Size())
	_, err = img.ReadAt(got, 0)
	require.NoError(t, err)
	want := append(base, make([]byte, img.Size()-int64(len(base)))...)
	assert.True(t, bytes.Equal(want, got), "the overlay does not read as its raw backing file")
}
