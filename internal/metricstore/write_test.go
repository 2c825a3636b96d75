package metricstore

import (
	"math"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/klauspost/compress/snappy"
	"github.com/prometheus/prometheus/model/value"
	"github.com/prometheus/prometheus/prompb"
)

func TestRemoteWriteRoundTrip(t *testing.T) {
	e := newEnv(t, Options{}, HandlerOptions{})
	now := time.Now().Truncate(time.Second)
	t0 := now.Add(-time.Minute)
	req := &prompb.WriteRequest{
		Timeseries: []prompb.TimeSeries{
			{Labels: series("rw_test", "job", "a"), Samples: []prompb.Sample{
				{Value: 1.5, Timestamp: ms(t0)}, {Value: 2, Timestamp: ms(t0.Add(15 * time.Second))},
				{Value: 3, Timestamp: ms(t0.Add(30 * time.Second))},
			}},
			{Labels: series("rw_special", "k", "inf"), Samples: []prompb.Sample{{Value: math.Inf(1), Timestamp: ms(t0)}}},
			{Labels: series("rw_special", "k", "nan"), Samples: []prompb.Sample{{Value: math.NaN(), Timestamp: ms(t0)}}},
			{Labels: series("rw_special", "k", "neginf"), Samples: []prompb.Sample{{Value: math.Inf(-1), Timestamp: ms(t0)}}},
			// A series ended by a staleness marker disappears from instant queries.
			{Labels: series("rw_stale"), Samples: []prompb.Sample{
				{Value: 7, Timestamp: ms(t0)}, {Value: math.Float64frombits(value.StaleNaN), Timestamp: ms(t0.Add(time.Second))},
			}},
		},
		Metadata: []prompb.MetricMetadata{{Type: prompb.MetricMetadata_COUNTER, MetricFamilyName: "rw_test", Help: "A test counter.", Unit: "seconds"}},
	}
	if r := e.write(req); r.code != 204 {
		t.Fatalf("write: %d %s", r.code, r.body)
	}
	ts := fmtUnix

	r := e.get("/api/v1/query", url.Values{"query": {"rw_test"}, "time": {fmtUnix(t0.Add(40 * time.Second))}})
	want := `{"status":"success","data":{"resultType":"vector","result":[{"metric":{"__name__":"rw_test","job":"a"},"value":[` +
		ts(t0.Add(40*time.Second)) + `,"3"]}]}}`
	if r.code != 200 || r.body != want {
		t.Errorf("instant query:\n got %d %s\nwant %s", r.code, r.body, want)
	}
	r = e.get("/api/v1/query_range", url.Values{"query": {"rw_test"}, "start": {fmtUnix(t0)},
		"end": {t0.Add(30 * time.Second).Format(time.RFC3339)}, "step": {"15s"}})
	want = `{"status":"success","data":{"resultType":"matrix","result":[{"metric":{"__name__":"rw_test","job":"a"},"values":[[` +
		ts(t0) + `,"1.5"],[` + ts(t0.Add(15*time.Second)) + `,"2"],[` + ts(t0.Add(30*time.Second)) + `,"3"]]}]}}`
	if r.code != 200 || r.body != want {
		t.Errorf("range query:\n got %d %s\nwant %s", r.code, r.body, want)
	}
	r = e.get("/api/v1/query", url.Values{"query": {"rw_special"}, "time": {fmtUnix(t0)}})
	for _, v := range []string{`"+Inf"`, `"NaN"`, `"-Inf"`} {
		contains(t, "special values", r.body, v)
	}
	r = e.get("/api/v1/query", url.Values{"query": {"rw_stale"}, "time": {fmtUnix(t0.Add(10 * time.Second))}})
	if a := parseAPI(t, r); string(a.Data) != `{"resultType":"vector","result":[]}` {
		t.Errorf("stale series still visible: %s", r.body)
	}
	r = e.get("/api/v1/query", url.Values{"query": {"1/0"}, "time": {"100"}})
	if want := `{"status":"success","data":{"resultType":"scalar","result":[100,"+Inf"]}}`; r.body != want {
		t.Errorf("scalar: got %s want %s", r.body, want)
	}
	r = e.get("/api/v1/metadata", url.Values{"metric": {"rw_test"}})
	if a := parseAPI(t, r); string(a.Data) != `{"rw_test":[{"type":"counter","help":"A test counter.","unit":"seconds"}]}` {
		t.Errorf("metadata: %s", r.body)
	}
	if got := e.counter("kinsight_metrics_samples_written_total"); got != 8 {
		t.Errorf("samples written = %v, want 8", got)
	}
	if got := e.counter("kinsight_metrics_write_requests_total", "204"); got != 1 {
		t.Errorf("write requests{204} = %v, want 1", got)
	}
}

