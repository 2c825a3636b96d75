package metricstore

import (
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestPushAPI(t *testing.T) {
	var clock time.Time
	now := func() time.Time { return clock }
	clock = time.Now().Truncate(time.Second)
	e := newEnv(t, Options{Now: now}, HandlerOptions{})
	query := func(q string) string {
		t.Helper()
		r := e.get("/api/v1/query", url.Values{"query": {q}, "time": {fmtUnix(clock)}})
		if r.code != 200 {
			t.Fatalf("query %s: %d %s", q, r.code, r.body)
		}
		return string(parseAPI(t, r).Data)
	}
	text := "text/plain; version=0.0.4"
	push := func(method, path, body string) resp {
		t.Helper()
		clock = clock.Add(time.Second)
		return e.do(method, path, []byte(body), map[string]string{"Content-Type": text})
	}

	r := push("PUT", "/metrics/job/batch/instance/host1", `# TYPE batch_done counter
# HELP batch_done Done items.
batch_done{stage="a"} 3
batch_done{stage="b",job="ignored"} 4
# TYPE batch_seconds summary
batch_seconds{quantile="0.5"} 1.5
batch_seconds_sum 10
batch_seconds_count 4
`)
	if r.code != 200 {
		t.Fatalf("PUT: %d %s", r.code, r.body)
	}
	pushT := clock
	if got := query(`batch_done`); !strings.Contains(got, `{"__name__":"batch_done","instance":"host1","job":"batch","stage":"a"}`) ||
		!strings.Contains(got, `{"__name__":"batch_done","instance":"host1","job":"batch","stage":"b"}`) {
		t.Errorf("grouping labels not applied: %s", got)
	}
	if got := query(`batch_seconds{quantile="0.5"}`); !strings.Contains(got, `"1.5"`) {
		t.Errorf("summary quantile: %s", got)
	}
	if got := query(`push_time_seconds{job="batch"}`); !strings.Contains(got, `"`+fmtUnix(pushT)+`"`) {
		t.Errorf("push_time_seconds = %s, want %s", got, fmtUnix(pushT))
	}
	if got := query(`push_failure_time_seconds{job="batch"}`); !strings.Contains(got, `,"0"]`) {
		t.Errorf("push_failure_time_seconds = %s, want 0", got)
	}

	// POST replaces only the families pushed.
	r = push("POST", "/metrics/job/batch/instance/host1", "# TYPE batch_seconds summary\nbatch_seconds_sum 20\nbatch_seconds_count 5\n")
	if r.code != 200 {
		t.Fatalf("POST: %d %s", r.code, r.body)
	}
	if got := query(`batch_done{stage="a"}`); !strings.Contains(got, `"3"`) {
		t.Errorf("POST dropped another family: %s", got)
	}
	if got := query(`batch_seconds{quantile="0.5"}`); got != `{"resultType":"vector","result":[]}` {
		t.Errorf("POST kept the old samples of a pushed family: %s", got)
	}
	// PUT replaces the whole group; the vanished series are stale at once.
	r = push("PUT", "/metrics/job/batch/instance/host1", "only_this 1\n")
	if r.code != 200 {
		t.Fatalf("PUT 2: %d %s", r.code, r.body)
	}
	if got := query(`batch_done`); got != `{"resultType":"vector","result":[]}` {
		t.Errorf("PUT kept old families: %s", got)
	}
	// base64 label values, empty values and slashes.
	r = push("PUT", "/metrics/job@base64/YmF0Y2gvMg/path@base64/L3Zhci90bXA=", "b64_metric 2\n")
	if r.code != 200 {
		t.Fatalf("PUT base64: %d %s", r.code, r.body)
	}
	if got := query(`b64_metric`); !strings.Contains(got, `"job":"batch/2","path":"/var/tmp"`) {
		t.Errorf("base64 grouping key: %s", got)
	}
	// Bad pushes: 400, counted as a failure of the group.
	for _, c := range []struct{ path, body, msg string }{
		{"/metrics/job/batch/instance/host1", "with_ts 1 1700000000000\n", "timestamps"},
		{"/metrics/job/batch/instance/host1", "not a metric line {\n", "failed to parse text"},
		{"/metrics/job/batch/instance/host1", "# TYPE b64_metric counter\nb64_metric 3\n", "inconsistent"},
		{"/metrics/job/batch/instance", "x 1\n", "odd number"},
		{"/metrics/job/batch/bad-label/x", "x 1\n", "improper label name"},
		{"/metrics/job/", "x 1\n", "push path"},
		{"/metrics/job@base64/!!!", "x 1\n", "base64"},
		{"/metrics/job/batch", "push_time_seconds 1\n", "set by the server"},
		{"/metrics/job/batch", "dup 1\ndup 2\n", "pushed twice"},
	} {
		r := push("PUT", c.path, c.body)
		if r.code != 400 {
			t.Errorf("PUT %s %q: %d %s, want 400", c.path, c.body, r.code, r.body)
			continue
		}
		contains(t, c.path, r.body, c.msg)
	}
	if got := query(`push_failure_time_seconds{job="batch"}`); strings.Contains(got, `,"0"]`) {
		t.Errorf("failed pushes not recorded: %s", got)
	}
	if got := e.counter("kinsight_metrics_push_requests_total", "400", "PUT"); got != 9 {
		t.Errorf("push requests{PUT,400} = %v, want 9", got)
	}

	// The Pushgateway's listing.
	r = e.get("/api/v1/metrics", nil)
	for _, want := range []string{`"labels":{"instance":"host1","job":"batch"}`, `"last_push_successful":false`,
		`"only_this":{"help":"","metrics":[{"labels":{"instance":"host1","job":"batch"},"value":"1"}],"time_stamp":"`,
		`"type":"UNTYPED"`, `"labels":{"job":"batch/2","path":"/var/tmp"},"last_push_successful":true`} {
		contains(t, "listing", r.body, want)
	}

	// Groups survive a restart and keep being written.
	e.reopen()
	if got := query(`only_this`); !strings.Contains(got, `"1"`) {
		t.Errorf("group lost on restart: %s", got)
	}
	clock = clock.Add(10 * time.Minute)
	if err := e.s.appendPushed(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := query(`only_this`); !strings.Contains(got, `"1"`) {
		t.Errorf("group not rewritten at the push interval: %s", got)
	}
	// DELETE removes the group and its series at once.
	clock = clock.Add(time.Second)
	if r := e.do("DELETE", "/metrics/job/batch/instance/host1", nil, nil); r.code != 202 {
		t.Fatalf("DELETE: %d %s", r.code, r.body)
	}
	if got := query(`{job="batch"}`); got != `{"resultType":"vector","result":[]}` {
		t.Errorf("deleted group still visible: %s", got)
	}
	if got := query(`b64_metric`); !strings.Contains(got, `"2"`) {
		t.Errorf("DELETE removed another group: %s", got)
	}
	if len(e.s.PushGroups()) != 1 {
		t.Errorf("groups after delete: %+v", e.s.PushGroups())
	}
	if _, err := os.Stat(filepath.Join(e.dir, "push-groups.json")); err != nil {
		t.Errorf("groups file: %v", err)
	}
}

func TestPushProtobuf(t *testing.T) {
	e := newEnv(t, Options{}, HandlerOptions{})
	// One delimited MetricFamily: name "pb_metric", type GAUGE, one metric with gauge value 5.
	mf := []byte{0x0a, 0x09, 'p', 'b', '_', 'm', 'e', 't', 'r', 'i', 'c', 0x18, 0x01, 0x22, 0x0b, 0x12, 0x09, 0x09, 0, 0, 0, 0, 0, 0, 0x14, 0x40}
	body := append([]byte{byte(len(mf))}, mf...)
	r := e.do("PUT", "/metrics/job/pb", body, map[string]string{
		"Content-Type": "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited"})
	if r.code != 200 {
		t.Fatalf("PUT protobuf: %d %s", r.code, r.body)
	}
	q := e.get("/api/v1/query", url.Values{"query": {"pb_metric"}})
	contains(t, "protobuf push", q.body, `"job":"pb"},"value":[`)
	contains(t, "protobuf push", q.body, `"5"]`)
}
