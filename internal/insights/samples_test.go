package insights

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
)

// readSamples returns the AWS documentation's sample queries kept by the
// parser's tests.
func readSamples(t testing.TB) []string {
	data, err := os.ReadFile("syntax/testdata/samples.txt")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, block := range strings.Split(string(data), "\n\n") {
		code := false
		for _, line := range strings.Split(block, "\n") {
			if l := strings.TrimSpace(line); l != "" && !strings.HasPrefix(l, "#") {
				code = true
			}
		}
		if code {
			out = append(out, strings.Trim(block, "\n"))
		}
	}
	return out
}

// containerInsightsEvents is a small fixture shaped like Container
// Insights: application logs (JSON with log, stream and kubernetes.*),
// performance logs (Type, CpuUtilization…), a Lambda REPORT-ish line and
// plain text.
func containerInsightsEvents() []Event {
	var evs []Event
	base := int64(1700000000000)
	pods := []string{"web-7d9f-abc", "web-7d9f-def", "db-0"}
	for i := 0; i < 60; i++ {
		ts := base + int64(i)*15000
		pod := pods[i%len(pods)]
		level := []string{"INFO", "ERROR", "WARN", "INFO"}[i%4]
		var msg string
		switch i % 5 {
		case 0, 1:
			msg = fmt.Sprintf(`{"log":"%s [%s] request %d user=u%d, method:GET, latency := %d Exception","stream":"stdout","kubernetes":{"pod_name":"%s","namespace_name":"payments","container_name":"app","host":"ip-10-0-0-%d","labels":{"app":"web"}},"statusCode":%d,"duration":%d}`,
				"2023-11-14", level, i, i%7, i*3, pod, i%4, 200+100*(i%4), i*100)
		case 2:
			msg = fmt.Sprintf(`{"Type":"Pod","PodName":"%s","Namespace":"payments","pod_cpu_utilization":%d.5,"pod_memory_utilization":%d,"ClusterName":"prod","kubernetes":{"pod_name":"%s","namespace_name":"payments"}}`, pod, i%50, i%70, pod)
		case 3:
			msg = fmt.Sprintf("REPORT RequestId: r-%d Duration: %d.25 ms Billed Duration: %d ms Memory Size: 128 MB Max Memory Used: %d MB", i, i*7, i*7+1, 40+i)
		default:
			msg = fmt.Sprintf("2023-11-14 [%s] {\"k\":%d} The error was: E%d url=/api/v%d/users/%d", level, i, i%3, i%2+1, i)
		}
		evs = append(evs, Event{Timestamp: ts, IngestionTime: ts + 500, Message: msg, Group: "/aws/containerinsights/prod/application", Stream: "prod/web/i-" + pod + "/0", Ptr: fmt.Sprint("p", i)})
	}
	return evs
}

// TestSamples runs every documented sample over the fixture: each
// compiles, runs, and gives the columns in testdata/samples.golden, and
// every row's fields are among those columns (plus @ptr).
func TestSamples(t *testing.T) {
	samples := readSamples(t)
	if len(samples) < 57 {
		t.Fatalf("read %d samples, want >= 57", len(samples))
	}
	st := &memStore{events: containerInsightsEvents(), blockSize: 16}
	var b strings.Builder
	for _, s := range samples {
		q, err := Compile(s)
		if err != nil {
			t.Errorf("%s: %v", s, err)
			continue
		}
		res, err := q.Run(context.Background(), st, Options{End: 1 << 62}, nil)
		if err != nil {
			t.Errorf("%s: %v", s, err)
			continue
		}
		cols := map[string]bool{"@ptr": true}
		for _, c := range q.Columns() {
			cols[c] = true
		}
		for _, r := range res.Rows {
			for _, f := range r {
				if !cols[f.Name] {
					t.Errorf("%s: row field %q is not a column of %v", s, f.Name, q.Columns())
				}
			}
		}
		fmt.Fprintf(&b, "%s\ncolumns: %s\nrows: %d\n\n", strings.Join(strings.Fields(s), " "), strings.Join(q.Columns(), ", "), len(res.Rows))
	}
	const golden = "testdata/samples.golden"
	if *update {
		if err := os.WriteFile(golden, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if string(want) != b.String() {
		t.Errorf("samples differ from %s (run with -update and review the diff):\n%s", golden, b.String())
	}
}
