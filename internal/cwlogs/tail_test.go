package cwlogs

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/kinsight/kinsight/internal/config"
	"github.com/kinsight/kinsight/internal/logstore"
)

// tailLine is one NDJSON line, or a heartbeat (empty line).
type tailLine struct {
	heartbeat bool
	ev        filteredEvent
	at        time.Time
}

// openTail starts a signed tail request and streams its lines.
func (e *env) openTail(ctx context.Context, role string, q url.Values) (*http.Response, <-chan tailLine) {
	e.t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, e.srv.URL+"/kinsight/v1/logs/tail?"+q.Encode(), nil)
	if err != nil {
		e.t.Fatal(err)
	}
	sign(e.t, req, nil, keyFor(role))
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	lines := make(chan tailLine, 100)
	go func() {
		defer close(lines)
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 0, 64<<10), 2<<20)
		for sc.Scan() {
			l := tailLine{at: time.Now()}
			if len(sc.Bytes()) == 0 {
				l.heartbeat = true
			} else if err := json.Unmarshal(sc.Bytes(), &l.ev); err != nil {
				e.t.Errorf("bad line %q: %v", sc.Bytes(), err)
				return
			}
			lines <- l
		}
	}()
	return resp, lines
}

// nextEvent returns the next non-heartbeat line within d.
func nextEvent(t *testing.T, lines <-chan tailLine, d time.Duration) filteredEvent {
	t.Helper()
	deadline := time.After(d)
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatal("tail stream ended")
			}
			if !l.heartbeat {
				return l.ev
			}
		case <-deadline:
			t.Fatalf("no event within %v", d)
		}
	}
}

