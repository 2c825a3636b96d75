package metricstore

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/prompb"
)

func seedAPI(t *testing.T, e *env, at time.Time) {
	t.Helper()
	var ts []prompb.TimeSeries
	for _, ns := range []string{"a", "b", "c"} {
		ts = append(ts, prompb.TimeSeries{Labels: series("api_requests_total", "namespace", ns, "job", "api"),
			Samples: []prompb.Sample{{Value: 10, Timestamp: ms(at.Add(-time.Minute))}, {Value: 70, Timestamp: ms(at)}}})
	}
	ts = append(ts, prompb.TimeSeries{Labels: series("api_up", "job", "other"), Samples: []prompb.Sample{{Value: 1, Timestamp: ms(at)}}})
	if r := e.write(&prompb.WriteRequest{Timeseries: ts, Metadata: []prompb.MetricMetadata{
		{Type: prompb.MetricMetadata_COUNTER, MetricFamilyName: "api_requests_total", Help: "Requests."},
		{Type: prompb.MetricMetadata_GAUGE, MetricFamilyName: "api_up", Help: "Up."},
	}}); r.code != 204 {
		t.Fatalf("seed: %d %s", r.code, r.body)
	}
}

func TestQueryAPI(t *testing.T) {
	e := newEnv(t, Options{}, HandlerOptions{Version: "test"})
	at := time.Now().Truncate(time.Second)
	seedAPI(t, e, at)
	now := fmtUnix(at)
	cases := []struct {
		name, method, path string
		params             url.Values
		code               int
		errType            string
		want               string // exact data, or a substring of the error
	}{
		{"sum by", "GET", "/api/v1/query", url.Values{"query": {"sum by (job) (api_requests_total)"}, "time": {now}}, 200, "",
			`{"resultType":"vector","result":[{"metric":{"job":"api"},"value":[` + now + `,"210"]}]}`},
		{"POST form", "POST", "/api/v1/query", url.Values{"query": {"count(api_requests_total)"}, "time": {at.UTC().Format(time.RFC3339Nano)}}, 200, "",
			`{"resultType":"vector","result":[{"metric":{},"value":[` + now + `,"3"]}]}`},
		{"limit", "GET", "/api/v1/query", url.Values{"query": {"api_requests_total"}, "time": {now}, "limit": {"1"}}, 200, "", ""},
		{"string", "GET", "/api/v1/query", url.Values{"query": {`"hi"`}, "time": {"12.5"}}, 200, "",
			`{"resultType":"string","result":[12.5,"hi"]}`},
		{"parse error", "GET", "/api/v1/query", url.Values{"query": {"sum(("}}, 400, "bad_data", `invalid parameter "query"`},
		{"bad time", "GET", "/api/v1/query", url.Values{"query": {"1"}, "time": {"yesterday"}}, 400, "bad_data", `invalid parameter "time": invalid time value for 'time': cannot parse "yesterday" to a valid timestamp`},
		{"bad timeout", "GET", "/api/v1/query", url.Values{"query": {"1"}, "timeout": {"soon"}}, 400, "bad_data", `invalid parameter "timeout"`},
		{"execution error", "GET", "/api/v1/query", url.Values{"query": {`api_requests_total + on(job) api_requests_total`}, "time": {now}}, 422, "execution", "many-to-many"},
		{"subquery without step", "GET", "/api/v1/query", url.Values{"query": {"max_over_time(sum(api_requests_total)[5m:])"}, "time": {now}}, 200, "", ""},
		{"@ and offset", "GET", "/api/v1/query", url.Values{"query": {"sum(api_requests_total @ " + now + " offset -1m)"}, "time": {fmtUnix(at.Add(-time.Minute))}}, 200, "",
			`{"resultType":"vector","result":[{"metric":{},"value":[` + fmtUnix(at.Add(-time.Minute)) + `,"210"]}]}`},
		{"range", "GET", "/api/v1/query_range", url.Values{"query": {"sum(api_requests_total)"}, "start": {fmtUnix(at.Add(-time.Minute))}, "end": {now}, "step": {"60"}}, 200, "",
			`{"resultType":"matrix","result":[{"metric":{},"values":[[` + fmtUnix(at.Add(-time.Minute)) + `,"30"],[` + now + `,"210"]]}]}`},
		{"range step duration", "GET", "/api/v1/query_range", url.Values{"query": {"1"}, "start": {"0"}, "end": {"120"}, "step": {"1m"}}, 200, "",
			`{"resultType":"matrix","result":[{"metric":{},"values":[[0,"1"],[60,"1"],[120,"1"]]}]}`},
		{"range no step", "GET", "/api/v1/query_range", url.Values{"query": {"1"}, "start": {"0"}, "end": {"10"}}, 400, "bad_data", `invalid parameter "step"`},
		{"range zero step", "GET", "/api/v1/query_range", url.Values{"query": {"1"}, "start": {"0"}, "end": {"10"}, "step": {"0"}}, 400, "bad_data", "zero or negative query resolution step widths are not accepted"},
		{"range end before start", "GET", "/api/v1/query_range", url.Values{"query": {"1"}, "start": {"10"}, "end": {"0"}, "step": {"1"}}, 400, "bad_data", "end timestamp must not be before start time"},
		{"range too many points", "GET", "/api/v1/query_range", url.Values{"query": {"1"}, "start": {"0"}, "end": {"100000"}, "step": {"1"}}, 400, "bad_data", "exceeded maximum resolution of 11,000 points"},
		{"series", "GET", "/api/v1/series", url.Values{"match[]": {`api_requests_total{namespace=~"a|b"}`, "api_up"}}, 200, "",
			`[{"__name__":"api_requests_total","job":"api","namespace":"a"},{"__name__":"api_requests_total","job":"api","namespace":"b"},{"__name__":"api_up","job":"other"}]`},
		{"series no match", "GET", "/api/v1/series", nil, 400, "bad_data", "no match[] parameter provided"},
		{"series empty matcher", "GET", "/api/v1/series", url.Values{"match[]": {`{job=~".*"}`}}, 400, "bad_data", "match[] must contain at least one non-empty matcher"},
		{"series bad start", "GET", "/api/v1/series", url.Values{"match[]": {"api_up"}, "start": {"x"}}, 400, "bad_data", `invalid parameter "start"`},
		{"labels", "GET", "/api/v1/labels", nil, 200, "", `["__name__","job","namespace"]`},
		{"labels match", "POST", "/api/v1/labels", url.Values{"match[]": {"api_up"}}, 200, "", `["__name__","job"]`},
		{"label values", "GET", "/api/v1/label/job/values", nil, 200, "", `["api","other"]`},
		{"label values limit", "GET", "/api/v1/label/namespace/values", url.Values{"limit": {"2"}}, 200, "", `["a","b"]`},
		{"metric names", "GET", "/api/v1/label/__name__/values", url.Values{"match[]": {`{job="other"}`}}, 200, "", `["api_up"]`},
		{"label values bad limit", "GET", "/api/v1/label/job/values", url.Values{"limit": {"-1"}}, 400, "bad_data", "limit must be non-negative"},
		{"metadata", "GET", "/api/v1/metadata", nil, 200, "",
			`{"api_requests_total":[{"type":"counter","help":"Requests.","unit":""}],"api_up":[{"type":"gauge","help":"Up.","unit":""}]}`},
		{"metadata limit", "GET", "/api/v1/metadata", url.Values{"limit": {"1"}}, 200, "", `{"api_requests_total":[{"type":"counter","help":"Requests.","unit":""}]}`},
		{"format_query", "GET", "/api/v1/format_query", url.Values{"query": {"sum(rate(x[5m]))by(job)"}}, 200, "", `"sum by (job) (rate(x[5m]))"`},
		{"format_query error", "GET", "/api/v1/format_query", url.Values{"query": {"sum("}}, 400, "bad_data", "parse error"},
		{"exemplars", "GET", "/api/v1/query_exemplars", url.Values{"query": {"api_up"}}, 200, "", `[]`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var r resp
			if c.method == "POST" {
				r = e.do("POST", c.path, []byte(c.params.Encode()), map[string]string{"Content-Type": "application/x-www-form-urlencoded"})
			} else {
				r = e.get(c.path, c.params)
			}
			if r.code != c.code {
				t.Fatalf("status %d (%s), want %d", r.code, r.body, c.code)
			}
			if ct := r.hdr.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
			a := parseAPI(t, r)
			if c.errType != "" {
				if a.Status != "error" || a.ErrorType != c.errType {
					t.Errorf("got %s, want errorType %s", r.body, c.errType)
				}
				contains(t, "error", a.Error, c.want)
				return
			}
			if a.Status != "success" {
				t.Fatalf("status %q: %s", a.Status, r.body)
			}
			if c.want != "" && string(a.Data) != c.want {
				t.Errorf("data:\n got %s\nwant %s", a.Data, c.want)
			}
		})
	}
	r := e.get("/api/v1/query", url.Values{"query": {"api_requests_total"}, "time": {now}, "limit": {"1"}})
	if a := parseAPI(t, r); len(a.Warnings) != 1 || a.Warnings[0] != "results truncated due to limit" {
		t.Errorf("limit warning: %s", r.body)
	}
	r = e.get("/api/v1/status/buildinfo", nil)
	if want := `"version":"` + PrometheusVersion + `","revision":"kinsight test"`; !strings.Contains(r.body, want) {
		t.Errorf("buildinfo %s lacks %s", r.body, want)
	}
	// Warnings from the engine reach the envelope.
	r = e.get("/api/v1/query", url.Values{"query": {"rate(api_up[5m])"}, "time": {now}})
	if a := parseAPI(t, r); a.Status != "success" {
		t.Errorf("rate over a gauge: %s", r.body)
	}
}

