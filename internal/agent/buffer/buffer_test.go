package buffer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func open(t *testing.T, dir string, cfg Config) (*Buffer, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	b, err := Open(dir, cfg, nil, reg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = b.Close() })
	return b, reg
}

func tok(i int) []byte { return fmt.Appendf(nil, "t%04d", i) }
func payload(i int) []byte {
	return fmt.Appendf(nil, "payload-%04d-%s", i, bytes.Repeat([]byte{'x'}, 11))
}

func push(t *testing.T, b *Buffer, from, to int) {
	t.Helper()
	for i := from; i <= to; i++ {
		if err := b.Push(context.Background(), payload(i), tok(i)); err != nil {
			t.Fatalf("Push %d: %v", i, err)
		}
	}
}

// next returns the next item or fails after a short wait.
func next(t *testing.T, b *Buffer) Item {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	it, err := b.Next(ctx)
	if err != nil {
		t.Fatalf("Next: %v", err)
	}
	return it
}

// drain acknowledges everything queued and returns the IDs in delivery order.
func drain(t *testing.T, b *Buffer) []uint64 {
	t.Helper()
	var ids []uint64
	for b.Stats().Items > 0 {
		it := next(t, b)
		if want := payload(int(it.ID)); !bytes.Equal(it.Payload, want) {
			t.Fatalf("item %d payload %q, want %q", it.ID, it.Payload, want)
		}
		if want := tok(int(it.ID)); !bytes.Equal(it.Token, want) {
			t.Fatalf("item %d token %q, want %q", it.ID, it.Token, want)
		}
		if err := b.Ack(it.ID); err != nil {
			t.Fatalf("Ack %d: %v", it.ID, err)
		}
		ids = append(ids, it.ID)
	}
	return ids
}

func seq(from, to int) []uint64 {
	var s []uint64
	for i := from; i <= to; i++ {
		s = append(s, uint64(i))
	}
	return s
}

func equalIDs(t *testing.T, what string, got, want []uint64) {
	t.Helper()
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("%s: got %v, want %v", what, got, want)
	}
}

// checkReleases asserts that the releases cover ids in order, each once,
// with the item's own token, and returns how many had each Why.
func checkReleases(t *testing.T, rs []Release, ids []uint64) map[Why]int {
	t.Helper()
	var got []uint64
	whys := map[Why]int{}
	for _, r := range rs {
		got = append(got, r.ID)
		whys[r.Why]++
		if !bytes.Equal(r.Token, tok(int(r.ID))) {
			t.Fatalf("release %d has token %q", r.ID, r.Token)
		}
	}
	equalIDs(t, "released IDs", got, ids)
	return whys
}

func TestPushNextAckInOrder(t *testing.T) {
	for _, tc := range []struct {
		name string
		dir  bool
		cfg  Config
	}{
		{"memory-only", false, Config{}},
		{"disk-fits-memory", true, Config{}},
		{"window-4", true, Config{MaxInFlight: 4}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := ""
			if tc.dir {
				dir = t.TempDir()
			}
			b, _ := open(t, dir, tc.cfg)
			push(t, b, 1, 20)
			if rs := b.Released(nil); len(rs) != 0 {
				t.Fatalf("memory items released before ack: %v", rs)
			}
			equalIDs(t, "delivery order", drain(t, b), seq(1, 20))
			whys := checkReleases(t, b.Released(nil), seq(1, 20))
			if whys[Acked] != 20 {
				t.Fatalf("releases %v, want 20 acked", whys)
			}
			st := b.Stats()
			if st.Items != 0 || st.MemoryBytes != 0 || st.DiskBytes != 0 || st.Pushed != 20 || st.Acked != 20 || st.Spilled != 0 {
				t.Fatalf("stats after drain: %+v", st)
			}
		})
	}
}

