package metricstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	jsoniter "github.com/json-iterator/go"
	"github.com/klauspost/compress/snappy"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/timestamp"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/util/annotations"
	"golang.org/x/sync/semaphore"

	"github.com/kinsight/kinsight/internal/auth"
	"github.com/kinsight/kinsight/internal/config"
)

// PrometheusVersion is the Prometheus release whose TSDB and PromQL engine
// this build embeds (Go module v0.313.5 is Prometheus 3.13.5); buildinfo
// reports it so Grafana enables the features that version has.
const PrometheusVersion = "3.13.5"

// maxFormBytes bounds the body of a form-encoded (POST) API request.
const maxFormBytes = 4 << 20

// HandlerOptions are the HTTP layer's dependencies.
type HandlerOptions struct {
	// Verifier checks SigV4; nil means no access keys are configured and
	// every request is allowed.
	Verifier *auth.Verifier
	// Keys are the access keys (secrets resolved) for basic and bearer auth.
	Keys []config.AccessKey
	// Version is kinsight's, reported as buildinfo's revision.
	Version string
	// MaxInflightBytes bounds the remote write and push bodies handled at
	// once, as received plus decoded, so memory does not grow with the
	// number of senders; a request that finds no room within 5s is answered
	// 503, which senders retry. Default: 64MiB (the server passes its
	// max_inflight_bytes).
	MaxInflightBytes int64
	Logger           *slog.Logger
}

// Handler serves the metric store over HTTP: remote write, the push API and
// the Prometheus query API. Its methods are http.HandlerFuncs that the
// server's routes.go mounts.
type Handler struct {
	s         *Store
	auth      authenticator
	version   string
	log       *slog.Logger
	inflight  *semaphore.Weighted
	maxFlight int64
	wait      time.Duration // inflightWait; tests shorten it
}

// inflightWait is how long a write waits for room in the in-flight budget.
const inflightWait = 5 * time.Second

// NewHandler returns the HTTP layer for s.
func NewHandler(s *Store, opts HandlerOptions) *Handler {
	log := opts.Logger
	if log == nil {
		log = s.log
	}
	if opts.MaxInflightBytes <= 0 {
		opts.MaxInflightBytes = 64 << 20
	}
	return &Handler{s: s, auth: authenticator{verifier: opts.Verifier, keys: opts.Keys}, version: opts.Version, log: log,
		inflight: semaphore.NewWeighted(opts.MaxInflightBytes), maxFlight: opts.MaxInflightBytes, wait: inflightWait}
}

// admit reserves n bytes of the in-flight budget (all of it at most, so a
// request larger than the budget runs alone) and returns their release.
func (h *Handler) admit(ctx context.Context, n int64) (func(), bool) {
	n = min(max(n, 1), h.maxFlight)
	ctx, cancel := context.WithTimeout(ctx, h.wait)
	defer cancel()
	if err := h.inflight.Acquire(ctx, n); err != nil {
		return nil, false
	}
	return func() { h.inflight.Release(n) }, true
}

const msgBusy = "too many bytes of remote write and push requests in flight; retry later"