func TestQueryTimeoutAndLimits(t *testing.T) {
	e := newEnv(t, Options{MaxSamples: 100}, HandlerOptions{})
	at := time.Now().Truncate(time.Second)
	var ss []prompb.Sample
	for i := range 1000 {
		ss = append(ss, prompb.Sample{Value: float64(i), Timestamp: ms(at.Add(time.Duration(i-1000) * time.Second))})
	}
	if r := e.write(&prompb.WriteRequest{Timeseries: []prompb.TimeSeries{{Labels: series("lim"), Samples: ss}}}); r.code != 204 {
		t.Fatalf("write: %d %s", r.code, r.body)
	}
	r := e.get("/api/v1/query", url.Values{"query": {"lim[20m]"}, "time": {fmtUnix(at)}})
	if a := parseAPI(t, r); r.code != 422 || a.ErrorType != "execution" || !strings.Contains(a.Error, "query processing would load too many samples") {
		t.Errorf("max samples: %d %s", r.code, r.body)
	}
	r = e.get("/api/v1/query", url.Values{"query": {"count_over_time(lim[20m])"}, "time": {fmtUnix(at)}, "timeout": {"0.000000001"}})
	if a := parseAPI(t, r); r.code != 503 || a.ErrorType != "timeout" {
		t.Errorf("timeout: %d %s", r.code, r.body)
	}
}

