package diskimage

import (
	"io"
	"sync"

	"github.com/klauspost/compress/flate"
	"github.com/klauspost/compress/zstd"
	"github.com/lima-vm/go-qcow2reader/image/qcow2"
)

// go-qcow2reader opens a decompressor for every compressed cluster it reads
// and calls Read once, re-decompressing the cluster for each short read.
// These decompressors come from pools and fill the caller's buffer in one
// Read, so each cluster is inflated once; they also add zstd, which QEMU
// writes with qemu-img convert -c -o compression_type=zstd.
func init() {
	qcow2.SetDecompressor(qcow2.CompressionTypeZlib, newDeflateCluster)
	qcow2.SetDecompressor(qcow2.CompressionTypeZstd, newZstdCluster)
}

// zstdMaxWindow bounds a decoder's memory: a qcow2 cluster is at most
// 2 MiB, so no legitimate cluster needs a larger window.
const zstdMaxWindow = 4 << 20

var deflateReaders, zstdDecoders sync.Pool

// fullReader fills p completely unless the compressed stream ends first.
type fullReader struct {
	r       io.Reader
	release func()
}

func (f *fullReader) Read(p []byte) (int, error) {
	n, err := io.ReadFull(f.r, p)
	if err == io.ErrUnexpectedEOF {
		err = io.EOF
	}
	return n, err
}

func (f *fullReader) Close() error {
	f.release()
	return nil
}

func newDeflateCluster(r io.Reader) (io.ReadCloser, error) {
	fr, _ := deflateReaders.Get().(io.ReadCloser)
	if fr == nil {
		fr = flate.NewReader(r)
	} else if err := fr.(flate.Resetter).Reset(r, nil); err != nil {
		return nil, err
	}
	return &fullReader{r: fr, release: func() { deflateReaders.Put(fr) }}, nil
}

func newZstdCluster(r io.Reader) (io.ReadCloser, error) {
	d, _ := zstdDecoders.Get().(*zstd.Decoder)
	if d == nil {
		var err error
		d, err = zstd.NewReader(nil, zstd.WithDecoderConcurrency(1),
			zstd.WithDecoderMaxWindow(zstdMaxWindow), zstd.WithDecoderMaxMemory(zstdMaxWindow))
		if err != nil {
			return nil, err
		}
	}
	if err := d.Reset(r); err != nil {
		return nil, err
	}
	return &fullReader{r: d, release: func() {
		_ = d.Reset(nil) // drop the reference to the image file
		zstdDecoders.Put(d)
	}}, nil
}
