package agentmetrics

import (
	"context"

	"github.com/prometheus/prometheus/model/exemplar"
	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/metadata"
	"github.com/prometheus/prometheus/storage"

	"github.com/kinsight/kinsight/internal/metricstore/agentwal"
)

// Appendable is a storage.Appendable over an agentwal.Store, for the
// scraper. Float samples (and staleness markers, which are float NaNs)
// are appended; exemplars, native histograms, metadata and created-
// timestamp zero samples are dropped, as agentwal ships float samples
// only.
type Appendable struct{ Store *agentwal.Store }

var _ storage.Appendable = Appendable{}

// Appender returns one transaction.
func (a Appendable) Appender(ctx context.Context) storage.Appender {
	return &appender{app: a.Store.Appender(ctx)}
}

type appender struct {
	app agentwal.Appender
	ls  []agentwal.Label
}

// Append adds a float sample. The returned reference is always 0: the
// WAL's appender does not expose its references, so the scrape loop keys
// its cache by labels instead.
func (a *appender) Append(_ storage.SeriesRef, l labels.Labels, t int64, v float64) (storage.SeriesRef, error) {
	a.ls = a.ls[:0]
	l.Range(func(lb labels.Label) { a.ls = append(a.ls, agentwal.Label{Name: lb.Name, Value: lb.Value}) })
	return 0, a.app.Append(a.ls, t, v)
}

func (a *appender) Commit() error                     { return a.app.Commit() }
func (a *appender) Rollback() error                   { return a.app.Rollback() }
func (a *appender) SetOptions(*storage.AppendOptions) {}

func (a *appender) AppendExemplar(storage.SeriesRef, labels.Labels, exemplar.Exemplar) (storage.SeriesRef, error) {
	return 0, nil
}

func (a *appender) AppendHistogram(storage.SeriesRef, labels.Labels, int64, *histogram.Histogram, *histogram.FloatHistogram) (storage.SeriesRef, error) {
	return 0, nil
}

func (a *appender) AppendHistogramSTZeroSample(storage.SeriesRef, labels.Labels, int64, int64, *histogram.Histogram, *histogram.FloatHistogram) (storage.SeriesRef, error) {
	return 0, nil
}

func (a *appender) UpdateMetadata(storage.SeriesRef, labels.Labels, metadata.Metadata) (storage.SeriesRef, error) {
	return 0, nil
}

func (a *appender) AppendSTZeroSample(storage.SeriesRef, labels.Labels, int64, int64) (storage.SeriesRef, error) {
	return 0, nil
}
