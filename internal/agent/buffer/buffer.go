package buffer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Errors returned by Buffer methods.
var (
	// ErrClosed is returned by every method after Close.
	ErrClosed = errors.New("buffer: closed")
	// ErrNotInFlight is returned by Ack and Nack for an ID that is not in
	// flight: unknown, already acknowledged, or dropped while in flight (its
	// drop is counted; the caller must not count it as delivered).
	ErrNotInFlight = errors.New("buffer: item not in flight")
)

// Item is one unit of delivery as handed out by Next.
type Item struct {
	// ID identifies the item for Ack and Nack; IDs grow in push order.
	ID uint64
	// Token is the caller's opaque source position given to Push.
	Token []byte
	// Payload is the caller's opaque data given to Push. Token and Payload
	// may be shared with the buffer: read them, never modify them.
	Payload []byte
}

// Why says why a token was released.
type Why uint8

// Release reasons.
const (
	// Acked: the destination acknowledged the item.
	Acked Why = iota + 1
	// Persisted: the item is on stable storage in the disk buffer, which
	// will deliver it even after a restart.
	Persisted
	// Dropped: the item was dropped and counted; re-reading it would not
	// bring it back in order, so the source may move past it.
	Dropped
	// Recovered: the item was found on disk at Open; its source position may
	// not have been committed before the crash.
	Recovered
)

func (w Why) String() string {
	switch w {
	case Acked:
		return "acked"
	case Persisted:
		return "persisted"
	case Dropped:
		return "dropped"
	case Recovered:
		return "recovered"
	}
	return "why(" + strconv.Itoa(int(w)) + ")"
}

// Release tells the checkpointer that an item's source position no longer
// needs to be re-read after a restart.
type Release struct {
	ID    uint64
	Token []byte
	Why   Why
}

// Stats is a snapshot of the buffer's state and counters.
type Stats struct {
	MemoryBytes int64
	DiskBytes   int64
	Items       int // queued, not acknowledged or dropped
	InFlight    int
	Segments    int
	Pushed      int64
	Acked       int64
	Spilled     int64
	Dropped     map[string]int64 // by reason
}

type state uint8

const (
	pending state = iota
	inFlight
	acked
	dropped
)

type entry struct {
	seq     uint64
	token   []byte
	payload []byte // nil once spilled
	size    int64  // payload length
	seg     *segment
	off     int64 // frame offset in seg
	flen    int64 // frame length
	segGen  int   // seg.resets when the frame was written
	st      state
	durable bool
}

func (e *entry) resolved() bool { return e.st == acked || e.st == dropped }

type segment struct {
	id     uint64
	path   string
	f      *os.File
	size   int64
	live   int // unresolved entries framed in this segment
	dirty  bool
	resets int // times truncated back to its header
}

// Buffer is the delivery buffer. Its methods are safe for concurrent use.
type Buffer struct {
	dir string // "" for memory only
	cfg Config
	log *slog.Logger
	m   *metrics

	mu       sync.Mutex
	q        []*entry // unreleased or unresolved entries, in seq order
	relIdx   int      // q[:relIdx] are released
	memStart int      // q[:memStart] hold no payload in memory
	memBytes int64
	segs     []*segment // oldest first; the last is the one written
	diskSize int64
	nextSeg  uint64
	nextSeq  uint64
	inflight int
	released []Release
	unsynced []*entry
	lastSync time.Time
	notify   chan struct{}
	closed   bool
	stats    Stats
	frameBuf []byte
}

// Open opens (creating it if needed) the disk buffer in dir and recovers the
// unacknowledged items a previous process left there; they are released
// with Why Recovered and delivered first. An empty dir gives a memory-only
// buffer that drops its oldest item (reason memory_full) when full. logger
// and reg may be nil.
func Open(dir string, cfg Config, logger *slog.Logger, reg prometheus.Registerer) (*Buffer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.fillDefaults()
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	b := &Buffer{dir: dir, cfg: cfg, log: logger, nextSeq: 1, notify: make(chan struct{}), lastSync: time.Now()}
	b.stats.Dropped = map[string]int64{}
	m, err := newMetrics(reg, b)
	if err != nil {
		return nil, err
	}
	b.m = m
	if dir != "" {
		if err := b.recover(); err != nil {
			b.closeFiles()
			m.unregister()
			return nil, err
		}
	}
	return b, nil
}

