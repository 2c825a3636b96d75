package logstore

import (
	"container/heap"
	"context"
	"math"
	"sort"
	"strings"
	"time"
)

// Reads merge sorted runs — a stream's events in a head, or one block — in
// (timestamp, seq) order. Runs are opened lazily in order of their first
// timestamp, so a read that stops at its limit never touches blocks beyond
// it, and a block is checked against the filter's bloom pre-test before it is
// decompressed. A block cursor copies a small window of matching events out
// of the (cached) decoded block, so memory per open run stays small however
// many runs overlap.

const cursorWindow = 64

// snapshot is a consistent view of heads and parts for one read.
type snapshot struct {
	heads []*head
	parts []*part
}

func (s *Store) snapshot(start, end int64) *snapshot {
	s.stateMu.RLock()
	defer s.stateMu.RUnlock()
	sn := &snapshot{heads: []*head{s.active}}
	if s.frozen != nil {
		sn.heads = append(sn.heads, s.frozen)
	}
	for day, ps := range s.partitions {
		dStart := int64(day) * dayMillis
		if end > 0 && dStart >= end || dStart+dayMillis <= start {
			continue
		}
		for _, p := range ps {
			p.acquire()
			sn.parts = append(sn.parts, p)
		}
	}
	return sn
}

func (sn *snapshot) release() {
	for _, p := range sn.parts {
		p.release()
	}
}

// scan describes one read.
type scan struct {
	start, end int64 // start <= ts < end; end 0 = unbounded
	from       *Pos  // exclusive
	backward   bool
	filter     Filter
	// cutoff is the retention bound per stream (events before it are gone).
	cutoff map[uint64]int64
	// shareBlocks lets records point into decoded blocks instead of copying
	// their messages out. Copying bounds memory when a merge holds many
	// runs open at once; a single stream's read holds a few.
	shareBlocks bool

	scannedRecords, scannedBytes int64
}

func (sc *scan) inRange(streamID uint64, ts int64, seq uint64) bool {
	if ts < sc.start || sc.end > 0 && ts >= sc.end || ts < sc.cutoff[streamID] {
		return false
	}
	if sc.from != nil {
		p := Pos{ts, seq}
		if sc.backward {
			return p.Less(*sc.from)
		}
		return sc.from.Less(p)
	}
	return true
}

// beyond reports whether ts is past the scan's range in its direction, so
// a cursor can stop early.
func (sc *scan) beyond(ts int64) bool {
	if sc.backward {
		return ts < sc.start
	}
	return sc.end > 0 && ts >= sc.end
}

func (sc *scan) match(msg string) bool {
	sc.scannedRecords++
	sc.scannedBytes += int64(len(msg))
	return sc.filter == nil || sc.filter.Match(msg)
}

// run is a sorted source of one stream's events.
type run struct {
	streamID     uint64
	minTs, maxTs int64
	head         []headEvent
	p            *part
	block        int
}

// cursor walks one opened run.
type cursor struct {
	streamID uint64
	// Window of events already copied out (block runs) or the head slice.
	buf []headEvent
	i   int
	// Block runs: where the next window starts in the block.
	p     *part
	block int
	next  int
	done  bool
}

func (c *cursor) cur() *headEvent { return &c.buf[c.i] }

// eventLess orders events in the scan's direction.
func eventLess(a, b *headEvent, backward bool) bool {
	if backward {
		return posLess(b.ts, b.seq, a.ts, a.seq)
	}
	return posLess(a.ts, a.seq, b.ts, b.seq)
}

type cursorHeap struct {
	cs       []*cursor
	backward bool
}

func (h *cursorHeap) Len() int           { return len(h.cs) }
func (h *cursorHeap) Less(i, j int) bool { return eventLess(h.cs[i].cur(), h.cs[j].cur(), h.backward) }
func (h *cursorHeap) Swap(i, j int)      { h.cs[i], h.cs[j] = h.cs[j], h.cs[i] }
func (h *cursorHeap) Push(x any)         { h.cs = append(h.cs, x.(*cursor)) }
func (h *cursorHeap) Pop() any {
	c := h.cs[len(h.cs)-1]
	h.cs = h.cs[:len(h.cs)-1]
	return c
}

// merger yields events of many runs in order.
type merger struct {
	s    *Store
	sc   *scan
	runs []run // sorted by first timestamp in scan direction
	ri   int
	h    cursorHeap
	err  error
	// yieldEvery, when > 0, makes next return (with yielded set) after it
	// examined that many records, or opened yieldEvery/64 runs (blocks
	// skipped by their bloom filter cost no records), without producing one,
	// so a caller can check its deadline during a scan that finds nothing.
	yieldEvery int64
	yielded    bool
}

