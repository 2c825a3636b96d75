package cwlogs

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kinsight/kinsight/internal/config"
	"github.com/kinsight/kinsight/internal/insights"
	"github.com/kinsight/kinsight/internal/logstore"
)

// queryEnv is env with the handler's queries stopped before the store
// closes.
func queryEnv(t *testing.T, mod ...func(*Options)) *env {
	e := newEnv(t, mod...)
	t.Cleanup(e.h.Close)
	return e
}

type queryResults struct {
	Results [][]resultField `json:"results"`
	Status  string          `json:"status"`
	Stats   queryStatistics `json:"statistics"`
	Next    string          `json:"nextToken"`
}

// waitQuery polls GetQueryResults until the query has ended.
func (e *env) waitQuery(id string) queryResults {
	e.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var out queryResults
		e.mustOK("GetQueryResults", m{"queryId": id}).decode(e.t, &out)
		if ended(out.Status) {
			return out
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("query %s still %s", id, out.Status)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (e *env) startQuery(in m) string {
	e.t.Helper()
	var out startQueryOutput
	e.mustOK("StartQuery", in).decode(e.t, &out)
	if out.QueryID == "" {
		e.t.Fatal("no queryId")
	}
	return out.QueryID
}

func fieldOf(row []resultField, name string) (string, bool) {
	for _, f := range row {
		if f.Field == name {
			return f.Value, true
		}
	}
	return "", false
}

// seedJSON stores JSON events in group/stream, one per second ending now.
func (e *env) seedJSON(group, stream string, msgs ...string) {
	e.t.Helper()
	e.seed(group, stream)
	now := nowMs()
	events := make([]m, len(msgs))
	for i, msg := range msgs {
		events[i] = m{"timestamp": now - int64(len(msgs)-i)*1000, "message": msg}
	}
	e.mustOK("PutLogEvents", m{"logGroupName": group, "logStreamName": stream, "logEvents": events})
}

func TestInsightsQueryFlow(t *testing.T) {
	e := queryEnv(t)
	e.seedJSON("app", "web-1",
		`{"level":"info","msg":"started","kubernetes":{"pod_name":"web-1","labels":{"app":"web"}},"ports":[80,443]}`,
		`{"level":"error","msg":"boom","kubernetes":{"pod_name":"web-1"}}`,
		`plain text line`,
	)
	e.seedJSON("app", "web-2", `{"level":"error","msg":"crash","kubernetes":{"pod_name":"web-2"}}`)
	e.seedJSON("other", "s", `{"level":"error","msg":"elsewhere"}`)
	now := time.Now().Unix()

	id := e.startQuery(m{"logGroupName": "app", "startTime": now - 3600, "endTime": now,
		"queryString": `fields @timestamp, @message, kubernetes.pod_name | filter level = "error" | sort @timestamp desc`})
	res := e.waitQuery(id)
	if res.Status != statusComplete || len(res.Results) != 2 {
		t.Fatalf("status %s, %d rows: %+v", res.Status, len(res.Results), res.Results)
	}
	if pod, _ := fieldOf(res.Results[0], "kubernetes.pod_name"); pod != "web-2" {
		t.Errorf("newest row's pod = %q, want web-2 (sorted desc)", pod)
	}
	if res.Stats.RecordsScanned != 4 || res.Stats.RecordsMatched != 2 || res.Stats.BytesScanned <= 0 || res.Stats.LogGroupsScanned != 1 {
		t.Errorf("statistics = %+v", res.Stats)
	}

	// @ptr leads to the whole record, JSON flattened.
	var ptr string
	for _, row := range res.Results {
		if msg, _ := fieldOf(row, "@message"); strings.Contains(msg, "boom") {
			ptr, _ = fieldOf(row, "@ptr")
		}
	}
	if ptr == "" {
		t.Fatalf("no @ptr in %+v", res.Results)
	}
	var rec getLogRecordOutput
	e.mustOK("GetLogRecord", m{"logRecordPointer": ptr}).decode(t, &rec)
	want := map[string]string{"level": "error", "msg": "boom", "kubernetes.pod_name": "web-1", "@logStream": "web-1", "@log": "123456789012:app"}
	for k, v := range want {
		if rec.LogRecord[k] != v {
			t.Errorf("logRecord[%s] = %q, want %q (%v)", k, rec.LogRecord[k], v, rec.LogRecord)
		}
	}
	for _, k := range []string{"@timestamp", "@ingestionTime", "@message"} {
		if rec.LogRecord[k] == "" {
			t.Errorf("logRecord lacks %s", k)
		}
	}
	wantErr(t, e.call("GetLogRecord", m{"logRecordPointer": "nope"}), 400, errInvalidParameter)
	wantErr(t, e.call("GetLogRecord", m{"logRecordPointer": "B" + strings.Repeat("A", 31)}), 400, errResourceNotFound)

	// Stats, several groups, and results in pages.
	id = e.startQuery(m{"logGroupNames": []string{"app", "other"}, "startTime": now - 3600, "endTime": now,
		"queryString": `stats count(*) as n by level | sort level`})
	res = e.waitQuery(id)
	if res.Status != statusComplete || len(res.Results) != 3 || res.Stats.LogGroupsScanned != 2 {
		t.Fatalf("stats: %+v", res)
	}
	var page queryResults
	e.mustOK("GetQueryResults", m{"queryId": id, "maxItems": 2}).decode(t, &page)
	if len(page.Results) != 2 || page.Next == "" {
		t.Fatalf("page 1: %+v", page)
	}
	e.mustOK("GetQueryResults", m{"queryId": id, "maxItems": 2, "nextToken": page.Next}).decode(t, &page)
	if len(page.Results) != 1 || page.Next != "" {
		t.Fatalf("page 2: %+v", page)
	}

	// DescribeQueries by group and status, newest first.
	var dq describeQueriesOutput
	e.mustOK("DescribeQueries", m{"logGroupName": "app", "status": "Complete"}).decode(t, &dq)
	if len(dq.Queries) != 2 || dq.Queries[0].QueryID != id || dq.Queries[0].QueryLanguage != "CWLI" || dq.Queries[1].CreateTime <= 0 {
		t.Fatalf("DescribeQueries: %+v", dq)
	}
	e.mustOK("DescribeQueries", m{"logGroupName": "other"}).decode(t, &dq)
	if len(dq.Queries) != 1 {
		t.Fatalf("DescribeQueries other: %+v", dq)
	}
	e.mustOK("DescribeQueries", m{"maxResults": 1}).decode(t, &dq)
	if len(dq.Queries) != 1 || dq.NextToken == "" {
		t.Fatalf("DescribeQueries page: %+v", dq)
	}
	wantErr(t, e.call("DescribeQueries", m{"status": "Bogus"}), 400, errInvalidParameter)
	wantErr(t, e.call("DescribeQueries", m{"logGroupName": "nope"}), 400, errResourceNotFound)

	// A finished query cannot be stopped.
	var so stopQueryOutput
	e.mustOK("StopQuery", m{"queryId": id}).decode(t, &so)
	if so.Success {
		t.Error("StopQuery of a finished query succeeded")
	}

	// GetLogGroupFields: the JSON keys of recent events with their share.
	var gf getLogGroupFieldsOutput
	e.mustOK("GetLogGroupFields", m{"logGroupName": "app"}).decode(t, &gf)
	pct := map[string]int{}
	for _, f := range gf.LogGroupFields {
		pct[f.Name] = f.Percent
	}
	if pct["@message"] != 100 || pct["level"] != 75 || pct["kubernetes.labels.app"] != 25 || pct["ports.1"] != 25 {
		t.Errorf("GetLogGroupFields = %v", pct)
	}
}

func TestInsightsErrors(t *testing.T) {
	e := queryEnv(t)
	e.seed("app", "s", nowMs())
	now := time.Now().Unix()
	base := func(kv ...any) m {
		in := m{"logGroupName": "app", "startTime": now - 60, "endTime": now, "queryString": "fields @message"}
		for i := 0; i+1 < len(kv); i += 2 {
			if kv[i+1] == nil {
				delete(in, kv[i].(string))
			} else {
				in[kv[i].(string)] = kv[i+1]
			}
		}
		return in
	}
	tests := []struct {
		name   string
		in     m
		status int
		typ    string
	}{
		{"unknown group", base("logGroupName", "nope"), 400, errResourceNotFound},
		{"no group", base("logGroupName", nil), 400, errInvalidParameter},
		{"two group params", base("logGroupNames", []string{"app"}), 400, errInvalidParameter},
		{"no start", base("startTime", nil), 400, errInvalidParameter},
		{"end before start", base("endTime", now-120), 400, errInvalidParameter},
		{"no query", base("queryString", nil), 400, errInvalidParameter},
		{"limit too big", base("limit", 10001), 400, errInvalidParameter},
		{"sql", base("queryLanguage", "SQL"), 400, errInvalidParameter},
		{"bad group ARN", base("logGroupName", nil, "logGroupIdentifiers", []string{"arn:aws:logs:us-east-1:123456789012:log-group:nope"}), 400, errResourceNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			wantErr(t, e.call("StartQuery", tc.in), tc.status, tc.typ)
		})
	}
	wantErr(t, e.call("GetQueryResults", m{"queryId": "nope"}), 400, errResourceNotFound)
	wantErr(t, e.call("StopQuery", m{"queryId": "nope"}), 400, errResourceNotFound)
	wantErr(t, e.call("GetQueryResults", m{}), 400, errInvalidParameter)

	// A group ARN works as an identifier.
	e.startQuery(base("logGroupName", nil, "logGroupIdentifiers", []string{"arn:aws:logs:us-east-1:123456789012:log-group:app:*"}))

	// Malformed queries say where, in characters.
	for _, q := range []string{"fields @message | fliter x", "fields é | stats bogus(x)", "filter @message like"} {
		r := e.call("StartQuery", base("queryString", q))
		wantErr(t, r, 400, errMalformedQuery)
		var body errorBody
		r.decode(t, &body)
		ce := body.QueryCompileError
		if ce == nil || ce.Message == "" || ce.Location.StartCharOffset < 0 || ce.Location.StartCharOffset > len([]rune(q)) ||
			ce.Location.EndCharOffset < ce.Location.StartCharOffset {
			t.Errorf("%q: queryCompileError = %+v (%s)", q, ce, r.body)
		}
		if q == "fields @message | fliter x" && (ce == nil || ce.Location.StartCharOffset != 18 || ce.Location.EndCharOffset != 24) {
			t.Errorf("%q: location = %+v, want 18..24", q, ce)
		}
	}

	// Readers may query, agents may not; saved queries are for admins.
	if r := e.callAs(config.RoleReader, "StartQuery", base()); r.status != 200 {
		t.Errorf("reader StartQuery: %s", r.body)
	}
	wantErr(t, e.callAs(config.RoleAgent, "StartQuery", base()), 400, "AccessDeniedException")
	wantErr(t, e.callAs(config.RoleReader, "PutQueryDefinition", m{"name": "x", "queryString": "fields @message"}), 400, "AccessDeniedException")
}

// blockingStore hands over one batch, then waits until its context ends.
type blockingStore struct{ scans atomic.Int32 }

func (b *blockingStore) Scan(ctx context.Context, req insights.ScanRequest, fn func([]insights.Event) error) (insights.ScanStats, error) {
	b.scans.Add(1)
	if err := fn([]insights.Event{{Timestamp: req.Start, Message: "first", Group: "g", Stream: "s", Ptr: "p"}}); err != nil {
		return insights.ScanStats{}, err
	}
	<-ctx.Done()
	return insights.ScanStats{RecordsScanned: 1, BytesScanned: 5}, ctx.Err()
}

func TestInsightsConcurrencyStopTimeoutTTL(t *testing.T) {
	var offset atomic.Int64
	clock := func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }
	e := queryEnv(t, func(o *Options) {
		o.Now = clock
		o.Insights = config.Insights{MaxConcurrentQueries: 2, QueryTimeout: config.Duration(time.Hour), ResultsTTL: config.Duration(time.Hour)}
	})
	e.h.queries.source = &blockingStore{}
	e.seed("app", "s")
	now := time.Now().Unix()
	in := m{"logGroupName": "app", "startTime": now - 60, "endTime": now, "queryString": "fields @message"}
	a, b := e.startQuery(in), e.startQuery(in)
	wantErr(t, e.call("StartQuery", in), 400, errLimitExceeded)

	var res queryResults
	e.mustOK("GetQueryResults", m{"queryId": a}).decode(t, &res)
	if res.Status != statusRunning && res.Status != statusScheduled {
		t.Fatalf("status %s, want Running", res.Status)
	}
	var so stopQueryOutput
	e.mustOK("StopQuery", m{"queryId": a}).decode(t, &so)
	if !so.Success {
		t.Fatal("StopQuery of a running query failed")
	}
	if res = e.waitQuery(a); res.Status != statusCancelled {
		t.Fatalf("stopped query is %s", res.Status)
	}
	c := e.startQuery(in) // room again
	var dq describeQueriesOutput
	e.mustOK("DescribeQueries", m{"status": "Running"}).decode(t, &dq)
	if len(dq.Queries) != 2 {
		t.Fatalf("running queries: %+v", dq.Queries)
	}
	e.h.queries.stopQuery(b)
	e.h.queries.stopQuery(c)

	// Results go after the TTL.
	offset.Store(int64(2 * time.Hour))
	wantErr(t, e.call("GetQueryResults", m{"queryId": a}), 400, errResourceNotFound)
}

