package pipeline

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the pipeline's own; the tailer, buffer and output export
// theirs (lines read, lag, rotations; buffer bytes and drops; events sent).
type metrics struct {
	records *prometheus.CounterVec
	// records' children, resolved once: WithLabelValues for every batch
	// of lines was 3% of the catch-up.
	containerRecords, hostRecords, journalRecords prometheus.Counter
	excluded                                      prometheus.Counter
	podUnknown                                    prometheus.Counter
	dropped                                       *prometheus.CounterVec
	invalidLines                                  prometheus.Counter
	invalidUTF8                                   prometheus.Counter
	splitRecords                                  prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		records: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kinsight_agent_records_total",
			Help: "Records read and routed, by source (container, host, journal).",
		}, []string{"source"}),
		excluded: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "kinsight_agent_records_excluded_total",
			Help: "Container records not shipped because a filter or a kinsight.io/exclude annotation excludes them.",
		}),
		podUnknown: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "kinsight_agent_pod_metadata_missing_total",
			Help: "Container log files shipped with only their file name's metadata: the pod was still unknown after the wait.",
		}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kinsight_agent_dropped_events_total",
			Help: "Events read but never to be delivered, dropped by the buffer, by its reason (disk_full: the disk budget was spent and the oldest data dropped; memory_full: no disk buffer and memory full). The output counts events the destination refused in kinsight_agent_output_dropped_events_total.",
		}, []string{"reason"}),
		invalidLines: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "kinsight_agent_parser_invalid_lines_total",
			Help: "Container log lines in no known format (CRI, Docker json-file), shipped as they are.",
		}),
		invalidUTF8: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "kinsight_agent_parser_invalid_utf8_total",
			Help: "Records whose invalid UTF-8 was replaced by U+FFFD.",
		}),
		splitRecords: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "kinsight_agent_parser_split_records_total",
			Help: "Records cut at the maximum record size or the multi-line caps (shipped in pieces).",
		}),
	}
	m.dropped.WithLabelValues("disk_full")
	for _, c := range []prometheus.Collector{m.records, m.excluded, m.podUnknown, m.dropped, m.invalidLines, m.invalidUTF8, m.splitRecords} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register metrics: %w", err)
		}
	}
	m.containerRecords = m.records.WithLabelValues("container")
	m.hostRecords = m.records.WithLabelValues("host")
	m.journalRecords = m.records.WithLabelValues("journal")
	return m, nil
}
