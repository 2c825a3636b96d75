package cwlogs

import (
	"context"
	"errors"
	"fmt"
	"math/bits"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/kinsight/kinsight/internal/auth"
	"github.com/kinsight/kinsight/internal/jsonx"
	"github.com/kinsight/kinsight/internal/logstore"
)

// The follow endpoint, GET /kinsight/v1/logs/tail, streams the events of one
// log group as NDJSON: first everything from startTime on, in (timestamp,
// seq) order, then new events as they are stored, in the order they were
// stored.
//
// Events do not arrive in timestamp order: agents batch for seconds and
// several agents write to one group, so an event stamped 3 s ago is often
// stored after one stamped now. Following by timestamp would skip it or
// have to re-read a window of time. Instead the session follows the store's
// commit sequence (logstore.Follow): at the start it takes the newest Seq
// (FollowSeq), sends the stored events up to it with FilterEvents, then asks
// the store's in-memory head for what was committed after its cursor each
// time the store says something changed. Every event is sent once, however
// late its timestamp, and a wake-up costs the commits since the last one.
//
// A session that falls behind a head flush (a slow client, a long catch-up)
// reads the stretch it missed back from the parts with FilterEvents, limited
// to the Seq range it missed and the time spans that hold it, and then
// follows the head again: nothing is
// skipped, that stretch only comes in timestamp order.
//
// Memory per session is one page (tailPageLimit events, maxPageBytes): the
// session pulls from the store only as fast as the client takes its writes,
// so a slow client slows its own session and holds nothing else up. A client
// that accepts nothing for two heartbeat intervals (30 s by default) is cut:
// the connection is closed and the CLI reconnects from where it was.
const (
	tailPageLimit = 1000
	// tailMinInterval coalesces bursts of appends into one follow step: a
	// busy store closes Changed() hundreds of times a second, and one write
	// and flush per step is the session's main cost.
	tailMinInterval = 50 * time.Millisecond
	// tailSafetyPoll follows even without a change notification, so a
	// missed wake-up costs seconds, not the session.
	tailSafetyPoll = 5 * time.Second
)

// ServeTail serves GET /kinsight/v1/logs/tail?logGroupName=G
// [&logStreamNames=a&logStreamNames=b | &logStreamNamePrefix=P]
// [&filterPattern=F][&startTime=MS]. Errors before the stream starts are
// AWS-shaped JSON; once it has started the stream just ends.
func (h *Handler) ServeTail(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	w.Header().Set("x-amzn-RequestId", newRequestID())
	f, err := h.openTail(w, r)
	code := "OK"
	if err != nil {
		code = h.writeError(w, "Tail", err)
	}
	h.m.requests.WithLabelValues("Tail", code).Inc()
	h.m.duration.WithLabelValues("Tail").Observe(time.Since(start).Seconds())
	if err != nil {
		return
	}
	h.m.tailSessions.Inc()
	defer h.m.tailSessions.Dec()
	err = f.run(r.Context())
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded):
		h.log.Info("cwlogs: tail client took nothing for two heartbeat intervals; disconnected", "group", f.group, "remote", r.RemoteAddr)
	case err != nil && r.Context().Err() == nil:
		h.log.Debug("cwlogs: tail ended", "group", f.group, "err", err)
	}
}

// follower is one tail session.
type follower struct {
	h      *Handler
	w      http.ResponseWriter
	rc     *http.ResponseController
	group  string
	base   logstore.FilterQuery // for reads from the parts
	follow logstore.FollowQuery // After is the cursor
	start  int64                // startTime
	buf    []byte
}

