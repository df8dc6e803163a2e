package guestcmd

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The SSH communicator copies stdout and stderr in two goroutines, in
// packets as small as a byte (cloud-init's progress dots).
func TestOutputTakesTwoStreamsAtOnce(t *testing.T) {
	var out Output
	var streams sync.WaitGroup
	for _, b := range []byte{'.', 'W'} {
		streams.Add(1)
		go func() {
			defer streams.Done()
			for range 1000 {
				_, _ = out.Write([]byte{b})
			}
		}()
	}
	streams.Wait()
	assert.Equal(t, 1000, strings.Count(out.String(), "."))
	assert.Equal(t, 1000, strings.Count(out.String(), "W"))
}

// TestOutputKeepsStartAndEnd writes more than MaxOutput in writes of
// several sizes: the output is the first and last MaxOutput/2 bytes with a
// note of how many in between were dropped, whatever the write sizes.
func TestOutputKeepsStartAndEnd(t *testing.T) {
	var all bytes.Buffer
	for i := 0; all.Len() < 3*MaxOutput; i++ {
		fmt.Fprintf(&all, "line %d\n", i)
	}
	all.WriteString("the last line\n")
	input := all.Bytes()
	half := MaxOutput / 2
	want := string(input[:half]) + fmt.Sprintf("\n[%d bytes of output dropped]\n", len(input)-MaxOutput) + string(input[len(input)-half:])
	for _, size := range []int{1, 7, 4096, half - 1, half, half + 1, MaxOutput + 3, len(input)} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			var out Output
			for rest := input; len(rest) > 0; {
				chunk := rest[:min(size, len(rest))]
				n, err := out.Write(chunk)
				require.NoError(t, err)
				require.Equal(t, len(chunk), n, "a writer that drops must still report the whole write")
				rest = rest[len(chunk):]
			}
			got := out.String()
			require.Equal(t, len(want), len(got))
			require.True(t, got == want, "output is not the start, the drop note and the end")
			assert.True(t, strings.HasSuffix(got, "the last line\n"))
		})
	}
}

func TestOutputShortIsWhole(t *testing.T) {
	for _, n := range []int{0, 10, MaxOutput/2 + 10, MaxOutput} {
		var out Output
		text := strings.Repeat("x", n)
		_, _ = out.Write([]byte(text))
		assert.Equal(t, text, out.String(), "%d bytes fit and are kept whole", n)
	}
}
