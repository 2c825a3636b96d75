package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/spf13/cobra"
)

// tailPath is kinsight's streaming tail endpoint, beside the CloudWatch Logs
// API on the same listener. Real CloudWatch Logs answers it with 404, which
// is how tail knows to fall back to polling.
const tailPath = "/kinsight/v1/logs/tail"

// emptyBodySHA256 is the SigV4 payload hash of a request without a body.
const emptyBodySHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

// maxTailLine bounds one NDJSON line: a 256 KiB event message can grow six
// times when JSON escapes every byte, plus the other fields.
const maxTailLine = 2 << 20

var (
	errTailUnsupported = errors.New("the server has no streaming tail endpoint")
	errTailIdle        = errors.New("nothing received, not even a heartbeat")
	errLineTooLong     = errors.New("line longer than the limit")
)

func (l *logsCmd) tailCmd() *cobra.Command {
	var (
		sel    eventSelector
		since  string
		follow bool
	)
	cmd := &cobra.Command{
		Use:   "tail GROUP",
		Short: "Print recent events of a group, and with -f keep printing new ones",
		Long: `Print the events of GROUP from the last --since (default 10m), like
"aws logs tail". With -f/--follow, keep printing new events as they arrive
until interrupted: from kinsight's streaming endpoint, reconnecting with
backoff after a disconnect without repeating or losing events, or, when the
server has no such endpoint (CloudWatch Logs itself), by polling
FilterLogEvents every second.

Table rows: TIME STREAM MESSAGE. --output json prints one JSON object per line
(NDJSON): {"logStreamName","timestamp","message","ingestionTime","eventId"}.`,
		Example: `  kinsight logs tail /aws/containerinsights/dev/application -f
  kinsight logs tail app --since 1h --filter-pattern ERROR --stream-prefix web-`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if err := sel.check(); err != nil {
				return err
			}
			d, err := parseAgo(since)
			if err != nil {
				return fmt.Errorf("--since: %w", err)
			}
			conn, err := l.dial(ctx)
			if err != nil {
				return err
			}
			t := &tailer{
				conn:         conn,
				group:        args[0],
				sel:          sel,
				p:            l.printer(),
				warn:         func(msg string) { fmt.Fprintln(l.env.Stderr, "kinsight:", msg) },
				now:          l.now,
				pollInterval: time.Second,
				// A resumed request looks 10 s back for events stored late
				// while it was away (one stream sends all of them itself).
				lateWindow: 10 * time.Second,
				idle:       time.Minute,
				minBackoff: 250 * time.Millisecond,
				maxBackoff: 15 * time.Second,
			}
			return t.run(ctx, l.now().Add(-d).UnixMilli(), follow)
		},
	}
	sel.addFlags(cmd)
	f := cmd.Flags()
	f.StringVar(&since, "since", "10m", "start this long ago (30s, 15m, 2h, 1d)")
	f.BoolVarP(&follow, "follow", "f", false, "keep printing new events until interrupted")
	f.StringVar(&sel.pattern, "filter-pattern", "", "only events matching this CloudWatch Logs filter pattern")
	return cmd
}

// tailCursor remembers what has been printed, so a reconnect or a poll can
// ask again from a little before it without printing an event twice.
//
// Asking from the newest timestamp printed is not enough: agents batch for
// seconds, so an event stamped before the newest one can still arrive (one
// server stream sends every event stored while it runs, however late, but a
// new request starts from a timestamp). The cursor therefore resumes
// lateWindow behind the newest timestamp and keeps the ids printed in that
// window to skip the replay. With lateWindow 0 it resumes at the newest
// timestamp and only ids at that millisecond matter.
type tailCursor struct {
	floor  int64 // the requested start; resuming never goes before it
	newest int64 // newest timestamp printed
	window int64 // lateWindow in milliseconds
	ids    map[string]int64
	// nextPrune amortizes dropping ids that fell out of the window.
	nextPrune int64
}

