package logstore

import (
	"container/heap"
	"context"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"runtime"
	"slices"
	"sort"
	"sync"
)

// Scan is the read path of Logs Insights: it hands over every event of a
// group's time range in unordered batches, one block or head slice at a
// time, instead of merging runs in time order as FilterEvents must. The
// executor aggregates or keeps a top-k itself, so order would only cost a
// heap per event. It reuses FilterEvents' snapshot and run selection, and
// skips blocks by time and by the caller's bloom pre-test the same way.

// ErrRecordNotFound: Get found no event at the pointer (it expired, its
// stream or group was deleted, or the pointer was never valid).
var ErrRecordNotFound = errors.New("log record does not exist")

// scanBatch bounds a batch taken from a head, whose stream slices can be
// much longer than a block.
const scanBatch = 4096

// ScanQuery selects what Scan reads.
type ScanQuery struct {
	// Start and End bound timestamps: Start <= ts < End. End 0 means no bound.
	Start, End int64
	// Streams, when set, limits the scan to these streams; unknown names
	// are ignored.
	Streams []string
	// MayMatch, when set, is asked before a block is decompressed, with the
	// block's substring oracle (see Filter.MayMatch); false skips the block.
	// Head events have no oracle and are always handed over.
	MayMatch func(mayContain func(substr string) bool) bool
	// PlanBlock, when set, is asked before a block is decompressed (after
	// the time and bloom tests), with the block's constant fields (see
	// Constant; often none): skip drops the block unread, and
	// needMessages false lets the scan decompress only the block's
	// timestamps, sequence numbers and ingestion times, handing over
	// Records with empty Messages (ScanBatch.NoMessages). It is called
	// from Scan's goroutine. Head events have no constants and are always
	// handed over whole.
	PlanBlock func(consts []Constant) (skip, needMessages bool)
	// Newest, when > 0, says only the newest Newest events matter: blocks
	// are read newest first and the scan stops once no unread block can
	// hold an event newer than the Newest-th newest handed over so far.
	Newest int
}

// ScanStats counts what a Scan read.
type ScanStats struct {
	// RecordsScanned counts the events in range handed to fn.
	RecordsScanned int64
	// BytesScanned counts message bytes of the blocks whose messages were
	// decompressed (all of a block's events, in range or not) and of the
	// head events handed over.
	BytesScanned int64
}

// ScanBatch is one batch of ScanBlocks: events of one block, or of one
// stream's slice of a head.
type ScanBatch struct {
	// Records are the batch's events in range. The slice is reused after
	// fn returns; the strings are not.
	Records []Record
	// Constants are fields whose value is the same in every event of the
	// block (nil for head events and blocks without any). When the
	// Records hold stored messages with elided members (ScanBlocks), the
	// members follow the scalar constants, one each: Name the member's
	// key, JSON its object.
	Constants []Constant
	// NoMessages is set when PlanBlock said the messages were not needed:
	// every Record's Message is empty.
	NoMessages bool
}

// Scan calls fn with batches of the group's events in [q.Start, q.End),
// retention applied, in no particular order (newest blocks first when
// q.Newest is set). The batch slice is reused after fn returns: fn may keep
// the Records' strings but not the slice. An error from fn stops the scan
// and is returned. No store lock is held while fn runs, so a slow consumer
// delays nothing but the removal of parts merged away during the scan.
func (s *Store) Scan(ctx context.Context, group string, q ScanQuery, fn func([]Record) error) (ScanStats, error) {
	return s.scanBlocks(ctx, group, q, formFull, func(b *ScanBatch) error { return fn(b.Records) })
}

// scanJob is one run of a scan on its way to fn: a head slice, or a block
// being decompressed by a worker.
type scanJob struct {
	r      *run
	noMsg  bool
	consts []Constant
	done   chan struct{}
	b      *decodedBlock
	err    error
}

