package metricstore

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/value"
)

// A push group is what the Pushgateway keeps per grouping key: the metric
// families last pushed there and the times of the last successful and
// failed pushes. Groups are kept until deleted, in a JSON file rewritten
// (atomically, fsync'd) on every change, and written into the TSDB every
// PushInterval and right after each change, with the grouping labels
// overriding the pushed ones — what Prometheus stores when it scrapes a
// Pushgateway with honor_labels: true.
type pushGroup struct {
	Labels      map[string]string `json:"labels"`
	PushTime    int64             `json:"push_time_ms"`
	FailureTime int64             `json:"push_failure_time_ms"`
	// Text is the group's families in the text exposition format; parsed
	// into families on load.
	Text     string                       `json:"text"`
	families map[string]*dto.MetricFamily `json:"-"`
}

type pushFile struct {
	Groups []*pushGroup `json:"groups"`
}

// pushStore holds the groups. mu also serializes writing them into the
// TSDB, so the staleness bookkeeping (last) stays consistent.
type pushStore struct {
	path   string
	mu     sync.Mutex
	groups map[string]*pushGroup
	// last holds the series written at the previous appendPushed, so the
	// series that disappear get a staleness marker at once instead of
	// lingering for the lookback delta.
	last map[string]labels.Labels
	// lastT is the timestamp of the last write, in milliseconds.
	lastT int64
}

func openPushStore(path string) (*pushStore, error) {
	p := &pushStore{path: path, groups: map[string]*pushGroup{}, last: map[string]labels.Labels{}}
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return p, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read push groups: %w", err)
	}
	var f pushFile
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("parse push groups %s: %w", path, err)
	}
	for _, g := range f.Groups {
		tp := expfmt.NewTextParser(model.UTF8Validation)
		fams, err := tp.TextToMetricFamilies(strings.NewReader(g.Text))
		if err != nil {
			return nil, fmt.Errorf("parse push group %v in %s: %w", g.Labels, path, err)
		}
		g.families = fams
		p.groups[groupKey(g.Labels)] = g
	}
	return p, nil
}

func (p *pushStore) saveLocked() error {
	f := pushFile{Groups: make([]*pushGroup, 0, len(p.groups))}
	keys := make([]string, 0, len(p.groups))
	for k := range p.groups {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		g := p.groups[k]
		var buf bytes.Buffer
		for _, name := range sortedNames(g.families) {
			if _, err := expfmt.MetricFamilyToText(&buf, g.families[name]); err != nil {
				return fmt.Errorf("encode push group: %w", err)
			}
		}
		g.Text = buf.String()
		f.Groups = append(f.Groups, g)
	}
	b, err := json.Marshal(f)
	if err != nil {
		return fmt.Errorf("encode push groups: %w", err)
	}
	return writeFileAtomic(p.path, b)
}

