// Package packerui holds Packer UI glue shared by the plugin's components.
package packerui

import (
	"io"
	"sync"

	packersdk "github.com/hashicorp/packer-plugin-sdk/packer"
)

// progressStep is how many bytes a progress bar moves per update. Each
// update is one RPC call from the plugin to Packer (which also allocates a
// buffer of that size), so updates are batched rather than sent per read.
const progressStep = 4 << 20

// Progress drives a Packer progress bar from byte counts reported by work
// that is not a single stream (exports read an image at random offsets;
// uploads retry). TrackProgress only counts bytes read from a stream, so
// the bar is handed a stream whose reads cost nothing.
type Progress struct {
	mu      sync.Mutex
	bar     io.ReadCloser
	pending int64
	buf     []byte
}

// NewProgress starts a bar named name that reaches 100% at total bytes.
func NewProgress(ui packersdk.Ui, name string, total int64) *Progress {
	return &Progress{
		bar: ui.TrackProgress(name, 0, total, io.NopCloser(freeReader{})),
		buf: make([]byte, progressStep),
	}
}

// Add counts n more bytes done. Safe for concurrent use.
func (p *Progress) Add(n int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.pending += n
	for p.pending >= progressStep {
		p.flush(progressStep)
	}
}

// Close moves the bar by what is still pending and removes it.
func (p *Progress) Close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for p.pending > 0 {
		p.flush(min(p.pending, progressStep))
	}
	_ = p.bar.Close()
}

func (p *Progress) flush(n int64) {
	_, _ = p.bar.Read(p.buf[:n])
	p.pending -= n
}

// freeReader reads as many bytes as asked, leaving the buffer as it is:
// the bar counts them, and nothing looks at their content.
type freeReader struct{}

func (freeReader) Read(b []byte) (int, error) { return len(b), nil }
