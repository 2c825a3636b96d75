package e2e

// Helpers for the metric-store tests (issue 5): a real Prometheus and a real
// node-exporter as child processes, a remote-write 1.0 encoder written with
// protowire (tests must not import github.com/prometheus/prometheus: only
// internal/metricstore may), and a Prometheus HTTP API client whose answers
// are normalised so that two servers' results can be compared value by
// value.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/klauspost/compress/snappy"
	"google.golang.org/protobuf/encoding/protowire"
)

// Debian's binaries, as the Makefile's test-deps installs them.
const (
	prometheusBin   = "/usr/bin/prometheus"
	promtoolBin     = "/usr/bin/promtool"
	nodeExporterBin = "/usr/bin/prometheus-node-exporter"
)

func needBinary(t testing.TB, path string) {
	t.Helper()
	if _, err := os.Stat(path); err != nil {
		t.Skipf("%s not installed (Debian package; `make test` installs it)", path)
	}
}

// needMetricStore fails the test at once, with a clear message, when the
// server has no Prometheus API at all (both routes 404), instead of letting
// every query fail later.
func needMetricStore(t testing.TB, p *serverProc) {
	t.Helper()
	resp, err := http.Get(p.url() + "/api/v1/status/buildinfo")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	resp2, err := http.Post(p.url()+"/api/v1/write", "application/x-protobuf", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp2.Body.Close()
	if resp.StatusCode == http.StatusNotFound && resp2.StatusCode == http.StatusNotFound {
		t.Fatal("kinsight server answers 404 on /api/v1/write and /api/v1/status/buildinfo: is the metric store disabled?")
	}
}

// childProc is a helper binary (Prometheus, node-exporter) run by a test.
type childProc struct {
	t      testing.TB
	name   string
	addr   string
	dir    string
	cmd    *exec.Cmd
	output *bytes.Buffer
	exited chan struct{}
	// how to start it again
	readyPath, bin string
	args           []string
}

func (c *childProc) url() string { return "http://" + c.addr }

// startChild starts bin with args and waits until GET readyPath answers 200.
func startChild(t testing.TB, name, addr, readyPath string, bin string, args ...string) *childProc {
	t.Helper()
	c := &childProc{t: t, name: name, addr: addr, readyPath: readyPath, bin: bin, args: args}
	c.start()
	t.Cleanup(c.stop)
	return c
}

func (c *childProc) start() {
	t := c.t
	t.Helper()
	c.output, c.exited = &bytes.Buffer{}, make(chan struct{})
	c.cmd = exec.Command(c.bin, c.args...)
	c.cmd.Stdout, c.cmd.Stderr = c.output, c.output
	if err := c.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", c.name, err)
	}
	go func() { c.cmd.Wait(); close(c.exited) }()
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(c.url() + c.readyPath)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		select {
		case <-c.exited:
			t.Fatalf("%s exited during start: %s", c.name, c.output)
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not ready after 30s: %s", c.name, c.output)
		}
	}
}

// kill sends SIGKILL and waits for the exit.
func (c *childProc) kill() {
	c.cmd.Process.Kill()
	<-c.exited
}

// restart starts the process again with the same arguments (and data).
func (c *childProc) restart() { c.start() }

func (c *childProc) stop() {
	select {
	case <-c.exited:
		return
	default:
	}
	c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.exited:
	case <-time.After(15 * time.Second):
		c.cmd.Process.Kill()
		<-c.exited
	}
}

// startPrometheus runs Debian's Prometheus with config (YAML; "%ADDR%" is
// replaced by its own address) and the remote-write receiver on, with a
// fresh TSDB in a temporary directory.
func startPrometheus(t testing.TB, config string, extra ...string) *childProc {
	t.Helper()
	needBinary(t, prometheusBin)
	dir := t.TempDir()
	addr := freeAddr(t)
	cfg := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfg, []byte(strings.ReplaceAll(config, "%ADDR%", addr)), 0o600); err != nil {
		t.Fatal(err)
	}
	args := append([]string{
		"--config.file=" + cfg,
		"--storage.tsdb.path=" + filepath.Join(dir, "data"),
		"--web.listen-address=" + addr,
		"--web.enable-remote-write-receiver",
		"--log.level=warn",
	}, extra...)
	c := startChild(t, "prometheus", addr, "/-/ready", prometheusBin, args...)
	c.dir = dir
	return c
}

