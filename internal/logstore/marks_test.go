package logstore

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sync"
	"testing"
	"time"
)

// dedupFixture is a store on disk with one stream and a clock.
type dedupFixture struct {
	t   *testing.T
	dir string
	c   *clock
	s   *Store
}

func newDedupFixture(t *testing.T) *dedupFixture {
	f := &dedupFixture{t: t, dir: t.TempDir(), c: &clock{t: time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)}}
	f.s = mustOpen(t, f.dir, testOptions(f.c))
	t.Cleanup(func() { f.s.Close() })
	if _, err := f.s.CreateGroup("g", Group{}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.s.CreateStream("g", "s"); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *dedupFixture) reopen(crash bool) {
	f.t.Helper()
	if crash {
		f.s.crash()
	} else if err := f.s.Close(); err != nil {
		f.t.Fatal(err)
	}
	f.s = mustOpen(f.t, f.dir, testOptions(f.c))
}

// put appends one event per position, message "src/ch/end", and checks the
// number stored and skipped.
func (f *dedupFixture) put(stream string, wantStored, wantDups int, pos ...Position) {
	f.t.Helper()
	evs := make([]InputEvent, len(pos))
	for i, p := range pos {
		evs[i] = InputEvent{Timestamp: f.c.now().UnixMilli(), Message: fmt.Sprintf("%x/%d/%d", p.Source, p.Channel, p.End)}
	}
	res, err := f.s.AppendPositioned(context.Background(), "g", stream, evs, pos)
	if err != nil {
		f.t.Fatal(err)
	}
	if res.Accepted != wantStored || res.Duplicates != wantDups {
		f.t.Fatalf("stored %d, duplicates %d; want %d, %d", res.Accepted, res.Duplicates, wantStored, wantDups)
	}
}

// messages reads the stream back.
func (f *dedupFixture) messages(stream string) []string {
	f.t.Helper()
	var out []string
	for _, r := range readAll(f.t, f.s, "g", stream, false, 1000) {
		out = append(out, r.Message)
	}
	return out
}

func (f *dedupFixture) wantMessages(stream string, want ...string) {
	f.t.Helper()
	if got := f.messages(stream); !reflect.DeepEqual(got, want) {
		f.t.Fatalf("stream %s holds %q, want %q", stream, got, want)
	}
}

func pos(src uint64, ch uint8, ends ...int64) []Position {
	out := make([]Position, len(ends))
	for i, e := range ends {
		out[i] = Position{Source: src, Channel: ch, End: e}
	}
	return out
}

func TestDedupSkipsRepeats(t *testing.T) {
	f := newDedupFixture(t)
	f.put("s", 3, 0, pos(0xa, 0, 10, 20, 30)...)
	f.put("s", 0, 3, pos(0xa, 0, 10, 20, 30)...)
	// A re-send that overlaps: the old part is skipped, the new part stored.
	f.put("s", 2, 2, pos(0xa, 0, 20, 30, 40, 50)...)
	// Without positions nothing is deduplicated.
	if _, err := f.s.Append(context.Background(), "g", "s", []InputEvent{{f.c.now().UnixMilli(), "a/0/50"}}); err != nil {
		t.Fatal(err)
	}
	f.wantMessages("s", "a/0/10", "a/0/20", "a/0/30", "a/0/40", "a/0/50", "a/0/50")
}

func TestDedupPerChannelAndSource(t *testing.T) {
	f := newDedupFixture(t)
	f.put("s", 2, 0, pos(1, 1, 100, 200)...)
	// Another channel and another source have marks of their own.
	f.put("s", 2, 0, pos(1, 2, 50, 150)...)
	f.put("s", 1, 0, pos(2, 1, 100)...)
	// Interleaved channels in one request, as CRI stdout and stderr are.
	f.put("s", 2, 3, Position{1, 1, 200}, Position{1, 2, 150}, Position{1, 1, 300}, Position{1, 2, 100}, Position{1, 2, 400})
	// Marks are per stream.
	if _, err := f.s.CreateStream("g", "other"); err != nil {
		t.Fatal(err)
	}
	f.put("other", 1, 0, pos(1, 1, 100)...)
	f.wantMessages("s", "1/1/100", "1/1/200", "1/2/50", "1/2/150", "2/1/100", "1/1/300", "1/2/400")
}

