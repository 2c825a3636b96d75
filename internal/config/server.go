package config

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"time"
)

// Server configures the kinsight server.
type Server struct {
	// Listen is the one HTTP listen address. Default: 127.0.0.1:8470.
	Listen string `yaml:"listen"`
	// DataDir holds everything the server stores. Default: ./kinsight-data.
	DataDir string `yaml:"data_dir"`
	// Insecure allows a non-loopback Listen address with no access keys.
	// Default: false.
	Insecure bool `yaml:"insecure"`
	// Region is the AWS region the server reports in ARNs. Default: us-east-1.
	Region string `yaml:"region"`
	// AccountID is the 12-digit account in ARNs. Default: 000000000000.
	AccountID string `yaml:"account_id"`
	// MaxRequestBytes caps a request body, after decompression. Default: 8MiB.
	MaxRequestBytes ByteSize `yaml:"max_request_bytes"`
	// MaxInflightBytes bounds the request bodies handled at once, so memory
	// for requests does not grow with the number of clients; a request that
	// finds no room within 5s gets ThrottlingException. Default: 64MiB.
	MaxInflightBytes ByteSize `yaml:"max_inflight_bytes"`
	// Pprof serves Go's profiler under /debug/pprof/ (unauthenticated, like
	// Prometheus does). Default: false.
	Pprof bool `yaml:"pprof"`
	// ShutdownTimeout bounds graceful shutdown. Default: 10s.
	ShutdownTimeout Duration `yaml:"shutdown_timeout"`
	// MemoryLimit is the Go runtime's soft memory limit for `kinsight
	// server` and `kinsight up` (GOMEMLIMIT, when set, wins). Without it
	// the collector lets the heap grow to about twice what is live (mostly
	// the heads while ingesting), which with the binary's own pages took
	// RSS past 400 MB in the issue 2 benchmark; with it the collector runs
	// earlier as memory nears the limit. Once the live heap passes two
	// thirds of it the limit in force rises (2 × live − limit/3, see
	// internal/cli), so a server that holds more (a metric store with many
	// series) does not run the collector all the time. Default: 320MiB;
	// 0: off.
	MemoryLimit ByteSize `yaml:"memory_limit"`
	// Auth lists the access keys. With none, only loopback listens are allowed.
	Auth Auth `yaml:"auth"`
	// Logs configures the log store.
	Logs LogStore `yaml:"logs"`
	// Metrics configures the metric store (Prometheus TSDB and PromQL).
	Metrics MetricStore `yaml:"metrics"`
}

// MetricStore configures the metric store: the Prometheus TSDB under
// <data_dir>/metrics, the PromQL engine, remote write and the push API.
type MetricStore struct {
	// Retention drops data older than this. Default: 15d.
	Retention Duration `yaml:"retention"`
	// RetentionBytes, when > 0, also drops the oldest blocks while the
	// blocks take more space (WAL not counted). Default: 0 (no size limit).
	RetentionBytes ByteSize `yaml:"retention_bytes"`
	// OutOfOrderWindow accepts samples up to this far behind the newest
	// sample of their series. Default: 0 (refused, as in Prometheus).
	OutOfOrderWindow Duration `yaml:"out_of_order_window"`
	// QueryTimeout stops a PromQL query that runs longer. Default: 2m.
	QueryTimeout Duration `yaml:"query_timeout"`
	// MaxSamples bounds the samples one query holds at once. Default: 50000000.
	MaxSamples int `yaml:"max_samples"`
	// MaxConcurrentQueries bounds the queries evaluated at once; more wait.
	// Default: 20.
	MaxConcurrentQueries int `yaml:"max_concurrent_queries"`
	// LookbackDelta is how far back an instant selector looks. Default: 5m.
	LookbackDelta Duration `yaml:"lookback_delta"`
	// MaxWriteBytes caps a remote write body after snappy decoding.
	// Default: 32MiB.
	MaxWriteBytes ByteSize `yaml:"max_write_bytes"`
	// MaxWriteCompressedBytes caps a remote write or push body as sent.
	// Default: 16MiB.
	MaxWriteCompressedBytes ByteSize `yaml:"max_write_compressed_bytes"`
	// PushInterval is how often pushed (Pushgateway) groups are written
	// into the TSDB, like a Pushgateway scrape. Default: 15s.
	PushInterval Duration `yaml:"push_interval"`
}

