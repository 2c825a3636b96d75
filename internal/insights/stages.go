package insights

import (
	"container/heap"
	"math"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/kinsight/kinsight/internal/insights/value"
)

// stage is one command of the compiled pipeline.
type stage interface{ isStage() }

type filterStage struct {
	cond evalFn
	// pre, when set, is a necessary condition on an event's raw message
	// (see pruning.pre), much cheaper than cond.
	pre oracle
	// streamOnly: the filter only restricts @logStream (ScanRequest.Streams
	// does all its work).
	streamOnly bool
}

// assignStage computes fields/display expressions into their slots.
type assignStage struct {
	slots []int
	fns   []evalFn
}

type parseStage struct {
	src    evalFn
	re     *regexp.Regexp
	slots  []int
	groups []int // submatch index of each slot
}

type statsStage struct {
	by       []evalFn
	byNames  []string
	bySlots  []int
	aggs     []aggSpec
	outFns   []evalFn
	outSlots []int
}

type sortKey struct {
	fn   evalFn
	desc bool
}

type sortStage struct {
	keys []sortKey
	// newestFirst: the order is @timestamp desc on events, which the store
	// can serve reading backwards.
	newestFirst bool
}

type limitStage struct{ n int }

type dedupStage struct{ slots []int }

type patternStage struct {
	src                   evalFn
	pattern, count, ratio int // result slots
}

func (*filterStage) isStage()  {}
func (*assignStage) isStage()  {}
func (*parseStage) isStage()   {}
func (*statsStage) isStage()   {}
func (*sortStage) isStage()    {}
func (*limitStage) isStage()   {}
func (*dedupStage) isStage()   {}
func (*patternStage) isStage() {}

// streaming reports whether a stage works on one row at a time.
func streaming(s stage) bool {
	switch s.(type) {
	case *filterStage, *assignStage, *parseStage:
		return true
	}
	return false
}

// apply runs a streaming stage on r; false drops the row.
func apply(s stage, r *row) bool {
	switch s := s.(type) {
	case *filterStage:
		if s.pre != nil && r.isEvent && !r.noMsg && !s.pre(r.contains) {
			return false
		}
		return s.cond(r).Truthy()
	case *assignStage:
		// Evaluate all first: `fields a as b, b as a` swaps.
		var buf [8]value.Value
		vals := buf[:0]
		for _, f := range s.fns {
			vals = append(vals, f(r))
		}
		for i, sl := range s.slots {
			r.set(sl, vals[i])
		}
	case *parseStage:
		v := s.src(r)
		var m []int
		str := v.String()
		if !v.IsNull() {
			m = s.re.FindStringSubmatchIndex(str)
		}
		for i, sl := range s.slots {
			g := s.groups[i]
			if m == nil || m[2*g] < 0 {
				r.set(sl, value.Value{})
				continue
			}
			r.set(sl, value.Str(str[m[2*g]:m[2*g+1]]))
		}
	}
	return true
}

// group is one stats group.
type group struct {
	by   []value.Value
	aggs []value.Agg
}

// groupKey appends the key of by-values to dst.
func groupKey(dst []byte, by []value.Value) []byte {
	for _, v := range by {
		if v.Kind() == value.KindString && !maybeNumOrBool(v.String()) {
			// value.Key's form for a plain string, without its allocation.
			s := v.String()
			dst = strconv.AppendInt(dst, int64(len(s)+1), 10)
			dst = append(dst, ':', 's')
			dst = append(dst, s...)
			continue
		}
		if k := v.Kind(); k == value.KindTime || k == value.KindNumber && v.IsInt() {
			// value.Key's form for an integral number or a time ("n" and
			// the integer), without its allocation: bin() keys.
			var f float64
			if k == value.KindTime {
				f = float64(v.Millis())
			} else {
				f, _ = v.AsNumber()
			}
			if math.Abs(f) < 1<<53 {
				var nb [24]byte
				num := strconv.AppendInt(nb[:0], int64(f), 10)
				dst = strconv.AppendInt(dst, int64(len(num)+1), 10)
				dst = append(dst, ':', 'n')
				dst = append(dst, num...)
				continue
			}
		}
		k := value.Key(v)
		dst = strconv.AppendInt(dst, int64(len(k)), 10)
		dst = append(dst, ':')
		dst = append(dst, k...)
	}
	return dst
}