// Requests carrying the same events at once store them once: the check
// and the advance are one step in the committer.
func TestDedupConcurrentResends(t *testing.T) {
	f := newDedupFixture(t)
	const senders, events = 8, 50
	p := make([]Position, events)
	for i := range p {
		p[i] = Position{Source: 7, End: int64(i+1) * 10}
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	stored, dups := 0, 0
	for range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			evs := make([]InputEvent, events)
			for i := range evs {
				evs[i] = InputEvent{Timestamp: f.c.now().UnixMilli(), Message: fmt.Sprint(i)}
			}
			res, err := f.s.AppendPositioned(context.Background(), "g", "s", evs, p)
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			stored, dups = stored+res.Accepted, dups+res.Duplicates
			mu.Unlock()
		}()
	}
	wg.Wait()
	if stored != events || dups != (senders-1)*events {
		t.Fatalf("stored %d, duplicates %d", stored, dups)
	}
	if n := len(f.messages("s")); n != events {
		t.Fatalf("%d events stored", n)
	}
}

// Events the time window rejects do not move the mark: sent again when
// the clock agrees, they are stored.
func TestDedupRejectedEventsDoNotAdvance(t *testing.T) {
	f := newDedupFixture(t)
	now := f.c.now().UnixMilli()
	evs := []InputEvent{{now, "ok"}, {now + 3*60*60*1000, "too new"}}
	res, err := f.s.AppendPositioned(context.Background(), "g", "s", evs, pos(1, 0, 10, 20))
	if err != nil {
		t.Fatal(err)
	}
	if res.Accepted != 1 || res.TooNewStart != 1 {
		t.Fatalf("%+v", res)
	}
	res, err = f.s.AppendPositioned(context.Background(), "g", "s", []InputEvent{{now + 1, "later"}}, pos(1, 0, 20))
	if err != nil || res.Accepted != 1 || res.Duplicates != 0 {
		t.Fatalf("%+v %v", res, err)
	}
	if _, err := f.s.AppendPositioned(context.Background(), "g", "s", evs[:1], pos(1, 0, 10, 20)); err == nil {
		t.Fatal("positions not aligned with events: no error")
	}
}

// Marks survive every way a store can end: Close (head flushed, WAL
// deleted), a crash (replayed from the WAL), and a flush followed by a
// crash (from the marks file, the WAL that held them gone).
func TestDedupMarksSurviveRestarts(t *testing.T) {
	for _, tc := range []struct {
		name  string
		flush bool
		crash bool
	}{
		{"close", false, false},
		{"crash", false, true},
		{"flush-then-crash", true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newDedupFixture(t)
			f.put("s", 2, 0, pos(1, 1, 10, 20)...)
			f.put("s", 1, 0, pos(1, 2, 5)...)
			if tc.flush {
				if err := f.s.Flush(); err != nil {
					t.Fatal(err)
				}
				// The WAL that held the advances is gone; only the marks
				// file knows them now.
				if n := walRecords(t, f.dir, f.s); n != 0 {
					t.Fatalf("%d WAL records left after the flush", n)
				}
				if _, err := os.Stat(filepath.Join(f.dir, marksFile)); err != nil {
					t.Fatal(err)
				}
			}
			f.reopen(tc.crash)
			f.put("s", 1, 2, pos(1, 1, 10, 20, 30)...)
			f.put("s", 0, 1, pos(1, 2, 5)...)
			// And again after a second restart, with the new advance in the
			// WAL on top of the marks file.
			f.reopen(tc.crash)
			f.put("s", 1, 3, pos(1, 1, 10, 20, 30, 40)...)
			f.wantMessages("s", "1/1/10", "1/1/20", "1/2/5", "1/1/30", "1/1/40")
		})
	}
}

// walRecords counts the intact records in the WAL.
func walRecords(t *testing.T, dir string, s *Store) int {
	t.Helper()
	segs, err := listSegments(filepath.Join(dir, "wal"))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, seg := range segs {
		if _, err := replaySegment(filepath.Join(dir, "wal", segmentName(seg)), s.codec.dec, func(walRecord) error { n++; return nil }); err != nil {
			t.Fatal(err)
		}
	}
	return n
}

