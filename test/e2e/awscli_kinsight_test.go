package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"
)

// kinsight's own client, `kinsight logs …`, against the same server, in
// its table and JSON output. It is tested beside the AWS CLI because it
// promises the same field names and the same reading of the API.

// acKinsightEnv gives the kinsight client credentials and no other AWS
// configuration.
func acKinsightEnv(key, secret string) []string {
	return append(os.Environ(),
		"AWS_ACCESS_KEY_ID="+key, "AWS_SECRET_ACCESS_KEY="+secret, "AWS_SESSION_TOKEN=",
		"AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null", "AWS_PROFILE=",
		"AWS_EC2_METADATA_DISABLED=true", "KINSIGHT_ENDPOINT=",
	)
}

// acKinsight runs `kinsight logs args… --endpoint URL` as the reader.
func acKinsight(t *testing.T, p *serverProc, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, append(append([]string{"logs"}, args...), "--endpoint", p.url())...)
	cmd.Env = acKinsightEnv(readerKey, readerSecret)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("kinsight logs %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}

func acKinsightOK(t *testing.T, p *serverProc, args ...string) string {
	t.Helper()
	out, err := acKinsight(t, p, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// acNDJSON decodes one event per line.
func acNDJSON(t *testing.T, out string) []acEvent {
	t.Helper()
	var events []acEvent
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if line == "" {
			continue
		}
		var e acEvent
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("line %q is not a JSON event: %v", line, err)
		}
		events = append(events, e)
	}
	return events
}

// acTableRows splits table output into rows of blank-separated fields.
func acTableRows(out string) [][]string {
	var rows [][]string
	for _, line := range strings.Split(strings.TrimRight(out, "\n"), "\n") {
		rows = append(rows, strings.Fields(line))
	}
	return rows
}

// TestKinsightLogsCLI runs `kinsight logs groups|streams|get|filter|tail`.
func TestKinsightLogsCLI(t *testing.T) {
	t.Parallel()
	p := startServer(t, "", withKeys())
	s := newACSeed(t, p)
	const g = "/e2e/k/app"
	for _, name := range []string{"zz-unrelated", g, "/e2e/k/other"} {
		s.group(name)
	}
	if _, err := s.cl.PutRetentionPolicy(context.Background(), &cloudwatchlogs.PutRetentionPolicyInput{
		LogGroupName: aws.String(g), RetentionInDays: aws.Int32(7),
	}); err != nil {
		t.Fatal(err)
	}
	base := time.Now().Add(-5 * time.Minute).UnixMilli()
	type ev struct {
		stream string
		at     int64
		msg    string
	}
	corpus := []ev{
		{"web-1", base, "GET / 200"},
		{"web-2", base + 1000, "ERROR upstream timeout"},
		{"api-1", base + 2000, `{"level":"ERROR","path":"/api/x"}`},
		{"web-1", base + 3000, "ERROR template missing"},
		{"web-1", base + 4000, "GET /about 200"},
		{"web-2", base + 5000, "GET /contact 200"},
	}
	for _, st := range []string{"api-1", "web-1", "web-2"} {
		s.stream(g, st)
		var events []acEvent
		for _, e := range corpus {
			if e.stream == st {
				events = append(events, acEvent{Timestamp: e.at, Message: e.msg})
			}
		}
		s.put(g, st, events...)
	}
	pick := func(keep func(ev) bool) (msgs []string) {
		for _, e := range corpus {
			if keep(e) {
				msgs = append(msgs, e.msg)
			}
		}
		return msgs
	}
	timeCol := func(ms int64) string { return time.UnixMilli(ms).UTC().Format("2006-01-02T15:04:05.000Z07:00") }

	t.Run("Groups", func(t *testing.T) {
		rows := acTableRows(acKinsightOK(t, p, "groups"))
		acEqual(t, "header", rows[0], []string{"NAME", "CREATED", "RETENTION", "STORED"})
		var names []string
		for _, r := range rows[1:] {
			names = append(names, r[0])
			if len(r) != 4 {
				t.Fatalf("row %q has %d columns, want 4", r, len(r))
			}
			if _, err := time.Parse(time.RFC3339, r[1]); err != nil {
				t.Errorf("CREATED %q: %v", r[1], err)
			}
			wantRetention := map[bool]string{true: "7d", false: "never"}[r[0] == g]
			if r[2] != wantRetention {
				t.Errorf("%s: RETENTION %q, want %q", r[0], r[2], wantRetention)
			}
		}
		acEqual(t, "group names", names, []string{"/e2e/k/app", "/e2e/k/other", "zz-unrelated"})

		var groups []acGroup
		if err := json.Unmarshal([]byte(acKinsightOK(t, p, "groups", "--prefix", "/e2e/k/", "-o", "json")), &groups); err != nil {
			t.Fatal(err)
		}
		acEqual(t, "groups --prefix /e2e/k/ -o json", acGroupNames(groups), []string{"/e2e/k/app", "/e2e/k/other"})
		if r := groups[0].RetentionInDays; r == nil || *r != 7 || groups[0].Arn != "arn:aws:logs:us-east-1:000000000000:log-group:/e2e/k/app:*" {
			t.Errorf("JSON group %+v, want retentionInDays 7 and the arn", groups[0])
		}
	})

	t.Run("Streams", func(t *testing.T) {
		rows := acTableRows(acKinsightOK(t, p, "streams", g))
		acEqual(t, "header", rows[0], []string{"NAME", "CREATED", "FIRST_EVENT", "LAST_EVENT", "STORED"})
		var names []string
		for _, r := range rows[1:] {
			names = append(names, r[0])
		}
		acEqual(t, "stream names", names, []string{"api-1", "web-1", "web-2"})

		var streams []acStream
		if err := json.Unmarshal([]byte(acKinsightOK(t, p, "streams", g, "--order-by", "last-event", "--descending", "-o", "json")), &streams); err != nil {
			t.Fatal(err)
		}
		acEqual(t, "streams by last event, descending", acStreamNames(streams), []string{"web-2", "web-1", "api-1"})
		if streams[0].LastEventTimestamp != base+5000 || streams[0].FirstEventTimestamp != base+1000 {
			t.Errorf("web-2: %+v, want first event %d, last %d", streams[0], base+1000, base+5000)
		}
		if _, err := acKinsight(t, p, "streams", g, "--order-by", "last-event", "--prefix", "web"); err == nil {
			t.Errorf("--order-by last-event with --prefix succeeded; the API forbids it")
		}
	})

	t.Run("Get", func(t *testing.T) {
		web1 := pick(func(e ev) bool { return e.stream == "web-1" })
		got := acNDJSON(t, acKinsightOK(t, p, "get", g, "web-1", "--from-head", "-o", "json"))
		acEqual(t, "get web-1 --from-head", acMessages(got), web1)
		for _, e := range got {
			if e.LogStreamName != "web-1" || e.Timestamp < base || e.IngestionTime == 0 {
				t.Errorf("JSON event %+v", e)
			}
		}
		// Without --from-head, --limit 2 is the newest two; as a table.
		rows := strings.Split(strings.TrimRight(acKinsightOK(t, p, "get", g, "web-1", "--limit", "2"), "\n"), "\n")
		want := []string{
			timeCol(base+3000) + "  web-1  ERROR template missing",
			timeCol(base+4000) + "  web-1  GET /about 200",
		}
		acEqual(t, "get web-1 --limit 2 (table)", rows, want)
		// --start includes, --end excludes (GetLogEvents).
		got = acNDJSON(t, acKinsightOK(t, p, "get", g, "web-1", "--from-head", "-o", "json",
			"--start", fmt.Sprint(base+1), "--end", fmt.Sprint(base+4000)))
		acEqual(t, "get web-1 [base+1ms, base+4s)", acMessages(got), []string{"ERROR template missing"})
		if _, err := acKinsight(t, p, "get", g, "no-such-stream"); err == nil || !strings.Contains(err.Error(), "ResourceNotFound") {
			t.Errorf("get of a missing stream: %v", err)
		}
	})

	t.Run("Filter", func(t *testing.T) {
		got := acNDJSON(t, acKinsightOK(t, p, "filter", g, "ERROR", "-o", "json"))
		acEqual(t, "filter ERROR", acMessages(got), pick(func(e ev) bool { return strings.Contains(e.msg, "ERROR") }))
		ids := map[string]bool{}
		for _, e := range got {
			if e.EventID == "" || ids[e.EventID] {
				t.Errorf("event %q: empty or repeated eventId %q", e.Message, e.EventID)
			}
			ids[e.EventID] = true
		}
		got = acNDJSON(t, acKinsightOK(t, p, "filter", g, `{ $.level = "ERROR" }`, "-o", "json"))
		acEqual(t, "filter JSON pattern", acMessages(got), []string{`{"level":"ERROR","path":"/api/x"}`})
		rows := strings.Split(strings.TrimRight(acKinsightOK(t, p, "filter", g, "GET", "--streams", "web-2,api-1"), "\n"), "\n")
		acEqual(t, "filter GET --streams web-2,api-1 (table)", rows, []string{timeCol(base+5000) + "  web-2  GET /contact 200"})
		got = acNDJSON(t, acKinsightOK(t, p, "filter", g, "--stream-prefix", "web-", "-o", "json"))
		acEqual(t, "filter --stream-prefix web-", acMessages(got), pick(func(e ev) bool { return strings.HasPrefix(e.stream, "web-") }))
	})

	t.Run("Tail", func(t *testing.T) {
		out := acKinsightOK(t, p, "tail", g, "--since", "1h")
		for _, e := range corpus {
			if !strings.Contains(out, e.stream+"  "+e.msg) {
				t.Errorf("tail output lacks %q:\n%s", e.msg, out)
			}
		}
		if n := strings.Count(out, "\n"); n != len(corpus) {
			t.Errorf("tail printed %d lines, want %d", n, len(corpus))
		}
	})

	t.Run("Follow", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, binary, "logs", "tail", g, "-f", "--since", "1h", "-o", "json", "--endpoint", p.url())
		cmd.Env = acKinsightEnv(readerKey, readerSecret)
		lines, stop := acStartBackground(t, cmd)
		if _, ok := lines.waitFor("GET /contact 200", 30*time.Second); !ok {
			t.Fatalf("the follower printed no event within 30s; stdout %q stderr %s", lines.all(), stop())
		}
		writer := acSDK(p, agentKey, agentSecret)
		for i := range 3 {
			msg := fmt.Sprintf("followed event %d", i)
			_, err := writer.PutLogEvents(context.Background(), &cloudwatchlogs.PutLogEventsInput{
				LogGroupName: aws.String(g), LogStreamName: aws.String("web-1"),
				LogEvents: []types.InputLogEvent{{Timestamp: aws.Int64(time.Now().UnixMilli()), Message: aws.String(msg)}},
			})
			put := time.Now()
			if err != nil {
				t.Fatal(err)
			}
			l, ok := lines.waitFor(msg, 10*time.Second)
			if !ok {
				t.Fatalf("the follower did not print %q within 10s; stdout %q stderr %s", msg, lines.all(), stop())
			}
			lag := l.at.Sub(put)
			t.Logf("kinsight logs tail -f printed %q %v after PutLogEvents returned", msg, lag.Round(time.Millisecond))
			if lag >= time.Second {
				t.Errorf("the follower printed %q %v after it was put, want < 1s", msg, lag)
			}
		}
		stop()
		got := acNDJSON(t, strings.Join(lines.all(), "\n"))
		want := append(pick(func(ev) bool { return true }), "followed event 0", "followed event 1", "followed event 2")
		gotMsgs := acMessages(got)
		slices.Sort(gotMsgs)
		slices.Sort(want)
		acEqual(t, "every event followed once", gotMsgs, want)
	})
}