func TestTailFollow(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.TailHeartbeat = 150 * time.Millisecond })
	now := nowMs()
	e.seed("g", "a")
	e.seed("g", "b")
	e.mustOK("PutLogEvents", putIn("g", "a", ev(now-60_000, "too early"), ev(now-5_000, "caught up 1"), ev(now-4_000, "caught up 2")))

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	resp, lines := e.openTail(ctx, config.RoleReader, url.Values{"logGroupName": {"g"}})
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/x-ndjson" {
		t.Fatalf("status %d, type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if got := nextEvent(t, lines, 2*time.Second); got.Message != "caught up 1" || got.LogStreamName != "a" || len(got.EventID) != posDigits {
		t.Fatalf("first event %+v", got)
	}
	if got := nextEvent(t, lines, 2*time.Second); got.Message != "caught up 2" {
		t.Fatalf("second event %+v", got)
	}

	// A new event reaches the client well within a second.
	sent := time.Now()
	e.mustOK("PutLogEvents", putIn("g", "b", ev(nowMs(), "live")))
	got := nextEvent(t, lines, 2*time.Second)
	if got.Message != "live" || got.LogStreamName != "b" {
		t.Fatalf("live event %+v", got)
	}
	if lat := time.Since(sent); lat > time.Second {
		t.Errorf("live event took %v", lat)
	}

	// A late event (stamped before the newest one sent, within the window)
	// is still delivered, once.
	e.mustOK("PutLogEvents", putIn("g", "a", ev(nowMs()-3_000, "late")))
	if got := nextEvent(t, lines, 2*time.Second); got.Message != "late" {
		t.Fatalf("late event %+v", got)
	}
	e.mustOK("PutLogEvents", putIn("g", "b", ev(nowMs(), "after late")))
	if got := nextEvent(t, lines, 2*time.Second); got.Message != "after late" {
		t.Fatalf("expected no duplicate, got %+v", got)
	}

	// Idle: heartbeats.
	deadline := time.After(2 * time.Second)
	for beat := false; !beat; {
		select {
		case l := <-lines:
			if !l.heartbeat {
				t.Fatalf("unexpected event %+v", l.ev)
			}
			beat = true
		case <-deadline:
			t.Fatal("no heartbeat")
		}
	}

	// The client goes away: the session ends.
	if v := value(t, e.h.m.tailSessions); v != 1 {
		t.Errorf("tail sessions %v, want 1", v)
	}
	cancel()
	for i := 0; value(t, e.h.m.tailSessions) != 0; i++ {
		if i > 100 {
			t.Fatal("tail session did not end after the client left")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestTailFilterAndStreams(t *testing.T) {
	e := newEnv(t)
	e.seed("g", "web-1")
	e.seed("g", "db-1")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	start := nowMs()
	_, lines := e.openTail(ctx, config.RoleAdmin, url.Values{
		"logGroupName":        {"g"},
		"logStreamNamePrefix": {"web"},
		"filterPattern":       {"ERROR"},
		"startTime":           {itoa(start)},
	})
	e.mustOK("PutLogEvents", putIn("g", "db-1", ev(nowMs(), "db ERROR")))
	e.mustOK("PutLogEvents", putIn("g", "web-1", ev(nowMs(), "web ok"), ev(nowMs()+1, "web ERROR")))
	if got := nextEvent(t, lines, 2*time.Second); got.Message != "web ERROR" {
		t.Fatalf("filtered event %+v", got)
	}
}

func itoa(n int64) string { b, _ := json.Marshal(n); return string(b) }

func TestTailPresigned(t *testing.T) {
	e := newEnv(t)
	e.seed("g", "s", nowMs()-1000)
	k := keyFor(config.RoleReader)
	req, _ := http.NewRequest(http.MethodGet, e.srv.URL+"/kinsight/v1/logs/tail?logGroupName=g", nil)
	empty := sha256.Sum256(nil)
	signed, _, err := v4.NewSigner().PresignHTTP(context.Background(),
		aws.Credentials{AccessKeyID: k.ID, SecretAccessKey: k.Secret}, req, hex.EncodeToString(empty[:]),
		"logs", "us-east-1", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	preq, _ := http.NewRequestWithContext(ctx, http.MethodGet, signed, nil)
	resp, err := e.srv.Client().Do(preq)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("presigned: %d %s", resp.StatusCode, b)
	}
	line, err := bufio.NewReader(resp.Body).ReadBytes('\n')
	if err != nil {
		t.Fatal(err)
	}
	var got filteredEvent
	if err := json.Unmarshal(line, &got); err != nil || got.Message != msgN("s", 0) {
		t.Fatalf("line %q: %v", line, err)
	}
}

func TestTailErrors(t *testing.T) {
	e := newEnv(t)
	e.seed("g", "s")
	get := func(role string, q url.Values) result {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, e.srv.URL+"/kinsight/v1/logs/tail?"+q.Encode(), nil)
		if role != "" {
			sign(t, req, nil, keyFor(role))
		}
		resp, err := e.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return result{status: resp.StatusCode, header: resp.Header, body: b}
	}
	wantErr(t, get(config.RoleAgent, url.Values{"logGroupName": {"g"}}), 400, "AccessDeniedException")
	wantErr(t, get("", url.Values{"logGroupName": {"g"}}), 403, "MissingAuthenticationTokenException")
	wantErr(t, get(config.RoleReader, url.Values{"logGroupName": {"missing"}}), 400, errResourceNotFound)
	wantErr(t, get(config.RoleReader, url.Values{}), 400, errInvalidParameter)
	wantErr(t, get(config.RoleReader, url.Values{"logGroupName": {"g"}, "filterPattern": {"{ $.x = "}}), 400, errInvalidParameter)
	wantErr(t, get(config.RoleReader, url.Values{"logGroupName": {"g"}, "startTime": {"yesterday"}}), 400, errInvalidParameter)
	wantErr(t, get(config.RoleReader, url.Values{"logGroupName": {"g"}, "logStreamNames": {"s"}, "logStreamNamePrefix": {"s"}}), 400, errInvalidParameter)
}

// syncBuffer collects a handler's log lines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// collect reads events from lines until n arrived.
func collect(t *testing.T, lines <-chan tailLine, n int, d time.Duration) []filteredEvent {
	t.Helper()
	var out []filteredEvent
	for len(out) < n {
		out = append(out, nextEvent(t, lines, d))
	}
	return out
}

// Events stamped long before the newest one sent are still sent, once, in
// the order they were stored; only events before startTime are not.
func TestTailLateEvents(t *testing.T) {
	e := newEnv(t)
	e.seed("g", "a")
	e.seed("g", "b")
	start := nowMs() - 120_000
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	_, lines := e.openTail(ctx, config.RoleReader, url.Values{"logGroupName": {"g"}, "startTime": {itoa(start)}})
	now := nowMs()
	e.mustOK("PutLogEvents", putIn("g", "a", ev(now, "now")))
	e.mustOK("PutLogEvents", putIn("g", "b", ev(now-60_000, "a minute late"), ev(now-59_000, "59 s late")))
	e.mustOK("PutLogEvents", putIn("g", "a", ev(start-1, "before startTime")))
	e.mustOK("PutLogEvents", putIn("g", "a", ev(now-90_000, "90 s late")))
	e.mustOK("PutLogEvents", putIn("g", "b", ev(now+1, "last")))
	got := collect(t, lines, 5, 5*time.Second)
	var msgs []string
	for _, g := range got {
		msgs = append(msgs, g.Message)
	}
	want := []string{"now", "a minute late", "59 s late", "90 s late", "last"}
	if fmt.Sprint(msgs) != fmt.Sprint(want) {
		t.Fatalf("got %q, want %q", msgs, want)
	}
}

// Many streams written concurrently: every event arrives exactly once, and
// each stream's events in the order they were written.
func TestTailManyStreams(t *testing.T) {
	e := newEnv(t)
	const streams, puts, per = 40, 5, 20
	for i := range streams {
		e.seed("g", fmt.Sprintf("s-%02d", i))
	}
	e.seed("g", "not-followed")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	_, lines := e.openTail(ctx, config.RoleReader, url.Values{"logGroupName": {"g"}, "logStreamNamePrefix": {"s-"}, "startTime": {itoa(nowMs() - 60_000)}})
	var wg sync.WaitGroup
	for i := range streams {
		wg.Add(1)
		go func() {
			defer wg.Done()
			name := fmt.Sprintf("s-%02d", i)
			for p := range puts {
				evs := make([]m, per)
				for k := range evs {
					evs[k] = m{"timestamp": nowMs() - int64(rand.IntN(20_000)), "message": fmt.Sprintf("%s %d", name, p*per+k)}
				}
				sort.Slice(evs, func(a, b int) bool { return evs[a]["timestamp"].(int64) < evs[b]["timestamp"].(int64) })
				e.mustOK("PutLogEvents", m{"logGroupName": "g", "logStreamName": name, "logEvents": evs})
				e.mustOK("PutLogEvents", putIn("g", "not-followed", ev(nowMs(), "no")))
			}
		}()
	}
	wg.Wait()
	got := collect(t, lines, streams*puts*per, 10*time.Second)
	seen := map[string]bool{}
	perStream := map[string][]filteredEvent{}
	for _, g := range got {
		if seen[g.EventID] || g.LogStreamName == "not-followed" {
			t.Fatalf("duplicate or unselected event %+v", g)
		}
		seen[g.EventID] = true
		perStream[g.LogStreamName] = append(perStream[g.LogStreamName], g)
	}
	for name, evs := range perStream {
		for i := 1; i < len(evs); i++ {
			// Within one PutLogEvents the events are in timestamp order;
			// across requests in the order stored.
			if evs[i].IngestionTime < evs[i-1].IngestionTime {
				t.Fatalf("%s: event %d stored before event %d arrived after it", name, i, i-1)
			}
		}
	}
	select {
	case l := <-lines:
		if !l.heartbeat {
			t.Fatalf("extra event %+v", l.ev)
		}
	case <-time.After(300 * time.Millisecond):
	}
}

// bigAppend stores n events of size bytes each in stream s, directly.
func bigAppend(t *testing.T, e *env, stream string, first, n, size int) {
	t.Helper()
	evs := make([]logstore.InputEvent, n)
	pad := strings.Repeat("p", size)
	now := nowMs()
	for i := range evs {
		evs[i] = logstore.InputEvent{Timestamp: now, Message: fmt.Sprintf("%08d %s", first+i, pad)}
	}
	if _, err := e.store.Append(context.Background(), "g", stream, evs); err != nil {
		t.Fatal(err)
	}
}

// A client that reads slowly makes its session fall behind a flush of the
// store's head; the session reads the missed events back from the parts and
// the client still gets every event exactly once.
func TestTailSlowClientBehindAFlush(t *testing.T) {
	var logs syncBuffer
	e := newEnv(t, func(o *Options) {
		o.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	e.seed("g", "s")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, e.srv.URL+"/kinsight/v1/logs/tail?logGroupName=g", nil)
	sign(t, req, nil, keyFor(config.RoleReader))
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	// 48 MB while the client reads nothing: more than the sockets hold,
	// so the session waits on its write with its cursor in the head.
	const per, size, batches = 500, 2000, 48
	for b := range batches {
		bigAppend(t, e, "s", b*per, per, size)
		if b == batches/2 {
			if err := e.store.Flush(); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := e.store.Flush(); err != nil {
		t.Fatal(err)
	}
	bigAppend(t, e, "s", batches*per, per, size)
	br := bufio.NewReaderSize(resp.Body, 1<<20)
	seen := make([]bool, (batches+1)*per)
	for n := 0; n < len(seen); {
		line, err := br.ReadBytes('\n')
		if err != nil {
			t.Fatalf("after %d events: %v", n, err)
		}
		if len(line) == 1 {
			continue
		}
		var ev filteredEvent
		if err := json.Unmarshal(line, &ev); err != nil {
			t.Fatal(err)
		}
		i, _ := strconv.Atoi(ev.Message[:8])
		if seen[i] {
			t.Fatalf("event %d twice", i)
		}
		seen[i] = true
		n++
	}
	if !strings.Contains(logs.String(), "fell behind a flush") {
		t.Error("the session never fell behind a flush; the test did not test that")
	}
}

// A client that stops reading is cut after two heartbeat intervals without
// a write going through, rather than holding its session forever.
func TestTailStalledClientIsCut(t *testing.T) {
	var logs syncBuffer
	e := newEnv(t, func(o *Options) {
		o.TailHeartbeat = 100 * time.Millisecond
		o.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	})
	e.seed("g", "s")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, e.srv.URL+"/kinsight/v1/logs/tail?logGroupName=g", nil)
	sign(t, req, nil, keyFor(config.RoleReader))
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	for b := range 48 {
		bigAppend(t, e, "s", b*500, 500, 2000)
	}
	for i := 0; value(t, e.h.m.tailSessions) != 0; i++ {
		if i > 1000 {
			t.Fatal("a client that reads nothing still holds its session after 20 s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	// What the socket held arrives; then the stream ends.
	n, err := io.Copy(io.Discard, resp.Body)
	if err == nil && n >= 48*500*2000 {
		t.Fatalf("read %d bytes and a clean end: the client was not cut", n)
	}
	if !strings.Contains(logs.String(), "disconnected") {
		t.Errorf("the cut was not logged: %s", logs.String())
	}
}

// Deleting the group ends its follow sessions.
func TestTailGroupDeletedEndsStream(t *testing.T) {
	e := newEnv(t)
	e.seed("g", "s")
	e.seed("h", "s")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	_, lines := e.openTail(ctx, config.RoleReader, url.Values{"logGroupName": {"g"}})
	e.mustOK("DeleteLogGroup", m{"logGroupName": "g"})
	e.mustOK("PutLogEvents", putIn("h", "s", ev(nowMs(), "wake-up")))
	deadline := time.After(15 * time.Second)
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				return
			}
			if !l.heartbeat {
				t.Fatalf("event %+v after the group was deleted", l.ev)
			}
		case <-deadline:
			t.Fatal("the stream did not end after its group was deleted")
		}
	}
}

func TestAppendPosMatchesFormatPos(t *testing.T) {
	cases := []logstore.Pos{
		{}, {Timestamp: -1}, {Timestamp: math.MinInt64}, {Timestamp: math.MaxInt64, Seq: math.MaxUint64},
		{Timestamp: 1763800000000, Seq: 12345 << 16}, {Timestamp: -1763800000000, Seq: 1},
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 10000 {
		cases = append(cases, logstore.Pos{Timestamp: int64(r.Uint64()), Seq: r.Uint64()})
		cases = append(cases, logstore.Pos{Timestamp: r.Int64N(1 << 42), Seq: r.Uint64N(1 << 40)})
	}
	for _, p := range cases {
		if got, want := string(appendPos(nil, p)), formatPos(p); got != want {
			t.Fatalf("%+v: %s, want %s", p, got, want)
		}
	}
}