// openTail authenticates and validates the request and, if all is well,
// starts the response.
func (h *Handler) openTail(w http.ResponseWriter, r *http.Request) (*follower, error) {
	if r.Method != http.MethodGet {
		return nil, newError(http.StatusMethodNotAllowed, errUnknownOperation, "Method %s is not supported; use GET.", r.Method)
	}
	if r.ContentLength > 0 {
		return nil, invalidParam("The tail endpoint takes no request body.")
	}
	id, err := h.authenticate(r, []byte{})
	if err != nil {
		return nil, err
	}
	if !auth.Allowed(id.Role, auth.ActionReadLogs) {
		return nil, auth.AccessDenied(h.accountID, id, "logs:StartLiveTail", "")
	}
	q := r.URL.Query()
	group, err := h.groupRef(q.Get("logGroupName"), q.Get("logGroupIdentifier"))
	if err != nil {
		return nil, err
	}
	names := q["logStreamNames"]
	prefix := q.Get("logStreamNamePrefix")
	if err := streamSelection(names, prefix); err != nil {
		return nil, err
	}
	filter, err := parseFilter(q.Get("filterPattern"))
	if err != nil {
		return nil, err
	}
	startTime := h.now().Add(-defaultTailStartBack).UnixMilli()
	if s := q.Get("startTime"); s != "" {
		if startTime, err = strconv.ParseInt(s, 10, 64); err != nil || startTime < 0 {
			var v validationErrors
			v.add("startTime", s, "Member must be a non-negative integer (milliseconds since the epoch)")
			return nil, v.err()
		}
	}
	if _, err := h.store.Group(group); err != nil {
		return nil, err
	}
	f := &follower{
		h:     h,
		w:     w,
		rc:    http.NewResponseController(w),
		group: group,
		base: logstore.FilterQuery{
			Streams:      names,
			StreamPrefix: prefix,
			Filter:       filter,
			Limit:        tailPageLimit,
			MaxBytes:     maxPageBytes,
		},
		follow: logstore.FollowQuery{
			Streams:      names,
			StreamPrefix: prefix,
			Start:        startTime,
			Filter:       filter,
			Limit:        tailPageLimit,
			MaxBytes:     maxPageBytes,
		},
		start: startTime,
	}
	// A follow session outlives any server write timeout; send sets a
	// deadline per write instead.
	_ = f.rc.SetWriteDeadline(time.Time{})
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	if err := f.rc.Flush(); err != nil {
		return nil, err
	}
	return f, nil
}

// run streams until ctx ends (client gone, server stopping) or a write or
// read fails (for instance the group was deleted, or the client stopped
// reading).
func (f *follower) run(ctx context.Context) error {
	// Everything committed up to the cursor is visible to the reads that
	// follow, and everything after it the follow steps send.
	cursor := f.h.store.FollowSeq()
	if _, err := f.sendStored(ctx, f.start, 0, 0, cursor); err != nil {
		return err
	}
	f.follow.After = cursor
	heartbeat := time.NewTimer(f.h.heartbeat)
	defer heartbeat.Stop()
	poll := time.NewTicker(tailSafetyPoll)
	defer poll.Stop()
	var lastStep time.Time
	for {
		// Take the channel before the step, so an append during the step
		// wakes the next wait instead of being missed.
		changed := f.h.store.Changed()
		lastStep = time.Now()
		wrote, err := f.step(ctx)
		if err != nil {
			return err
		}
		if wrote {
			heartbeat.Reset(f.h.heartbeat)
		}
		for waiting := true; waiting; {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-heartbeat.C:
				f.buf = append(f.buf[:0], '\n')
				if err := f.send(); err != nil {
					return err
				}
				heartbeat.Reset(f.h.heartbeat)
			case <-poll.C:
				waiting = false
			case <-changed:
				if d := tailMinInterval - time.Since(lastStep); d > 0 {
					t := time.NewTimer(d)
					select {
					case <-ctx.Done():
						t.Stop()
						return ctx.Err()
					case <-t.C:
					}
				}
				waiting = false
			}
		}
	}
}

// step sends every event committed after the cursor.
func (f *follower) step(ctx context.Context) (wrote bool, err error) {
	for {
		res, err := f.h.store.Follow(ctx, f.group, f.follow)
		if err != nil {
			return wrote, err
		}
		if res.Behind {
			// The head that held them was flushed: read the missed Seq
			// range back from the parts.
			f.h.log.Debug("cwlogs: tail fell behind a flush; reading the missed events from parts", "group", f.group, "after", f.follow.After, "through", res.MissedThrough)
			spans := res.MissedSpans
			if spans == nil {
				spans = []logstore.TimeSpan{{Start: f.start}}
			}
			for _, sp := range spans {
				if sp.End != 0 && sp.End <= f.start {
					continue
				}
				w, err := f.sendStored(ctx, max(f.start, sp.Start), sp.End, f.follow.After, res.MissedThrough)
				wrote = wrote || w
				if err != nil {
					return wrote, err
				}
			}
			f.follow.After = res.MissedThrough
			continue
		}
		f.buf = f.buf[:0]
		for _, r := range res.Records {
			f.buf = appendTailEvent(f.buf, r)
		}
		if len(f.buf) > 0 {
			if err := f.send(); err != nil {
				return wrote, err
			}
			wrote = true
		}
		f.follow.After = res.Next
		if !res.More {
			return wrote, nil
		}
		if err := ctx.Err(); err != nil {
			return wrote, err
		}
	}
}