// fmtUnix writes t as the API writes timestamps: unix seconds with up to
// three decimals.
func fmtUnix(t time.Time) string {
	return strconv.FormatFloat(float64(t.UnixMilli())/1000, 'f', -1, 64)
}

func TestRemoteWriteBadInput(t *testing.T) {
	e := newEnv(t, Options{MaxWriteCompressedBytes: 64 << 10, MaxWriteBytes: 256 << 10}, HandlerOptions{})
	now := time.Now().Truncate(time.Second)
	if r := e.write(&prompb.WriteRequest{Timeseries: []prompb.TimeSeries{
		{Labels: series("bad_test", "s", "ooo"), Samples: []prompb.Sample{{Value: 1, Timestamp: ms(now)}}},
		{Labels: series("bad_test", "s", "dup"), Samples: []prompb.Sample{{Value: 1, Timestamp: ms(now)}}},
	}}); r.code != 204 {
		t.Fatalf("seed write: %d %s", r.code, r.body)
	}
	good := prompb.TimeSeries{Labels: series("bad_good", "n", "1"), Samples: []prompb.Sample{{Value: 42, Timestamp: ms(now)}}}
	big := make([]byte, 300<<10)
	for i := range big {
		big[i] = byte(i % 251)
	}
	cases := []struct {
		name     string
		body     []byte
		req      *prompb.WriteRequest
		hdr      map[string]string
		code     int
		msg      string
		reason   string
		goodKept bool
	}{
		{name: "corrupt snappy", body: []byte("\xff\xff\xff\xff\x0fnot snappy at all"), code: 400, msg: "snappy"},
		{name: "not protobuf", body: snappy.Encode(nil, []byte("\x0a\xff\xff\xff\xff\xff")), code: 400, msg: "protobuf"},
		{name: "compressed too large", body: make([]byte, 65<<10), code: 413, msg: "exceeds the limit"},
		{name: "decoded too large", body: snappy.Encode(nil, big), code: 413, msg: "exceeds the limit"},
		{name: "wrong encoding", body: encodeWrite(t, &prompb.WriteRequest{}), hdr: map[string]string{"Content-Encoding": "gzip"}, code: 415, msg: "Content-Encoding"},
		{name: "invalid label name", code: 400, msg: `invalid label name "bad-name"`, reason: reasonInvalidLabels, goodKept: true,
			req: &prompb.WriteRequest{Timeseries: []prompb.TimeSeries{
				{Labels: series("bad_x", "bad-name", "v"), Samples: []prompb.Sample{{Value: 1, Timestamp: ms(now)}}}, good}}},
		{name: "invalid metric name", code: 400, msg: `invalid metric name "1abc"`, reason: reasonInvalidLabels, goodKept: true,
			req: &prompb.WriteRequest{Timeseries: []prompb.TimeSeries{
				{Labels: series("1abc"), Samples: []prompb.Sample{{Value: 1, Timestamp: ms(now)}}}, good}}},
		{name: "no metric name", code: 400, msg: "no metric name", reason: reasonInvalidLabels, goodKept: true,
			req: &prompb.WriteRequest{Timeseries: []prompb.TimeSeries{
				{Labels: []prompb.Label{{Name: "job", Value: "x"}}, Samples: []prompb.Sample{{Value: 1, Timestamp: ms(now)}}}, good}}},
		{name: "duplicate label", code: 400, msg: `duplicate label name "a"`, reason: reasonInvalidLabels, goodKept: true,
			req: &prompb.WriteRequest{Timeseries: []prompb.TimeSeries{
				{Labels: series("bad_x", "a", "1", "a", "2"), Samples: []prompb.Sample{{Value: 1, Timestamp: ms(now)}}}, good}}},
		{name: "out of order", code: 400, msg: "out of order sample", reason: reasonOutOfOrder, goodKept: true,
			req: &prompb.WriteRequest{Timeseries: []prompb.TimeSeries{
				{Labels: series("bad_test", "s", "ooo"), Samples: []prompb.Sample{{Value: 1, Timestamp: ms(now.Add(-time.Minute))}}}, good}}},
		{name: "duplicate sample", code: 400, msg: "duplicate sample for timestamp", reason: reasonDuplicate, goodKept: true,
			req: &prompb.WriteRequest{Timeseries: []prompb.TimeSeries{
				{Labels: series("bad_test", "s", "dup"), Samples: []prompb.Sample{{Value: 2, Timestamp: ms(now)}}}, good}}},
		{name: "too far in the future", code: 400, msg: "out of bounds", reason: reasonOutOfBounds, goodKept: true,
			req: &prompb.WriteRequest{Timeseries: []prompb.TimeSeries{
				{Labels: series("bad_future"), Samples: []prompb.Sample{{Value: 1, Timestamp: ms(now.Add(time.Hour))}}}, good}}},
		{name: "too old", code: 400, msg: "out of bounds", reason: reasonOutOfBounds, goodKept: true,
			req: &prompb.WriteRequest{Timeseries: []prompb.TimeSeries{
				{Labels: series("bad_old"), Samples: []prompb.Sample{{Value: 1, Timestamp: ms(now.Add(-48 * time.Hour))}}}, good}}},
		{name: "identical duplicate is fine", code: 204,
			req: &prompb.WriteRequest{Timeseries: []prompb.TimeSeries{
				{Labels: series("bad_test", "s", "dup"), Samples: []prompb.Sample{{Value: 1, Timestamp: ms(now)}}}}}},
		{name: "unsorted labels are sorted", code: 204, goodKept: true,
			req: &prompb.WriteRequest{Timeseries: []prompb.TimeSeries{{Labels: []prompb.Label{
				{Name: "z", Value: "1"}, {Name: "__name__", Value: "bad_unsorted"}, {Name: "a", Value: "2"}, {Name: "empty", Value: ""}},
				Samples: []prompb.Sample{{Value: 1, Timestamp: ms(now)}}}, good}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			// Each case writes the good series one millisecond later, so
			// "kept" means this request's sample landed.
			now = now.Add(time.Millisecond)
			if c.req != nil {
				for i := range c.req.Timeseries {
					if c.req.Timeseries[i].Labels[0].Value == "bad_good" {
						c.req.Timeseries[i].Samples = []prompb.Sample{{Value: float64(now.UnixMilli() % 100000), Timestamp: ms(now)}}
					}
				}
				c.body = encodeWrite(t, c.req)
			}
			before := e.counter("kinsight_metrics_rejected_samples_total", c.reason)
			hdr := map[string]string{"Content-Type": "application/x-protobuf", "Content-Encoding": "snappy"}
			for k, v := range c.hdr {
				hdr[k] = v
			}
			r := e.do("POST", "/api/v1/write", c.body, hdr)
			if r.code != c.code {
				t.Fatalf("status %d (%s), want %d", r.code, r.body, c.code)
			}
			if c.msg != "" {
				contains(t, "error", r.body, c.msg)
			}
			if c.reason != "" {
				if got := e.counter("kinsight_metrics_rejected_samples_total", c.reason) - before; got != 1 {
					t.Errorf("rejected{%s} grew by %v, want 1", c.reason, got)
				}
			}
			if c.goodKept {
				q := e.get("/api/v1/query", url.Values{"query": {"bad_good"}, "time": {fmtUnix(now)}})
				contains(t, "good series kept", q.body, `"`+strconv.FormatInt(now.UnixMilli()%100000, 10)+`"`)
			}
		})
	}
	r := e.get("/api/v1/series", url.Values{"match[]": {"bad_unsorted"}})
	if a := parseAPI(t, r); string(a.Data) != `[{"__name__":"bad_unsorted","a":"2","z":"1"}]` {
		t.Errorf("unsorted series stored as %s", a.Data)
	}
}

