package buffer

import (
	"math/bits"
	"sync"
)

// BytePool recycles byte slices by size class: four classes per power of
// two from 4 KiB to 4 MiB (4, 5, 6, 7, 8, 10, 12, 14, 16 … KiB), so a new
// slice is at most a quarter larger than asked for, a recycled one at most
// three quarters (it may come from the next two classes up, below), and a
// slice given back is only handed out for requests it can hold. The agent uses it
// for batch payloads (freed once the destination acknowledged them) and
// request bodies: those were most of its allocations, and the collector's
// cycles follow the allocation rate. The zero value is ready to use; it is
// safe for concurrent use.
type BytePool struct {
	classes [(maxPoolShift-minPoolShift)*4 + 1]sync.Pool
}

const (
	minPoolShift = 12 // 4 KiB, the smallest class
	maxPoolShift = 22 // 4 MiB, the largest
)

// classFor returns the smallest class holding n bytes and its size (ok
// false above the largest class).
func classFor(n int) (idx, size int, ok bool) {
	if n <= 1<<minPoolShift {
		return 0, 1 << minPoolShift, true
	}
	e := bits.Len(uint(n-1)) - 1 // 2^e < n <= 2^(e+1)
	q := 1 << (e - 2)
	s := (n - 1<<e + q - 1) / q // 1..4 quarters above 2^e
	if s == 4 {
		e, s = e+1, 0
	}
	if e > maxPoolShift || (e == maxPoolShift && s > 0) {
		return 0, 0, false
	}
	return (e-minPoolShift)*4 + s, 1<<e + s*q, true
}

// classOf returns the largest class whose size c covers (ok false below
// the smallest and above the largest).
func classOf(c int) (idx int, ok bool) {
	if c < 1<<minPoolShift {
		return 0, false
	}
	e := bits.Len(uint(c)) - 1
	s := (c - 1<<e) >> (e - 2)
	if e > maxPoolShift || (e == maxPoolShift && s > 0) {
		return 0, false
	}
	return (e-minPoolShift)*4 + s, true
}

// Get returns an empty slice with capacity at least n.
func (p *BytePool) Get(n int) []byte {
	idx, size, ok := classFor(n)
	if !ok {
		return make([]byte, 0, n)
	}
	// The next two classes up too: a sync.Pool keeps what is put only
	// until the second collection after, and the agent's catch-up collects
	// every 60 ms or so (its memory limit) while one request body or
	// payload size class sees a few gets in that time. Exact classes alone
	// missed a third of the gets, allocating 360 MB in the benchmark's
	// catch-up (mostly request bodies of ~200 KB); the next two classes
	// served 40% of those misses, at the price of a larger slice than a
	// new one would be.
	for up := idx; up <= idx+2 && up < len(p.classes); up++ {
		if b, ok := p.classes[up].Get().(*[]byte); ok {
			return (*b)[:0]
		}
	}
	return make([]byte, 0, size)
}

// Put gives b back. The caller must not use b, or anything that aliases
// it, afterwards.
func (p *BytePool) Put(b []byte) {
	idx, ok := classOf(cap(b))
	if !ok {
		return
	}
	b = b[:0]
	p.classes[idx].Put(&b)
}