// maybeNumOrBool is false for strings that value.Key surely keys as
// strings: those that cannot be a number ("12", ".5", "-1") or a boolean
// ("true", "FALSE").
func maybeNumOrBool(s string) bool {
	if s == "" {
		return true
	}
	switch c := s[0]; {
	case c >= '0' && c <= '9', c == '+', c == '-', c == '.', c == 't', c == 'T', c == 'f', c == 'F', c == ' ', c == '\t':
		return true
	}
	return false
}

// statsState is one worker's (or the merged) groups.
type statsState struct {
	st     *statsStage
	groups map[string]*group
	keybuf []byte
	byBuf  []value.Value
	// last is the group of the previous row and lastBy its by-values:
	// consecutive events mostly share a group (a block's events are in
	// time order and of one stream), and the same values make the same
	// key, so the key is not built and looked up again.
	last   *group
	lastBy []value.Value
}

func newStatsState(st *statsStage) *statsState {
	return &statsState{st: st, groups: map[string]*group{}}
}

// add folds r into its group and returns the bytes the state grew by.
func (s *statsState) add(r *row) int64 {
	st := s.st
	s.byBuf = s.byBuf[:0]
	for _, f := range st.by {
		s.byBuf = append(s.byBuf, f(r))
	}
	var grew int64
	g := s.last
	if g == nil || !sameValues(s.byBuf, s.lastBy) {
		g = s.group(&grew)
		s.last = g
		s.lastBy = append(s.lastBy[:0], s.byBuf...)
	}
	var ts int64
	for i := range st.aggs {
		a := &st.aggs[i]
		var v value.Value
		if a.arg != nil {
			v = a.arg(r)
		}
		var before int
		if a.grows {
			before = g.aggs[i].Size()
		}
		if a.timed {
			if ts == 0 {
				ts = r.timestamp()
			}
			g.aggs[i].(value.TimedAgg).AddAt(v, ts)
		} else {
			g.aggs[i].Add(v)
		}
		if a.grows {
			grew += int64(g.aggs[i].Size() - before)
		}
	}
	return grew
}

// group finds or makes the group of s.byBuf, adding what it allocates to
// grew.
func (s *statsState) group(grew *int64) *group {
	st := s.st
	s.keybuf = groupKey(s.keybuf[:0], s.byBuf)
	g, ok := s.groups[string(s.keybuf)]
	if ok {
		return g
	}
	g = &group{by: append([]value.Value(nil), s.byBuf...), aggs: make([]value.Agg, len(st.aggs))}
	*grew += int64(96 + 2*len(s.keybuf) + 40*len(g.by) + 16*len(g.aggs))
	for i := range st.aggs {
		g.aggs[i] = st.aggs[i].new()
		*grew += int64(g.aggs[i].Size())
	}
	for _, v := range g.by {
		if v.Kind() == value.KindString {
			*grew += int64(len(v.String()))
		}
	}
	s.groups[string(s.keybuf)] = g
	return g
}

func sameValues(a, b []value.Value) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !a[i].Same(b[i]) {
			return false
		}
	}
	return true
}

// merge folds o into s; o must not be used afterwards unless copy is set,
// in which case o's aggregates are left untouched.
func (s *statsState) merge(o *statsState, copyAggs bool) {
	for k, og := range o.groups {
		g, ok := s.groups[k]
		if !ok {
			if !copyAggs {
				s.groups[k] = og
				continue
			}
			g = &group{by: og.by, aggs: make([]value.Agg, len(og.aggs))}
			for i := range og.aggs {
				g.aggs[i] = s.st.aggs[i].new()
			}
			s.groups[k] = g
		}
		for i := range og.aggs {
			g.aggs[i].Merge(og.aggs[i])
		}
	}
}