func newMerger(s *Store, sc *scan, runs []run) *merger {
	if sc.backward {
		sort.Slice(runs, func(i, j int) bool { return runs[i].maxTs > runs[j].maxTs })
	} else {
		sort.Slice(runs, func(i, j int) bool { return runs[i].minTs < runs[j].minTs })
	}
	return &merger{s: s, sc: sc, runs: runs, h: cursorHeap{backward: sc.backward}}
}

// runStartsBefore reports whether run r may hold an event that comes before
// (or at) event e in scan order.
func (m *merger) runStartsBefore(r *run, e *headEvent) bool {
	if m.sc.backward {
		return r.maxTs >= e.ts
	}
	return r.minTs <= e.ts
}

// next returns the next event and its stream, or ok=false at the end.
func (m *merger) next() (ev headEvent, streamID uint64, ok bool) {
	m.yielded = false
	scanned, opened := m.sc.scannedRecords, int64(0)
	// Open every run that may start at or before the current head of the
	// heap; unopened runs start strictly later, so the top is the minimum.
	for m.ri < len(m.runs) && (m.h.Len() == 0 || m.runStartsBefore(&m.runs[m.ri], m.h.cs[0].cur())) {
		if m.yieldEvery > 0 && (m.sc.scannedRecords-scanned >= m.yieldEvery || opened >= m.yieldEvery/64) {
			m.yielded = true
			return ev, 0, false
		}
		opened++
		r := &m.runs[m.ri]
		m.ri++
		if c := m.open(r); c != nil {
			heap.Push(&m.h, c)
		}
		if m.err != nil {
			return ev, 0, false
		}
	}
	if m.h.Len() == 0 {
		return ev, 0, false
	}
	c := m.h.cs[0]
	ev, streamID = *c.cur(), c.streamID
	if m.advance(c) {
		heap.Fix(&m.h, 0)
	} else {
		heap.Pop(&m.h)
	}
	if m.err != nil {
		return ev, 0, false
	}
	return ev, streamID, true
}

// frontier is a forward scan's progress: every event before it has been
// examined. It lies at the earliest of the heap's top and the next unopened
// run, which starts no earlier than any run after it.
func (m *merger) frontier() Pos {
	f := Pos{Timestamp: math.MaxInt64, Seq: math.MaxUint64}
	if m.h.Len() > 0 {
		c := m.h.cs[0].cur()
		f = Pos{c.ts, c.seq}
	}
	if m.ri < len(m.runs) && m.runs[m.ri].minTs <= f.Timestamp {
		f = Pos{Timestamp: m.runs[m.ri].minTs}
	}
	return f
}

// before is the position just before p, for exclusive "after" cursors.
func before(p Pos) Pos {
	if p.Seq > 0 {
		return Pos{p.Timestamp, p.Seq - 1}
	}
	return Pos{p.Timestamp - 1, math.MaxUint64}
}

// open positions a cursor on a run's first qualifying event, or returns nil.
func (m *merger) open(r *run) *cursor {
	sc := m.sc
	if sc.backward && r.minTs > sc.maxFromTs() || !sc.backward && r.maxTs < sc.minFromTs() ||
		r.maxTs < sc.start || sc.end > 0 && r.minTs >= sc.end || r.maxTs < sc.cutoff[r.streamID] {
		m.s.m.blocksRead.WithLabelValues("skipped_time").Inc()
		return nil
	}
	c := &cursor{streamID: r.streamID}
	if r.head != nil {
		c.buf, c.done = r.head, true
		if sc.backward {
			c.buf = reversed(r.head)
		}
		c.i = -1
		if !m.advanceHead(c) {
			return nil
		}
		return c
	}
	if sc.filter != nil {
		bits, err := r.p.readBloom(r.block)
		if err != nil {
			m.err = err
			return nil
		}
		if !sc.filter.MayMatch(func(sub string) bool { return bloomMayContain(bits, sub) }) {
			m.s.m.blocksRead.WithLabelValues("skipped_bloom").Inc()
			return nil
		}
	}
	m.s.m.blocksRead.WithLabelValues("read").Inc()
	c.p, c.block = r.p, r.block
	if sc.backward {
		c.next = int(r.p.blocks[r.block].count) - 1
	}
	if !m.fill(c) {
		return nil
	}
	return c
}

func reversed(evs []headEvent) []headEvent {
	out := make([]headEvent, len(evs))
	for i, e := range evs {
		out[len(evs)-1-i] = e
	}
	return out
}