// DefaultMetricStore returns the metric store defaults.
func DefaultMetricStore() MetricStore {
	return MetricStore{
		Retention:               Duration(15 * 24 * time.Hour),
		QueryTimeout:            Duration(2 * time.Minute),
		MaxSamples:              50_000_000,
		MaxConcurrentQueries:    20,
		LookbackDelta:           Duration(5 * time.Minute),
		MaxWriteBytes:           32 << 20,
		MaxWriteCompressedBytes: 16 << 20,
		PushInterval:            Duration(15 * time.Second),
	}
}

// Validate checks the metrics section.
func (m *MetricStore) Validate(key string) error {
	var errs []error
	add := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if m.Retention < Duration(2*time.Hour) {
		add("%s.retention must be at least 2h (got %s)", key, time.Duration(m.Retention))
	}
	if m.RetentionBytes < 0 {
		add("%s.retention_bytes must be >= 0", key)
	}
	if m.OutOfOrderWindow < 0 {
		add("%s.out_of_order_window must be >= 0", key)
	}
	if m.QueryTimeout <= 0 {
		add("%s.query_timeout must be > 0", key)
	}
	if m.MaxSamples < 1 {
		add("%s.max_samples must be > 0 (got %d)", key, m.MaxSamples)
	}
	if m.MaxConcurrentQueries < 1 || m.MaxConcurrentQueries > 1000 {
		add("%s.max_concurrent_queries must be 1..1000 (got %d)", key, m.MaxConcurrentQueries)
	}
	if m.LookbackDelta < Duration(time.Second) {
		add("%s.lookback_delta must be at least 1s (got %s)", key, time.Duration(m.LookbackDelta))
	}
	if m.MaxWriteCompressedBytes < 64<<10 {
		add("%s.max_write_compressed_bytes must be at least 64KiB (got %d)", key, m.MaxWriteCompressedBytes)
	}
	if m.MaxWriteBytes < m.MaxWriteCompressedBytes {
		add("%s.max_write_bytes must be at least max_write_compressed_bytes (%d)", key, m.MaxWriteCompressedBytes)
	}
	if m.PushInterval < Duration(time.Second) {
		add("%s.push_interval must be at least 1s (got %s)", key, time.Duration(m.PushInterval))
	}
	return errors.Join(errs...)
}

// Auth holds the access keys the server accepts.
type Auth struct {
	// AccessKeys are the SigV4 key pairs and their roles. Default: none.
	AccessKeys []AccessKey `yaml:"access_keys"`
}

// AccessKey is one SigV4 credential.
type AccessKey struct {
	// ID is the access key id, as given to the AWS CLI (AWS_ACCESS_KEY_ID).
	ID string `yaml:"id"`
	// Secret is the secret access key. Set Secret or SecretFile, not both.
	Secret string `yaml:"secret"`
	// SecretFile is a file holding the secret (a mounted Kubernetes Secret).
	SecretFile string `yaml:"secret_file"`
	// Role is agent (write logs and metrics), reader (read) or admin (all).
	Role string `yaml:"role"`
}

// LogStore configures the log storage engine.
type LogStore struct {
	// HeadMaxBytes is the in-memory head size that triggers a flush to a part;
	// ingestion waits while two heads are full. Default: 64MiB.
	HeadMaxBytes ByteSize `yaml:"head_max_bytes"`
	// FlushInterval flushes the head at least this often. Default: 1m.
	FlushInterval Duration `yaml:"flush_interval"`
	// BlockMaxBytes is the uncompressed size of one block of one stream.
	// Default: 1MiB.
	BlockMaxBytes ByteSize `yaml:"block_max_bytes"`
	// MaxPartsPerPartition starts a merge when a daily partition holds more
	// parts. Default: 8.
	MaxPartsPerPartition int `yaml:"max_parts_per_partition"`
	// CompressionLevel is the zstd level for parts: 1 fastest … 4 smallest.
	// Default: 3.
	CompressionLevel int `yaml:"compression_level"`
	// MinFreeDiskBytes refuses writes (ServiceUnavailableException) while the
	// data directory's file system has less free space. Default: 64MiB.
	MinFreeDiskBytes ByteSize `yaml:"min_free_disk_bytes"`
	// WALSegmentBytes rotates the write-ahead log. Default: 64MiB.
	WALSegmentBytes ByteSize `yaml:"wal_segment_bytes"`
	// RetentionCheckInterval is how often expired partitions are deleted.
	// Default: 10m.
	RetentionCheckInterval Duration `yaml:"retention_check_interval"`
	// BlockCacheBytes bounds the decompressed blocks kept for reads.
	// Default: 64MiB.
	BlockCacheBytes ByteSize `yaml:"block_cache_bytes"`
	// Insights configures Logs Insights queries (StartQuery).
	Insights Insights `yaml:"insights"`
}

