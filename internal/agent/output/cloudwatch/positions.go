package cloudwatch

import (
	"strconv"
)

// PositionsHeader is the request header that tells a kinsight server where
// each event of a PutLogEvents body comes from, so events the agent sends
// again after a crash (it re-reads from its conservative checkpoint) are
// recognised and skipped. Format (docs: the positions contract):
//
//	X-Kinsight-Positions: v1;<run>[;<run>]...
//	run = <source hex>,<channel>,<end0>[,<delta>]...
//
// A run covers consecutive events in body order; each delta is >= 1 (a
// non-increasing end starts a new run). The server drops an event whose
// end is at or below the highest end it stored for that (source, channel)
// in the stream, so the agent must never send a later event of a channel
// with a lower end than an earlier one: appendPositions refuses such
// batches and they go without the header (delivered, not deduplicated).
const PositionsHeader = "X-Kinsight-Positions"

// DuplicatesHeader is the server's answer: how many events it skipped.
const DuplicatesHeader = "X-Kinsight-Duplicates"

type chanKey struct {
	source  uint64
	channel uint8
}

// appendPositions appends the header value for events to b. ok is false
// when an event has no position (End <= 0) or a channel's ends do not
// strictly increase in body order: then no header may be sent. last is
// scratch space for the per-channel check, reused across calls.
func appendPositions(b []byte, events []Event, last map[chanKey]int64) (_ []byte, ok bool) {
	if len(events) == 0 {
		return b, false
	}
	clear(last)
	b = append(b, "v1"...)
	var prev *Event
	for i := range events {
		e := &events[i]
		if e.End <= 0 {
			return b, false
		}
		k := chanKey{e.Source, e.Channel}
		if m, seen := last[k]; seen && e.End <= m {
			return b, false
		}
		last[k] = e.End
		if prev != nil && prev.Source == e.Source && prev.Channel == e.Channel && e.End > prev.End {
			b = append(b, ',')
			b = strconv.AppendInt(b, e.End-prev.End, 10)
		} else {
			b = append(b, ';')
			b = strconv.AppendUint(b, e.Source, 16)
			b = append(b, ',')
			b = strconv.AppendUint(b, uint64(e.Channel), 10)
			b = append(b, ',')
			b = strconv.AppendInt(b, e.End, 10)
		}
		prev = e
	}
	return b, true
}
