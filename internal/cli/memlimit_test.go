package cli

import (
	"math"
	"runtime/debug"
	"testing"

	"github.com/kinsight/kinsight/internal/config"
)

// TestServerMemoryLimit checks that server.memory_limit becomes the
// runtime's soft limit unless GOMEMLIMIT is set or the limit is 0 (off).
func TestServerMemoryLimit(t *testing.T) {
	prev := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetMemoryLimit(prev) })
	s := config.DefaultServer()
	env := func(v string) *Env { return &Env{Getenv: func(string) string { return v }} }

	debug.SetMemoryLimit(math.MaxInt64)
	setServerMemoryLimit(env(""), s)
	if got := debug.SetMemoryLimit(-1); got != 320<<20 {
		t.Errorf("default: limit %d, want %d", got, 320<<20)
	}

	debug.SetMemoryLimit(math.MaxInt64)
	setServerMemoryLimit(env("1GiB"), s)
	if got := debug.SetMemoryLimit(-1); got != math.MaxInt64 {
		t.Errorf("with GOMEMLIMIT set: limit %d, want it left alone", got)
	}

	s.MemoryLimit = 0
	setServerMemoryLimit(env(""), s)
	if got := debug.SetMemoryLimit(-1); got != math.MaxInt64 {
		t.Errorf("memory_limit 0: limit %d, want it left alone", got)
	}
}
