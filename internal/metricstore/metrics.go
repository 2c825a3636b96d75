package metricstore

import "github.com/prometheus/client_golang/prometheus"

// storeMetrics are kinsight's own counters for the metric store; the TSDB
// and the engine register theirs (prometheus_tsdb_*, prometheus_engine_*).
type storeMetrics struct {
	writeRequests *prometheus.CounterVec
	samples       prometheus.Counter
	histograms    prometheus.Counter
	series        prometheus.Counter
	rejected      *prometheus.CounterVec
	pushes        *prometheus.CounterVec
	queries       *prometheus.CounterVec
}

func newStoreMetrics(reg prometheus.Registerer) *storeMetrics {
	m := &storeMetrics{
		writeRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kinsight_metrics_write_requests_total",
			Help: "Remote write requests by HTTP status code.",
		}, []string{"code"}),
		samples: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "kinsight_metrics_samples_written_total",
			Help: "Float samples written by remote write and the push API.",
		}),
		histograms: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "kinsight_metrics_histograms_written_total",
			Help: "Native histogram samples written by remote write.",
		}),
		series: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "kinsight_metrics_series_received_total",
			Help: "Series (one per time series in a request) accepted by remote write.",
		}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kinsight_metrics_rejected_samples_total",
			Help: "Samples refused, by reason: invalid_labels, out_of_order, duplicate, too_old, out_of_bounds, other.",
		}, []string{"reason"}),
		pushes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kinsight_metrics_push_requests_total",
			Help: "Push API (Pushgateway) requests by method and HTTP status code.",
		}, []string{"method", "code"}),
		queries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kinsight_metrics_api_requests_total",
			Help: "Prometheus HTTP API requests by endpoint and HTTP status code.",
		}, []string{"endpoint", "code"}),
	}
	reg.MustRegister(m.writeRequests, m.samples, m.histograms, m.series, m.rejected, m.pushes, m.queries)
	return m
}

func (m *storeMetrics) observeWrite(st WriteStats) {
	m.samples.Add(float64(st.Samples))
	m.histograms.Add(float64(st.Histograms))
	m.series.Add(float64(st.Series))
	for reason, n := range st.Rejected {
		m.rejected.WithLabelValues(reason).Add(float64(n))
	}
}
