package logstore

import (
	"container/list"
	"sync"
)

// blockCache keeps recently decoded blocks up to a byte budget, so a reader
// that walks a block in small windows, or many readers of the newest blocks,
// decompress each block once.
type blockCache struct {
	mu    sync.Mutex
	max   int64
	size  int64
	ll    *list.List
	items map[blockKey]*list.Element
}

// blockKey names a decoded block; columnsOnly entries hold a block
// decoded without its messages.
type blockKey struct {
	part        *part
	block       int
	columnsOnly bool
}

type cacheEntry struct {
	key blockKey
	b   *decodedBlock
}

func newBlockCache(max int64) *blockCache {
	return &blockCache{max: max, ll: list.New(), items: map[blockKey]*list.Element{}}
}

func (c *blockCache) get(k blockKey) *decodedBlock {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.items[k]; ok {
		c.ll.MoveToFront(e)
		return e.Value.(*cacheEntry).b
	}
	return nil
}

func (c *blockCache) put(k blockKey, b *decodedBlock) {
	sz := b.sizeBytes()
	if sz > c.max/4 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.items[k]; ok {
		return
	}
	c.items[k] = c.ll.PushFront(&cacheEntry{key: k, b: b})
	c.size += sz
	for c.size > c.max {
		e := c.ll.Back()
		ce := e.Value.(*cacheEntry)
		c.ll.Remove(e)
		delete(c.items, ce.key)
		c.size -= ce.b.sizeBytes()
	}
}

// forget drops a part's blocks (the part was merged away or deleted).
func (c *blockCache) forget(p *part) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, e := range c.items {
		if k.part == p {
			c.ll.Remove(e)
			delete(c.items, k)
			c.size -= e.Value.(*cacheEntry).b.sizeBytes()
		}
	}
}

func (c *blockCache) bytes() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.size
}
