package agentwal

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/klauspost/compress/snappy"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/prompb"
	"github.com/prometheus/prometheus/storage/remote"
	"github.com/prometheus/prometheus/tsdb/chunks"
	"github.com/prometheus/prometheus/tsdb/record"
	"github.com/prometheus/prometheus/tsdb/wlog"
)

// position is how far an endpoint has shipped: every sample in a record
// ending at or before (Segment, Offset) has been acknowledged (or refused
// for good) by the endpoint.
type position struct {
	Segment int   `json:"segment"`
	Offset  int64 `json:"offset"`
	// MaxT is the newest sample timestamp shipped: when unshipped
	// segments have been folded into a checkpoint, the checkpoint's
	// samples from MaxT on are sent.
	MaxT int64 `json:"max_t"`
}

func (p position) after(q position) bool {
	return p.Segment > q.Segment || (p.Segment == q.Segment && p.Offset > q.Offset)
}

// shipper tails the WAL for one endpoint and sends its samples in order,
// one request at a time.
type shipper struct {
	s       *Store
	ep      Endpoint
	log     *slog.Logger
	client  remote.WriteClient
	m       endpointMetrics
	posFile string
	walDir  string
	ext     labels.Labels

	// series holds each series' labels as sent (external labels added),
	// built once per series record rather than per sample. They stay in
	// labels.Labels' compact form (one string per series): the agent-mode
	// TSDB holds its own copy, and a []prompb.Label per series would add
	// about 30 bytes a label on top; flush spells them out per batch.
	series  map[chunks.HeadSeriesRef]labels.Labels
	cpIndex int      // checkpoint the series map was built from; -1 none
	saved   position // last position written to posFile
	dec     record.Decoder
	pend    []pendingSample // the batch being queued
	buf     []prompb.TimeSeries
	lbuf    []prompb.Label  // labels of buf, reused across batches
	sbuf    []prompb.Sample // samples of buf, reused across batches
	lb      labels.Builder
}

func newShipper(s *Store, ep Endpoint) (*shipper, error) {
	cc, err := clientConfig(ep)
	if err != nil {
		return nil, err
	}
	client, err := remote.NewWriteClient(ep.Name, cc)
	if err != nil {
		return nil, fmt.Errorf("remote write client: %w", err)
	}
	return &shipper{
		s: s, ep: ep, client: client,
		log:     s.log.With("remote_name", ep.Name, "url", ep.URL),
		m:       s.metrics.forEndpoint(ep.Name, ep.URL),
		posFile: filepath.Join(s.opts.Dir, "positions", ep.Name+".json"),
		walDir:  filepath.Join(s.opts.Dir, "wal"),
		ext:     labels.FromMap(s.opts.ExternalLabels),
		series:  map[chunks.HeadSeriesRef]labels.Labels{},
		cpIndex: -1,
		dec:     record.NewDecoder(nil, s.log),
	}, nil
}

func (sh *shipper) loadPosition() position {
	b, err := os.ReadFile(sh.posFile)
	if err != nil {
		if !errors.Is(err, os.ErrNotExist) {
			sh.log.Warn("cannot read shipping position; resending the whole WAL", "err", err)
		}
		return position{Segment: -1}
	}
	var p position
	if err := json.Unmarshal(b, &p); err != nil {
		sh.log.Warn("corrupt shipping position; resending the whole WAL", "err", err)
		return position{Segment: -1}
	}
	return p
}

// savePosition writes p with a rename, so a crash leaves the old or the
// new position. It is not fsync'd: a position lost to a power failure
// only means resending, which the receiver takes as duplicates.
func (sh *shipper) savePosition(p position) {
	p.MaxT = max(p.MaxT, sh.saved.MaxT)
	if !p.after(sh.saved) && p.MaxT == sh.saved.MaxT {
		return
	}
	b, _ := json.Marshal(p)
	tmp := sh.posFile + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		sh.log.Warn("cannot save shipping position", "err", err)
		return
	}
	if err := os.Rename(tmp, sh.posFile); err != nil {
		sh.log.Warn("cannot save shipping position", "err", err)
		return
	}
	sh.saved = p
}

