// Package server wires kinsight's components behind one HTTP listener and
// owns their lifecycle: New opens everything, Run serves until its context
// ends and then shuts down gracefully (stop accepting, finish in-flight
// requests, flush the stores) within the configured timeout.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/kinsight/kinsight/internal/auth"
	"github.com/kinsight/kinsight/internal/config"
	"github.com/kinsight/kinsight/internal/cwlogs"
	"github.com/kinsight/kinsight/internal/logstore"
	"github.com/kinsight/kinsight/internal/metricstore"
)

// Server is a running kinsight server.
type Server struct {
	cfg      config.Server
	log      *slog.Logger
	reg      *prometheus.Registry
	logs     *logstore.Store
	logsAPI  *cwlogs.Handler
	metrics  *metricstore.Store
	metricsH *metricstore.Handler
	verifier *auth.Verifier
	ln       net.Listener
	ready    atomic.Bool
	version  string
}

// Options are the server's dependencies beyond its configuration.
type Options struct {
	Logger  *slog.Logger
	Version string
	// Listener, if set, is used instead of listening on cfg.Listen (tests
	// pass one bound to port 0).
	Listener net.Listener
}

// New validates the configuration, opens the stores and binds the listener.
func New(cfg config.Server, opts Options) (*Server, error) {
	if err := cfg.Validate("server"); err != nil {
		return nil, err
	}
	if err := cfg.Auth.ResolveSecrets(); err != nil {
		return nil, err
	}
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	s := &Server{cfg: cfg, log: log, reg: reg, version: opts.Version}
	ln := opts.Listener
	if ln == nil {
		var err error
		if ln, err = net.Listen("tcp", cfg.Listen); err != nil {
			return nil, fmt.Errorf("listen: %w", err)
		}
	}
	if len(cfg.Auth.AccessKeys) == 0 {
		host, _, _ := net.SplitHostPort(ln.Addr().String())
		if !cfg.Insecure && !config.IsLoopback(host) {
			ln.Close()
			return nil, fmt.Errorf("refusing to listen on %s without access keys: configure server.auth.access_keys or pass --insecure", ln.Addr())
		}
		log.Warn("no access keys configured: requests are not authenticated", "listen", ln.Addr().String())
	} else {
		s.verifier = auth.NewVerifier(cfg.Auth.AccessKeys, auth.Options{})
	}
	s.ln = ln
	start := time.Now()
	logs, err := logstore.Open(filepath.Join(cfg.DataDir, "logs"), logstore.Options{
		LogStore: cfg.Logs, Logger: log.With("component", "logstore"), Registerer: reg,
	})
	if err != nil {
		ln.Close()
		return nil, fmt.Errorf("open log store: %w", err)
	}
	s.logs = logs
	log.Info("log store open", "dir", filepath.Join(cfg.DataDir, "logs"), "took", time.Since(start).Round(time.Millisecond))
	s.logsAPI = cwlogs.NewHandler(logs, s.verifier, cwlogs.Options{
		Logger: log.With("component", "logs-api"), Registerer: reg,
		MaxRequestBytes: int64(cfg.MaxRequestBytes), MaxInflightBytes: int64(cfg.MaxInflightBytes),
		Region: cfg.Region, AccountID: cfg.AccountID, Insights: cfg.Logs.Insights,
	})
	if err := s.logsAPI.OpenQueryDefinitions(filepath.Join(cfg.DataDir, "query-definitions.json")); err != nil {
		s.logsAPI.Close()
		logs.Close()
		ln.Close()
		return nil, fmt.Errorf("open saved queries: %w", err)
	}
	start = time.Now()
	mc := cfg.Metrics
	metrics, err := metricstore.Open(filepath.Join(cfg.DataDir, "metrics"), metricstore.Options{
		Retention:               time.Duration(mc.Retention),
		RetentionBytes:          int64(mc.RetentionBytes),
		OutOfOrderWindow:        time.Duration(mc.OutOfOrderWindow),
		QueryTimeout:            time.Duration(mc.QueryTimeout),
		MaxSamples:              mc.MaxSamples,
		MaxConcurrentQueries:    mc.MaxConcurrentQueries,
		LookbackDelta:           time.Duration(mc.LookbackDelta),
		MaxWriteBytes:           int64(mc.MaxWriteBytes),
		MaxWriteCompressedBytes: int64(mc.MaxWriteCompressedBytes),
		PushInterval:            time.Duration(mc.PushInterval),
		Logger:                  log.With("component", "metricstore"),
		Registerer:              reg,
	})
	if err != nil {
		s.logsAPI.Close()
		logs.Close()
		ln.Close()
		return nil, fmt.Errorf("open metric store: %w", err)
	}
	s.metrics = metrics
	log.Info("metric store open", "dir", filepath.Join(cfg.DataDir, "metrics"), "took", time.Since(start).Round(time.Millisecond))
	s.metricsH = metricstore.NewHandler(metrics, metricstore.HandlerOptions{
		Verifier: s.verifier, Keys: cfg.Auth.AccessKeys, Version: opts.Version,
		MaxInflightBytes: int64(cfg.MaxInflightBytes), Logger: log.With("component", "metrics-api"),
	})
	return s, nil
}

