package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"
)

// Logs Insights through the unmodified AWS CLI (start-query,
// get-query-results, stop-query, describe-queries, get-log-record, the
// query definitions) and through `kinsight logs query`.

type acQueryResults struct {
	Results [][]struct {
		Field string `json:"field"`
		Value string `json:"value"`
	} `json:"results"`
	Statistics struct {
		RecordsMatched float64 `json:"recordsMatched"`
		RecordsScanned float64 `json:"recordsScanned"`
		BytesScanned   float64 `json:"bytesScanned"`
	} `json:"statistics"`
	Status string `json:"status"`
}

func (r acQueryResults) rows() []map[string]string {
	var out []map[string]string
	for _, row := range r.Results {
		m := map[string]string{}
		for _, f := range row {
			m[f.Field] = f.Value
		}
		out = append(out, m)
	}
	return out
}

// acStartQuery runs `aws logs start-query` and returns the query id.
func acStartQuery(c acli, start, end int64, query string, groups ...string) string {
	c.t.Helper()
	args := []string{"logs", "start-query", "--start-time", strconv.FormatInt(start, 10), "--end-time", strconv.FormatInt(end, 10), "--query-string", query}
	if len(groups) == 1 {
		args = append(args, "--log-group-name", groups[0])
	} else {
		args = append(append(args, "--log-group-names"), groups...)
	}
	var out struct {
		QueryID string `json:"queryId"`
	}
	c.ok(&out, args...)
	if out.QueryID == "" {
		c.t.Fatal("start-query returned no queryId")
	}
	return out.QueryID
}

