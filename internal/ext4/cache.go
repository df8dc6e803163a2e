package ext4

import (
	"container/list"
	"sync"
)

// blockCache keeps the most recently used metadata blocks. Blocks are
// never modified once added, so callers may keep using a slice after it
// is evicted.
type blockCache struct {
	mu    sync.Mutex
	max   int
	order *list.List // front is the most recently used
	items map[uint64]*list.Element
}

type cachedBlock struct {
	blk  uint64
	data []byte
}

func newBlockCache(max int) *blockCache {
	return &blockCache{max: max, order: list.New(), items: make(map[uint64]*list.Element, max)}
}

func (c *blockCache) get(blk uint64) ([]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.items[blk]
	if !ok {
		return nil, false
	}
	c.order.MoveToFront(e)
	return e.Value.(*cachedBlock).data, true
}

// add stores data for blk and returns the cached copy, which is data
// unless another reader added the block first.
func (c *blockCache) add(blk uint64, data []byte) []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.items[blk]; ok {
		c.order.MoveToFront(e)
		return e.Value.(*cachedBlock).data
	}
	c.items[blk] = c.order.PushFront(&cachedBlock{blk: blk, data: data})
	if c.order.Len() > c.max {
		oldest := c.order.Back()
		c.order.Remove(oldest)
		delete(c.items, oldest.Value.(*cachedBlock).blk)
	}
	return data
}