func TestInsightsTimeout(t *testing.T) {
	e := queryEnv(t, func(o *Options) {
		o.Insights = config.Insights{QueryTimeout: config.Duration(100 * time.Millisecond)}
	})
	e.h.queries.source = &blockingStore{}
	e.seed("app", "s")
	now := time.Now().Unix()
	id := e.startQuery(m{"logGroupName": "app", "startTime": now - 60, "endTime": now, "queryString": "fields @message"})
	if res := e.waitQuery(id); res.Status != statusTimeout {
		t.Fatalf("status %s, want Timeout", res.Status)
	}
}

func TestInsightsManyConcurrentQueries(t *testing.T) {
	e := queryEnv(t)
	var msgs []string
	for i := range 200 {
		msgs = append(msgs, fmt.Sprintf(`{"n":%d,"level":"%s"}`, i, []string{"info", "error"}[i%2]))
	}
	e.seedJSON("app", "s", msgs...)
	now := time.Now().Unix()
	ids := make([]string, 30)
	for i := range ids {
		ids[i] = e.startQuery(m{"logGroupName": "app", "startTime": now - 3600, "endTime": now,
			"queryString": fmt.Sprintf(`filter n >= %d | stats count(*) as c`, i)})
	}
	for i, id := range ids {
		res := e.waitQuery(id)
		if c, _ := fieldOf(res.Results[0], "c"); res.Status != statusComplete || c != fmt.Sprint(200-i) {
			t.Errorf("query %d: %s %+v", i, res.Status, res.Results)
		}
	}
}

