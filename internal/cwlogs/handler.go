// Package cwlogs serves the CloudWatch Logs JSON 1.1 API (POST / with
// X-Amz-Target: Logs_20140328.<Operation>) over the log store, so the AWS
// CLI, the AWS SDKs and Fluent Bit's cloudwatch_logs output work against
// kinsight unchanged, plus kinsight's own follow endpoint
// (GET /kinsight/v1/logs/tail) that streams new events as NDJSON.
//
// Requests are handled in a fixed order: size check, raw body read, SigV4
// verification of the raw bytes, role check, decompression, JSON decoding,
// validation, then the store. Every error is mapped once, in errors.go, to
// AWS's {"__type", "message"} shape and HTTP status. docs/api.md lists the
// operations and every deviation from AWS.
//
// PutLogEvents also takes kinsight's X-Kinsight-Positions header
// (positions.go): each event's position in its source, so that events a
// crashed agent sends again are skipped by the store rather than stored
// twice, and answered as accepted with X-Kinsight-Duplicates.
//
// PutLogEventsBatch (putbatch.go), a kinsight extension, carries several
// streams' PutLogEvents in one request, each applied and answered on its
// own, so an agent pays the per-request costs once for many streams.
package cwlogs

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/zstd"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/semaphore"

	"github.com/kinsight/kinsight/internal/auth"
	"github.com/kinsight/kinsight/internal/config"
	"github.com/kinsight/kinsight/internal/logstore"
)

const (
	targetPrefix = "Logs_20140328."
	jsonType     = "application/x-amz-json-1.1"

	defaultMaxRequestBytes  = 8 << 20
	defaultMaxInflightBytes = 64 << 20
	// inflightWait is how long a request waits for room in the in-flight
	// budget before it is throttled.
	inflightWait         = 5 * time.Second
	defaultFilterBudget  = 1500 * time.Millisecond
	defaultTailHeartbeat = 15 * time.Second
	defaultTailStartBack = 10 * time.Second
)

// Options configure a Handler. Zero fields take the defaults given.
type Options struct {
	// Logger receives request errors. Default: slog.Default().
	Logger *slog.Logger
	// Registerer receives the self-metrics. Default: none (not exported).
	Registerer prometheus.Registerer
	// MaxRequestBytes caps a request body, both as sent and after
	// decompression. Default: 8 MiB.
	MaxRequestBytes int64
	// MaxInflightBytes bounds the request bodies being handled at once (as
	// sent, by Content-Length, or MaxRequestBytes when unknown): memory for
	// requests is bounded however many clients send. A request waits up to
	// 5 s for room, then gets ThrottlingException. Default: 64 MiB.
	MaxInflightBytes int64
	// Region and AccountID appear in ARNs. Default: us-east-1, 000000000000.
	Region, AccountID string
	// Now is the clock for PutLogEvents' time checks and the tail's default
	// start. Default: time.Now.
	Now func() time.Time
	// FilterBudget bounds the time one FilterLogEvents page may scan before
	// it returns what it found with a nextToken, as CloudWatch does.
	// Default: 1.5s.
	FilterBudget time.Duration
	// TailHeartbeat is the idle interval after which the follow endpoint
	// writes an empty line. Default: 15s.
	TailHeartbeat time.Duration
	// Insights bounds Logs Insights queries. Zero fields take
	// config.DefaultInsights().
	Insights config.Insights
}

// Handler serves the CloudWatch Logs API and the follow endpoint. It is safe
// for concurrent use.
type Handler struct {
	store     *logstore.Store
	verifier  *auth.Verifier
	log       *slog.Logger
	m         *metrics
	maxBody   int64
	inflight  *semaphore.Weighted
	maxFlight int64
	// flightWait is how long a request waits for in-flight room.
	flightWait time.Duration
	region     string
	accountID  string
	now        func() time.Time
	budget     time.Duration
	heartbeat  time.Duration
	ops        map[string]operation
	bufs       sync.Pool // *[]byte for writeOK
	queries    *queryManager
	queryDefs  *queryDefs
}

// operation is one X-Amz-Target: who may call it and how it runs.
type operation struct {
	name   string
	action auth.Action
	run    func(ctx context.Context, h *Handler, body []byte) (any, error)
}

