package value

import (
	"fmt"
	"math"
	"strings"
)

// Agg is one stats aggregate for one group. The executor calls Add once
// per event with the evaluated argument (null for a missing field), may
// run several Aggs over parts of the data in parallel and Merge them, and
// reads Result at the end. An Agg is not safe for concurrent use.
type Agg interface {
	// Add folds in one event's value.
	Add(v Value)
	// Merge folds in another partial result of the same function and
	// arguments (from NewAgg with the same name and args). Merging partial
	// results gives what one pass over all the events would, up to
	// floating-point rounding and, past their exact bounds, the documented
	// estimation of count_distinct and pct. It panics on a different kind
	// of Agg, which is a bug in the caller, not bad input.
	Merge(other Agg)
	// Result is the aggregate's value; null when nothing was added
	// (except count, which is 0).
	Result() Value
	// Size estimates the bytes the Agg holds, for the query memory limit.
	Size() int
}

// TimedAgg is an aggregate that needs each event's @timestamp: earliest,
// latest. sortsFirst and sortsLast implement it too so the executor can
// treat the four alike. Add(v) on them means AddAt(v, 0).
type TimedAgg interface {
	Agg
	AddAt(v Value, ts int64)
}

// aggArity is each aggregate's canonical name and argument count.
func aggArity(name string) (canonical string, lo, hi int, ok bool) {
	switch strings.ToLower(name) {
	case "count":
		return "count", 0, 1, true
	case "count_distinct":
		return "count_distinct", 1, 1, true
	case "sum":
		return "sum", 1, 1, true
	case "avg":
		return "avg", 1, 1, true
	case "min":
		return "min", 1, 1, true
	case "max":
		return "max", 1, 1, true
	case "pct":
		return "pct", 2, 2, true
	case "stddev":
		return "stddev", 1, 1, true
	case "earliest":
		return "earliest", 1, 1, true
	case "latest":
		return "latest", 1, 1, true
	case "sortsfirst":
		return "sortsFirst", 1, 1, true
	case "sortslast":
		return "sortsLast", 1, 1, true
	}
	return "", 0, 0, false
}

// IsAggregate reports whether name is a stats aggregate function.
func IsAggregate(name string) bool {
	_, _, _, ok := aggArity(name)
	return ok
}

// NewAgg builds the aggregate name for a call with nargs arguments.
// args holds the call's constant arguments after the field: for
// pct(latency, 95) it is [Num(95)] (passing the field slot too, as
// [anything, Num(95)], is accepted). count with nargs 0 is count() or
// count(*): it counts every Add; count(field) counts non-null values.
func NewAgg(name string, args []Value, nargs int) (Agg, error) {
	canonical, lo, hi, ok := aggArity(name)
	if !ok {
		if _, scalar := lookupSpec(name); scalar {
			return nil, fmt.Errorf("%s is not an aggregate function", name)
		}
		return nil, fmt.Errorf("unknown function '%s'", name)
	}
	if err := checkArity(canonical, lo, hi, nargs); err != nil {
		return nil, err
	}
	switch canonical {
	case "count":
		return &countAgg{star: nargs == 0}, nil
	case "count_distinct":
		return newDistinctAgg(), nil
	case "sum":
		return &sumAgg{}, nil
	case "avg":
		return &avgAgg{}, nil
	case "stddev":
		return &stddevAgg{}, nil
	case "min", "sortsFirst":
		return &extremeAgg{sign: -1}, nil
	case "max", "sortsLast":
		return &extremeAgg{sign: 1}, nil
	case "earliest":
		return &timeAgg{latest: false}, nil
	case "latest":
		return &timeAgg{latest: true}, nil
	case "pct":
		if len(args) == 0 {
			return nil, fmt.Errorf("pct needs a constant percentile, as in pct(field, 95)")
		}
		p, ok := args[len(args)-1].AsNumber()
		if !ok || p < 0 || p > 100 {
			return nil, fmt.Errorf("pct percentile must be a number from 0 to 100, got %q", args[len(args)-1].String())
		}
		return newPctAgg(p), nil
	}
	return nil, fmt.Errorf("unknown function '%s'", name)
}

var (
	_ Agg      = (*countAgg)(nil)
	_ Agg      = (*sumAgg)(nil)
	_ Agg      = (*avgAgg)(nil)
	_ Agg      = (*stddevAgg)(nil)
	_ TimedAgg = (*extremeAgg)(nil)
	_ TimedAgg = (*timeAgg)(nil)
	_ Agg      = (*distinctAgg)(nil)
	_ Agg      = (*pctAgg)(nil)
)

func mismatch(a, b Agg) {
	panic(fmt.Sprintf("value: Merge of %T into %T", b, a))
}

// countAgg is count(*) (every event) or count(field) (AWS: "counts all
// records that include the specified field").
type countAgg struct {
	star bool
	n    int64
}

func (a *countAgg) Add(v Value) {
	if a.star || !v.IsNull() {
		a.n++
	}
}

func (a *countAgg) Merge(o Agg) {
	b, ok := o.(*countAgg)
	if !ok {
		mismatch(a, o)
	}
	a.n += b.n
}

func (a *countAgg) Result() Value { return Int(a.n) }
func (a *countAgg) Size() int     { return 16 }

