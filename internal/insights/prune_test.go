package insights

import (
	"context"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kinsight/kinsight/internal/insights/value"
)

// TestMayMatch checks the block predicate a query derives against an exact
// substring oracle over a set of messages: a block is skipped only when
// the query cannot match any of its messages.
func TestMayMatch(t *testing.T) {
	block := []string{
		`{"level":"error","user":"alice","msg":"payment failed"}`,
		`GET /api/users 200 RareToken42`,
	}
	oracle := substrOracle(func() []Event {
		var evs []Event
		for _, m := range block {
			evs = append(evs, Event{Message: m})
		}
		return evs
	}())
	tests := []struct {
		query string
		may   bool // MayMatch over the block
		prune bool // a predicate was derived at all
	}{
		{`filter @message like /RareToken/ | limit 20`, true, true},
		{`filter @message like /NoSuchToken/ | limit 20`, false, true},
		{`filter @message like "NoSuch"`, false, true},
		{`filter @message =~ /Rare\w+Token/`, true, true},         // "Rare" and "Token" both appear
		{`filter @message =~ /Rarely\w+Token/`, false, true},      // "Rarely" does not
		{`filter @message =~ /foo(bar|baz)qux/`, false, true},     // "foo" and "qux" required
		{`filter @message =~ /(?i)notthere/`, true, false},        // case-folded literals cannot use the oracle
		{`filter @message like /ab/`, true, false},                // shorter than a trigram
		{`filter level = "error" and user = "alice"`, true, true}, // "error" and "alice" quoted
		{`filter level = "fatal"`, false, true},                   // "\"fatal\"" absent
		{`filter level = "200"`, true, false},                     // numeric text may equal a JSON number
		{`filter level = "a<b"`, true, false},                     // JSON may escape <
		{`filter level = "fatal" or @message like /RareToken/`, true, true},
		{`filter level = "fatal" or status = 5`, true, false}, // one branch unknown
		{`filter not (@message like /NoSuch/)`, true, false},
		{`fields toupper(@message) as @message | filter @message like /NOSUCH/`, true, false}, // shadowed
		{`stats count(*) | filter @message like /NoSuch/`, true, false},                       // after stats
		{`filter @message like /NoSuch/ | stats count(*) by bin(5m)`, false, true},
		{`parse @message "user=*" as level | filter level = "fatal"`, true, false},
	}
	for _, tc := range tests {
		q, err := Compile(tc.query)
		if err != nil {
			t.Fatalf("%s: %v", tc.query, err)
		}
		if got := q.prune.mayMatch != nil; got != tc.prune {
			t.Errorf("%s: derived a predicate = %v, want %v", tc.query, got, tc.prune)
			continue
		}
		req := q.scanRequest(Options{}, q.plan(normalize(Options{})))
		if got := req.MayMatch == nil || req.MayMatch(oracle); got != tc.may {
			t.Errorf("%s: MayMatch = %v, want %v", tc.query, got, tc.may)
		}
	}
}

func TestRequiredLiterals(t *testing.T) {
	tests := []struct {
		re   string
		want []string
	}{
		{`RareToken`, []string{"RareToken"}},
		{`Rare\w+Token`, []string{"Rare", "Token"}},
		{`foo(bar|baz)qux`, []string{"foo", "ba", "qux"}}, // simplified to foo(ba[rz])qux
		{`(?i)abc`, nil},
		{`a*bcd+e`, []string{"bc", "d", "e"}},
		{`(abc)+def`, []string{"abc", "def"}},
		{`x|y`, nil},
	}
	for _, tc := range tests {
		if got := requiredLiterals(tc.re); !slices.Equal(got, tc.want) {
			t.Errorf("%s: %q, want %q", tc.re, got, tc.want)
		}
	}
}

