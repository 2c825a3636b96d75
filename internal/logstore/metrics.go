package logstore

import (
	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the store's self-metrics, all prefixed kinsight_logstore_.
type metrics struct {
	reg           prometheus.Registerer
	collectors    []prometheus.Collector
	walFsync      prometheus.Histogram
	walBytes      prometheus.Counter
	writeErrors   *prometheus.CounterVec
	flushErrors   prometheus.Counter
	flushDuration prometheus.Histogram
	mergeDuration prometheus.Histogram
	partsWritten  *prometheus.CounterVec
	droppedEvents *prometheus.CounterVec
	blocksRead    *prometheus.CounterVec
	cacheHits     prometheus.Counter
	cacheMisses   prometheus.Counter
}

func newMetrics(reg prometheus.Registerer, s *Store) *metrics {
	m := &metrics{reg: reg}
	m.walFsync = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "kinsight_logstore_wal_write_seconds", Help: "Time to write and fsync one group commit to the WAL.",
		Buckets: prometheus.ExponentialBuckets(0.0001, 2, 16),
	})
	m.walBytes = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "kinsight_logstore_wal_bytes_total", Help: "Bytes written to the WAL.",
	})
	m.writeErrors = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "kinsight_logstore_write_errors_total", Help: "Appends refused, by reason (disk_full, wal, backlog).",
	}, []string{"reason"})
	m.flushErrors = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "kinsight_logstore_flush_errors_total", Help: "Failed attempts to write the head to parts (retried).",
	})
	m.flushDuration = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "kinsight_logstore_flush_seconds", Help: "Time to write a frozen head to parts.",
		Buckets: prometheus.ExponentialBuckets(0.01, 2, 12),
	})
	m.mergeDuration = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "kinsight_logstore_merge_seconds", Help: "Time to merge parts.",
		Buckets: prometheus.ExponentialBuckets(0.01, 2, 14),
	})
	m.partsWritten = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "kinsight_logstore_parts_written_total", Help: "Parts written, by reason (flush, merge).",
	}, []string{"reason"})
	m.droppedEvents = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "kinsight_logstore_dropped_events_total", Help: "Stored events deleted, by reason (retention, deleted).",
	}, []string{"reason"})
	m.blocksRead = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "kinsight_logstore_blocks_total", Help: "Blocks considered by reads, by outcome (read, skipped_bloom, skipped_time).",
	}, []string{"outcome"})
	m.cacheHits = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "kinsight_logstore_block_cache_hits_total", Help: "Decoded block cache hits.",
	})
	m.cacheMisses = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "kinsight_logstore_block_cache_misses_total", Help: "Decoded block cache misses.",
	})
	gauges := []prometheus.Collector{
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "kinsight_logstore_head_bytes", Help: "Bytes held by the in-memory heads (active and frozen).",
		}, func() float64 { a, f := s.headBytes(); return float64(a + f) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "kinsight_logstore_parts", Help: "Parts on disk.",
		}, func() float64 { n, _ := s.partStats(); return float64(n) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "kinsight_logstore_parts_bytes", Help: "Bytes of parts on disk.",
		}, func() float64 { _, b := s.partStats(); return float64(b) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "kinsight_logstore_block_cache_bytes", Help: "Bytes of decoded blocks cached.",
		}, func() float64 { return float64(s.cache.bytes()) }),
	}
	m.collectors = append([]prometheus.Collector{
		m.walFsync, m.walBytes, m.writeErrors, m.flushErrors, m.flushDuration, m.mergeDuration,
		m.partsWritten, m.droppedEvents, m.blocksRead, m.cacheHits, m.cacheMisses,
	}, gauges...)
	for _, c := range m.collectors {
		// A second store in one process (tests) keeps its metrics private.
		_ = reg.Register(c)
	}
	return m
}

func (m *metrics) unregister() {
	for _, c := range m.collectors {
		m.reg.Unregister(c)
	}
}

func (s *Store) headBytes() (active, frozen int64) {
	s.stateMu.RLock()
	defer s.stateMu.RUnlock()
	a := s.active
	f := s.frozen
	if a != nil {
		a.mu.RLock()
		active = a.bytes
		a.mu.RUnlock()
	}
	if f != nil {
		f.mu.RLock()
		frozen = f.bytes
		f.mu.RUnlock()
	}
	return active, frozen
}

func (s *Store) partStats() (n int, bytes int64) {
	s.stateMu.RLock()
	defer s.stateMu.RUnlock()
	for _, ps := range s.partitions {
		for _, p := range ps {
			n++
			bytes += p.size
		}
	}
	return n, bytes
}