func sortedNames(m map[string]*dto.MetricFamily) []string {
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// groupKey is a canonical string for a grouping key.
func groupKey(ls map[string]string) string {
	return labels.FromMap(ls).String()
}

// ParseGroupingKey parses the part of a push URL after /metrics/ —
// "job/<job>{/<label>/<value>}" — as the Pushgateway does: a label name
// with the suffix "@base64" has its value in URL-safe base64 (padding
// optional; "=" alone for an empty value), which is how values containing
// "/" are pushed. Every error is a *ClientError.
func ParseGroupingKey(path string) (map[string]string, error) {
	segs := strings.Split(strings.TrimSuffix(path, "/"), "/")
	if len(segs) < 2 || (segs[0] != "job" && segs[0] != "job@base64") {
		return nil, clientErrorf("push path must be /metrics/job/<job>{/<label>/<value>}")
	}
	if len(segs)%2 != 0 {
		return nil, clientErrorf("odd number of path segments after /metrics/: labels and values must come in pairs")
	}
	out := map[string]string{}
	for i := 0; i < len(segs); i += 2 {
		name, val := segs[i], segs[i+1]
		if n, ok := strings.CutSuffix(name, "@base64"); ok {
			name = n
			v, err := decodeBase64(val)
			if err != nil {
				return nil, clientErrorf("invalid base64 encoding in the value of label %q: %v", name, err)
			}
			val = v
		}
		if !model.LegacyValidation.IsValidLabelName(name) || strings.HasPrefix(name, "__") {
			return nil, clientErrorf("improper label name %q", truncate(name, 128))
		}
		if _, dup := out[name]; dup {
			return nil, clientErrorf("label %q appears twice in the grouping key", name)
		}
		if !utf8Valid(val) {
			return nil, clientErrorf("invalid UTF-8 in the value of label %q", name)
		}
		out[name] = val
	}
	if out["job"] == "" {
		return nil, clientErrorf("job name is required")
	}
	return out, nil
}

func decodeBase64(s string) (string, error) {
	if s == "=" {
		return "", nil
	}
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
	if err != nil {
		return "", err
	}
	return string(b), nil
}

// ParsePushBody parses a push body: the text exposition format, or the
// delimited protobuf format when contentType says so. It refuses what the
// Pushgateway refuses: samples with timestamps, and invalid names. Every
// error is a *ClientError.
func ParsePushBody(contentType string, body []byte) (map[string]*dto.MetricFamily, error) {
	var fams map[string]*dto.MetricFamily
	if strings.Contains(contentType, "application/vnd.google.protobuf") && strings.Contains(contentType, "delimited") {
		fams = map[string]*dto.MetricFamily{}
		dec := expfmt.NewDecoder(bytes.NewReader(body), expfmt.NewFormat(expfmt.TypeProtoDelim))
		for {
			mf := &dto.MetricFamily{}
			if err := dec.Decode(mf); err != nil {
				if errors.Is(err, io.EOF) {
					break
				}
				return nil, clientErrorf("failed to parse protobuf: %v", err)
			}
			if _, dup := fams[mf.GetName()]; dup {
				return nil, clientErrorf("metric family %q pushed twice", mf.GetName())
			}
			fams[mf.GetName()] = mf
		}
	} else {
		tp := expfmt.NewTextParser(model.LegacyValidation)
		var err error
		if fams, err = tp.TextToMetricFamilies(bytes.NewReader(body)); err != nil {
			return nil, clientErrorf("failed to parse text: %v", err)
		}
	}
	for name, mf := range fams {
		if !model.LegacyValidation.IsValidMetricName(name) {
			return nil, clientErrorf("invalid metric name %q", truncate(name, 128))
		}
		if name == "push_time_seconds" || name == "push_failure_time_seconds" {
			return nil, clientErrorf("metric %q is set by the server and cannot be pushed", name)
		}
		seen := make(map[string]struct{}, len(mf.Metric))
		for _, m := range mf.Metric {
			if m.TimestampMs != nil {
				return nil, clientErrorf("pushed metrics must not have timestamps (metric %q)", name)
			}
			// The same series twice is refused, as the Pushgateway's
			// consistency check refuses it ("was collected before with the
			// same name and label values").
			lb := labels.NewBuilder(labels.EmptyLabels())
			for _, lp := range m.Label {
				lb.Set(lp.GetName(), lp.GetValue())
			}
			key := lb.Labels().String()
			if _, dup := seen[key]; dup {
				return nil, clientErrorf("metric %s%s was pushed twice with the same labels", name, key)
			}
			seen[key] = struct{}{}
			for _, lp := range m.Label {
				if !model.LegacyValidation.IsValidLabelName(lp.GetName()) {
					return nil, clientErrorf("invalid label name %q in metric %q", truncate(lp.GetName(), 128), name)
				}
			}
		}
	}
	return fams, nil
}

// Push stores a push to the group with the given grouping key: replace
// true (PUT) replaces the whole group, false (POST) only the families
// pushed. A push whose families have a type different from the same name
// in another group is refused (as the Pushgateway refuses inconsistent
// pushes) and recorded as the group's push_failure_time_seconds.
func (s *Store) Push(ctx context.Context, key map[string]string, fams map[string]*dto.MetricFamily, replace bool) error {
	p := s.push
	p.mu.Lock()
	defer p.mu.Unlock()
	now := s.opts.Now().UnixMilli()
	k := groupKey(key)
	g := p.groups[k]
	for name, mf := range fams {
		for ok, og := range p.groups {
			if ok == k {
				continue
			}
			if other, found := og.families[name]; found && other.GetType() != mf.GetType() {
				return clientErrorf("pushed metrics are inconsistent with existing metrics: %q is a %s in group %s but a %s here",
					name, other.GetType(), groupKey(og.Labels), mf.GetType())
			}
		}
	}
	if g == nil {
		g = &pushGroup{Labels: key, families: map[string]*dto.MetricFamily{}}
		p.groups[k] = g
	}
	if replace {
		g.families = map[string]*dto.MetricFamily{}
	}
	for name, mf := range fams {
		g.families[name] = mf
		s.meta.put(name, Metadata{Type: strings.ToLower(mf.GetType().String()), Help: mf.GetHelp()})
	}
	g.PushTime = now
	if err := p.saveLocked(); err != nil {
		return err
	}
	return s.appendPushedLocked(ctx)
}

// DeletePush removes a group; its series get staleness markers at once.
// Deleting a group that does not exist is not an error (as the Pushgateway).
func (s *Store) DeletePush(ctx context.Context, key map[string]string) error {
	p := s.push
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.groups, groupKey(key))
	if err := p.saveLocked(); err != nil {
		return err
	}
	return s.appendPushedLocked(ctx)
}

