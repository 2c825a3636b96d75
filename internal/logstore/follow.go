package logstore

import (
	"context"
	"sort"
	"strings"
	"unsafe"
)

// Following: "the events committed after seq S".
//
// A record's Seq is lsn<<16 | index: the committer numbers Appends (WAL
// records) from one store-wide counter in the order it commits them, and an
// Append holds at most 10,000 events, so Seq is a store-wide commit sequence
// as well as the tie-break of a position. A follower that remembers the
// newest Seq it has seen finds everything new by Seq alone, whatever the
// events' timestamps: late events (old timestamps stored now) come in
// commit order like any other.
//
// Every head keeps, beside its per-stream runs, the list of its commits in
// commit order (commit: the stream and the events one Append added). The
// events are a capped sub-slice of the stream's run as appended: head
// never writes into an earlier part of that array (appends go past its
// length, sorting makes a copy), so the commit list costs one small struct
// per Append and no copy of the events (but it keeps the arrays a run
// outgrows alive, which the head's size accounts for). Follow binary-searches the commit
// lists of the frozen and the active head for the first commit after S and
// walks from there, so its cost is the new commits, not a window of time.
//
// When a head is flushed its events leave memory; the store then records
// the last Seq it held (evictedThrough) and the time spans its events
// cover. A follower whose cursor is older than that has fallen behind a
// flush: Follow answers Behind with the Seq range it missed and the time
// spans that hold it, and the caller reads those spans from the parts
// (FilterEvents over each span, keeping After < Seq <= MissedThrough)
// before following again. Nothing is skipped; only the order of that
// stretch is (timestamp, seq) rather than commit order. The spans, rather
// than one earliest timestamp, keep that read small when a head holds a
// few events hours older than the rest (an agent sending its backlog).

// commit is one Append as a head keeps it for followers.
type commit struct {
	streamID uint64
	lsn      uint64
	// events are in append order (the Append's own timestamp order); the
	// slice is capped and never written again.
	events []headEvent
}

// eviction remembers one flushed head for followers that fall behind it.
type eviction struct {
	firstSeq, lastSeq uint64
	spans             []TimeSpan
}

// TimeSpan is the timestamps Start <= ts < End.
type TimeSpan struct{ Start, End int64 }

const (
	// spanJoin joins spans closer than this: one read is cheaper than two
	// for a minute of events.
	spanJoin = 60_000
	// maxSpans bounds a head's spans; past it the two closest are joined.
	maxSpans = 32
)

// addSpan adds [lo, hi] to the sorted, disjoint spans.
func addSpan(spans []TimeSpan, lo, hi int64) []TimeSpan {
	sp := TimeSpan{lo, hi + 1}
	// The usual case: within or just after the newest span.
	if n := len(spans); n > 0 && sp.Start >= spans[n-1].Start && sp.Start <= spans[n-1].End+spanJoin {
		spans[n-1].End = max(spans[n-1].End, sp.End)
		return spans
	}
	i := sort.Search(len(spans), func(i int) bool { return spans[i].End+spanJoin >= sp.Start })
	j := i
	for j < len(spans) && spans[j].Start <= sp.End+spanJoin {
		sp.Start, sp.End = min(sp.Start, spans[j].Start), max(sp.End, spans[j].End)
		j++
	}
	spans = append(spans[:i], append([]TimeSpan{sp}, spans[j:]...)...)
	if len(spans) > maxSpans {
		k := 0
		for i := 1; i < len(spans)-1; i++ {
			if spans[i+1].Start-spans[i].End < spans[k+1].Start-spans[k].End {
				k = i
			}
		}
		spans[k].End = spans[k+1].End
		spans = append(spans[:k+1], spans[k+2:]...)
	}
	return spans
}

// mergeSpans is the sorted, disjoint union of span lists.
func mergeSpans(lists ...[]TimeSpan) []TimeSpan {
	var all []TimeSpan
	for _, l := range lists {
		all = append(all, l...)
	}
	sort.Slice(all, func(i, j int) bool { return all[i].Start < all[j].Start })
	var out []TimeSpan
	for _, sp := range all {
		if n := len(out); n > 0 && sp.Start <= out[n-1].End {
			out[n-1].End = max(out[n-1].End, sp.End)
			continue
		}
		out = append(out, sp)
	}
	return out
}

