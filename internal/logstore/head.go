package logstore

import (
	"sort"
	"sync"
	"unsafe"
)

// head holds recently appended events in memory until they are flushed to
// parts. Messages are copied into large arena chunks so the garbage
// collector sees a few big allocations rather than one per event.
type head struct {
	mu      sync.RWMutex
	streams map[uint64]*headStream
	bytes   int64 // messages plus per-event overhead
	events  int64
	// lastSeg is the newest WAL segment whose records this head holds; set
	// when the head is frozen.
	lastSeg uint64
	// marks is a copy of the deduplication marks as of the end of lastSeg,
	// taken when the head is frozen; saveMarks says to write it to the marks
	// file before the head's WAL segments are deleted.
	marks     map[uint64][]mark
	saveMarks bool

	chunk []byte // current arena chunk
	// commits lists the Appends in commit order for followers, and spans
	// the timestamps they cover (follow.go).
	commits []commit
	spans   []TimeSpan
	// flushed is closed once the head's events are in parts.
	flushed chan struct{}
}

type headStream struct {
	events []headEvent
	sorted bool
}

type headEvent struct {
	ts, ingest int64
	seq        uint64
	msg        string
}

const (
	headEventOverhead = int64(unsafe.Sizeof(headEvent{}))
	arenaChunk        = 1 << 20
)

func newHead() *head { return &head{streams: map[uint64]*headStream{}, flushed: make(chan struct{})} }

// intern copies s into the arena.
func (h *head) intern(s string) string {
	if len(s) == 0 {
		return ""
	}
	if len(s) > arenaChunk/4 {
		b := []byte(s)
		return unsafe.String(&b[0], len(b))
	}
	if len(h.chunk)+len(s) > cap(h.chunk) {
		h.chunk = make([]byte, 0, arenaChunk)
	}
	off := len(h.chunk)
	h.chunk = append(h.chunk, s...)
	return unsafe.String(&h.chunk[off], len(s))
}

// addIndexed inserts one WAL record's events; the caller holds h.mu for
// writing. idx, if not nil, is each event's index in the record as written
// (replay may keep only some events), which makes its seq.
func (h *head) addIndexed(r *walRecord, idx []int) {
	hs := h.streams[r.streamID]
	if hs == nil {
		hs = &headStream{sorted: true}
		h.streams[r.streamID] = hs
	}
	first := len(hs.events)
	for i, e := range r.events {
		j := i
		if idx != nil {
			j = idx[i]
		}
		ev := headEvent{ts: e.Timestamp, ingest: r.ingest, seq: r.lsn<<16 | uint64(j), msg: h.intern(e.Message)}
		if n := len(hs.events); n > 0 && hs.sorted && posLess(ev.ts, ev.seq, hs.events[n-1].ts, hs.events[n-1].seq) {
			hs.sorted = false
		}
		hs.events = append(hs.events, ev)
		h.bytes += int64(len(e.Message)) + headEventOverhead
	}
	h.logCommit(r.streamID, r.lsn, hs.events[first:len(hs.events):len(hs.events)])
	h.events += int64(len(r.events))
}

func posLess(ts1 int64, seq1 uint64, ts2 int64, seq2 uint64) bool {
	return ts1 < ts2 || ts1 == ts2 && seq1 < seq2
}

// sortedEvents returns the stream's events in (ts, seq) order. The returned
// slice must not be modified; appends after the call do not affect it.
func (h *head) sortedEvents(streamID uint64) []headEvent {
	h.mu.RLock()
	hs := h.streams[streamID]
	if hs == nil {
		h.mu.RUnlock()
		return nil
	}
	if hs.sorted {
		ev := hs.events[:len(hs.events):len(hs.events)]
		h.mu.RUnlock()
		return ev
	}
	h.mu.RUnlock()
	h.mu.Lock()
	defer h.mu.Unlock()
	if !hs.sorted {
		// Sort a copy: readers may still be iterating the old array.
		ev := make([]headEvent, len(hs.events), cap(hs.events))
		copy(ev, hs.events)
		sort.SliceStable(ev, func(i, j int) bool {
			a, b := &ev[i], &ev[j]
			return posLess(a.ts, a.seq, b.ts, b.seq)
		})
		hs.events, hs.sorted = ev, true
	}
	return hs.events[:len(hs.events):len(hs.events)]
}

// streamIDs lists the streams present.
func (h *head) streamIDs() []uint64 {
	h.mu.RLock()
	defer h.mu.RUnlock()
	out := make([]uint64, 0, len(h.streams))
	for id := range h.streams {
		out = append(out, id)
	}
	return out
}