// startNodeExporter runs Debian's node-exporter on a free port.
func startNodeExporter(t testing.TB) *childProc {
	t.Helper()
	needBinary(t, nodeExporterBin)
	addr := freeAddr(t)
	return startChild(t, "node-exporter", addr, "/metrics", nodeExporterBin, "--web.listen-address="+addr, "--log.level=warn")
}

// ---- remote write 1.0 ----

// rwSample is one sample: a timestamp in milliseconds and a value.
type rwSample struct {
	T int64
	V float64
}

// rwSeries is one time series of a WriteRequest: labels as name, value
// pairs (sent sorted by name, as the protocol requires) and its samples.
type rwSeries struct {
	Labels  [][2]string
	Samples []rwSample
}

// staleNaN is Prometheus's stale marker (value.StaleNaN).
var staleNaN = math.Float64frombits(0x7ff0000000000002)

// encodeWriteRequest encodes a remote-write 1.0 WriteRequest
// {1: TimeSeries{1: Label{1 name, 2 value}, 2: Sample{1 double, 2 int64 ms}}}
// and compresses it with snappy's block format, as the protocol says.
func encodeWriteRequest(series []rwSeries) []byte {
	return snappy.Encode(nil, marshalWriteRequest(series, true))
}

// marshalWriteRequest is the protobuf without compression; sortLabels
// false keeps the labels in the given order (to send invalid requests).
func marshalWriteRequest(series []rwSeries, sortLabels bool) []byte {
	var req, ts, buf []byte
	for _, s := range series {
		ts = ts[:0]
		labels := s.Labels
		if sortLabels {
			labels = append([][2]string(nil), labels...)
			sort.Slice(labels, func(i, j int) bool { return labels[i][0] < labels[j][0] })
		}
		for _, l := range labels {
			buf = buf[:0]
			buf = protowire.AppendTag(buf, 1, protowire.BytesType)
			buf = protowire.AppendString(buf, l[0])
			buf = protowire.AppendTag(buf, 2, protowire.BytesType)
			buf = protowire.AppendString(buf, l[1])
			ts = protowire.AppendTag(ts, 1, protowire.BytesType)
			ts = protowire.AppendBytes(ts, buf)
		}
		for _, smp := range s.Samples {
			buf = buf[:0]
			buf = protowire.AppendTag(buf, 1, protowire.Fixed64Type)
			buf = protowire.AppendFixed64(buf, math.Float64bits(smp.V))
			buf = protowire.AppendTag(buf, 2, protowire.VarintType)
			buf = protowire.AppendVarint(buf, uint64(smp.T))
			ts = protowire.AppendTag(ts, 2, protowire.BytesType)
			ts = protowire.AppendBytes(ts, buf)
		}
		req = protowire.AppendTag(req, 1, protowire.BytesType)
		req = protowire.AppendBytes(req, ts)
	}
	return req
}

// remoteWrite posts a snappy-compressed body to base/api/v1/write and
// returns the status code and response body.
func remoteWrite(ctx context.Context, base string, body []byte) (int, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/api/v1/write", bytes.NewReader(body))
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Content-Encoding", "snappy")
	req.Header.Set("Content-Type", "application/x-protobuf")
	req.Header.Set("X-Prometheus-Remote-Write-Version", "0.1.0")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), nil
}

// mustWrite sends series and fails the test unless the answer is 2xx.
func mustWrite(t testing.TB, base string, series []rwSeries) {
	t.Helper()
	code, body, err := remoteWrite(context.Background(), base, encodeWriteRequest(series))
	if err != nil {
		t.Fatalf("remote write to %s: %v", base, err)
	}
	if code/100 != 2 {
		t.Fatalf("remote write to %s: HTTP %d: %s", base, code, body)
	}
}

// ---- Prometheus HTTP API ----

// apiResponse is Prometheus's JSON envelope.
type apiResponse struct {
	Status    string          `json:"status"`
	Data      json.RawMessage `json:"data"`
	ErrorType string          `json:"errorType"`
	Error     string          `json:"error"`
	Warnings  []string        `json:"warnings"`
	Infos     []string        `json:"infos"`
	code      int
}

// apiGet calls a Prometheus API path with params (as a GET query string).
func apiGet(ctx context.Context, base, path string, params url.Values) (*apiResponse, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+path+"?"+params.Encode(), nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	var r apiResponse
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("%s: HTTP %d, not a Prometheus envelope: %.300s", path, resp.StatusCode, b)
	}
	r.code = resp.StatusCode
	return &r, nil
}