func TestOutOfOrderWindow(t *testing.T) {
	e := newEnv(t, Options{OutOfOrderWindow: time.Hour}, HandlerOptions{})
	now := time.Now().Truncate(time.Second)
	for _, at := range []time.Time{now, now.Add(-10 * time.Minute)} {
		if r := e.write(&prompb.WriteRequest{Timeseries: []prompb.TimeSeries{
			{Labels: series("ooo_ok"), Samples: []prompb.Sample{{Value: float64(at.Unix()), Timestamp: ms(at)}}}}}); r.code != 204 {
			t.Fatalf("write at %v: %d %s", at, r.code, r.body)
		}
	}
	r := e.get("/api/v1/query", url.Values{"query": {"count_over_time(ooo_ok[1h])"}, "time": {fmtUnix(now)}})
	contains(t, "both samples", r.body, `"2"]`)
	// Beyond the window it is refused as too old.
	r = e.write(&prompb.WriteRequest{Timeseries: []prompb.TimeSeries{
		{Labels: series("ooo_ok"), Samples: []prompb.Sample{{Value: 1, Timestamp: ms(now.Add(-2 * time.Hour))}}}}})
	if r.code != 400 {
		t.Errorf("sample beyond the window: %d %s", r.code, r.body)
	}
}

func TestRestartKeepsData(t *testing.T) {
	e := newEnv(t, Options{}, HandlerOptions{})
	now := time.Now().Truncate(time.Second)
	var ss []prompb.Sample
	for i := range 100 {
		ss = append(ss, prompb.Sample{Value: float64(i), Timestamp: ms(now.Add(time.Duration(i-100) * time.Second))})
	}
	if r := e.write(&prompb.WriteRequest{Timeseries: []prompb.TimeSeries{{Labels: series("restart_test"), Samples: ss}},
		Metadata: []prompb.MetricMetadata{{Type: prompb.MetricMetadata_GAUGE, MetricFamilyName: "restart_test", Help: "h"}}}); r.code != 204 {
		t.Fatalf("write: %d %s", r.code, r.body)
	}
	e.reopen()
	r := e.get("/api/v1/query", url.Values{"query": {"count_over_time(restart_test[10m])"}, "time": {fmtUnix(now)}})
	contains(t, "after restart", r.body, `"100"]`)
	r = e.get("/api/v1/metadata", nil)
	contains(t, "metadata after restart", r.body, `"restart_test":[{"type":"gauge","help":"h","unit":""}]`)
}