// PushGroup is a stored group as listed by PushGroups.
type PushGroup struct {
	Labels          map[string]string
	PushTime        time.Time
	PushFailureTime time.Time
	Families        []*dto.MetricFamily
}

// PushGroups lists the stored groups, sorted by grouping key.
func (s *Store) PushGroups() []PushGroup {
	p := s.push
	p.mu.Lock()
	defer p.mu.Unlock()
	keys := make([]string, 0, len(p.groups))
	for k := range p.groups {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	out := make([]PushGroup, 0, len(keys))
	for _, k := range keys {
		g := p.groups[k]
		pg := PushGroup{Labels: g.Labels, PushTime: time.UnixMilli(g.PushTime)}
		if g.FailureTime != 0 {
			pg.PushFailureTime = time.UnixMilli(g.FailureTime)
		}
		for _, n := range sortedNames(g.families) {
			pg.Families = append(pg.Families, g.families[n])
		}
		out = append(out, pg)
	}
	return out
}

func (s *Store) appendPushed(ctx context.Context) error {
	s.push.mu.Lock()
	defer s.push.mu.Unlock()
	return s.appendPushedLocked(ctx)
}

// appendPushedLocked writes every group's samples at the current time, and
// staleness markers for the series written last time that are gone.
func (s *Store) appendPushedLocked(ctx context.Context) error {
	p := s.push
	// Each write of the groups gets a later timestamp than the last, even
	// for two pushes in one millisecond or a clock step back: the same
	// series at the same timestamp with a new value would be refused as a
	// duplicate, and the newest push must win.
	t := max(s.opts.Now().UnixMilli(), p.lastT+1)
	app := s.db.Appender(ctx)
	cur := make(map[string]labels.Labels, len(p.last))
	n := 0
	emit := func(ls labels.Labels, v float64) error {
		key := ls.String()
		if _, dup := cur[key]; dup {
			return nil
		}
		cur[key] = ls
		if _, err := app.Append(0, ls, t, v); err != nil {
			return fmt.Errorf("append %s: %w", key, err)
		}
		n++
		return nil
	}
	var errs []error
	b := labels.NewBuilder(labels.EmptyLabels())
	for _, g := range p.groups {
		for _, mf := range g.families {
			for _, m := range mf.Metric {
				for _, smp := range familySamples(mf, m) {
					b.Reset(labels.EmptyLabels())
					for _, lp := range m.Label {
						if lp.GetValue() != "" {
							b.Set(lp.GetName(), lp.GetValue())
						}
					}
					for _, extra := range smp.extra {
						b.Set(extra.Name, extra.Value)
					}
					for ln, lv := range g.Labels {
						if lv == "" {
							b.Del(ln)
						} else {
							b.Set(ln, lv)
						}
					}
					b.Set(model.MetricNameLabel, smp.name)
					if err := emit(b.Labels(), smp.v); err != nil {
						errs = append(errs, err)
					}
				}
			}
		}
		for _, gauge := range []struct {
			name string
			ms   int64
		}{{"push_time_seconds", g.PushTime}, {"push_failure_time_seconds", g.FailureTime}} {
			b.Reset(labels.FromMap(g.Labels))
			b.Set(model.MetricNameLabel, gauge.name)
			if err := emit(b.Labels(), float64(gauge.ms)/1000); err != nil {
				errs = append(errs, err)
			}
		}
	}
	for key, ls := range p.last {
		if _, ok := cur[key]; !ok {
			if _, err := app.Append(0, ls, t, math.Float64frombits(value.StaleNaN)); err != nil {
				errs = append(errs, fmt.Errorf("append staleness marker for %s: %w", key, err))
			}
		}
	}
	if err := app.Commit(); err != nil {
		return fmt.Errorf("commit pushed samples: %w", err)
	}
	p.last = cur
	p.lastT = t
	s.m.samples.Add(float64(n))
	return errors.Join(errs...)
}

type famSample struct {
	name  string
	extra []labels.Label
	v     float64
}

// familySamples flattens one metric of a family into the samples the text
// format exposes for it (a histogram's _bucket, _sum and _count, …).
func familySamples(mf *dto.MetricFamily, m *dto.Metric) []famSample {
	name := mf.GetName()
	switch mf.GetType() {
	case dto.MetricType_COUNTER:
		return []famSample{{name: name, v: m.GetCounter().GetValue()}}
	case dto.MetricType_GAUGE:
		return []famSample{{name: name, v: m.GetGauge().GetValue()}}
	case dto.MetricType_SUMMARY:
		sm := m.GetSummary()
		out := make([]famSample, 0, len(sm.Quantile)+2)
		for _, q := range sm.Quantile {
			out = append(out, famSample{name: name, v: q.GetValue(),
				extra: []labels.Label{{Name: "quantile", Value: formatFloat(q.GetQuantile())}}})
		}
		return append(out,
			famSample{name: name + "_sum", v: sm.GetSampleSum()},
			famSample{name: name + "_count", v: float64(sm.GetSampleCount())})
	case dto.MetricType_HISTOGRAM, dto.MetricType_GAUGE_HISTOGRAM:
		h := m.GetHistogram()
		out := make([]famSample, 0, len(h.Bucket)+3)
		sawInf := false
		for _, bk := range h.Bucket {
			if math.IsInf(bk.GetUpperBound(), 1) {
				sawInf = true
			}
			out = append(out, famSample{name: name + "_bucket", v: float64(bk.GetCumulativeCount()),
				extra: []labels.Label{{Name: "le", Value: formatFloat(bk.GetUpperBound())}}})
		}
		if !sawInf {
			out = append(out, famSample{name: name + "_bucket", v: float64(h.GetSampleCount()),
				extra: []labels.Label{{Name: "le", Value: "+Inf"}}})
		}
		return append(out,
			famSample{name: name + "_sum", v: h.GetSampleSum()},
			famSample{name: name + "_count", v: float64(h.GetSampleCount())})
	default:
		return []famSample{{name: name, v: m.GetUntyped().GetValue()}}
	}
}

// formatFloat writes le and quantile values as the text format does.
func formatFloat(f float64) string {
	switch {
	case math.IsInf(f, 1):
		return "+Inf"
	case math.IsInf(f, -1):
		return "-Inf"
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}

// pushFailed records a refused push as the group's push_failure_time_seconds,
// as the Pushgateway does, when the group exists.
func (s *Store) pushFailed(key map[string]string) {
	p := s.push
	p.mu.Lock()
	defer p.mu.Unlock()
	if g := p.groups[groupKey(key)]; g != nil {
		g.FailureTime = s.opts.Now().UnixMilli()
		if err := p.saveLocked(); err != nil {
			s.log.Warn("metricstore: saving push groups failed", "err", err)
		}
		if err := s.appendPushedLocked(context.Background()); err != nil {
			s.log.Warn("metricstore: writing pushed groups failed", "err", err)
		}
	}
}