// NewHandler builds the handler. A nil verifier turns authentication off
// (the server allows that only on loopback) and every caller is admin.
// Saved queries stay in memory until OpenQueryDefinitions gives them a
// file. Close stops the queries it runs.
func NewHandler(store *logstore.Store, verifier *auth.Verifier, opts Options) *Handler {
	h := &Handler{
		store:     store,
		verifier:  verifier,
		log:       opts.Logger,
		maxBody:   opts.MaxRequestBytes,
		region:    opts.Region,
		accountID: opts.AccountID,
		now:       opts.Now,
		budget:    opts.FilterBudget,
		heartbeat: opts.TailHeartbeat,
	}
	if h.log == nil {
		h.log = slog.Default()
	}
	if h.maxBody <= 0 {
		h.maxBody = defaultMaxRequestBytes
	}
	h.maxFlight = opts.MaxInflightBytes
	if h.maxFlight <= 0 {
		h.maxFlight = defaultMaxInflightBytes
	}
	h.maxFlight = max(h.maxFlight, h.maxBody)
	h.inflight = semaphore.NewWeighted(h.maxFlight)
	h.flightWait = inflightWait
	if h.region == "" {
		h.region = "us-east-1"
	}
	if h.accountID == "" {
		h.accountID = "000000000000"
	}
	if h.now == nil {
		h.now = time.Now
	}
	if h.budget <= 0 {
		h.budget = defaultFilterBudget
	}
	if h.heartbeat <= 0 {
		h.heartbeat = defaultTailHeartbeat
	}
	m, err := newMetrics(opts.Registerer)
	if err != nil {
		h.log.Warn("cwlogs: registering metrics", "err", err)
	}
	h.m = m
	h.ops = h.operations()
	h.queryDefs, _ = openQueryDefs("")
	h.queries = newQueryManager(store, opts.Insights, h.log, h.now, h.accountID)
	return h
}

// OpenQueryDefinitions loads the saved queries (PutQueryDefinition) from
// path, creating it on the first save, so they survive restarts. Call it
// before serving.
func (h *Handler) OpenQueryDefinitions(path string) error {
	d, err := openQueryDefs(path)
	if err != nil {
		return err
	}
	h.queryDefs = d
	return nil
}

// Close cancels the running Logs Insights queries and waits for them to
// end; requests after it get errors for StartQuery. Call it before closing
// the store.
func (h *Handler) Close() { h.queries.close() }

// operations is the routing table: every supported X-Amz-Target. Which
// role may call which operation is auth.LogsOperationAction's to say, so
// the API and the auth package cannot disagree.
func (h *Handler) operations() map[string]operation {
	ops := []operation{
		op("CreateLogGroup", (*Handler).createLogGroup),
		op("DeleteLogGroup", (*Handler).deleteLogGroup),
		op("DescribeLogGroups", (*Handler).describeLogGroups),
		op("PutRetentionPolicy", (*Handler).putRetentionPolicy),
		op("DeleteRetentionPolicy", (*Handler).deleteRetentionPolicy),
		op("TagResource", (*Handler).tagResource),
		op("UntagResource", (*Handler).untagResource),
		op("ListTagsForResource", (*Handler).listTagsForResource),
		op("TagLogGroup", (*Handler).tagLogGroup),
		op("UntagLogGroup", (*Handler).untagLogGroup),
		op("ListTagsLogGroup", (*Handler).listTagsLogGroup),
		op("CreateLogStream", (*Handler).createLogStream),
		op("DeleteLogStream", (*Handler).deleteLogStream),
		op("DescribeLogStreams", (*Handler).describeLogStreams),
		op("PutLogEvents", (*Handler).putLogEvents),
		op("GetLogEvents", (*Handler).getLogEvents),
		op("FilterLogEvents", (*Handler).filterLogEvents),
		op("StartQuery", (*Handler).startQuery),
		op("GetQueryResults", (*Handler).getQueryResults),
		op("StopQuery", (*Handler).stopQuery),
		op("DescribeQueries", (*Handler).describeQueries),
		op("GetLogRecord", (*Handler).getLogRecord),
		op("GetLogGroupFields", (*Handler).getLogGroupFields),
		op("PutQueryDefinition", (*Handler).putQueryDefinition),
		op("DescribeQueryDefinitions", (*Handler).describeQueryDefinitions),
		op("DeleteQueryDefinition", (*Handler).deleteQueryDefinition),
		putBatchOperation(), // kinsight's extension (putbatch.go)
	}
	m := make(map[string]operation, len(ops))
	for _, o := range ops {
		m[o.name] = o
	}
	return m
}

// op adapts a typed operation: it decodes the body into Req first.
func op[Req any](name string, fn func(*Handler, context.Context, *Req) (any, error)) operation {
	action, _ := auth.LogsOperationAction(name)
	return operation{name: name, action: action, run: func(ctx context.Context, h *Handler, body []byte) (any, error) {
		var req Req
		if err := decodeJSON(body, &req); err != nil {
			return nil, err
		}
		return fn(h, ctx, &req)
	}}
}