// At most 64 marks per stream: the least recently advanced is evicted, the
// same way whether the marks come from memory, the WAL or the marks file.
func TestDedupBoundEvictsLeastRecentlyAdvanced(t *testing.T) {
	for _, restart := range []string{"none", "crash", "flush-crash", "close"} {
		t.Run(restart, func(t *testing.T) {
			f := newDedupFixture(t)
			for src := uint64(0); src < maxMarksPerStream; src++ {
				f.put("s", 1, 0, pos(src, 0, 10)...)
			}
			// Source 0 advances again, so source 1 is now the oldest.
			f.put("s", 1, 0, pos(0, 0, 20)...)
			f.put("s", 1, 0, pos(maxMarksPerStream, 0, 10)...) // evicts source 1
			switch restart {
			case "crash":
				f.reopen(true)
			case "flush-crash":
				if err := f.s.Flush(); err != nil {
					t.Fatal(err)
				}
				f.reopen(true)
			case "close":
				f.reopen(false)
			}
			f.put("s", 0, 1, pos(0, 0, 20)...)
			f.put("s", 0, 1, pos(2, 0, 10)...)
			f.put("s", 0, 1, pos(maxMarksPerStream, 0, 10)...)
			// Forgotten: stored again (the price of the bound).
			f.put("s", 1, 0, pos(1, 0, 10)...)
		})
	}
}

// Deleting a stream deletes its marks: a stream created again under the
// same name stores everything, before and after a restart.
func TestDedupStreamDeleteDropsMarks(t *testing.T) {
	for _, crash := range []bool{false, true} {
		t.Run(fmt.Sprint("crash=", crash), func(t *testing.T) {
			f := newDedupFixture(t)
			f.put("s", 2, 0, pos(1, 0, 10, 20)...)
			if err := f.s.Flush(); err != nil { // marks file holds the stream
				t.Fatal(err)
			}
			f.put("s", 1, 0, pos(1, 0, 30)...) // and the WAL too
			if err := f.s.DeleteStream("g", "s"); err != nil {
				t.Fatal(err)
			}
			if _, err := f.s.CreateStream("g", "s"); err != nil {
				t.Fatal(err)
			}
			f.put("s", 1, 0, pos(1, 0, 10)...)
			f.reopen(crash)
			f.put("s", 2, 1, pos(1, 0, 10, 20, 30)...)
			if err := f.s.DeleteGroup("g"); err != nil {
				t.Fatal(err)
			}
			f.reopen(crash)
			if _, err := f.s.CreateGroup("g", Group{}); err != nil {
				t.Fatal(err)
			}
			if _, err := f.s.CreateStream("g", "s"); err != nil {
				t.Fatal(err)
			}
			f.put("s", 3, 0, pos(1, 0, 10, 20, 30)...)
		})
	}
}

// A WAL written before marks existed (codec bytes 0 and 1 only) replays,
// and records with marks round-trip through both codecs.
func TestWALRecordMarksRoundTrip(t *testing.T) {
	s := newDedupFixture(t).s
	big := string(bytes.Repeat([]byte("x"), 2*walCompressMin))
	for _, r := range []walRecord{
		{lsn: 1, streamID: 2, ingest: 3, events: []InputEvent{{4, "small"}}},
		{lsn: 1, streamID: 2, ingest: 3, events: []InputEvent{{4, big}}},
		{lsn: 5, streamID: 6, ingest: 7, events: []InputEvent{{8, "small"}}, marks: []walMark{{markKey{1<<64 - 1, 255}, 1<<63 - 1}, {markKey{0, 0}, 0}}},
		{lsn: 5, streamID: 6, ingest: 7, events: []InputEvent{{8, big}}, marks: []walMark{{markKey{3, 1}, 42}}},
	} {
		var scratch []byte
		frame := appendWALRecord(nil, &r, s.codec.walEnc, &scratch)
		payload := frame[walFrameHeader:]
		if (payload[0]&walMarks != 0) != (len(r.marks) > 0) {
			t.Fatalf("codec byte %d for %d marks", payload[0], len(r.marks))
		}
		got, err := decodeWALPayload(payload, s.codec.dec)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, r) {
			t.Fatalf("got %+v, want %+v", got, r)
		}
	}
}

