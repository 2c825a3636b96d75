package logstore

import (
	"context"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// tokenFilter matches messages containing a whole token; its MayMatch uses
// the bloom, as the real filter patterns do.
type tokenFilter string

func (f tokenFilter) Match(m string) bool {
	found := false
	ForEachToken(m, func(t string) { found = found || t == string(f) })
	return found
}
func (f tokenFilter) MayMatch(mayContain func(string) bool) bool { return mayContain(string(f)) }

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

func testOptions(c *clock) Options {
	o := Options{Now: c.now}
	o.HeadMaxBytes = 1 << 20
	o.BlockMaxBytes = 8 << 10
	o.MaxPartsPerPartition = 3
	o.MinFreeDiskBytes = 1
	o.WALSegmentBytes = 1 << 20
	return o
}

func mustOpen(t *testing.T, dir string, o Options) *Store {
	t.Helper()
	s, err := Open(dir, o)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// crash stops the store's goroutines and closes its files without flushing
// the head, as kill -9 would leave it (the WAL is already synced).
func (s *Store) crash() {
	s.stateMu.Lock()
	s.closed = true
	s.stateMu.Unlock()
	close(s.quit)
	s.wg.Wait()
	s.closeResources()
}

// model is what the store must return: per stream, events in (ts, seq) order.
type model struct {
	streams map[string][]InputEvent // appended order
}

func (m *model) sorted(stream string) []InputEvent {
	evs := append([]InputEvent(nil), m.streams[stream]...)
	sort.SliceStable(evs, func(i, j int) bool { return evs[i].Timestamp < evs[j].Timestamp })
	return evs
}

func readAll(t *testing.T, s *Store, group, stream string, backward bool, page int) []Record {
	t.Helper()
	var out []Record
	var from *Pos
	for {
		recs, err := s.Read(context.Background(), group, stream, ReadQuery{From: from, Backward: backward, Limit: page})
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) == 0 {
			break
		}
		if backward {
			out = append(recs, out...)
			p := PosOf(recs[0])
			from = &p
		} else {
			out = append(out, recs...)
			p := PosOf(recs[len(recs)-1])
			from = &p
		}
	}
	return out
}

func checkStream(t *testing.T, s *Store, m *model, group, stream string) {
	t.Helper()
	want := m.sorted(stream)
	for _, backward := range []bool{false, true} {
		for _, page := range []int{7, 1000} {
			got := readAll(t, s, group, stream, backward, page)
			if len(got) != len(want) {
				t.Fatalf("%s backward=%v page=%d: %d events, want %d", stream, backward, page, len(got), len(want))
			}
			for i := range got {
				if got[i].Message != want[i].Message || got[i].Timestamp != want[i].Timestamp {
					t.Fatalf("%s backward=%v event %d = %d %q, want %d %q", stream, backward, i, got[i].Timestamp, got[i].Message, want[i].Timestamp, want[i].Message)
				}
				if i > 0 && !PosOf(got[i-1]).Less(PosOf(got[i])) {
					t.Fatalf("%s: positions not increasing at %d", stream, i)
				}
			}
		}
	}
}

func TestStoreModel(t *testing.T) {
	c := &clock{t: time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)}
	dir := t.TempDir()
	s := mustOpen(t, dir, testOptions(c))
	defer func() { s.Close() }()
	if _, err := s.CreateGroup("g", Group{}); err != nil {
		t.Fatal(err)
	}
	streams := []string{"a", "b", "c"}
	for _, n := range streams {
		if _, err := s.CreateStream("g", n); err != nil {
			t.Fatal(err)
		}
	}
	m := &model{streams: map[string][]InputEvent{}}
	rng := rand.New(rand.NewSource(1))
	words := []string{"alpha", "beta", "gamma", "delta", "needle"}
	base := c.now().UnixMilli()
	n := 0
	for round := 0; round < 40; round++ {
		st := streams[rng.Intn(len(streams))]
		// Batches are ordered, but batches may go back in time and cross
		// day boundaries.
		ts := base - int64(rng.Intn(3*24*3600))*1000
		var evs []InputEvent
		for i := 0; i < 1+rng.Intn(200); i++ {
			ts += int64(rng.Intn(3)) * 1000
			msg := fmt.Sprintf("%s event %d %s %s", st, n, words[rng.Intn(len(words))], strings.Repeat("x", rng.Intn(300)))
			evs = append(evs, InputEvent{Timestamp: ts, Message: msg})
			n++
		}
		res, err := s.Append(context.Background(), "g", st, evs)
		if err != nil {
			t.Fatal(err)
		}
		if res.Accepted != len(evs) {
			t.Fatalf("accepted %d of %d: %+v", res.Accepted, len(evs), res)
		}
		m.streams[st] = append(m.streams[st], evs...)
		switch rng.Intn(6) {
		case 0:
			if err := s.Flush(); err != nil {
				t.Fatal(err)
			}
		case 1:
			s.crash()
			s = mustOpen(t, dir, testOptions(c))
		case 2:
			s.Close()
			s = mustOpen(t, dir, testOptions(c))
		}
		if round%10 == 9 {
			for _, st := range streams {
				checkStream(t, s, m, "g", st)
			}
		}
	}
	// Merges ran: parts per partition are bounded.
	s.Flush()
	deadline := time.Now().Add(10 * time.Second)
	for {
		s.stateMu.RLock()
		worst := 0
		for _, ps := range s.partitions {
			worst = max(worst, len(ps))
		}
		s.stateMu.RUnlock()
		if worst <= 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("partition still has %d parts", worst)
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, st := range streams {
		checkStream(t, s, m, "g", st)
	}

	n0, b0 := s.partStats()
	t.Logf("parts=%d bytes=%d", n0, b0)
	// FilterEvents: interleaved in (ts, seq) order, paged, exactly the matches.
	var want []string
	for _, st := range streams {
		for _, e := range m.streams[st] {
			if strings.Contains(e.Message, " needle ") {
				want = append(want, e.Message)
			}
		}
	}
	var got []string
	var after *Pos
	var last Pos
	for {
		res, err := s.FilterEvents(context.Background(), "g", FilterQuery{Filter: tokenFilter("needle"), After: after, Limit: 13})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range res.Records {
			if !last.Less(PosOf(r)) {
				t.Fatalf("filter results out of order")
			}
			last = PosOf(r)
			got = append(got, r.Message)
		}
		if !res.More {
			break
		}
		after = &res.Next
	}
	sort.Strings(want)
	sort.Strings(got)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("filter found %d events, want %d", len(got), len(want))
	}
	// Stream statistics survive restarts.
	ss, _, err := s.ListStreams("g", ListStreamsQuery{})
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range ss {
		var bytes int64
		for _, e := range m.streams[st.Name] {
			bytes += int64(len(e.Message))
		}
		if st.StoredBytes != bytes {
			t.Errorf("%s stored bytes %d, want %d", st.Name, st.StoredBytes, bytes)
		}
		evs := m.sorted(st.Name)
		if st.FirstEvent != evs[0].Timestamp || st.LastEvent != evs[len(evs)-1].Timestamp {
			t.Errorf("%s first/last %d/%d want %d/%d", st.Name, st.FirstEvent, st.LastEvent, evs[0].Timestamp, evs[len(evs)-1].Timestamp)
		}
	}
}