// ServeHTTP serves POST / for every supported operation.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	w.Header().Set("x-amzn-RequestId", newRequestID())
	target := r.Header.Get("X-Amz-Target")
	o, known := h.ops[strings.TrimPrefix(target, targetPrefix)]
	known = known && strings.HasPrefix(target, targetPrefix)
	name := "unknown"
	if known {
		name = o.name
	}
	resp, err := h.serve(w, r, o, known, target)
	code := "OK"
	if err != nil {
		code = h.writeError(w, name, err)
	} else {
		h.writeOK(w, resp)
	}
	h.m.requests.WithLabelValues(name, code).Inc()
	h.m.duration.WithLabelValues(name).Observe(time.Since(start).Seconds())
}

// serve runs the steps of a request in their fixed order.
func (h *Handler) serve(w http.ResponseWriter, r *http.Request, o operation, known bool, target string) (any, error) {
	if r.Method != http.MethodPost {
		return nil, newError(http.StatusMethodNotAllowed, errUnknownOperation, "Method %s is not supported; use POST.", r.Method)
	}
	if r.ContentLength > h.maxBody {
		return nil, tooLarge(h.maxBody)
	}
	release, err := h.admit(r)
	if err != nil {
		return nil, err
	}
	defer release()
	raw, err := h.readBody(w, r)
	if err != nil {
		return nil, err
	}
	id, err := h.authenticate(r, raw)
	if err != nil {
		return nil, err
	}
	if !known {
		return nil, newError(http.StatusBadRequest, errUnknownOperation, "Unknown operation %q.", truncate(target, 128))
	}
	if !auth.Allowed(id.Role, o.action) {
		return nil, auth.AccessDenied(h.accountID, id, "logs:"+o.name, "")
	}
	body, err := h.decodeBody(r.Header.Get("Content-Encoding"), raw)
	if err != nil {
		return nil, err
	}
	return o.run(withExchange(r.Context(), r.Header, w.Header()), h, body)
}

// admit reserves room for the request's body in the in-flight budget and
// returns the function that gives it back.
func (h *Handler) admit(r *http.Request) (func(), error) {
	n := r.ContentLength
	if n <= 0 {
		n = h.maxBody
	}
	ctx, cancel := context.WithTimeout(r.Context(), h.flightWait)
	defer cancel()
	if err := h.inflight.Acquire(ctx, n); err != nil {
		h.m.throttled.Inc()
		return nil, newError(http.StatusBadRequest, errThrottling, "Rate exceeded: too many request bytes in flight; retry with backoff.")
	}
	return func() { h.inflight.Release(n) }, nil
}

// writeError writes err in AWS's shape and returns its type for metrics.
// Internal failures are logged here, once.
func (h *Handler) writeError(w http.ResponseWriter, op string, err error) string {
	ae, internal := toAPIError(err)
	if internal {
		h.log.Error("cwlogs: request failed", "operation", op, "err", err)
	}
	writeJSON(w, ae.Status, errorBody{Type: ae.Type, Message: ae.Message, QueryCompileError: ae.compile})
	return ae.Type
}

// authenticate verifies SigV4 over the raw body. Without a verifier every
// caller is admin.
func (h *Handler) authenticate(r *http.Request, raw []byte) (auth.Identity, error) {
	if h.verifier == nil {
		return auth.Identity{Role: config.RoleAdmin}, nil
	}
	return h.verifier.Verify(r, raw)
}

func tooLarge(limit int64) *apiError {
	return newError(http.StatusRequestEntityTooLarge, errSerialization,
		"Request body exceeds the limit of %d bytes.", limit)
}

// readBody reads the raw body, refusing a declared or actual size above
// the limit before reading it whole.
func (h *Handler) readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	if r.ContentLength > h.maxBody {
		return nil, tooLarge(h.maxBody)
	}
	var buf bytes.Buffer
	if r.ContentLength > 0 {
		buf.Grow(int(r.ContentLength))
	}
	_, err := buf.ReadFrom(http.MaxBytesReader(w, r.Body, h.maxBody))
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		return nil, tooLarge(h.maxBody)
	case err != nil:
		return nil, serializationError("Could not read the request body: %v", err)
	}
	return buf.Bytes(), nil
}

// S2Encoding is the Content-Encoding of a body in the S2 block format
// (github.com/klauspost/compress/s2, Encode): the kinsight agent's default
// against a kinsight server, about five times cheaper to write than zstd's
// fastest level, for about one and a half times its bytes on the wire.
const S2Encoding = "x-kinsight-s2"