// ScanBlocks is Scan with each batch's block constants, and messages as
// the block stores them: a block with elided members (FORMAT.md, package
// elide) hands over its messages with each member's value replaced by
// {}, and lists each member among its Constants (Name the member's key,
// JSON its object), after the scalar constants. elide.Restore with those
// gives a message's original text; every path not under a member reads
// the same in the stored message. Blocks are decompressed by up to
// GOMAXPROCS workers, a few blocks ahead of fn, and handed to fn in the
// same order as one goroutine would (so q.Newest's early stop sees the
// same events); fn is called from the calling goroutine only.
func (s *Store) ScanBlocks(ctx context.Context, group string, q ScanQuery, fn func(*ScanBatch) error) (ScanStats, error) {
	return s.scanBlocks(ctx, group, q, formStored, fn)
}

// scanBlocks is ScanBlocks with the messages in the given form (formFull
// or formStored).
func (s *Store) scanBlocks(ctx context.Context, group string, q ScanQuery, form blockForm, fn func(*ScanBatch) error) (ScanStats, error) {
	var st ScanStats
	s.cat.mu.RLock()
	g := s.cat.byName[group]
	if g == nil {
		s.cat.mu.RUnlock()
		return st, ErrGroupNotFound
	}
	cut := s.retentionCutoff(g.rec.RetentionDays)
	ids := map[uint64]bool{}
	names := map[uint64]string{}
	cutoff := map[uint64]int64{}
	add := func(ss *streamState) {
		ids[ss.rec.ID], names[ss.rec.ID], cutoff[ss.rec.ID] = true, ss.name, cut
	}
	if len(q.Streams) > 0 {
		for _, n := range q.Streams {
			if ss := g.streams[n]; ss != nil {
				add(ss)
			}
		}
	} else {
		for _, ss := range g.streams {
			add(ss)
		}
	}
	s.cat.mu.RUnlock()
	if len(ids) == 0 {
		return st, nil
	}
	sc := &scan{start: q.Start, end: q.End, cutoff: cutoff}
	sn := s.snapshot(q.Start, q.End)
	defer sn.release()
	// Registered after release, so it runs first: no worker may read a
	// part after the snapshot lets it go.
	var wg sync.WaitGroup
	defer wg.Wait()
	// Cancelled on return (before the wait), so blocks decompressed ahead
	// of an early stop or an error are not finished for nobody.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	runs := s.runsFor(sn, ids, sc)
	if q.Newest > 0 {
		sort.Slice(runs, func(i, j int) bool { return runs[i].maxTs > runs[j].maxTs })
	} else {
		// Parts in file order, so the disk reads mostly forward.
		sort.SliceStable(runs, func(i, j int) bool {
			a, b := runs[i].p, runs[j].p
			if a == nil || b == nil {
				return a == nil && b != nil
			}
			if a != b {
				return a.meta.ID < b.meta.ID
			}
			return runs[i].block < runs[j].block
		})
	}
	workers := max(runtime.GOMAXPROCS(0), 1)
	// Blocks decompressed ahead of fn: enough to keep every worker busy
	// while fn consumes one; a newest-first scan, which usually stops
	// after a block or two, reads less ahead so it wastes little.
	ahead := 2 * workers
	if q.Newest > 0 {
		ahead = workers
	}
	sem := make(chan struct{}, workers)
	var top tsHeap // the Newest newest timestamps handed over
	stopNewest := func(r *run) bool {
		// Ties at the boundary still get read: which of equal timestamps
		// is "newest" is the caller's (seq) order, not ours to guess.
		return q.Newest > 0 && top.Len() >= q.Newest && r.maxTs < top[0]
	}
	batch := &ScanBatch{Records: make([]Record, 0, 256)}
	// noteTs keeps top; only Newest scans pay for it.
	noteTs := func(ts int64) {
		if top.Len() < q.Newest {
			heap.Push(&top, ts)
		} else if ts > top[0] {
			top[0] = ts
			heap.Fix(&top, 0)
		}
	}
	flush := func() error {
		if len(batch.Records) == 0 {
			return nil
		}
		st.RecordsScanned += int64(len(batch.Records))
		err := fn(batch)
		batch.Records = batch.Records[:0]
		return err
	}
	// prepare decides, in scan order, whether run r is read and starts
	// decompressing it; nil means skipped.
	prepare := func(r *run) (*scanJob, error) {
		if r.maxTs < q.Start || q.End > 0 && r.minTs >= q.End || r.maxTs < cutoff[r.streamID] {
			s.m.blocksRead.WithLabelValues("skipped_time").Inc()
			return nil, nil
		}
		j := &scanJob{r: r, done: make(chan struct{})}
		if r.head != nil {
			close(j.done)
			return j, nil
		}
		j.consts = r.p.blocks[r.block].consts
		if q.PlanBlock != nil {
			// Before the bloom: it costs no read.
			skip, need := q.PlanBlock(j.consts)
			if skip {
				s.m.blocksRead.WithLabelValues("skipped_constant").Inc()
				return nil, nil
			}
			j.noMsg = !need
		}
		if q.MayMatch != nil {
			bits, err := r.p.readBloom(r.block)
			if err != nil {
				return nil, err
			}
			if !q.MayMatch(func(sub string) bool { return bloomMayContain(bits, sub) }) {
				s.m.blocksRead.WithLabelValues("skipped_bloom").Inc()
				return nil, nil
			}
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer close(j.done)
			sem <- struct{}{}
			defer func() { <-sem }()
			if ctx.Err() != nil {
				j.err = ctx.Err()
				return
			}
			f := form
			if j.noMsg {
				f = formColumns
			}
			j.b, j.err = s.loadBlockAs(r.p, r.block, f)
			if j.err == nil && j.b.msgs == nil {
				j.noMsg = true
			}
		}()
		return j, nil
	}
	var window []*scanJob
	next := 0
	for {
		for len(window) < ahead && next < len(runs) {
			r := &runs[next]
			if stopNewest(r) {
				next = len(runs)
				break
			}
			next++
			j, err := prepare(r)
			if err != nil {
				return st, err
			}
			if j != nil {
				window = append(window, j)
			}
		}
		if len(window) == 0 {
			return st, nil
		}
		j := window[0]
		window = window[1:]
		r := j.r
		if err := ctx.Err(); err != nil {
			return st, err
		}
		if stopNewest(r) {
			return st, nil
		}
		<-j.done
		if j.err != nil {
			return st, j.err
		}
		// Per run, not per event: the bounds, the stream's name and its
		// retention cutoff.
		lo, hi, name := max(q.Start, cutoff[r.streamID]), q.End, names[r.streamID]
		if hi <= 0 {
			hi = math.MaxInt64
		}
		batch.Constants, batch.NoMessages = nil, false
		if r.head != nil {
			for _, e := range r.head {
				if e.ts < lo || e.ts >= hi {
					continue
				}
				st.BytesScanned += int64(len(e.msg))
				batch.Records = append(batch.Records, Record{StreamID: r.streamID, Stream: name, Timestamp: e.ts, IngestionTime: e.ingest, Seq: e.seq, Message: e.msg})
				if q.Newest > 0 {
					noteTs(e.ts)
				}
				if len(batch.Records) >= scanBatch {
					if err := flush(); err != nil {
						return st, err
					}
				}
			}
			if err := flush(); err != nil {
				return st, err
			}
			continue
		}
		s.m.blocksRead.WithLabelValues("read").Inc()
		b := j.b
		batch.Constants, batch.NoMessages = j.consts, j.noMsg
		if !j.noMsg && b.members != nil {
			batch.Constants = b.consts
		}
		if !j.noMsg {
			st.BytesScanned += int64(r.p.blocks[r.block].rawBytes)
		}
		// Messages point into the cached decoded block, which is never
		// written again; the cache only drops its reference.
		for k, ts := range b.ts {
			if ts < lo || ts >= hi {
				continue
			}
			rec := Record{StreamID: r.streamID, Stream: name, Timestamp: ts, IngestionTime: b.ingest[k], Seq: b.seq[k]}
			if !j.noMsg {
				rec.Message = b.msgs[k]
			}
			batch.Records = append(batch.Records, rec)
			if q.Newest > 0 {
				noteTs(ts)
			}
		}
		if err := flush(); err != nil {
			return st, err
		}
	}
}

