package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/kinsight/kinsight/internal/agent/buffer"
	"github.com/kinsight/kinsight/internal/agent/cri"
	"github.com/kinsight/kinsight/internal/agent/journal"
	"github.com/kinsight/kinsight/internal/agent/memtrim"
	"github.com/kinsight/kinsight/internal/agent/output/cloudwatch"
	"github.com/kinsight/kinsight/internal/agent/tail"
)

// Batch limits: a payload is pushed once it holds this much, well inside one
// PutLogEvents call so one payload is usually one request.
const (
	maxBatchEvents = 1000
	maxBatchBytes  = 256 << 10
	// maxPendingBytes bounds what all batches being filled hold together
	// (one per stream: hundreds on a busy node); past it the fullest are
	// pushed (pushLargest). At 10,000 lines/s of ~1 KB records a second
	// of batches is 10 MB: this bound, not BatchWait, then sizes them; at
	// 4 MiB the agent sent twice the requests (400/s) for the same RSS
	// (the memory limit decides that).
	maxPendingBytes = 8 << 20
	// minSaveInterval spaces checkpoint saves after acknowledgements: a
	// save costs two fsyncs, and hundreds of batches a second are
	// acknowledged on a node with hundreds of containers. A longer
	// interval only widens what a crash re-reads, never what is lost: a
	// save still holds only positions acknowledged before it.
	minSaveInterval = 100 * time.Millisecond
	// exactSaveInterval replaces it when the destination skips repeats by
	// position (a kinsight server): a crash re-reads up to a second more,
	// under the sources the lines were first sent with, and the server
	// drops them; saving ten times less often saves about 6% of the steady
	// CPU. It was 100 ms while a re-read could carry another source; the
	// causes the zero-loss e2e test found at 1 s are fixed in tail (a .gz's
	// source kept across restarts, a late ack replacing a reused inode's
	// entry, an empty new file taking its inode's old entry and ghost, a
	// file found again re-read from its acknowledged offset).
	exactSaveInterval = time.Second
	// idleFileAfter is how long a file may send no line before its parser is
	// force-flushed and forgotten (the tailer has let it go by then).
	idleFileAfter = 5 * time.Minute
)

// Pipeline is one running agent log pipeline. Run it once.
type Pipeline struct {
	cfg    Config
	log    *slog.Logger
	cp     *tail.Checkpoints
	buf    *buffer.Buffer
	out    Sender
	cw     *cloudwatch.Output // out, when it is the CloudWatch output
	tailer *tail.Tailer
	router router
	m      *metrics
	// commitMu orders commits (senders and ticker all commit); saveMu
	// orders saves.
	commitMu, saveMu sync.Mutex
	// saveNow asks the checkpoint loop to save (after an ack).
	saveNow chan struct{}
	// inFlightDrops holds items the buffer dropped while they were being
	// delivered, until their delivery ends.
	inFlightDrops *sync.Map
	// lastAck is when a delivery was last acknowledged (UnixNano).
	lastAck atomic.Int64
	// pool recycles batch payloads and decoded events (pool.go).
	pool payloadPool
}

type droppedItem struct {
	events int
	reason string
}

// settleDrop counts an item dropped while in flight, unless it was
// delivered after all.
func (p *Pipeline) settleDrop(id uint64, delivered bool) {
	v, ok := p.inFlightDrops.LoadAndDelete(id)
	if ok && !delivered {
		d := v.(droppedItem)
		p.m.dropped.WithLabelValues(d.reason).Add(float64(d.events))
	}
}

