package metricstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/klauspost/compress/snappy"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/prompb"
	"github.com/prometheus/prometheus/storage"
)

// maxAheadTime is how far in the future a sample may be, as Prometheus's
// remote write receiver allows: later ones are refused as out of bounds.
const maxAheadTime = 10 * time.Minute

// Reasons a sample is refused; they label kinsight_metrics_rejected_samples_total.
const (
	reasonInvalidLabels = "invalid_labels"
	reasonOutOfOrder    = "out_of_order"
	reasonDuplicate     = "duplicate"
	reasonTooOld        = "too_old"
	reasonOutOfBounds   = "out_of_bounds"
	reasonOther         = "other"
)

// ClientError is a problem with what a client sent (HTTP 400): the request
// was understood and its good part kept, but some of it was refused.
type ClientError struct{ msg string }

func (e *ClientError) Error() string { return e.msg }

func clientErrorf(format string, a ...any) *ClientError {
	return &ClientError{msg: fmt.Sprintf(format, a...)}
}

// DecodeWriteRequest undoes snappy's block format and unmarshals a remote
// write 1.0 WriteRequest, refusing bodies that decode to more than
// maxDecoded bytes before allocating for them. Every error is a
// *ClientError.
func DecodeWriteRequest(body []byte, maxDecoded int64) (*prompb.WriteRequest, error) {
	n, err := snappy.DecodedLen(body)
	if err != nil {
		return nil, clientErrorf("snappy decode error: %v", err)
	}
	// Snappy expands at most about 21 times (a 3-byte copy element makes 64
	// bytes): a header claiming more is corrupt, not merely too large.
	if int64(n) > int64(len(body))*64+64 {
		return nil, clientErrorf("snappy decode error: corrupt input: header claims %d bytes from %d", n, len(body))
	}
	if int64(n) > maxDecoded {
		return nil, clientErrorf("decoded body of %d bytes exceeds the limit of %d bytes", n, maxDecoded)
	}
	raw, err := snappy.Decode(nil, body)
	if err != nil {
		return nil, clientErrorf("snappy decode error: %v", err)
	}
	var req prompb.WriteRequest
	if err := req.Unmarshal(raw); err != nil {
		return nil, clientErrorf("protobuf unmarshal error: %v", err)
	}
	return &req, nil
}

// WriteStats says what one write kept and refused.
type WriteStats struct {
	Series, Samples, Histograms int
	Rejected                    map[string]int
}

// rejection collects the refused samples of one request and remembers the
// first of each reason for the error message.
type rejection struct {
	counts map[string]int
	first  []string
}

func (r *rejection) add(reason string, n int, msg func() string) {
	if r.counts == nil {
		r.counts = map[string]int{}
	}
	if r.counts[reason] == 0 && len(r.first) < 4 {
		r.first = append(r.first, msg())
	}
	r.counts[reason] += n
}

func (r *rejection) err() error {
	if len(r.counts) == 0 {
		return nil
	}
	total := 0
	for _, n := range r.counts {
		total += n
	}
	return clientErrorf("%s (%d samples rejected in this request; the others were written)", strings.Join(r.first, "; "), total)
}