// tsHeap is a min-heap of timestamps.
type tsHeap []int64

func (h tsHeap) Len() int           { return len(h) }
func (h tsHeap) Less(i, j int) bool { return h[i] < h[j] }
func (h tsHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *tsHeap) Push(x any)        { *h = append(*h, x.(int64)) }
func (h *tsHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// Ptr points at one event, for Logs Insights' @ptr and GetLogRecord. It
// names the stream by ID, not by name, so a pointer into a deleted stream
// does not resolve to a new stream of the same name.
type Ptr struct {
	StreamID  uint64
	Timestamp int64
	Seq       uint64
}

// ptrLen is the binary size of a Ptr: three fixed 8-byte fields, which
// base64 encodes without padding into exactly 32 characters.
const (
	ptrLen     = 24
	ptrTextLen = 32
)

// PtrOf is the pointer to r.
func PtrOf(r Record) Ptr { return Ptr{StreamID: r.StreamID, Timestamp: r.Timestamp, Seq: r.Seq} }

// AppendText appends the pointer's text form (32 URL-safe base64
// characters), so a caller encoding many pointers can share one buffer.
func (p Ptr) AppendText(dst []byte) []byte {
	var raw [ptrLen]byte
	binary.BigEndian.PutUint64(raw[0:], p.StreamID)
	binary.BigEndian.PutUint64(raw[8:], uint64(p.Timestamp))
	binary.BigEndian.PutUint64(raw[16:], p.Seq)
	return base64.RawURLEncoding.AppendEncode(dst, raw[:])
}

// String is the pointer's text form.
func (p Ptr) String() string { return string(p.AppendText(make([]byte, 0, ptrTextLen))) }

// ParsePtr reads a pointer's text form.
func ParsePtr(s string) (Ptr, error) {
	if len(s) != ptrTextLen {
		return Ptr{}, fmt.Errorf("log record pointer: %d characters, want %d", len(s), ptrTextLen)
	}
	// The decoder skips newlines, which would shorten the result.
	raw, err := base64.RawURLEncoding.Strict().DecodeString(s)
	if err != nil || len(raw) != ptrLen {
		return Ptr{}, fmt.Errorf("log record pointer: not base64url of %d bytes", ptrLen)
	}
	p := Ptr{
		StreamID:  binary.BigEndian.Uint64(raw[0:]),
		Timestamp: int64(binary.BigEndian.Uint64(raw[8:])),
		Seq:       binary.BigEndian.Uint64(raw[16:]),
	}
	if p.StreamID == 0 {
		return Ptr{}, errors.New("log record pointer: no stream")
	}
	return p, nil
}

// Get reads the event p points at and names its group. It answers
// ErrRecordNotFound when the event is gone (or never was), retention
// included.
func (s *Store) Get(ctx context.Context, p Ptr) (group string, r Record, err error) {
	s.cat.mu.RLock()
	ss := s.cat.streamID[p.StreamID]
	if ss == nil {
		s.cat.mu.RUnlock()
		return "", r, ErrRecordNotFound
	}
	group, stream := ss.group.name, ss.name
	s.cat.mu.RUnlock()
	if p.Timestamp == math.MaxInt64 {
		return "", r, ErrRecordNotFound
	}
	recs, err := s.Read(ctx, group, stream, ReadQuery{Start: p.Timestamp, End: p.Timestamp + 1})
	if err != nil {
		if errors.Is(err, ErrStreamNotFound) || errors.Is(err, ErrGroupNotFound) {
			return "", r, ErrRecordNotFound
		}
		return "", r, err
	}
	i := slices.IndexFunc(recs, func(x Record) bool { return x.Seq == p.Seq })
	if i < 0 {
		return "", r, ErrRecordNotFound
	}
	return group, recs[i], nil
}
