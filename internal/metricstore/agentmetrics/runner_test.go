package agentmetrics_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/model/labels"

	"github.com/kinsight/kinsight/internal/agent/nodemetrics"
	"github.com/kinsight/kinsight/internal/agent/podmetrics"
	"github.com/kinsight/kinsight/internal/config"
	"github.com/kinsight/kinsight/internal/metricstore/agentmetrics"
	"github.com/kinsight/kinsight/internal/metricstore/agentwal"
	"github.com/kinsight/kinsight/internal/server"
)

// startServer runs a real kinsight server in process and returns its base
// URL.
func startServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg := config.DefaultServer()
	cfg.Listen = ln.Addr().String()
	cfg.DataDir = t.TempDir()
	s, err := server.New(cfg, server.Options{Listener: ln, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("server: %v", err)
		}
	})
	return "http://" + cfg.Listen
}

// series runs an instant query and returns the label sets of the result.
func series(t *testing.T, base, q string) []map[string]string {
	t.Helper()
	resp, err := http.Get(base + "/api/v1/query?" + url.Values{"query": {q}}.Encode())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var r struct {
		Data struct {
			Result []struct{ Metric map[string]string }
		}
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		t.Fatal(err)
	}
	var out []map[string]string
	for _, s := range r.Data.Result {
		out = append(out, s.Metric)
	}
	return out
}

func waitFor(t *testing.T, what string, d time.Duration, ok func() bool) {
	t.Helper()
	for deadline := time.Now().Add(d); !ok(); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
	}
}

func counter(t *testing.T, reg *prometheus.Registry, name string, want map[string]string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	sum := 0.0
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metric:
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if v, ok := want[lp.GetName()]; ok && v != lp.GetValue() {
					continue metric
				}
			}
			sum += m.GetCounter().GetValue()
		}
	}
	return sum
}

// TestRunner runs the real node collector and a pod collector whose
// kubelet is down into a store shipping to a real kinsight server: node
// series arrive with the runner's labels, the pod source's failures are
// counted without stopping the node source, a sample appended through
// Appendable (as the scraper does) arrives too, and Run closes the store.
func TestRunner(t *testing.T) {
	base := startServer(t)
	reg := prometheus.NewRegistry()
	store, err := agentwal.Open(agentwal.Options{
		Dir: t.TempDir(), Registerer: reg,
		Endpoints: []agentwal.Endpoint{{URL: base + "/api/v1/write", Queue: agentwal.QueueConfig{BatchSendDeadline: 100 * time.Millisecond, PollInterval: 20 * time.Millisecond}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	node, err := nodemetrics.New(nodemetrics.Options{})
	if err != nil {
		t.Fatal(err)
	}
	// A kubelet that is not there: a closed port.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln.Close()
	pods, err := podmetrics.New(podmetrics.Options{
		ClusterName: "c", NodeName: "n",
		Kubelet: &podmetrics.KubeletOptions{URL: "http://" + ln.Addr().String(), TokenFile: "-", InsecureSkipVerify: true},
		Logger:  slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	r, err := agentmetrics.New(agentmetrics.Options{
		Store: store, Interval: 200 * time.Millisecond, Registerer: reg,
		Node: node, NodeLabels: []agentwal.Label{{Name: "instance", Value: "node-1"}, {Name: "job", Value: "kinsight-agent"}},
		Pods:   pods,
		Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()

	// The scraper's path: a storage.Appender transaction.
	app := agentmetrics.Appendable{Store: store}.Appender(ctx)
	if _, err := app.Append(0, labels.FromStrings("__name__", "scraped_thing", "job", "j"), time.Now().UnixMilli(), 7); err != nil {
		t.Fatal(err)
	}
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}

	waitFor(t, "node_load1 on the server", 20*time.Second, func() bool {
		s := series(t, base, "node_load1")
		return len(s) == 1 && s[0]["instance"] == "node-1" && s[0]["job"] == "kinsight-agent"
	})
	waitFor(t, "scraped_thing on the server", 20*time.Second, func() bool {
		return len(series(t, base, `scraped_thing{job="j"}`)) == 1
	})
	waitFor(t, "pod failures counted", 10*time.Second, func() bool {
		return counter(t, reg, "kinsight_agent_metrics_collections_total", map[string]string{"source": "pods", "result": "error"}) >= 2
	})
	if n := counter(t, reg, "kinsight_agent_metrics_collections_total", map[string]string{"source": "node", "result": "ok"}); n < 2 {
		t.Errorf("node collections ok = %v, want ≥ 2 while the pod source fails", n)
	}
	if n := counter(t, reg, "kinsight_agent_metrics_collections_total", map[string]string{"source": "node", "result": "error"}); n != 0 {
		t.Errorf("node collections failed %v times", n)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	// Closed: the runner's metrics are unregistered, so a new runner can
	// register them on the same registry.
	if n := counter(t, reg, "kinsight_agent_metrics_collections_total", nil); n != 0 {
		t.Errorf("runner metrics still registered after Run (%v)", n)
	}
}

func TestNewRefuses(t *testing.T) {
	if _, err := agentmetrics.New(agentmetrics.Options{Interval: time.Second}); err == nil {
		t.Error("New without a Store succeeded")
	}
}