func TestAppendTimeWindow(t *testing.T) {
	c := &clock{t: time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)}
	s := mustOpen(t, t.TempDir(), testOptions(c))
	defer s.Close()
	s.CreateGroup("g", Group{RetentionDays: 1})
	s.CreateStream("g", "s")
	now := c.now().UnixMilli()
	evs := []InputEvent{
		{now - 15*dayMillis, "too old"},
		{now - 2*dayMillis, "expired"},
		{now - 1000, "ok1"},
		{now, "ok2"},
		{now + 3*3600*1000, "too new"},
	}
	res, err := s.Append(context.Background(), "g", "s", evs)
	if err != nil {
		t.Fatal(err)
	}
	if res != (AppendResult{TooOldEnd: 1, ExpiredEnd: 2, TooNewStart: 4, Accepted: 2}) {
		t.Fatalf("result %+v", res)
	}
	if _, err := s.Append(context.Background(), "g", "nope", evs); err != ErrStreamNotFound {
		t.Fatalf("missing stream: %v", err)
	}
}

func TestRetention(t *testing.T) {
	c := &clock{t: time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)}
	dir := t.TempDir()
	s := mustOpen(t, dir, testOptions(c))
	defer s.Close()
	for _, g := range []string{"short", "long"} {
		s.CreateGroup(g, Group{})
		s.CreateStream(g, "s")
	}
	now := c.now().UnixMilli()
	for _, g := range []string{"short", "long"} {
		evs := []InputEvent{{now - 5*dayMillis, g + " old"}, {now, g + " new"}}
		if _, err := s.Append(context.Background(), g, "s", evs); err != nil {
			t.Fatal(err)
		}
	}
	s.Flush()
	if err := s.PutRetention("short", 3); err != nil {
		t.Fatal(err)
	}
	// Exact at read time.
	if got := readAll(t, s, "short", "s", false, 10); len(got) != 1 || got[0].Message != "short new" {
		t.Fatalf("short after retention: %v", got)
	}
	if got := readAll(t, s, "long", "s", false, 10); len(got) != 2 {
		t.Fatalf("long: %v", got)
	}
	oldDay := filepath.Join(dir, "parts", dayDirName(dayOf(now-5*dayMillis)))
	s.EnforceRetention()
	// The old partition still holds "long", so it was rewritten, not removed.
	if _, err := os.Stat(oldDay); err != nil {
		t.Fatalf("partition of a live group removed: %v", err)
	}
	s.PutRetention("long", 1)
	s.EnforceRetention()
	if _, err := os.Stat(oldDay); !os.IsNotExist(err) {
		t.Fatalf("expired partition not deleted: %v", err)
	}
	if got := readAll(t, s, "long", "s", false, 10); len(got) != 1 {
		t.Fatalf("long after retention: %v", got)
	}
}

