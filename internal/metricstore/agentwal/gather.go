package agentwal

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// AppendGathered gathers g and appends every sample to the WAL in one
// transaction, stamped ts, with extra labels added where a metric does not
// have them (its own win, as with honor_labels). Families are flattened as
// the text exposition format shows them: counters, gauges and untyped as
// they are, summaries as name{quantile}, name_sum and name_count, classic
// histograms as name_bucket{le} (+Inf included), name_sum and name_count.
// Native histogram buckets are not shipped (only their sum and count).
// A gather error still appends what was gathered, and is returned.
func (s *Store) AppendGathered(ctx context.Context, g prometheus.Gatherer, ts time.Time, extra []Label) error {
	mfs, gerr := g.Gather()
	app := s.Appender(ctx)
	t := ts.UnixMilli()
	var ls []Label
	add := func(base []Label, name string, v float64, extraName, extraValue string) error {
		ls = append(ls[:0], Label{"__name__", name})
		ls = append(ls, base...)
		if extraName != "" {
			ls = append(ls, Label{extraName, extraValue})
		}
		for _, e := range extra {
			if !has(ls, e.Name) {
				ls = append(ls, e)
			}
		}
		return app.Append(ls, t, v)
	}
	var base []Label
	for _, mf := range mfs {
		name := mf.GetName()
		for _, m := range mf.GetMetric() {
			base = base[:0]
			for _, lp := range m.GetLabel() {
				base = append(base, Label{lp.GetName(), lp.GetValue()})
			}
			var err error
			switch mf.GetType() {
			case dto.MetricType_COUNTER:
				err = add(base, name, m.GetCounter().GetValue(), "", "")
			case dto.MetricType_GAUGE:
				err = add(base, name, m.GetGauge().GetValue(), "", "")
			case dto.MetricType_UNTYPED:
				err = add(base, name, m.GetUntyped().GetValue(), "", "")
			case dto.MetricType_SUMMARY:
				sm := m.GetSummary()
				for _, q := range sm.GetQuantile() {
					if err = add(base, name, q.GetValue(), "quantile", formatFloat(q.GetQuantile())); err != nil {
						break
					}
				}
				if err == nil {
					err = add(base, name+"_sum", sm.GetSampleSum(), "", "")
				}
				if err == nil {
					err = add(base, name+"_count", float64(sm.GetSampleCount()), "", "")
				}
			case dto.MetricType_HISTOGRAM, dto.MetricType_GAUGE_HISTOGRAM:
				h := m.GetHistogram()
				inf := false
				for _, b := range h.GetBucket() {
					if math.IsInf(b.GetUpperBound(), 1) {
						inf = true
					}
					if err = add(base, name+"_bucket", float64(b.GetCumulativeCount()), "le", formatFloat(b.GetUpperBound())); err != nil {
						break
					}
				}
				if err == nil && !inf {
					err = add(base, name+"_bucket", float64(h.GetSampleCount()), "le", "+Inf")
				}
				if err == nil {
					err = add(base, name+"_sum", h.GetSampleSum(), "", "")
				}
				if err == nil {
					err = add(base, name+"_count", float64(h.GetSampleCount()), "", "")
				}
			}
			if err != nil {
				_ = app.Rollback()
				return fmt.Errorf("append %s: %w", name, err)
			}
		}
	}
	if err := app.Commit(); err != nil {
		return err
	}
	if gerr != nil {
		return fmt.Errorf("gather: %w", gerr)
	}
	return nil
}

func has(ls []Label, name string) bool {
	for _, l := range ls {
		if l.Name == name {
			return true
		}
	}
	return false
}

// formatFloat spells le and quantile values as the text format does.
func formatFloat(f float64) string {
	switch {
	case math.IsInf(f, 1):
		return "+Inf"
	case math.IsInf(f, -1):
		return "-Inf"
	case math.IsNaN(f):
		return "NaN"
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}
