package logstore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/kinsight/kinsight/internal/config"
)

// Options configure a Store. Zero fields of the embedded LogStore take the
// defaults of config.DefaultServer.
type Options struct {
	config.LogStore
	Logger     *slog.Logger
	Registerer prometheus.Registerer
	// Now is the clock; tests move it.
	Now func() time.Time
}

const (
	dayMillis = 24 * 60 * 60 * 1000
	// CloudWatch's accepted window for event timestamps.
	maxEventAge    = 14 * dayMillis
	maxEventFuture = 2 * 60 * 60 * 1000
	// committerBatchBytes caps one group commit.
	committerBatchBytes = 8 << 20
)

// Store is the log store: catalog (groups, streams, retention, tags) and
// events (WAL, head, parts). All methods are safe for concurrent use.
//
// Writes go through one committer goroutine that encodes every waiting
// Append into one buffer, writes and fsyncs it (group commit), inserts the
// events into the in-memory head and only then answers the callers. A full
// head is frozen and written to parts by the flusher goroutine; a merger
// keeps the number of parts per daily partition bounded, and a retention
// loop deletes expired partitions.
type Store struct {
	dir   string
	opts  Options
	log   *slog.Logger
	now   func() time.Time
	cat   *catalog
	codec *codec
	cache *blockCache
	m     *metrics

	reqs chan *appendReq

	// state is what readers snapshot.
	stateMu    sync.RWMutex
	active     *head
	frozen     *head
	partitions map[int32][]*part
	changed    chan struct{}
	closed     bool
	follow     followState // flushed heads, for followers (follow.go)

	// Owned by the committer goroutine.
	wal     walWriter
	nextLSN uint64
	// marksUsed is set once any deduplication mark exists (loaded or
	// advanced); only then do flushes write the marks file.
	marksUsed bool

	partMu sync.Mutex // serialises part ID allocation
	// mergeMu serialises merges and retention, which both remove parts.
	mergeMu    sync.Mutex
	nextPartID uint64

	flushCh   chan *head
	flushNow  chan chan *head
	mergeKick chan struct{}

	quit chan struct{}
	wg   sync.WaitGroup
}

type appendReq struct {
	st     *streamState
	events []InputEvent
	// positions, when not nil, is aligned with events and asks for
	// deduplication; the committer sets dups before answering on done.
	positions []Position
	dups      int
	dupBytes  int
	ingest    int64
	done      chan error
}

// Open opens or creates the store in dir, replaying the WAL.
func Open(dir string, opts Options) (*Store, error) {
	fillDefaults(&opts)
	s := &Store{
		dir: dir, opts: opts, log: opts.Logger, now: opts.Now,
		partitions: map[int32][]*part{},
		changed:    make(chan struct{}),
		reqs:       make(chan *appendReq, 64),
		flushCh:    make(chan *head, 1),
		flushNow:   make(chan chan *head),
		mergeKick:  make(chan struct{}, 1),
		quit:       make(chan struct{}),
		active:     newHead(),
	}
	for _, d := range []string{dir, s.walDir(), s.partsDir()} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, err
		}
	}
	var err error
	if s.cat, err = openCatalog(filepath.Join(dir, "catalog.db")); err != nil {
		return nil, err
	}
	if s.codec, err = newCodec(opts.CompressionLevel); err != nil {
		s.cat.close()
		return nil, err
	}
	s.cache = newBlockCache(int64(opts.BlockCacheBytes))
	s.m = newMetrics(opts.Registerer, s)
	if err := s.loadParts(); err != nil {
		s.closeResources()
		return nil, err
	}
	marksThrough, err := s.loadMarks()
	if err != nil {
		s.closeResources()
		return nil, err
	}
	if err := s.replayWAL(marksThrough); err != nil {
		s.closeResources()
		return nil, err
	}
	replayed := s.active.events > 0
	s.wg.Add(4)
	go s.runCommitter()
	go s.runFlusher()
	go s.runMerger()
	go s.runRetention()
	if replayed {
		// Move what the WAL gave back into parts now, so a server that
		// restarts often does not let its WAL (and start-up replay) grow.
		go func() {
			if err := s.Flush(); err != nil && !errors.Is(err, ErrClosed) {
				s.log.Warn("flushing the replayed WAL", "err", err)
			}
		}()
	}
	return s, nil
}