func TestParseTimeAndDuration(t *testing.T) {
	for _, c := range []struct {
		in   string
		want time.Time
		ok   bool
	}{
		{"1700000000", time.Unix(1700000000, 0), true},
		{"1700000000.123", time.Unix(1700000000, 123e6), true},
		{"1700000000.1239", time.Unix(1700000000, 124e6), true},
		{"2023-11-14T22:13:20Z", time.Unix(1700000000, 0), true},
		{"2023-11-14T23:13:20.5+01:00", time.Unix(1700000000, 5e8), true},
		{minTimeFormatted, minTime, true},
		{maxTimeFormatted, maxTime, true},
		{"", time.Time{}, false},
		{"NaN", time.Time{}, false},
		{"1e300", time.Time{}, false},
		{"2023-11-14", time.Time{}, false},
	} {
		got, err := ParseTime(c.in)
		if (err == nil) != c.ok || (c.ok && !got.Equal(c.want)) {
			t.Errorf("ParseTime(%q) = %v, %v; want %v ok=%v", c.in, got, err, c.want, c.ok)
		}
	}
	for _, c := range []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"15", 15 * time.Second, true},
		{"0.5", 500 * time.Millisecond, true},
		{"1m30s", 90 * time.Second, true},
		{"2d", 48 * time.Hour, true},
		{"1e100", 0, false},
		{"5 minutes", 0, false},
		{"", 0, false},
	} {
		got, err := ParseDuration(c.in)
		if (err == nil) != c.ok || got != c.want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v ok=%v", c.in, got, err, c.want, c.ok)
		}
	}
}
