package cloudwatch

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// makeEvents returns n ordered events, one millisecond apart from ts0,
// with unique messages padded to size bytes (at least the id).
func makeEvents(n int, ts0 int64, size int) []Event {
	evs := make([]Event, n)
	for i := range evs {
		msg := fmt.Sprintf("event-%07d ", i)
		if len(msg) < size {
			msg += strings.Repeat("x", size-len(msg))
		}
		evs[i] = Event{Timestamp: ts0 + int64(i), Message: msg}
	}
	return evs
}

func checkSame(t *testing.T, got, want []Event) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("read back %d events, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("event %d = {%d %.40q}, want {%d %.40q}", i, got[i].Timestamp, got[i].Message, want[i].Timestamp, want[i].Message)
		}
	}
}

func putOK(o *Output) float64 {
	return testutil.ToFloat64(o.m.requests.WithLabelValues("PutLogEvents", resultOK))
}

// TestSendCompressionModes sends through each Content-Encoding to a real
// server with SigV4 on; group and stream are created on first use.
func TestSendCompressionModes(t *testing.T) {
	s := startServer(t)
	now := time.Now().UnixMilli()
	for _, tc := range []struct {
		compression string
		compressed  bool
	}{
		{CompressionNone, false},
		{CompressionGzip, true},
		{CompressionZstd, true},
		{CompressionAuto, true}, // Endpoint set: S2
	} {
		t.Run(tc.compression, func(t *testing.T) {
			o, _ := newOutput(t, s, func(c *Config) { c.Compression = tc.compression; c.RetentionDays = 7 })
			group, stream := "/aws/containerinsights/test/"+tc.compression, "node-1"
			want := makeEvents(3000, now-60_000, 200)
			if err := o.Send(context.Background(), group, stream, want); err != nil {
				t.Fatalf("Send: %v", err)
			}
			checkSame(t, readAll(t, s, group, stream), want)
			if got := testutil.ToFloat64(o.m.created.WithLabelValues("group")); got != 1 {
				t.Errorf("groups created = %v, want 1", got)
			}
			if got := testutil.ToFloat64(o.m.created.WithLabelValues("stream")); got != 1 {
				t.Errorf("streams created = %v, want 1", got)
			}
			msgBytes := testutil.ToFloat64(o.m.bytes)
			wire := testutil.ToFloat64(o.m.requestBytes)
			if tc.compressed != (wire < msgBytes/4) {
				t.Errorf("request bytes %v for %v message bytes: compressed=%v, want %v", wire, msgBytes, wire < msgBytes/4, tc.compressed)
			}
			if got := testutil.ToFloat64(o.m.events); got != 3000 {
				t.Errorf("events_total = %v, want 3000", got)
			}
			// A second Send to the existing stream creates nothing.
			more := makeEvents(10, now, 50)
			if err := o.Send(context.Background(), group, stream, more); err != nil {
				t.Fatalf("Send: %v", err)
			}
			if got := testutil.ToFloat64(o.m.created.WithLabelValues("stream")); got != 1 {
				t.Errorf("streams created after second Send = %v, want 1", got)
			}
			checkSame(t, readAll(t, s, group, stream), append(want, more...))
		})
	}
}

// TestCreatesKeepTheirBodies: the group and stream a Send creates get
// their own requests' bodies, not the put's events (they once did, and
// PutRetentionPolicy, missing its retentionInDays, failed).
func TestCreatesKeepTheirBodies(t *testing.T) {
	s := startServer(t)
	// Setting retention takes an admin key.
	o, _ := newOutput(t, s, func(c *Config) {
		c.AccessKeyID, c.SecretAccessKey = adminKey, adminSecret
		c.RetentionDays = 7
	})
	if err := o.Send(context.Background(), "/retained", "s", makeEvents(10, time.Now().UnixMilli(), 50)); err != nil {
		t.Fatalf("Send: %v", err)
	}
	groups, err := o.Client().DescribeLogGroups(context.Background(), &cloudwatchlogs.DescribeLogGroupsInput{LogGroupNamePrefix: aws.String("/retained")})
	if err != nil || len(groups.LogGroups) != 1 || aws.ToInt32(groups.LogGroups[0].RetentionInDays) != 7 {
		t.Fatalf("DescribeLogGroups: %v, %d groups; want one with retention 7", err, len(groups.LogGroups))
	}
}