// acWaitQuery polls `aws logs get-query-results` until the query ends.
func acWaitQuery(c acli, id string) acQueryResults {
	c.t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		var res acQueryResults
		c.ok(&res, "logs", "get-query-results", "--query-id", id)
		switch res.Status {
		case "Complete", "Failed", "Cancelled", "Timeout":
			return res
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("query %s still %s after 2 minutes", id, res.Status)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func TestAWSCLIInsights(t *testing.T) {
	t.Parallel()
	p := startServer(t, "", withKeys())
	s := newACSeed(t, p)
	reader := newACLI(t, p, readerKey, readerSecret)
	admin := newACLI(t, p, adminKey, adminSecret)
	const g, g2 = "/e2e/insights/app", "/e2e/insights/api"
	s.group(g)
	s.group(g2)
	base := time.Now().Add(-20 * time.Minute).UnixMilli()
	levels := []string{"info", "info", "error", "warn"}
	for i, st := range []string{"web-1", "web-2"} {
		s.stream(g, st)
		var evs []acEvent
		for j := range 40 {
			evs = append(evs, acEvent{Timestamp: base + int64(j)*1000 + int64(i), Message: fmt.Sprintf(
				`{"level":%q,"n":%d,"kubernetes":{"pod_name":%q,"namespace_name":"shop"},"msg":"request %d"}`, levels[j%4], j, st, j)})
		}
		s.put(g, st, evs...)
	}
	s.stream(g2, "api-1")
	s.put(g2, "api-1", acEvent{Timestamp: base, Message: "plain ERROR line"}, acEvent{Timestamp: base + 1, Message: `{"level":"error","n":1000}`})
	start, end := time.Now().Add(-time.Hour).Unix(), time.Now().Unix()

	t.Run("QueryAndRecord", func(t *testing.T) {
		id := acStartQuery(reader, start, end,
			`fields @timestamp, @message, kubernetes.pod_name as pod | filter level = "error" | sort @timestamp desc | limit 5`, g)
		res := acWaitQuery(reader, id)
		rows := res.rows()
		if res.Status != "Complete" || len(rows) != 5 {
			t.Fatalf("status %s, %d rows: %+v", res.Status, len(rows), rows)
		}
		if res.Statistics.RecordsScanned != 80 || res.Statistics.RecordsMatched != 20 || res.Statistics.BytesScanned <= 0 {
			t.Errorf("statistics = %+v", res.Statistics)
		}
		if !strings.Contains(rows[0]["@message"], `"n":38`) || rows[0]["pod"] != "web-2" {
			t.Errorf("newest row = %v, want n 38 of web-2", rows[0])
		}
		if _, err := time.Parse("2006-01-02 15:04:05.000", rows[0]["@timestamp"]); err != nil {
			t.Errorf("@timestamp %q: %v", rows[0]["@timestamp"], err)
		}
		ptr := rows[0]["@ptr"]
		if ptr == "" {
			t.Fatalf("no @ptr in %v", rows[0])
		}
		var rec struct {
			LogRecord map[string]string `json:"logRecord"`
		}
		reader.ok(&rec, "logs", "get-log-record", "--log-record-pointer", ptr)
		want := map[string]string{"level": "error", "n": "38", "kubernetes.pod_name": "web-2", "@logStream": "web-2",
			"@log": "000000000000:" + g, "@message": rows[0]["@message"]}
		for k, v := range want {
			if rec.LogRecord[k] != v {
				t.Errorf("logRecord[%s] = %q, want %q", k, rec.LogRecord[k], v)
			}
		}
		reader.fails("InvalidParameterException", "logs", "get-log-record", "--log-record-pointer", "not-a-pointer")
	})

	t.Run("StatsOverTwoGroups", func(t *testing.T) {
		id := acStartQuery(reader, start, end, `stats count(*) as n by level | sort level`, g, g2)
		res := acWaitQuery(reader, id)
		got := map[string]string{}
		for _, r := range res.rows() {
			got[r["level"]] = r["n"]
		}
		// The plain line has no level: its group is the null one.
		if res.Status != "Complete" || got["error"] != "21" || got["info"] != "40" || got["warn"] != "20" || len(got) != 4 {
			t.Fatalf("status %s, counts %v", res.Status, got)
		}
		var dq struct {
			Queries []struct {
				QueryID, Status, QueryString, LogGroupName string
			} `json:"queries"`
		}
		reader.ok(&dq, "logs", "describe-queries", "--log-group-name", g2)
		if len(dq.Queries) != 1 || dq.Queries[0].QueryID != id || dq.Queries[0].Status != "Complete" {
			t.Fatalf("describe-queries %s: %+v", g2, dq.Queries)
		}
		reader.ok(&dq, "logs", "describe-queries", "--status", "Complete")
		if len(dq.Queries) < 2 {
			t.Fatalf("describe-queries Complete: %+v", dq.Queries)
		}
	})

	t.Run("Malformed", func(t *testing.T) {
		msg := reader.fails("MalformedQueryException", "logs", "start-query", "--log-group-name", g,
			"--start-time", strconv.FormatInt(start, 10), "--end-time", strconv.FormatInt(end, 10),
			"--query-string", "fields @message | fliter level = 1")
		if !strings.Contains(msg, "1:19") {
			t.Errorf("message does not locate the error: %s", msg)
		}
		// The CLI prints only the message; the location is in the body.
		_, err := acSDK(p, readerKey, readerSecret).StartQuery(context.Background(), &cloudwatchlogs.StartQueryInput{
			LogGroupName: aws.String(g), StartTime: aws.Int64(start), EndTime: aws.Int64(end),
			QueryString: aws.String("fields @message | fliter level = 1"),
		})
		var mq *types.MalformedQueryException
		if !errors.As(err, &mq) || mq.QueryCompileError == nil || mq.QueryCompileError.Location == nil ||
			aws.ToInt32(mq.QueryCompileError.Location.StartCharOffset) != 18 || aws.ToInt32(mq.QueryCompileError.Location.EndCharOffset) != 24 {
			t.Fatalf("SDK error %v; compile error %+v", err, mq)
		}
		reader.fails("ResourceNotFoundException", "logs", "start-query", "--log-group-name", "/e2e/nope",
			"--start-time", "0", "--end-time", strconv.FormatInt(end, 10), "--query-string", "fields @message")
		reader.fails("ResourceNotFoundException", "logs", "get-query-results", "--query-id", "nope")
		newACLI(t, p, agentKey, agentSecret).fails("AccessDeniedException", "logs", "start-query", "--log-group-name", g,
			"--start-time", "0", "--end-time", strconv.FormatInt(end, 10), "--query-string", "fields @message")
	})

	t.Run("StopLongQuery", func(t *testing.T) {
		// Megabyte messages and a regex without a required literal (so no
		// bloom filter or substring pre-test can skip them) that never
		// matches and that RE2 runs with its NFA: ~180 ms per message.
		const big = "/e2e/insights/big"
		s.group(big)
		s.stream(big, "s")
		msg := strings.Repeat("abcab", 200_000)
		at := time.Now().Add(-10 * time.Minute).UnixMilli()
		for i := range 64 {
			s.put(big, "s", acEvent{Timestamp: at + int64(i), Message: msg})
		}
		id := acStartQuery(reader, start, end, `filter @message like /(a|b|c)*(ab|ca)+[bc][bc][bc]/ | stats count(*)`, big)
		var so struct {
			Success bool `json:"success"`
		}
		began := time.Now()
		reader.ok(&so, "logs", "stop-query", "--query-id", id)
		if !so.Success {
			t.Fatalf("stop-query: success false: the query ended within %v; make it longer", time.Since(began))
		}
		if res := acWaitQuery(reader, id); res.Status != "Cancelled" {
			t.Fatalf("stopped query is %s", res.Status)
		}
	})

	t.Run("QueryDefinitions", func(t *testing.T) {
		var put struct {
			QueryDefinitionID string `json:"queryDefinitionId"`
		}
		admin.ok(&put, "logs", "put-query-definition", "--name", "e2e/errors-by-pod",
			"--query-string", "filter level = 'error' | stats count(*) by kubernetes.pod_name", "--log-group-names", g)
		keep := put.QueryDefinitionID
		admin.ok(&put, "logs", "put-query-definition", "--name", "e2e/gone", "--query-string", "fields @message")
		gone := put.QueryDefinitionID
		if keep == "" || gone == "" || keep == gone {
			t.Fatalf("ids %q %q", keep, gone)
		}
		reader.fails("AccessDeniedException", "logs", "put-query-definition", "--name", "x", "--query-string", "fields @message")
		var dd struct {
			QueryDefinitions []struct {
				QueryDefinitionID, Name, QueryString string
				LogGroupNames                        []string
			} `json:"queryDefinitions"`
		}
		reader.ok(&dd, "logs", "describe-query-definitions", "--query-definition-name-prefix", "e2e/")
		if len(dd.QueryDefinitions) != 2 || dd.QueryDefinitions[0].Name != "e2e/errors-by-pod" || dd.QueryDefinitions[0].LogGroupNames[0] != g {
			t.Fatalf("describe-query-definitions: %+v", dd)
		}
		var del struct {
			Success bool `json:"success"`
		}
		admin.ok(&del, "logs", "delete-query-definition", "--query-definition-id", gone)
		if !del.Success {
			t.Fatal("delete-query-definition: success false")
		}
		admin.fails("ResourceNotFoundException", "logs", "delete-query-definition", "--query-definition-id", gone)

		// Saved queries survive a restart.
		p.stop()
		p.restart()
		reader.ok(&dd, "logs", "describe-query-definitions")
		if len(dd.QueryDefinitions) != 1 || dd.QueryDefinitions[0].QueryDefinitionID != keep {
			t.Fatalf("after restart: %+v", dd)
		}
	})

	t.Run("KinsightLogsQuery", func(t *testing.T) {
		out := acKinsightOK(t, p, "query", "-g", g, "--since", "1h", "stats count(*) as n by kubernetes.pod_name as pod | sort pod")
		rows := acTableRows(out)
		if len(rows) < 3 || strings.Join(rows[0], " ") != "pod n" || strings.Join(rows[1], " ") != "web-1 40" || strings.Join(rows[2], " ") != "web-2 40" {
			t.Fatalf("table:\n%s", out)
		}
		out = acKinsightOK(t, p, "query", "-g", g, "-g", g2, "--since", "1h", "-o", "json",
			`fields @timestamp, level, n | filter level = "error" | sort n desc | limit 3`)
		var rows2 []map[string]string
		if err := json.Unmarshal([]byte(out), &rows2); err != nil || len(rows2) != 3 || rows2[0]["n"] != "1000" || rows2[0]["@ptr"] == "" {
			t.Fatalf("json (%v):\n%s", err, out)
		}
		_, err := acKinsight(t, p, "query", "-g", g, "fields @message\n| fliter x")
		if err == nil || !strings.Contains(err.Error(), "MalformedQueryException") || !strings.Contains(err.Error(), "| fliter x\n    ^") {
			t.Fatalf("malformed query error: %v", err)
		}
	})
}
