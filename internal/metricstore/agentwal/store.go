package agentwal

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	config_util "github.com/prometheus/common/config"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/storage/remote"
	"github.com/prometheus/prometheus/tsdb/agent"
	"github.com/prometheus/prometheus/tsdb/wlog"
	"github.com/prometheus/sigv4"
)

// Options configure a Store. Dir and at least one Endpoint are required.
type Options struct {
	// Dir holds the WAL (<Dir>/wal) and each endpoint's read position
	// (<Dir>/positions/<name>.json).
	Dir       string
	Endpoints []Endpoint
	Logger    *slog.Logger
	// Registerer receives the store's metrics (kinsight_agent_remote_* and
	// the agent WAL's own, prefixed kinsight_agent_); nil registers nothing.
	Registerer prometheus.Registerer
	// ExternalLabels are added to every series sent unless the series has
	// a label of that name already (Prometheus's rule).
	ExternalLabels map[string]string
	// TruncateFrequency is how often the WAL drops series without recent
	// samples and checkpoints all but its newest segment. Default 2h.
	TruncateFrequency time.Duration
	// MaxWALTime bounds how old series may be before series GC removes
	// them even if unsent. Default 4h.
	MaxWALTime time.Duration
	// WALSegmentSize is the WAL segment size. Default 128 MiB; tests use
	// small ones to exercise segment changes.
	WALSegmentSize int
}

// Endpoint is one remote_write destination.
type Endpoint struct {
	// Name identifies the endpoint in metrics and its position file;
	// default "0", "1", … by index. [a-zA-Z0-9_-] only.
	Name        string
	URL         string
	SigV4       *SigV4
	BasicAuth   *BasicAuth
	BearerToken string
	Headers     map[string]string
	Queue       QueueConfig
}

// SigV4 signs requests as Prometheus's sigv4 block does. Empty keys use
// the AWS default credential chain.
type SigV4 struct {
	Region      string
	AccessKey   string
	SecretKey   string
	ServiceName string // default "aps" (Amazon Managed Prometheus)
}

// BasicAuth is HTTP basic authentication.
type BasicAuth struct{ Username, Password string }

// QueueConfig overrides the sender's defaults; zero fields keep them.
type QueueConfig struct {
	// MaxSamplesPerSend bounds one request. Default 2000 (Prometheus's).
	MaxSamplesPerSend int
	// BatchSendDeadline is how long a partial batch waits for more
	// samples. Default 5s (Prometheus's).
	BatchSendDeadline time.Duration
	// MinBackoff and MaxBackoff bound the retry delay, doubled per
	// attempt. Defaults 30ms and 5s (Prometheus's).
	MinBackoff, MaxBackoff time.Duration
	// Timeout is one request's timeout. Default 30s.
	Timeout time.Duration
	// PollInterval is how often the tail of the WAL is checked for new
	// records. Default 250ms.
	PollInterval time.Duration
}

func (q QueueConfig) withDefaults() QueueConfig {
	if q.MaxSamplesPerSend <= 0 {
		q.MaxSamplesPerSend = 2000
	}
	if q.BatchSendDeadline <= 0 {
		q.BatchSendDeadline = 5 * time.Second
	}
	if q.MinBackoff <= 0 {
		q.MinBackoff = 30 * time.Millisecond
	}
	if q.MaxBackoff <= 0 {
		q.MaxBackoff = 5 * time.Second
	}
	if q.Timeout <= 0 {
		q.Timeout = 30 * time.Second
	}
	if q.PollInterval <= 0 {
		q.PollInterval = 250 * time.Millisecond
	}
	return q
}

var validName = regexp.MustCompile(`^[a-zA-Z0-9_-]+$`)

// Store is an agent-mode WAL with one shipper per endpoint.
type Store struct {
	opts     Options
	log      *slog.Logger
	db       *agent.DB
	rs       *remote.Storage
	metrics  *metrics
	shippers []*shipper
	dbReg    *trackingRegisterer
	// readerMetrics count the WAL readers' corruption errors; they are
	// not registered (the per-endpoint metrics say what matters).
	readerMetrics *wlog.LiveReaderMetrics
	cancel        context.CancelFunc
	wg            sync.WaitGroup
	closeMu       sync.Mutex
	closed        bool
}