// followState is the store's record of flushed heads; guarded by
// Store.stateMu.
type followState struct {
	// evictedThrough is the newest Seq no longer held by a head.
	evictedThrough uint64
	// evictions are the last maxEvictions flushed heads, oldest first.
	evictions []eviction
}

const maxEvictions = 16

// seqOf is the Seq of event index idx of the Append numbered lsn;
// lastSeqOf(lsn) is at or after every event of it.
func seqOf(lsn uint64, idx int) uint64 { return lsn<<16 | uint64(idx) }
func lastSeqOf(lsn uint64) uint64      { return lsn<<16 | 0xFFFF }

// logCommit records that the Append numbered lsn added evs (a capped
// sub-slice of the stream's run) to streamID; the caller holds h.mu for
// writing.
func (h *head) logCommit(streamID, lsn uint64, evs []headEvent) {
	if len(evs) == 0 {
		return
	}
	lo, hi := evs[0].ts, evs[0].ts
	for i := range evs {
		lo, hi = min(lo, evs[i].ts), max(hi, evs[i].ts)
	}
	h.spans = addSpan(h.spans, lo, hi)
	h.commits = append(h.commits, commit{streamID: streamID, lsn: lsn, events: evs})
	// The commits keep the arrays a stream's run outgrows alive until the
	// head is flushed (the run's current array holds the events again), so
	// the head's size counts every event a second time.
	h.bytes += int64(len(evs))*headEventOverhead + commitOverhead
}

const commitOverhead = int64(unsafe.Sizeof(commit{}))

// noteEvicted records that h's events left memory; the caller holds
// s.stateMu for writing, in the same step that drops h from the snapshot.
func (s *Store) noteEvicted(h *head) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	if len(h.commits) == 0 {
		return
	}
	ev := eviction{firstSeq: seqOf(h.commits[0].lsn, 0), lastSeq: lastSeqOf(h.commits[len(h.commits)-1].lsn), spans: h.spans}
	f := &s.follow
	f.evictedThrough = max(f.evictedThrough, ev.lastSeq)
	if len(f.evictions) == maxEvictions {
		f.evictions = append(f.evictions[:0], f.evictions[1:]...)
	}
	f.evictions = append(f.evictions, ev)
}

// FollowQuery asks for the events of one group committed after a Seq.
type FollowQuery struct {
	// After is the cursor: events with Seq > After are returned. Start one
	// from FollowSeq.
	After uint64
	// Streams names the streams; empty means all (or StreamPrefix).
	// Streams created later are included when they match.
	Streams      []string
	StreamPrefix string
	// Start skips events stamped before it (a follow "from startTime").
	Start  int64
	Filter Filter
	// Limit and MaxBytes (messages plus 26 bytes each) bound one page.
	Limit    int
	MaxBytes int
}

// FollowResult is one page of Follow.
type FollowResult struct {
	// Records are in commit order (and, within an Append, its order).
	Records []Record
	// Next is the cursor for the next call: every event at or before it
	// was examined.
	Next uint64
	// More is set when the page stopped at Limit or MaxBytes.
	More bool
	// Behind is set when events after After were flushed to parts and are
	// no longer in memory; Records is then empty. Those events are the ones
	// with After < Seq <= MissedThrough, and all are stamped within
	// MissedSpans (sorted, disjoint; nil when the store no longer knows:
	// then any time). Read them with FilterEvents and continue with After =
	// MissedThrough.
	Behind        bool
	MissedThrough uint64
	MissedSpans   []TimeSpan
}

// FollowSeq is the Seq of the newest commit: a follower starting now asks
// for events after it. Every event at or before it is visible to reads
// (FilterEvents) that start after FollowSeq returns.
func (s *Store) FollowSeq() uint64 {
	s.stateMu.RLock()
	defer s.stateMu.RUnlock()
	seq := s.follow.evictedThrough
	for _, h := range []*head{s.frozen, s.active} {
		if h == nil {
			continue
		}
		h.mu.RLock()
		if n := len(h.commits); n > 0 {
			seq = max(seq, lastSeqOf(h.commits[n-1].lsn))
		}
		h.mu.RUnlock()
	}
	return seq
}