// New opens the checkpoints and the buffer in cfg.DataDir and builds the
// tailer and the output. ctx bounds the output's set-up.
func New(ctx context.Context, cfg Config) (*Pipeline, error) {
	cfg.setDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
		return nil, fmt.Errorf("pipeline: data dir: %w", err)
	}
	reg := cfg.Registerer
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	cp, err := tail.OpenCheckpoints(filepath.Join(cfg.DataDir, "checkpoints"))
	if err != nil {
		return nil, fmt.Errorf("pipeline: %w", err)
	}
	tcfg := tail.Config{
		Include:      append(slices.Clone(cfg.ContainerLogs), cfg.HostLogs...),
		PollInterval: cfg.PollInterval,
	}
	var tl *tail.Tailer // nil when only the journal is read
	if len(tcfg.Include) > 0 {
		tl, err = tail.New(tcfg, cfg.FS, cp, cfg.Logger.With("component", "tail"), reg)
		if err != nil {
			return nil, fmt.Errorf("pipeline: tail: %w", err)
		}
	}
	m, err := newMetrics(reg)
	if err != nil {
		return nil, fmt.Errorf("pipeline: %w", err)
	}
	out, cw := cfg.Sender, (*cloudwatch.Output)(nil)
	if out == nil {
		cw, err = cloudwatch.New(ctx, cfg.Output, cfg.Logger.With("component", "output"), reg)
		if err != nil {
			return nil, fmt.Errorf("pipeline: output: %w", err)
		}
		out = cw
	}
	// Drops are counted in events as they happen (a spilled item was
	// released as persisted already).
	// An item dropped while in flight is counted once its delivery fails;
	// if it succeeds, nothing was lost.
	var inFlightDrops sync.Map // item ID -> droppedItem
	cfg.Buffer.OnDrop = func(id uint64, tok []byte, reason string, inFlight bool) {
		t, err := decodeToken(tok)
		if err != nil {
			return
		}
		if inFlight {
			inFlightDrops.Store(id, droppedItem{events: t.Events, reason: reason})
			return
		}
		m.dropped.WithLabelValues(reason).Add(float64(t.Events))
	}
	buf, err := buffer.Open(filepath.Join(cfg.DataDir, "buffer"), cfg.Buffer, cfg.Logger.With("component", "buffer"), reg)
	if err != nil {
		return nil, fmt.Errorf("pipeline: buffer: %w", err)
	}
	return &Pipeline{
		inFlightDrops: &inFlightDrops,
		cfg:           cfg, log: cfg.Logger, cp: cp, buf: buf, out: out, cw: cw, tailer: tl, m: m, saveNow: make(chan struct{}, 1),
		router: router{
			cluster: cfg.ClusterName, host: cfg.HostName, routes: cfg.Routes, filter: cfg.Filter,
			containerGlob: cfg.ContainerLogs, pods: cfg.Pods, labels: cfg.PodLabels, annots: cfg.PodAnnotations,
			merge: cfg.MergeLog,
		},
	}, nil
}

// Output is the pipeline's CloudWatch output (its SDK client reads back in
// tests), nil when Config.Sender replaced it.
func (p *Pipeline) Output() *cloudwatch.Output { return p.cw }

// Run tails and ships until ctx ends, then stops reading, delivers what is
// buffered for up to Config.DrainTimeout, saves the checkpoints and closes
// the buffer. What was not delivered is kept on disk or re-read next time.
func (p *Pipeline) Run(ctx context.Context) error {
	p.lastAck.Store(time.Now().UnixNano()) // the destination gets spillAfter to answer first
	go p.trimStartup(ctx)
	lines := make(chan tail.Line, 1024)
	tailErr := make(chan error, 1)
	go func() {
		if p.tailer != nil {
			tailErr <- p.tailer.Run(ctx, lines)
		} else {
			tailErr <- nil
		}
		close(lines)
	}()
	var entries chan journal.Entry
	journalErr := make(chan error, 1)
	if j := p.cfg.Journal; j != nil {
		entries = make(chan journal.Entry, 256)
		go func() {
			journalErr <- j.Run(ctx, entries)
			close(entries)
		}()
	} else {
		journalErr <- nil
	}
	sendCtx, stopSend := context.WithCancel(context.Background())
	defer stopSend()
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); p.send(sendCtx) }()
	go func() { defer wg.Done(); p.checkpointLoop(sendCtx) }()

	p.process(lines, entries)
	err := errors.Join(<-tailErr, <-journalErr)

	deadline := time.Now().Add(p.cfg.DrainTimeout)
	for p.buf.Stats().Items > 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if n := p.buf.Stats().Items; n > 0 {
		p.log.Warn("shutdown before everything was delivered; the rest is re-read or replayed next start", "items", n)
	}
	stopSend()
	wg.Wait()
	p.commit()
	if ferr := p.cp.Flush(); ferr != nil {
		err = errors.Join(err, fmt.Errorf("pipeline: save checkpoints: %w", ferr))
	}
	if j := p.cfg.Journal; j != nil {
		if ferr := j.Flush(); ferr != nil {
			err = errors.Join(err, fmt.Errorf("pipeline: save journal cursor: %w", ferr))
		}
	}
	if cerr := p.buf.Close(); cerr != nil {
		err = errors.Join(err, fmt.Errorf("pipeline: close buffer: %w", cerr))
	}
	return err
}