// sumAgg adds the values that are numbers (JSON "12" counts as 12);
// others are skipped. With none, the sum is null, not 0, as in AWS where
// the column is empty.
type sumAgg struct {
	sum float64
	n   int64
}

func (a *sumAgg) Add(v Value) {
	if x, ok := v.AsNumber(); ok {
		a.sum += x
		a.n++
	}
}

func (a *sumAgg) Merge(o Agg) {
	b, ok := o.(*sumAgg)
	if !ok {
		mismatch(a, o)
	}
	a.sum += b.sum
	a.n += b.n
}

func (a *sumAgg) Result() Value {
	if a.n == 0 {
		return Null()
	}
	return Num(a.sum)
}

func (a *sumAgg) Size() int { return 24 }

// avgAgg is the mean of the numeric values.
type avgAgg struct{ sumAgg }

func (a *avgAgg) Merge(o Agg) {
	b, ok := o.(*avgAgg)
	if !ok {
		mismatch(a, o)
	}
	a.sumAgg.Merge(&b.sumAgg)
}

func (a *avgAgg) Result() Value {
	if a.n == 0 {
		return Null()
	}
	return Num(a.sum / float64(a.n))
}

// stddevAgg is the sample standard deviation (divisor n-1), the usual
// meaning of "standard deviation of the values" for a set of log events
// and what statistics tools report by default; one value gives 0. It uses
// Welford's update and Chan et al.'s pairwise merge, which stay accurate
// where the naive sum of squares cancels.
type stddevAgg struct {
	n    float64
	mean float64
	m2   float64
}

func (a *stddevAgg) Add(v Value) {
	x, ok := v.AsNumber()
	if !ok {
		return
	}
	a.n++
	d := x - a.mean
	a.mean += d / a.n
	a.m2 += d * (x - a.mean)
}

func (a *stddevAgg) Merge(o Agg) {
	b, ok := o.(*stddevAgg)
	if !ok {
		mismatch(a, o)
	}
	if b.n == 0 {
		return
	}
	if a.n == 0 {
		*a = *b
		return
	}
	n := a.n + b.n
	d := b.mean - a.mean
	a.m2 += b.m2 + d*d*a.n*b.n/n
	a.mean += d * b.n / n
	a.n = n
}

func (a *stddevAgg) Result() Value {
	switch {
	case a.n == 0:
		return Null()
	case a.n == 1:
		return Int(0)
	}
	return Num(math.Sqrt(math.Max(a.m2, 0) / (a.n - 1)))
}

func (a *stddevAgg) Size() int { return 24 }

// extremeAgg is min/max and sortsFirst/sortsLast: the value that sorts
// first (sign -1) or last (sign 1) by Compare's order, nulls skipped.
// The result keeps its kind, so min(@timestamp) prints as a timestamp and
// max over strings works. AWS documents min/max over "LogField" and
// sortsFirst/sortsLast as "the value that sorts first/last"; with one
// total order they are the same function.
type extremeAgg struct {
	sign int
	best Value
}

func (a *extremeAgg) Add(v Value) {
	if v.IsNull() {
		return
	}
	if a.best.IsNull() {
		a.best = v
		return
	}
	if c, _ := Compare(v, a.best); c == a.sign || (c == 0 && tieBreak(v, a.best) < 0) {
		a.best = v
	}
}

// tieBreak orders values that Compare calls equal ("12" and 12) by
// representation, so the result does not depend on the order of Adds and
// Merges.
func tieBreak(a, b Value) int {
	if a.kind != b.kind {
		if a.kind < b.kind {
			return -1
		}
		return 1
	}
	return strings.Compare(a.String(), b.String())
}

func (a *extremeAgg) AddAt(v Value, _ int64) { a.Add(v) }

func (a *extremeAgg) Merge(o Agg) {
	b, ok := o.(*extremeAgg)
	if !ok || b.sign != a.sign {
		mismatch(a, o)
	}
	a.Add(b.best)
}

func (a *extremeAgg) Result() Value { return a.best }
func (a *extremeAgg) Size() int     { return 40 + len(a.best.str) }

// timeAgg is earliest/latest: the value of the field in the event with the
// earliest (latest) @timestamp, among events that have the field. Events
// with the same timestamp are broken by Order then representation, so
// the result is the same however the scan was split.
type timeAgg struct {
	latest bool
	has    bool
	ts     int64
	v      Value
}

func (a *timeAgg) Add(v Value) { a.AddAt(v, 0) }

func (a *timeAgg) AddAt(v Value, ts int64) {
	if v.IsNull() {
		return
	}
	if !a.has {
		a.has, a.ts, a.v = true, ts, v
		return
	}
	better := ts < a.ts
	if a.latest {
		better = ts > a.ts
	}
	if ts == a.ts {
		c := Order(v, a.v)
		if c == 0 {
			c = tieBreak(v, a.v)
		}
		better = c < 0
	}
	if better {
		a.ts, a.v = ts, v
	}
}

func (a *timeAgg) Merge(o Agg) {
	b, ok := o.(*timeAgg)
	if !ok || b.latest != a.latest {
		mismatch(a, o)
	}
	if b.has {
		a.AddAt(b.v, b.ts)
	}
}

func (a *timeAgg) Result() Value { return a.v }
func (a *timeAgg) Size() int     { return 48 + len(a.v.str) }
