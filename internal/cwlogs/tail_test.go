package cwlogs

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/kinsight/kinsight/internal/config"
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