func (sc *scan) minFromTs() int64 {
	if sc.from == nil || sc.backward {
		return -1 << 63
	}
	return sc.from.Timestamp
}

func (sc *scan) maxFromTs() int64 {
	if sc.from == nil || !sc.backward {
		return 1<<63 - 1
	}
	return sc.from.Timestamp
}

// advance moves c to its next qualifying event; false at the end.
func (m *merger) advance(c *cursor) bool {
	if c.p == nil {
		return m.advanceHead(c)
	}
	c.i++
	if c.i < len(c.buf) {
		return true
	}
	return m.fill(c)
}

func (m *merger) advanceHead(c *cursor) bool {
	for c.i++; c.i < len(c.buf); c.i++ {
		e := &c.buf[c.i]
		if m.sc.beyond(e.ts) {
			return false
		}
		if m.sc.inRange(c.streamID, e.ts, e.seq) && m.sc.match(e.msg) {
			return true
		}
	}
	return false
}

// fill copies the next window of qualifying events out of c's block.
func (m *merger) fill(c *cursor) bool {
	c.buf, c.i = c.buf[:0], 0
	if c.done {
		return false
	}
	b, err := m.s.loadBlock(c.p, c.block, false)
	if err != nil {
		m.err = err
		return false
	}
	sc := m.sc
	step := 1
	if sc.backward {
		step = -1
	}
	for ; c.next >= 0 && c.next < b.len() && len(c.buf) < cursorWindow; c.next += step {
		ts, seq := b.ts[c.next], b.seq[c.next]
		if sc.beyond(ts) {
			c.next = -1
			break
		}
		if !sc.inRange(c.streamID, ts, seq) || !sc.match(b.msgs[c.next]) {
			continue
		}
		msg := b.msgs[c.next]
		if !sc.shareBlocks {
			msg = strings.Clone(msg)
		}
		c.buf = append(c.buf, headEvent{ts: ts, seq: seq, ingest: b.ingest[c.next], msg: msg})
	}
	if c.next < 0 || c.next >= b.len() {
		c.done = true
	}
	if len(c.buf) == 0 {
		return false
	}
	return true
}

// loadBlock returns a decoded block through the cache, every message as
// written. With columnsOnly the block's messages may be missing (msgs
// nil); a cached whole block serves such a read too.
func (s *Store) loadBlock(p *part, i int, columnsOnly bool) (*decodedBlock, error) {
	if columnsOnly {
		return s.loadBlockAs(p, i, formColumns)
	}
	return s.loadBlockAs(p, i, formFull)
}

// retentionCutoff is the first timestamp still visible in a group.
func (s *Store) retentionCutoff(days int32) int64 {
	if days <= 0 {
		return -1 << 63
	}
	return s.now().UnixMilli() - int64(days)*dayMillis
}

// runsFor collects the runs of the given streams from a snapshot.
func (s *Store) runsFor(sn *snapshot, ids map[uint64]bool, sc *scan) []run {
	var runs []run
	for _, h := range sn.heads {
		for id := range ids {
			evs := h.sortedEvents(id)
			if len(evs) == 0 {
				continue
			}
			r := run{streamID: id, head: evs, minTs: evs[0].ts, maxTs: evs[len(evs)-1].ts}
			runs = append(runs, r)
		}
	}
	lo := max(sc.start, sc.minFromTs())
	hi := min(sc.maxFromTs(), math.MaxInt64)
	for _, p := range sn.parts {
		if p.meta.MaxTs < lo || p.meta.MinTs > hi || sc.end > 0 && p.meta.MinTs >= sc.end {
			continue
		}
		add := func(i int) {
			b := &p.blocks[i]
			if !ids[b.streamID] || b.maxTs < lo || b.minTs > hi || sc.end > 0 && b.minTs >= sc.end {
				return
			}
			runs = append(runs, run{streamID: b.streamID, minTs: b.minTs, maxTs: b.maxTs, p: p, block: i})
		}
		if len(ids) <= 4 {
			for id := range ids {
				lo, hi := p.streamBlocks(id)
				for i := lo; i < hi; i++ {
					add(i)
				}
			}
		} else {
			for i := range p.blocks {
				add(i)
			}
		}
	}
	return runs
}

