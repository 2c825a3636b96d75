package agentwal_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/kinsight/kinsight/internal/metricstore/agentwal"
)

// cpuSeconds is this process's utime+stime from /proc/self/stat.
func cpuSeconds(b *testing.B) float64 {
	raw, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		b.Skip("no /proc/self/stat")
	}
	f := strings.Fields(string(raw[strings.LastIndexByte(string(raw), ')')+2:]))
	ut, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	return (ut + st) / 100 // USER_HZ
}

// BenchmarkCollectionShipped is one collection of an agent with 20,000
// samples (a node and ~110 pods' worth) gathered from a client_golang
// registry, appended to the WAL and shipped to an endpoint that answers
// 204 at once (the receiver's cost is not counted). cpu-s/op is the
// process's CPU time per collection; at one collection per 10 s, 0.02
// cpu-s/op is 0.2% of a core.
func BenchmarkCollectionShipped(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) }))
	defer srv.Close()
	g := prometheus.NewRegistry()
	v := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "bench_container_metric", Help: "h"}, []string{"Namespace", "PodName", "container", "kind"})
	g.MustRegister(v)
	for i := range 20000 {
		v.WithLabelValues("ns"+strconv.Itoa(i%10), "pod-"+strconv.Itoa(i%110), "c"+strconv.Itoa(i%3), "k"+strconv.Itoa(i/330)).Set(float64(i))
	}
	reg := prometheus.NewRegistry()
	s, err := agentwal.Open(agentwal.Options{Dir: b.TempDir(), Registerer: reg,
		Endpoints: []agentwal.Endpoint{{URL: srv.URL, Queue: agentwal.QueueConfig{PollInterval: 10 * time.Millisecond}}}})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	extra := []agentwal.Label{{"ClusterName", "bench"}, {"NodeName", "node-1"}}
	ts := time.Now().Add(-time.Hour)
	cpu0 := cpuSeconds(b)
	b.ResetTimer()
	for i := range b.N {
		if err := s.AppendGathered(context.Background(), g, ts.Add(time.Duration(i)*time.Second), extra); err != nil {
			b.Fatal(err)
		}
		want := float64((i + 1) * 20000)
		for sent(b, reg) < want {
			time.Sleep(time.Millisecond)
		}
	}
	b.StopTimer()
	b.ReportMetric((cpuSeconds(b)-cpu0)/float64(b.N), "cpu-s/op")
}

func sent(b *testing.B, reg *prometheus.Registry) float64 {
	mfs, err := reg.Gather()
	if err != nil {
		b.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == "kinsight_agent_remote_storage_samples_total" {
			return mf.Metric[0].GetCounter().GetValue()
		}
	}
	return 0
}
