package e2e

import (
	"bytes"
	"context"
	"fmt"
	"net/url"
	"os/exec"
	"sort"
	"strings"
	"testing"
	"time"
)

// TestPrometheusRemoteWrite runs a real Prometheus that scrapes a real
// node-exporter and itself every second and remote-writes everything to
// kinsight; after ~15 s the node-exporter series must answer the same from
// kinsight as from that Prometheus: raw samples bit for bit, functions
// within 1e-9, and promtool's query instant|range|series|labels print the
// same against both.
func TestPrometheusRemoteWrite(t *testing.T) {
	needBinary(t, prometheusBin)
	needBinary(t, promtoolBin)
	sut := metricsSUT(t).url
	node := startNodeExporter(t)
	prom := startPrometheus(t, fmt.Sprintf(`global: {scrape_interval: 1s, evaluation_interval: 1s}
scrape_configs:
  - {job_name: node, static_configs: [{targets: [%q]}]}
  - {job_name: prometheus, static_configs: [{targets: ["%%ADDR%%"]}]}
remote_write:
  - url: %s/api/v1/write
    queue_config: {batch_send_deadline: 200ms, min_backoff: 50ms, max_backoff: 1s}
    metadata_config: {send_interval: 2s}
`, node.addr, sut))
	ctx := context.Background()
	time.Sleep(15 * time.Second)

	// The window compared ends a little in the past and kinsight must have
	// caught up with it: remote write lags the scrape by a batch.
	end := time.Now().Add(-2 * time.Second).Truncate(time.Second).UnixMilli()
	start := end - 10_000
	canary := `{job=~"node|prometheus"}[20s]` // every raw sample of the last 20 s
	deadline := time.Now().Add(20 * time.Second)
	for {
		want, _, err1 := queryInstant(ctx, prom.url(), canary, end)
		got, _, err2 := queryInstant(ctx, sut, canary, end)
		if err1 == nil && err2 == nil && want != nil && got != nil && diffResults(want, got, 0) == "" {
			break
		}
		if time.Now().After(deadline) {
			d := "no answer"
			if want != nil && got != nil {
				d = diffResults(want, got, 0)
			}
			t.Fatalf("kinsight did not catch up with Prometheus's remote write in 20s: %s (%v %v)\nprometheus: %s", d, err1, err2, prom.output)
		}
		time.Sleep(500 * time.Millisecond)
	}

	type check struct {
		expr string
		tol  float64 // 0: raw samples, bit for bit
	}
	checks := []check{
		{"node_cpu_seconds_total", 0},
		{"node_cpu_seconds_total[10s]", 0},
		{`node_memory_MemAvailable_bytes`, 0},
		{`up`, 0},
		{`node_load1`, 0},
		{`{job="node",__name__=~"node_network_receive_bytes_total|node_filesystem_avail_bytes"}`, 0},
		{"rate(node_cpu_seconds_total[5s])", 1e-9},
		{"irate(node_network_receive_bytes_total[5s])", 1e-9},
		{"sum by (mode) (rate(node_cpu_seconds_total[5s]))", 1e-9},
		{"avg without (cpu) (rate(node_cpu_seconds_total[5s]))", 1e-9},
		{"count(node_cpu_seconds_total)", 0},
		{`count by (__name__) ({job="node"})`, 0},
		{`count(count by (cpu) (node_cpu_seconds_total))`, 0},
		{"max_over_time(node_memory_MemFree_bytes[10s])", 0},
		{"scrape_samples_scraped", 0},
	}
	for _, c := range checks {
		want, wr, err := queryInstant(ctx, prom.url(), c.expr, end)
		if err != nil || want == nil {
			t.Fatalf("prometheus %q: %v %+v", c.expr, err, wr)
		}
		// Functions over 5 s windows may have nothing to say on a machine
		// too loaded to scrape every second; raw series must be there.
		if len(want.Series) == 0 && c.tol == 0 {
			t.Errorf("prometheus answers %q with nothing: node-exporter not scraped?", c.expr)
		}
		got, gr, err := queryInstant(ctx, sut, c.expr, end)
		if err != nil || got == nil {
			t.Errorf("kinsight instant %q: %v %+v", c.expr, err, gr)
		} else if d := diffResults(want, got, c.tol); d != "" {
			t.Errorf("instant %q: %s", c.expr, d)
		}
		if strings.HasSuffix(c.expr, "]") {
			continue // a range vector has no range query
		}
		want, wr, err = queryRange(ctx, prom.url(), c.expr, start, end, time.Second)
		if err != nil || want == nil {
			t.Fatalf("prometheus range %q: %v %+v", c.expr, err, wr)
		}
		got, gr, err = queryRange(ctx, sut, c.expr, start, end, time.Second)
		if err != nil || got == nil {
			t.Errorf("kinsight range %q: %v %+v", c.expr, err, gr)
		} else if d := diffResults(want, got, c.tol); d != "" {
			t.Errorf("range %q: %s", c.expr, d)
		}
	}

	// Metadata API answers: series, labels, label values.
	window := url.Values{"start": {promTime(start)}, "end": {promTime(end)}}
	with := func(extra url.Values) url.Values {
		v := url.Values{}
		for k, vs := range window {
			v[k] = vs
		}
		for k, vs := range extra {
			v[k] = vs
		}
		return v
	}
	for _, c := range []struct{ path string }{
		{"/api/v1/series?" + with(url.Values{"match[]": {"node_cpu_seconds_total", `{__name__="up"}`}}).Encode()},
		{"/api/v1/labels?" + with(url.Values{"match[]": {`{job="node"}`}}).Encode()},
		{"/api/v1/label/mode/values?" + with(url.Values{"match[]": {"node_cpu_seconds_total"}}).Encode()},
		{"/api/v1/label/__name__/values?" + with(url.Values{"match[]": {`{job="node",__name__=~"node_cpu.*"}`}}).Encode()},
	} {
		path, q, _ := strings.Cut(c.path, "?")
		params, _ := url.ParseQuery(q)
		want, err1 := apiGet(ctx, prom.url(), path, params)
		got, err2 := apiGet(ctx, sut, path, params)
		if err1 != nil || err2 != nil || want.Status != "success" || got.Status != "success" {
			t.Errorf("%s: prometheus %v %+v, kinsight %v %+v", c.path, err1, want, err2, got)
			continue
		}
		if w, g := normaliseJSONList(t, want.Data), normaliseJSONList(t, got.Data); w != g {
			t.Errorf("%s:\n got %.600s\nwant %.600s", c.path, g, w)
		}
	}

	// promtool against both: the same output (lines sorted, as the API's
	// series order is not part of its contract).
	ts := func(ms int64) string { return promTime(ms) }
	for _, args := range [][]string{
		{"query", "instant", "--time=" + ts(end), "%URL%", "sum by (mode) (node_cpu_seconds_total)"},
		{"query", "instant", "-o", "json", "--time=" + ts(end), "%URL%", `node_memory_MemTotal_bytes`},
		{"query", "range", "--start=" + ts(start), "--end=" + ts(end), "--step=1s", "%URL%", `rate(node_cpu_seconds_total{mode="idle"}[5s])`},
		{"query", "series", "--match=node_cpu_seconds_total", "--start=" + ts(start), "--end=" + ts(end), "%URL%"},
		{"query", "labels", "--match=node_cpu_seconds_total", "--start=" + ts(start), "--end=" + ts(end), "%URL%", "cpu"},
		{"query", "labels", "--match=up", "--start=" + ts(start), "--end=" + ts(end), "%URL%", "job"},
	} {
		want := runPromtool(t, prom.url(), args)
		got := runPromtool(t, sut, args)
		if want == "" {
			t.Errorf("promtool %s against prometheus printed nothing", strings.Join(args, " "))
		}
		if got != want {
			t.Errorf("promtool %s:\nkinsight:   %.800s\nprometheus: %.800s", strings.Join(args, " "), got, want)
		}
	}
}

// runPromtool runs promtool with %URL% replaced by base and returns its
// output lines sorted.
func runPromtool(t *testing.T, base string, args []string) string {
	t.Helper()
	a := make([]string, len(args))
	for i, s := range args {
		a[i] = strings.ReplaceAll(s, "%URL%", base)
	}
	var out, errb bytes.Buffer
	cmd := exec.Command(promtoolBin, a...)
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Errorf("promtool %s: %v: %s", strings.Join(a, " "), err, errb.String())
		return ""
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}