// promTime formats milliseconds as the API's float seconds.
func promTime(ms int64) string { return strconv.FormatFloat(float64(ms)/1000, 'f', 3, 64) }

// qSeries is one series of a normalised query result: its labels as a
// canonical string and its points (one for a vector or scalar).
type qSeries struct {
	Labels string
	Points []qPoint
}

type qPoint struct {
	T int64 // milliseconds
	V float64
	S string // the value as the server wrote it
}

// qResult is a normalised query result: series sorted by labels.
type qResult struct {
	Type   string
	Series []qSeries
}

func (r *qResult) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s(", r.Type)
	for i, s := range r.Series {
		if i > 0 {
			b.WriteString(", ")
		}
		if i == 8 {
			fmt.Fprintf(&b, "… %d more", len(r.Series)-i)
			break
		}
		b.WriteString(s.Labels)
		b.WriteString(" ")
		for j, p := range s.Points {
			if j == 4 {
				fmt.Fprintf(&b, " …%d points", len(s.Points))
				break
			}
			fmt.Fprintf(&b, "%s@%s ", p.S, promTime(p.T))
		}
	}
	b.WriteString(")")
	return b.String()
}

// parseQueryData normalises the data of a query or query_range answer.
func parseQueryData(data json.RawMessage) (*qResult, error) {
	var d struct {
		ResultType string          `json:"resultType"`
		Result     json.RawMessage `json:"result"`
	}
	if err := json.Unmarshal(data, &d); err != nil {
		return nil, err
	}
	r := &qResult{Type: d.ResultType}
	switch d.ResultType {
	case "scalar", "string":
		p, err := parsePoint(d.Result)
		if err != nil {
			return nil, err
		}
		r.Series = []qSeries{{Points: []qPoint{p}}}
	case "vector", "matrix":
		var rs []struct {
			Metric map[string]string `json:"metric"`
			Value  json.RawMessage   `json:"value"`
			Values []json.RawMessage `json:"values"`
		}
		if err := json.Unmarshal(d.Result, &rs); err != nil {
			return nil, err
		}
		for _, s := range rs {
			qs := qSeries{Labels: canonicalLabels(s.Metric)}
			if s.Value != nil {
				s.Values = append(s.Values, s.Value)
			}
			for _, v := range s.Values {
				p, err := parsePoint(v)
				if err != nil {
					return nil, err
				}
				qs.Points = append(qs.Points, p)
			}
			r.Series = append(r.Series, qs)
		}
		sort.Slice(r.Series, func(i, j int) bool { return r.Series[i].Labels < r.Series[j].Labels })
	default:
		return nil, fmt.Errorf("unknown resultType %q", d.ResultType)
	}
	return r, nil
}

func parsePoint(raw json.RawMessage) (qPoint, error) {
	var pair [2]json.RawMessage
	if err := json.Unmarshal(raw, &pair); err != nil {
		return qPoint{}, err
	}
	var ts float64
	var s string
	if err := json.Unmarshal(pair[0], &ts); err != nil {
		return qPoint{}, err
	}
	if err := json.Unmarshal(pair[1], &s); err != nil {
		return qPoint{}, err
	}
	p := qPoint{T: int64(math.Round(ts * 1000)), S: s}
	p.V, _ = strconv.ParseFloat(s, 64)
	return p, nil
}

func canonicalLabels(m map[string]string) string {
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	b.WriteString("{")
	for i, n := range names {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, "%s=%q", n, m[n])
	}
	b.WriteString("}")
	return b.String()
}

// queryInstant runs an instant query at ms and returns the normalised
// result, or the API's error.
func queryInstant(ctx context.Context, base, expr string, at int64) (*qResult, *apiResponse, error) {
	r, err := apiGet(ctx, base, "/api/v1/query", url.Values{"query": {expr}, "time": {promTime(at)}})
	if err != nil || r.Status != "success" {
		return nil, r, err
	}
	res, err := parseQueryData(r.Data)
	return res, r, err
}

// queryRange runs a range query and returns the normalised result.
func queryRange(ctx context.Context, base, expr string, start, end int64, step time.Duration) (*qResult, *apiResponse, error) {
	r, err := apiGet(ctx, base, "/api/v1/query_range", url.Values{
		"query": {expr}, "start": {promTime(start)}, "end": {promTime(end)},
		"step": {strconv.FormatFloat(step.Seconds(), 'f', -1, 64)},
	})
	if err != nil || r.Status != "success" {
		return nil, r, err
	}
	res, err := parseQueryData(r.Data)
	return res, r, err
}