// Follow returns the events of group committed after q.After, from the
// in-memory heads, in commit order. Its cost is the commits after q.After
// (all groups') plus the events returned; it reads no part. See Behind for
// a follower that fell behind a flush.
func (s *Store) Follow(ctx context.Context, group string, q FollowQuery) (FollowResult, error) {
	res := FollowResult{Next: q.After}
	s.stateMu.RLock()
	evicted := s.follow.evictedThrough
	var missed []TimeSpan
	if q.After < evicted {
		evs := s.follow.evictions
		if len(evs) > 0 && evs[0].firstSeq <= q.After+1 {
			var lists [][]TimeSpan
			for _, e := range evs {
				if e.lastSeq > q.After {
					lists = append(lists, e.spans)
				}
			}
			missed = mergeSpans(lists...)
		}
	}
	heads := make([]*head, 0, 2)
	if s.frozen != nil {
		heads = append(heads, s.frozen)
	}
	heads = append(heads, s.active)
	s.stateMu.RUnlock()
	if q.After < evicted {
		res.Behind, res.MissedThrough, res.MissedSpans = true, evicted, missed
		return res, nil
	}

	// The commits after the cursor, oldest head first. Commit lists only
	// grow, so the slices taken under the lock stay valid after it.
	var pending [][]commit
	for _, h := range heads {
		h.mu.RLock()
		cs := h.commits
		h.mu.RUnlock()
		i := sort.Search(len(cs), func(i int) bool { return lastSeqOf(cs[i].lsn) > q.After })
		if i < len(cs) {
			pending = append(pending, cs[i:len(cs):len(cs)])
		}
	}

	s.cat.mu.RLock()
	g := s.cat.byName[group]
	if g == nil {
		s.cat.mu.RUnlock()
		return res, ErrGroupNotFound
	}
	if len(pending) == 0 {
		s.cat.mu.RUnlock()
		return res, nil
	}
	cut := s.retentionCutoff(g.rec.RetentionDays)
	// selected memoises the stream test for this call: name, or "" when
	// the stream is not followed (deleted, another group, not selected).
	selected := map[uint64]string{}
	pick := func(id uint64) string {
		if name, ok := selected[id]; ok {
			return name
		}
		name := ""
		if st := s.cat.streamID[id]; st != nil && st.group == g && streamSelected(st.name, q.Streams, q.StreamPrefix) {
			name = st.name
		}
		selected[id] = name
		return name
	}
	// Resolve every stream up front so the catalog lock is not held while
	// matching messages.
	for _, cs := range pending {
		for i := range cs {
			pick(cs[i].streamID)
		}
	}
	s.cat.mu.RUnlock()

	bytes := 0
	start := max(q.Start, cut)
	for _, cs := range pending {
		for ci := range cs {
			c := &cs[ci]
			name := selected[c.streamID]
			if name == "" {
				res.Next = max(res.Next, lastSeqOf(c.lsn))
				continue
			}
			for i := range c.events {
				e := &c.events[i]
				if e.seq <= q.After {
					continue // the rest of an Append a page stopped in
				}
				if e.ts >= start && (q.Filter == nil || q.Filter.Match(e.msg)) {
					if q.Limit > 0 && len(res.Records) >= q.Limit || q.MaxBytes > 0 && bytes+len(e.msg)+26 > q.MaxBytes && len(res.Records) > 0 {
						res.More = true
						return res, nil
					}
					bytes += len(e.msg) + 26
					res.Records = append(res.Records, Record{StreamID: c.streamID, Stream: name, Timestamp: e.ts, IngestionTime: e.ingest, Seq: e.seq, Message: e.msg})
				}
				res.Next = max(res.Next, e.seq)
			}
			res.Next = max(res.Next, lastSeqOf(c.lsn))
			if ci%256 == 255 {
				if err := ctx.Err(); err != nil {
					return res, err
				}
			}
		}
	}
	return res, nil
}

// streamSelected is FilterEvents' stream selection: the named streams, or
// else those with the prefix.
func streamSelected(name string, names []string, prefix string) bool {
	if len(names) > 0 {
		for _, n := range names {
			if n == name {
				return true
			}
		}
		return false
	}
	return strings.HasPrefix(name, prefix)
}