// fileKey names one file as it is followed: its inode under the path it was
// found by (the FileID's head may grow while the file is young).
type fileKey struct {
	dev, ino uint64
	path     string
}

type fileState struct {
	id     tail.FileID
	source uint64 // tail.Line.Source of the file's lines
	parser *cri.Parser
	route  fileRoute
	first  time.Time // when the file was first seen
	last   time.Time
	offset int64 // end of the last line fed
	// held are records waiting for their pod's metadata (copies).
	held      []cri.Record
	heldBytes int
	// stats are the parser's counters already exported.
	stats cri.Stats
}

// exportStats adds what the parser counted since the last call.
func (pr *processor) exportStats(f *fileState) {
	s := f.parser.Stats()
	m := pr.p.m
	m.invalidLines.Add(float64(s.InvalidLines - f.stats.InvalidLines))
	m.invalidUTF8.Add(float64(s.InvalidUTF8 - f.stats.InvalidUTF8))
	m.splitRecords.Add(float64(s.SplitRecords - f.stats.SplitRecords))
	f.stats = s
}

// Holding is bounded: past these a file's records go out without waiting.
const (
	maxHeldRecords = 10_000
	maxHeldBytes   = 4 << 20
)

type batchKey struct {
	group, stream string
	journal       bool
}

type batch struct {
	// buf is the batch as its buffer payload (codec.go), built event by
	// event: push hands it to the buffer without another copy, and the
	// delivery decodes its messages without copying either. It holds no
	// pointers for the garbage collector to scan.
	buf []byte
	n   int // events in buf
	// shared is the Shared part of buf's events (the first event's: a
	// file's kubernetes object, quoted), written once in buf's header.
	// It views the file route's bytes, which are never modified.
	shared string
	// last is the newest timestamp in buf; sorted says buf's timestamps
	// never went back (else push sorts it).
	last   int64
	sorted bool
	bytes  int
	// hint sizes the next payload's first allocation: about what the last
	// one reached, so a steady stream's batch is allocated once.
	hint int
	// pos holds the highest record offset per file in this batch.
	pos map[fileKey]position
	// phase is the pushSlots phase in which the batch is pushed.
	phase int
}

// firstBatchBytes is a batch payload's first allocation; it doubles from
// there, so a quiet stream does not hold 256 KiB.
const firstBatchBytes = 4 << 10

// add appends one event; it returns the event's size as the batch limits
// count it.
func (b *batch) add(pool *payloadPool, bk batchKey, e *cloudwatch.Event) int {
	if b.n == 0 {
		if b.buf == nil {
			b.buf = pool.get(max(b.hint, firstBatchBytes))
		}
		b.shared = e.Shared
		b.buf = appendPayloadHeader(b.buf[:0], bk.group, bk.stream, b.shared)
		b.sorted = true
	} else if e.Timestamp < b.last {
		b.sorted = false
	}
	b.last = max(b.last, e.Timestamp)
	b.buf = appendPayloadEvent(b.buf, e, b.shared)
	b.n++
	n := len(e.Message) + cloudwatch.EventOverhead
	if e.Quoted {
		n = e.Size + cloudwatch.EventOverhead
	}
	b.bytes += n
	return n
}

