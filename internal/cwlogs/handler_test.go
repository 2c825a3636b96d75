package cwlogs

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/zstd"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/kinsight/kinsight/internal/config"
)

func TestRequestDecodingErrors(t *testing.T) {
	e := newEnv(t)
	admin := keyFor(config.RoleAdmin)
	tests := []struct {
		name   string
		op     string
		body   string
		hdr    map[string]string
		status int
		typ    string
	}{
		{"malformed JSON", "DescribeLogGroups", `{"limit":`, nil, 400, errSerialization},
		{"not JSON", "DescribeLogGroups", `hello`, nil, 400, errSerialization},
		{"trailing data", "DescribeLogGroups", `{} {}`, nil, 400, errSerialization},
		{"array body", "DescribeLogGroups", `[]`, nil, 400, errSerialization},
		{"string for int", "DescribeLogGroups", `{"limit":"5"}`, nil, 400, errSerialization},
		{"float for int", "DescribeLogGroups", `{"limit":5.5}`, nil, 400, errSerialization},
		{"int overflow", "GetLogEvents", `{"logGroupName":"g","logStreamName":"s","startTime":99999999999999999999}`, nil, 400, errSerialization},
		{"number for string", "CreateLogGroup", `{"logGroupName":5}`, nil, 400, errSerialization},
		{"object for list", "PutLogEvents", `{"logGroupName":"g","logStreamName":"s","logEvents":{}}`, nil, 400, errSerialization},
		{"string for bool", "DescribeLogStreams", `{"logGroupName":"g","descending":"yes"}`, nil, 400, errSerialization},
		{"map of non-strings", "CreateLogGroup", `{"logGroupName":"g","tags":{"a":1}}`, nil, 400, errSerialization},
		{"invalid UTF-8", "CreateLogGroup", "{\"logGroupName\":\"g\xff\"}", nil, 400, errSerialization},
		{"unknown operation", "DescribeEverything", `{}`, nil, 400, errUnknownOperation},
		{"no target", "", `{}`, nil, 400, errUnknownOperation},
		{"wrong target prefix", "", `{}`, map[string]string{"X-Amz-Target": "Logs_20990101.DescribeLogGroups"}, 400, errUnknownOperation},
		{"unsupported encoding", "DescribeLogGroups", `{}`, map[string]string{"Content-Encoding": "br"}, 400, errSerialization},
		{"bad gzip", "DescribeLogGroups", `{}`, map[string]string{"Content-Encoding": "gzip"}, 400, errSerialization},
		{"bad zstd", "DescribeLogGroups", `{}`, map[string]string{"Content-Encoding": "zstd"}, 400, errSerialization},
		{"bad s2", "DescribeLogGroups", `{}`, map[string]string{"Content-Encoding": S2Encoding}, 400, errSerialization},
		{"truncated s2", "DescribeLogGroups", string(s2.Encode(nil, []byte(`{"limit":5}`))[:6]), map[string]string{"Content-Encoding": S2Encoding}, 400, errSerialization},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := e.rawCall(tc.op, []byte(tc.body), &admin, tc.hdr)
			wantErr(t, r, tc.status, tc.typ)
			if r.errMessage() == "" {
				t.Errorf("empty error message")
			}
		})
	}
}

func TestLenientDecoding(t *testing.T) {
	e := newEnv(t)
	admin := keyFor(config.RoleAdmin)
	for _, body := range []string{``, `{}`, `null`, `{"unknownMember":1,"limit":null}`} {
		if r := e.rawCall("DescribeLogGroups", []byte(body), &admin, nil); r.status != 200 {
			t.Errorf("body %q: %d %s", body, r.status, r.body)
		}
	}
}

func TestAuthErrors(t *testing.T) {
	e := newEnv(t)
	// Unsigned.
	r := e.rawCall("DescribeLogGroups", []byte(`{}`), nil, nil)
	wantErr(t, r, http.StatusForbidden, "MissingAuthenticationTokenException")
	// Unknown key.
	bad := config.AccessKey{ID: "AKIDNOBODY", Secret: "x", Role: config.RoleAdmin}
	wantErr(t, e.rawCall("DescribeLogGroups", []byte(`{}`), &bad, nil), 400, "UnrecognizedClientException")
	// Wrong secret.
	wrong := keyFor(config.RoleAdmin)
	wrong.Secret = "not-the-secret"
	wantErr(t, e.rawCall("DescribeLogGroups", []byte(`{}`), &wrong, nil), 400, "InvalidSignatureException")
	// Body changed after signing: the signature covers the raw bytes.
	k := keyFor(config.RoleAdmin)
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/", strings.NewReader(`{"limit":5}`))
	req.Header.Set("X-Amz-Target", targetPrefix+"DescribeLogGroups")
	sign(t, req, []byte(`{"limit":5}`), k)
	req.Body = io.NopCloser(strings.NewReader(`{"limit":6}`))
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Errorf("tampered body: status %d, want 400", resp.StatusCode)
	}
}

