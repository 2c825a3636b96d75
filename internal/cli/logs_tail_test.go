package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"
)

// tailServer speaks kinsight's NDJSON tail protocol: each connection is
// handled by the next script, and every request is recorded.
type tailServer struct {
	t       *testing.T
	srv     *httptest.Server
	mu      sync.Mutex
	reqs    []*http.Request
	scripts []func(w http.ResponseWriter, r *http.Request)
}

func newTailServer(t *testing.T, scripts ...func(w http.ResponseWriter, r *http.Request)) *tailServer {
	ts := &tailServer{t: t, scripts: scripts}
	ts.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ts.mu.Lock()
		n := len(ts.reqs)
		ts.reqs = append(ts.reqs, r.Clone(context.Background()))
		ts.mu.Unlock()
		if r.URL.Path != tailPath {
			http.NotFound(w, r)
			return
		}
		if n >= len(ts.scripts) {
			<-r.Context().Done() // the test cancels while the last stream is open
			return
		}
		ts.scripts[n](w, r)
	}))
	t.Cleanup(ts.srv.Close)
	return ts
}

func (ts *tailServer) requests() []*http.Request {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return append([]*http.Request(nil), ts.reqs...)
}

// ndjson writes lines as one streamed response, flushing each.
func ndjson(lines ...string) func(w http.ResponseWriter, r *http.Request) {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/x-ndjson")
		for _, l := range lines {
			io.WriteString(w, l+"\n")
			w.(http.Flusher).Flush()
		}
	}
}

func evLine(stream string, ts int64, id, msg string) string {
	return fmt.Sprintf(`{"logStreamName":%q,"timestamp":%d,"message":%q,"ingestionTime":%d,"eventId":%q}`, stream, ts, msg, ts+1, id)
}

// newTestTailer builds a tailer against the server at endpoint, with api for
// the FilterLogEvents calls, fast backoff, and output into out and warnings.
func newTestTailer(endpoint string, api logsAPI, sel eventSelector, out *bytes.Buffer, warnings *[]string) *tailer {
	var mu sync.Mutex
	return &tailer{
		conn: &logsConn{api: api, endpoint: endpoint, region: "us-west-2",
			creds: credentials.NewStaticCredentialsProvider("AKTAIL", "tail-secret", ""), http: &http.Client{}},
		group: "/aws/containerinsights/dev/application",
		sel:   sel,
		p:     newPrinter(out, true, time.UTC),
		warn: func(s string) {
			mu.Lock()
			*warnings = append(*warnings, s)
			mu.Unlock()
		},
		now:          time.Now,
		pollInterval: time.Millisecond,
		lateWindow:   0, // the late-window test sets its own
		idle:         5 * time.Second,
		minBackoff:   time.Millisecond,
		maxBackoff:   4 * time.Millisecond,
	}
}

// initialFilter answers the first FilterLogEvents pass with events, and any
// later poll with nothing.
func initialFilter(events ...types.FilteredLogEvent) *fakeLogs {
	n := 0
	return &fakeLogs{filter: func(cloudwatchlogs.FilterLogEventsInput) (*cloudwatchlogs.FilterLogEventsOutput, error) {
		n++
		if n == 1 {
			return &cloudwatchlogs.FilterLogEventsOutput{Events: events}, nil
		}
		return &cloudwatchlogs.FilterLogEventsOutput{}, nil
	}}
}

func filtered(stream string, ts int64, id, msg string) types.FilteredLogEvent {
	return types.FilteredLogEvent{LogStreamName: aws.String(stream), Timestamp: aws.Int64(ts), EventId: aws.String(id),
		Message: aws.String(msg), IngestionTime: aws.Int64(ts + 1)}
}

// eventIDs lists the eventId of each NDJSON line printed.
func eventIDs(t *testing.T, out string) []string {
	t.Helper()
	var ids []string
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if l == "" {
			continue
		}
		e, ok, err := decodeTailLine([]byte(l))
		if err != nil || !ok {
			t.Fatalf("printed line %q: %v", l, err)
		}
		ids = append(ids, e.EventID)
	}
	return ids
}

