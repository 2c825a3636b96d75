package cwlogs

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// Reasons for kinsight_logs_rejected_events_total: the store's per-event
// rejections (as in rejectedLogEventsInfo) and whole batches refused by
// validation, counted by their events.
const (
	rejectTooNew        = "too_new"
	rejectTooOld        = "too_old"
	rejectExpired       = "expired"
	rejectInvalid       = "invalid"         // a batch failed validation
	rejectUnordered     = "unordered"       // not in chronological order
	rejectBatchTooLarge = "batch_too_large" // over 1,048,576 bytes or 10,000 events
	rejectEventTooLarge = "event_too_large"
	rejectSpanTooLong   = "span_too_long" // more than 24 hours
	rejectUnavailable   = "unavailable"   // the store could not make it durable
	rejectNotFound      = "not_found"     // group or stream missing
)

// metrics are the handler's self-metrics. The code label is "OK" or the AWS
// error type, a small fixed set.
type metrics struct {
	requests       *prometheus.CounterVec
	duration       *prometheus.HistogramVec
	ingestedEvents prometheus.Counter
	ingestedBytes  prometheus.Counter
	duplicates     prometheus.Counter
	rejectedEvents *prometheus.CounterVec
	tailSessions   prometheus.Gauge
	throttled      prometheus.Counter
}

// newMetrics creates the metrics and registers them on reg (if not nil).
// A second handler on the same registry shares the first one's collectors,
// so tests and restarts within one process do not fail registration.
func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	var errs []error
	m := &metrics{
		requests: register(reg, &errs, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kinsight_logs_api_requests_total",
			Help: "CloudWatch Logs API requests by operation and result (OK or the AWS error type).",
		}, []string{"operation", "code"})),
		duration: register(reg, &errs, prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "kinsight_logs_api_request_duration_seconds",
			Help:    "CloudWatch Logs API request latency by operation (the tail endpoint counts time to first byte).",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"operation"})),
		ingestedEvents: register(reg, &errs, prometheus.NewCounter(prometheus.CounterOpts{
			Name: "kinsight_logs_ingested_events_total",
			Help: "Log events stored by PutLogEvents.",
		})),
		ingestedBytes: register(reg, &errs, prometheus.NewCounter(prometheus.CounterOpts{
			Name: "kinsight_logs_ingested_bytes_total",
			Help: "Message bytes of the log events stored by PutLogEvents.",
		})),
		duplicates: register(reg, &errs, prometheus.NewCounter(prometheus.CounterOpts{
			Name: "kinsight_logs_duplicate_events_total",
			Help: "Log events of PutLogEvents requests skipped as already stored, by their X-Kinsight-Positions (answered as accepted).",
		})),
		rejectedEvents: register(reg, &errs, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kinsight_logs_rejected_events_total",
			Help: "Log events of PutLogEvents requests not stored, by reason.",
		}, []string{"reason"})),
		tailSessions: register(reg, &errs, prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "kinsight_logs_tail_sessions",
			Help: "Open follow (tail -f) sessions.",
		})),
		throttled: register(reg, &errs, prometheus.NewCounter(prometheus.CounterOpts{
			Name: "kinsight_logs_api_throttled_total",
			Help: "Requests refused with ThrottlingException because the in-flight byte budget stayed full.",
		})),
	}
	return m, errors.Join(errs...)
}

// register registers c, or returns the collector already registered under
// its name. Other errors are collected and c is used unregistered.
func register[C prometheus.Collector](reg prometheus.Registerer, errs *[]error, c C) C {
	if reg == nil {
		return c
	}
	err := reg.Register(c)
	if err == nil {
		return c
	}
	var are prometheus.AlreadyRegisteredError
	if errors.As(err, &are) {
		if existing, ok := are.ExistingCollector.(C); ok {
			return existing
		}
	}
	*errs = append(*errs, err)
	return c
}
