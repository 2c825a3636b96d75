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

// blockKey names a decoded block in one form (formFull, formColumns:
// without its messages, formStored: messages as stored).
type blockKey struct {
	part  *part
	block int
	form  blockForm
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

// loadBlockAs returns block i of p decoded in the given form through the
// cache. A cached form that holds more serves a read that needs less: a
// full block serves every form (its messages as written are what a stored
// read of a block without elided members gives, and a reader of the
// stored form handles either), a stored one a columns read, and a full
// read when it has no elided members. Blocks without a columns frame
// (version 1) are only ever decoded whole.
func (s *Store) loadBlockAs(p *part, i int, form blockForm) (*decodedBlock, error) {
	k := blockKey{part: p, block: i}
	if b := s.cache.get(k); b != nil {
		s.m.cacheHits.Inc()
		return b, nil
	}
	if p.blocks[i].colsSize == 0 {
		form = formFull
	}
	k.form = formStored
	// A block stored without elided members is its full form too.
	if b := s.cache.get(k); b != nil && (form != formFull || b.members == nil) {
		s.m.cacheHits.Inc()
		return b, nil
	}
	if form == formColumns {
		k.form = formColumns
		if b := s.cache.get(k); b != nil {
			s.m.cacheHits.Inc()
			return b, nil
		}
	}
	k.form = form
	s.m.cacheMisses.Inc()
	b, err := p.readBlockAs(i, s.codec, form)
	if err != nil {
		return nil, err
	}
	s.cache.put(k, b)
	return b, nil
}