// readBody reads at most limit bytes; more is a 413.
func readBody(r *http.Request, limit int64) ([]byte, error) {
	if r.Body == nil {
		return nil, nil
	}
	if r.ContentLength > limit {
		return nil, fmt.Errorf("request body of %d bytes exceeds the limit of %d bytes", r.ContentLength, limit)
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if err != nil {
		return nil, fmt.Errorf("read body: %w", err)
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("request body exceeds the limit of %d bytes", limit)
	}
	return b, nil
}

// Write serves POST /api/v1/write (remote write 1.0).
func (h *Handler) Write(w http.ResponseWriter, r *http.Request) {
	code := h.write(w, r)
	h.s.m.writeRequests.WithLabelValues(strconv.Itoa(code)).Inc()
}

func (h *Handler) write(w http.ResponseWriter, r *http.Request) int {
	fail := func(code int, msg string) int {
		http.Error(w, msg, code)
		return code
	}
	n := r.ContentLength
	if n < 0 {
		n = h.s.opts.MaxWriteCompressedBytes
	}
	release, ok := h.admit(r.Context(), n)
	if !ok {
		return fail(http.StatusServiceUnavailable, msgBusy)
	}
	defer release()
	body, err := readBody(r, h.s.opts.MaxWriteCompressedBytes)
	if err != nil {
		return fail(http.StatusRequestEntityTooLarge, err.Error())
	}
	id, err := h.auth.authenticate(r, body)
	if err == nil {
		err = h.auth.authorize(id, auth.ActionWriteMetrics)
	}
	if err != nil {
		return fail(errorStatus(err.(*authError).typ), err.Error())
	}
	if dn, err := snappy.DecodedLen(body); err == nil && int64(dn) <= h.s.opts.MaxWriteBytes {
		// The decoded body and the request built from it are the bulk of
		// the memory: reserve room for them too.
		release2, ok := h.admit(r.Context(), 2*int64(dn))
		if !ok {
			return fail(http.StatusServiceUnavailable, msgBusy)
		}
		defer release2()
	}
	if enc := r.Header.Get("Content-Encoding"); enc != "" && !strings.EqualFold(enc, "snappy") {
		return fail(http.StatusUnsupportedMediaType, fmt.Sprintf("unsupported Content-Encoding %q: remote write bodies are snappy-compressed", enc))
	}
	if ct := r.Header.Get("Content-Type"); strings.Contains(ct, "io.prometheus.write.v2.Request") {
		return fail(http.StatusUnsupportedMediaType, "remote write 2.0 (io.prometheus.write.v2.Request) is not supported; send prometheus.WriteRequest (remote write 1.0)")
	}
	req, err := DecodeWriteRequest(body, h.s.opts.MaxWriteBytes)
	if err != nil {
		if strings.Contains(err.Error(), "exceeds the limit") {
			return fail(http.StatusRequestEntityTooLarge, err.Error())
		}
		return fail(http.StatusBadRequest, err.Error())
	}
	if _, err := h.s.Write(r.Context(), req); err != nil {
		var ce *ClientError
		if errors.As(err, &ce) {
			return fail(http.StatusBadRequest, err.Error())
		}
		h.log.Error("metricstore: remote write failed", "err", err)
		return fail(http.StatusInternalServerError, err.Error())
	}
	w.WriteHeader(http.StatusNoContent)
	return http.StatusNoContent
}

// Push serves PUT, POST and DELETE /metrics/{rest...} (the Pushgateway's
// push API).
func (h *Handler) Push(w http.ResponseWriter, r *http.Request) {
	code := h.push(w, r)
	h.s.m.pushes.WithLabelValues(r.Method, strconv.Itoa(code)).Inc()
}

func (h *Handler) push(w http.ResponseWriter, r *http.Request) int {
	fail := func(code int, msg string) int {
		http.Error(w, msg, code)
		return code
	}
	n := r.ContentLength
	if n < 0 {
		n = h.s.opts.MaxWriteCompressedBytes
	}
	// A parsed push body takes several times its text size.
	release, ok := h.admit(r.Context(), 4*n)
	if !ok {
		return fail(http.StatusServiceUnavailable, msgBusy)
	}
	defer release()
	body, err := readBody(r, h.s.opts.MaxWriteCompressedBytes)
	if err != nil {
		return fail(http.StatusRequestEntityTooLarge, err.Error())
	}
	id, err := h.auth.authenticate(r, body)
	if err == nil {
		err = h.auth.authorize(id, auth.ActionWriteMetrics)
	}
	if err != nil {
		return fail(errorStatus(err.(*authError).typ), err.Error())
	}
	key, err := ParseGroupingKey(strings.TrimPrefix(r.URL.Path, "/metrics/"))
	if err != nil {
		return fail(http.StatusBadRequest, err.Error())
	}
	if r.Method == http.MethodDelete {
		if err := h.s.DeletePush(r.Context(), key); err != nil {
			h.log.Error("metricstore: delete push group failed", "err", err)
			return fail(http.StatusInternalServerError, err.Error())
		}
		w.WriteHeader(http.StatusAccepted)
		return http.StatusAccepted
	}
	fams, err := ParsePushBody(r.Header.Get("Content-Type"), body)
	if err == nil {
		err = h.s.Push(r.Context(), key, fams, r.Method == http.MethodPut)
	}
	if err != nil {
		var ce *ClientError
		if errors.As(err, &ce) {
			h.s.pushFailed(key)
			return fail(http.StatusBadRequest, err.Error())
		}
		h.log.Error("metricstore: push failed", "err", err)
		return fail(http.StatusInternalServerError, err.Error())
	}
	// The Pushgateway answers 200 to a PUT or POST that it stored.
	w.WriteHeader(http.StatusOK)
	return http.StatusOK
}

// apiFunc is one Prometheus API endpoint: it returns a data writer and
// warnings, or an apiError.
type apiFunc func(r *http.Request) (func(*jsoniter.Stream), annotations.Annotations, *apiError)

type apiError struct {
	typ string
	err error
}

func badData(err error) *apiError { return &apiError{errBadData, err} }

func invalidParam(err error, name string) *apiError {
	return &apiError{errBadData, fmt.Errorf("invalid parameter %q: %w", name, err)}
}

// serveAPI runs an endpoint with authentication (reader), form parsing,
// the JSON envelope and counting. Both GET and form-encoded POST are served.
func (h *Handler) serveAPI(w http.ResponseWriter, r *http.Request, endpoint string, f apiFunc) {
	code := h.api(w, r, f)
	h.s.m.queries.WithLabelValues(endpoint, strconv.Itoa(code)).Inc()
}

// The Prometheus HTTP API endpoints, each for GET and form-encoded POST.

// Query serves /api/v1/query.
func (h *Handler) Query(w http.ResponseWriter, r *http.Request) { h.serveAPI(w, r, "query", h.query) }

// QueryRange serves /api/v1/query_range.
func (h *Handler) QueryRange(w http.ResponseWriter, r *http.Request) {
	h.serveAPI(w, r, "query_range", h.queryRange)
}

// Series serves /api/v1/series.
func (h *Handler) Series(w http.ResponseWriter, r *http.Request) {
	h.serveAPI(w, r, "series", h.series)
}

// Labels serves /api/v1/labels.
func (h *Handler) Labels(w http.ResponseWriter, r *http.Request) {
	h.serveAPI(w, r, "labels", h.labels)
}

// LabelValues serves /api/v1/label/{name}/values.
func (h *Handler) LabelValues(w http.ResponseWriter, r *http.Request) {
	h.serveAPI(w, r, "label_values", h.labelValuesOf)
}

// Metadata serves /api/v1/metadata.
func (h *Handler) Metadata(w http.ResponseWriter, r *http.Request) {
	h.serveAPI(w, r, "metadata", h.metadata)
}

// BuildInfo serves /api/v1/status/buildinfo.
func (h *Handler) BuildInfo(w http.ResponseWriter, r *http.Request) {
	h.serveAPI(w, r, "buildinfo", h.buildInfo)
}

// FormatQuery serves /api/v1/format_query.
func (h *Handler) FormatQuery(w http.ResponseWriter, r *http.Request) {
	h.serveAPI(w, r, "format_query", h.formatQuery)
}

// QueryExemplars serves /api/v1/query_exemplars.
func (h *Handler) QueryExemplars(w http.ResponseWriter, r *http.Request) {
	h.serveAPI(w, r, "query_exemplars", h.queryExemplars)
}

func (h *Handler) api(w http.ResponseWriter, r *http.Request, f apiFunc) int {
	var body []byte
	if r.Method == http.MethodPost {
		var err error
		if body, err = readBody(r, maxFormBytes); err != nil {
			return writeAPIError(w, errBadData, err.Error(), nil)
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
	}
	id, err := h.auth.authenticate(r, body)
	if err == nil {
		err = h.auth.authorize(id, auth.ActionReadMetrics)
	}
	if err != nil {
		ae := err.(*authError)
		if ae.typ == errUnauthorized {
			w.Header().Set("WWW-Authenticate", `Basic realm="kinsight"`)
		}
		return writeAPIError(w, ae.typ, ae.msg, nil)
	}
	if err := r.ParseForm(); err != nil {
		return writeAPIError(w, errBadData, fmt.Sprintf("error parsing form values: %v", err), nil)
	}
	data, warns, aerr := f(r)
	warnings, infos := warns.AsStrings(r.FormValue("query"), 10, 10)
	if aerr != nil {
		return writeAPIError(w, aerr.typ, aerr.err.Error(), warnings)
	}
	writeSuccess(w, data, warnings, infos)
	return http.StatusOK
}

func queryError(err error) *apiError {
	var eqc promql.ErrQueryCanceled
	var eqt promql.ErrQueryTimeout
	var es promql.ErrStorage
	switch {
	case errors.As(err, &eqc), errors.Is(err, context.Canceled):
		return &apiError{errCanceled, err}
	case errors.As(err, &eqt), errors.Is(err, context.DeadlineExceeded):
		return &apiError{errTimeout, err}
	case errors.As(err, &es):
		return &apiError{errInternal, err}
	}
	return &apiError{errExec, err}
}

// newQueryError classes an error from preparing a query: a parse error is
// the query parameter's fault; a context that ended while the query was
// being prepared is a timeout or cancellation, not bad data.
func newQueryError(err error) *apiError {
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return queryError(err)
	}
	return invalidParam(err, "query")
}

func (h *Handler) queryContext(r *http.Request) (context.Context, context.CancelFunc, *apiError) {
	ctx := r.Context()
	if to := r.FormValue("timeout"); to != "" {
		d, err := ParseDuration(to)
		if err != nil {
			return nil, nil, invalidParam(err, "timeout")
		}
		ctx, cancel := context.WithTimeout(ctx, d)
		return ctx, cancel, nil
	}
	return ctx, func() {}, nil
}

func queryOpts(r *http.Request) (promql.QueryOpts, *apiError) {
	var lookback time.Duration
	if s := r.FormValue("lookback_delta"); s != "" {
		d, err := ParseDuration(s)
		if err != nil {
			return nil, badData(fmt.Errorf("error parsing lookback delta duration: %w", err))
		}
		lookback = d
	}
	return promql.NewPrometheusQueryOpts(false, lookback), nil
}

// query serves /api/v1/query.
func (h *Handler) query(r *http.Request) (func(*jsoniter.Stream), annotations.Annotations, *apiError) {
	limit, err := parseLimit(r.FormValue("limit"))
	if err != nil {
		return nil, nil, invalidParam(err, "limit")
	}
	ts, err := parseTimeParam(r.FormValue("time"), "time", h.s.opts.Now())
	if err != nil {
		return nil, nil, invalidParam(err, "time")
	}
	ctx, cancel, aerr := h.queryContext(r)
	if aerr != nil {
		return nil, nil, aerr
	}
	defer cancel()
	opts, aerr := queryOpts(r)
	if aerr != nil {
		return nil, nil, aerr
	}
	q, err := h.s.engine.NewInstantQuery(ctx, h.s.db, opts, r.FormValue("query"), ts)
	if err != nil {
		return nil, nil, newQueryError(err)
	}
	return h.exec(ctx, q, limit)
}

// queryRange serves /api/v1/query_range.
func (h *Handler) queryRange(r *http.Request) (func(*jsoniter.Stream), annotations.Annotations, *apiError) {
	limit, err := parseLimit(r.FormValue("limit"))
	if err != nil {
		return nil, nil, invalidParam(err, "limit")
	}
	start, err := ParseTime(r.FormValue("start"))
	if err != nil {
		return nil, nil, invalidParam(err, "start")
	}
	end, err := ParseTime(r.FormValue("end"))
	if err != nil {
		return nil, nil, invalidParam(err, "end")
	}
	if end.Before(start) {
		return nil, nil, invalidParam(errors.New("end timestamp must not be before start time"), "end")
	}
	step, err := ParseDuration(r.FormValue("step"))
	if err != nil {
		return nil, nil, invalidParam(err, "step")
	}
	if step <= 0 {
		return nil, nil, invalidParam(errors.New("zero or negative query resolution step widths are not accepted. Try a positive integer"), "step")
	}
	if end.Sub(start)/step > 11000 {
		return nil, nil, badData(errors.New("exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)"))
	}
	ctx, cancel, aerr := h.queryContext(r)
	if aerr != nil {
		return nil, nil, aerr
	}
	defer cancel()
	opts, aerr := queryOpts(r)
	if aerr != nil {
		return nil, nil, aerr
	}
	q, err := h.s.engine.NewRangeQuery(ctx, h.s.db, opts, r.FormValue("query"), start, end, step)
	if err != nil {
		return nil, nil, newQueryError(err)
	}
	return h.exec(ctx, q, limit)
}

func (h *Handler) exec(ctx context.Context, q promql.Query, limit int) (func(*jsoniter.Stream), annotations.Annotations, *apiError) {
	res := q.Exec(ctx)
	if res.Err != nil {
		q.Close()
		return nil, res.Warnings, queryError(res.Err)
	}
	warnings := res.Warnings
	if limit > 0 {
		truncated := false
		switch v := res.Value.(type) {
		case promql.Matrix:
			if len(v) > limit {
				res.Value, truncated = v[:limit], true
			}
		case promql.Vector:
			if len(v) > limit {
				res.Value, truncated = v[:limit], true
			}
		}
		if truncated {
			warnings = warnings.Add(errors.New("results truncated due to limit"))
		}
	}
	// The result's memory belongs to the query until Close: encode first.
	st := jsonAPI.BorrowStream(nil)
	writeQueryData(st, *res)
	buf := slices.Clone(st.Buffer())
	jsonAPI.ReturnStream(st)
	q.Close()
	return func(s *jsoniter.Stream) { s.WriteRaw(string(buf)) }, warnings, nil
}

func (h *Handler) matchers(r *http.Request) ([][]*labels.Matcher, error) {
	sets, err := h.s.parser.ParseMetricSelectors(r.Form["match[]"])
	if err != nil {
		return nil, err
	}
outer:
	for _, ms := range sets {
		for _, m := range ms {
			if m != nil && !m.Matches("") {
				continue outer
			}
		}
		return nil, errors.New("match[] must contain at least one non-empty matcher")
	}
	return sets, nil
}

type rangeParams struct {
	start, end time.Time
	limit      int
	sets       [][]*labels.Matcher
}

func (h *Handler) rangeParams(r *http.Request) (rangeParams, *apiError) {
	var p rangeParams
	var err error
	if p.limit, err = parseLimit(r.FormValue("limit")); err != nil {
		return p, invalidParam(err, "limit")
	}
	if p.start, err = parseTimeParam(r.FormValue("start"), "start", minTime); err != nil {
		return p, invalidParam(err, "start")
	}
	if p.end, err = parseTimeParam(r.FormValue("end"), "end", maxTime); err != nil {
		return p, invalidParam(err, "end")
	}
	if p.sets, err = h.matchers(r); err != nil {
		return p, invalidParam(err, "match[]")
	}
	return p, nil
}

func hintLimit(limit int) int {
	if limit > 0 {
		return limit + 1
	}
	return 0
}

// series serves /api/v1/series.
func (h *Handler) series(r *http.Request) (func(*jsoniter.Stream), annotations.Annotations, *apiError) {
	if len(r.Form["match[]"]) == 0 {
		return nil, nil, badData(errors.New("no match[] parameter provided"))
	}
	p, aerr := h.rangeParams(r)
	if aerr != nil {
		return nil, nil, aerr
	}
	q, err := h.s.db.Querier(timestamp.FromTime(p.start), timestamp.FromTime(p.end))
	if err != nil {
		return nil, nil, queryError(err)
	}
	defer q.Close()
	hints := &storage.SelectHints{
		Start: timestamp.FromTime(p.start), End: timestamp.FromTime(p.end),
		Func: "series", Limit: hintLimit(p.limit),
	}
	ctx := r.Context()
	var set storage.SeriesSet
	if len(p.sets) > 1 {
		sets := make([]storage.SeriesSet, 0, len(p.sets))
		for _, ms := range p.sets {
			sets = append(sets, q.Select(ctx, true, hints, ms...))
		}
		set = storage.NewMergeSeriesSet(sets, 0, storage.ChainedSeriesMerge)
	} else {
		set = q.Select(ctx, false, hints, p.sets[0]...)
	}
	var out []labels.Labels
	var warnings annotations.Annotations
	for set.Next() {
		if len(out)%1024 == 0 && ctx.Err() != nil {
			return nil, nil, queryError(ctx.Err())
		}
		out = append(out, set.At().Labels())
		if p.limit > 0 && len(out) > p.limit {
			out = out[:p.limit]
			warnings = warnings.Add(errors.New("results truncated due to limit"))
			break
		}
	}
	if err := set.Err(); err != nil {
		return nil, nil, queryError(err)
	}
	warnings.Merge(set.Warnings())
	// Labels may point into the querier's memory: encode before Close.
	st := jsonAPI.BorrowStream(nil)
	st.WriteArrayStart()
	for i, ls := range out {
		if i > 0 {
			st.WriteMore()
		}
		writeLabels(st, ls)
	}
	st.WriteArrayEnd()
	buf := slices.Clone(st.Buffer())
	jsonAPI.ReturnStream(st)
	return func(s *jsoniter.Stream) { s.WriteRaw(string(buf)) }, warnings, nil
}

// labels serves /api/v1/labels.
func (h *Handler) labels(r *http.Request) (func(*jsoniter.Stream), annotations.Annotations, *apiError) {
	return h.labelValuesFor(r, "")
}

// labelValues serves /api/v1/label/{name}/values.
func (h *Handler) labelValuesOf(r *http.Request) (func(*jsoniter.Stream), annotations.Annotations, *apiError) {
	name := r.PathValue("name")
	if strings.HasPrefix(name, "U__") {
		name = model.UnescapeName(name, model.ValueEncodingEscaping)
	}
	if name == "" || !model.UTF8Validation.IsValidLabelName(name) {
		return nil, nil, badData(fmt.Errorf("invalid label name: %q", name))
	}
	return h.labelValuesFor(r, name)
}

// labelValues lists label names (name == "") or the values of name.
func (h *Handler) labelValuesFor(r *http.Request, name string) (func(*jsoniter.Stream), annotations.Annotations, *apiError) {
	p, aerr := h.rangeParams(r)
	if aerr != nil {
		return nil, nil, aerr
	}
	q, err := h.s.db.Querier(timestamp.FromTime(p.start), timestamp.FromTime(p.end))
	if err != nil {
		return nil, nil, queryError(err)
	}
	defer q.Close()
	ctx := r.Context()
	hints := &storage.LabelHints{Limit: hintLimit(p.limit)}
	call := func(ms []*labels.Matcher) ([]string, annotations.Annotations, error) {
		if name == "" {
			return q.LabelNames(ctx, hints, ms...)
		}
		return q.LabelValues(ctx, name, hints, ms...)
	}
	var vals []string
	var warnings annotations.Annotations
	if len(p.sets) > 1 {
		seen := map[string]struct{}{}
		for _, ms := range p.sets {
			vs, ws, err := call(ms)
			if err != nil {
				return nil, nil, &apiError{errExec, err}
			}
			warnings.Merge(ws)
			for _, v := range vs {
				seen[v] = struct{}{}
			}
		}
		for v := range seen {
			vals = append(vals, v)
		}
	} else {
		var ms []*labels.Matcher
		if len(p.sets) == 1 {
			ms = p.sets[0]
		}
		vs, ws, err := call(ms)
		if err != nil {
			return nil, nil, &apiError{errExec, err}
		}
		warnings.Merge(ws)
		vals = slices.Clone(vs)
	}
	slices.Sort(vals)
	if p.limit > 0 && len(vals) > p.limit {
		vals = vals[:p.limit]
		warnings = warnings.Add(errors.New("results truncated due to limit"))
	}
	if vals == nil {
		vals = []string{}
	}
	return func(s *jsoniter.Stream) { writeStrings(s, vals) }, warnings, nil
}

// metadata serves /api/v1/metadata.
func (h *Handler) metadata(r *http.Request) (func(*jsoniter.Stream), annotations.Annotations, *apiError) {
	limit, err := strconv.Atoi(cmpOr(r.FormValue("limit"), "-1"))
	if err != nil {
		return nil, nil, badData(errors.New("limit must be a number"))
	}
	perMetric, err := strconv.Atoi(cmpOr(r.FormValue("limit_per_metric"), "-1"))
	if err != nil {
		return nil, nil, badData(errors.New("limit_per_metric must be a number"))
	}
	if limit == 0 {
		// Prometheus: limit=0 returns nothing.
		return func(s *jsoniter.Stream) { s.WriteRaw("{}") }, nil, nil
	}
	md := h.s.meta.get(r.FormValue("metric"), limit, perMetric)
	return func(s *jsoniter.Stream) { writeValue(s, md) }, nil, nil
}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// buildInfo serves /api/v1/status/buildinfo.
func (h *Handler) buildInfo(r *http.Request) (func(*jsoniter.Stream), annotations.Annotations, *apiError) {
	info := map[string]string{
		"version":   PrometheusVersion,
		"revision":  "kinsight " + h.version,
		"branch":    "kinsight",
		"buildUser": "kinsight",
		"buildDate": "",
		"goVersion": runtime.Version(),
	}
	// Field order as Prometheus writes them, for byte-level comparisons.
	return func(s *jsoniter.Stream) {
		s.WriteObjectStart()
		for i, k := range []string{"version", "revision", "branch", "buildUser", "buildDate", "goVersion"} {
			if i > 0 {
				s.WriteMore()
			}
			s.WriteObjectField(k)
			s.WriteString(info[k])
		}
		s.WriteObjectEnd()
	}, nil, nil
}

// formatQuery serves /api/v1/format_query.
func (h *Handler) formatQuery(r *http.Request) (func(*jsoniter.Stream), annotations.Annotations, *apiError) {
	expr, err := h.s.parser.ParseExpr(r.FormValue("query"))
	if err != nil {
		return nil, nil, invalidParam(err, "query")
	}
	out := expr.Pretty(0)
	return func(s *jsoniter.Stream) { s.WriteString(out) }, nil, nil
}

// queryExemplars serves /api/v1/query_exemplars: kinsight stores no
// exemplars, so after checking the parameters the answer is empty, which
// Grafana handles (it asks whenever exemplars are switched on).
func (h *Handler) queryExemplars(r *http.Request) (func(*jsoniter.Stream), annotations.Annotations, *apiError) {
	if _, err := h.s.parser.ParseExpr(r.FormValue("query")); err != nil {
		return nil, nil, badData(err)
	}
	return func(s *jsoniter.Stream) { s.WriteRaw("[]") }, nil, nil
}

// PushedMetrics serves GET /api/v1/metrics in the Pushgateway's API v1
// shape: one object per group with its grouping labels, whether the last
// push succeeded, and per metric family its push time, type, help and
// metrics (values as strings; summaries with quantiles, histograms with
// buckets). Reading needs the reader role.
func (h *Handler) PushedMetrics(w http.ResponseWriter, r *http.Request) {
	h.serveAPI(w, r, "pushed_metrics", h.pushedMetrics)
}

func (h *Handler) pushedMetrics(r *http.Request) (func(*jsoniter.Stream), annotations.Annotations, *apiError) {
	groups := h.s.PushGroups()
	res := make([]map[string]any, 0, len(groups))
	for _, g := range groups {
		gm := map[string]any{
			"labels":               g.Labels,
			"last_push_successful": g.PushFailureTime.IsZero() || g.PushTime.After(g.PushFailureTime),
		}
		ts := g.PushTime.UTC().Format(time.RFC3339Nano)
		for _, mf := range g.Families {
			ms := make([]map[string]any, 0, len(mf.Metric))
			for _, m := range mf.Metric {
				lbls := map[string]string{}
				for _, lp := range m.Label {
					lbls[lp.GetName()] = lp.GetValue()
				}
				for k, v := range g.Labels {
					lbls[k] = v
				}
				em := map[string]any{"labels": lbls}
				switch {
				case m.Summary != nil:
					qs := map[string]string{}
					for _, q := range m.Summary.Quantile {
						qs[formatFloat(q.GetQuantile())] = formatFloat(q.GetValue())
					}
					em["quantiles"], em["count"], em["sum"] = qs, strconv.FormatUint(m.Summary.GetSampleCount(), 10), formatFloat(m.Summary.GetSampleSum())
				case m.Histogram != nil:
					bs := map[string]string{}
					for _, b := range m.Histogram.Bucket {
						bs[formatFloat(b.GetUpperBound())] = strconv.FormatUint(b.GetCumulativeCount(), 10)
					}
					em["buckets"], em["count"], em["sum"] = bs, strconv.FormatUint(m.Histogram.GetSampleCount(), 10), formatFloat(m.Histogram.GetSampleSum())
				default:
					em["value"] = formatFloat(familySamples(mf, m)[0].v)
				}
				ms = append(ms, em)
			}
			gm[mf.GetName()] = map[string]any{"time_stamp": ts, "type": mf.GetType().String(), "help": mf.GetHelp(), "metrics": ms}
		}
		for _, name := range []string{"push_time_seconds", "push_failure_time_seconds"} {
			t := g.PushTime
			if name == "push_failure_time_seconds" {
				t = g.PushFailureTime
			}
			v := 0.0
			if !t.IsZero() {
				v = float64(t.UnixMilli()) / 1000
			}
			gm[name] = map[string]any{"time_stamp": ts, "type": "GAUGE",
				"help":    "Last Unix time when changing this group in the Pushgateway succeeded.",
				"metrics": []map[string]any{{"labels": g.Labels, "value": formatFloat(v)}}}
		}
		if f, ok := gm["push_failure_time_seconds"].(map[string]any); ok {
			f["help"] = "Last Unix time when changing this group in the Pushgateway failed."
		}
		res = append(res, gm)
	}
	return func(s *jsoniter.Stream) { writeValue(s, res) }, nil, nil
}