// sendStored sends the stored events stamped in [from, end) (end 0: no
// bound) whose Seq is in (lo, hi], in (timestamp, seq) order, reading page
// by page with FilterEvents.
func (f *follower) sendStored(ctx context.Context, from, end int64, lo, hi uint64) (wrote bool, err error) {
	var after *logstore.Pos
	for {
		q := f.base
		q.Start, q.End = from, end
		q.After = after
		q.Deadline = time.Now().Add(f.h.budget)
		res, err := f.h.store.FilterEvents(ctx, f.group, q)
		if err != nil {
			return wrote, err
		}
		f.buf = f.buf[:0]
		for _, r := range res.Records {
			if r.Seq > lo && r.Seq <= hi {
				f.buf = appendTailEvent(f.buf, r)
			}
		}
		if len(f.buf) > 0 {
			if err := f.send(); err != nil {
				return wrote, err
			}
			wrote = true
		}
		if !res.More {
			return wrote, nil
		}
		if err := ctx.Err(); err != nil {
			return wrote, err
		}
		next := res.Next
		after = &next
	}
}

// send writes and flushes f.buf. A client that takes nothing for two
// heartbeat intervals is cut rather than holding its session, goroutine
// and connection forever.
func (f *follower) send() error {
	_ = f.rc.SetWriteDeadline(time.Now().Add(2 * f.h.heartbeat))
	if _, err := f.w.Write(f.buf); err != nil {
		return fmt.Errorf("writing to the tail client: %w", err)
	}
	if err := f.rc.Flush(); err != nil {
		return fmt.Errorf("flushing to the tail client: %w", err)
	}
	return nil
}

// appendTailEvent appends r as one NDJSON line in the FilteredLogEvent
// shape, the bytes encoding/json would write (SetEscapeHTML(false)).
func appendTailEvent(b []byte, r logstore.Record) []byte {
	b = append(b, `{"logStreamName":`...)
	b = jsonx.AppendString(b, r.Stream)
	b = append(b, `,"timestamp":`...)
	b = strconv.AppendInt(b, r.Timestamp, 10)
	b = append(b, `,"message":`...)
	b = jsonx.AppendString(b, r.Message)
	b = append(b, `,"ingestionTime":`...)
	b = strconv.AppendInt(b, r.IngestionTime, 10)
	b = append(b, `,"eventId":"`...)
	b = appendPos(b, logstore.PosOf(r))
	return append(b, '"', '}', '\n')
}

// appendPos appends formatPos(p) (the eventId) without big.Int, which cost
// a third of the tail's encoding: the 128-bit number is cut into three
// base-10^19 chunks, each written zero-padded.
func appendPos(b []byte, p logstore.Pos) []byte {
	const chunk = 1e19
	hi, lo := uint64(p.Timestamp)^(1<<63), p.Seq
	var c [3]uint64
	for i := range 2 {
		qhi, rhi := hi/chunk, hi%chunk
		qlo, r := bits.Div64(rhi, lo, chunk)
		hi, lo, c[i] = qhi, qlo, r
	}
	c[2] = lo // hi is 0 now: 2^128 < 10^57 and two chunks took 38 digits
	b = appendPadded(b, c[2], posDigits-38)
	b = appendPadded(b, c[1], 19)
	return appendPadded(b, c[0], 19)
}

// appendPadded appends v in decimal, zero-padded to width digits.
func appendPadded(b []byte, v uint64, width int) []byte {
	var d [20]byte
	i := len(d)
	for v > 0 {
		i--
		d[i] = byte('0' + v%10)
		v /= 10
	}
	for len(d)-i < width {
		i--
		d[i] = '0'
	}
	return append(b, d[i:]...)
}