// waitFor polls cond until it holds or a few seconds pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestTailStreamReconnectsWithoutDuplicates(t *testing.T) {
	ts := newTailServer(t,
		ndjson("", evLine("a", t0, "e0", "replayed from the first pass"), evLine("a", t0+5, "e1", "one"), "", evLine("b", t0+5, "e2", "two")),
		ndjson(evLine("b", t0+5, "e2", "two again"), evLine("a", t0+5, "e3", "three"), "   ", evLine("a", t0+9, "e4", "four")),
	)
	var out bytes.Buffer
	var warnings []string
	sel := eventSelector{streams: []string{"a", "b c"}, pattern: `{ $.level = "error" }`}
	tl := newTestTailer(ts.srv.URL, initialFilter(filtered("a", t0, "e0", "zero")), sel, &out, &warnings)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- tl.run(ctx, t0-600_000, true) }()
	waitFor(t, "the third connection", func() bool { return len(ts.requests()) >= 3 })
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("run = %v, want nil after cancel", err)
	}

	if got := strings.Join(eventIDs(t, out.String()), ","); got != "e0,e1,e2,e3,e4" {
		t.Fatalf("printed %s, want e0,e1,e2,e3,e4\n%s", got, out.String())
	}
	reqs := ts.requests()
	for i, wantStart := range []int64{t0, t0 + 5, t0 + 9} {
		q := reqs[i].URL.Query()
		if q.Get("startTime") != strconv.FormatInt(wantStart, 10) {
			t.Errorf("connection %d startTime = %s, want %d", i, q.Get("startTime"), wantStart)
		}
		if q.Get("logGroupName") != tl.group || strings.Join(q["logStreamNames"], "|") != "a|b c" ||
			q.Get("filterPattern") != sel.pattern || q.Has("logStreamNamePrefix") {
			t.Errorf("connection %d query = %v", i, q)
		}
		if reqs[i].Method != http.MethodGet || reqs[i].Header.Get("Accept") != "application/x-ndjson" {
			t.Errorf("connection %d: %s Accept %q", i, reqs[i].Method, reqs[i].Header.Get("Accept"))
		}
		checkSigned(t, reqs[i], "AKTAIL", "tail-secret", "us-west-2")
	}
	if len(warnings) < 2 || !strings.Contains(warnings[0], "reconnecting") {
		t.Fatalf("warnings = %q, want a reconnect notice per disconnect", warnings)
	}
}

// TestTailStreamResumesBehindNewest checks that a reconnect asks from the
// late window behind the newest event, so an event stored late while the
// connection was down is printed, and the replayed ones are not.
func TestTailStreamResumesBehindNewest(t *testing.T) {
	ts := newTailServer(t,
		ndjson(evLine("a", t0+10_000, "e1", "newest"), evLine("b", t0+7_000, "e2", "late")),
		ndjson(evLine("b", t0+7_000, "e2", "late"), evLine("c", t0+6_000, "e3", "later still"),
			evLine("a", t0+10_000, "e1", "newest"), evLine("a", t0+11_000, "e4", "new")),
	)
	var out bytes.Buffer
	var warnings []string
	tl := newTestTailer(ts.srv.URL, initialFilter(), eventSelector{}, &out, &warnings)
	tl.lateWindow = 5 * time.Second
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- tl.run(ctx, t0, true) }()
	waitFor(t, "the third connection", func() bool { return len(ts.requests()) >= 3 })
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(eventIDs(t, out.String()), ","); got != "e1,e2,e3,e4" {
		t.Fatalf("printed %s, want e1,e2,e3,e4", got)
	}
	reqs := ts.requests()
	for i, want := range []int64{t0, t0 + 5_000, t0 + 6_000} {
		if got := reqs[i].URL.Query().Get("startTime"); got != strconv.FormatInt(want, 10) {
			t.Errorf("connection %d startTime = %s, want %d", i, got, want)
		}
	}
}

// checkSigned recomputes the SigV4 signature of the request as received and
// compares it with the one sent, which catches a request changed after
// signing (path, query encoding, host) or signed for the wrong scope.
func checkSigned(t *testing.T, r *http.Request, id, secret, region string) {
	t.Helper()
	auth := r.Header.Get("Authorization")
	if !strings.HasPrefix(auth, "AWS4-HMAC-SHA256 Credential="+id+"/") || !strings.Contains(auth, "/"+region+"/logs/aws4_request") {
		t.Fatalf("Authorization = %q", auth)
	}
	at, err := time.Parse("20060102T150405Z", r.Header.Get("X-Amz-Date"))
	if err != nil {
		t.Fatalf("X-Amz-Date: %v", err)
	}
	again, _ := http.NewRequest(r.Method, "http://"+r.Host+r.URL.RequestURI(), nil)
	again.Header.Set("Accept", r.Header.Get("Accept"))
	creds := aws.Credentials{AccessKeyID: id, SecretAccessKey: secret}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, again, emptyBodySHA256, "logs", region, at); err != nil {
		t.Fatal(err)
	}
	if again.Header.Get("Authorization") != auth {
		t.Fatalf("signature does not verify:\n sent %s\n want %s", auth, again.Header.Get("Authorization"))
	}
}