// Read reads one stream (GetLogEvents).
func (s *Store) Read(ctx context.Context, group, stream string, q ReadQuery) ([]Record, error) {
	st, err := s.cat.lookupStream(group, stream)
	if err != nil {
		return nil, err
	}
	s.cat.mu.RLock()
	cut := s.retentionCutoff(st.group.rec.RetentionDays)
	s.cat.mu.RUnlock()
	sc := &scan{start: q.Start, end: q.End, from: q.From, backward: q.Backward, cutoff: map[uint64]int64{st.rec.ID: cut}, shareBlocks: true}
	sn := s.snapshot(q.Start, q.End)
	defer sn.release()
	m := newMerger(s, sc, s.runsFor(sn, map[uint64]bool{st.rec.ID: true}, sc))
	var out []Record
	bytes := 0
	for q.Limit <= 0 || len(out) < q.Limit {
		ev, _, ok := m.next()
		if !ok {
			break
		}
		if q.MaxBytes > 0 && bytes+len(ev.msg)+26 > q.MaxBytes {
			break
		}
		bytes += len(ev.msg) + 26
		out = append(out, Record{StreamID: st.rec.ID, Stream: stream, Timestamp: ev.ts, IngestionTime: ev.ingest, Seq: ev.seq, Message: ev.msg})
		if len(out)%1024 == 0 && ctx.Err() != nil {
			return nil, ctx.Err()
		}
	}
	if m.err != nil {
		return nil, m.err
	}
	if q.Backward {
		for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
			out[i], out[j] = out[j], out[i]
		}
	}
	return out, nil
}

// FilterEvents reads many streams of a group interleaved (FilterLogEvents).
func (s *Store) FilterEvents(ctx context.Context, group string, q FilterQuery) (FilterResult, error) {
	var res FilterResult
	s.cat.mu.RLock()
	g := s.cat.byName[group]
	if g == nil {
		s.cat.mu.RUnlock()
		return res, ErrGroupNotFound
	}
	cut := s.retentionCutoff(g.rec.RetentionDays)
	ids := map[uint64]bool{}
	names := map[uint64]string{}
	cutoff := map[uint64]int64{}
	addStream := func(st *streamState) {
		ids[st.rec.ID] = true
		names[st.rec.ID] = st.name
		cutoff[st.rec.ID] = cut
		res.SearchedStreams = append(res.SearchedStreams, st.name)
	}
	if len(q.Streams) > 0 {
		for _, n := range q.Streams {
			if st := g.streams[n]; st != nil && !ids[st.rec.ID] {
				addStream(st)
			}
		}
	} else {
		for n, st := range g.streams {
			if strings.HasPrefix(n, q.StreamPrefix) {
				addStream(st)
			}
		}
	}
	s.cat.mu.RUnlock()
	sort.Strings(res.SearchedStreams)
	sc := &scan{start: q.Start, end: q.End, from: q.After, filter: q.Filter, cutoff: cutoff}
	sn := s.snapshot(q.Start, q.End)
	defer sn.release()
	m := newMerger(s, sc, s.runsFor(sn, ids, sc))
	m.yieldEvery = 16384
	bytes := 0
	var last Pos
	var seen bool
	expired := func() bool { return !q.Deadline.IsZero() && time.Now().After(q.Deadline) }
	for n := 0; ; n++ {
		if q.Limit > 0 && len(res.Records) >= q.Limit {
			res.More = true
			break
		}
		if n%1024 == 1023 {
			if err := ctx.Err(); err != nil {
				return res, err
			}
			if f := before(m.frontier()); expired() && (q.After == nil || q.After.Less(f)) {
				res.More, last, seen = true, f, true
				break
			}
		}
		ev, id, ok := m.next()
		if !ok {
			if !m.yielded {
				break
			}
			if err := ctx.Err(); err != nil {
				return res, err
			}
			// Out of time with nothing (more) found: say how far the scan
			// got so the next page goes on from there — but only once it got
			// past where this page began, so every page makes progress.
			if f := before(m.frontier()); expired() && (q.After == nil || q.After.Less(f)) {
				res.More, last, seen = true, f, true
				break
			}
			continue
		}
		if q.MaxBytes > 0 && bytes+len(ev.msg)+26 > q.MaxBytes {
			res.More = true
			break
		}
		bytes += len(ev.msg) + 26
		last, seen = Pos{ev.ts, ev.seq}, true
		res.Records = append(res.Records, Record{StreamID: id, Stream: names[id], Timestamp: ev.ts, IngestionTime: ev.ingest, Seq: ev.seq, Message: ev.msg})
	}
	if m.err != nil {
		return res, m.err
	}
	res.Next = last
	if !seen && q.After != nil {
		res.Next = *q.After
	}
	res.ScannedRecords, res.ScannedBytes = sc.scannedRecords, sc.scannedBytes
	return res, nil
}
