package cwlogs

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// While the in-flight byte budget is held by other requests, a request
// waits, then is throttled; once room frees up, requests go through.
func TestInflightBudgetThrottles(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.MaxRequestBytes = 2 << 20; o.MaxInflightBytes = 2 << 20 })
	e.h.flightWait = 200 * time.Millisecond
	e.mustOK("CreateLogGroup", map[string]any{"logGroupName": "g"})

	// Hold the whole budget, as slow concurrent uploads would.
	if !e.h.inflight.TryAcquire(e.h.maxFlight) {
		t.Fatal("budget not free")
	}
	start := time.Now()
	r := e.call("DescribeLogGroups", map[string]any{})
	if r.status != http.StatusBadRequest || !strings.Contains(string(r.body), "ThrottlingException") {
		t.Fatalf("with the budget full: %d %s", r.status, r.body)
	}
	if waited := time.Since(start); waited < 200*time.Millisecond {
		t.Fatalf("throttled after %v, before waiting for room", waited)
	}
	if got := testutil.ToFloat64(e.h.m.throttled); got != 1 {
		t.Fatalf("throttled counter = %v", got)
	}
	e.h.inflight.Release(e.h.maxFlight)
	e.mustOK("DescribeLogGroups", map[string]any{})
}