// processor is the state of process, owned by its goroutine.
type processor struct {
	p       *Pipeline
	files   map[fileKey]*fileState
	batches map[batchKey]*batch
	// cursor is the newest journal entry's cursor batched so far.
	cursor string
	// pending is the bytes held by every batch.
	pending int
	// scratch and tmp are where records are encoded.
	scratch, tmp []byte
}

// process parses and routes every line until lines is closed, then flushes
// every parser and batch into the buffer.
func (p *Pipeline) process(lines <-chan tail.Line, entries <-chan journal.Entry) {
	pr := &processor{p: p, files: map[fileKey]*fileState{}, batches: map[batchKey]*batch{}}
	// Batches are pushed in pushSlots phases spread over BatchWait, not all
	// at once: a node's hundreds of streams otherwise hand the senders
	// hundreds of requests in the same instant every BatchWait, which
	// queue (latency) and fill the buffer's memory (backpressure).
	tick := time.NewTicker(p.cfg.BatchWait / pushSlots)
	defer tick.Stop()
	ticks := 0
	for lines != nil || entries != nil {
		select {
		case l, ok := <-lines:
			if !ok {
				lines = nil
				now := time.Now()
				for k, f := range pr.files {
					pr.release(k, f, true)
					pr.emit(k, f, f.parser.Flush(now, true))
					pr.exportStats(f)
				}
				continue
			}
			pr.line(l)
		case e, ok := <-entries:
			if !ok {
				entries = nil
				continue
			}
			pr.entry(&e)
		case now := <-tick.C:
			ticks++
			pr.pushPhase(ticks % pushSlots)
			if ticks%pushSlots != 0 {
				continue
			}
			for k, f := range pr.files {
				idle := now.Sub(f.last) > idleFileAfter
				pr.release(k, f, idle || now.Sub(f.first) >= p.cfg.PodWait)
				pr.emit(k, f, f.parser.Flush(now, idle))
				pr.exportStats(f)
				if idle {
					delete(pr.files, k)
				}
			}
			pr.pushJournal()
		}
	}
	pr.pushAll()
}

// release emits a file's held records once its pod is known or, with
// force, without its metadata.
func (pr *processor) release(k fileKey, f *fileState, force bool) {
	if !f.route.resolved && !pr.p.router.resolve(&f.route) {
		if !force {
			return
		}
		pr.p.router.finish(&f.route, nil)
		pr.p.m.podUnknown.Inc()
	}
	if len(f.held) == 0 {
		return
	}
	held := f.held
	f.held, f.heldBytes = nil, 0
	pr.emit(k, f, held)
}

// entry batches one journal entry for the dataplane group.
func (pr *processor) entry(e *journal.Entry) {
	r := &pr.p.router
	pr.p.m.journalRecords.Inc()
	bk := batchKey{
		group:   expand(r.routes.DataplaneGroup, r.cluster, r.host, e.Unit),
		stream:  expand(r.routes.DataplaneStream, r.cluster, r.host, e.Unit),
		journal: true,
	}
	b := pr.batch(bk)
	ts := e.Time
	if ts.IsZero() {
		ts = time.Now()
	}
	pr.scratch = appendJournalRecord(pr.scratch[:0], e)
	ev := cloudwatch.Event{Timestamp: ts.UnixMilli(), Message: bytesString(pr.scratch)}
	if src, seq, ok := journal.CursorPosition(e.Cursor); ok {
		ev.Source, ev.End = src, seq
	}
	pr.pending += b.add(&pr.p.pool, bk, &ev)
	pr.cursor = e.Cursor
	if b.n >= maxBatchEvents || b.bytes >= maxBatchBytes {
		pr.pushJournal()
	}
	if pr.pending >= maxPendingBytes {
		pr.pushLargest()
	}
}