// decodeBody undoes Content-Encoding (gzip, zstd or S2), capping the
// decompressed size so a small bomb cannot expand without bound.
func (h *Handler) decodeBody(encoding string, raw []byte) ([]byte, error) {
	var (
		zr  io.Reader
		err error
	)
	switch strings.ToLower(strings.TrimSpace(encoding)) {
	case "", "identity":
		return raw, nil
	case S2Encoding:
		// A block states its decoded length up front: refuse a bomb
		// before allocating for it.
		n, err := s2.DecodedLen(raw)
		if err != nil {
			return nil, serializationError("Invalid %s request body: %v", S2Encoding, err)
		}
		if int64(n) > h.maxBody {
			return nil, tooLarge(h.maxBody)
		}
		out, err := s2.Decode(make([]byte, n), raw)
		if err != nil {
			return nil, serializationError("Invalid %s request body: %v", S2Encoding, err)
		}
		return out, nil
	case "gzip", "x-gzip":
		var gz *gzip.Reader
		if gz, err = gzip.NewReader(bytes.NewReader(raw)); err != nil {
			return nil, serializationError("Invalid gzip request body: %v", err)
		}
		defer gz.Close()
		zr = gz
	case "zstd":
		var zd *zstd.Decoder
		zd, err = zstd.NewReader(bytes.NewReader(raw),
			zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(uint64(h.maxBody)))
		if err != nil {
			return nil, serializationError("Invalid zstd request body: %v", err)
		}
		defer zd.Close()
		zr = zd
	default:
		return nil, serializationError("Unsupported Content-Encoding %q; use gzip, zstd or "+S2Encoding+".", truncate(encoding, 64))
	}
	out, err := io.ReadAll(io.LimitReader(zr, h.maxBody+1))
	if err != nil {
		if errors.Is(err, zstd.ErrDecoderSizeExceeded) || errors.Is(err, zstd.ErrWindowSizeExceeded) {
			return nil, tooLarge(h.maxBody)
		}
		return nil, serializationError("Invalid %s request body: %v", encoding, err)
	}
	if int64(len(out)) > h.maxBody {
		return nil, tooLarge(h.maxBody)
	}
	return out, nil
}

// decodeJSON decodes one JSON value into v. Malformed JSON, values of the
// wrong type, invalid UTF-8 and trailing data are SerializationException,
// as AWS answers for a body it cannot deserialize. An empty body is {}.
// Unknown members are ignored, as AWS does.
func decodeJSON(body []byte, v any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil
	}
	if !utf8.Valid(body) {
		return serializationError("The request body is not valid UTF-8.")
	}
	if in, ok := v.(*putLogEventsInput); ok {
		// The ingest hot path; anything unusual falls through to
		// encoding/json, which also words the errors.
		if decodePutFast(body, in) {
			return nil
		}
		*in = putLogEventsInput{}
	}
	if in, ok := v.(*putBatchInput); ok {
		if decodePutBatchFast(body, in) {
			return nil
		}
		*in = putBatchInput{}
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return serializationError("Unexpected data after the JSON request body.")
	}
	return nil
}

func jsonError(err error) error {
	var te *json.UnmarshalTypeError
	var se *json.SyntaxError
	switch {
	case errors.As(err, &te):
		field := te.Field
		if field == "" {
			field = "the request body"
		}
		return serializationError("Unexpected JSON %s for %s; expected %s.", te.Value, field, jsonKind(te.Type.Kind().String()))
	case errors.As(err, &se):
		return serializationError("Malformed JSON at offset %d: %v", se.Offset, se)
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return serializationError("Malformed JSON: unexpected end of the request body.")
	}
	return serializationError("Malformed JSON: %v", err)
}

func jsonKind(k string) string {
	switch k {
	case "int", "int32", "int64":
		return "an integer"
	case "string":
		return "a string"
	case "bool":
		return "a boolean"
	case "map", "struct":
		return "an object"
	case "slice":
		return "an array"
	}
	return k
}

// errorBody is AWS's JSON 1.1 error shape.
type errorBody struct {
	Type    string `json:"__type"`
	Message string `json:"message"`
	// QueryCompileError locates MalformedQueryException's error in the query.
	QueryCompileError *queryCompileError `json:"queryCompileError,omitempty"`
}

// empty is the body of operations without output.
type empty struct{}

// writeOK writes a successful answer. Event answers encode themselves
// into recycled buffers: up to ~2 MB each once escaped, they would otherwise
// churn the garbage collector on every page.
func (h *Handler) writeOK(w http.ResponseWriter, v any) {
	a, ok := v.(jsonAppender)
	if !ok {
		writeJSON(w, http.StatusOK, v)
		return
	}
	bp, _ := h.bufs.Get().(*[]byte)
	if bp == nil {
		bp = new([]byte)
	}
	b := append(a.appendJSON((*bp)[:0]), '\n')
	w.Header().Set("Content-Type", jsonType)
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
	if cap(b) <= 4<<20 {
		*bp = b
		h.bufs.Put(bp)
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		// Only unencodable values land here; none of ours are.
		status = http.StatusInternalServerError
		buf.Reset()
		fmt.Fprintf(&buf, `{"__type":%q,"message":%q}`, errServiceUnavail, msgServiceUnavail)
	}
	w.Header().Set("Content-Type", jsonType)
	w.Header().Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// newRequestID is a random UUID (version 4), the shape of AWS request ids.
func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}