// TestSendSplitsAtLimits checks the request count at each limit's edge
// against the real server, which refuses any batch past a limit.
func TestSendSplitsAtLimits(t *testing.T) {
	s := startServer(t)
	now := time.Now().UnixMilli()
	exact := MaxBatchBytes/1024 - EventOverhead // 1024 events of this size are exactly 1 MiB
	day := int64(MaxBatchSpanMs)
	spanEvents := func(last int64) []Event {
		return []Event{{Timestamp: now - 2*day, Message: "first"}, {Timestamp: now - 2*day + 1, Message: "second"}, {Timestamp: now - 2*day + last, Message: "last"}}
	}
	for _, tc := range []struct {
		name     string
		events   []Event
		requests float64
	}{
		{"10000 events", makeEvents(MaxBatchEvents, now-60_000, 10), 1},
		{"10001 events", makeEvents(MaxBatchEvents+1, now-60_000, 10), 2},
		{"25000 events", makeEvents(25_000, now-60_000, 10), 3},
		{"exactly 1 MiB", makeEvents(1024, now-60_000, exact), 1},
		{"1 MiB + 1 byte", append(makeEvents(1023, now-60_000, exact), Event{Timestamp: now, Message: strings.Repeat("y", exact+1)}), 2},
		{"span exactly 24h", spanEvents(day), 1},
		{"span 24h + 1ms", spanEvents(day + 1), 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o, _ := newOutput(t, s, nil)
			group, stream := "/limits", strings.ReplaceAll(tc.name, " ", "-")
			if err := o.Send(context.Background(), group, stream, tc.events); err != nil {
				t.Fatalf("Send: %v", err)
			}
			if got := putOK(o); got != tc.requests {
				t.Errorf("PutLogEvents requests = %v, want %v", got, tc.requests)
			}
			checkSame(t, readAll(t, s, group, stream), tc.events)
		})
	}
}

// TestSendFixesEvents: oversized messages are truncated, empty ones
// dropped, and events the server refuses by timestamp are counted.
func TestSendFixesEvents(t *testing.T) {
	s := startServer(t)
	o, _ := newOutput(t, s, nil)
	now := time.Now().UnixMilli()
	ctx := context.Background()
	big := strings.Repeat("é", MaxBatchBytes) // 2 MiB of 2-byte runes
	in := []Event{{Timestamp: now - 3, Message: "a"}, {Timestamp: now - 2, Message: ""}, {Timestamp: now - 1, Message: big}, {Timestamp: now, Message: "b\xffc"}}
	if err := o.Send(ctx, "/fix", "s", in); err != nil {
		t.Fatalf("Send: %v", err)
	}
	got := readAll(t, s, "/fix", "s")
	if len(got) != 3 || got[0].Message != "a" || got[2].Message != "b\uFFFDc" {
		t.Fatalf("read back %d events", len(got))
	}
	if m := got[1].Message; len(m) > MaxMessageBytes || len(m) < MaxMessageBytes-3 || !strings.HasSuffix(m, TruncationMarker) {
		t.Errorf("truncated message: %d bytes, suffix %q", len(m), m[len(m)-40:])
	}
	if n := testutil.ToFloat64(o.m.truncated); n != 1 {
		t.Errorf("truncated_events_total = %v, want 1", n)
	}
	if n := testutil.ToFloat64(o.m.dropped.WithLabelValues(reasonInvalid)); n != 1 {
		t.Errorf("dropped{invalid} = %v, want 1", n)
	}

	old := now - 20*24*3600*1000
	if err := o.Send(ctx, "/fix", "old", []Event{{Timestamp: old, Message: "old-1"}, {Timestamp: old + 1, Message: "old-2"}}); err != nil {
		t.Fatalf("Send old: %v", err)
	}
	if err := o.Send(ctx, "/fix", "new", []Event{{Timestamp: now, Message: "ok"}, {Timestamp: now + 5*3600*1000, Message: "future"}}); err != nil {
		t.Fatalf("Send future: %v", err)
	}
	for reason, want := range map[string]float64{reasonTooOld: 2, reasonTooNew: 1, reasonExpired: 0} {
		if n := testutil.ToFloat64(o.m.dropped.WithLabelValues(reason)); n != want {
			t.Errorf("dropped{%s} = %v, want %v", reason, n, want)
		}
	}

	err := o.Send(ctx, "/fix", "s", []Event{{Timestamp: now, Message: "b"}, {Timestamp: now - 1, Message: "a"}})
	if !errors.Is(err, ErrUnordered) {
		t.Errorf("unordered Send: %v, want ErrUnordered", err)
	}
}

