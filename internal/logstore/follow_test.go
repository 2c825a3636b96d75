package logstore

import (
	"context"
	"fmt"
	"testing"
	"time"
)

func followFixture(t *testing.T, groups map[string][]string) (*Store, *clock) {
	t.Helper()
	c := &clock{t: time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)}
	s := mustOpen(t, t.TempDir(), testOptions(c))
	t.Cleanup(func() { s.Close() })
	for g, streams := range groups {
		if _, err := s.CreateGroup(g, Group{}); err != nil {
			t.Fatal(err)
		}
		for _, n := range streams {
			if _, err := s.CreateStream(g, n); err != nil {
				t.Fatal(err)
			}
		}
	}
	return s, c
}

func mustAppend(t *testing.T, s *Store, group, stream string, evs ...InputEvent) {
	t.Helper()
	if _, err := s.Append(context.Background(), group, stream, evs); err != nil {
		t.Fatal(err)
	}
}

// followAll pages through Follow from *after, reading missed stretches
// back with FilterEvents as the tail endpoint does, and advances *after.
func followAll(t *testing.T, s *Store, group string, q FollowQuery, after *uint64, page int) (out []Record, behind int) {
	t.Helper()
	for {
		q.After, q.Limit = *after, page
		res, err := s.Follow(context.Background(), group, q)
		if err != nil {
			t.Fatal(err)
		}
		if res.Behind {
			behind++
			if res.MissedThrough <= *after {
				t.Fatalf("behind without progress: after %d, missed through %d", *after, res.MissedThrough)
			}
			spans := res.MissedSpans
			if spans == nil {
				spans = []TimeSpan{{Start: q.Start}}
			}
			for _, sp := range spans {
				fq := FilterQuery{Streams: q.Streams, StreamPrefix: q.StreamPrefix, Filter: q.Filter, Start: max(q.Start, sp.Start), End: sp.End, Limit: page}
				if fq.End != 0 && fq.End <= fq.Start {
					continue
				}
				for {
					fr, err := s.FilterEvents(context.Background(), group, fq)
					if err != nil {
						t.Fatal(err)
					}
					for _, r := range fr.Records {
						if r.Seq > *after && r.Seq <= res.MissedThrough {
							out = append(out, r)
						}
					}
					if !fr.More {
						break
					}
					next := fr.Next
					fq.After = &next
				}
			}
			*after = res.MissedThrough
			continue
		}
		if res.Next < *after {
			t.Fatalf("cursor went back: %d -> %d", *after, res.Next)
		}
		out = append(out, res.Records...)
		*after = res.Next
		if !res.More {
			return out, behind
		}
	}
}

func messages(recs []Record) []string {
	out := make([]string, len(recs))
	for i, r := range recs {
		out[i] = r.Message
	}
	return out
}

func wantMessages(t *testing.T, got []Record, want ...string) {
	t.Helper()
	g := messages(got)
	if fmt.Sprint(g) != fmt.Sprint(want) {
		t.Fatalf("got %q\nwant %q", g, want)
	}
}

func TestFollowCommitOrderAndLateEvents(t *testing.T) {
	s, c := followFixture(t, map[string][]string{"g": {"a", "b"}, "other": {"a"}})
	now := c.now().UnixMilli()
	mustAppend(t, s, "g", "a", InputEvent{now - 1000, "before"})
	after := s.FollowSeq()
	if got, _ := followAll(t, s, "g", FollowQuery{}, &after, 10); len(got) != 0 {
		t.Fatalf("events committed before FollowSeq came back: %q", messages(got))
	}
	mustAppend(t, s, "g", "a", InputEvent{now, "a1"}, InputEvent{now + 1, "a2"})
	mustAppend(t, s, "other", "a", InputEvent{now, "other group"})
	mustAppend(t, s, "g", "b", InputEvent{now - 60_000, "late by a minute"})
	mustAppend(t, s, "g", "a", InputEvent{now + 2, "a3"})
	got, _ := followAll(t, s, "g", FollowQuery{}, &after, 10)
	wantMessages(t, got, "a1", "a2", "late by a minute", "a3")
	if got[2].Stream != "b" || got[0].Stream != "a" || got[2].IngestionTime != now {
		t.Fatalf("records %+v", got)
	}
	for i := 1; i < len(got); i++ {
		if got[i].Seq <= got[i-1].Seq {
			t.Fatalf("seqs not increasing: %+v", got)
		}
	}
	// Nothing new: nothing again, and the cursor stays.
	before := after
	if got, _ := followAll(t, s, "g", FollowQuery{}, &after, 10); len(got) != 0 || after != before {
		t.Fatalf("second follow: %q, cursor %d -> %d", messages(got), before, after)
	}
	if _, err := s.Follow(context.Background(), "missing", FollowQuery{After: after}); err != ErrGroupNotFound {
		t.Fatalf("missing group, nothing new: %v", err)
	}
	if _, err := s.Follow(context.Background(), "missing", FollowQuery{After: 0}); err != ErrGroupNotFound {
		t.Fatalf("missing group: %v", err)
	}
}