// Addr is the address the server listens on.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Registry holds the server's metrics, served at /metrics; `kinsight up`
// registers its agent's there too.
func (s *Server) Registry() *prometheus.Registry { return s.reg }

// MetricStore is the server's metric store.
func (s *Server) MetricStore() *metricstore.Store { return s.metrics }

// LogStore is the server's log store.
func (s *Server) LogStore() *logstore.Store { return s.logs }

// Run serves until ctx is done, then shuts down gracefully and closes the
// stores. It returns nil after a clean shutdown.
func (s *Server) Run(ctx context.Context) error {
	srv := &http.Server{
		Handler:           s.routes(),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return ctx },
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(s.ln) }()
	s.ready.Store(true)
	s.log.Info("kinsight server listening", "addr", s.ln.Addr().String(), "data_dir", s.cfg.DataDir)
	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-errc:
	}
	s.ready.Store(false)
	s.log.Info("shutting down")
	// The whole shutdown fits in ShutdownTimeout: in-flight requests get up
	// to 80% of it, flushing the stores what is left.
	timeout := time.Duration(s.cfg.ShutdownTimeout)
	deadline := time.Now().Add(timeout - 200*time.Millisecond)
	sctx, cancel := context.WithTimeout(context.Background(), timeout*8/10)
	defer cancel()
	// Streaming followers (tail -f) end with the base context; Shutdown
	// waits for the other in-flight requests.
	err := srv.Shutdown(sctx)
	if err != nil {
		s.log.Warn("in-flight requests did not finish in time", "err", err)
		srv.Close()
	}
	// Running Logs Insights queries read the store: stop them first.
	s.logsAPI.Close()
	fctx, fcancel := context.WithDeadline(context.Background(), deadline)
	defer fcancel()
	if cerr := s.logs.Shutdown(fctx); cerr != nil && !errors.Is(cerr, logstore.ErrClosed) {
		err = errors.Join(err, fmt.Errorf("close log store: %w", cerr))
	}
	if cerr := s.metrics.Close(); cerr != nil {
		err = errors.Join(err, fmt.Errorf("close metric store: %w", cerr))
	}
	if serveErr != nil && !errors.Is(serveErr, http.ErrServerClosed) {
		return errors.Join(serveErr, err)
	}
	if err == nil {
		s.log.Info("shutdown complete")
	}
	return err
}

// Close releases everything without serving (for a New that is not Run).
func (s *Server) Close() error {
	s.ln.Close()
	s.logsAPI.Close()
	return errors.Join(s.logs.Close(), s.metrics.Close())
}