func TestRoles(t *testing.T) {
	e := newEnv(t)
	now := nowMs()
	e.seed("/r", "s", now)
	put := m{"logGroupName": "/r", "logStreamName": "s", "logEvents": []m{{"timestamp": now, "message": "x"}}}
	tests := []struct {
		op    string
		in    any
		roles map[string]bool // role → allowed
	}{
		{"PutLogEvents", put, map[string]bool{config.RoleAgent: true, config.RoleReader: false, config.RoleAdmin: true}},
		{"DescribeLogStreams", m{"logGroupName": "/r"}, map[string]bool{config.RoleAgent: true, config.RoleReader: true, config.RoleAdmin: true}},
		{"DescribeLogGroups", m{}, map[string]bool{config.RoleAgent: true, config.RoleReader: true}},
		{"GetLogEvents", m{"logGroupName": "/r", "logStreamName": "s"}, map[string]bool{config.RoleAgent: false, config.RoleReader: true}},
		{"FilterLogEvents", m{"logGroupName": "/r"}, map[string]bool{config.RoleAgent: false, config.RoleReader: true}},
		{"PutRetentionPolicy", m{"logGroupName": "/r", "retentionInDays": 7}, map[string]bool{config.RoleAgent: false, config.RoleReader: false, config.RoleAdmin: true}},
		{"DeleteLogStream", m{"logGroupName": "/r", "logStreamName": "nope"}, map[string]bool{config.RoleAgent: false, config.RoleReader: false}},
		{"TagLogGroup", m{"logGroupName": "/r", "tags": m{"a": "b"}}, map[string]bool{config.RoleAgent: false, config.RoleReader: false}},
		{"ListTagsLogGroup", m{"logGroupName": "/r"}, map[string]bool{config.RoleAgent: false, config.RoleReader: true}},
	}
	for _, tc := range tests {
		for role, allowed := range tc.roles {
			r := e.callAs(role, tc.op, tc.in)
			denied := r.errType() == "AccessDeniedException"
			if denied == allowed {
				t.Errorf("%s as %s: got %d %s, allowed=%v", tc.op, role, r.status, r.body, allowed)
			}
			if denied && r.status != 400 {
				t.Errorf("%s as %s: AccessDenied with status %d", tc.op, role, r.status)
			}
		}
	}
}

// countingReader counts the bytes the handler pulls from the body.
type countingReader struct {
	n atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = ' '
	}
	c.n.Add(int64(len(p)))
	return len(p), nil
}

func (c *countingReader) Close() error { return nil }

func TestOversizedBodyRefusedBeforeRead(t *testing.T) {
	const limit = 64 << 10
	h := NewHandler(nil, nil, Options{MaxRequestBytes: limit})
	t.Run("declared length", func(t *testing.T) {
		body := &countingReader{}
		req := httptest.NewRequest(http.MethodPost, "/", nil)
		req.Body, req.ContentLength = body, 10<<20
		req.Header.Set("X-Amz-Target", targetPrefix+"PutLogEvents")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusRequestEntityTooLarge {
			t.Fatalf("status %d, want 413: %s", rec.Code, rec.Body)
		}
		if n := body.n.Load(); n != 0 {
			t.Errorf("read %d bytes of a body declared too large", n)
		}
	})
	t.Run("chunked", func(t *testing.T) {
		body := &countingReader{}
		req := httptest.NewRequest(http.MethodPost, "/", nil)
		req.Body, req.ContentLength = body, -1
		req.Header.Set("X-Amz-Target", targetPrefix+"PutLogEvents")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusRequestEntityTooLarge {
			t.Fatalf("status %d, want 413", rec.Code)
		}
		if n := body.n.Load(); n > limit+64<<10 {
			t.Errorf("read %d bytes of an endless body, limit %d", n, limit)
		}
	})
}