func TestFollowSelectionFilterStartAndPages(t *testing.T) {
	s, c := followFixture(t, map[string][]string{"g": {"web-1", "web-2", "db-1"}})
	now := c.now().UnixMilli()
	after := s.FollowSeq()
	var evs []InputEvent
	for i := range 25 {
		msg := "ok"
		if i%5 == 0 {
			msg = "ERROR"
		}
		evs = append(evs, InputEvent{now + int64(i), fmt.Sprintf("%s %d", msg, i)})
	}
	mustAppend(t, s, "g", "web-1", evs...)
	mustAppend(t, s, "g", "db-1", InputEvent{now, "db ERROR"})
	mustAppend(t, s, "g", "web-2", InputEvent{now - 5000, "ERROR too old"}, InputEvent{now, "ERROR web-2"})
	if _, err := s.CreateStream("g", "web-3"); err != nil {
		t.Fatal(err)
	}
	mustAppend(t, s, "g", "web-3", InputEvent{now, "ERROR new stream"})

	for _, page := range []int{1, 2, 1000} {
		a := after
		got, _ := followAll(t, s, "g", FollowQuery{StreamPrefix: "web", Filter: tokenFilter("ERROR"), Start: now - 1000}, &a, page)
		wantMessages(t, got, "ERROR 0", "ERROR 5", "ERROR 10", "ERROR 15", "ERROR 20", "ERROR web-2", "ERROR new stream")
		a = after
		got, _ = followAll(t, s, "g", FollowQuery{Streams: []string{"db-1", "web-2"}}, &a, page)
		wantMessages(t, got, "db ERROR", "ERROR too old", "ERROR web-2")
		a = after
		got, _ = followAll(t, s, "g", FollowQuery{}, &a, page)
		if len(got) != 29 {
			t.Fatalf("page %d: %d events, want 29", page, len(got))
		}
	}
	// A deleted stream's events are not followed any more.
	if err := s.DeleteStream("g", "db-1"); err != nil {
		t.Fatal(err)
	}
	a := after
	got, _ := followAll(t, s, "g", FollowQuery{Filter: tokenFilter("db")}, &a, 10)
	wantMessages(t, got)
}