func (pr *processor) batch(bk batchKey) *batch {
	b := pr.batches[bk]
	if b == nil {
		b = &batch{pos: map[fileKey]position{}, phase: len(pr.batches) % pushSlots}
		pr.batches[bk] = b
	}
	return b
}

func (pr *processor) line(l tail.Line) {
	k := fileKey{dev: l.File.Dev, ino: l.File.Ino, path: l.Path}
	f := pr.files[k]
	start := l.Offset - int64(len(l.Data))
	if f != nil && (!f.id.SameContent(l.File) || start < f.offset) {
		// Same inode, other content (copy-truncate, inode reuse): what the
		// old parser holds is emitted and a new one starts.
		pr.emit(k, f, f.parser.Flush(time.Now(), true))
		pr.exportStats(f)
		f = nil
	}
	if f == nil {
		route := pr.p.router.route(l.Path)
		opts := cri.DefaultOptions()
		if !route.container {
			opts.Format = cri.FormatRaw
		} else {
			opts.Multiline = pr.p.cfg.Multiline
		}
		if start < 0 {
			start = 0
		}
		parser, err := cri.NewParser(opts, start)
		if err != nil { // the default options are valid
			pr.p.log.Error("parser", "err", err)
			return
		}
		f = &fileState{parser: parser, route: route, first: time.Now()}
		pr.files[k] = f
	}
	f.id, f.source, f.last, f.offset = l.File, l.Source, time.Now(), l.Offset
	pr.emit(k, f, f.parser.Feed(l.Data, l.Offset, f.last))
}

// emit routes records of one file into its batch.
func (pr *processor) emit(k fileKey, f *fileState, recs []cri.Record) {
	if len(recs) == 0 {
		return
	}
	if !f.route.resolved {
		// Once the pod is known (or waiting is over), what was held goes
		// first, then recs.
		if pr.p.router.resolve(&f.route) {
			pr.release(k, f, false)
		} else if len(f.held)+len(recs) > maxHeldRecords || f.heldBytes > maxHeldBytes {
			pr.release(k, f, true)
		} else {
			// The parser reuses its buffers: keep copies.
			for _, r := range recs {
				r.Message = slices.Clone(r.Message)
				f.held = append(f.held, r)
				f.heldBytes += len(r.Message)
			}
			return
		}
	}
	if f.route.container {
		pr.p.m.containerRecords.Add(float64(len(recs)))
	} else {
		pr.p.m.hostRecords.Add(float64(len(recs)))
	}
	if f.route.excluded {
		// Nothing will deliver these lines: their position is done.
		pr.p.m.excluded.Add(float64(len(recs)))
		pr.p.cp.Ack(f.id, recs[len(recs)-1].Offset)
		return
	}
	bk := batchKey{group: f.route.group, stream: f.route.stream}
	b := pr.batch(bk)
	for i := range recs {
		r := &recs[i]
		ev := cloudwatch.Event{Timestamp: r.Time.UnixMilli(), End: r.End, Source: f.source}
		switch {
		case f.route.container && pr.p.cw != nil:
			// The CloudWatch output takes records already quoted: the
			// request body is then a copy (see cloudwatch.Event.Quoted).
			// The kubernetes object is not in the record but shared by
			// the batch (payload version 4, codec.go).
			pr.scratch, pr.tmp, ev.Size, ev.SharedAt = appendQuotedContainerRecord(pr.scratch[:0], pr.tmp, &f.route, r, pr.p.cfg.MergeLogKey)
			ev.Message, ev.Quoted, ev.Shared = bytesString(pr.scratch), true, bytesString(f.route.kubeEscaped)
		case f.route.container:
			pr.scratch = appendContainerRecord(pr.scratch[:0], &f.route, r, pr.p.cfg.MergeLogKey)
			ev.Message = bytesString(pr.scratch)
		default:
			ev.Message = bytesString(r.Message)
		}
		if f.route.container {
			ev.Channel = r.Channel()
		}
		pr.pending += b.add(&pr.p.pool, bk, &ev)
		b.pos[k] = position{File: f.id, Offset: r.Offset}
		if b.n >= maxBatchEvents || b.bytes >= maxBatchBytes {
			pr.push(bk, b, "")
		}
	}
	if pr.pending >= maxPendingBytes {
		pr.pushLargest()
	}
}

