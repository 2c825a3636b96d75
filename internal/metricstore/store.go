package metricstore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/tsdb"
)

// Options configures a Store. Zero fields take the value of DefaultOptions.
type Options struct {
	// Retention drops blocks older than this. Default: 15d (Prometheus's).
	Retention time.Duration
	// RetentionBytes, when > 0, also drops the oldest blocks while the
	// blocks take more space than this (the WAL and head chunks are not
	// counted, as in Prometheus). Default: 0 (no size limit).
	RetentionBytes int64
	// OutOfOrderWindow accepts samples up to this far behind a series'
	// newest sample. Default: 0, as Prometheus: out-of-order samples are
	// refused with "out of order sample".
	OutOfOrderWindow time.Duration
	// QueryTimeout stops a PromQL query that runs longer. Default: 2m.
	QueryTimeout time.Duration
	// MaxSamples bounds the samples one query may hold in memory at once.
	// Default: 50,000,000 (Prometheus's).
	MaxSamples int
	// MaxConcurrentQueries bounds the PromQL queries evaluated at once;
	// more wait for a slot (until their timeout). Default: 20.
	MaxConcurrentQueries int
	// LookbackDelta is how far back an instant selector looks for a
	// sample. Default: 5m.
	LookbackDelta time.Duration
	// MaxWriteBytes caps a remote_write body after snappy decoding.
	// Default: 32MiB.
	MaxWriteBytes int64
	// MaxWriteCompressedBytes caps a remote_write or push body as received.
	// Default: 16MiB.
	MaxWriteCompressedBytes int64
	// PushInterval is how often pushed (Pushgateway) groups are written
	// into the TSDB, as if Prometheus scraped a Pushgateway. Default: 15s.
	PushInterval time.Duration

	// Logger receives the store's logs. Default: slog.Default().
	Logger *slog.Logger
	// Registerer receives the store's metrics (the TSDB's, the engine's and
	// kinsight_metrics_*). Default: none.
	Registerer prometheus.Registerer
	// Now is the clock for push times and default query times. Default:
	// time.Now.
	Now func() time.Time
}

// DefaultOptions returns the defaults spelled out.
func DefaultOptions() Options {
	return Options{
		Retention:               15 * 24 * time.Hour,
		QueryTimeout:            2 * time.Minute,
		MaxSamples:              50_000_000,
		MaxConcurrentQueries:    20,
		LookbackDelta:           5 * time.Minute,
		MaxWriteBytes:           32 << 20,
		MaxWriteCompressedBytes: 16 << 20,
		PushInterval:            15 * time.Second,
	}
}