func gzipBytes(t *testing.T, b []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	_, _ = zw.Write(b)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func zstdBytes(t *testing.T, b []byte) []byte {
	enc, err := zstd.NewWriter(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer enc.Close()
	return enc.EncodeAll(b, nil)
}

func s2Bytes(_ *testing.T, b []byte) []byte { return s2.Encode(nil, b) }

func TestCompressedBodies(t *testing.T) {
	e := newEnv(t)
	e.seed("/z", "s")
	agent := keyFor(config.RoleAgent)
	now := nowMs()
	for _, tc := range []struct {
		enc  string
		comp func(*testing.T, []byte) []byte
	}{{"gzip", gzipBytes}, {"zstd", zstdBytes}, {S2Encoding, s2Bytes}} {
		body := []byte(`{"logGroupName":"/z","logStreamName":"s","logEvents":[{"timestamp":` +
			strconv.FormatInt(now, 10) + `,"message":"via ` + tc.enc + `"}]}`)
		r := e.rawCall("PutLogEvents", tc.comp(t, body), &agent, map[string]string{"Content-Encoding": tc.enc})
		if r.status != 200 {
			t.Fatalf("%s: %d %s", tc.enc, r.status, r.body)
		}
	}
	var out filterLogEventsOutput
	e.mustOK("FilterLogEvents", m{"logGroupName": "/z"}).decode(t, &out)
	if len(out.Events) != 3 || out.Events[0].Message != "via gzip" || out.Events[1].Message != "via zstd" ||
		out.Events[2].Message != "via "+S2Encoding {
		t.Fatalf("events %+v", out.Events)
	}
	// Bombs: small compressed bodies that expand past MaxRequestBytes.
	huge := bytes.Repeat([]byte(" "), 5<<20)
	for _, tc := range []struct {
		enc  string
		comp func(*testing.T, []byte) []byte
	}{{"gzip", gzipBytes}, {"zstd", zstdBytes}, {S2Encoding, s2Bytes}} {
		r := e.rawCall("DescribeLogGroups", tc.comp(t, huge), &agent, map[string]string{"Content-Encoding": tc.enc})
		wantErr(t, r, http.StatusRequestEntityTooLarge, errSerialization)
	}
}

func TestMethodNotAllowed(t *testing.T) {
	h := NewHandler(nil, nil, Options{})
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	if rec.Code != http.StatusMethodNotAllowed || rec.Header().Get("x-amzn-RequestId") == "" {
		t.Fatalf("GET /: %d %v", rec.Code, rec.Header())
	}
}

func TestRequestMetrics(t *testing.T) {
	e := newEnv(t)
	now := nowMs()
	e.seed("/metrics", "s", now, now)
	e.call("CreateLogGroup", m{"logGroupName": "/metrics"}) // exists
	if got := value(t, e.h.m.requests.WithLabelValues("CreateLogGroup", "OK")); got != 1 {
		t.Errorf("CreateLogGroup OK = %v, want 1", got)
	}
	if got := value(t, e.h.m.requests.WithLabelValues("CreateLogGroup", errResourceExists)); got != 1 {
		t.Errorf("CreateLogGroup exists = %v, want 1", got)
	}
	if got := value(t, e.h.m.ingestedEvents); got != 2 {
		t.Errorf("ingested events = %v, want 2", got)
	}
	if got, want := value(t, e.h.m.ingestedBytes), float64(len(msgN("s", 0))+len(msgN("s", 1))); got != want {
		t.Errorf("ingested bytes = %v, want %v", got, want)
	}
	e.call("PutLogEvents", m{"logGroupName": "/metrics", "logStreamName": "s",
		"logEvents": []m{{"timestamp": now, "message": "b"}, {"timestamp": now - 1, "message": "a"}}})
	if got := value(t, e.h.m.rejectedEvents.WithLabelValues(rejectUnordered)); got != 2 {
		t.Errorf("rejected unordered = %v, want 2", got)
	}
	families, err := e.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var observed uint64
	for _, f := range families {
		if f.GetName() == "kinsight_logs_api_request_duration_seconds" {
			for _, s := range f.GetMetric() {
				observed += s.GetHistogram().GetSampleCount()
			}
		}
	}
	if observed < 5 {
		t.Errorf("duration histogram has %d observations, want >= 5", observed)
	}
}

// value reads a counter or gauge.
func value(t *testing.T, c prometheus.Metric) float64 {
	t.Helper()
	var d dto.Metric
	if err := c.Write(&d); err != nil {
		t.Fatal(err)
	}
	switch {
	case d.Counter != nil:
		return d.Counter.GetValue()
	case d.Gauge != nil:
		return d.Gauge.GetValue()
	}
	t.Fatalf("not a counter or gauge")
	return 0
}
