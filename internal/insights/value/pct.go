package value

import (
	"math"
	"slices"
)

// PctExactLimit is how many values pct keeps to answer exactly. Past it
// they move into a log-bucketed sketch (DDSketch's mapping, Masson et al.
// 2019) whose answers are within PctRelativeError of the exact value.
// AWS documents pct(field, p) as "the value at which p percent of the
// values are lower"; it does not document an interpolation, so kinsight
// uses the nearest-rank method: the smallest value with at least p% of
// the values at or below it, which is always a value that occurred.
const (
	PctExactLimit    = 1 << 15
	PctRelativeError = 0.01
)

type pctAgg struct {
	p      float64
	vals   []float64 // exact values; nil once sketched
	sorted bool
	sk     *ddSketch
}

func newPctAgg(p float64) *pctAgg { return &pctAgg{p: p} }

func (a *pctAgg) Add(v Value) {
	x, ok := v.AsNumber()
	if !ok {
		return
	}
	a.add(x)
}

func (a *pctAgg) add(x float64) {
	if a.sk != nil {
		a.sk.add(x, 1)
		return
	}
	a.vals = append(a.vals, x)
	a.sorted = false
	if len(a.vals) > PctExactLimit {
		a.toSketch()
	}
}

func (a *pctAgg) toSketch() {
	a.sk = newDDSketch()
	for _, x := range a.vals {
		a.sk.add(x, 1)
	}
	a.vals = nil
}

func (a *pctAgg) Merge(o Agg) {
	b, ok := o.(*pctAgg)
	if !ok || b.p != a.p {
		mismatch(a, o)
	}
	if b.sk == nil {
		for _, x := range b.vals {
			a.add(x)
		}
		return
	}
	if a.sk == nil {
		a.toSketch()
	}
	a.sk.merge(b.sk)
}

// rank is the 1-based nearest rank of percentile p among n values.
func rank(p float64, n uint64) uint64 {
	r := uint64(math.Ceil(p / 100 * float64(n)))
	if r < 1 {
		r = 1
	}
	if r > n {
		r = n
	}
	return r
}

func (a *pctAgg) Result() Value {
	if a.sk != nil {
		return a.sk.quantile(a.p)
	}
	if len(a.vals) == 0 {
		return Null()
	}
	if !a.sorted {
		slices.Sort(a.vals)
		a.sorted = true
	}
	return Num(a.vals[rank(a.p, uint64(len(a.vals)))-1])
}

func (a *pctAgg) Size() int {
	if a.sk != nil {
		return a.sk.size()
	}
	return 8*cap(a.vals) + 48
}

// ddSketch maps each non-zero value x to bucket ceil(log_γ |x|), with
// γ = (1+α)/(1-α); every value in a bucket is within relative error α of
// the bucket's representative. Buckets are counted in maps, so memory
// grows with the logarithmic range of the data (about 2,300 buckets
// cover 1e-9..1e12), not with the number of values.
type ddSketch struct {
	lnGamma  float64
	pos, neg map[int32]uint64
	zero     uint64
	n        uint64
}

func newDDSketch() *ddSketch {
	const alpha = PctRelativeError
	gamma := (1 + alpha) / (1 - alpha)
	return &ddSketch{lnGamma: math.Log(gamma), pos: map[int32]uint64{}, neg: map[int32]uint64{}}
}

// minIndexable keeps tiny magnitudes out of extreme bucket indexes; they
// count as zero.
const minIndexable = 1e-300

func (s *ddSketch) add(x float64, c uint64) {
	s.n += c
	switch {
	case math.Abs(x) < minIndexable:
		s.zero += c
	case x > 0:
		s.pos[s.index(x)] += c
	default:
		s.neg[s.index(-x)] += c
	}
}

func (s *ddSketch) index(x float64) int32 { return int32(math.Ceil(math.Log(x) / s.lnGamma)) }

func (s *ddSketch) value(i int32) float64 {
	g := math.Exp(s.lnGamma)
	return 2 * math.Exp(float64(i)*s.lnGamma) / (g + 1)
}

func (s *ddSketch) merge(o *ddSketch) {
	for i, c := range o.pos {
		s.pos[i] += c
	}
	for i, c := range o.neg {
		s.neg[i] += c
	}
	s.zero += o.zero
	s.n += o.n
}

func (s *ddSketch) quantile(p float64) Value {
	if s.n == 0 {
		return Null()
	}
	r := rank(p, s.n)
	var seen uint64
	// Negative values, most negative (largest index) first.
	for _, i := range sortedKeys(s.neg, true) {
		if seen += s.neg[i]; seen >= r {
			return Num(-s.value(i))
		}
	}
	if seen += s.zero; seen >= r {
		return Int(0)
	}
	for _, i := range sortedKeys(s.pos, false) {
		if seen += s.pos[i]; seen >= r {
			return Num(s.value(i))
		}
	}
	return Null() // unreachable: counts add up to n
}

func sortedKeys(m map[int32]uint64, desc bool) []int32 {
	keys := make([]int32, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	if desc {
		slices.Reverse(keys)
	}
	return keys
}

func (s *ddSketch) size() int { return 64 + 24*(len(s.pos)+len(s.neg)) }
