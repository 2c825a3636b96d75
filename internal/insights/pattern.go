package insights

import (
	"sort"
	"strings"

	"github.com/kinsight/kinsight/internal/insights/value"
)

// cluster is one pattern: its tokens, <*> where members differ.
type cluster struct {
	toks  []string
	count int64
	first int // order of appearance, for ties
}

// maxClustersPerLength bounds the linear search of similar clusters; past
// it, a message that matches none joins the closest one.
const maxClustersPerLength = 256

// pattern clusters the rows' values (AWS `pattern`) the simple way, in the
// spirit of Drain: messages are split on white space; tokens with a digit
// are variable from the start; a message joins the cluster of the same
// token count that agrees with it on most constant positions, if that is
// at least one and at least half of them, and the positions where they
// disagree become <*>. Results are the clusters by
// descending count with @pattern, @sampleCount and @ratio.
func (x *run) pattern(s *patternStage, rows []*row) ([]*row, error) {
	byLen := map[int][]*cluster{}
	var all []*cluster
	var total int64
	for _, r := range rows {
		v := s.src(r)
		if v.IsNull() {
			continue
		}
		toks := strings.Fields(v.String())
		for i, t := range toks {
			if hasDigit(t) {
				toks[i] = "<*>"
			}
		}
		total++
		cs := byLen[len(toks)]
		var best *cluster
		bestScore := -1
		for _, c := range cs {
			// Similarity counts the positions both sides hold a constant:
			// at least half of them must agree, and at least one.
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
			if (consts == 0 || same > 0 && 2*same >= consts) && same > bestScore {
				best, bestScore = c, same
			}
		}
		if best == nil && len(cs) >= maxClustersPerLength {
			best = cs[len(cs)-1]
		}
		if best == nil {
			c := &cluster{toks: toks, first: len(all)}
			n := int64(64)
			for _, t := range toks {
				n += int64(16 + len(t))
			}
			if err := x.mem.grow(n, "the clusters kept by pattern"); err != nil {
				return nil, err
			}
			byLen[len(toks)] = append(cs, c)
			all = append(all, c)
			best = c
		} else {
			for i, t := range toks {
				if best.toks[i] != t {
					best.toks[i] = "<*>"
				}
			}
		}
		best.count++
	}
	sort.SliceStable(all, func(i, j int) bool { return all[i].count > all[j].count })
	out := make([]*row, 0, len(all))
	for _, c := range all {
		r := newRow(x.q)
		r.set(s.pattern, value.Str(strings.Join(c.toks, " ")))
		r.set(s.count, value.Int(c.count))
		r.set(s.ratio, value.Num(float64(c.count)/float64(total)))
		out = append(out, r)
	}
	return out, nil
}
