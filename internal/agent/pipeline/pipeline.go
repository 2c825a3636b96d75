package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/kinsight/kinsight/internal/agent/buffer"
	"github.com/kinsight/kinsight/internal/agent/cri"
	"github.com/kinsight/kinsight/internal/agent/output/cloudwatch"
	"github.com/kinsight/kinsight/internal/agent/tail"
)

// Batch limits: a payload is pushed once it holds this much, well inside one
// PutLogEvents call so one payload is usually one request.
const (
	maxBatchEvents = 1000
	maxBatchBytes  = 512 << 10
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
	out    *cloudwatch.Output
	tailer *tail.Tailer
	router router
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
	tl, err := tail.New(tcfg, cfg.FS, cp, cfg.Logger.With("component", "tail"), reg)
	if err != nil {
		return nil, fmt.Errorf("pipeline: tail: %w", err)
	}
	out, err := cloudwatch.New(ctx, cfg.Output, cfg.Logger.With("component", "output"), reg)
	if err != nil {
		return nil, fmt.Errorf("pipeline: output: %w", err)
	}
	buf, err := buffer.Open(filepath.Join(cfg.DataDir, "buffer"), cfg.Buffer, cfg.Logger.With("component", "buffer"), reg)
	if err != nil {
		return nil, fmt.Errorf("pipeline: buffer: %w", err)
	}
	return &Pipeline{
		cfg: cfg, log: cfg.Logger, cp: cp, buf: buf, out: out, tailer: tl,
		router: router{cluster: cfg.ClusterName, host: cfg.HostName, routes: cfg.Routes, filter: cfg.Filter, containerGlob: cfg.ContainerLogs},
	}, nil
}

// Output is the pipeline's output (its SDK client reads back in tests).
func (p *Pipeline) Output() *cloudwatch.Output { return p.out }

// Run tails and ships until ctx ends, then stops reading, delivers what is
// buffered for up to Config.DrainTimeout, saves the checkpoints and closes
// the buffer. What was not delivered is kept on disk or re-read next time.
func (p *Pipeline) Run(ctx context.Context) error {
	lines := make(chan tail.Line, 1024)
	tailErr := make(chan error, 1)
	go func() {
		tailErr <- p.tailer.Run(ctx, lines)
		close(lines)
	}()
	sendCtx, stopSend := context.WithCancel(context.Background())
	defer stopSend()
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); p.send(sendCtx) }()
	go func() { defer wg.Done(); p.checkpointLoop(sendCtx) }()

	p.process(lines)
	err := <-tailErr

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
	parser *cri.Parser
	route  fileRoute
	last   time.Time
	offset int64 // end of the last line fed
}

type batchKey struct{ group, stream string }

type batch struct {
	events []cloudwatch.Event
	bytes  int
	// pos holds the highest record offset per file in this batch.
	pos map[fileKey]position
}

// processor is the state of process, owned by its goroutine.
type processor struct {
	p       *Pipeline
	files   map[fileKey]*fileState
	batches map[batchKey]*batch
}

// process parses and routes every line until lines is closed, then flushes
// every parser and batch into the buffer.
func (p *Pipeline) process(lines <-chan tail.Line) {
	pr := &processor{p: p, files: map[fileKey]*fileState{}, batches: map[batchKey]*batch{}}
	tick := time.NewTicker(p.cfg.BatchWait)
	defer tick.Stop()
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				now := time.Now()
				for k, f := range pr.files {
					pr.emit(k, f, f.parser.Flush(now, true))
				}
				pr.pushAll()
				return
			}
			pr.line(l)
		case now := <-tick.C:
			for k, f := range pr.files {
				idle := now.Sub(f.last) > idleFileAfter
				pr.emit(k, f, f.parser.Flush(now, idle))
				if idle {
					delete(pr.files, k)
				}
			}
			pr.pushAll()
		}
	}
}

func (pr *processor) line(l tail.Line) {
	k := fileKey{dev: l.File.Dev, ino: l.File.Ino, path: l.Path}
	f := pr.files[k]
	start := l.Offset - int64(len(l.Data))
	if f != nil && (!f.id.SameContent(l.File) || start < f.offset) {
		// Same inode, other content (copy-truncate, inode reuse): what the
		// old parser holds is emitted and a new one starts.
		pr.emit(k, f, f.parser.Flush(time.Now(), true))
		f = nil
	}
	if f == nil {
		route := pr.p.router.route(l.Path)
		opts := cri.DefaultOptions()
		if !route.container {
			opts.Format = cri.FormatRaw
		}
		if start < 0 {
			start = 0
		}
		parser, err := cri.NewParser(opts, start)
		if err != nil { // the default options are valid
			pr.p.log.Error("parser", "err", err)
			return
		}
		f = &fileState{parser: parser, route: route}
		pr.files[k] = f
	}
	f.id, f.last, f.offset = l.File, time.Now(), l.Offset
	pr.emit(k, f, f.parser.Feed(l.Data, l.Offset, f.last))
}