// A follower whose next events were flushed to parts is told it is behind
// and reads them back; with the events that came after, it sees every
// event once.
func TestFollowBehindAFlush(t *testing.T) {
	s, c := followFixture(t, map[string][]string{"g": {"a", "b"}, "other": {"x"}})
	now := c.now().UnixMilli()
	after := s.FollowSeq()
	var want []string
	n := 0
	put := func(stream string, ts int64) {
		msg := fmt.Sprintf("%s-%d", stream, n)
		n++
		mustAppend(t, s, "g", stream, InputEvent{ts, msg})
		want = append(want, msg)
	}
	put("a", now)
	put("b", now-3_600_000) // an hour late, in the flushed stretch
	mustAppend(t, s, "other", "x", InputEvent{now, "other"})
	put("a", now+1)

	first := after
	res, err := s.Follow(context.Background(), "g", FollowQuery{After: after, Limit: 1})
	if err != nil || len(res.Records) != 1 || !res.More {
		t.Fatalf("first page: %+v %v", res, err)
	}
	after = res.Next // the follower stops in the middle of the head
	got := res.Records
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	res, err = s.Follow(context.Background(), "g", FollowQuery{After: after})
	if want := []TimeSpan{{now - 3_600_000, now - 3_600_000 + 1}, {now, now + 2}}; err != nil || !res.Behind || len(res.Records) != 0 || fmt.Sprint(res.MissedSpans) != fmt.Sprint(want) {
		t.Fatalf("after the flush: %+v %v", res, err)
	}
	put("b", now+2)
	put("a", now-20_000)
	more, behind := followAll(t, s, "g", FollowQuery{}, &after, 1000)
	if behind != 1 {
		t.Fatalf("behind %d times, want 1", behind)
	}
	got = append(got, more...)
	// The flushed stretch comes in timestamp order, the rest in commit order.
	wantMessages(t, got, "a-0", "b-1", "a-2", "b-3", "a-4")

	// Two flushes behind, and an unknown eviction history: still complete.
	for range 20 {
		put("a", now+3)
		if err := s.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	a := first
	all, _ := followAll(t, s, "g", FollowQuery{}, &a, 7)
	if len(all) != len(want) {
		t.Fatalf("from the start after %d flushes: %d events, want %d", 20, len(all), len(want))
	}
	seen := map[Pos]bool{}
	for _, r := range all {
		if seen[PosOf(r)] {
			t.Fatalf("duplicate %+v", r)
		}
		seen[PosOf(r)] = true
	}
	res, err = s.Follow(context.Background(), "g", FollowQuery{After: first})
	if err != nil || !res.Behind || res.MissedSpans != nil {
		t.Fatalf("beyond the eviction history: %+v %v", res, err)
	}
}

// FollowSeq after a restart continues the sequence, and the replayed head
// is followed like any other.
func TestFollowAfterReopen(t *testing.T) {
	c := &clock{t: time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)}
	dir := t.TempDir()
	s := mustOpen(t, dir, testOptions(c))
	s.CreateGroup("g", Group{})
	s.CreateStream("g", "a")
	now := c.now().UnixMilli()
	mustAppend(t, s, "g", "a", InputEvent{now, "one"})
	before := s.FollowSeq()
	s.crash()
	s = mustOpen(t, dir, testOptions(c))
	defer s.Close()
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	after := s.FollowSeq()
	if after < before {
		t.Fatalf("FollowSeq went back over a restart: %d -> %d", before, after)
	}
	mustAppend(t, s, "g", "a", InputEvent{now, "two"})
	got, _ := followAll(t, s, "g", FollowQuery{}, &after, 10)
	wantMessages(t, got, "two")
}