// Open opens (or creates) the WAL under opts.Dir, replays it, and starts
// shipping to every endpoint from where each left off.
func Open(opts Options) (*Store, error) {
	if opts.Dir == "" {
		return nil, errors.New("agentwal: Dir is required")
	}
	if len(opts.Endpoints) == 0 {
		return nil, errors.New("agentwal: at least one endpoint is required")
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	reg := opts.Registerer
	if reg == nil {
		reg = prometheus.NewRegistry() // metrics kept but not exposed
	}
	names := map[string]bool{}
	eps := make([]Endpoint, len(opts.Endpoints))
	for i, ep := range opts.Endpoints {
		if ep.Name == "" {
			ep.Name = fmt.Sprint(i)
		}
		if !validName.MatchString(ep.Name) || names[ep.Name] {
			return nil, fmt.Errorf("agentwal: endpoint name %q: must be unique and [a-zA-Z0-9_-]+", ep.Name)
		}
		names[ep.Name] = true
		ep.Queue = ep.Queue.withDefaults()
		eps[i] = ep
	}
	opts.Endpoints = eps

	// Positions point into one WAL: if the WAL is gone (removed by an
	// operator, a new volume), they would skip the new WAL's first
	// records, so they go too.
	if _, err := os.Stat(filepath.Join(opts.Dir, "wal")); errors.Is(err, os.ErrNotExist) {
		if err := os.RemoveAll(filepath.Join(opts.Dir, "positions")); err != nil {
			return nil, fmt.Errorf("agentwal: remove stale positions: %w", err)
		}
	}
	aopts := agent.DefaultOptions()
	// The TSDB's default of 16,384 lock stripes (each with two maps) is
	// sized for a Prometheus with millions of series and costs 3.7 MB of
	// heap up front; an agent holds a few thousand series, appended by one
	// collection at a time, so 1,024 stripes leave no contention and take
	// about 0.2 MB.
	aopts.StripeSize = seriesStripes
	if opts.TruncateFrequency > 0 {
		aopts.TruncateFrequency = opts.TruncateFrequency
	}
	if opts.MaxWALTime > 0 {
		aopts.MaxWALTime = opts.MaxWALTime.Milliseconds()
	}
	if opts.WALSegmentSize > 0 {
		aopts.WALSegmentSize = opts.WALSegmentSize
	}
	// The agent DB asks a remote.Storage for the lowest timestamp sent, to
	// keep series alive until shipped. Ours has no queues (we ship by WAL
	// position, see doc.go), so it answers 0 and series GC falls back to
	// MaxWALTime, the bound on how long an outage can last.
	rs := remote.NewStorage(log.With("component", "remote"), nil, func() (int64, error) { return 0, nil }, opts.Dir, time.Minute, nil, false)
	preg := &trackingRegisterer{reg: prometheus.WrapRegistererWithPrefix("kinsight_agent_", reg)}
	db, err := agent.Open(log.With("component", "agent-wal"), preg, rs, opts.Dir, aopts)
	if err != nil {
		preg.unregisterAll()
		return nil, fmt.Errorf("open agent WAL: %w", err)
	}
	s := &Store{opts: opts, log: log, db: db, rs: rs, dbReg: preg, readerMetrics: wlog.NewLiveReaderMetrics(nil)}
	s.metrics, err = newMetrics(reg, filepath.Join(opts.Dir, "wal"))
	if err != nil {
		db.Close()
		preg.unregisterAll()
		return nil, err
	}
	fail := func(err error) (*Store, error) {
		db.Close()
		s.metrics.unregister()
		preg.unregisterAll()
		return nil, err
	}
	if err := os.MkdirAll(filepath.Join(opts.Dir, "positions"), 0o755); err != nil {
		return fail(fmt.Errorf("agentwal: %w", err))
	}
	for _, ep := range opts.Endpoints {
		sh, err := newShipper(s, ep)
		if err != nil {
			return fail(fmt.Errorf("agentwal: endpoint %s: %w", ep.Name, err))
		}
		s.shippers = append(s.shippers, sh)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	for _, sh := range s.shippers {
		s.wg.Add(1)
		go func() { defer s.wg.Done(); sh.run(ctx) }()
	}
	return s, nil
}

// Close stops shipping (an in-flight request is abandoned and resent
// after reopening) and closes the WAL, which fsyncs it.
func (s *Store) Close() error {
	s.closeMu.Lock()
	defer s.closeMu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	s.cancel()
	s.wg.Wait()
	for _, sh := range s.shippers {
		// Keep-alive connections would otherwise stay open until the
		// endpoint's idle timeout, one set per Open.
		if c, ok := sh.client.(*remote.Client); ok {
			c.Client.CloseIdleConnections()
		}
	}
	err := s.db.Close()
	if cerr := s.rs.Close(); err == nil {
		err = cerr
	}
	s.metrics.unregister()
	s.dbReg.unregisterAll()
	if err != nil {
		return fmt.Errorf("close agent WAL: %w", err)
	}
	return nil
}

// seriesStripes is the agent-mode TSDB's StripeSize (a power of two).
const seriesStripes = 1024

// Label is one label pair; the metric name is the label "__name__".
type Label struct{ Name, Value string }

// Appender collects samples for one transaction: nothing is in the WAL
// (or shipped) until Commit. Not safe for concurrent use; take one per
// goroutine and collection.
type Appender interface {
	// Append adds a sample; ts is milliseconds since the epoch.
	Append(ls []Label, ts int64, v float64) error
	// Commit writes the samples to the WAL as one flushed write.
	Commit() error
	// Rollback discards the samples.
	Rollback() error
}

// Appender returns a new transaction.
func (s *Store) Appender(ctx context.Context) Appender {
	return &appender{app: s.db.Appender(ctx)}
}

type appender struct {
	app storage.Appender
	b   labels.ScratchBuilder
}

func (a *appender) Append(ls []Label, ts int64, v float64) error {
	a.b.Reset()
	for _, l := range ls {
		if l.Value != "" {
			a.b.Add(l.Name, l.Value)
		}
	}
	a.b.Sort()
	lset := a.b.Labels()
	if _, err := a.app.Append(0, lset, ts, v); err != nil {
		return fmt.Errorf("append %s: %w", lset, err)
	}
	return nil
}

func (a *appender) Commit() error {
	if err := a.app.Commit(); err != nil {
		return fmt.Errorf("commit to agent WAL: %w", err)
	}
	return nil
}

func (a *appender) Rollback() error { return a.app.Rollback() }

// clientConfig translates an Endpoint into Prometheus's remote write client
// configuration, so SigV4, basic auth, bearer tokens and headers are done
// by the same code as Prometheus's remote_write.
func clientConfig(ep Endpoint) (*remote.ClientConfig, error) {
	u, err := url.Parse(ep.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("url %q: must be http(s)://host/path", ep.URL)
	}
	n := 0
	if ep.SigV4 != nil {
		n++
	}
	if ep.BasicAuth != nil {
		n++
	}
	if ep.BearerToken != "" {
		n++
	}
	if n > 1 {
		return nil, errors.New("choose one of sigv4, basic auth and bearer token")
	}
	hc := config_util.DefaultHTTPClientConfig
	if ep.BasicAuth != nil {
		hc.BasicAuth = &config_util.BasicAuth{Username: ep.BasicAuth.Username, Password: config_util.Secret(ep.BasicAuth.Password)}
	}
	if ep.BearerToken != "" {
		hc.Authorization = &config_util.Authorization{Type: "Bearer", Credentials: config_util.Secret(ep.BearerToken)}
	}
	if err := hc.Validate(); err != nil {
		return nil, fmt.Errorf("http client: %w", err)
	}
	cc := &remote.ClientConfig{
		URL:              &config_util.URL{URL: u},
		Timeout:          model.Duration(ep.Queue.Timeout),
		HTTPClientConfig: hc,
		Headers:          ep.Headers,
		RetryOnRateLimit: true,
	}
	if ep.SigV4 != nil {
		sc := &sigv4.SigV4Config{Region: ep.SigV4.Region, AccessKey: ep.SigV4.AccessKey,
			SecretKey: config_util.Secret(ep.SigV4.SecretKey), ServiceName: ep.SigV4.ServiceName}
		if err := sc.Validate(); err != nil {
			return nil, fmt.Errorf("sigv4: %w", err)
		}
		cc.SigV4Config = sc
	}
	return cc, nil
}