func fillDefaults(o *Options) {
	d := config.DefaultServer().Logs
	if o.HeadMaxBytes == 0 {
		o.HeadMaxBytes = d.HeadMaxBytes
	}
	if o.FlushInterval == 0 {
		o.FlushInterval = d.FlushInterval
	}
	if o.BlockMaxBytes == 0 {
		o.BlockMaxBytes = d.BlockMaxBytes
	}
	if o.MaxPartsPerPartition == 0 {
		o.MaxPartsPerPartition = d.MaxPartsPerPartition
	}
	if o.CompressionLevel == 0 {
		o.CompressionLevel = d.CompressionLevel
	}
	if o.WALSegmentBytes == 0 {
		o.WALSegmentBytes = d.WALSegmentBytes
	}
	if o.RetentionCheckInterval == 0 {
		o.RetentionCheckInterval = d.RetentionCheckInterval
	}
	if o.BlockCacheBytes == 0 {
		o.BlockCacheBytes = d.BlockCacheBytes
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Registerer == nil {
		o.Registerer = prometheus.NewRegistry()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
}

func (s *Store) walDir() string   { return filepath.Join(s.dir, "wal") }
func (s *Store) partsDir() string { return filepath.Join(s.dir, "parts") }

func dayOf(ts int64) int32 {
	d := ts / dayMillis
	if ts < 0 && ts%dayMillis != 0 {
		d--
	}
	return int32(d)
}

func dayDirName(day int32) string {
	return time.UnixMilli(int64(day) * dayMillis).UTC().Format("20060102")
}

func parseDayDir(name string) (int32, bool) {
	t, err := time.Parse("20060102", name)
	if err != nil {
		return 0, false
	}
	return dayOf(t.UnixMilli()), true
}

// loadParts opens every part, finishes interrupted merges and rebuilds the
// streams' statistics from the block indexes.
func (s *Store) loadParts() error {
	days, err := os.ReadDir(s.partsDir())
	if err != nil {
		return err
	}
	all := map[uint64]*part{}
	for _, de := range days {
		day, ok := parseDayDir(de.Name())
		if !ok || !de.IsDir() {
			continue
		}
		dir := filepath.Join(s.partsDir(), de.Name())
		ents, err := os.ReadDir(dir)
		if err != nil {
			return err
		}
		for _, e := range ents {
			path := filepath.Join(dir, e.Name())
			if strings.HasSuffix(e.Name(), ".tmp") {
				os.Remove(path) // an unfinished flush or merge
				continue
			}
			id, ok := parsePartFileName(e.Name())
			if !ok {
				continue
			}
			p, err := openPart(path)
			if err != nil {
				// Keep the evidence, serve the rest.
				s.log.Error("corrupt part set aside", "path", path, "err", err)
				os.Rename(path, path+".corrupt")
				continue
			}
			p.meta.Day = day
			all[id] = p
			s.nextPartID = max(s.nextPartID, id+1)
		}
	}
	for _, p := range all {
		for _, src := range p.meta.Sources {
			if q := all[src]; q != nil {
				q.drop(true)
				delete(all, src)
			}
		}
	}
	s.cat.mu.Lock()
	defer s.cat.mu.Unlock()
	for _, p := range all {
		s.partitions[p.meta.Day] = append(s.partitions[p.meta.Day], p)
		for _, b := range p.blocks {
			s.nextLSN = max(s.nextLSN, b.maxSeq>>16+1)
			if st := s.cat.streamID[b.streamID]; st != nil {
				st.stats.add(b.minTs, b.maxTs, b.maxIngest, int64(b.rawBytes))
			}
		}
	}
	for _, ps := range s.partitions {
		sort.Slice(ps, func(i, j int) bool { return ps[i].meta.ID < ps[j].meta.ID })
	}
	return nil
}

// flushedSegment is the newest WAL segment already contained in day's parts.
func (s *Store) flushedSegment(day int32) uint64 {
	var seg uint64
	for _, p := range s.partitions[day] {
		seg = max(seg, p.meta.WALSegment)
	}
	return seg
}

// replayWAL loads the WAL segments into the head, skipping events whose day
// was already flushed past that segment, advances the deduplication marks
// of records newer than the marks file (marksThrough), and opens a new
// segment.
func (s *Store) replayWAL(marksThrough uint64) error {
	segs, err := listSegments(s.walDir())
	if err != nil {
		return err
	}
	// Segment numbers never go back below what the marks file covers, even
	// if every segment file is gone.
	last := marksThrough
	flushed := map[int32]uint64{}
	for _, seg := range segs {
		last = max(last, seg)
		skipped, err := replaySegment(filepath.Join(s.walDir(), segmentName(seg)), s.codec.dec, func(r walRecord) error {
			s.nextLSN = max(s.nextLSN, r.lsn+1)
			s.cat.mu.Lock()
			st := s.cat.streamID[r.streamID]
			s.cat.mu.Unlock()
			if st == nil {
				return nil // stream deleted since
			}
			if len(r.marks) > 0 && seg > marksThrough {
				s.advanceMarks(st, r.marks, r.lsn)
			}
			keep := r.events[:0]
			idx := make([]int, 0, len(r.events))
			for i, e := range r.events {
				day := dayOf(e.Timestamp)
				f, ok := flushed[day]
				if !ok {
					f = s.flushedSegment(day)
					flushed[day] = f
				}
				if seg > f {
					keep = append(keep, e)
					idx = append(idx, i)
				}
			}
			r.events = keep
			s.insert(s.active, st, &r, idx)
			return nil
		})
		if err != nil {
			return fmt.Errorf("replay %s: %w", segmentName(seg), err)
		}
		if skipped > 0 {
			s.log.Warn("WAL segment ends with an incomplete record (not acknowledged); ignored", "segment", seg, "bytes", skipped)
		}
	}
	s.active.lastSeg = last
	s.wal = walWriter{dir: s.walDir(), segBytes: int64(s.opts.WALSegmentBytes), seg: last}
	if s.nextLSN == 0 {
		s.nextLSN = 1
	}
	if s.active.events > 0 {
		s.log.Info("replayed WAL", "segments", len(segs), "events", s.active.events)
	}
	return s.wal.open(last + 1)
}

// insert adds a committed record to h and updates the stream's statistics.
// idx, when not nil, gives each event's index in the original record (its
// seq), for replays that skip some events.
func (s *Store) insert(h *head, st *streamState, r *walRecord, idx []int) {
	if len(r.events) == 0 {
		return
	}
	h.mu.Lock()
	h.addIndexed(r, idx)
	h.mu.Unlock()
	minTs, maxTs := r.events[0].Timestamp, r.events[0].Timestamp
	var bytes int64
	for _, e := range r.events {
		minTs, maxTs = min(minTs, e.Timestamp), max(maxTs, e.Timestamp)
		bytes += int64(len(e.Message))
	}
	s.cat.mu.Lock()
	st.stats.add(minTs, maxTs, r.ingest, bytes)
	s.cat.mu.Unlock()
}

// Close is Shutdown with closeFlushTimeout to flush the head.
func (s *Store) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), closeFlushTimeout)
	defer cancel()
	return s.Shutdown(ctx)
}

