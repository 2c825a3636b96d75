package pipeline

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/kinsight/kinsight/internal/agent/buffer"
	"github.com/kinsight/kinsight/internal/agent/output/cloudwatch"
)

// send runs Config.Senders delivery workers until ctx ends. One stream's
// items are delivered one at a time and in push order (events of the same
// millisecond in two batches keep their order, and a retry never lets a
// later batch overtake), but any idle worker takes any other stream: an
// item waits only behind its own stream, never behind a slow request of a
// stream that happened to share its worker.
//
// To a kinsight server (cloudwatch.Output.Batches) a worker takes the
// ready items of up to cloudwatch.MaxBatchParts idle streams at once and
// delivers them in one PutLogEventsBatch request: the items that become
// ready within gatherWait of the first are gathered (or as many as are
// ready when a worker frees up). Each item is still acknowledged, and
// retried, on its own.
func (p *Pipeline) send(ctx context.Context) {
	d := &dispatch{busy: map[string][]sendItem{}}
	work := make(chan []sendItem) // unbuffered: handed to an idle worker
	var wg sync.WaitGroup
	for range p.cfg.Senders {
		wg.Go(func() { p.sendWorker(ctx, work, d) })
	}
	// The buffer's items come through in, so that gathering can wait for
	// the next item and the linger timer at once.
	in := make(chan buffer.Item)
	go func() {
		defer close(in)
		for {
			item, err := p.buf.Next(ctx)
			if err != nil {
				return
			}
			select {
			case in <- item:
			case <-ctx.Done():
				p.nack(item.ID)
				return
			}
		}
	}()
	var group []sendItem
	defer func() {
		// No worker will take these streams: hand back the items and
		// whatever queued behind them.
		for _, it := range group {
			for ok := true; ok; it, ok = d.next(it.key) {
				p.nack(it.ID)
			}
		}
		for item := range in {
			p.nack(item.ID)
		}
		close(work)
		wg.Wait()
	}()
	linger := time.NewTimer(time.Hour)
	linger.Stop()
	var lingerC <-chan time.Time
	groupBytes, ready := 0, false
	for {
		maxParts := 1
		if p.cw != nil && p.cw.Batches() {
			maxParts = cloudwatch.MaxBatchParts
		}
		full := len(group) >= maxParts || groupBytes >= maxGatherBytes
		var out chan<- []sendItem
		if len(group) > 0 && (full || ready || maxParts == 1) {
			out = work
		}
		recv := in
		if full {
			recv = nil
		}
		select {
		case item, ok := <-recv:
			if !ok {
				return // ctx ended
			}
			grp, stream, err := payloadStream(item.Payload)
			if err != nil {
				p.log.Error("dropping a corrupt buffer item", "id", item.ID, "err", err)
				_ = p.buf.Ack(item.ID)
				continue
			}
			it := sendItem{Item: item, key: grp + "\x00" + stream}
			if d.queue(it) {
				continue // its stream's worker delivers it next
			}
			group = append(group, it)
			groupBytes += len(item.Payload)
			if len(group) == 1 && maxParts > 1 {
				linger.Reset(gatherWait)
				lingerC = linger.C
			}
		case <-lingerC:
			ready, lingerC = true, nil
		case out <- group:
			linger.Stop()
			group, groupBytes, ready, lingerC = nil, 0, false, nil
		case <-ctx.Done():
			return
		}
	}
}

const (
	// gatherWait is how long the first ready item of a gathered request
	// waits for others while workers are idle. The processor pushes a
	// phase's batches (pushSlots) within a few milliseconds of each other,
	// so this catches them together; it adds at most this to the latency.
	gatherWait = 20 * time.Millisecond
	// maxGatherBytes bounds the payloads gathered for one request (the
	// output splits a request further by the events' sizes). A payload
	// holds its stream's kubernetes object once, the body once per event,
	// so 128 KiB of payloads make a body of ~600 KB, and the body, its
	// compressed copy (sized for the worst case) and the pooled spares
	// stay small: at 4 MiB the steady RSS was 61–63 MB, and in a catch-up
	// multi-megabyte bodies cost a fifth more GC cycles (201 → 165) and
	// 12% of the agent's CPU (4.13 → 3.63 CPU-s). At 10,000 lines/s it
	// means ~34 requests a second instead of ~8, for the same CPU.
	maxGatherBytes = 128 << 10
)

// sendItem is a buffer item with its stream's key (group NUL stream).
type sendItem struct {
	buffer.Item
	key string
}

// dispatch tracks the streams being delivered and the items waiting
// behind each. The buffer's MaxInFlight bounds how many items it holds.
type dispatch struct {
	mu sync.Mutex
	// busy has a key for every stream a worker is delivering (or about to);
	// its value is the stream's next items, in push order.
	busy map[string][]sendItem
}

// queue appends item behind its stream's delivery and reports true, or
// marks the stream busy and reports false (the caller hands it to a worker).
func (d *dispatch) queue(item sendItem) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if q, ok := d.busy[item.key]; ok {
		d.busy[item.key] = append(q, item)
		return true
	}
	d.busy[item.key] = nil
	return false
}

// next returns the stream's next waiting item, or marks the stream idle.
func (d *dispatch) next(key string) (sendItem, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	q := d.busy[key]
	if len(q) == 0 {
		delete(d.busy, key)
		return sendItem{}, false
	}
	item := q[0]
	q[0] = sendItem{}
	d.busy[key] = q[1:]
	return item, true
}