// recover rebuilds the queue from the segments in b.dir.
func (b *Buffer) recover() error {
	if err := os.MkdirAll(b.dir, 0o755); err != nil {
		return fmt.Errorf("buffer: create %s: %w", b.dir, err)
	}
	des, err := os.ReadDir(b.dir)
	if err != nil {
		return fmt.Errorf("buffer: list %s: %w", b.dir, err)
	}
	var ids []uint64
	for _, de := range des {
		name, ok := strings.CutSuffix(de.Name(), ".seg")
		if !ok || de.IsDir() {
			continue
		}
		id, err := strconv.ParseUint(name, 10, 64)
		if err != nil {
			continue
		}
		ids = append(ids, id)
	}
	slices.Sort(ids)
	ackedSeqs := map[uint64]bool{}
	var lastSeq uint64
	for _, id := range ids {
		s := &segment{id: id, path: b.segPath(id)}
		f, err := os.OpenFile(s.path, os.O_RDWR, 0)
		if err != nil {
			return fmt.Errorf("buffer: open segment: %w", err)
		}
		s.f = f
		fi, err := f.Stat()
		if err != nil {
			return fmt.Errorf("buffer: stat segment: %w", err)
		}
		valid := replaySegment(f, fi.Size(), func(fr frame) {
			switch fr.kind {
			case frameAck:
				ackedSeqs[fr.seq] = true
			case frameItem:
				if fr.seq <= lastSeq {
					return // out of order: not something this code writes
				}
				lastSeq = fr.seq
				b.q = append(b.q, &entry{seq: fr.seq, token: fr.token, seg: s, off: fr.off, flen: fr.size, durable: true})
			}
		})
		if valid < fi.Size() {
			b.m.truncated.Add(float64(fi.Size() - valid))
			b.log.Warn("buffer: truncating torn segment", "segment", s.path, "size", fi.Size(), "valid", valid)
			if valid < segHeaderLen {
				valid = 0
			}
			if err := f.Truncate(valid); err != nil {
				return fmt.Errorf("buffer: truncate segment: %w", err)
			}
			if valid == 0 {
				if _, err := f.WriteAt([]byte(segMagic), 0); err != nil {
					return fmt.Errorf("buffer: rewrite segment header: %w", err)
				}
				valid = segHeaderLen
			}
			if err := f.Sync(); err != nil {
				return fmt.Errorf("buffer: sync segment: %w", err)
			}
		}
		s.size = valid
		b.diskSize += valid
		b.segs = append(b.segs, s)
		b.nextSeg = id + 1
	}
	live := b.q[:0]
	for _, e := range b.q {
		if ackedSeqs[e.seq] {
			continue
		}
		e.seg.live++
		live = append(live, e)
	}
	clear(b.q[len(live):])
	b.q = live
	b.nextSeq = lastSeq + 1
	b.deleteResolvedSegments()
	for _, e := range b.q {
		b.appendRelease(Release{ID: e.seq, Token: e.token, Why: Recovered})
	}
	b.relIdx = len(b.q)
	b.memStart = len(b.q)
	b.m.recovered.Add(float64(len(b.q)))
	if len(b.q) > 0 {
		b.log.Info("buffer: recovered items from disk", "items", len(b.q), "segments", len(b.segs))
	}
	return nil
}

func (b *Buffer) segPath(id uint64) string {
	return filepath.Join(b.dir, fmt.Sprintf("%020d.seg", id))
}

