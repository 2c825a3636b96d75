package metricstore

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/snappy"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/prompb"

	"github.com/kinsight/kinsight/internal/auth"
	"github.com/kinsight/kinsight/internal/config"
)

// env is a real store on disk behind a real HTTP server, mounted as the
// server's routes.go mounts it.
type env struct {
	t    *testing.T
	dir  string
	opts Options
	hopt HandlerOptions
	s    *Store
	h    *Handler
	reg  *prometheus.Registry
	srv  *httptest.Server
}

func newEnv(t *testing.T, opts Options, hopt HandlerOptions) *env {
	t.Helper()
	e := &env{t: t, dir: t.TempDir(), opts: opts, hopt: hopt}
	e.open()
	t.Cleanup(e.close)
	return e
}

func (e *env) open() {
	e.t.Helper()
	e.reg = prometheus.NewRegistry()
	o := e.opts
	o.Registerer = e.reg
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	s, err := Open(e.dir, o)
	if err != nil {
		e.t.Fatalf("Open: %v", err)
	}
	e.s = s
	h := NewHandler(s, e.hopt)
	e.h = h
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/v1/write", h.Write)
	mux.HandleFunc("PUT /metrics/{rest...}", h.Push)
	mux.HandleFunc("POST /metrics/{rest...}", h.Push)
	mux.HandleFunc("DELETE /metrics/{rest...}", h.Push)
	mux.HandleFunc("GET /api/v1/metrics", h.PushedMetrics)
	for path, f := range map[string]http.HandlerFunc{
		"/api/v1/query": h.Query, "/api/v1/query_range": h.QueryRange, "/api/v1/series": h.Series,
		"/api/v1/labels": h.Labels, "/api/v1/label/{name}/values": h.LabelValues,
		"/api/v1/metadata": h.Metadata, "/api/v1/query_exemplars": h.QueryExemplars,
		"/api/v1/status/buildinfo": h.BuildInfo, "/api/v1/format_query": h.FormatQuery,
	} {
		mux.HandleFunc("GET "+path, f)
		mux.HandleFunc("POST "+path, f)
	}
	e.srv = httptest.NewServer(mux)
}

func (e *env) close() {
	if e.srv != nil {
		e.srv.Close()
		e.srv = nil
	}
	if e.s != nil {
		if err := e.s.Close(); err != nil {
			e.t.Errorf("Close: %v", err)
		}
		e.s = nil
	}
}

func (e *env) reopen() {
	e.close()
	e.open()
}

// counter reads a kinsight_metrics_* counter from the store's registry.
func (e *env) counter(name string, lv ...string) float64 {
	e.t.Helper()
	mfs, err := e.reg.Gather()
	if err != nil {
		e.t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metric:
		for _, m := range mf.Metric {
			for i, lp := range m.Label {
				if i < len(lv) && lp.GetValue() != lv[i] {
					continue metric
				}
			}
			return m.GetCounter().GetValue()
		}
	}
	return 0
}

func encodeWrite(t testing.TB, req *prompb.WriteRequest) []byte {
	b, err := req.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return snappy.Encode(nil, b)
}

type resp struct {
	code int
	body string
	hdr  http.Header
}

func (e *env) do(method, path string, body []byte, hdr map[string]string) resp {
	e.t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+path, bytes.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	r, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer r.Body.Close()
	b, _ := io.ReadAll(r.Body)
	return resp{r.StatusCode, string(b), r.Header}
}

func (e *env) write(req *prompb.WriteRequest) resp {
	e.t.Helper()
	return e.do("POST", "/api/v1/write", encodeWrite(e.t, req), map[string]string{
		"Content-Type": "application/x-protobuf", "Content-Encoding": "snappy",
		"X-Prometheus-Remote-Write-Version": "0.1.0",
	})
}

func (e *env) get(path string, params url.Values) resp {
	e.t.Helper()
	return e.do("GET", path+"?"+params.Encode(), nil, nil)
}

// apiResp is the Prometheus envelope, with data kept raw for exact checks.
type apiResp struct {
	Status    string          `json:"status"`
	Data      json.RawMessage `json:"data"`
	ErrorType string          `json:"errorType"`
	Error     string          `json:"error"`
	Warnings  []string        `json:"warnings"`
}

func parseAPI(t *testing.T, r resp) apiResp {
	t.Helper()
	var a apiResp
	if err := json.Unmarshal([]byte(r.body), &a); err != nil {
		t.Fatalf("response %d %q is not JSON: %v", r.code, r.body, err)
	}
	return a
}

func series(name string, lv ...string) []prompb.Label {
	ls := []prompb.Label{{Name: "__name__", Value: name}}
	for i := 0; i+1 < len(lv); i += 2 {
		ls = append(ls, prompb.Label{Name: lv[i], Value: lv[i+1]})
	}
	return ls
}

func ms(t time.Time) int64 { return t.UnixMilli() }

var testKeys = []config.AccessKey{
	{ID: "AKIDAGENT", Secret: "agent-secret-0123456789", Role: config.RoleAgent},
	{ID: "AKIDREADER", Secret: "reader-secret-0123456789", Role: config.RoleReader},
	{ID: "AKIDADMIN", Secret: "admin-secret-0123456789", Role: config.RoleAdmin},
}

func authOpts() HandlerOptions {
	return HandlerOptions{Verifier: auth.NewVerifier(testKeys, auth.Options{}), Keys: testKeys}
}

func contains(t *testing.T, what, s, sub string) {
	t.Helper()
	if !strings.Contains(s, sub) {
		t.Errorf("%s: %q does not contain %q", what, s, sub)
	}
}