// TestScanRequest checks streams, newest and that pruned blocks are not
// needed for the right answer.
func TestScanRequest(t *testing.T) {
	tests := []struct {
		query   string
		streams []string
		newest  int
	}{
		// A filter on @logStream alone is all in Streams: newest-first stays.
		{`filter @logStream = "a" | limit 5`, []string{"a"}, 5},
		{`filter @logStream = "a" | fields @timestamp, @message | sort @timestamp desc | limit 1000`, []string{"a"}, 1000},
		{`filter @logStream = "a" and level = "error" | limit 5`, []string{"a"}, 0},
		{`filter @logStream in ["a", "b"] and @logStream = "b"`, []string{"b"}, DefaultLimit},
		{`filter @logStream = "a" or @logStream = "b"`, nil, 0},
		{`fields @timestamp, @message | sort @timestamp desc | limit 7`, nil, 7},
		{`fields @timestamp, @message | limit 7`, nil, 7},
		{`fields @message`, nil, DefaultLimit},
		{`filter @message like /x/ | limit 7`, nil, 0},
		{`sort @timestamp asc | limit 7`, nil, 0},
		{`fields fromMillis(0) as @timestamp | sort @timestamp desc | limit 7`, nil, 0},
		{`stats count(*)`, nil, 0},
	}
	for _, tc := range tests {
		q, err := Compile(tc.query)
		if err != nil {
			t.Fatal(err)
		}
		o := normalize(Options{})
		req := q.scanRequest(o, q.plan(o))
		if !slices.Equal(req.Streams, tc.streams) || req.Newest != tc.newest {
			t.Errorf("%s: streams %q newest %d, want %q %d", tc.query, req.Streams, req.Newest, tc.streams, tc.newest)
		}
	}
}

func manyEvents(n int) []Event {
	evs := make([]Event, n)
	for i := range evs {
		msg := `{"level":"info","n":` + itoa(i%97) + `,"kubernetes":{"pod_name":"p` + itoa(i%13) + `"}}`
		if i%500 == 7 {
			msg = "plain RareToken line " + itoa(i)
		}
		evs[i] = Event{Timestamp: int64(i) * 1000, Message: msg, Stream: "s" + itoa(i%3), Group: "g", Ptr: "p" + itoa(i)}
	}
	return evs
}

func itoa(i int) string { return strings.TrimSpace(strings.Repeat(" ", 0) + formatInt(i)) }

func formatInt(i int) string {
	if i == 0 {
		return "0"
	}
	var b []byte
	for ; i > 0; i /= 10 {
		b = append([]byte{byte('0' + i%10)}, b...)
	}
	return string(b)
}

// TestPrunedEqualsUnpruned runs queries with the oracle pruning blocks and
// without, over many small batches (so the worker pool and the merges
// run), and wants the same rows.
func TestPrunedEqualsUnpruned(t *testing.T) {
	evs := manyEvents(5000)
	for _, query := range []string{
		`filter @message like /RareToken/ | limit 20`,
		`filter @message like /RareToken/ | stats count(*) by bin(1h)`,
		`filter level = "info" and kubernetes.pod_name = "p3" | stats count(*), sum(n), count_distinct(n), pct(n, 90) by kubernetes.pod_name`,
		`filter @logStream = "s1" | stats count(*) as c by @logStream`,
		`stats avg(n), min(n), max(n), earliest(n), latest(n) by kubernetes.pod_name | sort kubernetes.pod_name`,
		`fields @timestamp, n | sort n desc | limit 5`,
		`filter n > 90 | fields n | dedup n`,
	} {
		q, err := Compile(query)
		if err != nil {
			t.Fatal(err)
		}
		o := Options{End: 1 << 62}
		pruned := &memStore{events: evs, blockSize: 64, useOracle: true}
		plain := &memStore{events: evs, blockSize: 5000}
		a, err := q.Run(context.Background(), pruned, o, nil)
		if err != nil {
			t.Fatal(err)
		}
		b, err := q.Run(context.Background(), plain, o, nil)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.EqualFunc(a.Rows, b.Rows, slices.Equal) || a.Stats.RecordsMatched != b.Stats.RecordsMatched {
			t.Errorf("%s: pruned %v (matched %v), unpruned %v (matched %v)", query, a.Rows, a.Stats.RecordsMatched, b.Rows, b.Stats.RecordsMatched)
		}
		if strings.Contains(query, "RareToken") && pruned.pruned == 0 {
			t.Errorf("%s: no block pruned", query)
		}
		if len(a.Rows) == 0 {
			t.Errorf("%s: no rows", query)
		}
	}
}

// blockingStore serves batches until the context ends.
type blockingStore struct{ evs []Event }