// Push appends an item. It never waits for the consumer: when memory is full
// the oldest in-memory items are spilled to disk, and when the disk budget
// is spent the oldest segment is dropped and counted. The buffer keeps
// payload (the caller must not modify it afterwards) and copies token. Push
// fails only after Close; drops are reported through Released and metrics.
func (b *Buffer) Push(ctx context.Context, payload, token []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return ErrClosed
	}
	e := &entry{seq: b.nextSeq, token: slices.Clone(token), payload: payload, size: int64(len(payload))}
	if e.token == nil {
		e.token = []byte{}
	}
	b.nextSeq++
	b.stats.Pushed++
	b.m.pushed.Inc()
	b.q = append(b.q, e)
	b.memBytes += e.size
	if b.dir == "" {
		b.evictMemory()
	} else {
		b.spill()
	}
	b.afterWrite()
	return nil
}

// evictMemory drops the oldest unresolved items of a memory-only buffer
// until the budget holds.
func (b *Buffer) evictMemory() {
	for i := 0; i < len(b.q) && b.memBytes > b.cfg.MemoryBytes; i++ {
		e := b.q[i]
		if e.resolved() {
			continue
		}
		reason := ReasonMemoryFull
		if e.size > b.cfg.MemoryBytes {
			reason = ReasonTooLarge
		}
		b.drop(e, reason)
	}
}

// spill writes the oldest in-memory items to disk until the memory budget
// holds. Spilling the oldest (not the newest) keeps the disk part a prefix
// of the queue, so after a crash the disk holds exactly the items before
// the tailer's committed positions and nothing is read twice.
func (b *Buffer) spill() {
	for b.memBytes > b.cfg.MemoryBytes && b.memStart < len(b.q) {
		e := b.q[b.memStart]
		b.memStart++
		if e.resolved() || e.payload == nil {
			continue
		}
		b.writeEntry(e)
	}
}

// writeEntry moves e's payload from memory to the active segment, dropping
// the oldest segments first if the disk budget needs it.
func (b *Buffer) writeEntry(e *entry) {
	b.frameBuf = appendItemFrame(b.frameBuf[:0], e.seq, e.token, e.payload)
	need := int64(len(b.frameBuf))
	if need-frameHdrLen > maxBodyLen || need+segHeaderLen > b.cfg.DiskBytes {
		b.drop(e, ReasonTooLarge)
		return
	}
	b.makeRoom(need)
	s, err := b.activeFor(need)
	if err == nil {
		_, err = s.f.WriteAt(b.frameBuf, s.size)
		if err != nil {
			_ = s.f.Truncate(s.size) // leave no partial frame behind
		}
	}
	if err != nil {
		b.log.Error("buffer: spill failed, dropping item", "err", err)
		b.drop(e, ReasonDiskError)
		return
	}
	e.seg, e.off, e.flen, e.segGen = s, s.size, need, s.resets
	s.size += need
	s.live++
	s.dirty = true
	b.diskSize += need
	b.memBytes -= e.size
	e.payload = nil
	b.unsynced = append(b.unsynced, e)
	b.stats.Spilled++
	b.m.spilled.Inc()
	b.m.spillBytes.Add(float64(need))
}

// makeRoom drops whole segments, oldest first, until need more bytes (plus a
// segment header, should activeFor have to start a segment) fit in
// DiskBytes. The caller has checked that need plus a header fits at all.
func (b *Buffer) makeRoom(need int64) {
	for len(b.segs) > 0 {
		last := b.segs[len(b.segs)-1]
		extra := int64(0)
		if last.size > segHeaderLen && last.size+need > b.cfg.SegmentBytes {
			extra = segHeaderLen
		}
		if b.diskSize+need+extra <= b.cfg.DiskBytes {
			return
		}
		if len(b.segs) == 1 && last.live == 0 && last.size == segHeaderLen {
			return // nothing left to drop
		}
		b.dropSegment(b.segs[0], ReasonDiskFull)
	}
}

