package value

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

func newAgg(t testing.TB, name string, args []Value, nargs int) Agg {
	t.Helper()
	a, err := NewAgg(name, args, nargs)
	if err != nil {
		t.Fatalf("NewAgg(%s): %v", name, err)
	}
	return a
}

// feed adds vs (with timestamps ts, if the Agg is timed) to a.
func feed(a Agg, vs []Value, ts []int64) {
	for i, v := range vs {
		if ta, ok := a.(TimedAgg); ok && ts != nil {
			ta.AddAt(v, ts[i])
		} else {
			a.Add(v)
		}
	}
}

func TestAggregates(t *testing.T) {
	mixed := []Value{Int(3), Null(), Str("5"), Str("x"), Num(1.5), Int(-2)}
	tests := []struct {
		name  string
		args  []Value
		nargs int
		in    []Value
		ts    []int64
		want  Value
	}{
		{"count", nil, 0, mixed, nil, Int(6)}, // count(*)
		{"count", nil, 1, mixed, nil, Int(5)}, // count(field): non-null
		{"count", nil, 1, nil, nil, Int(0)},
		{"sum", nil, 1, mixed, nil, Num(7.5)}, // "5" coerces, "x" skipped
		{"sum", nil, 1, []Value{Null(), Str("x")}, nil, Null()},
		{"sum", nil, 1, []Value{Bool(true), Bool(false), Bool(true)}, nil, Int(2)},
		{"avg", nil, 1, mixed, nil, Num(7.5 / 4)},
		{"avg", nil, 1, nil, nil, Null()},
		{"min", nil, 1, mixed, nil, Int(-2)},
		{"max", nil, 1, mixed, nil, Str("x")}, // words sort after numbers
		{"max", nil, 1, []Value{Int(3), Str("5"), Num(1.5)}, nil, Str("5")},
		{"min", nil, 1, []Value{Time(5), Time(2), Null()}, nil, Time(2)},
		{"min", nil, 1, []Value{Null()}, nil, Null()},
		{"sortsFirst", nil, 1, []Value{Str("b"), Str("a"), Str("c")}, nil, Str("a")},
		{"sortsLast", nil, 1, []Value{Str("b"), Str("a"), Str("c")}, nil, Str("c")},
		{"sortsfirst", nil, 1, []Value{Str("10"), Str("9")}, nil, Str("9")},
		{"stddev", nil, 1, []Value{Int(2), Int(4), Int(4), Int(4), Int(5), Int(5), Int(7), Int(9)}, nil, Num(math.Sqrt(32.0 / 7))},
		{"stddev", nil, 1, []Value{Int(7)}, nil, Int(0)},
		{"stddev", nil, 1, []Value{Str("x")}, nil, Null()},
		{"pct", []Value{Int(50)}, 2, []Value{Int(1), Int(2), Int(3), Int(4)}, nil, Int(2)},
		{"pct", []Value{Int(95)}, 2, []Value{Int(1), Int(2), Int(3), Int(4)}, nil, Int(4)},
		{"pct", []Value{Int(0)}, 2, []Value{Int(3), Int(1)}, nil, Int(1)},
		{"pct", []Value{Int(100)}, 2, []Value{Int(3), Int(1)}, nil, Int(3)},
		{"pct", []Value{Null(), Int(50)}, 2, []Value{Str("10"), Null(), Int(20), Str("x")}, nil, Int(10)},
		{"pct", []Value{Int(50)}, 2, nil, nil, Null()},
		{"count_distinct", nil, 1, []Value{Str("a"), Str("b"), Str("a"), Null(), Int(12), Str("12"), Num(12.0)}, nil, Int(3)},
		{"count_distinct", nil, 1, nil, nil, Int(0)},
		{"earliest", nil, 1, []Value{Str("b"), Str("a"), Null(), Str("c")}, []int64{20, 10, 5, 30}, Str("a")},
		{"latest", nil, 1, []Value{Str("b"), Str("a"), Str("c"), Null()}, []int64{20, 10, 30, 40}, Str("c")},
		{"earliest", nil, 1, []Value{Str("b"), Str("a")}, []int64{10, 10}, Str("a")}, // tie: sort order
		{"latest", nil, 1, nil, nil, Null()},
	}
	for _, tt := range tests {
		a := newAgg(t, tt.name, tt.args, tt.nargs)
		feed(a, tt.in, tt.ts)
		got := a.Result()
		if gf, ok := got.AsNumber(); ok && got.Kind() == KindNumber {
			wf, _ := tt.want.AsNumber()
			if tt.want.Kind() != KindNumber || math.Abs(gf-wf) > 1e-12*math.Max(1, math.Abs(wf)) {
				t.Errorf("%s(%q) = %q, want %q", tt.name, tt.in, got, tt.want)
			}
		} else if got != tt.want {
			t.Errorf("%s(%q) = %#v, want %#v", tt.name, tt.in, got, tt.want)
		}
		if a.Size() <= 0 {
			t.Errorf("%s Size() = %d", tt.name, a.Size())
		}
	}
}