// rows turns the groups into stats rows, in ascending order of their
// by-values. A stats without by gives one row even over no events (count
// 0), as an SQL aggregate does.
func (s *statsState) rows(q *Query) []*row {
	st := s.st
	if len(st.by) == 0 && len(s.groups) == 0 {
		g := &group{aggs: make([]value.Agg, len(st.aggs))}
		for i := range st.aggs {
			g.aggs[i] = st.aggs[i].new()
		}
		s.groups[""] = g
	}
	gs := make([]*group, 0, len(s.groups))
	for _, g := range s.groups {
		gs = append(gs, g)
	}
	sort.Slice(gs, func(i, j int) bool {
		for k := range gs[i].by {
			if c := value.Order(gs[i].by[k], gs[j].by[k]); c != 0 {
				return c < 0
			}
		}
		return false
	})
	out := make([]*row, 0, len(gs))
	for _, g := range gs {
		r := newRow(q)
		for i, sl := range st.bySlots {
			r.set(sl, g.by[i])
		}
		r.aggs = make([]value.Value, len(g.aggs))
		for i, a := range g.aggs {
			r.aggs[i] = a.Result()
		}
		for i, f := range st.outFns {
			r.set(st.outSlots[i], f(r))
		}
		r.aggs = nil
		out = append(out, r)
	}
	return out
}

// less orders rows by the precomputed keys of a sort: nulls last in both
// directions, then newest first, then by @ptr and message so that results
// do not depend on the order batches arrived in.
func (s *sortStage) less(a, b *row) bool {
	if s.newestFirst && a.isEvent && b.isEvent {
		// @timestamp desc on events: the key is the event's own time.
		return tieLess(a, b)
	}
	for i, k := range s.keys {
		x, y := a.keys[i], b.keys[i]
		if x.IsNull() != y.IsNull() {
			return y.IsNull()
		}
		c := value.Order(x, y)
		if k.desc {
			c = -c
		}
		if c != 0 {
			return c < 0
		}
	}
	return tieLess(a, b)
}

func tieLess(a, b *row) bool {
	if a.ev.Timestamp != b.ev.Timestamp {
		return a.ev.Timestamp > b.ev.Timestamp
	}
	if a.ev.Ptr != b.ev.Ptr {
		return a.ev.Ptr < b.ev.Ptr
	}
	return a.ev.Message < b.ev.Message
}

func (s *sortStage) computeKeys(r *row) {
	r.keys = r.keys[:0]
	for _, k := range s.keys {
		r.keys = append(r.keys, k.fn(r))
	}
}

// topK keeps the best k rows of a sort in a heap whose root is the worst.
type topK struct {
	s    *sortStage
	k    int
	rows []*row
}

func (t *topK) Len() int           { return len(t.rows) }
func (t *topK) Less(i, j int) bool { return t.s.less(t.rows[j], t.rows[i]) }
func (t *topK) Swap(i, j int)      { t.rows[i], t.rows[j] = t.rows[j], t.rows[i] }
func (t *topK) Push(x any)         { t.rows = append(t.rows, x.(*row)) }
func (t *topK) Pop() any {
	r := t.rows[len(t.rows)-1]
	t.rows = t.rows[:len(t.rows)-1]
	return r
}

// offer considers r (a worker's scratch row: cloned when kept) and returns
// the bytes the heap grew by.
func (t *topK) offer(r *row) int64 {
	if t.k <= 0 {
		return 0
	}
	t.s.computeKeys(r)
	if len(t.rows) < t.k {
		c := r.clone()
		heap.Push(t, c)
		return c.size()
	}
	if !t.s.less(r, t.rows[0]) {
		return 0
	}
	// Reuse the evicted row: in the worst case (events arriving in the
	// opposite order of the sort) every event is kept for a while.
	old := t.rows[0]
	before := old.size()
	old.copyFrom(r)
	heap.Fix(t, 0)
	return old.size() - before
}

// sorted returns the kept rows best first.
func (t *topK) sorted() []*row {
	out := append([]*row(nil), t.rows...)
	sort.Slice(out, func(i, j int) bool { return t.s.less(out[i], out[j]) })
	return out
}

// hasDigit marks tokens that pattern treats as variable from the start.
func hasDigit(s string) bool {
	return strings.ContainsAny(s, "0123456789")
}