// activeFor returns the segment to append need bytes to, starting a new one
// when there is none or the active one would pass SegmentBytes.
func (b *Buffer) activeFor(need int64) (*segment, error) {
	if n := len(b.segs); n > 0 {
		s := b.segs[n-1]
		if s.size == segHeaderLen || s.size+need <= b.cfg.SegmentBytes {
			return s, nil
		}
		if s.dirty {
			b.syncSegment(s)
		}
	}
	s := &segment{id: b.nextSeg, path: b.segPath(b.nextSeg), size: segHeaderLen}
	f, err := os.OpenFile(s.path, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, fmt.Errorf("create segment: %w", err)
	}
	if _, err := f.WriteAt([]byte(segMagic), 0); err != nil {
		_ = f.Close()
		_ = os.Remove(s.path)
		return nil, fmt.Errorf("write segment header: %w", err)
	}
	syncDir(b.dir)
	s.f = f
	s.dirty = true
	b.nextSeg++
	b.segs = append(b.segs, s)
	b.diskSize += segHeaderLen
	return s, nil
}

// dropSegment drops every unresolved item of s (the oldest segment) and
// deletes it.
func (b *Buffer) dropSegment(s *segment, reason string) {
	for _, e := range b.q {
		if s.live == 0 {
			break
		}
		if e.seg == s && !e.resolved() {
			b.drop(e, reason)
		}
	}
	// A live count that found no entries would be a bug; never let it keep
	// makeRoom looping.
	s.live = 0
	b.deleteResolvedSegments()
}

// drop resolves e as dropped and counts it.
func (b *Buffer) drop(e *entry, reason string) {
	wasInFlight := e.st == inFlight
	if wasInFlight {
		b.inflight--
	}
	e.st = dropped
	b.resolve(e)
	b.stats.Dropped[reason]++
	b.m.dropped.WithLabelValues(reason).Inc()
	if b.cfg.OnDrop != nil {
		b.cfg.OnDrop(e.seq, e.token, reason, wasInFlight)
	}
}

// resolve releases what e holds once it is acknowledged or dropped.
func (b *Buffer) resolve(e *entry) {
	if e.payload != nil {
		b.memBytes -= e.size
		e.payload = nil
	}
	if e.seg != nil {
		e.seg.live--
	}
}

// deleteResolvedSegments deletes the oldest segments while they hold no
// unresolved item. Only a prefix is deleted: an ack frame always lies in the
// same or a later segment than its item, so deleting in order never
// resurrects an acknowledged item at the next Open. The last segment is
// truncated to its header instead, so a consumer that keeps up does not pay
// a create, a directory fsync and a remove per spilled item.
func (b *Buffer) deleteResolvedSegments() {
	for len(b.segs) > 0 && b.segs[0].live == 0 {
		s := b.segs[0]
		if len(b.segs) == 1 && s.f != nil && !b.closed {
			if s.size == segHeaderLen {
				return
			}
			if err := s.f.Truncate(segHeaderLen); err == nil {
				b.diskSize -= s.size - segHeaderLen
				s.size = segHeaderLen
				s.dirty = true
				s.resets++
				if b.cfg.Sync == SyncAlways {
					b.syncSegment(s)
				}
				return
			}
			// Could not truncate: remove it as any other.
		}
		if s.f != nil {
			_ = s.f.Close()
		}
		if err := os.Remove(s.path); err != nil && !errors.Is(err, os.ErrNotExist) {
			b.log.Warn("buffer: remove segment", "segment", s.path, "err", err)
		}
		b.diskSize -= s.size
		b.segs[0] = nil
		b.segs = b.segs[1:]
	}
}

// afterWrite syncs per policy, advances releases and wakes waiters.
func (b *Buffer) afterWrite() {
	if b.cfg.Sync == SyncAlways || time.Since(b.lastSync) >= b.cfg.SyncInterval {
		b.syncLocked()
	}
	b.advance()
	close(b.notify)
	b.notify = make(chan struct{})
}

// Sync fsyncs pending writes now, so spilled items are released as
// Persisted without waiting for the next interval. Under SyncInterval the
// buffer starts no timer of its own: a caller that may go quiet calls Sync
// every SyncInterval so checkpoints keep moving.
func (b *Buffer) Sync() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return ErrClosed
	}
	b.syncLocked()
	b.advance()
	return nil
}