// TestSendSurvivesRestart stops the server while Send is busy and starts
// a new one on the same data dir and address: Send succeeds, and every
// event is stored, in order, duplicated at most within the batch that was
// in flight.
func TestSendSurvivesRestart(t *testing.T) {
	s := startServer(t)
	o, _ := newOutput(t, s, func(c *Config) { c.MaxRetries = 200 })
	now := time.Now().UnixMilli()
	want := makeEvents(20*2000, now-600_000, 500) // ~21 batches of ~1 MB
	done := make(chan error, 1)
	go func() { done <- o.Send(context.Background(), "/restart", "s", want) }()
	for putOK(o) < 2 {
		time.Sleep(5 * time.Millisecond)
	}
	s.stop()
	time.Sleep(100 * time.Millisecond) // let Send meet the dead server
	s.start()
	if err := <-done; err != nil {
		t.Fatalf("Send: %v", err)
	}
	if testutil.ToFloat64(o.m.retries) == 0 {
		t.Errorf("no retries counted across a restart")
	}
	got := readAll(t, s, "/restart", "s")
	seen := make(map[string]int, len(got))
	for i, e := range got {
		if i > 0 && e.Timestamp < got[i-1].Timestamp {
			t.Fatalf("event %d out of order", i)
		}
		seen[e.Message]++
	}
	dups := len(got) - len(seen)
	for _, e := range want {
		if seen[e.Message] == 0 {
			t.Fatalf("event %q lost", e.Message[:14])
		}
	}
	if n, _ := nextBatch(want); dups > n {
		t.Errorf("%d duplicates: more than one batch (%d events)", dups, n)
	}
	t.Logf("%d events, %d duplicated, %v retries", len(want), dups, testutil.ToFloat64(o.m.retries))
}

// TestSendWaitsForServer: a server that is down when Send starts.
func TestSendWaitsForServer(t *testing.T) {
	s := startServer(t)
	o, _ := newOutput(t, s, func(c *Config) { c.MaxRetries = 100 })
	s.stop()
	done := make(chan error, 1)
	want := makeEvents(100, time.Now().UnixMilli(), 20)
	go func() { done <- o.Send(context.Background(), "/late", "s", want) }()
	time.Sleep(150 * time.Millisecond)
	s.start()
	if err := <-done; err != nil {
		t.Fatalf("Send: %v", err)
	}
	checkSame(t, readAll(t, s, "/late", "s"), want)
}