func TestMarksFileRoundTrip(t *testing.T) {
	in := map[uint64][]mark{
		3: {{markKey{1, 0}, 10, 7}, {markKey{1<<64 - 1, 255}, 1<<63 - 1, 1<<64 - 1}},
		9: {{markKey{0, 2}, 0, 1}},
	}
	b := encodeMarks(41, in)
	through, out, err := decodeMarks(b)
	if err != nil || through != 41 || !reflect.DeepEqual(out, in) {
		t.Fatalf("%d %v %v", through, out, err)
	}
	b[len(b)/2] ^= 1
	if _, _, err := decodeMarks(b); err == nil {
		t.Fatal("a flipped bit went unnoticed")
	}
}

// A damaged marks file stops Open rather than letting duplicates in.
func TestCorruptMarksFileRefusesOpen(t *testing.T) {
	f := newDedupFixture(t)
	f.put("s", 1, 0, pos(1, 0, 10)...)
	if err := f.s.Close(); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(f.dir, marksFile)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)-1] ^= 0xff
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := Open(f.dir, testOptions(f.c))
	if err == nil {
		s.Close()
		t.Fatal("opened with a corrupt marks file")
	}
	f.s = mustOpen(t, t.TempDir(), testOptions(f.c)) // for the cleanup
}

func FuzzDecodeMarks(f *testing.F) {
	f.Add(encodeMarks(0, nil))
	f.Add(encodeMarks(41, map[uint64][]mark{3: {{markKey{1, 0}, 10, 7}}, 9: {{markKey{0, 2}, -1, 1}}}))
	f.Add([]byte(marksMagic))
	f.Fuzz(func(t *testing.T, b []byte) {
		through, marks, err := decodeMarks(b)
		if err != nil {
			return
		}
		if again := encodeMarks(through, marks); !bytes.Equal(again, b) {
			// Varints have one shortest form; anything else decoded must be
			// re-encoded the same or the decoder accepted junk.
			if _, m2, err := decodeMarks(again); err != nil || !reflect.DeepEqual(m2, marks) {
				t.Fatalf("re-encoding changed the marks: %v", err)
			}
		}
	})
}

func FuzzDecodeWALRecord(f *testing.F) {
	var scratch []byte
	for _, r := range []walRecord{
		{lsn: 1, streamID: 2, ingest: 3, events: []InputEvent{{4, "small"}}},
		{lsn: 5, streamID: 6, ingest: 7, events: []InputEvent{{8, "m"}}, marks: []walMark{{markKey{3, 1}, 42}}},
	} {
		f.Add(appendWALRecord(nil, &r, nil, &scratch)[walFrameHeader:])
	}
	f.Add([]byte{walRaw | walMarks, 1, 2, 3, 0, 1, 1, 2, 3})
	f.Fuzz(func(t *testing.T, p []byte) {
		if len(p) > 0 && p[0]&^walMarks == walZstd {
			return // the zstd decoder is fuzzed upstream
		}
		r, err := decodeWALPayload(p, nil)
		if err != nil {
			return
		}
		var scratch []byte
		again := appendWALRecord(nil, &r, nil, &scratch)[walFrameHeader:]
		r2, err := decodeWALPayload(again, nil)
		if err != nil || !reflect.DeepEqual(r, r2) {
			t.Fatalf("round trip: %v\n%+v\n%+v", err, r, r2)
		}
	})
}

// BenchmarkDedup is the committer's per-request cost for a full batch of
// 10,000 events from CRI stdout and stderr interleaved, half re-sent.
func BenchmarkDedup(b *testing.B) {
	const n = 10000
	evs := make([]InputEvent, n)
	ps := make([]Position, n)
	for i := range evs {
		evs[i] = InputEvent{Timestamp: int64(i), Message: "m"}
		ps[i] = Position{Source: 0xabc, Channel: uint8(1 + i%2), End: int64(i+1) * 100}
	}
	sm := &streamMarks{}
	sm.advance(markKey{0xabc, 1}, n*50, 1)
	sm.advance(markKey{0xabc, 2}, n*50, 1)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		keep, _, dups, _ := dedup(sm, new([]walMark), evs, ps)
		if len(keep)+dups != n || dups == 0 {
			b.Fatal(len(keep), dups)
		}
	}
}