func (b *Buffer) syncLocked() {
	b.lastSync = time.Now()
	ok := true
	for _, s := range b.segs {
		if s.dirty && !b.syncSegment(s) {
			ok = false
		}
	}
	if !ok {
		return // the items stay unreleased until a sync succeeds
	}
	for _, e := range b.unsynced {
		if e.seg != nil && !e.resolved() {
			e.durable = true
		}
	}
	clear(b.unsynced)
	b.unsynced = b.unsynced[:0]
}

func (b *Buffer) syncSegment(s *segment) bool {
	if err := s.f.Sync(); err != nil {
		b.m.syncErrors.Inc()
		b.log.Error("buffer: fsync segment", "segment", s.path, "err", err)
		return false
	}
	s.dirty = false
	return true
}

// advance releases the longest prefix of items that no longer depend on the
// source, and forgets resolved items at the head.
func (b *Buffer) advance() {
	for b.relIdx < len(b.q) {
		e := b.q[b.relIdx]
		var why Why
		switch {
		case e.st == acked:
			why = Acked
		case e.st == dropped:
			why = Dropped
		case e.durable:
			why = Persisted
		default:
			goto pop
		}
		b.appendRelease(Release{ID: e.seq, Token: e.token, Why: why})
		b.relIdx++
	}
pop:
	n := 0
	for n < b.relIdx && b.q[n].resolved() {
		n++
	}
	if n == 0 {
		return
	}
	clear(b.q[:n])
	b.q = b.q[n:]
	b.relIdx -= n
	b.memStart = max(0, b.memStart-n)
}

// maxPendingReleases bounds the releases kept for a caller that does not
// call Released.
const maxPendingReleases = 1 << 16

// appendRelease queues r. Past maxPendingReleases the oldest half is
// discarded and counted: releases are a prefix in push order, so a later
// token still covers everything before it from the same source; a source
// whose last token is discarded only keeps an older checkpoint (reads some
// lines twice after a crash), it never loses any.
func (b *Buffer) appendRelease(r Release) {
	if len(b.released) >= maxPendingReleases {
		n := len(b.released) / 2
		b.m.releasesDiscarded.Add(float64(n))
		b.log.Warn("buffer: releases not collected, discarding the oldest", "discarded", n)
		b.released = append(b.released[:0], b.released[n:]...)
	}
	b.released = append(b.released, r)
}

// Released appends to dst, in push order, the releases since the last call
// and returns it. Every pushed item is released exactly once, when it is
// acknowledged, persisted to disk, or dropped, and only after every item
// pushed before it: applying the tokens in order never commits a position
// whose data could still be lost. Recovered tokens may be behind positions
// the caller already committed; apply a token only when it is ahead.
func (b *Buffer) Released(dst []Release) []Release {
	b.mu.Lock()
	defer b.mu.Unlock()
	dst = append(dst, b.released...)
	clear(b.released)
	b.released = b.released[:0]
	return dst
}

// Next returns the oldest item that is neither in flight nor resolved,
// marking it in flight, and waits while there is none or MaxInFlight items
// are out. The item stays queued until Ack; Nack hands it out again.
func (b *Buffer) Next(ctx context.Context) (Item, error) {
	for {
		b.mu.Lock()
		if b.closed {
			b.mu.Unlock()
			return Item{}, ErrClosed
		}
		if b.inflight < b.cfg.MaxInFlight {
			if it, ok := b.nextLocked(); ok {
				b.mu.Unlock()
				return it, nil
			}
		}
		ch := b.notify
		b.mu.Unlock()
		select {
		case <-ctx.Done():
			return Item{}, ctx.Err()
		case <-ch:
		}
	}
}

func (b *Buffer) nextLocked() (Item, bool) {
	dropsBefore := false
	defer func() {
		if dropsBefore {
			b.deleteResolvedSegments()
			b.advance()
		}
	}()
	for _, e := range b.q {
		if e.st != pending {
			continue
		}
		payload := e.payload
		if payload == nil {
			p, err := b.readEntry(e)
			if err != nil {
				reason := ReasonDiskError
				if errors.Is(err, errCorrupt) {
					reason = ReasonCorrupt
				}
				b.log.Error("buffer: read spilled item, dropping it", "id", e.seq, "err", err)
				b.drop(e, reason)
				dropsBefore = true
				continue
			}
			payload = p
		}
		e.st = inFlight
		b.inflight++
		return Item{ID: e.seq, Token: e.token, Payload: payload}, true
	}
	return Item{}, false
}

