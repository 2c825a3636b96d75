package logstore

import (
	"context"
	"errors"
	"fmt"
	"math/rand"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"
)

// scanFixture fills a store with three streams over three days, partly
// flushed into parts and partly still in the head, and returns every event
// by stream.
func scanFixture(t testing.TB) (*Store, *clock, map[string][]InputEvent) {
	t.Helper()
	c := &clock{t: time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)}
	s, err := Open(t.TempDir(), testOptions(c))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if _, err := s.CreateGroup("g", Group{}); err != nil {
		t.Fatal(err)
	}
	all := map[string][]InputEvent{}
	rng := rand.New(rand.NewSource(7))
	base := c.now().UnixMilli()
	words := []string{"alpha", "beta", "gamma", "delta"}
	n := 0
	for round := range 30 {
		st := []string{"a", "b", "c"}[round%3]
		if round < 3 {
			if _, err := s.CreateStream("g", st); err != nil {
				t.Fatal(err)
			}
		}
		ts := base - int64(rng.Intn(3*24*3600))*1000
		var evs []InputEvent
		for range 1 + rng.Intn(150) {
			ts += int64(rng.Intn(3)) * 1000
			w := words[rng.Intn(len(words))]
			if n%97 == 0 {
				w = "needle"
			}
			evs = append(evs, InputEvent{Timestamp: ts, Message: fmt.Sprintf("%s %d %s %s", st, n, w, strings.Repeat("x", rng.Intn(200)))})
			n++
		}
		if _, err := s.Append(context.Background(), "g", st, evs); err != nil {
			t.Fatal(err)
		}
		all[st] = append(all[st], evs...)
		if round%7 == 6 && round < 25 {
			if err := s.Flush(); err != nil {
				t.Fatal(err)
			}
		}
	}
	return s, c, all
}