// closeFlushTimeout bounds the flush of Close.
const closeFlushTimeout = 10 * time.Second

// Shutdown flushes the head to parts until ctx ends, then stops the
// background work and closes everything. A head that could not be flushed in
// time (a full disk, a short deadline) is not lost: it is in the WAL and the
// next Open replays it. Appends after Shutdown fail with ErrClosed.
func (s *Store) Shutdown(ctx context.Context) error {
	s.stateMu.Lock()
	if s.closed {
		s.stateMu.Unlock()
		return ErrClosed
	}
	s.closed = true
	s.stateMu.Unlock()
	if err := s.flush(ctx); err != nil {
		s.log.Warn("head not flushed before shutdown; it stays in the WAL and is replayed at the next start", "err", err)
	}
	close(s.quit)
	s.wg.Wait()
	return s.closeResources()
}

func (s *Store) closeResources() error {
	var errs []error
	errs = append(errs, s.wal.close())
	s.stateMu.Lock()
	for _, ps := range s.partitions {
		for _, p := range ps {
			p.drop(false)
		}
	}
	s.partitions = map[int32][]*part{}
	s.stateMu.Unlock()
	if s.codec != nil {
		s.codec.close()
	}
	if s.m != nil {
		s.m.unregister()
	}
	errs = append(errs, s.cat.close())
	return errors.Join(errs...)
}