// Insights bounds Logs Insights queries so that a busy or careless client
// cannot take the server's memory or CPU away from ingestion.
type Insights struct {
	// MaxConcurrentQueries is how many queries may be Scheduled or Running
	// at once; StartQuery beyond it gets LimitExceededException, as AWS
	// answers past its 30. Default: 30.
	MaxConcurrentQueries int `yaml:"max_concurrent_queries"`
	// QueryTimeout stops a query that runs longer; it ends with status
	// Timeout and the rows it had. Default: 15m (AWS's limit).
	QueryTimeout Duration `yaml:"query_timeout"`
	// MaxMemoryBytes bounds one query's stats groups, sort buffers, dedup
	// sets and pattern clusters; a query that needs more fails with a clear
	// error instead of growing. Default: 256MiB.
	MaxMemoryBytes ByteSize `yaml:"max_memory_bytes"`
	// ResultsTTL is how long GetQueryResults can still fetch a finished
	// query's rows. Default: 1h.
	ResultsTTL Duration `yaml:"results_ttl"`
}

// DefaultInsights returns the Logs Insights defaults.
func DefaultInsights() Insights {
	return Insights{
		MaxConcurrentQueries: 30,
		QueryTimeout:         Duration(15 * time.Minute),
		MaxMemoryBytes:       256 << 20,
		ResultsTTL:           Duration(time.Hour),
	}
}

// Validate checks the insights section.
func (q *Insights) Validate(key string) error {
	var errs []error
	add := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if q.MaxConcurrentQueries < 1 || q.MaxConcurrentQueries > 1000 {
		add("%s.max_concurrent_queries must be 1..1000 (got %d)", key, q.MaxConcurrentQueries)
	}
	if q.QueryTimeout <= 0 {
		add("%s.query_timeout must be > 0", key)
	}
	if q.MaxMemoryBytes < 1<<20 {
		add("%s.max_memory_bytes must be at least 1MiB (got %d)", key, q.MaxMemoryBytes)
	}
	if q.ResultsTTL < Duration(time.Minute) {
		add("%s.results_ttl must be at least 1m (got %s)", key, time.Duration(q.ResultsTTL))
	}
	return errors.Join(errs...)
}

// DefaultServer returns the server defaults.
func DefaultServer() Server {
	return Server{
		Listen:           "127.0.0.1:8470",
		DataDir:          "./kinsight-data",
		Region:           "us-east-1",
		AccountID:        "000000000000",
		MaxRequestBytes:  8 << 20,
		MaxInflightBytes: 64 << 20,
		ShutdownTimeout:  Duration(10 * time.Second),
		MemoryLimit:      320 << 20,
		Logs: LogStore{
			HeadMaxBytes:           64 << 20,
			FlushInterval:          Duration(time.Minute),
			BlockMaxBytes:          1 << 20,
			MaxPartsPerPartition:   8,
			CompressionLevel:       3,
			MinFreeDiskBytes:       64 << 20,
			WALSegmentBytes:        64 << 20,
			RetentionCheckInterval: Duration(10 * time.Minute),
			BlockCacheBytes:        64 << 20,
			Insights:               DefaultInsights(),
		},
		Metrics: DefaultMetricStore(),
	}
}

// Roles an access key may have.
const (
	RoleAgent  = "agent"
	RoleReader = "reader"
	RoleAdmin  = "admin"
)