// pushSlots is how many phases BatchWait is divided into; each stream's
// batch is pushed in one of them (round robin as streams appear), so every
// batch still collects for BatchWait.
const pushSlots = 8

// pushPhase pushes the container and host batches of one phase.
func (pr *processor) pushPhase(phase int) {
	for bk, b := range pr.batches {
		if !bk.journal && b.phase == phase {
			pr.push(bk, b, "")
		}
	}
}

// pushLargest pushes the fullest batches until they hold at most half of
// maxPendingBytes: a catch-up fills them faster than BatchWait, and pushing
// every batch at once would hand the senders hundreds of requests in one
// instant.
func (pr *processor) pushLargest() {
	type sized struct {
		bk batchKey
		b  *batch
	}
	var bs []sized
	for bk, b := range pr.batches {
		if !bk.journal && b.n > 0 {
			bs = append(bs, sized{bk, b})
		}
	}
	slices.SortFunc(bs, func(x, y sized) int { return y.b.bytes - x.b.bytes })
	for _, s := range bs {
		if pr.pending <= maxPendingBytes/2 {
			return
		}
		pr.push(s.bk, s.b, "")
	}
	pr.pushJournal()
}

func (pr *processor) pushAll() {
	for bk, b := range pr.batches {
		if !bk.journal {
			pr.push(bk, b, "")
		}
	}
	pr.pushJournal()
}

// pushJournal pushes every journal batch, the last one carrying the newest
// cursor: releases come in push order, so once that one is released every
// entry up to the cursor is.
func (pr *processor) pushJournal() {
	var last batchKey
	for bk, b := range pr.batches {
		if !bk.journal || b.n == 0 {
			continue
		}
		if last.journal {
			pr.push(last, pr.batches[last], "")
		}
		last = bk
	}
	if last.journal {
		pr.push(last, pr.batches[last], pr.cursor)
	}
}

// push hands a batch to the buffer and empties it.
func (pr *processor) push(bk batchKey, b *batch, cursor string) {
	if b.n == 0 {
		return
	}
	pl := b.buf
	if !b.sorted {
		// Send wants chronological order; stdout and stderr of one
		// container, or a runtime's clock, may interleave slightly.
		p, err := decodePayload(pl)
		if err != nil { // we just encoded it
			pr.p.log.Error("batch payload", "err", err)
		}
		slices.SortStableFunc(p.Events, func(x, y cloudwatch.Event) int {
			switch {
			case x.Timestamp < y.Timestamp:
				return -1
			case x.Timestamp > y.Timestamp:
				return 1
			}
			return 0
		})
		pl = encodePayload(p)
		pr.p.pool.put(b.buf) // encodePayload copied the events
	}
	ps := make([]position, 0, len(b.pos))
	saved := true
	for _, pos := range b.pos {
		ps = append(ps, pos)
		saved = pr.p.cp.Persisted(pos.File) && saved
	}
	if !saved {
		// A file this batch is the first from (a new or rotated file):
		// its identity goes to disk before any of its lines can reach the
		// server, so a crash does not leave a copy (its .gz) that a
		// restart would take for unread and send under another source.
		// Once per new file; a failed save only weakens exactly-once.
		if err := pr.p.cp.Flush(); err != nil {
			pr.p.log.Warn("save checkpoints before a new file's first batch", "err", err)
		}
	}
	pr.p.waitForRoom(len(pl))
	if err := pr.p.buf.Push(context.Background(), pl, encodeToken(token{Positions: ps, Cursor: cursor, Events: b.n})); err != nil {
		// Only after Close, which happens after process returns.
		pr.p.log.Error("buffer push", "err", err)
	}
	pr.pending -= b.bytes
	// The buffer owns pl now.
	b.hint = min(len(pl)+len(pl)/8, maxBatchBytes+maxBatchBytes/8)
	b.buf, b.n, b.bytes, b.last = nil, 0, 0, 0
	clear(b.pos)
}

