package e2e

import (
	"context"
	"math"
	"math/rand/v2"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/snappy"
)

// TestPromBadInput sends what a broken or hostile client might over HTTP —
// corrupt snappy, bodies over the limits, invalid label sets, NaN and Inf,
// duplicate and out-of-order samples, malformed push bodies — and checks
// for Prometheus-style answers (400 with a message saying what was wrong,
// 413 for size), the refusals counted in /metrics, and every good sample
// around them kept, including the good series of a request that also
// carried bad ones (kinsight keeps them, as Prometheus 3's receiver does).
func TestPromBadInput(t *testing.T) {
	if os.Getenv("KINSIGHT_PROMTEST_SUT") == "prometheus" {
		t.Skip("kinsight-specific limits and push API")
	}
	sut := metricsSUT(t, withYAML("  metrics:\n    max_write_compressed_bytes: 65536\n    max_write_bytes: 131072\n"))
	ctx := context.Background()
	t0 := time.Now().Add(-2 * time.Minute).Truncate(time.Second).UnixMilli()

	good := rwSeries{Labels: [][2]string{{"__name__", "bad_input_good"}, {"case", "around"}}}
	for k := 0; k < 10; k++ {
		good.Samples = append(good.Samples, rwSample{T: t0 + int64(k)*1000, V: float64(k) * 1.5})
	}
	mustWrite(t, sut.url, []rwSeries{good})

	expect := func(name string, body []byte, wantCode int, wantMsg string) {
		t.Helper()
		code, msg, err := remoteWrite(ctx, sut.url, body)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		t.Logf("%s: HTTP %d: %s", name, code, strings.TrimSpace(msg))
		if code != wantCode {
			t.Errorf("%s: HTTP %d (%s), want %d", name, code, msg, wantCode)
		}
		if !strings.Contains(strings.ToLower(msg), wantMsg) {
			t.Errorf("%s: message %q does not mention %q", name, msg, wantMsg)
		}
	}
	expect("corrupt snappy", []byte("this is not snappy at all, just text"), 400, "snappy")
	expect("snappy of garbage", snappy.Encode(nil, []byte{0xff, 0xff, 0xff, 0xff, 0x0f, 0x01}), 400, "protobuf")
	random := make([]byte, 70_000)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range random {
		random[i] = byte(rng.Uint32())
	}
	expect("body over max_write_compressed_bytes", snappy.Encode(nil, random), 413, "limit")
	huge := rwSeries{Labels: [][2]string{{"__name__", "bad_input_huge"}, {"blob", strings.Repeat("a", 200_000)}}, Samples: []rwSample{{T: t0, V: 1}}}
	if body := encodeWriteRequest([]rwSeries{huge}); len(body) < 65536 {
		expect("body decoding past max_write_bytes", body, 413, "limit")
	}

	// One request, one good series and bad ones: 400, the good one kept.
	mixedOK := rwSeries{Labels: [][2]string{{"__name__", "bad_input_mixed"}, {"s", "ok"}}, Samples: []rwSample{{T: t0, V: 7}}}
	bad := []rwSeries{
		{Labels: [][2]string{{"__name__", "bad_input_mixed"}, {"bad-name", "x"}}, Samples: []rwSample{{T: t0, V: 1}}},
		{Labels: [][2]string{{"__name__", "bad input mixed"}}, Samples: []rwSample{{T: t0, V: 1}}},
		{Labels: [][2]string{{"s", "no-name"}}, Samples: []rwSample{{T: t0, V: 1}}},
		{Labels: [][2]string{{"__name__", "bad_input_mixed"}, {"s", "a"}, {"s", "b"}}, Samples: []rwSample{{T: t0, V: 1}}},
		{Labels: [][2]string{{"__name__", "bad_input_mixed"}, {"s", "\xff\xfe"}}, Samples: []rwSample{{T: t0, V: 1}}},
		{Labels: [][2]string{{"__name__", "bad_input_mixed"}, {"1abc", "x"}}, Samples: []rwSample{{T: t0, V: 1}}},
	}
	expect("invalid label sets beside a good series", snappy.Encode(nil, marshalWriteRequest(append([]rwSeries{mixedOK}, bad...), false)), 400, "invalid")

	// NaN and infinities are values like any other.
	special := rwSeries{Labels: [][2]string{{"__name__", "bad_input_special"}}, Samples: []rwSample{
		{T: t0, V: math.NaN()}, {T: t0 + 1000, V: math.Inf(1)}, {T: t0 + 2000, V: math.Inf(-1)}, {T: t0 + 3000, V: -0.5},
	}}
	mustWrite(t, sut.url, []rwSeries{special})

	// The same sample again is accepted (a retried request); the same
	// timestamp with another value is a duplicate; an older one is out of
	// order (no out-of-order window configured). Each comes with a good new
	// sample that must be kept.
	next := func(k int) rwSample { return rwSample{T: t0 + int64(k)*1000, V: float64(k) * 1.5} }
	resend := rwSeries{Labels: good.Labels, Samples: []rwSample{good.Samples[9], next(10)}}
	mustWrite(t, sut.url, []rwSeries{resend})
	good.Samples = append(good.Samples, next(10))
	other := rwSeries{Labels: [][2]string{{"__name__", "bad_input_other"}}, Samples: []rwSample{{T: t0, V: 3}}}
	dup := rwSeries{Labels: good.Labels, Samples: []rwSample{{T: good.Samples[10].T, V: 999}}}
	expect("duplicate timestamp, other value", encodeWriteRequest([]rwSeries{dup, other}), 400, "duplicate")
	ooo := rwSeries{Labels: good.Labels, Samples: []rwSample{{T: t0 - 30_000, V: 5}}}
	other2 := rwSeries{Labels: other.Labels, Samples: []rwSample{{T: t0 + 1000, V: 4}}}
	expect("out-of-order sample", encodeWriteRequest([]rwSeries{ooo, other2}), 400, "out of order")
	other.Samples = append(other.Samples, other2.Samples...)

	// Push API: a good group, then malformed bodies; only the good one is kept.
	push := func(method, path, body string) (int, string) {
		req, _ := http.NewRequestWithContext(ctx, method, sut.url+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "text/plain; version=0.0.4")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		defer resp.Body.Close()
		var b strings.Builder
		buf := make([]byte, 4096)
		n, _ := resp.Body.Read(buf)
		b.Write(buf[:n])
		return resp.StatusCode, b.String()
	}
	if code, msg := push("PUT", "/metrics/job/batch/instance/b1", "# TYPE push_good gauge\npush_good 42\n"); code/100 != 2 {
		t.Fatalf("good push: HTTP %d: %s", code, msg)
	}
	for _, c := range []struct{ method, path, body string }{
		{"PUT", "/metrics/job/broken", "push_bad{ 1\n"},
		{"POST", "/metrics/job/broken", "# TYPE push_bad counter\npush_bad{a=\"1\"} nope\n"},
		{"PUT", "/metrics/job/broken", "push_bad 1\npush_bad 2\n"},
		{"PUT", "/metrics/job/broken", "# TYPE push_good counter\npush_good 1\n"}, // type differs from group batch's
		{"PUT", "/metrics/job/broken/instance", "push_bad 1\n"},                   // a label without a value
	} {
		code, msg := push(c.method, c.path, c.body)
		t.Logf("push %s %s %q: HTTP %d: %s", c.method, c.path, c.body, code, strings.TrimSpace(msg))
		if code != 400 {
			t.Errorf("push %s %s %q: HTTP %d (%s), want 400", c.method, c.path, c.body, code, msg)
		}
	}

	// Everything good is there, exactly; nothing bad is.
	at := t0 + 60_000
	for _, c := range []struct {
		expr string
		want *qResult
	}{
		{"bad_input_good[5m]", rawMatrix([]rwSeries{good})},
		{"bad_input_mixed[5m]", rawMatrix([]rwSeries{mixedOK})},
		{"bad_input_special[5m]", rawMatrix([]rwSeries{special})},
		{"bad_input_other[5m]", rawMatrix([]rwSeries{other})},
		{`{s="no-name"}[5m]`, &qResult{Type: "matrix"}},
		{"bad_input_huge[5m]", &qResult{Type: "matrix"}},
	} {
		got, r, err := queryInstant(ctx, sut.url, c.expr, at)
		if err != nil || got == nil {
			t.Errorf("%s: %v %+v", c.expr, err, r)
			continue
		}
		if d := diffResults(c.want, got, 0); d != "" {
			t.Errorf("%s: %s", c.expr, d)
		}
	}
	got, r, err := queryInstant(ctx, sut.url, `{__name__=~"push_good|push_bad"}`, time.Now().UnixMilli())
	if err != nil || got == nil {
		t.Fatalf("pushed series: %v %+v", err, r)
	}
	if len(got.Series) != 1 || got.Series[0].Labels != `{__name__="push_good",instance="b1",job="batch"}` || got.Series[0].Points[0].V != 42 {
		t.Errorf("pushed series: got %s, want only push_good{instance=\"b1\",job=\"batch\"} 42", got)
	}
	got, r, err = queryInstant(ctx, sut.url, `push_time_seconds{job="batch"}`, time.Now().UnixMilli())
	if err != nil || got == nil || len(got.Series) != 1 {
		t.Errorf("push_time_seconds of the good group: %v %+v %v", err, r, got)
	}

	// The refusals are counted.
	resp, err := http.Get(sut.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	m, err := parseMetricText(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	for _, reason := range []string{"invalid_labels", "duplicate", "out_of_order"} {
		if m[`kinsight_metrics_rejected_samples_total{reason="`+reason+`"}`] == 0 {
			t.Errorf("kinsight_metrics_rejected_samples_total{reason=%q} not counted; /metrics has %v", reason, filterPrefix(m, "kinsight_metrics_"))
		}
	}
	if m[`kinsight_metrics_write_requests_total{code="400"}`] < 5 {
		t.Errorf("kinsight_metrics_write_requests_total{code=\"400\"} = %v, want >= 5", m[`kinsight_metrics_write_requests_total{code="400"}`])
	}
}
