package packerui

import (
	"io"
	"sync"
	"testing"

	packersdk "github.com/hashicorp/packer-plugin-sdk/packer"
	"github.com/stretchr/testify/assert"
)

// countingUi records what a progress bar was told, as Packer's own UI
// would show it: each Read on the tracked stream is one update.
type countingUi struct {
	packersdk.MockUi
	mu      sync.Mutex
	total   int64
	reads   []int
	closed  bool
	tracked string
}

func (u *countingUi) TrackProgress(src string, _, total int64, stream io.ReadCloser) io.ReadCloser {
	u.tracked, u.total = src, total
	return &countingStream{ui: u, stream: stream}
}

type countingStream struct {
	ui     *countingUi
	stream io.ReadCloser
}

func (s *countingStream) Read(b []byte) (int, error) {
	n, err := s.stream.Read(b)
	s.ui.mu.Lock()
	s.ui.reads = append(s.ui.reads, n)
	s.ui.mu.Unlock()
	return n, err
}

func (s *countingStream) Close() error { s.ui.closed = true; return s.stream.Close() }

func TestProgressBatchesUpdatesAndReachesTheTotal(t *testing.T) {
	ui := &countingUi{}
	const total = 10*progressStep + 12345
	p := NewProgress(ui, "export", total)
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for sent := int64(0); sent < total/4; sent += 65536 {
				p.Add(min(65536, total/4-sent))
			}
		}()
	}
	wg.Wait()
	p.Add(total - 4*(total/4))
	p.Close()

	var sum int64
	for _, n := range ui.reads {
		assert.LessOrEqual(t, n, progressStep)
		sum += int64(n)
	}
	assert.Equal(t, int64(total), sum)
	assert.Equal(t, int64(total), ui.total)
	assert.Equal(t, "export", ui.tracked)
	assert.LessOrEqual(t, len(ui.reads), 12, "updates must be batched, not one per Add")
	assert.True(t, ui.closed)
}