func TestQueryDefinitions(t *testing.T) {
	path := filepath.Join(t.TempDir(), "defs.json")
	e := queryEnv(t)
	if err := e.h.OpenQueryDefinitions(path); err != nil {
		t.Fatal(err)
	}
	var put putQueryDefinitionOutput
	e.mustOK("PutQueryDefinition", m{"name": "errors/by-pod", "queryString": "filter level = 'error' | stats count(*) by pod",
		"logGroupNames": []string{"app"}}).decode(t, &put)
	first := put.QueryDefinitionID
	e.mustOK("PutQueryDefinition", m{"name": "latency", "queryString": "stats avg(ms)"}).decode(t, &put)
	second := put.QueryDefinitionID
	if first == "" || first == second {
		t.Fatalf("ids %q %q", first, second)
	}
	// Update in place.
	e.mustOK("PutQueryDefinition", m{"queryDefinitionId": first, "name": "errors/by-pod", "queryString": "stats count(*)"}).decode(t, &put)
	if put.QueryDefinitionID != first {
		t.Fatalf("update changed the id")
	}
	wantErr(t, e.call("PutQueryDefinition", m{"queryDefinitionId": "nope", "name": "x", "queryString": "y"}), 400, errResourceNotFound)
	wantErr(t, e.call("PutQueryDefinition", m{"name": "x"}), 400, errInvalidParameter)

	// They survive a restart.
	e2 := queryEnv(t)
	if err := e2.h.OpenQueryDefinitions(path); err != nil {
		t.Fatal(err)
	}
	var dd describeQueryDefinitionsOutput
	e2.mustOK("DescribeQueryDefinitions", m{"queryDefinitionNamePrefix": "errors/"}).decode(t, &dd)
	if len(dd.QueryDefinitions) != 1 || dd.QueryDefinitions[0].QueryString != "stats count(*)" || dd.QueryDefinitions[0].LastModified <= 0 {
		t.Fatalf("after restart: %+v", dd)
	}
	e2.mustOK("DescribeQueryDefinitions", m{"maxResults": 1}).decode(t, &dd)
	if len(dd.QueryDefinitions) != 1 || dd.NextToken == "" {
		t.Fatalf("page: %+v", dd)
	}
	var del stopQueryOutput
	e2.mustOK("DeleteQueryDefinition", m{"queryDefinitionId": second}).decode(t, &del)
	if !del.Success {
		t.Fatal("delete failed")
	}
	wantErr(t, e2.call("DeleteQueryDefinition", m{"queryDefinitionId": second}), 400, errResourceNotFound)
	e2.mustOK("DescribeQueryDefinitions", m{}).decode(t, &dd)
	if len(dd.QueryDefinitions) != 1 || dd.QueryDefinitions[0].QueryDefinitionID != first {
		t.Fatalf("after delete: %+v", dd)
	}
	if r := e2.call("DescribeQueryDefinitions", m{"nextToken": "garbage"}); r.status != http.StatusBadRequest {
		t.Fatalf("bad token: %s", r.body)
	}
}