// maxCursorIDs bounds the cursor's memory on a very busy group; past it
// the window shrinks to the newest millisecond until it empties.
const maxCursorIDs = 200000

func newTailCursor(startMs int64, lateWindow time.Duration) *tailCursor {
	return &tailCursor{floor: startMs, newest: startMs, window: lateWindow.Milliseconds(), ids: map[string]int64{}}
}

// resumeAt is the startTime for the next request.
func (c *tailCursor) resumeAt() int64 { return max(c.floor, c.newest-c.window) }

// admit reports whether e has not been printed yet, and records it.
func (c *tailCursor) admit(e logEvent) bool {
	key := e.EventID
	if key == "" {
		key = e.LogStreamName + "\x00" + e.Message
	}
	if ts, dup := c.ids[key]; dup && ts == e.Timestamp {
		return false
	}
	if e.Timestamp > c.newest {
		c.newest = e.Timestamp
		if c.newest >= c.nextPrune || len(c.ids) >= maxCursorIDs {
			c.prune()
		}
	}
	if e.Timestamp >= c.newest-c.window {
		c.ids[key] = e.Timestamp
	}
	return true
}

func (c *tailCursor) prune() {
	edge := c.newest - c.window
	if len(c.ids) >= maxCursorIDs {
		// Forgetting ids means a resume must not replay their events.
		edge = c.newest
		c.floor = max(c.floor, edge)
	}
	for k, ts := range c.ids {
		if ts < edge {
			delete(c.ids, k)
		}
	}
	c.nextPrune = c.newest + max(c.window/4, 1)
}

// tailer runs `logs tail`: one FilterLogEvents pass over the recent past,
// then, when following, the stream or the polling fallback.
type tailer struct {
	conn  *logsConn
	group string
	sel   eventSelector
	p     *printer
	warn  func(string)
	now   func() time.Time

	pollInterval time.Duration
	// lateWindow is how far behind the newest event a resumed request
	// starts, to catch events stored late (see tailCursor).
	lateWindow time.Duration
	// idle is how long the stream may stay silent (no event, no heartbeat)
	// before it is presumed dead and reconnected.
	idle                   time.Duration
	minBackoff, maxBackoff time.Duration
}

func (t *tailer) run(ctx context.Context, startMs int64, follow bool) error {
	cur := newTailCursor(startMs, t.lateWindow)
	if err := t.poll(ctx, cur); err != nil || !follow {
		return err
	}
	err := t.stream(ctx, cur)
	if errors.Is(err, errTailUnsupported) {
		err = t.pollLoop(ctx, cur)
	}
	if ctx.Err() != nil {
		// Interrupting is how a follow ends; it is not a failure.
		return nil
	}
	return err
}

// emit prints e unless the cursor has seen it.
func (t *tailer) emit(cur *tailCursor, e logEvent) error {
	if !cur.admit(e) {
		return nil
	}
	return t.p.event(e)
}

// poll prints every event from the cursor on (FilterLogEvents, all pages).
func (t *tailer) poll(ctx context.Context, cur *tailCursor) error {
	in := t.sel.filterInput(t.group, aws.Int64(cur.resumeAt()), nil)
	err := filterPages(ctx, t.conn.api, in, 0, func(e logEvent) (bool, error) {
		return false, t.emit(cur, e)
	}, t.p.flush)
	if err != nil {
		return err
	}
	return t.p.flush()
}

// pollLoop follows by polling. Errors the server answered are final; a
// failed connection is reported and retried, as the stream would.
func (t *tailer) pollLoop(ctx context.Context, cur *tailCursor) error {
	for {
		if err := t.poll(ctx, cur); err != nil {
			var ae *awsAPIError
			if errors.As(err, &ae) || ctx.Err() != nil {
				return err
			}
			t.warn(fmt.Sprintf("tail poll: %v; retrying", err))
		}
		if !sleepCtx(ctx, t.pollInterval) {
			return nil
		}
	}
}

