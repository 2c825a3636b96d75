package insights

import (
	"sort"
	"strings"

	"github.com/kinsight/kinsight/internal/insights/value"
)

// AWS `pattern` clusters messages into patterns. kinsight does it simply,
// in the spirit of Drain, in two steps so that the result does not depend
// on which worker saw which batch:
//
//  1. each value is split on white space and every token holding a digit
//     becomes <*>; the workers count these masked lines (mergeable, and
//     usually far fewer than the events);
//  2. at the end the masked lines, most frequent first, are clustered: a
//     line joins the cluster with the same token count that agrees with it
//     on most constant positions, if that is at least one and at least
//     half of them; the positions where they disagree become <*>.
//
// Results are the clusters by descending count with @pattern,
// @sampleCount and @ratio (share of the values clustered).

// patternState counts masked lines.
type patternState struct {
	counts map[string]int64
	total  int64
}

func newPatternState() *patternState { return &patternState{counts: map[string]int64{}} }

// add counts one value and returns the bytes the state grew by.
func (p *patternState) add(v value.Value) int64 {
	if v.IsNull() {
		return 0
	}
	toks := strings.Fields(v.String())
	for i, t := range toks {
		if hasDigit(t) {
			toks[i] = "<*>"
		}
	}
	key := strings.Join(toks, " ")
	p.total++
	n, ok := p.counts[key]
	p.counts[key] = n + 1
	if ok {
		return 0
	}
	return int64(96 + len(key)) // the key, its map slot and the count
}

func (p *patternState) merge(o *patternState) {
	for k, n := range o.counts {
		p.counts[k] += n
	}
	p.total += o.total
}

// cluster is one pattern: its tokens, <*> where members differ.
type cluster struct {
	toks  []string
	count int64
}

// maxClustersPerLength bounds the linear search of similar clusters; past
// it, a line that matches none joins the closest one.
const maxClustersPerLength = 256

// rows clusters the counted lines into result rows.
func (p *patternState) rows(q *Query, s *patternStage) []*row {
	keys := make([]string, 0, len(p.counts))
	for k := range p.counts {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if a, b := p.counts[keys[i]], p.counts[keys[j]]; a != b {
			return a > b
		}
		return keys[i] < keys[j]
	})
	byLen := map[int][]*cluster{}
	var all []*cluster
	for _, k := range keys {
		toks := strings.Fields(k)
		cs := byLen[len(toks)]
		var best *cluster
		bestScore, accept := -1, false
		for _, c := range cs {
			same, consts := 0, 0
			for i, t := range toks {
				if c.toks[i] == "<*>" || t == "<*>" {
					continue
				}
				consts++
				if c.toks[i] == t {
					same++
				}
			}
			if same > bestScore {
				best, bestScore = c, same
				accept = consts == 0 || same > 0 && 2*same >= consts
			}
		}
		if best != nil && !accept && len(cs) < maxClustersPerLength {
			best = nil
		}
		if best == nil {
			best = &cluster{toks: toks}
			byLen[len(toks)] = append(cs, best)
			all = append(all, best)
		} else {
			for i, t := range toks {
				if best.toks[i] != t {
					best.toks[i] = "<*>"
				}
			}
		}
		best.count += p.counts[k]
	}
	pats := make([]string, len(all))
	for i, c := range all {
		pats[i] = strings.Join(c.toks, " ")
	}
	idx := make([]int, len(all))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(i, j int) bool {
		if a, b := all[idx[i]].count, all[idx[j]].count; a != b {
			return a > b
		}
		return pats[idx[i]] < pats[idx[j]]
	})
	out := make([]*row, 0, len(all))
	for _, i := range idx {
		r := newRow(q)
		r.set(s.pattern, value.Str(pats[i]))
		r.set(s.count, value.Int(all[i].count))
		r.set(s.ratio, value.Num(float64(all[i].count)/float64(p.total)))
		out = append(out, r)
	}
	return out
}

// pattern runs a pattern command over a row set (when it follows another
// blocking command).
func (x *run) pattern(s *patternStage, rows []*row) ([]*row, error) {
	p := newPatternState()
	for _, r := range rows {
		if err := x.mem.grow(p.add(s.src(r)), "the lines kept by pattern"); err != nil {
			return nil, err
		}
	}
	return p.rows(x.q, s), nil
}