func scanAll(t *testing.T, s *Store, q ScanQuery) ([]string, ScanStats) {
	t.Helper()
	var got []string
	st, err := s.Scan(context.Background(), "g", q, func(b []Record) error {
		for _, r := range b {
			got = append(got, fmt.Sprintf("%s %d %s", r.Stream, r.Timestamp, r.Message))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(got)
	return got, st
}

func TestScanMatchesModel(t *testing.T) {
	s, c, all := scanFixture(t)
	now := c.now().UnixMilli()
	want := func(q ScanQuery, keep func(string) bool) []string {
		var out []string
		for st, evs := range all {
			if len(q.Streams) > 0 && !slices.Contains(q.Streams, st) {
				continue
			}
			for _, e := range evs {
				if e.Timestamp >= q.Start && (q.End == 0 || e.Timestamp < q.End) && (keep == nil || keep(e.Message)) {
					out = append(out, fmt.Sprintf("%s %d %s", st, e.Timestamp, e.Message))
				}
			}
		}
		sort.Strings(out)
		return out
	}
	tests := []struct {
		name string
		q    ScanQuery
	}{
		{"everything", ScanQuery{}},
		{"last day", ScanQuery{Start: now - dayMillis, End: now + 1}},
		{"middle hours", ScanQuery{Start: now - 40*3600*1000, End: now - 30*3600*1000}},
		{"one stream", ScanQuery{Streams: []string{"b"}}},
		{"two streams and unknown", ScanQuery{Streams: []string{"a", "c", "nope"}}},
		{"empty range", ScanQuery{Start: now + dayMillis, End: now + 2*dayMillis}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, st := scanAll(t, s, tc.q)
			w := want(tc.q, nil)
			if !slices.Equal(got, w) {
				t.Fatalf("got %d events, want %d", len(got), len(w))
			}
			if st.RecordsScanned != int64(len(w)) {
				t.Errorf("RecordsScanned = %d, want %d", st.RecordsScanned, len(w))
			}
			if len(w) > 0 && st.BytesScanned <= 0 {
				t.Errorf("BytesScanned = %d", st.BytesScanned)
			}
		})
	}

	// The bloom pre-test skips blocks but never loses a needle.
	full, fullSt := scanAll(t, s, ScanQuery{})
	got, st := scanAll(t, s, ScanQuery{MayMatch: func(mc func(string) bool) bool { return mc("needle") }})
	needles := want(ScanQuery{}, func(m string) bool { return strings.Contains(m, "needle") })
	for _, n := range needles {
		if _, ok := slices.BinarySearch(got, n); !ok {
			t.Fatalf("needle %q lost by the bloom pre-test", n)
		}
	}
	if st.BytesScanned >= fullSt.BytesScanned || len(got) >= len(full) {
		t.Errorf("bloom skipped nothing: %d of %d bytes, %d of %d events", st.BytesScanned, fullSt.BytesScanned, len(got), len(full))
	}

	// Retention applies at read time.
	if err := s.PutRetention("g", 1); err != nil {
		t.Fatal(err)
	}
	got, _ = scanAll(t, s, ScanQuery{})
	if w := want(ScanQuery{Start: now - dayMillis}, nil); !slices.Equal(got, w) {
		t.Fatalf("after retention got %d events, want %d", len(got), len(w))
	}
}

func TestScanNewest(t *testing.T) {
	s, _, all := scanFixture(t)
	var ts []int64
	for _, evs := range all {
		for _, e := range evs {
			ts = append(ts, e.Timestamp)
		}
	}
	slices.Sort(ts)
	for _, n := range []int{1, 10, 500} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			var got []int64
			st, err := s.Scan(context.Background(), "g", ScanQuery{Newest: n}, func(b []Record) error {
				for _, r := range b {
					got = append(got, r.Timestamp)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			slices.Sort(got)
			if len(got) < n {
				t.Fatalf("got %d events, want at least %d", len(got), n)
			}
			if !slices.Equal(got[len(got)-n:], ts[len(ts)-n:]) {
				t.Fatalf("newest %d differ", n)
			}
			if st.RecordsScanned >= int64(len(ts)) {
				t.Errorf("Newest=%d read all %d events", n, st.RecordsScanned)
			}
		})
	}
}

func TestScanStopsOnError(t *testing.T) {
	s, _, _ := scanFixture(t)
	stop := errors.New("stop")
	calls := 0
	_, err := s.Scan(context.Background(), "g", ScanQuery{}, func([]Record) error { calls++; return stop })
	if !errors.Is(err, stop) || calls != 1 {
		t.Fatalf("err %v after %d calls", err, calls)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.Scan(ctx, "g", ScanQuery{}, func([]Record) error { return nil }); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled scan: %v", err)
	}
	if _, err := s.Scan(context.Background(), "nope", ScanQuery{}, func([]Record) error { return nil }); !errors.Is(err, ErrGroupNotFound) {
		t.Fatalf("unknown group: %v", err)
	}
}

// TestScanFnMayAppend checks that fn can write to the store while a scan
// runs: no store lock is held around it.
func TestScanFnMayAppend(t *testing.T) {
	s, c, _ := scanFixture(t)
	done := 0
	_, err := s.Scan(context.Background(), "g", ScanQuery{}, func([]Record) error {
		if done < 3 {
			done++
			_, err := s.Append(context.Background(), "g", "a", []InputEvent{{Timestamp: c.now().UnixMilli(), Message: "during scan"}})
			if err != nil {
				return err
			}
			return s.Flush()
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestPtrAndGet(t *testing.T) {
	s, _, all := scanFixture(t)
	var recs []Record
	if _, err := s.Scan(context.Background(), "g", ScanQuery{}, func(b []Record) error {
		recs = append(recs, b...)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(recs) != len(all["a"])+len(all["b"])+len(all["c"]) {
		t.Fatalf("scanned %d records", len(recs))
	}
	for i := 0; i < len(recs); i += 37 {
		r := recs[i]
		text := PtrOf(r).String()
		p, err := ParsePtr(text)
		if err != nil || p != PtrOf(r) {
			t.Fatalf("ParsePtr(%q) = %v, %v", text, p, err)
		}
		g, got, err := s.Get(context.Background(), p)
		if err != nil || g != "g" || got.Message != r.Message || got.Stream != r.Stream || got.IngestionTime != r.IngestionTime {
			t.Fatalf("Get(%v) = %q %+v %v, want %+v", p, g, got, err, r)
		}
	}
	bad := []Ptr{
		{StreamID: 999999, Timestamp: recs[0].Timestamp, Seq: recs[0].Seq},
		{StreamID: recs[0].StreamID, Timestamp: recs[0].Timestamp, Seq: recs[0].Seq + 1<<40},
		{StreamID: recs[0].StreamID, Timestamp: recs[0].Timestamp + 1, Seq: recs[0].Seq},
	}
	for _, p := range bad {
		if _, _, err := s.Get(context.Background(), p); !errors.Is(err, ErrRecordNotFound) {
			t.Errorf("Get(%+v) = %v, want ErrRecordNotFound", p, err)
		}
	}
	for _, text := range []string{"", "abc", strings.Repeat("!", 32), strings.Repeat("A", 32), strings.Repeat("A", 33)} {
		if _, err := ParsePtr(text); err == nil {
			t.Errorf("ParsePtr(%q) succeeded", text)
		}
	}
}

func FuzzParsePtr(f *testing.F) {
	f.Add(Ptr{StreamID: 5, Timestamp: 1700000000000, Seq: 42}.String())
	f.Add(strings.Repeat("A", 32))
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParsePtr(s)
		if err != nil {
			return
		}
		if back := p.String(); back != s {
			t.Fatalf("%q parsed to %+v which prints as %q", s, p, back)
		}
	})
}

func BenchmarkScan(b *testing.B) {
	s, _, all := scanFixture(b)
	if err := s.Flush(); err != nil {
		b.Fatal(err)
	}
	var bytes int64
	for _, evs := range all {
		for _, e := range evs {
			bytes += int64(len(e.Message))
		}
	}
	b.SetBytes(bytes)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Scan(context.Background(), "g", ScanQuery{}, func([]Record) error { return nil }); err != nil {
			b.Fatal(err)
		}
	}
}

// TestScanPlanBlock: blocks PlanBlock skips are not read, and blocks read
// without messages hand over the same events with empty messages and the
// block's constants.
func TestScanPlanBlock(t *testing.T) {
	c := &clock{t: time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)}
	s, err := Open(t.TempDir(), testOptions(c))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.CreateGroup("g", Group{}); err != nil {
		t.Fatal(err)
	}
	base := c.now().UnixMilli() - 3600_000
	want := map[string]int{}
	for _, st := range []string{"a", "b", "c"} {
		if _, err := s.CreateStream("g", st); err != nil {
			t.Fatal(err)
		}
		var evs []InputEvent
		for i := range 400 {
			evs = append(evs, InputEvent{Timestamp: base + int64(i)*1000, Message: fmt.Sprintf(`{"i":%d,"pad":"%s","k":{"pod":%q}}`, i, strings.Repeat("x", i%50), st)})
		}
		if _, err := s.Append(context.Background(), "g", st, evs); err != nil {
			t.Fatal(err)
		}
		want[st] = len(evs)
	}
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	var planned int
	st, err := s.ScanBlocks(context.Background(), "g", ScanQuery{
		PlanBlock: func(consts []Constant) (bool, bool) {
			planned++
			i := slices.IndexFunc(consts, func(c Constant) bool { return c.Name == "k.pod" })
			if i < 0 {
				t.Errorf("block without k.pod: %v", consts)
				return false, true
			}
			return consts[i].JSON == `"b"`, false
		},
	}, func(b *ScanBatch) error {
		if !b.NoMessages {
			t.Error("messages read")
		}
		for _, r := range b.Records {
			if r.Message != "" {
				t.Fatalf("message %q handed over", r.Message)
			}
			got[r.Stream]++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	delete(want, "b")
	if !reflect.DeepEqual(got, want) || planned < 6 || st.BytesScanned != 0 {
		t.Fatalf("got %v, want %v (%d blocks planned, %d bytes scanned)", got, want, planned, st.BytesScanned)
	}
}