// sendWorker delivers each group of items it is handed (of distinct
// streams), then the items that queued behind them on the same streams,
// retrying each until it is acknowledged or ctx ends (then it is handed
// back).
func (p *Pipeline) sendWorker(ctx context.Context, groups <-chan []sendItem, d *dispatch) {
	var next []sendItem
	for group := range groups {
		for len(group) > 0 {
			if ctx.Err() != nil {
				for _, it := range group {
					p.nack(it.ID)
				}
			} else {
				p.deliverGroup(ctx, group)
			}
			next = next[:0]
			for _, it := range group {
				if n, ok := d.next(it.key); ok {
					next = append(next, n)
				}
			}
			group, next = next, group
		}
	}
}

// deliverGroup delivers items of distinct streams: in one batch request
// when the output takes them (each part acknowledged on its own), the
// parts it did not deliver, and every item otherwise, one by one. A lone
// item goes in a batch request too: it skips the SDK's middleware stack,
// most of a request's cost in a catch-up (thousands of one-stream items).
func (p *Pipeline) deliverGroup(ctx context.Context, group []sendItem) {
	if p.cw == nil || !p.cw.Batches() {
		for _, it := range group {
			p.deliver(ctx, it.Item)
		}
		return
	}
	type decoded struct {
		item buffer.Item
		pl   payload
	}
	ds := make([]decoded, 0, len(group))
	parts := make([]cloudwatch.Part, 0, len(group))
	for _, it := range group {
		pl, err := decodePayloadInto(p.pool.getEvents(), it.Payload)
		if err != nil {
			p.log.Error("dropping a corrupt buffer item", "id", it.ID, "err", err)
			_ = p.buf.Ack(it.ID)
			continue
		}
		ds = append(ds, decoded{it.Item, pl})
		parts = append(parts, cloudwatch.Part{Group: pl.Group, Stream: pl.Stream, Events: pl.Events})
	}
	errs := p.cw.SendMany(ctx, parts)
	acked := false
	for i := range ds {
		if errs[i] == nil {
			p.acked(ds[i].item, &ds[i].pl)
			acked = true
		}
	}
	if acked {
		p.committed()
	}
	for i := range ds {
		if errs[i] == nil {
			continue
		}
		if !errors.Is(errs[i], cloudwatch.ErrNotBatched) {
			p.log.Debug("batch request part failed; sending it on its own", "group", ds[i].pl.Group, "stream", ds[i].pl.Stream, "err", errs[i])
		}
		if ctx.Err() != nil {
			p.nack(ds[i].item.ID)
			continue
		}
		p.deliverPayload(ctx, ds[i].item, ds[i].pl)
	}
}

// deliver sends one item until acknowledged; a *cloudwatch.SendError's
// acknowledged prefix is not sent again.
func (p *Pipeline) deliver(ctx context.Context, item buffer.Item) {
	pl, err := decodePayloadInto(p.pool.getEvents(), item.Payload)
	if err != nil {
		p.log.Error("dropping a corrupt buffer item", "id", item.ID, "err", err)
		_ = p.buf.Ack(item.ID)
		return
	}
	p.deliverPayload(ctx, item, pl)
}

// deliverPayload is deliver for an item already decoded into pl.
func (p *Pipeline) deliverPayload(ctx context.Context, item buffer.Item, pl payload) {
	events := pl.Events
	if p.cw == nil {
		// Quoted records (from a disk buffer an agent with the CloudWatch
		// output wrote) go to other senders as plain text.
		for i := range events {
			if events[i].Quoted {
				events[i] = cloudwatch.Event{Timestamp: events[i].Timestamp, Message: events[i].Text()}
			}
		}
	}
	for attempt := 1; ; attempt++ {
		err := p.out.Send(ctx, pl.Group, pl.Stream, events)
		if err == nil {
			p.acked(item, &pl)
			p.committed()
			return
		}
		var se *cloudwatch.SendError
		if errors.As(err, &se) {
			events = events[min(se.Acked, len(events)):]
		}
		if ctx.Err() != nil {
			p.nack(item.ID)
			return
		}
		if _, dropped := p.inFlightDrops.Load(item.ID); dropped {
			p.settleDrop(item.ID, false) // the buffer gave up on it: so do we
			return
		}
		p.log.Warn("send failed; retrying", "group", pl.Group, "stream", pl.Stream, "attempt", attempt, "err", err)
		ceiling := min(200*time.Millisecond<<min(attempt, 8), 30*time.Second)
		select {
		case <-ctx.Done():
			p.nack(item.ID)
			return
		case <-time.After(time.Duration(rand.Int64N(int64(ceiling))) + 10*time.Millisecond):
		}
	}
}

// acked settles an item the destination acknowledged.
func (p *Pipeline) acked(item buffer.Item, pl *payload) {
	aerr := p.buf.Ack(item.ID)
	if aerr != nil && !errors.Is(aerr, buffer.ErrNotInFlight) {
		p.log.Warn("buffer ack", "err", aerr)
	}
	p.settleDrop(item.ID, true)
	p.lastAck.Store(time.Now().UnixNano())
	if p.cw != nil && (aerr == nil || errors.Is(aerr, buffer.ErrNotInFlight)) {
		// Delivered: neither the buffer nor the output holds the
		// payload or its events now (pool.go).
		p.pool.putEvents(pl.Events)
		p.pool.put(item.Payload)
	}
}

// committed follows acknowledgements: commit now, not at the next tick,
// so a crash repeats as little as possible; the saver writes as soon as
// it can.
func (p *Pipeline) committed() {
	p.commit()
	select {
	case p.saveNow <- struct{}{}:
	default:
	}
}
