package cli

import (
	"math"
	"runtime/debug"
	"testing"

	"github.com/kinsight/kinsight/internal/config"
)

// TestAgentGC checks that agent.memory_limit and agent.gc_percent reach
// the runtime unless GOMEMLIMIT and GOGC are set, and that 0 leaves them
// alone.
func TestAgentGC(t *testing.T) {
	prevLimit := debug.SetMemoryLimit(-1)
	prevGC := debug.SetGCPercent(100)
	t.Cleanup(func() {
		debug.SetMemoryLimit(prevLimit)
		debug.SetGCPercent(prevGC)
	})
	env := func(vars map[string]string) *Env {
		return &Env{Getenv: func(k string) string { return vars[k] }}
	}
	a := config.DefaultAgent()

	setAgentGC(env(nil), a)
	if got := debug.SetMemoryLimit(-1); got != 48<<20 {
		t.Errorf("default: memory limit %d, want %d", got, 48<<20)
	}
	if got := debug.SetGCPercent(100); got != 50 {
		t.Errorf("default: GOGC %d, want 50", got)
	}

	debug.SetMemoryLimit(math.MaxInt64)
	setAgentGC(env(map[string]string{"GOMEMLIMIT": "1GiB", "GOGC": "200"}), a)
	if got := debug.SetMemoryLimit(-1); got != math.MaxInt64 {
		t.Errorf("GOMEMLIMIT set: memory limit %d, want it left alone", got)
	}
	if got := debug.SetGCPercent(100); got != 100 {
		t.Errorf("GOGC set: GOGC %d, want it left alone (100)", got)
	}

	a.MemoryLimit, a.GCPercent = 0, 0
	setAgentGC(env(nil), a)
	if got := debug.SetMemoryLimit(-1); got != math.MaxInt64 {
		t.Errorf("memory_limit 0: memory limit %d, want it left alone", got)
	}
	if got := debug.SetGCPercent(100); got != 100 {
		t.Errorf("gc_percent 0: GOGC %d, want it left alone (100)", got)
	}
}