func TestFlattenJSON(t *testing.T) {
	tests := []struct {
		msg  string
		want map[string]string
	}{
		{`{"a":1,"b":{"c":"x","d":[true,null,{"e":1.5}]}}`, map[string]string{"a": "1", "b.c": "x", "b.d.0": "true", "b.d.1": "null", "b.d.2.e": "1.5"}},
		{`{"s":"{\"inner\":1}"}`, map[string]string{"s": `{"inner":1}`}},
		{`not json`, map[string]string{}},
		{`[1,2]`, map[string]string{}},
		{`{"a":1} trailing`, map[string]string{"a": "1"}},
		{`{"broken":`, map[string]string{}},
	}
	for _, tc := range tests {
		got := map[string]string{}
		flattenJSON(tc.msg, got)
		if fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("flattenJSON(%s) = %v, want %v", tc.msg, got, tc.want)
		}
	}
}

func TestInsightsPartialResults(t *testing.T) {
	e := queryEnv(t)
	e.h.queries.source = &blockingStore{}
	e.seed("app", "s")
	now := time.Now().Unix()
	id := e.startQuery(m{"logGroupName": "app", "startTime": now - 60, "endTime": now, "queryString": "fields @message"})
	deadline := time.Now().Add(5 * time.Second)
	for {
		var res queryResults
		e.mustOK("GetQueryResults", m{"queryId": id}).decode(t, &res)
		if res.Status != statusRunning && res.Status != statusScheduled {
			t.Fatalf("status %s while the store blocks", res.Status)
		}
		if len(res.Results) == 1 {
			if msg, _ := fieldOf(res.Results[0], "@message"); msg != "first" {
				t.Fatalf("partial row %+v", res.Results[0])
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no partial rows within 5s of a Running query")
		}
		time.Sleep(50 * time.Millisecond)
	}
	e.h.queries.stopQuery(id)
	if res := e.waitQuery(id); res.Status != statusCancelled || len(res.Results) != 1 {
		t.Fatalf("after stop: %s %+v", res.Status, res.Results)
	}
}

func TestQueryManagerKeepsBoundedResults(t *testing.T) {
	m := newQueryManager(nil, config.Insights{}, nil, time.Now, "1")
	now := time.Now()
	for i := range maxKeptQueries + 10 {
		q := &queryState{id: fmt.Sprint(i), status: statusComplete, finished: now.Add(time.Duration(i) * time.Millisecond)}
		m.byID[q.id] = q
	}
	m.sweepLocked()
	if len(m.byID) != maxKeptQueries || m.byID["0"] != nil || m.byID["9"] != nil || m.byID["10"] == nil {
		t.Fatalf("kept %d; oldest kept: %v", len(m.byID), m.byID["10"] != nil)
	}
}

func FuzzFlattenJSON(f *testing.F) {
	f.Add(`{"a":1,"b":{"c":[1,{"d":null}]}}`)
	f.Add(`{"":{"":""}}`)
	f.Add(`not json`)
	f.Fuzz(func(t *testing.T, msg string) {
		out := map[string]string{}
		flattenJSON(msg, out)
		for k := range out {
			if strings.HasPrefix(k, "@") && !strings.Contains(msg, "@") {
				t.Fatalf("key %q from nowhere", k)
			}
		}
	})
}

// BenchmarkStoreAdapter measures the store side of a full-scan query: the
// store's Scan plus the events and @ptr strings the executor receives.
func BenchmarkStoreAdapter(b *testing.B) {
	store, err := logstore.Open(b.TempDir(), logstore.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	store.CreateGroup("g", logstore.Group{})
	store.CreateStream("g", "s")
	now := time.Now().UnixMilli()
	var bytes int64
	for batch := range 20 {
		evs := make([]logstore.InputEvent, 1000)
		for i := range evs {
			evs[i] = logstore.InputEvent{Timestamp: now - int64(20000-batch*1000-i), Message: fmt.Sprintf(
				`{"level":"info","kubernetes":{"pod_name":"web-%d","namespace_name":"shop"},"msg":"GET /api/orders/%d 200 %dms"}`, i%7, i, i%300)}
			bytes += int64(len(evs[i].Message))
		}
		if _, err := store.Append(context.Background(), "g", "s", evs); err != nil {
			b.Fatal(err)
		}
	}
	if err := store.Flush(); err != nil {
		b.Fatal(err)
	}
	a := &storeAdapter{store: store, account: "000000000000"}
	req := insights.ScanRequest{Groups: []string{"g"}, Start: 0, End: now + 1, MayMatch: func(func(string) bool) bool { return true }}
	b.SetBytes(bytes)
	b.ReportAllocs()
	for b.Loop() {
		n := 0
		if _, err := a.Scan(context.Background(), req, func(evs []insights.Event) error { n += len(evs); return nil }); err != nil || n != 20000 {
			b.Fatalf("%d events, %v", n, err)
		}
	}
}
