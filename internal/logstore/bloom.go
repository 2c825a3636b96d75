package logstore

// Each block carries a bloom filter over the distinct trigrams of its
// tokens: every run of three consecutive token bytes (see isTokenByte) in
// any message. A search for a substring s can skip the block when some
// trigram of s's token runs is missing. Trigrams rather than whole tokens,
// because CloudWatch filter terms and Insights `like` match substrings
// ("ERROR" matches "ERRORCODE"); a term of n token bytes has n-2 trigrams that
// must all be present, so a modest per-trigram false-positive rate gives a
// tiny one per term, and a block holds about as many distinct trigrams as
// distinct tokens.
//
// A trigram is a 24-bit key (b0<<16 | b1<<8 | b2), so the builder dedupes
// with a 2 MiB bitmap instead of hashing every occurrence.
const (
	bloomBitsPerKey = 6
	bloomProbes     = 3
)

type bloomBuilder struct {
	seen []uint64 // 1<<24 bits
	keys []uint32 // distinct keys, to build the filter and clear seen
}

func newBloomBuilder() *bloomBuilder { return &bloomBuilder{seen: make([]uint64, 1<<24/64)} }

func (b *bloomBuilder) addMessage(msg string) {
	var key uint32
	run := 0
	for i := 0; i < len(msg); i++ {
		c := msg[i]
		if !tokenByte[c] {
			run = 0
			continue
		}
		key = (key<<8 | uint32(c)) & 0xFFFFFF
		run++
		if run >= 3 {
			w, bit := key>>6, uint64(1)<<(key&63)
			if b.seen[w]&bit == 0 {
				b.seen[w] |= bit
				b.keys = append(b.keys, key)
			}
		}
	}
}

func (b *bloomBuilder) reset() {
	for _, k := range b.keys {
		b.seen[k>>6] = 0
	}
	b.keys = b.keys[:0]
}

// build returns the filter's words for the keys added since reset.
func (b *bloomBuilder) build() []uint64 {
	words := (len(b.keys)*bloomBitsPerKey + 63) / 64
	if words == 0 {
		words = 1
	}
	bits := make([]uint64, words)
	m := uint64(words * 64)
	for _, k := range b.keys {
		h1, h2 := bloomHash(k)
		for i := uint64(0); i < bloomProbes; i++ {
			p := (h1 + i*h2) % m
			bits[p/64] |= 1 << (p % 64)
		}
	}
	return bits
}

// bloomHash mixes a trigram key into two probe hashes (splitmix64).
func bloomHash(k uint32) (uint64, uint64) {
	z := uint64(k) + 0x9e3779b97f4a7c15
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	z ^= z >> 31
	return z, z>>33 | 1
}

func bloomHasKey(bits []uint64, k uint32) bool {
	m := uint64(len(bits) * 64)
	if m == 0 {
		return true
	}
	h1, h2 := bloomHash(k)
	for i := uint64(0); i < bloomProbes; i++ {
		p := (h1 + i*h2) % m
		if bits[p/64]&(1<<(p%64)) == 0 {
			return false
		}
	}
	return true
}

// bloomMayContain reports whether a block with this filter may contain s:
// false only if some trigram of s's token runs is absent.
func bloomMayContain(bits []uint64, s string) bool {
	var key uint32
	run := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !tokenByte[c] {
			run = 0
			continue
		}
		key = (key<<8 | uint32(c)) & 0xFFFFFF
		run++
		if run >= 3 && !bloomHasKey(bits, key) {
			return false
		}
	}
	return true
}