func TestOutOfOrderAckReleasesInOrder(t *testing.T) {
	b, _ := open(t, "", Config{MaxInFlight: 3})
	push(t, b, 1, 3)
	a, c, d := next(t, b), next(t, b), next(t, b)
	for _, id := range []uint64{d.ID, c.ID} {
		if err := b.Ack(id); err != nil {
			t.Fatal(err)
		}
	}
	if rs := b.Released(nil); len(rs) != 0 {
		t.Fatalf("released %v while item 1 is in flight", rs)
	}
	if err := b.Ack(a.ID); err != nil {
		t.Fatal(err)
	}
	checkReleases(t, b.Released(nil), seq(1, 3))
}

func TestSpillKeepsOrder(t *testing.T) {
	dir := t.TempDir()
	// Each payload is 24 bytes: memory holds 4, the rest spill.
	b, reg := open(t, dir, Config{MemoryBytes: 100, SegmentBytes: 200})
	push(t, b, 1, 30)
	st := b.Stats()
	if st.MemoryBytes > 100 || st.Spilled != 26 || st.Segments < 2 {
		t.Fatalf("after pushes: %+v", st)
	}
	// The spilled items are the oldest and are released as persisted in order.
	whys := checkReleases(t, b.Released(nil), seq(1, 26))
	if whys[Persisted] != 26 {
		t.Fatalf("releases %v", whys)
	}
	equalIDs(t, "delivery order", drain(t, b), seq(1, 30))
	checkReleases(t, b.Released(nil), seq(27, 30))
	st = b.Stats()
	// The last segment is kept, truncated to its header, for the next spill.
	if st.DiskBytes != segHeaderLen || st.Segments != 1 || st.MemoryBytes != 0 {
		t.Fatalf("after drain: %+v", st)
	}
	if got := testutil.ToFloat64(b.m.spilled); got != 26 {
		t.Fatalf("spilled metric %v", got)
	}
	if n, err := testutil.GatherAndCount(reg, "kinsight_agent_buffer_disk_bytes"); err != nil || n != 1 {
		t.Fatalf("disk_bytes gauge: %d %v", n, err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Fatalf("segments left after drain: %v", ents)
	}
}

func TestDiskFullDropsOldest(t *testing.T) {
	for _, tc := range []struct {
		name     string
		dir      bool
		cfg      Config
		reason   string
		wantWhys func(dropped int) map[Why]int
	}{
		// Spilled items were persisted (and released) before they were
		// dropped; memory holds the last two.
		{"sync-always", true, Config{MemoryBytes: 60, DiskBytes: 400, SegmentBytes: 100}, ReasonDiskFull,
			func(int) map[Why]int { return map[Why]int{Persisted: 48} }},
		// Never synced: the dropped items are released as dropped.
		{"sync-interval", true, Config{MemoryBytes: 60, DiskBytes: 400, SegmentBytes: 100, Sync: SyncInterval, SyncInterval: time.Hour}, ReasonDiskFull,
			func(d int) map[Why]int { return map[Why]int{Dropped: d} }},
		{"memory-only", false, Config{MemoryBytes: 60}, ReasonMemoryFull,
			func(d int) map[Why]int { return map[Why]int{Dropped: d} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := ""
			if tc.dir {
				dir = t.TempDir()
			}
			b, _ := open(t, dir, tc.cfg)
			for i := 1; i <= 50; i++ {
				push(t, b, i, i)
				if st := b.Stats(); st.DiskBytes > 400 || st.MemoryBytes > 60 {
					t.Fatalf("over budget after push %d: %+v", i, st)
				}
			}
			st := b.Stats()
			dropped := int(st.Dropped[tc.reason])
			if dropped == 0 || dropped+st.Items != 50 {
				t.Fatalf("dropped %d, queued %d, want a sum of 50: %+v", dropped, st.Items, st)
			}
			rs := b.Released(nil)
			whys := checkReleases(t, rs, seq(1, len(rs)))
			if want := tc.wantWhys(dropped); fmt.Sprint(whys) != fmt.Sprint(want) {
				t.Fatalf("releases %v, want %v", whys, want)
			}
			// The oldest were dropped: what is left is exactly the newest.
			equalIDs(t, "delivered", drain(t, b), seq(dropped+1, 50))
		})
	}
}

func TestDropInFlightItem(t *testing.T) {
	type drop struct {
		id       uint64
		inFlight bool
	}
	var drops []drop
	b, _ := open(t, t.TempDir(), Config{MemoryBytes: 1, DiskBytes: 300, SegmentBytes: 100,
		OnDrop: func(id uint64, _ []byte, reason string, inFlight bool) {
			if reason != ReasonDiskFull {
				t.Errorf("drop reason %q", reason)
			}
			drops = append(drops, drop{id, inFlight})
		}})
	push(t, b, 1, 1)
	it := next(t, b)
	push(t, b, 2, 20) // the destination is down; item 1's segment is dropped
	if err := b.Ack(it.ID); !errors.Is(err, ErrNotInFlight) {
		t.Fatalf("Ack of a dropped in-flight item: %v", err)
	}
	if len(drops) == 0 || drops[0] != (drop{it.ID, true}) {
		t.Fatalf("OnDrop calls %+v, want item %d first, in flight", drops, it.ID)
	}
	for _, d := range drops[1:] {
		if d.inFlight {
			t.Fatalf("OnDrop says queued item %d was in flight", d.id)
		}
	}
	if st := b.Stats(); st.InFlight != 0 || st.Dropped[ReasonDiskFull] == 0 {
		t.Fatalf("stats: %+v", st)
	}
}

func TestTooLarge(t *testing.T) {
	b, _ := open(t, t.TempDir(), Config{MemoryBytes: 10, DiskBytes: 100, SegmentBytes: 100})
	if err := b.Push(context.Background(), make([]byte, 200), tok(1)); err != nil {
		t.Fatal(err)
	}
	push(t, b, 2, 2)
	if st := b.Stats(); st.Dropped[ReasonTooLarge] != 1 || st.Items != 1 {
		t.Fatalf("stats: %+v", st)
	}
	rs := b.Released(nil)
	if len(rs) < 1 || rs[0].ID != 1 || rs[0].Why != Dropped {
		t.Fatalf("releases: %+v", rs)
	}
}

func TestRestartRecovers(t *testing.T) {
	cfg := Config{MemoryBytes: 1, SegmentBytes: 1 << 20}
	for _, tc := range []struct {
		name      string
		tear      func(t *testing.T, path string, pushedSize int64)
		wantFirst int
		wantLast  int
	}{
		{"clean", func(*testing.T, string, int64) {}, 4, 10},
		// Cut item 10's frame in half, and with it the ack frames written
		// after it: items 1-3 come back (at least once, never lost).
		{"torn-last-frame", func(t *testing.T, path string, pushedSize int64) {
			if err := os.Truncate(path, pushedSize-20); err != nil {
				t.Fatal(err)
			}
		}, 1, 9},
		{"garbage-tail", func(t *testing.T, path string, _ int64) {
			f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
			if err != nil {
				t.Fatal(err)
			}
			_, _ = f.Write([]byte{0x30, 0, 0, 0, 1, 2, 3, 4, 1, 9, 9})
			_ = f.Close()
		}, 4, 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			b1, _ := open(t, dir, cfg)
			push(t, b1, 1, 10)
			pushedSize := b1.Stats().DiskBytes
			for i := 1; i <= 3; i++ {
				if err := b1.Ack(next(t, b1).ID); err != nil {
					t.Fatal(err)
				}
			}
			next(t, b1) // item 4 is in flight when the process dies
			// No Close: the process dies here.
			segs, _ := filepath.Glob(filepath.Join(dir, "*.seg"))
			if len(segs) != 1 {
				t.Fatalf("segments: %v", segs)
			}
			tc.tear(t, segs[0], pushedSize)

			b2, reg := open(t, dir, cfg)
			whys := checkReleases(t, b2.Released(nil), seq(tc.wantFirst, tc.wantLast))
			if whys[Recovered] != tc.wantLast-tc.wantFirst+1 {
				t.Fatalf("releases %v", whys)
			}
			truncated := testutil.ToFloat64(b2.m.truncated)
			if (tc.name == "clean") != (truncated == 0) {
				t.Fatalf("truncated bytes %v", truncated)
			}
			if n, _ := testutil.GatherAndCount(reg, "kinsight_agent_buffer_recovered_total"); n != 1 {
				t.Fatalf("recovered metric missing")
			}
			// New items follow the recovered ones.
			push(t, b2, tc.wantLast+1, tc.wantLast+2)
			equalIDs(t, "delivered after restart", drain(t, b2), seq(tc.wantFirst, tc.wantLast+2))
		})
	}
}

func TestAckSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	cfg := Config{MemoryBytes: 1, SegmentBytes: 1 << 20, MaxInFlight: 3}
	b1, _ := open(t, dir, cfg)
	push(t, b1, 1, 6)
	a, c, d := next(t, b1), next(t, b1), next(t, b1)
	// Out of order, and item 1 stays unacknowledged.
	for _, id := range []uint64{d.ID, c.ID} {
		if err := b1.Ack(id); err != nil {
			t.Fatal(err)
		}
	}
	_ = a
	if err := b1.Close(); err != nil {
		t.Fatal(err)
	}
	b2, _ := open(t, dir, cfg)
	equalIDs(t, "redelivered", drain(t, b2), []uint64{1, 4, 5, 6})
}

func TestNackRedelivers(t *testing.T) {
	b, _ := open(t, t.TempDir(), Config{MemoryBytes: 60, MaxInFlight: 2})
	push(t, b, 1, 5) // 1..3 spill, 4..5 in memory
	var got []uint64
	for _, step := range []struct {
		op string
		id uint64
	}{
		{"next", 0}, {"next", 0}, {"nack", 1}, {"next", 0}, {"ack", 1}, {"nack", 2},
		{"next", 0}, {"ack", 2}, {"next", 0}, {"nack", 3}, {"next", 0}, {"ack", 3},
	} {
		var err error
		switch step.op {
		case "next":
			got = append(got, next(t, b).ID)
		case "ack":
			err = b.Ack(step.id)
		case "nack":
			err = b.Nack(step.id)
		}
		if err != nil {
			t.Fatalf("%s %d: %v", step.op, step.id, err)
		}
	}
	equalIDs(t, "deliveries", got, []uint64{1, 2, 1, 2, 3, 3})
	if err := b.Ack(3); !errors.Is(err, ErrNotInFlight) {
		t.Fatalf("second Ack: %v", err)
	}
	if err := b.Nack(99); !errors.Is(err, ErrNotInFlight) {
		t.Fatalf("Nack unknown: %v", err)
	}
	if got := testutil.ToFloat64(b.m.nacked); got != 3 {
		t.Fatalf("nacked metric %v", got)
	}
	equalIDs(t, "rest", drain(t, b), []uint64{4, 5})
}

