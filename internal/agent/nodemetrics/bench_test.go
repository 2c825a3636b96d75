package nodemetrics

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
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

// BenchmarkGatherEncode is the agent's side of the comparison with
// BenchmarkNodeExporterScrape: gather and encode as text, as node-exporter
// does per scrape (without its HTTP and its own go_/process_ metrics).
func BenchmarkGatherEncode(b *testing.B) {
	c, err := New(Options{})
	if err != nil {
		b.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(c)
	b.ReportAllocs()
	cpu0 := processCPU(b)
	for b.Loop() {
		mfs, err := reg.Gather()
		if err != nil {
			b.Fatal(err)
		}
		enc := expfmt.NewEncoder(io.Discard, expfmt.NewFormat(expfmt.TypeTextPlain))
		for _, mf := range mfs {
			if err := enc.Encode(mf); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(processCPU(b)-cpu0)/float64(b.N), "cpu-ns/op")
}

// BenchmarkNodeExporterScrape scrapes the real node-exporter, with the same
// collectors and excludes, and reports node-exporter's CPU per scrape from
// /proc/<pid>/stat (utime+stime, 10 ms ticks: run with -benchtime 500x or
// more).
func BenchmarkNodeExporterScrape(b *testing.B) {
	url, pid := startNodeExporter(b, Options{ProcPath: DefaultProcPath, SysPath: DefaultSysPath, RootPath: DefaultRootPath})
	cpu0 := pidCPU(b, pid)
	for b.Loop() {
		resp, err := http.Get(url)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	b.ReportMetric(float64(pidCPU(b, pid)-cpu0)/float64(b.N), "ne-cpu-ns/op")
}

// pidCPU is a process's utime+stime in nanoseconds, from /proc/<pid>/stat.
func pidCPU(b *testing.B, pid int) int64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		b.Fatal(err)
	}
	// Fields after the command name, which is in parentheses.
	f := strings.Fields(string(data[bytes.LastIndexByte(data, ')')+2:]))
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return (utime + stime) * int64(time.Second/100) // USER_HZ
}