// Followers running while writers append and heads are flushed see every
// event of their group exactly once.
func TestFollowConcurrentWithFlushes(t *testing.T) {
	s, c := followFixture(t, map[string][]string{"g": {"a", "b", "c"}, "other": {"a"}})
	now := c.now().UnixMilli()
	const writers, appends, per = 4, 60, 30
	start := s.FollowSeq()
	done := make(chan struct{})
	var got []Record
	followed := make(chan struct{})
	go func() {
		defer close(followed)
		after := start
		for {
			select {
			case <-done:
				recs, _ := followAll(t, s, "g", FollowQuery{}, &after, 50)
				got = append(got, recs...)
				return
			default:
			}
			recs, _ := followAll(t, s, "g", FollowQuery{}, &after, 50)
			got = append(got, recs...)
			time.Sleep(time.Millisecond)
		}
	}()
	errs := make(chan error, writers)
	for w := range writers {
		go func() {
			var err error
			for i := 0; i < appends && err == nil; i++ {
				group, stream := "g", []string{"a", "b", "c"}[w%3]
				if i%4 == 3 {
					group, stream = "other", "a"
				}
				evs := make([]InputEvent, per)
				for k := range evs {
					evs[k] = InputEvent{now - int64((i*7+w)%50)*1000 + int64(k), fmt.Sprintf("w%d-%d-%d %s", w, i, k, group)}
				}
				_, err = s.Append(context.Background(), group, stream, evs)
				if err == nil && w == 0 && i%10 == 5 {
					err = s.Flush()
				}
			}
			errs <- err
		}()
	}
	for range writers {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	close(done)
	<-followed
	want := writers * (appends - appends/4) * per
	seen := map[string]bool{}
	for _, r := range got {
		if seen[r.Message] {
			t.Fatalf("%q twice", r.Message)
		}
		seen[r.Message] = true
	}
	if len(got) != want {
		t.Fatalf("followed %d events, want %d", len(got), want)
	}
}

// BenchmarkFollowStep is one follow step after one new Append of 50
// events, with 200 streams and b.N Appends already in the head: the cost
// stays that of the new Append however full the head is.
func BenchmarkFollowStep(b *testing.B) {
	c := &clock{t: time.Now()}
	o := testOptions(c)
	o.HeadMaxBytes = 1 << 30
	s, err := Open(b.TempDir(), o)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	s.CreateGroup("g", Group{})
	for i := range 200 {
		s.CreateStream("g", fmt.Sprintf("s-%03d", i))
	}
	now := c.now().UnixMilli()
	evs := make([]InputEvent, 50)
	for k := range evs {
		evs[k] = InputEvent{now, fmt.Sprintf(`{"log":"GET /api/v1/items/%d 200 12ms","stream":"stdout"}`, k)}
	}
	after := s.FollowSeq()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		if _, err := s.Append(context.Background(), "g", fmt.Sprintf("s-%03d", i%200), evs); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		res, err := s.Follow(context.Background(), "g", FollowQuery{After: after, Limit: 1000})
		if err != nil || len(res.Records) != len(evs) {
			b.Fatalf("%d records, %v", len(res.Records), err)
		}
		after = res.Next
	}
}

func TestAddSpan(t *testing.T) {
	var sp []TimeSpan
	sp = addSpan(sp, 1_000_000, 1_000_010)
	sp = addSpan(sp, 1_000_020, 1_000_030) // joined: within spanJoin
	sp = addSpan(sp, 100, 200)             // far before: its own span
	sp = addSpan(sp, 5_000_000, 5_000_000)
	sp = addSpan(sp, 150, 300_000) // joins the first two... not the third
	want := []TimeSpan{{100, 300_001}, {1_000_000, 1_000_031}, {5_000_000, 5_000_001}}
	if fmt.Sprint(sp) != fmt.Sprint(want) {
		t.Fatalf("spans %v, want %v", sp, want)
	}
	sp = addSpan(sp, 250_000, 4_999_000) // bridges all three
	if want := []TimeSpan{{100, 5_000_001}}; fmt.Sprint(sp) != fmt.Sprint(want) {
		t.Fatalf("spans %v, want %v", sp, want)
	}
	// Past maxSpans the closest two are joined; every point stays covered.
	sp = nil
	var pts []int64
	for i := range 3 * maxSpans {
		ts := int64((i*7919)%(3*maxSpans)) * 10 * spanJoin
		if i%5 == 0 {
			ts += spanJoin / 2 * int64(i%3)
		}
		pts = append(pts, ts)
		sp = addSpan(sp, ts, ts)
	}
	if len(sp) > maxSpans {
		t.Fatalf("%d spans", len(sp))
	}
	for i := 1; i < len(sp); i++ {
		if sp[i].Start <= sp[i-1].End {
			t.Fatalf("spans not sorted and disjoint: %v", sp)
		}
	}
	for _, p := range pts {
		covered := false
		for _, s := range sp {
			covered = covered || s.Start <= p && p < s.End
		}
		if !covered {
			t.Fatalf("%d not covered by %v", p, sp)
		}
	}
	if got := mergeSpans([]TimeSpan{{0, 10}, {20, 30}}, []TimeSpan{{5, 21}, {40, 50}}); fmt.Sprint(got) != fmt.Sprint([]TimeSpan{{0, 30}, {40, 50}}) {
		t.Fatalf("merge %v", got)
	}
}
