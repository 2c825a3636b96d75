package logstore

import (
	"github.com/cespare/xxhash/v2"
)

// A bloom filter over the distinct tokens of one block: bloomBitsPerToken
// bits per token and bloomProbes probes give about 1% false positives. The
// probes are derived from one 64-bit hash by double hashing.
const (
	bloomBitsPerToken = 10
	bloomProbes       = 7
)

type bloomBuilder struct {
	hashes map[uint64]struct{}
}

func newBloomBuilder() *bloomBuilder { return &bloomBuilder{hashes: map[uint64]struct{}{}} }

func (b *bloomBuilder) addMessage(msg string) {
	ForEachToken(msg, func(tok string) { b.hashes[xxhash.Sum64String(tok)] = struct{}{} })
}

func (b *bloomBuilder) reset() { clear(b.hashes) }

// build returns the filter's words.
func (b *bloomBuilder) build() []uint64 {
	words := (len(b.hashes)*bloomBitsPerToken + 63) / 64
	if words == 0 {
		words = 1
	}
	bits := make([]uint64, words)
	m := uint64(words * 64)
	for h := range b.hashes {
		h1, h2 := h, h>>33|1
		for i := uint64(0); i < bloomProbes; i++ {
			p := (h1 + i*h2) % m
			bits[p/64] |= 1 << (p % 64)
		}
	}
	return bits
}

// bloomHas tests one token hash against a filter.
func bloomHas(bits []uint64, h uint64) bool {
	m := uint64(len(bits) * 64)
	if m == 0 {
		return true
	}
	h1, h2 := h, h>>33|1
	for i := uint64(0); i < bloomProbes; i++ {
		p := (h1 + i*h2) % m
		if bits[p/64]&(1<<(p%64)) == 0 {
			return false
		}
	}
	return true
}

// tokenHasher memoises token hashes for one query, since MayMatch asks the
// same tokens for every block.
type tokenHasher map[string]uint64

func (t tokenHasher) hash(tok string) uint64 {
	h, ok := t[tok]
	if !ok {
		h = xxhash.Sum64String(tok)
		t[tok] = h
	}
	return h
}