// Validate checks the server section; key is its YAML path.
func (s *Server) Validate(key string) error {
	var errs []error
	add := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	host, _, err := net.SplitHostPort(s.Listen)
	if err != nil {
		add("%s.listen must be host:port (got %q): %v", key, s.Listen, err)
	}
	if s.DataDir == "" {
		add("%s.data_dir must not be empty", key)
	}
	if len(s.AccountID) != 12 || strings.Trim(s.AccountID, "0123456789") != "" {
		add("%s.account_id must be 12 digits (got %q)", key, s.AccountID)
	}
	if s.Region == "" {
		add("%s.region must not be empty", key)
	}
	if s.MaxRequestBytes < 1<<20+1<<16 {
		add("%s.max_request_bytes must be at least 1114112 so a full PutLogEvents batch fits (got %d)", key, s.MaxRequestBytes)
	}
	if s.MaxInflightBytes < s.MaxRequestBytes {
		add("%s.max_inflight_bytes must be at least max_request_bytes (%d)", key, s.MaxRequestBytes)
	}
	if s.ShutdownTimeout <= 0 {
		add("%s.shutdown_timeout must be > 0", key)
	}
	if s.MemoryLimit != 0 && s.MemoryLimit < 64<<20 {
		add("%s.memory_limit must be 0 (off) or at least 64MiB (got %d)", key, s.MemoryLimit)
	}
	seen := map[string]bool{}
	for i, k := range s.Auth.AccessKeys {
		p := fmt.Sprintf("%s.auth.access_keys[%d]", key, i)
		if k.ID == "" {
			add("%s.id must not be empty", p)
		} else if seen[k.ID] {
			add("%s.id %q is listed twice", p, k.ID)
		}
		seen[k.ID] = true
		switch {
		case k.Secret != "" && k.SecretFile != "":
			add("%s: set secret or secret_file, not both", p)
		case k.Secret == "" && k.SecretFile == "":
			add("%s.secret must not be empty (or set secret_file)", p)
		}
		switch k.Role {
		case RoleAgent, RoleReader, RoleAdmin:
		default:
			add("%s.role must be agent, reader or admin (got %q)", p, k.Role)
		}
	}
	if err == nil && len(s.Auth.AccessKeys) == 0 && !s.Insecure && !IsLoopback(host) {
		add("%s.listen %q is not a loopback address: configure %s.auth.access_keys or set %s.insecure", key, s.Listen, key, key)
	}
	errs = append(errs, s.Logs.Validate(key+".logs"))
	errs = append(errs, s.Metrics.Validate(key+".metrics"))
	return errors.Join(errs...)
}

// Validate checks the log store section.
func (l *LogStore) Validate(key string) error {
	var errs []error
	add := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if l.HeadMaxBytes < 1<<20 {
		add("%s.head_max_bytes must be at least 1MiB (got %d)", key, l.HeadMaxBytes)
	}
	if l.FlushInterval <= 0 {
		add("%s.flush_interval must be > 0", key)
	}
	if l.BlockMaxBytes < 4<<10 || l.BlockMaxBytes > 64<<20 {
		add("%s.block_max_bytes must be between 4KiB and 64MiB (got %d)", key, l.BlockMaxBytes)
	}
	if l.MaxPartsPerPartition < 2 {
		add("%s.max_parts_per_partition must be >= 2 (got %d)", key, l.MaxPartsPerPartition)
	}
	if l.CompressionLevel < 1 || l.CompressionLevel > 4 {
		add("%s.compression_level must be 1..4 (got %d)", key, l.CompressionLevel)
	}
	if l.MinFreeDiskBytes < 0 {
		add("%s.min_free_disk_bytes must be >= 0", key)
	}
	if l.WALSegmentBytes < 1<<20 {
		add("%s.wal_segment_bytes must be at least 1MiB (got %d)", key, l.WALSegmentBytes)
	}
	if l.BlockCacheBytes < 0 {
		add("%s.block_cache_bytes must be >= 0", key)
	}
	if l.RetentionCheckInterval <= 0 {
		add("%s.retention_check_interval must be > 0", key)
	}
	errs = append(errs, l.Insights.Validate(key+".insights"))
	return errors.Join(errs...)
}

// IsLoopback reports whether host (from host:port) only reaches this machine.
func IsLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// ResolveSecrets reads every SecretFile into Secret.
func (a *Auth) ResolveSecrets() error {
	for i := range a.AccessKeys {
		k := &a.AccessKeys[i]
		if k.SecretFile == "" {
			continue
		}
		b, err := os.ReadFile(k.SecretFile)
		if err != nil {
			return fmt.Errorf("server.auth.access_keys[%d].secret_file: %w", i, err)
		}
		k.Secret = strings.TrimSpace(string(b))
	}
	return nil
}
