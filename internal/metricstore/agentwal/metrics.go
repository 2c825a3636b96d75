package agentwal

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics mirror the names of Prometheus's remote storage metrics
// (prometheus_remote_storage_* → kinsight_agent_remote_storage_*), so
// dashboards and alerts written for Prometheus's agent read them as they
// are, with remote_name and url labels as there.
type metrics struct {
	reg             prometheus.Registerer
	cs              []prometheus.Collector
	sent            *prometheus.CounterVec
	failed          *prometheus.CounterVec
	retried         *prometheus.CounterVec
	pending         *prometheus.GaugeVec
	bytes           *prometheus.CounterVec
	highestSent     *prometheus.GaugeVec
	shards          *prometheus.GaugeVec
	segment         *prometheus.GaugeVec
	series          *prometheus.GaugeVec
	segmentsSkipped *prometheus.CounterVec
	batchDuration   *prometheus.HistogramVec
}

type endpointMetrics struct {
	sent, failed, retried, bytes, segmentsSkipped prometheus.Counter
	pending, highestSent, segment, series         prometheus.Gauge
	batchDuration                                 prometheus.Observer
}

func newMetrics(reg prometheus.Registerer, walDir string) (*metrics, error) {
	const ns, sub = "kinsight_agent", "remote_storage"
	lbl := []string{"remote_name", "url"}
	m := &metrics{
		reg: reg,
		sent: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "samples_total",
			Help: "Samples acknowledged by the remote endpoint."}, lbl),
		failed: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "samples_failed_total",
			Help: "Samples dropped: refused by the endpoint with a non-retryable status, or of a series missing from the WAL."}, lbl),
		retried: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "samples_retried_total",
			Help: "Samples in requests that failed recoverably (network error, 5xx, 429) and were retried."}, lbl),
		pending: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub, Name: "samples_pending",
			Help: "Samples read from the WAL and not yet acknowledged."}, lbl),
		bytes: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "bytes_total",
			Help: "Compressed request bytes acknowledged by the endpoint."}, lbl),
		highestSent: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub, Name: "queue_highest_sent_timestamp_seconds",
			Help: "Newest sample timestamp acknowledged by the endpoint."}, lbl),
		shards: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub, Name: "shards",
			Help: "Concurrent senders (always 1: samples are sent in WAL order so the shipped position is exact)."}, lbl),
		segment: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub, Name: "wal_watcher_current_segment",
			Help: "WAL segment the endpoint's reader is in."}, lbl),
		series: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub, Name: "series",
			Help: "Series known to the endpoint's reader."}, lbl),
		segmentsSkipped: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "wal_segments_lost_total",
			Help: "WAL segments truncated before the endpoint shipped them (their samples are lost)."}, lbl),
		batchDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: ns, Subsystem: sub, Name: "sent_batch_duration_seconds",
			Help: "Duration of remote write requests.", Buckets: prometheus.DefBuckets}, lbl),
	}
	walSize := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: ns, Name: "wal_size_bytes",
		Help: "Bytes in the agent WAL directory (segments and checkpoint)."}, func() float64 { return float64(dirSize(walDir)) })
	m.cs = []prometheus.Collector{m.sent, m.failed, m.retried, m.pending, m.bytes, m.highestSent, m.shards, m.segment, m.series, m.segmentsSkipped, m.batchDuration, walSize}
	for i, c := range m.cs {
		if err := reg.Register(c); err != nil {
			for _, r := range m.cs[:i] {
				reg.Unregister(r)
			}
			return nil, fmt.Errorf("agentwal: register metrics: %w", err)
		}
	}
	return m, nil
}

func (m *metrics) unregister() {
	for _, c := range m.cs {
		m.reg.Unregister(c)
	}
}

func (m *metrics) forEndpoint(name, url string) endpointMetrics {
	m.shards.WithLabelValues(name, url).Set(1)
	return endpointMetrics{
		sent: m.sent.WithLabelValues(name, url), failed: m.failed.WithLabelValues(name, url),
		retried: m.retried.WithLabelValues(name, url), bytes: m.bytes.WithLabelValues(name, url),
		segmentsSkipped: m.segmentsSkipped.WithLabelValues(name, url),
		pending:         m.pending.WithLabelValues(name, url), highestSent: m.highestSent.WithLabelValues(name, url),
		segment: m.segment.WithLabelValues(name, url), series: m.series.WithLabelValues(name, url),
		batchDuration: m.batchDuration.WithLabelValues(name, url),
	}
}

func dirSize(dir string) int64 {
	var n int64
	_ = filepath.WalkDir(dir, func(_ string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n
}

// trackingRegisterer remembers what it registered so Close can unregister
// it: Prometheus's agent storage leaves some of its collectors (the WAL's,
// the directory lock's) registered after Close, which would make a second
// Open on the same registry panic.
type trackingRegisterer struct {
	reg prometheus.Registerer
	mu  sync.Mutex
	cs  []prometheus.Collector
}

func (t *trackingRegisterer) Register(c prometheus.Collector) error {
	if err := t.reg.Register(c); err != nil {
		return err
	}
	t.mu.Lock()
	t.cs = append(t.cs, c)
	t.mu.Unlock()
	return nil
}

func (t *trackingRegisterer) MustRegister(cs ...prometheus.Collector) {
	for _, c := range cs {
		if err := t.Register(c); err != nil {
			panic(err)
		}
	}
}

func (t *trackingRegisterer) Unregister(c prometheus.Collector) bool {
	return t.reg.Unregister(c)
}

func (t *trackingRegisterer) unregisterAll() {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, c := range t.cs {
		t.reg.Unregister(c)
	}
	t.cs = nil
}