func TestTailFallsBackToPollingOn404(t *testing.T) {
	var notFound atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		notFound.Add(1)
		http.NotFound(w, r) // what CloudWatch Logs, or any server without the endpoint, answers
	}))
	defer srv.Close()
	events := []types.FilteredLogEvent{filtered("a", t0, "e0", "zero")}
	var mu sync.Mutex
	var starts []int64
	api := &fakeLogs{filter: func(in cloudwatchlogs.FilterLogEventsInput) (*cloudwatchlogs.FilterLogEventsOutput, error) {
		mu.Lock()
		defer mu.Unlock()
		starts = append(starts, aws.ToInt64(in.StartTime))
		if len(starts) == 3 { // new events arrive between polls
			events = append(events, filtered("b", t0, "e1", "same ms"), filtered("a", t0+7, "e2", "later"))
		}
		var out []types.FilteredLogEvent
		for _, e := range events {
			if *e.Timestamp >= aws.ToInt64(in.StartTime) {
				out = append(out, e)
			}
		}
		return &cloudwatchlogs.FilterLogEventsOutput{Events: out}, nil
	}}
	var out bytes.Buffer
	var warnings []string
	tl := newTestTailer(srv.URL, api, eventSelector{}, &out, &warnings)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- tl.run(ctx, t0-1000, true) }()
	waitFor(t, "six polls", func() bool { mu.Lock(); defer mu.Unlock(); return len(starts) >= 6 })
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(eventIDs(t, out.String()), ","); got != "e0,e1,e2" {
		t.Fatalf("printed %s, want e0,e1,e2", got)
	}
	mu.Lock()
	defer mu.Unlock()
	if starts[0] != t0-1000 || starts[1] != t0 || starts[len(starts)-1] != t0+7 {
		t.Fatalf("poll start times = %v", starts)
	}
	if n := notFound.Load(); n != 1 {
		t.Fatalf("%d stream requests, want 1 (the 404 decides, once)", n)
	}
}

func TestTailStreamErrors(t *testing.T) {
	awsErr := func(status int, body string) func(w http.ResponseWriter, r *http.Request) {
		return func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/x-amz-json-1.1")
			w.WriteHeader(status)
			io.WriteString(w, body)
		}
	}
	tests := []struct {
		name      string
		scripts   []func(w http.ResponseWriter, r *http.Request)
		wantErr   string
		wantConns int
		wantIDs   string
	}{
		{
			name:      "denied is final",
			scripts:   []func(http.ResponseWriter, *http.Request){awsErr(403, `{"__type":"com.amazonaws.logs#AccessDeniedException","message":"reader role required"}`)},
			wantErr:   "AccessDeniedException: reader role required",
			wantConns: 1,
		},
		{
			name:      "missing group is not a missing endpoint",
			scripts:   []func(http.ResponseWriter, *http.Request){awsErr(404, `{"__type":"ResourceNotFoundException","message":"The specified log group does not exist."}`)},
			wantErr:   "ResourceNotFoundException: The specified log group does not exist.",
			wantConns: 1,
		},
		{
			name:      "bad request without AWS body is final",
			scripts:   []func(http.ResponseWriter, *http.Request){awsErr(400, `bad startTime`)},
			wantErr:   "tail stream: HTTP 400 Bad Request: bad startTime",
			wantConns: 1,
		},
		{
			name: "unavailable and throttled are retried",
			scripts: []func(http.ResponseWriter, *http.Request){
				awsErr(503, `{"__type":"ServiceUnavailableException","message":"disk full"}`),
				awsErr(429, `{"__type":"ThrottlingException","message":"slow down"}`),
				ndjson(evLine("a", t0+1, "e1", "after retries")),
			},
			wantConns: 4,
			wantIDs:   "e1",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ts := newTailServer(t, tc.scripts...)
			var out bytes.Buffer
			var warnings []string
			tl := newTestTailer(ts.srv.URL, initialFilter(), eventSelector{}, &out, &warnings)
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			done := make(chan error, 1)
			go func() { done <- tl.run(ctx, t0, true) }()
			var err error
			if tc.wantErr != "" {
				select {
				case err = <-done:
				case <-time.After(5 * time.Second):
					t.Fatal("tail kept going after a final error")
				}
				if err == nil || err.Error() != tc.wantErr {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
			} else {
				waitFor(t, "the connections", func() bool { return len(ts.requests()) >= tc.wantConns })
				cancel()
				if err := <-done; err != nil {
					t.Fatal(err)
				}
			}
			if n := len(ts.requests()); n != tc.wantConns {
				t.Fatalf("%d connections, want %d", n, tc.wantConns)
			}
			if got := strings.Join(eventIDs(t, out.String()), ","); got != tc.wantIDs {
				t.Fatalf("printed %q, want %q", got, tc.wantIDs)
			}
		})
	}
}