func TestNextHonoursContextAndClose(t *testing.T) {
	b, _ := open(t, t.TempDir(), Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	if _, err := b.Next(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Next on empty buffer: %v", err)
	}
	done := make(chan error, 1)
	go func() { _, err := b.Next(context.Background()); done <- err }()
	time.Sleep(5 * time.Millisecond)
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; !errors.Is(err, ErrClosed) {
		t.Fatalf("Next after Close: %v", err)
	}
	if err := b.Push(context.Background(), nil, nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("Push after Close: %v", err)
	}
}

// TestConcurrent: a producer and a consumer that fails now and then; every
// pushed item is delivered exactly once or counted as dropped, and every
// token is released once, in order.
func TestConcurrent(t *testing.T) {
	for _, tc := range []struct {
		name string
		n    int // few with an fsync per push: shared CI disks are slow
		dir  bool
		cfg  Config
	}{
		{"disk", 300, true, Config{MemoryBytes: 200, DiskBytes: 1000, SegmentBytes: 300, MaxInFlight: 2}},
		{"disk-interval", 3000, true, Config{MemoryBytes: 300, DiskBytes: 2000, SegmentBytes: 400, Sync: SyncInterval, SyncInterval: 5 * time.Millisecond}},
		{"memory", 3000, false, Config{MemoryBytes: 300, MaxInFlight: 3}},
	} {
		n := tc.n
		t.Run(tc.name, func(t *testing.T) {
			dir := ""
			if tc.dir {
				dir = t.TempDir()
			}
			b, _ := open(t, dir, tc.cfg)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var wg sync.WaitGroup
			var rels []Release
			delivered := map[uint64]int{}
			wg.Go(func() {
				for i := 1; i <= n; i++ {
					if err := b.Push(ctx, payload(i), tok(i)); err != nil {
						t.Errorf("Push: %v", err)
						return
					}
					if i%50 == 0 {
						rels = b.Released(rels)
					}
				}
			})
			wg.Go(func() {
				rng := rand.New(rand.NewPCG(1, 2))
				for {
					it, err := b.Next(ctx)
					if err != nil {
						return
					}
					if !bytes.Equal(it.Payload, payload(int(it.ID))) {
						t.Errorf("item %d has payload %q", it.ID, it.Payload)
					}
					if rng.IntN(10) == 0 {
						_ = b.Nack(it.ID) // may be dropped meanwhile
						continue
					}
					if err := b.Ack(it.ID); err == nil {
						delivered[it.ID]++
					} else if !errors.Is(err, ErrNotInFlight) {
						t.Errorf("Ack: %v", err)
					}
				}
			})
			deadline := time.Now().Add(20 * time.Second)
			for {
				st := b.Stats()
				if st.Pushed == int64(n) && st.Items == 0 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("not drained: %+v", st)
				}
				time.Sleep(time.Millisecond)
			}
			cancel()
			wg.Wait()
			_ = b.Sync()
			rels = b.Released(rels)
			st := b.Stats()
			var droppedTotal int64
			for _, v := range st.Dropped {
				droppedTotal += v
			}
			for id, c := range delivered {
				if c != 1 {
					t.Fatalf("item %d acknowledged %d times", id, c)
				}
			}
			if int64(len(delivered))+droppedTotal != int64(n) || st.Acked != int64(len(delivered)) {
				t.Fatalf("delivered %d + dropped %d != %d (%+v)", len(delivered), droppedTotal, n, st)
			}
			checkReleases(t, rels, seq(1, n))
			t.Logf("delivered %d, dropped %v", len(delivered), st.Dropped)
		})
	}
}

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		cfg  Config
		want string
	}{
		{Config{}, ""},
		{DefaultConfig(), ""},
		{Config{MemoryBytes: -1}, "agent.buffer.memory_bytes"},
		{Config{DiskBytes: 10, SegmentBytes: 20}, "agent.buffer.segment_bytes"},
		{Config{Sync: "sometimes"}, "agent.buffer.sync"},
		{Config{MaxInFlight: -2}, "agent.buffer.max_in_flight"},
	} {
		err := tc.cfg.Validate()
		if (err == nil) != (tc.want == "") || (err != nil && !bytes.Contains([]byte(err.Error()), []byte(tc.want))) {
			t.Errorf("Validate(%+v) = %v, want %q", tc.cfg, err, tc.want)
		}
	}
	if _, err := Open(t.TempDir(), Config{Sync: "x"}, nil, nil); err == nil {
		t.Fatal("Open accepted an invalid config")
	}
}