func TestWriteInflightBound(t *testing.T) {
	e := newEnv(t, Options{}, HandlerOptions{MaxInflightBytes: 1 << 20})
	e.h.wait = 10 * time.Millisecond
	req := &prompb.WriteRequest{Timeseries: []prompb.TimeSeries{
		{Labels: series("inflight"), Samples: []prompb.Sample{{Value: 1, Timestamp: ms(time.Now())}}}}}
	// Another request holds the whole budget: this one is told to retry.
	if err := e.h.inflight.Acquire(t.Context(), 1<<20); err != nil {
		t.Fatal(err)
	}
	if r := e.write(req); r.code != 503 {
		t.Errorf("full budget: %d %s, want 503", r.code, r.body)
	}
	if r := e.do("PUT", "/metrics/job/x", []byte("x 1\n"), nil); r.code != 503 {
		t.Errorf("full budget push: %d %s, want 503", r.code, r.body)
	}
	e.h.inflight.Release(1 << 20)
	if r := e.write(req); r.code != 204 {
		t.Errorf("after release: %d %s", r.code, r.body)
	}
}

func TestRemoteWriteNativeHistogram(t *testing.T) {
	e := newEnv(t, Options{}, HandlerOptions{})
	now := time.Now().Truncate(time.Second)
	h := prompb.Histogram{
		Count: &prompb.Histogram_CountInt{CountInt: 5}, Sum: 12.5, Schema: 0, ZeroThreshold: 1e-128,
		ZeroCount:     &prompb.Histogram_ZeroCountInt{ZeroCountInt: 0},
		PositiveSpans: []prompb.BucketSpan{{Offset: 0, Length: 2}}, PositiveDeltas: []int64{2, 1},
		Timestamp: ms(now),
	}
	if r := e.write(&prompb.WriteRequest{Timeseries: []prompb.TimeSeries{{Labels: series("nh_test"), Histograms: []prompb.Histogram{h}}}}); r.code != 204 {
		t.Fatalf("write: %d %s", r.code, r.body)
	}
	r := e.get("/api/v1/query", url.Values{"query": {"nh_test"}, "time": {fmtUnix(now)}})
	want := `{"metric":{"__name__":"nh_test"},"histogram":[` + fmtUnix(now) + `,{"count":"5","sum":"12.5","buckets":[[0,"0.5","1","2"],[0,"1","2","3"]]}]}`
	contains(t, "native histogram", r.body, want)
	r = e.get("/api/v1/query", url.Values{"query": {"histogram_count(nh_test)"}, "time": {fmtUnix(now)}})
	contains(t, "histogram_count", r.body, `"5"]`)
}