func (o *Options) fill() {
	d := DefaultOptions()
	if o.Retention <= 0 {
		o.Retention = d.Retention
	}
	if o.QueryTimeout <= 0 {
		o.QueryTimeout = d.QueryTimeout
	}
	if o.MaxSamples <= 0 {
		o.MaxSamples = d.MaxSamples
	}
	if o.MaxConcurrentQueries <= 0 {
		o.MaxConcurrentQueries = d.MaxConcurrentQueries
	}
	if o.LookbackDelta <= 0 {
		o.LookbackDelta = d.LookbackDelta
	}
	if o.MaxWriteBytes <= 0 {
		o.MaxWriteBytes = d.MaxWriteBytes
	}
	if o.MaxWriteCompressedBytes <= 0 {
		o.MaxWriteCompressedBytes = d.MaxWriteCompressedBytes
	}
	if o.PushInterval <= 0 {
		o.PushInterval = d.PushInterval
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Registerer == nil {
		o.Registerer = prometheus.NewRegistry()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
}

// Store is the metric store: a Prometheus TSDB, a PromQL engine over it,
// the pushed groups and the metric metadata. It is safe for concurrent use.
type Store struct {
	opts    Options
	dir     string
	log     *slog.Logger
	db      *tsdb.DB
	engine  *promql.Engine
	tracker *promql.ActiveQueryTracker
	parser  parser.Parser
	meta    *metadataStore
	push    *pushStore
	m       *storeMetrics

	stop     chan struct{}
	done     chan struct{}
	closeMu  sync.Mutex
	closed   bool
	closeErr error
}

// Open opens (or creates) the store in dir, replaying the TSDB's WAL, and
// starts the background work (compaction is the TSDB's own; writing pushed
// groups is ours). Close must be called to flush and release the lock.
func Open(dir string, opts Options) (*Store, error) {
	opts.fill()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create metrics dir: %w", err)
	}
	log := opts.Logger
	to := tsdb.DefaultOptions()
	to.RetentionDuration = opts.Retention.Milliseconds()
	to.MaxBytes = opts.RetentionBytes
	to.OutOfOrderTimeWindow = opts.OutOfOrderWindow.Milliseconds()
	// Compaction into larger blocks, sized as Prometheus sizes them: up to a
	// tenth of the retention, at most 31 days, so retention can still drop
	// whole blocks without keeping much more than asked.
	maxBlock := min(opts.Retention/10, 31*24*time.Hour)
	if maxBlock < 2*time.Hour {
		maxBlock = 2 * time.Hour
	}
	to.MinBlockDuration = (2 * time.Hour).Milliseconds()
	to.MaxBlockDuration = maxBlock.Milliseconds()
	// The TSDB's own metrics (prometheus_tsdb_*) keep their names, which
	// dashboards for Prometheus already use; they cannot collide with
	// client_golang's go_* and process_* collectors.
	db, err := tsdb.Open(filepath.Join(dir, "tsdb"), log.With("component", "tsdb"), opts.Registerer, to, nil)
	if err != nil {
		return nil, fmt.Errorf("open tsdb: %w", err)
	}
	tracker, err := promql.NewActiveQueryTracker(dir, opts.MaxConcurrentQueries, log.With("component", "promql"))
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("open query tracker: %w", err)
	}
	p := parser.NewParser(parser.Options{})
	engine := promql.NewEngine(promql.EngineOpts{
		Logger:             log.With("component", "promql"),
		Reg:                opts.Registerer,
		MaxSamples:         opts.MaxSamples,
		Timeout:            opts.QueryTimeout,
		ActiveQueryTracker: tracker,
		LookbackDelta:      opts.LookbackDelta,
		// A subquery without a step ("x[5m:]") steps at the global
		// evaluation interval; Prometheus's default is 1m.
		NoStepSubqueryIntervalFn: func(int64) int64 { return time.Minute.Milliseconds() },
		// Always on in Prometheus since 2.33.
		EnableAtModifier:     true,
		EnableNegativeOffset: true,
		Parser:               p,
	})
	s := &Store{
		opts: opts, dir: dir, log: log, db: db, engine: engine, tracker: tracker, parser: p,
		m:    newStoreMetrics(opts.Registerer),
		stop: make(chan struct{}), done: make(chan struct{}),
	}
	s.meta, err = openMetadata(filepath.Join(dir, "metadata.json"))
	if err != nil {
		s.closeTSDB()
		return nil, err
	}
	s.push, err = openPushStore(filepath.Join(dir, "push-groups.json"))
	if err != nil {
		s.closeTSDB()
		return nil, err
	}
	go s.run()
	return s, nil
}

// run writes the pushed groups into the TSDB, and saves changed metadata,
// every PushInterval until Close.
func (s *Store) run() {
	defer close(s.done)
	t := time.NewTicker(s.opts.PushInterval)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			if err := s.appendPushed(context.Background()); err != nil {
				s.log.Warn("metricstore: writing pushed groups failed", "err", err)
			}
			if err := s.meta.save(); err != nil {
				s.log.Warn("metricstore: saving metric metadata failed", "err", err)
			}
		}
	}
}

func (s *Store) closeTSDB() error {
	var errs []error
	if err := s.engine.Close(); err != nil {
		errs = append(errs, fmt.Errorf("close promql engine: %w", err))
	}
	if err := s.db.Close(); err != nil {
		errs = append(errs, fmt.Errorf("close tsdb: %w", err))
	}
	return errors.Join(errs...)
}

// Close stops the background work, saves the metadata and closes the TSDB
// (which syncs the WAL: every committed sample survives). It is idempotent.
func (s *Store) Close() error {
	s.closeMu.Lock()
	defer s.closeMu.Unlock()
	if s.closed {
		return s.closeErr
	}
	s.closed = true
	close(s.stop)
	<-s.done
	var errs []error
	if err := s.meta.save(); err != nil {
		errs = append(errs, err)
	}
	errs = append(errs, s.closeTSDB())
	s.closeErr = errors.Join(errs...)
	return s.closeErr
}

// NumSeries is the number of series in the head (the recent, in-memory
// part of the TSDB).
func (s *Store) NumSeries() uint64 { return s.db.Head().NumSeries() }
