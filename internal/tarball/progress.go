package tarball

import "io"

// ProgressWriter passes writes to W and reports each one's size to Add,
// for a progress bar over the bytes of an archive.
type ProgressWriter struct {
	W   io.Writer
	Add func(n int64)
}

func (p *ProgressWriter) Write(b []byte) (int, error) {
	n, err := p.W.Write(b)
	p.Add(int64(n))
	return n, err
}

// ProgressReaderAt passes reads to R and reports each one's size to Add,
// for a progress bar over the bytes read from a disk image. Add may be
// called from several goroutines at once if R is read that way.
type ProgressReaderAt struct {
	R   io.ReaderAt
	Add func(n int64)
}

func (p *ProgressReaderAt) ReadAt(b []byte, off int64) (int, error) {
	n, err := p.R.ReadAt(b, off)
	p.Add(int64(n))
	return n, err
}
