package nodemetrics

import (
	"syscall"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// BenchmarkCollect is one collection of this machine's /proc and /sys (the
// metrics sent on a channel, not encoded): the agent's cost per interval.
func BenchmarkCollect(b *testing.B) {
	c, err := New(Options{})
	if err != nil {
		b.Fatal(err)
	}
	ch := make(chan prometheus.Metric, 1<<14)
	b.ReportAllocs()
	n := 0
	cpu0 := processCPU(b)
	for b.Loop() {
		c.Collect(ch)
		n = len(ch)
		for len(ch) > 0 {
			<-ch
		}
	}
	b.ReportMetric(float64(n), "series/op")
	// CPU time, not wall time: on a shared machine ns/op mostly measures
	// waiting for a core (each statfs runs in its own goroutine).
	b.ReportMetric(float64(processCPU(b)-cpu0)/float64(b.N), "cpu-ns/op")
}

// BenchmarkGather adds what a registry does on top: checking and
// converting every series to its protobuf form.
func BenchmarkGather(b *testing.B) {
	c, err := New(Options{})
	if err != nil {
		b.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(c)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := reg.Gather(); err != nil {
			b.Fatal(err)
		}
	}
}

// processCPU is the process's user+system CPU time in nanoseconds.
func processCPU(b *testing.B) int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}
