package value

import (
	"math"
	"math/bits"
)

// DistinctExactLimit is how many distinct values count_distinct tracks
// exactly. Past it the set is replaced by a HyperLogLog sketch
// (precision 14: 16 KiB, about 0.8% standard error). AWS documents that
// count_distinct "is just an approximation" for high-cardinality fields;
// below this bound kinsight's answer is exact.
const DistinctExactLimit = 1 << 14

const (
	hllP = 14
	hllM = 1 << hllP
)

// distinctAgg counts values that are distinct by Key (so "12" and 12 are
// one value, as Equal says). Null is not a value.
type distinctAgg struct {
	set   map[string]struct{} // nil once switched to the sketch
	bytes int
	regs  []uint8 // HyperLogLog registers, nil while exact
}

func newDistinctAgg() *distinctAgg {
	return &distinctAgg{set: make(map[string]struct{})}
}

func (a *distinctAgg) Add(v Value) {
	if v.IsNull() {
		return
	}
	a.addKey(Key(v))
}

func (a *distinctAgg) addKey(k string) {
	if a.regs != nil {
		a.addHash(hashString(k))
		return
	}
	if _, ok := a.set[k]; ok {
		return
	}
	a.set[k] = struct{}{}
	a.bytes += len(k) + 48
	if len(a.set) > DistinctExactLimit {
		a.toSketch()
	}
}

func (a *distinctAgg) toSketch() {
	a.regs = make([]uint8, hllM)
	for k := range a.set {
		a.addHash(hashString(k))
	}
	a.set, a.bytes = nil, 0
}

func (a *distinctAgg) addHash(h uint64) {
	idx := h >> (64 - hllP)
	rank := uint8(bits.LeadingZeros64(h<<hllP|1<<(hllP-1))) + 1
	if rank > a.regs[idx] {
		a.regs[idx] = rank
	}
}

func (a *distinctAgg) Merge(o Agg) {
	b, ok := o.(*distinctAgg)
	if !ok {
		mismatch(a, o)
	}
	if b.regs == nil {
		for k := range b.set {
			a.addKey(k)
		}
		return
	}
	if a.regs == nil {
		a.toSketch()
	}
	for i, r := range b.regs {
		if r > a.regs[i] {
			a.regs[i] = r
		}
	}
}

func (a *distinctAgg) Result() Value {
	if a.regs == nil {
		return Int(int64(len(a.set)))
	}
	// The HyperLogLog estimate (Flajolet et al. 2007), with linear
	// counting where the raw estimate is biased (below 2.5m).
	sum, zeros := 0.0, 0
	for _, r := range a.regs {
		sum += math.Ldexp(1, -int(r))
		if r == 0 {
			zeros++
		}
	}
	m := float64(hllM)
	est := 0.7213 / (1 + 1.079/m) * m * m / sum
	if est <= 2.5*m && zeros > 0 {
		est = m * math.Log(m/float64(zeros))
	}
	return Int(int64(math.Round(est)))
}

func (a *distinctAgg) Size() int {
	if a.regs != nil {
		return hllM + 32
	}
	return a.bytes + 48
}

// hashString is FNV-1a followed by a 64-bit finaliser (from MurmurHash3):
// deterministic across processes, so sketches built on different scans
// merge, and well mixed in the top bits that pick the register.
func hashString(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	h ^= h >> 33
	return h
}