func BenchmarkPushNextAck(b *testing.B) {
	for _, bc := range []struct {
		name string
		cfg  Config
	}{
		{"memory", Config{}},
		{"spill-interval", Config{MemoryBytes: 1, Sync: SyncInterval}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			buf, err := Open(b.TempDir(), bc.cfg, nil, nil)
			if err != nil {
				b.Fatal(err)
			}
			defer buf.Close()
			p := make([]byte, 4096)
			ctx := context.Background()
			b.ReportAllocs()
			b.SetBytes(int64(len(p)))
			for b.Loop() {
				if err := buf.Push(ctx, p, []byte("tok")); err != nil {
					b.Fatal(err)
				}
				it, err := buf.Next(ctx)
				if err != nil {
					b.Fatal(err)
				}
				if err := buf.Ack(it.ID); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func TestCorruptSpilledItemIsDroppedAndCounted(t *testing.T) {
	dir := t.TempDir()
	b, _ := open(t, dir, Config{MemoryBytes: 1, SegmentBytes: 1 << 20})
	push(t, b, 1, 3)
	frameLen := int64(len(appendItemFrame(nil, 2, tok(2), payload(2))))
	segs, _ := filepath.Glob(filepath.Join(dir, "*.seg"))
	f, err := os.OpenFile(segs[0], os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	// Flip the last payload byte of item 2.
	if _, err := f.WriteAt([]byte{0}, segHeaderLen+2*frameLen-1); err != nil {
		t.Fatal(err)
	}
	_ = f.Close()
	equalIDs(t, "delivered", drain(t, b), []uint64{1, 3})
	if st := b.Stats(); st.Dropped[ReasonCorrupt] != 1 || st.DiskBytes != segHeaderLen {
		t.Fatalf("stats: %+v", st)
	}
}

func TestOpenResetsSegmentWithBadMagic(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "00000000000000000007.seg"), []byte("not a segment at all"), 0o644); err != nil {
		t.Fatal(err)
	}
	b, _ := open(t, dir, Config{MemoryBytes: 1})
	if st := b.Stats(); st.Items != 0 || st.DiskBytes != segHeaderLen {
		t.Fatalf("stats: %+v", st)
	}
	if got := testutil.ToFloat64(b.m.truncated); got != 20 {
		t.Fatalf("truncated %v bytes, want 20", got)
	}
	push(t, b, 1, 2)
	equalIDs(t, "delivered", drain(t, b), seq(1, 2))
}

func TestUncollectedReleasesAreBounded(t *testing.T) {
	b, _ := open(t, "", Config{MemoryBytes: 1 << 10})
	n := maxPendingReleases + 1000
	for i := 1; i <= n; i++ {
		if err := b.Push(context.Background(), []byte("0123456789"), tok(i)); err != nil {
			t.Fatal(err)
		}
	}
	rs := b.Released(nil)
	if len(rs) > maxPendingReleases || rs[len(rs)-1].ID != uint64(n-b.Stats().Items) {
		t.Fatalf("%d releases, last %d", len(rs), rs[len(rs)-1].ID)
	}
	if got := testutil.ToFloat64(b.m.releasesDiscarded); got == 0 || int(got)+len(rs) != n-b.Stats().Items {
		t.Fatalf("discarded %v + kept %d != released", got, len(rs))
	}
}

func TestRestartAfterSegmentReset(t *testing.T) {
	dir := t.TempDir()
	cfg := Config{MemoryBytes: 1}
	b1, _ := open(t, dir, cfg)
	push(t, b1, 1, 3)
	equalIDs(t, "first drain", drain(t, b1), seq(1, 3))
	push(t, b1, 4, 5) // into the segment truncated back to its header
	_ = b1.Released(nil)
	b2, _ := open(t, dir, cfg) // b1 "crashed"
	checkReleases(t, b2.Released(nil), seq(4, 5))
	equalIDs(t, "after restart", drain(t, b2), seq(4, 5))
}