// stream follows through the streaming endpoint until ctx ends or an error
// that reconnecting cannot fix; errTailUnsupported when there is no
// endpoint.
func (t *tailer) stream(ctx context.Context, cur *tailCursor) error {
	backoff := t.minBackoff
	for attempt := 0; ; attempt++ {
		delivered, err := t.connect(ctx, cur)
		if ctx.Err() != nil {
			return nil
		}
		// An endpoint that answered before and is gone now is a server
		// restarting behind a proxy, not CloudWatch Logs: keep trying.
		if errors.Is(err, errTailUnsupported) && attempt == 0 {
			return err
		}
		var perm *permanentError
		if errors.As(err, &perm) {
			return perm.err
		}
		if delivered {
			backoff = t.minBackoff
		}
		if err == nil {
			err = errors.New("closed by the server")
		}
		wait := backoff/2 + rand.N(backoff/2+1)
		t.warn(fmt.Sprintf("tail stream: %v; reconnecting in %v", err, wait.Round(time.Millisecond)))
		if !sleepCtx(ctx, wait) {
			return nil
		}
		backoff = min(backoff*2, t.maxBackoff)
	}
}

// permanentError marks a stream failure that reconnecting would repeat.
type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

// connect makes one streaming request from the cursor and prints what
// arrives until the connection ends. delivered reports whether any line
// (event or heartbeat) arrived, which resets the backoff.
func (t *tailer) connect(ctx context.Context, cur *tailCursor) (delivered bool, err error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	req, err := t.request(ctx, cur.resumeAt())
	if err != nil {
		return false, &permanentError{err}
	}
	// The idle timer also bounds waiting for the response headers.
	idle := time.AfterFunc(t.idle, func() { cancel(errTailIdle) })
	defer idle.Stop()
	resp, err := t.conn.http.Do(req)
	if err != nil {
		if cause := context.Cause(ctx); errors.Is(cause, errTailIdle) {
			return false, cause
		}
		// The URL is the same on every attempt; the cause is the news.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return false, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return false, tailStatusError(resp)
	}
	idle.Reset(t.idle)
	br := bufio.NewReaderSize(resp.Body, 64<<10)
	for {
		line, err := readLine(br, maxTailLine)
		if errors.Is(err, errLineTooLong) {
			t.warn(fmt.Sprintf("tail stream: skipped an event line longer than %d bytes", maxTailLine))
			continue
		}
		if err != nil {
			if cause := context.Cause(ctx); errors.Is(cause, errTailIdle) {
				return delivered, cause
			}
			if errors.Is(err, io.EOF) {
				return delivered, nil
			}
			return delivered, err
		}
		delivered = true
		idle.Reset(t.idle)
		e, ok, err := decodeTailLine(line)
		if err != nil {
			t.warn(fmt.Sprintf("tail stream: skipped a bad line: %v", err))
			continue
		}
		if ok {
			if err := t.emit(cur, e); err != nil {
				return delivered, &permanentError{err}
			}
		}
		// Flush when the burst is over rather than per line.
		if br.Buffered() == 0 {
			if err := t.p.flush(); err != nil {
				return delivered, &permanentError{err}
			}
		}
	}
}

// request builds the signed GET for the streaming endpoint.
func (t *tailer) request(ctx context.Context, startMs int64) (*http.Request, error) {
	q := url.Values{}
	q.Set("logGroupName", t.group)
	for _, s := range t.sel.streams {
		q.Add("logStreamNames", s)
	}
	if t.sel.streamPrefix != "" {
		q.Set("logStreamNamePrefix", t.sel.streamPrefix)
	}
	if t.sel.pattern != "" {
		q.Set("filterPattern", t.sel.pattern)
	}
	q.Set("startTime", strconv.FormatInt(startMs, 10))
	u := t.conn.endpoint + tailPath + "?" + q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("tail request: %w", err)
	}
	req.Header.Set("Accept", "application/x-ndjson")
	creds, err := t.conn.creds.Retrieve(ctx)
	if err != nil {
		return nil, fmt.Errorf("credentials: %w", err)
	}
	if err := v4.NewSigner().SignHTTP(ctx, creds, req, emptyBodySHA256, "logs", t.conn.region, t.now()); err != nil {
		return nil, fmt.Errorf("signing the tail request: %w", err)
	}
	return req, nil
}