// run ships until ctx ends. It reads the last checkpoint and every
// segment from the first, learning series all along but sending only
// samples of records after the saved position.
func (sh *shipper) run(ctx context.Context) {
	sh.saved = sh.loadPosition()
	skipTo := sh.saved
	seg := -1
	for ctx.Err() == nil {
		sh.resetSeries(seg)
		first, last, err := wlog.Segments(sh.walDir)
		if err != nil || last < 0 {
			if !sleep(ctx, sh.ep.Queue.PollInterval) {
				return
			}
			continue
		}
		switch {
		case seg < first:
			if from := max(seg, skipTo.Segment); from >= 0 && from < first {
				// Segments we had not shipped were folded into a
				// checkpoint, which keeps samples younger than
				// MaxWALTime: send those from the newest we shipped on.
				if err := sh.shipCheckpoint(ctx, from, first); err != nil {
					return
				}
			}
			seg = first
		case seg > last:
			if !sleep(ctx, sh.ep.Queue.PollInterval) {
				return
			}
			continue
		}
		if err := sh.tailSegment(ctx, seg, skipTo); err != nil {
			if ctx.Err() != nil {
				return
			}
			sh.log.Warn("reading WAL segment", "segment", seg, "err", err)
		}
		seg++
	}
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// shipCheckpoint sends the samples of the last checkpoint not older than
// the newest shipped, after unshipped segments from..first-1 were
// truncated. Samples shipped already may be sent again; receivers take
// them as duplicates. Segments no checkpoint covers are counted as lost.
func (sh *shipper) shipCheckpoint(ctx context.Context, from, first int) error {
	cp, idx, err := wlog.LastCheckpoint(sh.walDir)
	if err != nil || idx < from {
		sh.m.segmentsSkipped.Add(float64(first - from))
		sh.log.Error("unshipped WAL segments were truncated without a checkpoint; their samples are lost", "from", from, "to", first-1)
		return nil
	}
	sh.log.Warn("unshipped WAL segments were checkpointed; sending the checkpoint's samples", "from", from, "checkpoint", cp)
	r, err := wlog.NewSegmentsReader(cp)
	if err != nil {
		sh.log.Error("cannot read checkpoint; samples lost", "checkpoint", cp, "err", err)
		sh.m.segmentsSkipped.Add(float64(first - from))
		return nil
	}
	defer r.Close()
	rd := wlog.NewReader(r)
	var samples []record.RefSample
	minT := sh.saved.MaxT
	done := position{Segment: idx, Offset: 1 << 62, MaxT: minT}
	for rd.Next() {
		rec := rd.Record()
		switch sh.dec.Type(rec) {
		case record.Samples, record.SamplesV2:
			if samples, err = sh.dec.Samples(rec, samples[:0]); err != nil {
				return nil
			}
			for _, smp := range samples {
				if smp.T < minT {
					continue
				}
				if err := sh.queue(ctx, smp, done); err != nil {
					return err
				}
			}
		}
	}
	return sh.flush(ctx, done)
}

// queue adds a sample to the batch, sending the batch when full with
// done as the position reached once it is acknowledged.
func (sh *shipper) queue(ctx context.Context, smp record.RefSample, done position) error {
	ls, ok := sh.series[smp.Ref]
	if !ok {
		sh.m.failed.Inc()
		return nil
	}
	sh.pend = append(sh.pend, pendingSample{ls: ls, t: smp.T, v: smp.V})
	sh.m.pending.Inc()
	if len(sh.pend) >= sh.ep.Queue.MaxSamplesPerSend {
		return sh.flush(ctx, done)
	}
	return nil
}

// resetSeries rebuilds the series map when the WAL has a newer checkpoint
// than the one it was built from, so series that the WAL's GC dropped are
// dropped here too (Prometheus's watcher does the same): the checkpoint's
// series, then those of the segments after it up to (not including) seg.
func (sh *shipper) resetSeries(seg int) {
	cp, idx, err := wlog.LastCheckpoint(sh.walDir)
	if err != nil || idx <= sh.cpIndex {
		return
	}
	sh.series = map[chunks.HeadSeriesRef]labels.Labels{}
	sh.cpIndex = idx
	if err := sh.readSeries(cp, -1); err != nil {
		sh.log.Warn("reading WAL checkpoint", "dir", cp, "err", err)
	}
	for i := idx + 1; i < seg; i++ {
		if err := sh.readSeries(sh.walDir, i); err != nil {
			sh.log.Warn("reading WAL segment for series", "segment", i, "err", err)
		}
	}
}

// readSeries learns the series records of the checkpoint directory dir
// (seg < 0) or of segment seg of dir.
func (sh *shipper) readSeries(dir string, seg int) error {
	var (
		r   io.ReadCloser
		err error
	)
	if seg < 0 {
		r, err = wlog.NewSegmentsReader(dir)
	} else {
		r, err = wlog.OpenReadSegment(wlog.SegmentName(dir, seg))
	}
	if err != nil {
		return err
	}
	defer r.Close()
	rd := wlog.NewReader(r)
	var series []record.RefSeries
	for rd.Next() {
		if rec := rd.Record(); sh.dec.Type(rec) == record.Series {
			if series, err = sh.dec.Series(rec, series[:0]); err != nil {
				return err
			}
			sh.addSeries(series)
		}
	}
	return rd.Err()
}

func (sh *shipper) addSeries(series []record.RefSeries) {
	for _, s := range series {
		sh.series[s.Ref] = sh.withExternal(s.Labels)
	}
	sh.m.series.Set(float64(len(sh.series)))
}

// tailSegment reads segment seg to its end, waiting at the end while it is
// the newest segment. Samples of records ending at or before skipTo have
// been shipped already and are not sent again.
func (sh *shipper) tailSegment(ctx context.Context, seg int, skipTo position) error {
	f, err := wlog.OpenReadSegment(wlog.SegmentName(sh.walDir, seg))
	if err != nil {
		return err
	}
	defer f.Close()
	sh.m.segment.Set(float64(seg))
	r := wlog.NewLiveReader(sh.log, sh.s.readerMetrics, f)
	var (
		series   []record.RefSeries
		samples  []record.RefSample
		boundary = position{Segment: seg} // end of the last record whose samples are queued
	)
	clear(sh.pend)
	sh.pend = sh.pend[:0]
	for {
		for r.Next() {
			rec := r.Record()
			end := position{Segment: seg, Offset: r.Offset()}
			switch sh.dec.Type(rec) {
			case record.Series:
				if series, err = sh.dec.Series(rec, series[:0]); err != nil {
					return sh.giveUp(ctx, boundary, fmt.Errorf("decode series: %w", err))
				}
				sh.addSeries(series)
			case record.Samples, record.SamplesV2:
				if !end.after(skipTo) {
					break
				}
				if samples, err = sh.dec.Samples(rec, samples[:0]); err != nil {
					return sh.giveUp(ctx, boundary, fmt.Errorf("decode samples: %w", err))
				}
				for _, smp := range samples {
					// A batch sent mid-record keeps the old boundary: the
					// record is not done until its last sample is sent.
					if err := sh.queue(ctx, smp, boundary); err != nil {
						return err
					}
				}
			}
			boundary = end
		}
		if err := r.Err(); err != nil && !errors.Is(err, io.EOF) {
			return sh.giveUp(ctx, boundary, fmt.Errorf("corrupt record at offset %d: %w", r.Offset(), err))
		}
		// Caught up with what is written: send what we have, so a
		// sample is on its way within PollInterval of its commit.
		if err := sh.flush(ctx, boundary); err != nil {
			return err
		}
		_, last, err := wlog.Segments(sh.walDir)
		if err != nil {
			return err
		}
		if last > seg {
			// A newer segment exists, so this one is complete: one more
			// read picks up anything written between Next and Segments.
			if r.Next() {
				// Rare: reread the segment from this record on.
				return sh.tailSegment(ctx, seg, boundary)
			}
			return nil
		}
		if !sleep(ctx, sh.ep.Queue.PollInterval) {
			return ctx.Err()
		}
	}
}

// giveUp ends reading a segment at a corrupt record: the samples queued
// from the records before it are still sent, then err is returned.
func (sh *shipper) giveUp(ctx context.Context, boundary position, err error) error {
	if ferr := sh.flush(ctx, boundary); ferr != nil {
		return ferr
	}
	return err
}

// withExternal adds the external labels a series does not have.
func (sh *shipper) withExternal(ls labels.Labels) labels.Labels {
	if sh.ext.IsEmpty() {
		return ls
	}
	sh.lb.Reset(ls)
	sh.ext.Range(func(l labels.Label) {
		if ls.Get(l.Name) == "" {
			sh.lb.Set(l.Name, l.Value)
		}
	})
	return sh.lb.Labels()
}

// pendingSample is a queued sample with its series' labels.
type pendingSample struct {
	ls labels.Labels
	t  int64
	v  float64
}

// buildBatch spells the queued samples out as remote write time series in
// sh.buf, their labels and samples in two arrays reused from batch to
// batch (the labels' strings point into the series map's).
func (sh *shipper) buildBatch() {
	nl := 0
	for _, p := range sh.pend {
		nl += p.ls.Len()
	}
	sh.lbuf = slices.Grow(sh.lbuf[:0], nl)
	sh.sbuf = slices.Grow(sh.sbuf[:0], len(sh.pend))
	sh.buf = slices.Grow(sh.buf[:0], len(sh.pend))
	for _, p := range sh.pend {
		l0 := len(sh.lbuf)
		p.ls.Range(func(l labels.Label) { sh.lbuf = append(sh.lbuf, prompb.Label{Name: l.Name, Value: l.Value}) })
		sh.sbuf = append(sh.sbuf, prompb.Sample{Timestamp: p.t, Value: p.v})
		sh.buf = append(sh.buf, prompb.TimeSeries{
			Labels:  sh.lbuf[l0:len(sh.lbuf):len(sh.lbuf)],
			Samples: sh.sbuf[len(sh.sbuf)-1 : len(sh.sbuf) : len(sh.sbuf)],
		})
	}
}

// flush sends the queued samples, retrying recoverable failures (network
// errors, 5xx, 429) with backoff until they succeed or ctx ends, and
// dropping the batch on other answers (4xx: the receiver will never take
// it, Prometheus's rule). Then done is saved as the shipped position.
func (sh *shipper) flush(ctx context.Context, done position) error {
	if len(sh.pend) == 0 {
		sh.savePosition(done)
		return nil
	}
	sh.buildBatch()
	n := float64(len(sh.buf))
	req := &prompb.WriteRequest{Timeseries: sh.buf}
	raw, err := req.Marshal()
	if err != nil {
		return fmt.Errorf("encode write request: %w", err)
	}
	body := snappy.Encode(nil, raw)
	highest := sh.saved.MaxT
	for _, ts := range sh.buf {
		highest = max(highest, ts.Samples[0].Timestamp)
	}
	backoff := sh.ep.Queue.MinBackoff
	for attempt := 0; ; attempt++ {
		start := time.Now()
		_, err := sh.client.Store(ctx, body, attempt)
		sh.m.batchDuration.Observe(time.Since(start).Seconds())
		if err == nil {
			sh.m.sent.Add(n)
			sh.m.bytes.Add(float64(len(body)))
			sh.m.highestSent.Set(float64(highest) / 1000)
			break
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		var rerr remote.RecoverableError
		if !errors.As(err, &rerr) {
			sh.m.failed.Add(n)
			sh.log.Warn("remote write refused the batch; dropping it", "samples", len(sh.buf), "err", err)
			break
		}
		sh.m.retried.Add(n)
		if attempt == 0 || attempt%20 == 0 {
			sh.log.Warn("remote write failed; retrying", "samples", len(sh.buf), "attempt", attempt, "err", err)
		}
		if !sleep(ctx, backoff) {
			return ctx.Err()
		}
		backoff = min(2*backoff, sh.ep.Queue.MaxBackoff)
	}
	sh.m.pending.Sub(n)
	// Cleared so the arrays kept for the next batch hold no labels of
	// series the WAL has since dropped.
	clear(sh.pend)
	sh.pend = sh.pend[:0]
	clear(sh.buf)
	sh.buf = sh.buf[:0]
	clear(sh.lbuf[:cap(sh.lbuf)])
	sh.lbuf = sh.lbuf[:0]
	done.MaxT = highest
	sh.savePosition(done)
	return nil
}
