package cloudwatch

import (
	"bytes"
	"context"
	"fmt"
	"strconv"

	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/kinsight/kinsight/internal/agent/buffer"
	"github.com/kinsight/kinsight/internal/jsonx"
)

// The SDK's JSON serializer escapes every message byte by byte and wants
// two pointers per event; for PutLogEvents, most of the agent's output
// work, that was the largest single cost (13% of the agent's CPU). Send
// instead hands the SDK an empty event list, the real events travel in the
// context, and fastBody, right after the SDK's serializer, replaces the
// request body with the same JSON written by jsonx. Everything else
// (endpoint, headers, compression, signing, response and errors) stays the
// SDK's.

type fastEventsKey struct{}

// withFastEvents carries events (and their positions header value, if
// any) for fastBody.
func withFastEvents(ctx context.Context, pool *buffer.BytePool, group, stream string, events []Event, positions string) (context.Context, *fastEvents) {
	fe := &fastEvents{pool: pool, group: group, stream: stream, events: events, positions: positions}
	return context.WithValue(ctx, fastEventsKey{}, fe), fe
}

type fastEvents struct {
	// pool is where the request's body buffers come from and go back to
	// (the Output's: without it they were most of the agent's allocations).
	pool          *buffer.BytePool
	group, stream string
	events        []Event
	// positions is the X-Kinsight-Positions value, "" for none. It is set
	// here, in Serialize, so signing (Finalize) covers it.
	positions string
	// bufs are the buffers this request's body was built in; put hands
	// them back to pool once the destination answered 200 (it has read
	// the whole body then, so nothing still reads them).
	bufs [][]byte
}

// getBuf returns an empty buffer of capacity at least n, which the
// request then owns (fe.bufs). Sizes are not rounded beyond the pool's
// quarter-step classes: a miss in one class is served from the next two
// (BytePool.Get), and PutLogEventsBatch bodies stay under ~600 KB
// (pipeline's maxGatherBytes), so rounding them up to a power of two
// only held more memory (steady RSS 61 → 58–59 MB with both changes).
func (fe *fastEvents) getBuf(n int) []byte {
	return fe.pool.Get(n)
}

// putBufs hands the request's buffers back.
func (fe *fastEvents) putBufs() {
	for _, b := range fe.bufs {
		fe.pool.Put(b)
	}
	fe.bufs = nil
}

// eventsBodyLen estimates the bytes events take in a PutLogEvents body,
// to size its buffer once. Plain messages are JSON records: escaping
// their quotes adds about a sixth.
func eventsBodyLen(events []Event) int {
	n := 0
	for i := range events {
		e := &events[i]
		n += e.quotedLen() + 40
		if !e.Quoted {
			n += len(e.Message) / 4
		}
	}
	return n
}

// rawBody is a request body whose bytes the compressor can take without
// reading the stream.
type rawBody struct {
	*bytes.Reader
	raw []byte
}

func (r rawBody) Bytes() []byte { return r.raw }

// appendPutLogEventsBody writes PutLogEvents' JSON body.
func appendPutLogEventsBody(b []byte, fe *fastEvents) []byte {
	b = append(b, `{"logEvents":[`...)
	for i := range fe.events {
		e := &fe.events[i]
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"message":`...)
		if e.Quoted {
			b = e.appendQuoted(b)
		} else {
			b = jsonx.AppendString(b, e.Message)
		}
		b = append(b, `,"timestamp":`...)
		b = strconv.AppendInt(b, e.Timestamp, 10)
		b = append(b, '}')
	}
	b = append(b, `],"logGroupName":`...)
	b = jsonx.AppendString(b, fe.group)
	b = append(b, `,"logStreamName":`...)
	b = jsonx.AppendString(b, fe.stream)
	return append(b, '}')
}

type fastBody struct{}

func (fastBody) ID() string { return "KinsightPutLogEventsBody" }

func (fastBody) HandleSerialize(ctx context.Context, in middleware.SerializeInput, next middleware.SerializeHandler) (middleware.SerializeOutput, middleware.Metadata, error) {
	fe, _ := ctx.Value(fastEventsKey{}).(*fastEvents)
	req, ok := in.Request.(*smithyhttp.Request)
	if fe == nil || !ok || middleware.GetOperationName(ctx) != "PutLogEvents" {
		return next.HandleSerialize(ctx, in)
	}
	n := 64 + len(fe.group) + len(fe.stream) + eventsBodyLen(fe.events)
	body := appendPutLogEventsBody(fe.getBuf(n), fe)
	fe.bufs = append(fe.bufs, body)
	r, err := req.SetStream(rawBody{bytes.NewReader(body), body})
	if err != nil {
		return middleware.SerializeOutput{}, middleware.Metadata{}, fmt.Errorf("set PutLogEvents body: %w", err)
	}
	r.ContentLength = int64(len(body))
	if fe.positions != "" {
		r.Header.Set(PositionsHeader, fe.positions)
	}
	in.Request = r
	return next.HandleSerialize(ctx, in)
}
