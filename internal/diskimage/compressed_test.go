package diskimage

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestClusterCacheInflatesOnceAndStaysBounded(t *testing.T) {
	c := newClusterCache()
	loads := 0
	load := func(size int) func() ([]byte, error) {
		return func() ([]byte, error) { loads++; return make([]byte, size), nil }
	}
	const cluster = 64 << 10
	for range 16 { // a cluster read a block at a time
		_, err := c.Load(0, load(cluster))
		require.NoError(t, err)
	}
	assert.Equal(t, 1, loads, "a cached cluster was inflated again")

	for off := int64(1); off <= 2*clusterCacheBytes/cluster; off++ {
		_, err := c.Load(off*cluster, load(cluster))
		require.NoError(t, err)
	}
	assert.LessOrEqual(t, c.Cost(), clusterCacheBytes)
	assert.Equal(t, clusterCacheBytes/cluster, c.Len())

	loads = 0
	_, err := c.Load(0, load(cluster))
	require.NoError(t, err)
	assert.Equal(t, 1, loads, "the least recently used cluster was not evicted")
}

func TestClusterCacheKeepsNoFailedCluster(t *testing.T) {
	c := newClusterCache()
	corrupt := errors.New("corrupt deflate stream")
	_, err := c.Load(0, func() ([]byte, error) { return nil, corrupt })
	require.ErrorIs(t, err, corrupt)
	data, err := c.Load(0, func() ([]byte, error) { return []byte("inflated"), nil })
	require.NoError(t, err)
	assert.Equal(t, "inflated", string(data))
}

func TestClusterCacheKeepsOneClusterLargerThanItsBudget(t *testing.T) {
	c := newClusterCache()
	big := make([]byte, clusterCacheBytes+1)
	_, err := c.Load(0, func() ([]byte, error) { return big, nil })
	require.NoError(t, err)
	_, err = c.Load(0, func() ([]byte, error) { t.Fatal("reloaded"); return nil, nil })
	require.NoError(t, err)
}