// TestSendStops: cancellation ends retries promptly; a wrong secret and
// an exhausted retry budget fail with the cause.
func TestSendStops(t *testing.T) {
	s := startServer(t)
	evs := makeEvents(10, time.Now().UnixMilli(), 10)

	t.Run("wrong secret", func(t *testing.T) {
		o, _ := newOutput(t, s, func(c *Config) { c.SecretAccessKey = "wrong"; c.RetryBase = time.Second; c.RetryMax = 5 * time.Second })
		start := time.Now()
		err := o.Send(context.Background(), "/auth", "s", evs)
		var se *SendError
		if !errors.As(err, &se) || se.Acked != 0 {
			t.Fatalf("Send: %v, want *SendError with Acked 0", err)
		}
		if code := errorCode(err); code != "InvalidSignatureException" && code != "UnrecognizedClientException" {
			t.Errorf("error code %q (%v)", code, err)
		}
		if d := time.Since(start); d > 900*time.Millisecond {
			t.Errorf("took %v: an auth error must not be retried", d)
		}
		if n := testutil.ToFloat64(o.m.retries); n != 0 {
			t.Errorf("retries = %v, want 0", n)
		}
	})

	s.stop()
	t.Run("ctx cancelled", func(t *testing.T) {
		o, _ := newOutput(t, s, func(c *Config) { c.MaxRetries = 1_000_000; c.RetryMax = 10 * time.Second })
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		start := time.Now()
		err := o.Send(ctx, "/down", "s", evs)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Send: %v, want context.DeadlineExceeded", err)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("Send returned %v after its deadline", d)
		}
	})
	t.Run("retries exhausted", func(t *testing.T) {
		o, _ := newOutput(t, s, func(c *Config) { c.MaxRetries = 3 })
		err := o.Send(context.Background(), "/down", "s", evs)
		if err == nil || !retryable(err) {
			t.Fatalf("Send: %v, want the last (retryable) error", err)
		}
		if n := testutil.ToFloat64(o.m.retries); n != 3 {
			t.Errorf("retries = %v, want 3", n)
		}
	})
}

// TestSendRepeatIsSkipped: events sent again with the same positions (an
// agent re-reading after a crash) are acknowledged and not stored twice;
// later positions are stored; a batch whose channel goes back in time
// order is sent without positions (stored, not deduplicated). Quoted events
// carry positions like plain ones.
func TestSendRepeatIsSkipped(t *testing.T) {
	s := startServer(t)
	o, _ := newOutput(t, s, nil)
	ctx := context.Background()
	now := time.Now().UnixMilli() - 60_000
	var first []Event
	for i := range 200 {
		e := Event{Timestamp: now + int64(i), Message: fmt.Sprintf("line %d", i), End: int64(i+1) * 10, Source: 0xfeed, Channel: uint8(1 + i%2)}
		if i%3 == 0 {
			e = quoted(e.Timestamp, e.Message)
			e.End, e.Source, e.Channel = int64(i+1)*10, 0xfeed, uint8(1+i%2)
		}
		first = append(first, e)
	}
	if err := o.Send(ctx, "/dedup", "s", first); err != nil {
		t.Fatal(err)
	}
	// The crash: the last 50 again, then 10 new ones.
	again := append(slices.Clone(first[150:]), Event{Timestamp: now + 300, Message: "new", End: 5000, Source: 0xfeed, Channel: 1})
	if err := o.Send(ctx, "/dedup", "s", again); err != nil {
		t.Fatal(err)
	}
	if got := testutil.ToFloat64(o.m.duplicates); got != 50 {
		t.Errorf("duplicate_events_total = %v, want 50", got)
	}
	got := readAll(t, s, "/dedup", "s")
	if len(got) != 201 || got[200].Message != "new" {
		t.Fatalf("stored %d events (last %q), want 201 ending with the new one", len(got), got[len(got)-1].Message)
	}
	// Ends going back within a channel: no header, so nothing is skipped.
	back := []Event{
		{Timestamp: now + 400, Message: "b1", End: 7000, Source: 0xfeed, Channel: 1},
		{Timestamp: now + 401, Message: "b2", End: 6000, Source: 0xfeed, Channel: 1},
	}
	if err := o.Send(ctx, "/dedup", "s", back); err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, s, "/dedup", "s"); len(got) != 203 {
		t.Fatalf("stored %d events, want 203", len(got))
	}
}