// floatsEqual compares with a relative tolerance (and an absolute floor of
// tol×1e-3 so that results that should be 0 but carry rounding noise, such
// as stddev of equal values computed in a different order, compare equal);
// NaN equals NaN, infinities must match exactly. tol 0 is bit-exact (but
// any NaN equals any NaN: the API prints every NaN alike).
func floatsEqual(a, b, tol float64) bool {
	if math.IsNaN(a) || math.IsNaN(b) {
		return math.IsNaN(a) && math.IsNaN(b)
	}
	if a == b {
		return true
	}
	if tol == 0 || math.IsInf(a, 0) || math.IsInf(b, 0) {
		return false
	}
	d := math.Abs(a - b)
	return d <= tol*math.Max(math.Abs(a), math.Abs(b)) || d <= tol*1e-3
}

// diffResults describes the first differences between want and got, or
// returns "" when they agree: same type, same series, same timestamps,
// values within tol.
func diffResults(want, got *qResult, tol float64) string {
	if want.Type != got.Type {
		return fmt.Sprintf("result type %s, want %s", got.Type, want.Type)
	}
	var diffs []string
	add := func(format string, a ...any) {
		if len(diffs) < 5 {
			diffs = append(diffs, fmt.Sprintf(format, a...))
		}
	}
	i, j := 0, 0
	for i < len(want.Series) || j < len(got.Series) {
		switch {
		case j >= len(got.Series) || (i < len(want.Series) && want.Series[i].Labels < got.Series[j].Labels):
			add("missing series %s (%d points, first %s)", want.Series[i].Labels, len(want.Series[i].Points), firstPoint(want.Series[i]))
			i++
		case i >= len(want.Series) || got.Series[j].Labels < want.Series[i].Labels:
			add("extra series %s (%d points, first %s)", got.Series[j].Labels, len(got.Series[j].Points), firstPoint(got.Series[j]))
			j++
		default:
			w, g := want.Series[i], got.Series[j]
			if len(w.Points) != len(g.Points) {
				add("series %s: %d points, want %d (got %s, want %s)", w.Labels, len(g.Points), len(w.Points), pointTimes(g), pointTimes(w))
			} else {
				for k := range w.Points {
					if w.Points[k].T != g.Points[k].T || !floatsEqual(w.Points[k].V, g.Points[k].V, tol) {
						add("series %s point %d: got %s@%s, want %s@%s", w.Labels, k, g.Points[k].S, promTime(g.Points[k].T), w.Points[k].S, promTime(w.Points[k].T))
						break
					}
				}
			}
			i++
			j++
		}
	}
	return strings.Join(diffs, "; ")
}

func firstPoint(s qSeries) string {
	if len(s.Points) == 0 {
		return "-"
	}
	return s.Points[0].S + "@" + promTime(s.Points[0].T)
}

func pointTimes(s qSeries) string {
	if len(s.Points) > 6 {
		return fmt.Sprintf("[%s … %s]", promTime(s.Points[0].T), promTime(s.Points[len(s.Points)-1].T))
	}
	var ts []string
	for _, p := range s.Points {
		ts = append(ts, promTime(p.T))
	}
	return "[" + strings.Join(ts, " ") + "]"
}

// normaliseJSONList turns an API list answer (label names, label values or
// series label sets) into its elements' canonical JSON, sorted, one a line.
func normaliseJSONList(t testing.TB, data json.RawMessage) string {
	t.Helper()
	var list []any
	if err := json.Unmarshal(data, &list); err != nil {
		t.Fatalf("not a JSON list: %.300s", data)
	}
	lines := make([]string, len(list))
	for i, e := range list {
		b, _ := json.Marshal(e) // map keys come out sorted
		lines[i] = string(b)
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// parseMetricText reads the Prometheus text format into a map from
// name{labels} (as written) to value; comments are skipped.
func parseMetricText(r io.Reader) (map[string]float64, error) {
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	m := map[string]float64{}
	for _, line := range strings.Split(string(b), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			return nil, fmt.Errorf("bad metric line %q", line)
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			return nil, fmt.Errorf("bad metric line %q: %w", line, err)
		}
		m[line[:i]] = v
	}
	return m, nil
}

// filterPrefix keeps the entries whose key starts with prefix.
func filterPrefix(m map[string]float64, prefix string) map[string]float64 {
	out := map[string]float64{}
	for k, v := range m {
		if strings.HasPrefix(k, prefix) {
			out[k] = v
		}
	}
	return out
}