// emit routes records of one file into its batch.
func (pr *processor) emit(k fileKey, f *fileState, recs []cri.Record) {
	if len(recs) == 0 {
		return
	}
	if f.route.excluded {
		// Nothing will deliver these lines: their position is done.
		pr.p.cp.Ack(f.id, recs[len(recs)-1].Offset)
		return
	}
	bk := batchKey{f.route.group, f.route.stream}
	b := pr.batches[bk]
	if b == nil {
		b = &batch{pos: map[fileKey]position{}}
		pr.batches[bk] = b
	}
	for _, r := range recs {
		var msg string
		if f.route.container {
			msg = containerMessage(&f.route, r.Message, r.Stream, r.Time)
		} else {
			msg = string(r.Message)
		}
		b.events = append(b.events, cloudwatch.Event{Timestamp: r.Time.UnixMilli(), Message: msg})
		b.bytes += len(msg) + cloudwatch.EventOverhead
		b.pos[k] = position{File: f.id, Offset: r.Offset}
		if len(b.events) >= maxBatchEvents || b.bytes >= maxBatchBytes {
			pr.push(bk, b)
		}
	}
}

func (pr *processor) pushAll() {
	for bk, b := range pr.batches {
		pr.push(bk, b)
	}
}

// push hands a batch to the buffer and empties it.
func (pr *processor) push(bk batchKey, b *batch) {
	if len(b.events) == 0 {
		return
	}
	// Send wants chronological order; stdout and stderr of one container,
	// or a runtime's clock, may interleave slightly.
	slices.SortStableFunc(b.events, func(x, y cloudwatch.Event) int {
		switch {
		case x.Timestamp < y.Timestamp:
			return -1
		case x.Timestamp > y.Timestamp:
			return 1
		}
		return 0
	})
	ps := make([]position, 0, len(b.pos))
	for _, pos := range b.pos {
		ps = append(ps, pos)
	}
	pl := encodePayload(payload{Group: bk.group, Stream: bk.stream, Events: b.events})
	if err := pr.p.buf.Push(context.Background(), pl, encodeToken(ps)); err != nil {
		// Only after Close, which happens after process returns.
		pr.p.log.Error("buffer push", "err", err)
	}
	b.events, b.bytes = b.events[:0:0], 0
	clear(b.pos)
}

// send delivers buffer items until ctx ends.
func (p *Pipeline) send(ctx context.Context) {
	// acked remembers, per item, how many leading events a failed Send
	// got acknowledged, so a retry does not send them again.
	acked := map[uint64]int{}
	attempt := 0
	for {
		item, err := p.buf.Next(ctx)
		if err != nil {
			return
		}
		pl, err := decodePayload(item.Payload)
		if err != nil {
			p.log.Error("dropping a corrupt buffer item", "id", item.ID, "err", err)
			_ = p.buf.Ack(item.ID)
			continue
		}
		skip := min(acked[item.ID], len(pl.Events))
		err = p.out.Send(ctx, pl.Group, pl.Stream, pl.Events[skip:])
		if err == nil {
			delete(acked, item.ID)
			if aerr := p.buf.Ack(item.ID); aerr != nil && !errors.Is(aerr, buffer.ErrNotInFlight) {
				p.log.Warn("buffer ack", "err", aerr)
			}
			attempt = 0
			p.commit()
			continue
		}
		var se *cloudwatch.SendError
		if errors.As(err, &se) {
			acked[item.ID] = skip + se.Acked
		}
		_ = p.buf.Nack(item.ID)
		if ctx.Err() != nil {
			return
		}
		p.log.Warn("send failed; retrying", "group", pl.Group, "stream", pl.Stream, "err", err)
		attempt++
		ceiling := min(200*time.Millisecond<<min(attempt, 8), 30*time.Second)
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Duration(rand.Int64N(int64(ceiling))) + 10*time.Millisecond):
		}
	}
}

// checkpointLoop applies releases and saves checkpoints periodically.
func (p *Pipeline) checkpointLoop(ctx context.Context) {
	t := time.NewTicker(p.cfg.CheckpointInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			p.commit()
			if err := p.cp.Flush(); err != nil {
				p.log.Warn("save checkpoints", "err", err)
			}
		}
	}
}

// commit acknowledges to the checkpoints the positions of every released
// payload: delivered, persisted or dropped and counted.
func (p *Pipeline) commit() {
	for _, r := range p.buf.Released(nil) {
		ps, err := decodeToken(r.Token)
		if err != nil {
			p.log.Error("corrupt buffer token", "id", r.ID, "err", err)
			continue
		}
		for _, pos := range ps {
			p.cp.Ack(pos.File, pos.Offset)
		}
	}
}
