package buffer

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// Drop reasons, the values of the reason label of
// kinsight_agent_buffer_dropped_total.
const (
	// ReasonDiskFull: the oldest segment was dropped to make room.
	ReasonDiskFull = "disk_full"
	// ReasonMemoryFull: a memory-only buffer dropped its oldest item.
	ReasonMemoryFull = "memory_full"
	// ReasonTooLarge: one item is larger than the whole budget.
	ReasonTooLarge = "too_large"
	// ReasonDiskError: the item could not be written to or read from disk.
	ReasonDiskError = "disk_error"
	// ReasonCorrupt: the item's frame failed its checksum when read back.
	ReasonCorrupt = "corrupt"
)

// metrics are the buffer's self-metrics, all prefixed kinsight_agent_buffer_.
type metrics struct {
	reg        prometheus.Registerer
	collectors []prometheus.Collector
	pushed     prometheus.Counter
	acked      prometheus.Counter
	nacked     prometheus.Counter
	dropped    *prometheus.CounterVec
	spilled    prometheus.Counter
	spillBytes prometheus.Counter
	recovered  prometheus.Counter
	truncated  prometheus.Counter
	syncErrors prometheus.Counter

	releasesDiscarded prometheus.Counter
}

func newMetrics(reg prometheus.Registerer, b *Buffer) (*metrics, error) {
	m := &metrics{reg: reg}
	m.pushed = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "kinsight_agent_buffer_pushed_total", Help: "Items pushed into the delivery buffer.",
	})
	m.acked = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "kinsight_agent_buffer_acked_total", Help: "Items acknowledged by the destination and removed.",
	})
	m.nacked = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "kinsight_agent_buffer_nacked_total", Help: "Deliveries handed back for retry.",
	})
	m.dropped = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "kinsight_agent_buffer_dropped_total",
		Help: "Items dropped undelivered, by reason (disk_full, memory_full, too_large, disk_error, corrupt).",
	}, []string{"reason"})
	for _, r := range []string{ReasonDiskFull, ReasonMemoryFull, ReasonTooLarge, ReasonDiskError, ReasonCorrupt} {
		m.dropped.WithLabelValues(r)
	}
	m.spilled = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "kinsight_agent_buffer_spilled_total", Help: "Items written from memory to the disk buffer.",
	})
	m.spillBytes = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "kinsight_agent_buffer_spilled_bytes_total", Help: "Frame bytes written to the disk buffer.",
	})
	m.recovered = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "kinsight_agent_buffer_recovered_total", Help: "Unacknowledged items found on disk at open.",
	})
	m.truncated = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "kinsight_agent_buffer_truncated_bytes_total", Help: "Bytes of torn or corrupt segment tails cut off at open.",
	})
	m.syncErrors = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "kinsight_agent_buffer_sync_errors_total", Help: "Failed fsyncs of segment files.",
	})
	m.releasesDiscarded = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "kinsight_agent_buffer_releases_discarded_total",
		Help: "Releases discarded because nobody collected them (checkpoints lag; no data is lost).",
	})
	gauges := []prometheus.Collector{
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "kinsight_agent_buffer_memory_bytes", Help: "Payload bytes held in memory.",
		}, func() float64 { return float64(b.Stats().MemoryBytes) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "kinsight_agent_buffer_disk_bytes", Help: "Bytes of segment files on disk.",
		}, func() float64 { return float64(b.Stats().DiskBytes) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "kinsight_agent_buffer_items", Help: "Items queued (not yet acknowledged or dropped).",
		}, func() float64 { return float64(b.Stats().Items) }),
	}
	m.collectors = append([]prometheus.Collector{
		m.pushed, m.acked, m.nacked, m.dropped, m.spilled, m.spillBytes, m.recovered, m.truncated, m.syncErrors, m.releasesDiscarded,
	}, gauges...)
	if reg == nil {
		return m, nil
	}
	var errs []error
	for _, c := range m.collectors {
		if err := reg.Register(c); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		m.unregister()
		return nil, fmt.Errorf("register buffer metrics: %w", err)
	}
	return m, nil
}

func (m *metrics) unregister() {
	if m.reg == nil {
		return
	}
	for _, c := range m.collectors {
		m.reg.Unregister(c)
	}
}
