package lru

import (
	"errors"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func count(string) int { return 1 }

func TestEvictsTheLeastRecentlyUsed(t *testing.T) {
	c := New[int](3, count)
	for k := range 3 {
		c.Add(k, "v")
	}
	_, ok := c.Get(0) // 0 is now the most recent; 1 the least
	require.True(t, ok)
	c.Add(3, "v")
	_, ok = c.Get(1)
	assert.False(t, ok, "the least recently used value was kept")
	for _, k := range []int{0, 2, 3} {
		_, ok := c.Get(k)
		assert.True(t, ok, "value %d was evicted out of order", k)
	}
	assert.Equal(t, 3, c.Len())
}

func TestBudgetIsTheSumOfCosts(t *testing.T) {
	c := New[int](100, Bytes)
	c.Add(0, make([]byte, 60))
	c.Add(1, make([]byte, 30))
	assert.Equal(t, 90, c.Cost())
	c.Add(2, make([]byte, 20)) // 110 > 100: the oldest goes
	assert.Equal(t, 50, c.Cost())
	assert.Equal(t, 2, c.Len())
	_, ok := c.Get(0)
	assert.False(t, ok)
}

func TestKeepsOneValueLargerThanTheBudget(t *testing.T) {
	c := New[int](100, Bytes)
	c.Add(0, make([]byte, 10))
	c.Add(1, make([]byte, 101))
	assert.Equal(t, 1, c.Len())
	_, ok := c.Get(1)
	assert.True(t, ok, "the newest value was evicted")
}

func TestAddKeepsTheFirstValue(t *testing.T) {
	c := New[int](10, count)
	assert.Equal(t, "first", c.Add(0, "first"))
	assert.Equal(t, "first", c.Add(0, "second"), "Add replaced a value callers may hold")
	assert.Equal(t, 1, c.Cost(), "a value added twice was counted twice")
}

func TestLoadLoadsOnceAndCachesNoError(t *testing.T) {
	c := New[int](10, count)
	broken := errors.New("corrupt block")
	_, err := c.Load(0, func() (string, error) { return "", broken })
	require.ErrorIs(t, err, broken)
	assert.Equal(t, 0, c.Len(), "a failed load was cached")

	loads := 0
	for range 5 {
		v, err := c.Load(0, func() (string, error) { loads++; return "block", nil })
		require.NoError(t, err)
		assert.Equal(t, "block", v)
	}
	assert.Equal(t, 1, loads, "a cached value was loaded again")
}

// TestConcurrentLoads runs under the race detector: every caller of one key
// gets the one value kept, whoever loaded it.
func TestConcurrentLoads(t *testing.T) {
	c := New[int](4, Bytes)
	var wg sync.WaitGroup
	got := make([][]byte, 8)
	for g := range got {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range 16 {
				v, err := c.Load(k%3, func() ([]byte, error) { return []byte{byte(k % 3)}, nil })
				if err != nil || len(v) != 1 || v[0] != byte(k%3) {
					t.Errorf("Load(%d) = %v, %v", k%3, v, err)
				}
			}
			got[g], _ = c.Load(0, func() ([]byte, error) { return []byte{0}, nil })
		}()
	}
	wg.Wait()
	assert.Equal(t, 3, c.Len())
	assert.Equal(t, 3, c.Cost())
	kept, _ := c.Get(0)
	for _, v := range got {
		assert.Same(t, &kept[0], &v[0], "a caller got a value other than the one kept")
	}
}
