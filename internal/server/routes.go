package server

import (
	"fmt"
	"net/http"
	"net/http/pprof"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// routes lists every endpoint the server answers.
func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	// CloudWatch Logs JSON 1.1 API: every operation is a POST to / with
	// X-Amz-Target: Logs_20140328.<Operation>.
	mux.Handle("POST /{$}", s.logsAPI)
	// kinsight's follow stream for `kinsight logs tail -f` (docs/api.md).
	mux.HandleFunc("GET /kinsight/v1/logs/tail", s.logsAPI.ServeTail)
	// Metrics in: Prometheus remote write 1.0 and the Pushgateway's push
	// API (PUT replaces a group, POST the families pushed, DELETE removes
	// it); out: the Prometheus HTTP API, GET and form POST (docs/metrics-api.md).
	m := s.metricsH
	mux.HandleFunc("POST /api/v1/write", m.Write)
	mux.HandleFunc("PUT /metrics/{rest...}", m.Push)
	mux.HandleFunc("POST /metrics/{rest...}", m.Push)
	mux.HandleFunc("DELETE /metrics/{rest...}", m.Push)
	mux.HandleFunc("GET /api/v1/metrics", m.PushedMetrics) // the Pushgateway's listing
	for path, h := range map[string]http.HandlerFunc{
		"/api/v1/query":               m.Query,
		"/api/v1/query_range":         m.QueryRange,
		"/api/v1/series":              m.Series,
		"/api/v1/labels":              m.Labels,
		"/api/v1/label/{name}/values": m.LabelValues,
		"/api/v1/metadata":            m.Metadata,
		"/api/v1/query_exemplars":     m.QueryExemplars,
		"/api/v1/status/buildinfo":    m.BuildInfo,
		"/api/v1/format_query":        m.FormatQuery,
	} {
		mux.HandleFunc("GET "+path, h)
		mux.HandleFunc("POST "+path, h)
	}
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{Registry: s.reg}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /readyz", s.readyz)
	mux.HandleFunc("GET /{$}", s.index)
	if s.cfg.Pprof {
		mux.HandleFunc("GET /debug/pprof/", pprof.Index)
		mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
		mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
	}
	return mux
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	if !s.ready.Load() {
		http.Error(w, "not ready", http.StatusServiceUnavailable)
		return
	}
	fmt.Fprintln(w, "ready")
}

// index tells a person who opens the server in a browser what it is.
func (s *Server) index(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fmt.Fprintf(w, `kinsight server %s

CloudWatch Logs API:  aws logs describe-log-groups --endpoint-url http://%s
Follow a group:       kinsight logs tail GROUP -f
Prometheus API:       /api/v1/query, /api/v1/query_range, … (Grafana, promtool)
Remote write:         POST /api/v1/write    Push (Pushgateway): /metrics/job/<job>
Query metrics:        kinsight metrics query 'up'
Self-metrics:         /metrics    Health: /healthz /readyz
`, s.version, r.Host)
}
