package cli

import (
	"context"
	"math"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"testing"
	"time"

	"github.com/kinsight/kinsight/internal/config"
)

// TestServerMemoryLimit checks that server.memory_limit becomes the
// runtime's soft limit unless GOMEMLIMIT is set or the limit is 0 (off),
// and that the previous limit comes back when the server's context ends.
func TestServerMemoryLimit(t *testing.T) {
	prev := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetMemoryLimit(prev) })
	s := config.DefaultServer()
	env := func(v string) *Env { return &Env{Getenv: func(string) string { return v }} }

	debug.SetMemoryLimit(math.MaxInt64)
	ctx, cancel := context.WithCancel(context.Background())
	setServerMemoryLimit(ctx, env(""), s)
	if got := debug.SetMemoryLimit(-1); got != 320<<20 {
		t.Errorf("default: limit %d, want %d", got, 320<<20)
	}
	cancel()
	deadline := time.Now().Add(10 * time.Second)
	for debug.SetMemoryLimit(-1) != math.MaxInt64 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if got := debug.SetMemoryLimit(-1); got != math.MaxInt64 {
		t.Errorf("after the context ended: limit %d, want the previous one back", got)
	}

	setServerMemoryLimit(context.Background(), env("1GiB"), s)
	if got := debug.SetMemoryLimit(-1); got != math.MaxInt64 {
		t.Errorf("with GOMEMLIMIT set: limit %d, want it left alone", got)
	}
	s.MemoryLimit = 0
	setServerMemoryLimit(context.Background(), env(""), s)
	if got := debug.SetMemoryLimit(-1); got != math.MaxInt64 {
		t.Errorf("memory_limit 0: limit %d, want it left alone", got)
	}
}

// TestMemoryLimitFollowsLiveHeap checks the floor of 2 × live −
// memory_limit/3: a limit near what is live would keep the collector
// running.
func TestMemoryLimitFollowsLiveHeap(t *testing.T) {
	sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	if got := memoryLimitFor(math.MaxInt64/2, sample); got != math.MaxInt64/2 {
		t.Errorf("a limit above 2 × live: got %d, want it unchanged", got)
	}
	keep := make([]byte, 64<<20)
	for i := range keep {
		keep[i] = 1
	}
	runtime.GC()
	metrics.Read(sample)
	live := int64(sample[0].Value.Uint64())
	if live < 64<<20 {
		t.Fatalf("live heap %d after holding 64 MiB", live)
	}
	const configured = 3 << 20
	got := memoryLimitFor(configured, sample)
	if want := 2*live - configured/3; got != want {
		t.Errorf("limit %d with %d live, want %d", got, live, want)
	}
	runtime.KeepAlive(keep)
}
