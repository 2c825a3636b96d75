package pipeline

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the pipeline's own; the tailer, buffer and output export
// theirs (lines read, lag, rotations; buffer bytes and drops; events sent).
type metrics struct {
	records    *prometheus.CounterVec
	excluded   prometheus.Counter
	podUnknown prometheus.Counter
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
	}
	for _, c := range []prometheus.Collector{m.records, m.excluded, m.podUnknown} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register metrics: %w", err)
		}
	}
	for _, s := range []string{"container", "host", "journal"} {
		m.records.WithLabelValues(s)
	}
	return m, nil
}