func (s *blockingStore) Scan(ctx context.Context, req ScanRequest, fn func([]Event) error) (ScanStats, error) {
	for {
		if err := ctx.Err(); err != nil {
			return ScanStats{}, err
		}
		if err := fn(s.evs); err != nil {
			return ScanStats{}, err
		}
		time.Sleep(time.Millisecond)
	}
}

func TestCancelAndPartial(t *testing.T) {
	q, err := Compile(`stats count(*) as c`)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 1200*time.Millisecond)
	defer cancel()
	var partials []Result
	_, err = q.Run(ctx, &blockingStore{evs: manyEvents(100)}, Options{End: 1 << 62}, func(r Result) { partials = append(partials, r) })
	if err == nil {
		t.Fatal("a run whose context ends must fail")
	}
	if len(partials) < 2 {
		t.Fatalf("got %d partial results in 1.2s, want >= 2", len(partials))
	}
	last := partials[len(partials)-1]
	if len(last.Rows) != 1 || last.Stats.RecordsMatched == 0 || last.Stats.RecordsScanned == 0 {
		t.Errorf("last partial %+v", last)
	}
}

// TestMemoryBound runs a stats over many distinct keys under a small
// bound and wants the documented error, not an answer.
func TestMemoryBound(t *testing.T) {
	evs := make([]Event, 50000)
	for i := range evs {
		// Letters, not digits: pattern keeps letter tokens apart.
		evs[i] = Event{Timestamp: int64(i), Message: "key-" + strings.Map(func(r rune) rune { return r - '0' + 'a' }, itoa(i))}
	}
	for _, query := range []string{
		`stats count(*) by @message`,
		`stats count_distinct(@message)`, // bounded by its sketch: must succeed
		`sort @message | dedup @message`,
		`pattern @message`,
		`sort @timestamp asc | dedup @message`,
	} {
		q, err := Compile(query)
		if err != nil {
			t.Fatal(err)
		}
		_, err = q.Run(context.Background(), &memStore{events: evs, blockSize: 1000}, Options{End: 1 << 62, MaxMemoryBytes: 4 << 20}, nil)
		wantErr := query != `stats count_distinct(@message)`
		if (err != nil) != wantErr || err != nil && !strings.Contains(err.Error(), "query needs more than 4194304 bytes of memory") {
			t.Errorf("%s: err %v, want error %v", query, err, wantErr)
		}
	}
}

func TestContainsFast(t *testing.T) {
	for _, tc := range []struct {
		msg, needle string
	}{
		{`{"a":"payments"}`, `"payments"`},
		{`{"a":"payment"}`, `"payments"`},
		{`{"a":"xpayments"}`, `"payments"`},
		{`payments" "payments`, `"payments"`},
		{`{"a":"paypayments"}`, `"payments"`},
		{`""`, `""`},
		{`abc`, `b`},
		{`"p"`, `"p"`},
	} {
		if got, want := containsFast(tc.msg, tc.needle), strings.Contains(tc.msg, tc.needle); got != want {
			t.Errorf("containsFast(%q, %q) = %v, want %v", tc.msg, tc.needle, got, want)
		}
	}
}

// TestGroupKeyMatchesValueKey checks the allocation-free path of groupKey
// against value.Key: equal keys exactly for Equal values.
func TestGroupKeyMatchesValueKey(t *testing.T) {
	vals := []value.Value{value.Str("abc"), value.Str("200"), value.Int(200), value.Str("true"), value.Bool(true),
		value.Str(" 1"), value.Str(""), value.Null(), value.Str("sabc"), value.Str("x:y"), value.Str("False"), value.Bool(false),
		value.Time(1000), value.Int(1000), value.Str("1000"), value.Num(1.5), value.Str("1.5"), value.Int(-3), value.Str("-3.0"),
		value.Num(math.Copysign(0, -1)), value.Int(0), value.Time(-5), value.Num(1 << 60), value.Str("1152921504606846976")}
	for _, a := range vals {
		for _, b := range vals {
			ka := string(groupKey(nil, []value.Value{a}))
			kb := string(groupKey(nil, []value.Value{b}))
			if (ka == kb) != (value.Key(a) == value.Key(b)) {
				t.Errorf("%v %q vs %v %q: group keys equal %v, value.Key equal %v", a.Kind(), a, b.Kind(), b, ka == kb, value.Key(a) == value.Key(b))
			}
		}
	}
}
