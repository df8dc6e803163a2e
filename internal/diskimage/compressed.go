package diskimage

import (
	"bytes"
	"errors"
	"io"
	"os"
	"sync"

	"github.com/klauspost/compress/flate"
	"github.com/klauspost/compress/zstd"
	"github.com/lima-vm/go-qcow2reader/image/qcow2"

	"github.com/c34478be/packer-plugin-maas/internal/lru"
)

// go-qcow2reader opens a decompressor for every read of a compressed
// cluster and inflates the cluster from its start each time, discarding up
// to the offset read. The ext4 reader reads a 64 KiB cluster of small files
// a few KiB at a time, so one cluster was inflated many times over. These
// decompressors inflate a cluster once into a per-file cache of recent
// clusters and serve reads from it; they also add zstd, which QEMU writes
// with qemu-img convert -c -o compression_type=zstd.
func init() {
	qcow2.SetDecompressor(qcow2.CompressionTypeZlib, func(r io.Reader) (io.ReadCloser, error) {
		return openCluster(r, inflateDeflate)
	})
	qcow2.SetDecompressor(qcow2.CompressionTypeZstd, func(r io.Reader) (io.ReadCloser, error) {
		return openCluster(r, inflateZstd)
	})
}

// zstdMaxWindow bounds a decoder's memory: a qcow2 cluster is at most
// 2 MiB, so no legitimate cluster needs a larger window.
const zstdMaxWindow = 4 << 20

// clusterCacheBytes bounds the inflated clusters kept per qcow2 file:
// 64 clusters of the usual 64 KiB, or 2 of the largest (2 MiB). Reads of
// one cluster come close together, so a larger cache gained nothing.
const clusterCacheBytes = 4 << 20

// qcow2File is the file go-qcow2reader reads one qcow2 image from. The
// decompressors find it behind the section reader they are given, and with
// it the image's cluster size and cache.
type qcow2File struct {
	*os.File
	clusterSize int64
	clusters    *lru.Cache[int64, []byte]
}

// inflater inflates one compressed cluster from r into buf, returning how
// many bytes it wrote; a stream shorter than buf is not an error here.
type inflater func(r io.Reader, buf []byte) (int, error)

func openCluster(r io.Reader, inflate inflater) (io.ReadCloser, error) {
	sr, ok := r.(*io.SectionReader)
	if !ok {
		return nil, errors.New("compressed cluster: unexpected reader from go-qcow2reader")
	}
	outer, off, _ := sr.Outer()
	file, ok := outer.(*qcow2File)
	if !ok || file.clusterSize == 0 {
		return nil, errors.New("compressed cluster: image not opened by this package")
	}
	data, err := file.clusters.Load(off, func() ([]byte, error) {
		buf := make([]byte, file.clusterSize)
		n, err := inflate(sr, buf)
		return buf[:n], err
	})
	if err != nil {
		// go-qcow2reader would call this a failure to open the
		// decompressor; as the read's error it says what happened.
		return io.NopCloser(errorReader{err}), nil //nolint:nilerr // reported by Read
	}
	return io.NopCloser(&fullReader{r: bytes.NewReader(data)}), nil
}

// fullReader fills p completely unless the cluster's data ends first, and
// then says io.EOF, so a short cluster reads as short, not as whole.
type fullReader struct{ r io.Reader }

func (f *fullReader) Read(p []byte) (int, error) {
	n, err := io.ReadFull(f.r, p)
	if err == io.ErrUnexpectedEOF {
		err = io.EOF
	}
	return n, err
}

// errorReader reports a cluster that failed to inflate.
type errorReader struct{ err error }

func (e errorReader) Read([]byte) (int, error) { return 0, e.err }

var deflateReaders, zstdDecoders sync.Pool

func inflateDeflate(r io.Reader, buf []byte) (int, error) {
	fr, _ := deflateReaders.Get().(io.ReadCloser)
	if fr == nil {
		fr = flate.NewReader(r)
	} else if err := fr.(flate.Resetter).Reset(r, nil); err != nil {
		return 0, err
	}
	defer deflateReaders.Put(fr)
	return readAll(fr, buf)
}

func inflateZstd(r io.Reader, buf []byte) (int, error) {
	d, _ := zstdDecoders.Get().(*zstd.Decoder)
	if d == nil {
		var err error
		d, err = zstd.NewReader(nil, zstd.WithDecoderConcurrency(1),
			zstd.WithDecoderMaxWindow(zstdMaxWindow), zstd.WithDecoderMaxMemory(zstdMaxWindow))
		if err != nil {
			return 0, err
		}
	}
	if err := d.Reset(r); err != nil {
		return 0, err
	}
	defer func() {
		_ = d.Reset(nil) // drop the reference to the image file
		zstdDecoders.Put(d)
	}()
	return readAll(d, buf)
}

// readAll fills buf from r; a stream that ends early is a short cluster,
// judged by the reader of the image, not an error here.
func readAll(r io.Reader, buf []byte) (int, error) {
	n, err := io.ReadFull(r, buf)
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		err = nil
	}
	return n, err
}

// newClusterCache holds the most recently inflated clusters of one file,
// keyed by their offset in it, within clusterCacheBytes.
func newClusterCache() *lru.Cache[int64, []byte] {
	return lru.New[int64](clusterCacheBytes, lru.Bytes)
}
