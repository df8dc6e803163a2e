package diskimage

import (
	"io"
	"sync"

	"github.com/klauspost/compress/zstd"
	"github.com/lima-vm/go-qcow2reader/image/qcow2"
)

// go-qcow2reader only knows deflate; QEMU can also compress clusters with
// zstd (qemu-img convert -c -o compression_type=zstd).
func init() {
	qcow2.SetDecompressor(qcow2.CompressionTypeZstd, newZstdClusterReader)
}

// zstdMaxWindow bounds a decoder's memory: a qcow2 cluster is at most
// 2 MiB, so no legitimate cluster needs a larger window.
const zstdMaxWindow = 4 << 20

// Decoders are pooled because the library opens one per cluster read.
var zstdDecoders sync.Pool

type zstdClusterReader struct{ *zstd.Decoder }

func newZstdClusterReader(r io.Reader) (io.ReadCloser, error) {
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
	return zstdClusterReader{d}, nil
}

// Close detaches the compressed input and returns the decoder to the pool.
func (z zstdClusterReader) Close() error {
	z.Decoder.Reset(nil)
	zstdDecoders.Put(z.Decoder)
	return nil
}