func TestTailIdleStreamIsReconnected(t *testing.T) {
	silent := func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/x-ndjson")
		w.WriteHeader(http.StatusOK)
		w.(http.Flusher).Flush()
		<-r.Context().Done() // a dead peer: headers, then nothing
	}
	ts := newTailServer(t, silent, ndjson(evLine("a", t0+1, "e1", "after idle")))
	var out bytes.Buffer
	var warnings []string
	tl := newTestTailer(ts.srv.URL, initialFilter(), eventSelector{}, &out, &warnings)
	tl.idle = 50 * time.Millisecond
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- tl.run(ctx, t0, true) }()
	waitFor(t, "the third connection", func() bool { return len(ts.requests()) >= 3 })
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(eventIDs(t, out.String()), ","); got != "e1" {
		t.Fatalf("printed %q, want e1", got)
	}
	if len(warnings) == 0 || !strings.Contains(warnings[0], "heartbeat") {
		t.Fatalf("warnings = %q, want the idle reason", warnings)
	}
}

func TestTailSkipsBadLines(t *testing.T) {
	ts := newTailServer(t, ndjson(`{"message":"no timestamp"}`, `not json`, evLine("a", t0+1, "e1", "good")))
	var out bytes.Buffer
	var warnings []string
	tl := newTestTailer(ts.srv.URL, initialFilter(), eventSelector{}, &out, &warnings)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- tl.run(ctx, t0, true) }()
	waitFor(t, "the second connection", func() bool { return len(ts.requests()) >= 2 })
	cancel()
	<-done
	if got := strings.Join(eventIDs(t, out.String()), ","); got != "e1" {
		t.Fatalf("printed %q, want e1", got)
	}
	if len(warnings) < 2 || !strings.Contains(warnings[0], "bad line") || !strings.Contains(warnings[1], "bad line") {
		t.Fatalf("warnings = %q", warnings)
	}
}

func TestTailWithoutFollowMakesNoStreamRequest(t *testing.T) {
	ts := newTailServer(t)
	var out bytes.Buffer
	var warnings []string
	api := initialFilter(filtered("a", t0, "e0", "zero"), filtered("b", t0+1, "e1", "one"))
	tl := newTestTailer(ts.srv.URL, api, eventSelector{streamPrefix: "a"}, &out, &warnings)
	if err := tl.run(t.Context(), t0-10, false); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(eventIDs(t, out.String()), ","); got != "e0,e1" {
		t.Fatalf("printed %q", got)
	}
	if len(ts.requests()) != 0 || len(api.calls) != 1 {
		t.Fatalf("%d stream requests, %d filter calls; want 0, 1", len(ts.requests()), len(api.calls))
	}
	in := api.calls[0].(cloudwatchlogs.FilterLogEventsInput)
	if aws.ToInt64(in.StartTime) != t0-10 || aws.ToString(in.LogStreamNamePrefix) != "a" {
		t.Fatalf("filter input = %+v", in)
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("broken pipe") }

func TestTailStopsWhenOutputFails(t *testing.T) {
	ts := newTailServer(t, ndjson(evLine("a", t0+1, "e1", "x")))
	var warnings []string
	tl := newTestTailer(ts.srv.URL, initialFilter(), eventSelector{}, new(bytes.Buffer), &warnings)
	tl.p = newPrinter(failWriter{}, true, time.UTC)
	err := tl.run(t.Context(), t0, true)
	if err == nil || !strings.Contains(err.Error(), "broken pipe") {
		t.Fatalf("err = %v, want the write error", err)
	}
	if n := len(ts.requests()); n != 1 {
		t.Fatalf("%d connections after a write error, want 1", n)
	}
}