// tailStatusError turns a non-200 answer into an error: errTailUnsupported
// when the endpoint does not exist, an AWS-style error (permanent unless the
// server is overloaded or failing) otherwise.
func tailStatusError(resp *http.Response) error {
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	code, msg := parseAWSError(resp.Header, body)
	switch {
	case resp.StatusCode == http.StatusNotFound && code != "ResourceNotFoundException",
		resp.StatusCode == http.StatusMethodNotAllowed, resp.StatusCode == http.StatusNotImplemented:
		return errTailUnsupported
	case code != "" && resp.StatusCode < 500 && resp.StatusCode != http.StatusTooManyRequests:
		return &permanentError{&awsAPIError{code: code, message: msg}}
	case resp.StatusCode < 500 && resp.StatusCode != http.StatusTooManyRequests:
		return &permanentError{fmt.Errorf("tail stream: HTTP %s: %s", resp.Status, msg)}
	}
	return fmt.Errorf("HTTP %s: %s", resp.Status, strings.TrimSpace(string(body)))
}

// parseAWSError reads the JSON 1.1 error shape: {"__type": "…#Code",
// "message": "…"}, or the X-Amzn-ErrorType header. Without either, the
// body itself is the message.
func parseAWSError(h http.Header, body []byte) (code, msg string) {
	var doc struct {
		Type     string `json:"__type"`
		Message  string `json:"message"`
		Message2 string `json:"Message"`
	}
	if json.Unmarshal(body, &doc) == nil {
		code, msg = doc.Type, firstNonEmpty(doc.Message, doc.Message2)
	} else {
		msg = strings.TrimSpace(string(body))
	}
	if code == "" {
		code, _, _ = strings.Cut(h.Get("X-Amzn-ErrorType"), ":")
	}
	if i := strings.LastIndexByte(code, '#'); i >= 0 {
		code = code[i+1:]
	}
	return code, msg
}

// readLine returns the next line without its line ending. A line longer
// than limit is consumed whole and reported as errLineTooLong, so one
// oversized line costs a warning instead of the connection. The returned
// slice is valid until the next read.
func readLine(br *bufio.Reader, limit int) ([]byte, error) {
	var buf []byte
	tooLong := false
	for {
		frag, err := br.ReadSlice('\n')
		if err == nil && buf == nil && !tooLong {
			buf = frag
			break
		}
		if !tooLong {
			if len(buf)+len(frag) > limit+1 { // +1: the newline itself
				tooLong, buf = true, nil
			} else {
				buf = append(buf, frag...)
			}
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if err != nil {
			// A line cut off by the end of the body is not an event.
			return nil, err
		}
		break
	}
	if tooLong {
		return nil, errLineTooLong
	}
	if len(buf) > limit+1 {
		return nil, errLineTooLong
	}
	buf = bytes.TrimSuffix(buf, []byte("\n"))
	return bytes.TrimSuffix(buf, []byte("\r")), nil
}

// decodeTailLine decodes one NDJSON line of the tail stream. ok is false for
// a heartbeat (a blank line).
func decodeTailLine(line []byte) (e logEvent, ok bool, err error) {
	line = bytes.TrimSpace(line)
	if len(line) == 0 {
		return logEvent{}, false, nil
	}
	var w struct {
		logEvent
		// Shadows the embedded field to tell a missing timestamp from 0.
		Timestamp *int64 `json:"timestamp"`
	}
	if err := json.Unmarshal(line, &w); err != nil {
		return logEvent{}, false, fmt.Errorf("event line: %w", err)
	}
	if w.Timestamp == nil {
		return logEvent{}, false, errors.New("event line has no timestamp")
	}
	e = w.logEvent
	e.Timestamp = *w.Timestamp
	return e, true, nil
}

// sleepCtx waits d or until ctx ends; false when ctx ended.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
