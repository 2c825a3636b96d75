package cwlogs

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/kinsight/kinsight/internal/auth"
	"github.com/kinsight/kinsight/internal/logstore"
)

// The follow endpoint, GET /kinsight/v1/logs/tail, streams the events of one
// log group as NDJSON: first everything from startTime on, in (timestamp,
// seq) order, then new events as they are stored.
//
// Events do not arrive in timestamp order: agents batch for seconds and
// several agents write to one group, so an event stamped 3 s ago is often
// stored after one stamped now. Following by position alone would skip it.
// Instead each scan re-reads a window reaching TailLateWindow behind the
// newest event sent and skips what it already sent (a set of positions,
// pruned as the window moves). An event arriving later than that window is
// not sent; docs/api.md says so. Late events are sent when they arrive, so
// after catch-up the order is arrival order, not strictly timestamp order.
const (
	tailPageLimit = 1000
	// tailMinInterval coalesces bursts of appends into one scan: a busy
	// store closes Changed() thousands of times a second.
	tailMinInterval = 200 * time.Millisecond
	// tailSafetyPoll rescans even without a change notification, so a
	// missed wake-up costs seconds, not the session.
	tailSafetyPoll = 5 * time.Second
	// tailMaxSeen bounds the dedup set; past it the late window collapses
	// to the newest event for that scan.
	tailMaxSeen = 200000
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
	if err := f.run(r.Context()); err != nil && r.Context().Err() == nil {
		h.log.Debug("cwlogs: tail ended", "group", f.group, "err", err)
	}
}

// follower is one tail session.
type follower struct {
	h      *Handler
	w      http.ResponseWriter
	rc     *http.ResponseController
	group  string
	base   logstore.FilterQuery
	start  int64 // startTime
	floor  int64 // the window never moves back
	newest int64 // newest timestamp sent
	seen   map[logstore.Pos]struct{}
	buf    bytes.Buffer
	enc    *json.Encoder
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
		start:  startTime,
		floor:  startTime,
		newest: startTime,
		seen:   make(map[logstore.Pos]struct{}),
	}
	f.enc = json.NewEncoder(&f.buf)
	f.enc.SetEscapeHTML(false)
	// A follow session outlives any server write timeout.
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
// read fails (for instance the group was deleted).
func (f *follower) run(ctx context.Context) error {
	heartbeat := time.NewTimer(f.h.heartbeat)
	defer heartbeat.Stop()
	poll := time.NewTicker(tailSafetyPoll)
	defer poll.Stop()
	var lastScan time.Time
	for {
		// Take the channel before scanning, so an append during the scan
		// wakes the next wait instead of being missed.
		changed := f.h.store.Changed()
		lastScan = time.Now()
		wrote, err := f.scan(ctx)
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
				if _, err := f.w.Write([]byte("\n")); err != nil {
					return err
				}
				if err := f.rc.Flush(); err != nil {
					return err
				}
				heartbeat.Reset(f.h.heartbeat)
			case <-poll.C:
				waiting = false
			case <-changed:
				if d := tailMinInterval - time.Since(lastScan); d > 0 {
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

// scan sends every not-yet-sent event of the current window.
func (f *follower) scan(ctx context.Context) (wrote bool, err error) {
	now := f.h.now().UnixMilli()
	winStart := max(f.start, min(f.newest, now)-f.h.lateWin.Milliseconds(), f.floor)
	if len(f.seen) > tailMaxSeen {
		winStart = max(winStart, f.newest)
	}
	f.floor = winStart
	for p := range f.seen {
		if p.Timestamp < winStart {
			delete(f.seen, p)
		}
	}
	var after *logstore.Pos
	for {
		q := f.base
		q.Start = winStart
		q.After = after
		q.Deadline = time.Now().Add(f.h.budget)
		res, err := f.h.store.FilterEvents(ctx, f.group, q)
		if err != nil {
			return wrote, err
		}
		f.buf.Reset()
		for _, r := range res.Records {
			p := logstore.PosOf(r)
			if _, ok := f.seen[p]; ok {
				continue
			}
			f.seen[p] = struct{}{}
			f.newest = max(f.newest, r.Timestamp)
			_ = f.enc.Encode(filteredEvent{
				LogStreamName: r.Stream,
				Timestamp:     r.Timestamp,
				Message:       r.Message,
				IngestionTime: r.IngestionTime,
				EventID:       eventID(r),
			})
		}
		if f.buf.Len() > 0 {
			if _, err := f.w.Write(f.buf.Bytes()); err != nil {
				return wrote, err
			}
			if err := f.rc.Flush(); err != nil {
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
