package guestcmd

import (
	"bytes"
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

func TestOutputKeepsTheStart(t *testing.T) {
	var out Output
	n, err := out.Write(bytes.Repeat([]byte("a"), MaxOutput-1))
	require.NoError(t, err)
	assert.Equal(t, MaxOutput-1, n)
	n, err = out.Write([]byte("bcd"))
	require.NoError(t, err)
	assert.Equal(t, 3, n, "a writer that drops must still report the whole write")
	assert.True(t, strings.HasSuffix(out.String(), "ab\n[2 more bytes of output dropped]"))
}