// Flush writes the head to parts now and waits until it is done.
func (s *Store) Flush() error { return s.flush(context.Background()) }

func (s *Store) flush(ctx context.Context) error {
	reply := make(chan *head, 1)
	select {
	case s.flushNow <- reply:
	case <-s.quit:
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	var h *head
	select {
	case h = <-reply:
	case <-ctx.Done():
		return ctx.Err()
	}
	if h == nil {
		return nil
	}
	select {
	case <-h.flushed:
		return nil
	case <-s.quit:
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Append stores events in one stream durably: it returns only after they are
// fsync'd to the WAL. Events must be in timestamp order (the API checks).
// Events outside the accepted time window are rejected and reported, the
// rest stored.
func (s *Store) Append(ctx context.Context, group, stream string, events []InputEvent) (AppendResult, error) {
	return s.AppendPositioned(ctx, group, stream, events, nil)
}

// AppendPositioned is Append with deduplication: positions, when not nil,
// has one entry per event, and an event whose end is at or below the
// stream's mark for its (source, channel) is skipped and counted in
// Duplicates instead of stored. Events the time window rejects do not move
// marks. Check and advance happen in the committer, so concurrent appends
// of the same events store them once.
func (s *Store) AppendPositioned(ctx context.Context, group, stream string, events []InputEvent, positions []Position) (AppendResult, error) {
	res := AppendResult{TooOldEnd: -1, ExpiredEnd: -1, TooNewStart: -1}
	if positions != nil && len(positions) != len(events) {
		return res, fmt.Errorf("logstore: %d positions for %d events", len(positions), len(events))
	}
	s.stateMu.RLock()
	closed := s.closed
	s.stateMu.RUnlock()
	if closed {
		return res, ErrClosed
	}
	st, err := s.cat.lookupStream(group, stream)
	if err != nil {
		return res, err
	}
	now := s.now().UnixMilli()
	s.cat.mu.RLock()
	retention := st.group.rec.RetentionDays
	s.cat.mu.RUnlock()
	lo, hi := 0, len(events)
	for hi > lo && events[hi-1].Timestamp > now+maxEventFuture {
		hi--
	}
	if hi < len(events) {
		res.TooNewStart = hi
	}
	for lo < hi && events[lo].Timestamp < now-maxEventAge {
		lo++
	}
	if lo > 0 {
		res.TooOldEnd = lo
	}
	if retention > 0 {
		cut := now - int64(retention)*dayMillis
		e := lo
		for e < hi && events[e].Timestamp < cut {
			e++
		}
		if e > lo {
			res.ExpiredEnd = e
			lo = e
		}
	}
	if lo >= hi {
		return res, nil
	}
	req := &appendReq{st: st, events: events[lo:hi], ingest: now, done: make(chan error, 1)}
	if positions != nil {
		req.positions = positions[lo:hi]
	}
	select {
	case s.reqs <- req:
	case <-ctx.Done():
		return res, ctx.Err()
	case <-s.quit:
		return res, ErrClosed
	}
	// Once queued the write will be decided; wait for it even if ctx ends,
	// so the caller never reports failure for a write that succeeded.
	if err := <-req.done; err != nil {
		return res, err
	}
	res.Duplicates, res.DuplicateBytes = req.dups, req.dupBytes
	res.Accepted = hi - lo - req.dups
	return res, nil
}

// backlogWait is how long a write waits for a full head to be flushed
// before it is refused as unavailable.
const backlogWait = 5 * time.Second

// runCommitter is the only writer of the WAL and the active head.
func (s *Store) runCommitter() {
	defer s.wg.Done()
	var buf, scratch []byte
	batch := make([]*appendReq, 0, 256)
	var lastFreeCheck time.Time
	var diskFull bool
	tick := time.NewTicker(time.Duration(s.opts.FlushInterval))
	defer tick.Stop()
	for {
		batch = batch[:0]
		select {
		case r := <-s.reqs:
			batch = append(batch, r)
		case reply := <-s.flushNow:
			reply <- s.freeze(30 * time.Second)
			continue
		case <-tick.C:
			s.freeze(0)
			continue
		case <-s.quit:
			s.drainRequests(ErrClosed)
			return
		}
		size := approxSize(batch[0].events)
	more:
		for size < committerBatchBytes && len(batch) < cap(batch) {
			select {
			case r := <-s.reqs:
				batch = append(batch, r)
				size += approxSize(r.events)
			default:
				break more
			}
		}
		if now := time.Now(); now.Sub(lastFreeCheck) > 100*time.Millisecond || diskFull {
			lastFreeCheck = now
			diskFull = s.freeBytes() < int64(s.opts.MinFreeDiskBytes)
		}
		if diskFull {
			s.m.writeErrors.WithLabelValues("disk_full").Inc()
			s.answer(batch, fmt.Errorf("%w: less than %d bytes free on the data volume", ErrUnavailable, s.opts.MinFreeDiskBytes))
			continue
		}
		if s.active.bytes >= int64(s.opts.HeadMaxBytes) && s.freeze(backlogWait) == nil {
			s.m.writeErrors.WithLabelValues("backlog").Inc()
			s.answer(batch, fmt.Errorf("%w: flushing is behind ingestion", ErrUnavailable))
			continue
		}
		buf = buf[:0]
		recs := make([]walRecord, len(batch))
		// pending holds the marks advanced by this batch, per stream, until
		// its fsync makes them real.
		var pending map[*streamState]*[]walMark
		for i, r := range batch {
			recs[i] = walRecord{streamID: r.st.rec.ID, ingest: r.ingest, events: r.events}
			if r.positions != nil {
				if pending == nil {
					pending = map[*streamState]*[]walMark{}
				}
				p := pending[r.st]
				if p == nil {
					p = new([]walMark)
					pending[r.st] = p
				}
				recs[i].events, recs[i].marks, r.dups, r.dupBytes = dedup(r.st.marks, p, r.events, r.positions)
			}
			if len(recs[i].events) == 0 {
				continue // all duplicates: nothing to write
			}
			recs[i].lsn = s.nextLSN
			s.nextLSN++
			buf = appendWALRecord(buf, &recs[i], s.codec.walEnc, &scratch)
		}
		if len(buf) == 0 {
			s.answer(batch, nil)
			continue
		}
		start := time.Now()
		if err := s.wal.write(buf); err != nil {
			s.m.writeErrors.WithLabelValues("wal").Inc()
			s.log.Error("WAL write failed; batch refused", "err", err, "requests", len(batch))
			s.answer(batch, fmt.Errorf("%w: %v", ErrUnavailable, err))
			continue
		}
		s.m.walFsync.Observe(time.Since(start).Seconds())
		s.m.walBytes.Add(float64(len(buf)))
		for i, r := range batch {
			if len(recs[i].marks) > 0 {
				s.advanceMarks(r.st, recs[i].marks, recs[i].lsn)
			}
			s.insert(s.active, r.st, &recs[i], nil)
		}
		s.notifyChanged()
		s.answer(batch, nil)
		if s.wal.size >= s.wal.segBytes {
			if _, err := s.wal.rotate(); err != nil {
				s.log.Error("WAL rotation failed", "err", err)
			}
		}
		if s.active.bytes >= int64(s.opts.HeadMaxBytes) {
			s.freeze(0)
		}
	}
}

// advanceMarks applies a record's advances to its stream; the committer
// calls it after the record's fsync, the replay for records newer than the
// marks file.
func (s *Store) advanceMarks(st *streamState, marks []walMark, lsn uint64) {
	if st.marks == nil {
		st.marks = &streamMarks{}
	}
	for _, m := range marks {
		st.marks.advance(m.markKey, m.end, lsn)
	}
	s.marksUsed = true
}

func approxSize(evs []InputEvent) int {
	n := 0
	for _, e := range evs {
		n += len(e.Message) + 26
	}
	return n
}

func (s *Store) answer(batch []*appendReq, err error) {
	for _, r := range batch {
		r.done <- err
	}
}

func (s *Store) drainRequests(err error) {
	for {
		select {
		case r := <-s.reqs:
			r.done <- err
		default:
			return
		}
	}
}

func (s *Store) notifyChanged() {
	s.stateMu.Lock()
	close(s.changed)
	s.changed = make(chan struct{})
	s.stateMu.Unlock()
}

// Changed returns a channel that is closed at the next successful Append,
// for followers (tail -f) to wait on instead of polling.
func (s *Store) Changed() <-chan struct{} {
	s.stateMu.RLock()
	defer s.stateMu.RUnlock()
	return s.changed
}

// freeze hands the active head to the flusher and returns it (nil if there
// was nothing to flush or the previous flush did not finish within wait).
// Only one head is frozen at a time, which bounds memory to two heads.
func (s *Store) freeze(wait time.Duration) *head {
	s.stateMu.RLock()
	prev := s.frozen
	s.stateMu.RUnlock()
	if prev != nil {
		if wait <= 0 {
			return nil
		}
		t := time.NewTimer(wait)
		defer t.Stop()
		select {
		case <-prev.flushed:
		case <-t.C:
			return nil
		case <-s.quit:
			return nil
		}
	}
	if s.active.events == 0 {
		return nil
	}
	closed, err := s.wal.rotate()
	if err != nil {
		s.log.Error("WAL rotation failed", "err", err)
	}
	h := s.active
	h.lastSeg = closed
	if s.marksUsed {
		// The marks now are those as of the end of segment closed: only the
		// committer advances them, and it is here.
		h.marks, h.saveMarks = s.snapshotMarks(), true
	}
	s.stateMu.Lock()
	s.frozen, s.active = h, newHead()
	s.stateMu.Unlock()
	s.flushCh <- h
	return h
}

// runFlusher writes frozen heads to parts, retrying until it succeeds (the
// WAL keeps the data safe meanwhile).
func (s *Store) runFlusher() {
	defer s.wg.Done()
	for {
		select {
		case h := <-s.flushCh:
			if !s.retry("flush", func() error { return s.flushHead(h) }) {
				return
			}
			// The marks must be durable before the WAL that holds their
			// advances goes.
			if h.saveMarks && !s.retry("writing marks", func() error { return s.writeMarks(h.lastSeg, h.marks) }) {
				return
			}
			if err := removeSegmentsThrough(s.walDir(), h.lastSeg); err != nil {
				s.log.Error("removing flushed WAL segments", "err", err)
			}
			close(h.flushed)
			s.kickMerge()
		case <-s.quit:
			return
		}
	}
}

// retry runs fn until it succeeds (true) or the store closes (false).
func (s *Store) retry(what string, fn func() error) bool {
	backoff := 100 * time.Millisecond
	for {
		err := fn()
		if err == nil {
			return true
		}
		s.m.flushErrors.Inc()
		s.log.Error(what+" failed; retrying", "err", err, "backoff", backoff)
		select {
		case <-time.After(backoff):
		case <-s.quit:
			return false
		}
		backoff = min(2*backoff, 10*time.Second)
	}
}

// flushHead writes one part per day present in h and installs them,
// replacing h for readers in the same step.
func (s *Store) flushHead(h *head) error {
	start := time.Now()
	ids := h.streamIDs()
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	writers := map[int32]*partWriter{}
	fail := func(err error) error {
		for _, w := range writers {
			w.abort()
		}
		return err
	}
	blockMax := int(s.opts.BlockMaxBytes)
	for _, id := range ids {
		s.cat.mu.RLock()
		st := s.cat.streamID[id]
		var groupID uint64
		if st != nil {
			groupID = st.group.rec.ID
		}
		s.cat.mu.RUnlock()
		if st == nil {
			continue
		}
		evs := h.sortedEvents(id)
		for len(evs) > 0 {
			day := dayOf(evs[0].ts)
			n := sort.Search(len(evs), func(i int) bool { return dayOf(evs[i].ts) > day })
			w := writers[day]
			if w == nil {
				var err error
				if w, err = newPartWriter(filepath.Join(s.partsDir(), dayDirName(day)), s.allocPartID(), day, s.codec); err != nil {
					return fail(err)
				}
				w.meta.WALSegment = h.lastSeg
				writers[day] = w
			}
			if err := writeBlocks(w, groupID, id, evs[:n], blockMax); err != nil {
				return fail(err)
			}
			evs = evs[n:]
		}
	}
	parts := make([]*part, 0, len(writers))
	for _, w := range writers {
		if err := w.finish(); err != nil {
			for _, p := range parts {
				p.drop(true)
			}
			return fail(err)
		}
		p, err := openPart(w.path)
		if err != nil {
			return fail(err)
		}
		parts = append(parts, p)
		s.m.partsWritten.WithLabelValues("flush").Inc()
	}
	s.stateMu.Lock()
	for _, p := range parts {
		s.partitions[p.meta.Day] = append(s.partitions[p.meta.Day], p)
	}
	if s.frozen == h {
		s.frozen = nil
	}
	s.noteEvicted(h)
	s.stateMu.Unlock()
	s.m.flushDuration.Observe(time.Since(start).Seconds())
	s.log.Debug("flushed head", "events", h.events, "bytes", h.bytes, "parts", len(parts), "took", time.Since(start))
	return nil
}

// writeBlocks cuts sorted events of one stream into blocks.
func writeBlocks(w *partWriter, groupID, streamID uint64, evs []headEvent, blockMax int) error {
	start, size := 0, 0
	for i, e := range evs {
		if i > start && size+len(e.msg) > blockMax {
			if err := w.addBlock(groupID, streamID, evs[start:i]); err != nil {
				return err
			}
			start, size = i, 0
		}
		size += len(e.msg) + 16
	}
	return w.addBlock(groupID, streamID, evs[start:])
}

func (s *Store) allocPartID() uint64 {
	s.partMu.Lock()
	defer s.partMu.Unlock()
	id := s.nextPartID
	s.nextPartID++
	return id
}

func (s *Store) kickMerge() {
	select {
	case s.mergeKick <- struct{}{}:
	default:
	}
}

// freeBytes reports the free space of the data volume, or a large number if
// it cannot be read.
func (s *Store) freeBytes() int64 {
	var st unix.Statfs_t
	if err := unix.Statfs(s.dir, &st); err != nil {
		return 1 << 62
	}
	return int64(st.Bavail) * int64(st.Bsize)
}

// String describes the store for logs.
func (s *Store) String() string { return "logstore(" + s.dir + ")" }
