package agentwal_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/kinsight/kinsight/internal/config"
	"github.com/kinsight/kinsight/internal/metricstore/agentwal"
	"github.com/kinsight/kinsight/internal/server"
)

// kserver is a real kinsight server, in process, that can be stopped and
// restarted on the same address and data.
type kserver struct {
	t      *testing.T
	addr   string
	dir    string
	keys   []config.AccessKey
	cancel context.CancelFunc
	done   chan error
}

func startKinsight(t *testing.T, keys ...config.AccessKey) *kserver {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	k := &kserver{t: t, addr: ln.Addr().String(), dir: t.TempDir(), keys: keys}
	k.start(ln)
	t.Cleanup(k.stop)
	return k
}

func (k *kserver) start(ln net.Listener) {
	k.t.Helper()
	if ln == nil {
		var err error
		for i := 0; i < 50; i++ { // the port may linger for a moment
			if ln, err = net.Listen("tcp", k.addr); err == nil {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if err != nil {
			k.t.Fatal(err)
		}
	}
	cfg := config.DefaultServer()
	cfg.Listen = k.addr
	cfg.DataDir = k.dir
	cfg.Auth.AccessKeys = k.keys
	s, err := server.New(cfg, server.Options{Listener: ln, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		k.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	k.cancel, k.done = cancel, make(chan error, 1)
	go func() { k.done <- s.Run(ctx) }()
}

func (k *kserver) stop() {
	if k.cancel == nil {
		return
	}
	k.cancel()
	if err := <-k.done; err != nil {
		k.t.Errorf("server: %v", err)
	}
	k.cancel = nil
}

func (k *kserver) writeURL() string { return "http://" + k.addr + "/api/v1/write" }
func (k *kserver) baseURL() string  { return "http://" + k.addr }

// query runs an instant PromQL query and returns the first sample's value
// per the given label, or nil when the result is empty.
func query(t *testing.T, base, q string, hdr http.Header) map[string]float64 {
	t.Helper()
	req, _ := http.NewRequest("GET", base+"/api/v1/query?"+url.Values{"query": {q}}.Encode(), nil)
	for k, v := range hdr {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var r struct {
		Status string
		Data   struct {
			Result []struct {
				Metric map[string]string
				Value  [2]any
			}
		}
	}
	if err := json.Unmarshal(b, &r); err != nil || r.Status != "success" {
		t.Fatalf("query %s: %v %s", q, err, b)
	}
	out := map[string]float64{}
	for _, s := range r.Data.Result {
		v, _ := strconv.ParseFloat(s.Value[1].(string), 64)
		key := ""
		for _, n := range []string{"i", "__name__", "le", "quantile"} {
			if s.Metric[n] != "" {
				key += n + "=" + s.Metric[n] + " "
			}
		}
		out[key] = v
	}
	return out
}

func gauge(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	sum := 0.0
	for _, mf := range mfs {
		if mf.GetName() == name {
			for _, m := range mf.Metric {
				sum += m.GetCounter().GetValue() + m.GetGauge().GetValue() + m.GetUntyped().GetValue()
			}
		}
	}
	return sum
}

func fastQueue() agentwal.QueueConfig {
	return agentwal.QueueConfig{PollInterval: 20 * time.Millisecond, MinBackoff: 10 * time.Millisecond, MaxBackoff: 200 * time.Millisecond, Timeout: 5 * time.Second}
}

func openStore(t *testing.T, dir string, reg prometheus.Registerer, eps ...agentwal.Endpoint) *agentwal.Store {
	t.Helper()
	return openStoreOpts(t, agentwal.Options{Dir: dir, Endpoints: eps, Registerer: reg})
}

func openStoreOpts(t *testing.T, o agentwal.Options) *agentwal.Store {
	t.Helper()
	if o.ExternalLabels == nil {
		o.ExternalLabels = map[string]string{"cluster": "test"}
	}
	if o.WALSegmentSize == 0 {
		o.WALSegmentSize = 64 << 10
	}
	s, err := agentwal.Open(o)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// appendRound appends sample number n (value n) of series test_seq{i=0..9}.
func appendRound(t *testing.T, s *agentwal.Store, base time.Time, n int) {
	t.Helper()
	app := s.Appender(context.Background())
	for i := range 10 {
		ls := []agentwal.Label{{"__name__", "test_seq"}, {"i", strconv.Itoa(i)}}
		if err := app.Append(ls, base.Add(time.Duration(n)*100*time.Millisecond).UnixMilli(), float64(n)); err != nil {
			t.Fatal(err)
		}
	}
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}
}

func waitFor(t *testing.T, what string, d time.Duration, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestOutageAndRestart appends while the server is up, down for a while,
// while the agent is closed and reopened during the outage, and after the
// server is back: every sample must be queryable exactly once.
func TestOutageAndRestart(t *testing.T) {
	k := startKinsight(t)
	dir := t.TempDir()
	ep := agentwal.Endpoint{Name: "kinsight", URL: k.writeURL(), Queue: fastQueue()}
	reg := prometheus.NewRegistry()
	s := openStore(t, dir, reg, ep)
	base := time.Now().Add(-time.Minute).Truncate(time.Second)
	n := 0
	round := func(count int) {
		for range count {
			appendRound(t, s, base, n)
			n++
			time.Sleep(5 * time.Millisecond)
		}
	}
	round(50)
	waitFor(t, "first samples sent", 10*time.Second, func() bool { return gauge(t, reg, "kinsight_agent_remote_storage_samples_total") == 500 })

	k.stop() // outage of about 10 s
	outageEnd := time.Now().Add(10 * time.Second)
	round(100)
	waitFor(t, "retries during the outage", 10*time.Second, func() bool {
		return gauge(t, reg, "kinsight_agent_remote_storage_samples_retried_total") > 0
	})
	if p := gauge(t, reg, "kinsight_agent_remote_storage_samples_pending"); p == 0 {
		t.Errorf("samples_pending = 0 during the outage")
	}
	// Agent restart during the outage: unsent samples stay in the WAL.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// The same registry: Close unregistered everything, and the reopened
	// store's counters start from zero.
	s = openStore(t, dir, reg, ep)
	for time.Now().Before(outageEnd) {
		round(10)
		time.Sleep(100 * time.Millisecond)
	}
	k.start(nil) // the server is back
	round(50)
	total := float64(n * 10)
	waitFor(t, "every sample acknowledged", 20*time.Second, func() bool {
		return gauge(t, reg, "kinsight_agent_remote_storage_samples_total") >= float64((n-50)*10)
	})
	t.Logf("%d samples appended, %d during the outage", n*10, (n-100)*10)
	at := base.Add(time.Duration(n) * 100 * time.Millisecond).Add(time.Second)
	var got map[string]float64
	waitFor(t, "every sample queryable", 20*time.Second, func() bool {
		got = query(t, k.baseURL(), fmt.Sprintf("sum(count_over_time(test_seq{cluster=\"test\"}[10m] @ %d))", at.Unix()), nil)
		return got[""] == total
	})
	// Values: each series has 0..n-1 exactly once.
	sum := query(t, k.baseURL(), fmt.Sprintf("sum by (i) (sum_over_time(test_seq[10m] @ %d))", at.Unix()), nil)
	want := float64(n*(n-1)) / 2
	for i := range 10 {
		if v := sum[fmt.Sprintf("i=%d ", i)]; v != want {
			t.Errorf("series i=%d: sum of values %v, want %v (every sample exactly once)", i, v, want)
		}
	}
	if f := gauge(t, reg, "kinsight_agent_remote_storage_samples_failed_total"); f != 0 {
		t.Errorf("samples_failed_total = %v after reopen", f)
	}
	if w := gauge(t, reg, "kinsight_agent_wal_size_bytes"); w == 0 {
		t.Errorf("wal_size_bytes = 0")
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestSigV4 ships to a server with access keys, signing with SigV4 or
// sending basic auth or a bearer token: the right key gets the samples in;
// a wrong secret or a key without write access is counted as failed
// samples, not a crash.
func TestSigV4(t *testing.T) {
	k := startKinsight(t, config.AccessKey{ID: "AKIDAGENT", Secret: "agent-secret-0123", Role: "agent"},
		config.AccessKey{ID: "AKIDREADER", Secret: "reader-secret-0123", Role: "reader"})
	for _, c := range []struct {
		ep agentwal.Endpoint
		ok bool
	}{
		{agentwal.Endpoint{Name: "sigv4", SigV4: &agentwal.SigV4{Region: "us-east-1", AccessKey: "AKIDAGENT", SecretKey: "agent-secret-0123"}}, true},
		{agentwal.Endpoint{Name: "sigv4-wrong", SigV4: &agentwal.SigV4{Region: "us-east-1", AccessKey: "AKIDAGENT", SecretKey: "wrong"}}, false},
		{agentwal.Endpoint{Name: "basic", BasicAuth: &agentwal.BasicAuth{Username: "AKIDAGENT", Password: "agent-secret-0123"}}, true},
		{agentwal.Endpoint{Name: "bearer", BearerToken: "agent-secret-0123", Headers: map[string]string{"X-Scope-OrgID": "kinsight"}}, true},
		{agentwal.Endpoint{Name: "reader", BearerToken: "reader-secret-0123"}, false},
	} {
		t.Run(c.ep.Name, func(t *testing.T) {
			ep := c.ep
			ep.URL, ep.Queue = k.writeURL(), fastQueue()
			reg := prometheus.NewRegistry()
			s := openStoreOpts(t, agentwal.Options{Dir: t.TempDir(), Registerer: reg, Endpoints: []agentwal.Endpoint{ep},
				ExternalLabels: map[string]string{"cluster": ep.Name}})
			defer s.Close()
			base := time.Now().Add(-time.Minute)
			for n := range 5 {
				appendRound(t, s, base, n)
			}
			name := "kinsight_agent_remote_storage_samples_failed_total"
			if c.ok {
				name = "kinsight_agent_remote_storage_samples_total"
			}
			waitFor(t, name+" = 50", 10*time.Second, func() bool { return gauge(t, reg, name) == 50 })
			hdr := http.Header{"Authorization": {"Bearer reader-secret-0123"}}
			got := query(t, k.baseURL(), fmt.Sprintf("count(count_over_time(test_seq{cluster=%q}[10m] @ %d))", ep.Name, time.Now().Unix()), hdr)
			if want := map[bool]float64{true: 10, false: 0}[c.ok]; got[""] != want {
				t.Errorf("series stored = %v, want %v", got[""], want)
			}
		})
	}
}

// TestGatheredToPrometheus ships a client_golang registry's families to the
// real Prometheus (Debian's, remote write receiver on) and checks their
// flattened names, labels and values there.
func TestGatheredToPrometheus(t *testing.T) {
	bin, err := exec.LookPath("prometheus")
	if err != nil {
		t.Skip("prometheus not installed")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	pdir := t.TempDir()
	cfgFile := filepath.Join(pdir, "prometheus.yml")
	if err := os.WriteFile(cfgFile, []byte("global: {}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "--config.file="+cfgFile, "--storage.tsdb.path="+filepath.Join(pdir, "data"),
		"--web.listen-address="+addr, "--web.enable-remote-write-receiver")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	purl := "http://" + addr
	waitFor(t, "prometheus ready", 30*time.Second, func() bool {
		r, err := http.Get(purl + "/-/ready")
		if err != nil {
			return false
		}
		r.Body.Close()
		return r.StatusCode == 200
	})

	g := prometheus.NewRegistry()
	c := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "t_requests_total", Help: "h"}, []string{"code"})
	c.WithLabelValues("200").Add(7)
	gg := prometheus.NewGauge(prometheus.GaugeOpts{Name: "t_temp", Help: "h", ConstLabels: prometheus.Labels{"node": "own"}})
	gg.Set(21.5)
	h := prometheus.NewHistogram(prometheus.HistogramOpts{Name: "t_latency_seconds", Help: "h", Buckets: []float64{0.1, 1}})
	h.Observe(0.05)
	h.Observe(0.5)
	h.Observe(5)
	sm := prometheus.NewSummary(prometheus.SummaryOpts{Name: "t_size_bytes", Help: "h", Objectives: map[float64]float64{0.5: 0.05}})
	sm.Observe(10)
	sm.Observe(30)
	u := prometheus.NewUntypedFunc(prometheus.UntypedOpts{Name: "t_untyped", Help: "h"}, func() float64 { return 3 })
	g.MustRegister(c, gg, h, sm, u)

	reg := prometheus.NewRegistry()
	s := openStore(t, t.TempDir(), reg, agentwal.Endpoint{Name: "prom", URL: purl + "/api/v1/write", Queue: fastQueue()})
	defer s.Close()
	ts := time.Now().Add(-10 * time.Second)
	extra := []agentwal.Label{{"node", "extra"}, {"job", "kinsight-agent"}}
	if err := s.AppendGathered(context.Background(), g, ts, extra); err != nil {
		t.Fatal(err)
	}
	at := strconv.FormatInt(ts.Unix()+1, 10)
	want := map[string]map[string]float64{
		`t_requests_total{code="200",job="kinsight-agent",cluster="test"}`: {"__name__=t_requests_total ": 7},
		`t_temp{node="own",job="kinsight-agent"}`:                          {"__name__=t_temp ": 21.5},
		`t_untyped{node="extra"}`:                                          {"__name__=t_untyped ": 3},
		`t_latency_seconds_bucket{job="kinsight-agent"}`:                   {"__name__=t_latency_seconds_bucket le=0.1 ": 1, "__name__=t_latency_seconds_bucket le=1 ": 2, "__name__=t_latency_seconds_bucket le=+Inf ": 3},
		`{__name__=~"t_latency_seconds_(sum|count)"}`:                      {"__name__=t_latency_seconds_sum ": 5.55, "__name__=t_latency_seconds_count ": 3},
		`{__name__=~"t_size_bytes.*",job="kinsight-agent"}`:                {"__name__=t_size_bytes quantile=0.5 ": 10, "__name__=t_size_bytes_sum ": 40, "__name__=t_size_bytes_count ": 2},
	}
	waitFor(t, "samples in prometheus", 15*time.Second, func() bool {
		return len(query(t, purl, `t_untyped`+" @ "+at, nil)) > 0
	})
	for q, w := range want {
		got := query(t, purl, q+" @ "+at, nil)
		if fmt.Sprint(got) != fmt.Sprint(w) {
			t.Errorf("%s: got %v, want %v", q, got, w)
		}
	}
}

// TestCheckpointedDuringOutage truncates the WAL every 200ms while the
// server is down, so segments the shipper has not read are folded into
// checkpoints: their samples must still arrive, from the checkpoint.
func TestCheckpointedDuringOutage(t *testing.T) {
	k := startKinsight(t)
	reg := prometheus.NewRegistry()
	s := openStoreOpts(t, agentwal.Options{Dir: t.TempDir(), Registerer: reg, TruncateFrequency: 200 * time.Millisecond,
		Endpoints: []agentwal.Endpoint{{URL: k.writeURL(), Queue: fastQueue()}}})
	defer s.Close()
	base := time.Now().Add(-time.Minute).Truncate(time.Second)
	n := 0
	for ; n < 20; n++ {
		appendRound(t, s, base, n)
	}
	waitFor(t, "first samples sent", 10*time.Second, func() bool { return gauge(t, reg, "kinsight_agent_remote_storage_samples_total") == 200 })
	k.stop()
	end := time.Now().Add(3 * time.Second)
	for time.Now().Before(end) {
		appendRound(t, s, base, n)
		n++
		time.Sleep(5 * time.Millisecond)
	}
	if c := gauge(t, reg, "kinsight_agent_prometheus_agent_checkpoint_creations_total"); c < 2 {
		t.Fatalf("%v checkpoints during the outage; the test needs some", c)
	}
	k.start(nil)
	at := base.Add(time.Duration(n) * 100 * time.Millisecond).Add(time.Second)
	waitFor(t, "every sample queryable", 20*time.Second, func() bool {
		got := query(t, k.baseURL(), fmt.Sprintf("sum(count_over_time(test_seq[30m] @ %d))", at.Unix()), nil)
		return got[""] == float64(n*10)
	})
	if l := gauge(t, reg, "kinsight_agent_remote_storage_wal_segments_lost_total"); l != 0 {
		t.Errorf("segments lost: %v", l)
	}
	t.Logf("%d rounds; %d appended during the outage", n, n-20)
}

// TestOpenRefusesBadConfig checks that configuration mistakes are errors
// at Open, and that a failed Open leaves the registry usable.
func TestOpenRefusesBadConfig(t *testing.T) {
	reg := prometheus.NewRegistry()
	dir := t.TempDir()
	for name, ep := range map[string]agentwal.Endpoint{
		"no scheme":   {URL: "localhost:9090/api/v1/write"},
		"two auths":   {URL: "http://x/api/v1/write", BearerToken: "t", BasicAuth: &agentwal.BasicAuth{Username: "u", Password: "p"}},
		"half sigv4":  {URL: "http://x/api/v1/write", SigV4: &agentwal.SigV4{Region: "r", AccessKey: "AKID"}},
		"bad name":    {Name: "a/b", URL: "http://x/api/v1/write"},
		"empty url":   {},
		"ftp is none": {URL: "ftp://x/"},
	} {
		if s, err := agentwal.Open(agentwal.Options{Dir: dir, Endpoints: []agentwal.Endpoint{ep}, Registerer: reg}); err == nil {
			s.Close()
			t.Errorf("%s: Open succeeded", name)
		}
	}
	if _, err := agentwal.Open(agentwal.Options{Dir: dir, Registerer: reg}); err == nil {
		t.Errorf("no endpoints: Open succeeded")
	}
	s := openStore(t, dir, reg, agentwal.Endpoint{URL: "http://127.0.0.1:1/api/v1/write"})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestWALRemoved removes the WAL but not the shipping positions: the new
// WAL's samples must still be shipped.
func TestWALRemoved(t *testing.T) {
	k := startKinsight(t)
	dir := t.TempDir()
	ep := agentwal.Endpoint{URL: k.writeURL(), Queue: fastQueue()}
	reg := prometheus.NewRegistry()
	s := openStore(t, dir, reg, ep)
	base := time.Now().Add(-time.Minute).Truncate(time.Second)
	for n := range 30 {
		appendRound(t, s, base, n)
	}
	waitFor(t, "first samples sent", 10*time.Second, func() bool { return gauge(t, reg, "kinsight_agent_remote_storage_samples_total") == 300 })
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(filepath.Join(dir, "wal")); err != nil {
		t.Fatal(err)
	}
	s = openStore(t, dir, reg, ep)
	defer s.Close()
	for n := 30; n < 40; n++ {
		appendRound(t, s, base, n)
	}
	waitFor(t, "samples of the new WAL sent", 10*time.Second, func() bool { return gauge(t, reg, "kinsight_agent_remote_storage_samples_total") == 100 })
}
