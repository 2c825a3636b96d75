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
Self-metrics:         /metrics    Health: /healthz /readyz
`, s.version, r.Host)
}
