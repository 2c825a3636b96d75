package cloudwatch

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// positioned returns n events of stream with positions in source src.
func positioned(stream string, src uint64, n int) []Event {
	now := time.Now().UnixMilli()
	evs := make([]Event, n)
	for i := range evs {
		evs[i] = Event{Timestamp: now + int64(i), Message: fmt.Sprintf("%s line %d", stream, i), Source: src, End: int64(100 * (i + 1))}
	}
	return evs
}

func counter(t *testing.T, reg *prometheus.Registry, name string, labels ...string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	total := 0.0
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metric:
		for _, m := range mf.GetMetric() {
			for i := 0; i+1 < len(labels); i += 2 {
				found := false
				for _, lp := range m.GetLabel() {
					if lp.GetName() == labels[i] && lp.GetValue() == labels[i+1] {
						found = true
					}
				}
				if !found {
					continue metric
				}
			}
			total += m.GetCounter().GetValue()
		}
	}
	return total
}

// TestSendManyRealServer: parts of several streams go in one request to a
// real kinsight server; a missing stream fails only its part (Send then
// creates it); sending the same parts again stores nothing twice.
func TestSendManyRealServer(t *testing.T) {
	s := startServer(t)
	o, reg := newOutput(t, s, nil)
	ctx := context.Background()
	if !o.Batches() {
		t.Fatal("Batches() = false for a kinsight server")
	}
	// Streams a and b exist; c does not.
	for _, st := range []string{"a", "b"} {
		if err := o.Send(ctx, "g", st, positioned(st, 1, 1)); err != nil {
			t.Fatalf("Send %s: %v", st, err)
		}
	}
	reqs := counter(t, reg, "kinsight_agent_output_requests_total")
	parts := []Part{
		{Group: "g", Stream: "a", Events: positioned("a", 1, 5)},
		{Group: "g", Stream: "c", Events: positioned("c", 3, 2)},
		{Group: "g", Stream: "b", Events: positioned("b", 2, 3)},
	}
	errs := o.SendMany(ctx, parts)
	if errs[0] != nil || errs[2] != nil {
		t.Fatalf("SendMany: %v", errs)
	}
	if errorCode(errs[1]) != "ResourceNotFoundException" {
		t.Fatalf("part of a missing stream: %v, want ResourceNotFoundException", errs[1])
	}
	if got := counter(t, reg, "kinsight_agent_output_requests_total") - reqs; got != 1 {
		t.Errorf("SendMany made %v requests, want 1", got)
	}
	if err := o.Send(ctx, "g", "c", parts[1].Events); err != nil {
		t.Fatalf("Send c after its part failed: %v", err)
	}
	// a had its first event already (same position): a duplicate.
	if got := counter(t, reg, "kinsight_agent_output_duplicate_events_total"); got != 1 {
		t.Errorf("duplicates = %v, want 1", got)
	}
	errs = o.SendMany(ctx, parts)
	for i, err := range errs {
		if err != nil {
			t.Fatalf("resend part %d: %v", i, err)
		}
	}
	if got := counter(t, reg, "kinsight_agent_output_duplicate_events_total"); got != 1+10 {
		t.Errorf("duplicates after the resend = %v, want 11", got)
	}
	for st, want := range map[string]int{"a": 5, "b": 4, "c": 2} {
		if got := len(readAll(t, s, "g", st)); got != want {
			t.Errorf("stream %s holds %d events, want %d", st, got, want)
		}
	}
	// A part larger than one PutLogEvents is left to Send.
	big := make([]Event, MaxBatchEvents+1)
	for i := range big {
		big[i] = Event{Timestamp: time.Now().UnixMilli(), Message: "x"}
	}
	if errs := o.SendMany(ctx, []Part{{Group: "g", Stream: "a", Events: big}}); !errors.Is(errs[0], ErrNotBatched) {
		t.Errorf("oversized part: %v, want ErrNotBatched", errs[0])
	}
}

// TestSendManyOldServer: a server that does not know the action (an older
// kinsight server: 400 UnknownOperationException) turns batching off; the
// parts come back as ErrNotBatched and Send delivers them.
func TestSendManyOldServer(t *testing.T) {
	s := startServer(t)
	u, _ := url.Parse(s.endpoint())
	proxy := httputil.NewSingleHostReverseProxy(u)
	var refused atomic.Int64
	old := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Amz-Target") == BatchTarget {
			refused.Add(1)
			w.Header().Set("Content-Type", "application/x-amz-json-1.1")
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte(`{"__type":"UnknownOperationException","message":"Unknown operation \"Logs_20140328.PutLogEventsBatch\"."}`))
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(old.Close)
	o, reg := newOutput(t, s, func(c *Config) { c.Endpoint = old.URL })
	ctx := context.Background()
	parts := []Part{
		{Group: "g", Stream: "a", Events: positioned("a", 1, 2)},
		{Group: "g", Stream: "b", Events: positioned("b", 2, 2)},
	}
	errs := o.SendMany(ctx, parts)
	for i, err := range errs {
		if !errors.Is(err, ErrNotBatched) {
			t.Fatalf("part %d: %v, want ErrNotBatched", i, err)
		}
		if err := o.Send(ctx, parts[i].Group, parts[i].Stream, parts[i].Events); err != nil {
			t.Fatalf("Send part %d: %v", i, err)
		}
	}
	if o.Batches() {
		t.Error("Batches() still true after UnknownOperationException")
	}
	if errs := o.SendMany(ctx, parts); !errors.Is(errs[0], ErrNotBatched) || refused.Load() != 1 {
		t.Errorf("after the fallback: %v, %d refused requests (want ErrNotBatched, 1)", errs, refused.Load())
	}
	if got := testutil.CollectAndCount(reg, "kinsight_agent_output_requests_total"); got == 0 {
		t.Error("no requests counted")
	}
	for _, st := range []string{"a", "b"} {
		if got := len(readAll(t, s, "g", st)); got != 2 {
			t.Errorf("stream %s holds %d events, want 2", st, got)
		}
	}
}

// TestBatchesOnlyToKinsight: to AWS (no endpoint), or with NoBatchRequests,
// nothing is batched: one PutLogEvents per batch, as before.
func TestBatchesOnlyToKinsight(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Region = "us-east-1"
	cfg.AccessKeyID, cfg.SecretAccessKey = "AKID", "secret"
	o, err := New(context.Background(), cfg, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if o.Batches() {
		t.Error("Batches() = true for AWS")
	}
	if errs := o.SendMany(context.Background(), []Part{{Group: "g", Stream: "s", Events: positioned("s", 1, 1)}}); !errors.Is(errs[0], ErrNotBatched) {
		t.Errorf("SendMany to AWS: %v, want ErrNotBatched", errs[0])
	}
	s := startServer(t)
	if o, _ := newOutput(t, s, func(c *Config) { c.NoBatchRequests = true }); o.Batches() {
		t.Error("Batches() = true with NoBatchRequests")
	}
}
