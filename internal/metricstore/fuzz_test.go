package metricstore

import (
	"errors"
	"math"
	"testing"
	"time"

	"github.com/klauspost/compress/snappy"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/prompb"
)

// FuzzDecodeWriteRequest: any body either decodes or fails with a
// *ClientError, never panics or allocates past the limit; decoded series
// either get valid, sorted labels or a label error.
func FuzzDecodeWriteRequest(f *testing.F) {
	f.Add(encodeWrite(f, &prompb.WriteRequest{Timeseries: []prompb.TimeSeries{
		{Labels: series("up", "job", "x"), Samples: []prompb.Sample{{Value: 1, Timestamp: 1000}}}}}))
	f.Add(encodeWrite(f, &prompb.WriteRequest{Timeseries: []prompb.TimeSeries{
		{Labels: []prompb.Label{{Name: "z", Value: "1"}, {Name: "__name__", Value: "m"}, {Name: "z", Value: "2"}}},
		{Labels: series("bad-name")}},
		Metadata: []prompb.MetricMetadata{{Type: prompb.MetricMetadata_COUNTER, MetricFamilyName: "m"}}}))
	f.Add(snappy.Encode(nil, []byte("\x0a\x02\x0a\x00")))
	f.Add([]byte("\xff\xff\xff\xff\x0f"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := DecodeWriteRequest(body, 1<<20)
		if err != nil {
			var ce *ClientError
			if !errors.As(err, &ce) {
				t.Fatalf("error %v is not a ClientError", err)
			}
			return
		}
		b := labels.NewScratchBuilder(8)
		for _, ts := range req.Timeseries {
			ls, err := seriesLabels(&b, ts.Labels)
			if err != nil {
				continue
			}
			if ls.Get("__name__") == "" {
				t.Fatalf("accepted labels without a name: %s", ls)
			}
			if _, dup := ls.HasDuplicateLabelNames(); dup {
				t.Fatalf("accepted duplicate labels: %s", ls)
			}
		}
	})
}

// FuzzPush: push bodies and paths never panic; what parses is samples with
// valid names, no timestamps.
func FuzzPush(f *testing.F) {
	f.Add("job/batch/instance/h1", "text/plain", []byte("# TYPE a counter\na{x=\"1\"} 2\n# TYPE s summary\ns{quantile=\"0.5\"} 1\ns_sum 2\ns_count 3\n"))
	f.Add("job@base64/YQ/path@base64/=", "", []byte("h_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 2\nh_sum 3\nh_count 2\n# TYPE h histogram\n"))
	f.Add("job/x", "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited",
		[]byte{0x0d, 0x0a, 0x01, 'a', 0x18, 0x01, 0x22, 0x06, 0x12, 0x04, 0x09, 0, 0, 0})
	f.Add("job", "", []byte("a 1 2\n"))
	f.Fuzz(func(t *testing.T, path, contentType string, body []byte) {
		if key, err := ParseGroupingKey(path); err == nil && key["job"] == "" {
			t.Fatalf("grouping key without job: %v", key)
		}
		fams, err := ParsePushBody(contentType, body)
		if err != nil {
			return
		}
		for _, mf := range fams {
			for _, m := range mf.Metric {
				if m.TimestampMs != nil {
					t.Fatal("accepted a timestamp")
				}
				_ = familySamples(mf, m)
			}
		}
	})
}

// FuzzParseTimeDuration: the API's time and duration parsing never panics
// and a parsed unix time round-trips to the millisecond.
func FuzzParseTimeDuration(f *testing.F) {
	for _, s := range []string{"1700000000.123", "2023-11-14T22:13:20Z", "-1", "1e18", "NaN", "+Inf", "1m30s", "2d", "0.5", minTimeFormatted} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if tm, err := ParseTime(s); err == nil {
			_ = tm.UnixMilli()
		}
		if d, err := ParseDuration(s); err == nil && math.Abs(float64(d)) > float64(math.MaxInt64) {
			t.Fatalf("duration %v overflowed", d)
		}
		_ = time.Duration(0)
	})
}
