package cloudwatch

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// Drop reasons in kinsight_agent_output_dropped_events_total.
const (
	reasonTooOld   = "too_old"
	reasonTooNew   = "too_new"
	reasonExpired  = "expired"
	reasonInvalid  = "invalid" // empty message or negative timestamp
	resultOK       = "ok"
	resultRetry    = "retryable_error"
	resultFatal    = "error"
	resultNotFound = "not_found"
)

type metrics struct {
	requests     *prometheus.CounterVec
	events       prometheus.Counter
	bytes        prometheus.Counter
	requestBytes prometheus.Counter
	retries      prometheus.Counter
	batchSeconds prometheus.Histogram
	dropped      *prometheus.CounterVec
	truncated    prometheus.Counter
	created      *prometheus.CounterVec
	duplicates   prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kinsight_agent_output_requests_total",
			Help: "CloudWatch Logs API requests by operation and result (ok, retryable_error, error, not_found).",
		}, []string{"operation", "result"}),
		events: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "kinsight_agent_output_events_total",
			Help: "Log events acknowledged by the destination (including those it then rejected by timestamp).",
		}),
		bytes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "kinsight_agent_output_bytes_total",
			Help: "Message bytes of the log events acknowledged by the destination.",
		}),
		requestBytes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "kinsight_agent_output_request_bytes_total",
			Help: "Request body bytes sent, after compression, retries included.",
		}),
		retries: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "kinsight_agent_output_retries_total",
			Help: "Requests retried after a retryable error.",
		}),
		batchSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "kinsight_agent_output_batch_duration_seconds",
			Help:    "Time to get one batch acknowledged, retries included.",
			Buckets: prometheus.ExponentialBuckets(0.005, 2, 14),
		}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kinsight_agent_output_dropped_events_total",
			Help: "Log events that will never be stored, by reason (too_old, too_new, expired: refused by the destination; invalid: empty message or negative timestamp).",
		}, []string{"reason"}),
		truncated: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "kinsight_agent_output_truncated_events_total",
			Help: "Log events whose message was cut to the 1,048,550-byte limit.",
		}),
		created: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kinsight_agent_output_resources_created_total",
			Help: "Log groups and streams created by the output, by kind.",
		}, []string{"kind"}),
		duplicates: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "kinsight_agent_output_duplicate_events_total",
			Help: "Log events a kinsight server acknowledged but skipped as already stored (sent again after a restart), from its X-Kinsight-Duplicates answer.",
		}),
	}
	for _, r := range []string{reasonTooOld, reasonTooNew, reasonExpired, reasonInvalid} {
		m.dropped.WithLabelValues(r)
	}
	if reg == nil {
		return m, nil
	}
	var errs []error
	for _, c := range []prometheus.Collector{m.requests, m.events, m.bytes, m.requestBytes, m.retries,
		m.batchSeconds, m.dropped, m.truncated, m.created, m.duplicates} {
		if err := reg.Register(c); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("register metrics: %w", err)
	}
	return m, nil
}