func TestDeleteGroupHidesEvents(t *testing.T) {
	c := &clock{t: time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)}
	dir := t.TempDir()
	s := mustOpen(t, dir, testOptions(c))
	s.CreateGroup("g", Group{})
	s.CreateStream("g", "s")
	s.Append(context.Background(), "g", "s", []InputEvent{{c.now().UnixMilli(), "hello"}})
	if err := s.DeleteGroup("g"); err != nil {
		t.Fatal(err)
	}
	s.CreateGroup("g", Group{})
	s.CreateStream("g", "s")
	if got := readAll(t, s, "g", "s", false, 10); len(got) != 0 {
		t.Fatalf("recreated stream sees old events: %v", got)
	}
	s.crash()
	s = mustOpen(t, dir, testOptions(c))
	defer s.Close()
	if got := readAll(t, s, "g", "s", false, 10); len(got) != 0 {
		t.Fatalf("after replay: %v", got)
	}
}

func TestConcurrentAppendsAreAllDurable(t *testing.T) {
	c := &clock{t: time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)}
	dir := t.TempDir()
	s := mustOpen(t, dir, testOptions(c))
	s.CreateGroup("g", Group{})
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		name := fmt.Sprintf("w%d", w)
		s.CreateStream("g", name)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				evs := []InputEvent{{c.now().UnixMilli() + int64(i), fmt.Sprintf("%s-%d", name, i)}}
				if _, err := s.Append(context.Background(), "g", name, evs); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	s.crash()
	s = mustOpen(t, dir, testOptions(c))
	defer s.Close()
	for w := 0; w < 8; w++ {
		got := readAll(t, s, "g", fmt.Sprintf("w%d", w), false, 1000)
		if len(got) != 50 {
			t.Fatalf("w%d: %d events after crash, want 50", w, len(got))
		}
		for i, r := range got {
			if r.Message != fmt.Sprintf("w%d-%d", w, i) {
				t.Fatalf("w%d event %d = %q", w, i, r.Message)
			}
		}
	}
}

// A scan that runs out of time returns no events but a position to go on
// from; following those positions visits everything exactly once.
func TestFilterDeadlineMakesProgress(t *testing.T) {
	c := &clock{t: time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)}
	s := mustOpen(t, t.TempDir(), testOptions(c))
	defer s.Close()
	s.CreateGroup("g", Group{})
	now := c.now().UnixMilli()
	for st := 0; st < 3; st++ {
		name := fmt.Sprint("s", st)
		s.CreateStream("g", name)
		var evs []InputEvent
		for i := 0; i < 40000; i++ {
			msg := fmt.Sprintf("%s line %d", name, i)
			if i == 39999-st*1000 {
				msg += " needle"
			}
			evs = append(evs, InputEvent{Timestamp: now - 40000 + int64(i), Message: msg})
		}
		if _, err := s.Append(context.Background(), "g", name, evs); err != nil {
			t.Fatal(err)
		}
		if st == 1 {
			s.Flush() // some in parts, some in the head
		}
	}
	var found []string
	var after *Pos
	pages, empty := 0, 0
	for {
		res, err := s.FilterEvents(context.Background(), "g", FilterQuery{
			Filter: tokenFilter("needle"), After: after, Deadline: time.Now().Add(-time.Second),
		})
		if err != nil {
			t.Fatal(err)
		}
		pages++
		if len(res.Records) == 0 {
			empty++
		}
		for _, r := range res.Records {
			found = append(found, r.Message)
		}
		if !res.More {
			break
		}
		if after != nil && !after.Less(res.Next) {
			t.Fatalf("page %d made no progress: %v -> %v", pages, *after, res.Next)
		}
		after = &res.Next
		if pages > 100 {
			t.Fatal("too many pages")
		}
	}
	if len(found) != 3 {
		t.Fatalf("found %d needles in %d pages: %v", len(found), pages, found)
	}
	if empty == 0 || pages < 3 {
		t.Fatalf("deadline never cut a page short (%d pages, %d empty)", pages, empty)
	}
}

// Shutdown returns by its deadline even when the head cannot be flushed
// (here: the parts directory is gone and a file stands in its place); the
// events stay in the WAL and come back at the next Open.
func TestShutdownWithFailingFlushKeepsWAL(t *testing.T) {
	c := &clock{t: time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)}
	dir := t.TempDir()
	s := mustOpen(t, dir, testOptions(c))
	s.CreateGroup("g", Group{})
	s.CreateStream("g", "s")
	if _, err := s.Append(context.Background(), "g", "s", []InputEvent{{c.now().UnixMilli(), "kept"}}); err != nil {
		t.Fatal(err)
	}
	parts := filepath.Join(dir, "parts")
	if err := os.RemoveAll(parts); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(parts, []byte("not a directory"), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	if took := time.Since(start); took > 3*time.Second {
		t.Fatalf("shutdown took %v with a 300ms deadline", took)
	}
	os.Remove(parts)
	s = mustOpen(t, dir, testOptions(c))
	defer s.Close()
	if got := readAll(t, s, "g", "s", false, 10); len(got) != 1 || got[0].Message != "kept" {
		t.Fatalf("after reopen: %v", got)
	}
}
