package pipeline

import (
	"sync"

	"github.com/kinsight/kinsight/internal/agent/buffer"
	"github.com/kinsight/kinsight/internal/agent/output/cloudwatch"
)

// Batch payloads were a third of what the agent allocated at a steady
// 10,000 lines/s (about 1 KB a record, each batch a new buffer), and the
// collector's cycles follow the allocation rate. A payload's bytes are
// free again once its delivery is acknowledged: the buffer drops its
// reference at Ack (or copied it to disk when it spilled), the output's
// request body is a copy, and nothing else holds the decoded events. So
// deliver hands acknowledged payloads back here and batches take theirs
// from here.

type payloadPool struct {
	bytes  buffer.BytePool
	events sync.Pool // *[]cloudwatch.Event
}

// get returns an empty buffer of capacity at least n.
func (pp *payloadPool) get(n int) []byte { return pp.bytes.Get(n) }

// put gives b back; the caller must not use it (or anything decoded from
// it without a copy) again.
func (pp *payloadPool) put(b []byte) { pp.bytes.Put(b) }

// getEvents returns an empty event slice for decoding a payload.
func (pp *payloadPool) getEvents() []cloudwatch.Event {
	if e, ok := pp.events.Get().(*[]cloudwatch.Event); ok {
		return (*e)[:0]
	}
	return nil
}

// putEvents gives back a decoded event slice, cleared so that it keeps
// no payload alive.
func (pp *payloadPool) putEvents(evs []cloudwatch.Event) {
	if cap(evs) == 0 || cap(evs) > 64<<10 {
		return
	}
	evs = evs[:cap(evs)]
	clear(evs)
	evs = evs[:0]
	pp.events.Put(&evs)
}