// trimStartup gives back the executable's pages start-up touched
// (memtrim): now, and once more after the pod watcher's first list and the
// first reads have run their one-off code. Not periodically: pages in use
// would only fault back.
func (p *Pipeline) trimStartup(ctx context.Context) {
	for _, d := range []time.Duration{0, 10 * time.Second} {
		select {
		case <-ctx.Done():
			return
		case <-time.After(d):
		}
		if n, err := memtrim.Trim(); err != nil {
			p.log.Debug("trim start-up pages", "err", err)
		} else {
			p.log.Debug("trimmed start-up pages", "mapped_bytes", n)
		}
	}
}

// spillAfter is how long a push waits for memory while deliveries are
// being acknowledged before the buffer spills to disk: reading faster than
// a healthy destination takes is backpressure (the files wait on disk
// already), not a reason to write everything twice.
const spillAfter = 2 * time.Second

// waitForRoom holds a push of n bytes while the buffer's memory is full
// and the destination acknowledged something recently, for at most
// spillAfter; then (or when deliveries stalled) the buffer may spill.
func (p *Pipeline) waitForRoom(n int) {
	limit := p.cfg.Buffer.MemoryBytes
	if limit <= 0 {
		return
	}
	deadline := time.Now().Add(spillAfter)
	for p.buf.Stats().MemoryBytes+int64(n) > limit && time.Now().Before(deadline) {
		if time.Since(time.Unix(0, p.lastAck.Load())) > spillAfter {
			return // the destination is down or stuck: spill
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// nack hands an undelivered item back to the buffer (or settles it as
// dropped, if the buffer dropped it meanwhile).
func (p *Pipeline) nack(id uint64) {
	p.settleDrop(id, false)
	_ = p.buf.Nack(id)
}

// checkpointLoop applies releases and saves checkpoints after every
// acknowledgement (coalesced: one save covers every ack before it) and
// every CheckpointInterval (persisted and dropped items release too).
func (p *Pipeline) checkpointLoop(ctx context.Context) {
	t := time.NewTicker(p.cfg.CheckpointInterval)
	defer t.Stop()
	interval := minSaveInterval
	if p.cw != nil && p.cw.SkipsRepeats() {
		interval = exactSaveInterval
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-p.saveNow:
			p.saveCheckpoints()
			select { // at most one save per interval
			case <-ctx.Done():
				return
			case <-time.After(interval):
			}
		case <-t.C:
			p.commit()
			p.saveCheckpoints()
		}
	}
}

// saveCheckpoints writes the file offsets and the journal cursor (each
// only if it moved). Failures are logged: the next save retries.
func (p *Pipeline) saveCheckpoints() {
	p.saveMu.Lock()
	defer p.saveMu.Unlock()
	if err := p.cp.Flush(); err != nil {
		p.log.Warn("save checkpoints", "err", err)
	}
	if j := p.cfg.Journal; j != nil {
		if err := j.Flush(); err != nil {
			p.log.Warn("save journal cursor", "err", err)
		}
	}
}

// commit acknowledges to the checkpoints the positions of every released
// payload: delivered, persisted or dropped and counted.
func (p *Pipeline) commit() {
	p.commitMu.Lock()
	defer p.commitMu.Unlock()
	for _, r := range p.buf.Released(nil) {
		tok, err := decodeToken(r.Token)
		if err != nil {
			p.log.Error("corrupt buffer token", "id", r.ID, "err", err)
			continue
		}
		for _, pos := range tok.Positions {
			p.cp.Ack(pos.File, pos.Offset)
		}
		if tok.Cursor != "" && p.cfg.Journal != nil {
			p.cfg.Journal.Ack(tok.Cursor)
		}
	}
}