func TestNewAggErrors(t *testing.T) {
	tests := []struct {
		name  string
		args  []Value
		nargs int
		want  string
	}{
		{"nope", nil, 1, "unknown function 'nope'"},
		{"strlen", nil, 1, "strlen is not an aggregate"},
		{"sum", nil, 2, "sum takes 1 argument, got 2"},
		{"count", nil, 2, "count takes 0 or 1 arguments, got 2"},
		{"pct", nil, 1, "pct takes 2 arguments, got 1"},
		{"pct", nil, 2, "pct needs a constant percentile"},
		{"pct", []Value{Int(101)}, 2, "from 0 to 100"},
		{"pct", []Value{Str("x")}, 2, "from 0 to 100"},
	}
	for _, tt := range tests {
		_, err := NewAgg(tt.name, tt.args, tt.nargs)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("NewAgg(%s) error = %v, want %q", tt.name, err, tt.want)
		}
	}
}

// TestMergeEqualsOnePass splits random data into parts at random points,
// aggregates each part separately, merges the parts in a random tree
// shape, and requires the one-pass answer.
func TestMergeEqualsOnePass(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	gen := func() Value {
		switch rng.IntN(6) {
		case 0:
			return Null()
		case 1:
			return Str(fmt.Sprint(rng.IntN(50)))
		case 2:
			return Str(string(rune('a' + rng.IntN(26))))
		default:
			return Int(int64(rng.IntN(1000) - 500))
		}
	}
	specs := []struct {
		name  string
		args  []Value
		nargs int
	}{
		{"count", nil, 0}, {"count", nil, 1}, {"count_distinct", nil, 1}, {"sum", nil, 1},
		{"avg", nil, 1}, {"min", nil, 1}, {"max", nil, 1}, {"stddev", nil, 1},
		{"pct", []Value{Int(90)}, 2}, {"earliest", nil, 1}, {"latest", nil, 1},
		{"sortsFirst", nil, 1}, {"sortsLast", nil, 1},
	}
	for round := 0; round < 30; round++ {
		n := rng.IntN(400)
		vs := make([]Value, n)
		ts := make([]int64, n)
		for i := range vs {
			vs[i], ts[i] = gen(), int64(rng.IntN(100))
		}
		for _, s := range specs {
			one := newAgg(t, s.name, s.args, s.nargs)
			feed(one, vs, ts)
			parts := []Agg{}
			for lo := 0; lo < n || len(parts) == 0; {
				hi := min(n, lo+rng.IntN(80))
				p := newAgg(t, s.name, s.args, s.nargs)
				feed(p, vs[lo:hi], ts[lo:hi])
				parts = append(parts, p)
				lo = hi
				if hi == n {
					break
				}
			}
			for len(parts) > 1 {
				i := rng.IntN(len(parts) - 1)
				parts[i].Merge(parts[i+1])
				parts = slices.Delete(parts, i+1, i+2)
			}
			got, want := parts[0].Result(), one.Result()
			if !sameResult(got, want) {
				t.Fatalf("round %d %s: merged %q, one pass %q", round, s.name, got, want)
			}
		}
	}
}