func (b *Buffer) readEntry(e *entry) ([]byte, error) {
	buf := make([]byte, e.flen)
	if _, err := e.seg.f.ReadAt(buf, e.off); err != nil {
		return nil, fmt.Errorf("read %s at %d: %w", e.seg.path, e.off, err)
	}
	f, err := decodeFrame(buf)
	if err != nil {
		return nil, err
	}
	if f.kind != frameItem || f.seq != e.seq {
		return nil, fmt.Errorf("%w: expected item %d", errCorrupt, e.seq)
	}
	return f.payload, nil
}

// find returns the queued entry with seq id.
func (b *Buffer) find(id uint64) *entry {
	i := sort.Search(len(b.q), func(i int) bool { return b.q[i].seq >= id })
	if i < len(b.q) && b.q[i].seq == id {
		return b.q[i]
	}
	return nil
}

// Ack removes an in-flight item: the destination has it. Acks may come in
// any order; releases still follow push order.
func (b *Buffer) Ack(id uint64) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return ErrClosed
	}
	e := b.find(id)
	if e == nil || e.st != inFlight {
		return fmt.Errorf("ack %d: %w", id, ErrNotInFlight)
	}
	e.st = acked
	b.inflight--
	b.stats.Acked++
	b.m.acked.Inc()
	seg := e.seg
	b.resolve(e)
	b.deleteResolvedSegments()
	if seg != nil && seg.resets == e.segGen && slices.Contains(b.segs, seg) {
		// The item's segment lives on: record the ack so a restart does not
		// deliver it again.
		b.frameBuf = appendAckFrame(b.frameBuf[:0], e.seq)
		s := b.segs[len(b.segs)-1]
		if _, err := s.f.WriteAt(b.frameBuf, s.size); err != nil {
			_ = s.f.Truncate(s.size)
			b.log.Error("buffer: write ack frame; the item may be delivered again after a restart", "id", id, "err", err)
		} else {
			s.size += int64(len(b.frameBuf))
			b.diskSize += int64(len(b.frameBuf))
			s.dirty = true
		}
	}
	b.afterWrite()
	return nil
}

// Nack hands an in-flight item back; the next Next returns it again (before
// any later item).
func (b *Buffer) Nack(id uint64) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return ErrClosed
	}
	e := b.find(id)
	if e == nil || e.st != inFlight {
		return fmt.Errorf("nack %d: %w", id, ErrNotInFlight)
	}
	e.st = pending
	b.inflight--
	b.m.nacked.Inc()
	close(b.notify)
	b.notify = make(chan struct{})
	return nil
}

// Stats returns a snapshot of the buffer's state and counters.
func (b *Buffer) Stats() Stats {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := b.stats
	s.Dropped = maps.Clone(b.stats.Dropped)
	s.MemoryBytes = b.memBytes
	s.DiskBytes = b.diskSize
	s.InFlight = b.inflight
	s.Segments = len(b.segs)
	for _, e := range b.q {
		if !e.resolved() {
			s.Items++
		}
	}
	return s
}

// Close syncs and closes the segment files and wakes any Next. Items held
// only in memory are forgotten: they were never released, so the source
// still has them and reads them again after a restart.
func (b *Buffer) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	var errs []error
	for _, s := range b.segs {
		if s.dirty {
			if err := s.f.Sync(); err != nil {
				errs = append(errs, err)
			}
		}
	}
	b.closeFiles()
	close(b.notify)
	b.mu.Unlock()
	// Outside the lock: the gauges take it while a scrape runs.
	b.m.unregister()
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("buffer: close: %w", err)
	}
	return nil
}

func (b *Buffer) closeFiles() {
	for _, s := range b.segs {
		if s.f != nil {
			_ = s.f.Close()
		}
	}
}

// syncDir makes a new segment's directory entry durable; errors only delay
// durability of the name, which the next Open tolerates.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
}