// Write appends a remote write request in one transaction. As Prometheus's
// receiver does, a series with invalid labels and a sample the TSDB refuses
// (out of order, duplicate timestamp with another value, too old, too far
// in the future) are left out and reported in a *ClientError, while the
// rest of the request is committed. Any other append or commit failure
// rolls the whole request back and is returned as is (a server error, so
// the sender retries).
func (s *Store) Write(ctx context.Context, req *prompb.WriteRequest) (WriteStats, error) {
	var st WriteStats
	var rej rejection
	app := s.db.Appender(ctx)
	maxT := s.opts.Now().Add(maxAheadTime).UnixMilli()
	b := labels.NewScratchBuilder(16)
	for i := range req.Timeseries {
		ts := &req.Timeseries[i]
		ls, lerr := seriesLabels(&b, ts.Labels)
		if lerr != nil {
			n := len(ts.Samples) + len(ts.Histograms)
			rej.add(reasonInvalidLabels, n, func() string { return lerr.Error() })
			continue
		}
		st.Series++
		var ref storage.SeriesRef
		for _, smp := range ts.Samples {
			var err error
			if smp.Timestamp > maxT {
				err = storage.ErrOutOfBounds
			} else {
				var r storage.SeriesRef
				r, err = app.Append(ref, ls, smp.Timestamp, smp.Value)
				if err == nil {
					ref = r
					st.Samples++
					continue
				}
			}
			if fatal := rej.sampleErr(err, ls, smp.Timestamp); fatal != nil {
				app.Rollback()
				return WriteStats{}, fatal
			}
		}
		for _, h := range ts.Histograms {
			var err error
			if h.Timestamp > maxT {
				err = storage.ErrOutOfBounds
			} else if h.IsFloatHistogram() {
				_, err = app.AppendHistogram(0, ls, h.Timestamp, nil, h.ToFloatHistogram())
			} else {
				_, err = app.AppendHistogram(0, ls, h.Timestamp, h.ToIntHistogram(), nil)
			}
			if err == nil {
				st.Histograms++
				continue
			}
			if fatal := rej.sampleErr(err, ls, h.Timestamp); fatal != nil {
				app.Rollback()
				return WriteStats{}, fatal
			}
		}
	}
	if err := app.Commit(); err != nil {
		return WriteStats{}, fmt.Errorf("commit: %w", err)
	}
	for _, md := range req.Metadata {
		s.meta.put(md.MetricFamilyName, Metadata{
			Type: strings.ToLower(md.Type.String()), Help: md.Help, Unit: md.Unit,
		})
	}
	st.Rejected = rej.counts
	s.m.observeWrite(st)
	return st, rej.err()
}

// sampleErr records a sample the TSDB refused for a client's reason and
// returns nil, or returns err itself when it is not the client's fault.
func (r *rejection) sampleErr(err error, ls labels.Labels, t int64) error {
	var reason string
	switch {
	case errors.Is(err, storage.ErrOutOfOrderSample):
		reason = reasonOutOfOrder
	case errors.Is(err, storage.ErrDuplicateSampleForTimestamp):
		reason = reasonDuplicate
	case errors.Is(err, storage.ErrTooOldSample):
		reason = reasonTooOld
	case errors.Is(err, storage.ErrOutOfBounds):
		reason = reasonOutOfBounds
	case errors.Is(err, storage.ErrNativeHistogramsDisabled), isHistogramValidation(err):
		reason = reasonOther
	default:
		return err
	}
	r.add(reason, 1, func() string {
		return fmt.Sprintf("%v for series %s at timestamp %d", err, ls.String(), t)
	})
	return nil
}

// isHistogramValidation reports the TSDB's refusals of malformed native
// histograms, which are the client's fault.
func isHistogramValidation(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "histogram")
}

// seriesLabels builds a series' label set the way Prometheus's receiver
// accepts it: labels with empty values are dropped (empty means absent),
// names follow the classic Prometheus rules ([a-zA-Z_][a-zA-Z0-9_]*, as
// model.LabelName validation with the legacy scheme; __name__ also allows
// ':'), values are UTF-8, the set is sorted if the sender did not sort it,
// must not name a label twice and must have a metric name.
func seriesLabels(b *labels.ScratchBuilder, in []prompb.Label) (labels.Labels, error) {
	b.Reset()
	for _, l := range in {
		if l.Value == "" {
			continue
		}
		if l.Name == model.MetricNameLabel {
			if !model.LegacyValidation.IsValidMetricName(l.Value) {
				return labels.EmptyLabels(), fmt.Errorf("invalid metric name %q", truncate(l.Value, 128))
			}
		} else if !model.LegacyValidation.IsValidLabelName(l.Name) {
			return labels.EmptyLabels(), fmt.Errorf("invalid label name %q", truncate(l.Name, 128))
		}
		if !utf8.ValidString(l.Value) {
			return labels.EmptyLabels(), fmt.Errorf("invalid UTF-8 in the value of label %q", l.Name)
		}
		b.Add(l.Name, l.Value)
	}
	b.Sort()
	ls := b.Labels()
	if ls.Get(model.MetricNameLabel) == "" {
		return labels.EmptyLabels(), fmt.Errorf("series %s has no metric name (__name__)", truncate(ls.String(), 256))
	}
	if name, dup := ls.HasDuplicateLabelNames(); dup {
		return labels.EmptyLabels(), fmt.Errorf("duplicate label name %q in series %s", name, truncate(ls.String(), 256))
	}
	return ls, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

func utf8Valid(s string) bool { return utf8.ValidString(s) }