func sameResult(a, b Value) bool {
	if a.Kind() == KindNumber && b.Kind() == KindNumber {
		x, _ := a.AsNumber()
		y, _ := b.AsNumber()
		return math.Abs(x-y) <= 1e-9*math.Max(1, math.Abs(y))
	}
	return a == b
}

func TestMergeMismatchPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("merging sum into count did not panic")
		}
	}()
	newAgg(t, "count", nil, 0).Merge(newAgg(t, "sum", nil, 1))
}

func TestCountDistinctExactBelowBound(t *testing.T) {
	a := newAgg(t, "count_distinct", nil, 1)
	for i := 0; i < DistinctExactLimit; i++ {
		a.Add(Str(fmt.Sprintf("k%d", i)))
		a.Add(Str(fmt.Sprintf("k%d", i/2))) // duplicates
	}
	if got := a.Result(); got != Int(DistinctExactLimit) {
		t.Fatalf("count_distinct of %d = %q", DistinctExactLimit, got)
	}
}

func TestCountDistinctEstimate(t *testing.T) {
	for _, n := range []int{DistinctExactLimit + 1, 50_000, 300_000} {
		parts := []Agg{newAgg(t, "count_distinct", nil, 1), newAgg(t, "count_distinct", nil, 1)}
		for i := 0; i < n; i++ {
			parts[i%2].Add(Int(int64(i)))
			parts[(i+1)%2].Add(Int(int64(i / 3))) // overlapping values
		}
		parts[0].Merge(parts[1])
		got, _ := parts[0].Result().AsNumber()
		if rel := math.Abs(got-float64(n)) / float64(n); rel > 0.03 {
			t.Errorf("count_distinct ~%d = %v (error %.2f%%)", n, got, rel*100)
		}
		if parts[0].Size() > 64<<10 {
			t.Errorf("sketch holds %d bytes", parts[0].Size())
		}
	}
}

func TestPctAccuracy(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	const n = 200_000 // past PctExactLimit: answered by the sketch
	vals := make([]float64, n)
	a := newAgg(t, "pct", []Value{Int(99)}, 2)
	b := newAgg(t, "pct", []Value{Int(99)}, 2)
	for i := range vals {
		vals[i] = math.Exp(rng.NormFloat64()*2) * 100 // log-normal latencies
		if rng.IntN(10) == 0 {
			vals[i] = -vals[i]
		}
		if i%2 == 0 {
			a.Add(Num(vals[i]))
		} else {
			b.Add(Num(vals[i]))
		}
	}
	a.Merge(b)
	slices.Sort(vals)
	for _, p := range []float64{99} {
		want := vals[rank(p, n)-1]
		got, _ := a.Result().AsNumber()
		if rel := math.Abs(got-want) / math.Abs(want); rel > PctRelativeError+1e-9 {
			t.Errorf("pct %v = %v, exact %v (error %.3f%%)", p, got, want, rel*100)
		}
	}
	// Quantiles on either side of zero and at zero.
	s := newDDSketch()
	for _, x := range []float64{-5, -1, 0, 0, 1, 5} {
		s.add(x, 1)
	}
	for _, tt := range []struct{ p, want float64 }{{0, -5}, {20, -1}, {50, 0}, {70, 1}, {100, 5}} {
		got, _ := s.quantile(tt.p).AsNumber()
		if math.Abs(got-tt.want) > PctRelativeError*math.Abs(tt.want)+1e-12 {
			t.Errorf("sketch p%v = %v, want ~%v", tt.p, got, tt.want)
		}
	}
	if a.Size() > 1<<20 {
		t.Errorf("pct sketch holds %d bytes", a.Size())
	}
}
