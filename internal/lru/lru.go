// Package lru is a least-recently-used cache bounded by the total cost of
// its values: bytes for the readers' caches of disk blocks and inflated
// clusters, or 1 a value for a count.
//
// go-qcow2reader's lru package bounds only the number of entries and
// replaces a value added twice; the readers need a byte budget, since
// their values range from 512 bytes to 2 MiB, and the first value kept
// when two readers load the same key at once, since callers hold on to the
// slice they got.
package lru

import (
	"container/list"
	"sync"
)

// Cache keeps the most recently used values while their total cost stays
// within its budget. It is safe for concurrent use. Values are never
// modified by the cache, so a caller may keep using one after it is
// evicted.
type Cache[K comparable, V any] struct {
	budget int
	cost   func(V) int

	mu    sync.Mutex
	used  int
	order *list.List // of *entry[K, V], most recently used first
	items map[K]*list.Element
}

type entry[K comparable, V any] struct {
	key   K
	value V
	cost  int
}

// New returns an empty cache that holds values while the sum of cost(v)
// over them is at most budget. The most recently added value always stays,
// even alone over the budget.
func New[K comparable, V any](budget int, cost func(V) int) *Cache[K, V] {
	return &Cache[K, V]{budget: budget, cost: cost, order: list.New(), items: map[K]*list.Element{}}
}

// Get returns the value cached for key, marking it the most recently used.
func (c *Cache[K, V]) Get(key K) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.items[key]
	if !ok {
		var zero V
		return zero, false
	}
	c.order.MoveToFront(e)
	return e.Value.(*entry[K, V]).value, true
}

// Add caches value for key unless key is cached already, and returns the
// cached value: value, or the one another caller added first. Least
// recently used values are evicted until the rest fit the budget.
func (c *Cache[K, V]) Add(key K, value V) V {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.items[key]; ok {
		c.order.MoveToFront(e)
		return e.Value.(*entry[K, V]).value
	}
	n := c.cost(value)
	c.items[key] = c.order.PushFront(&entry[K, V]{key: key, value: value, cost: n})
	c.used += n
	for c.used > c.budget && c.order.Len() > 1 {
		oldest := c.order.Remove(c.order.Back()).(*entry[K, V])
		delete(c.items, oldest.key)
		c.used -= oldest.cost
	}
	return value
}

// Load returns the value cached for key, or calls load and caches what it
// returns. load runs without the cache's lock, so that values for
// different keys load in parallel; a failed load is not cached.
func (c *Cache[K, V]) Load(key K, load func() (V, error)) (V, error) {
	if v, ok := c.Get(key); ok {
		return v, nil
	}
	v, err := load()
	if err != nil {
		return v, err
	}
	return c.Add(key, v), nil
}

// Len is the number of cached values.
func (c *Cache[K, V]) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.order.Len()
}

// Cost is the total cost of the cached values.
func (c *Cache[K, V]) Cost() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.used
}

// Bytes is the cost of a byte slice: its length.
func Bytes(b []byte) int { return len(b) }
