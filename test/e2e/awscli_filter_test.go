package e2e

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

type acFilterOut struct {
	Events             []acEvent `json:"events"`
	SearchedLogStreams []struct {
		LogStreamName      string `json:"logStreamName"`
		SearchedCompletely bool   `json:"searchedCompletely"`
	} `json:"searchedLogStreams"`
	NextToken    string `json:"NextToken"` // the CLI's (--max-items)
	ServiceToken string `json:"nextToken"` // the service's (--no-paginate)
}

// acFilterCorpus is the filter test's events: index i is stamped base+i s,
// so time order is index order. Each pattern's expected matches are listed
// by index below; the comments say why the near misses do not match.
var acFilterCorpus = []struct{ stream, msg string }{
	0:  {"web-1", "ERROR timeout connecting to db"},
	1:  {"web-1", "ERROR disk full"},
	2:  {"web-2", "WARN timeout retrying"},
	3:  {"web-2", "INFO GET /healthz 200"},
	4:  {"api-1", "INTERNAL SERVER ERROR on /checkout"},
	5:  {"web-1", `{"level":"ERROR","latency":250,"path":"/api/users","user":{"id":7}}`},
	6:  {"web-2", `{"level":"INFO","latency":50,"path":"/api/orders"}`},
	7:  {"api-1", `{"level":"ERROR","latency":120,"path":"/web/home","err":null}`},
	8:  {"api-1", `{"level":"WARN","latency":1500,"path":"/api/slow","err":null}`},
	9:  {"web-1", `10.0.0.1 alice [10/Oct/2000:13:55:36] "GET /a.html" 404 2326`},
	10: {"web-2", `10.0.0.2 bob [10/Oct/2000:13:55:37] "GET /b.html" 403 512`},
	11: {"api-1", `10.0.0.3 carol [10/Oct/2000:13:55:38] "GET /c.html" 200 5000`},
	12: {"api-1", `10.0.0.4 dave [10/Oct/2000:13:55:39] "POST /d" 429 1001`},
	13: {"web-1", "code=ERR42 failed"},
	14: {"web-2", "code=ERR failed"},
}

// TestAWSCLIFilter runs `aws logs filter-log-events` with every family of
// filter pattern (internal/logquery/FILTERPATTERNS.md), stream selections,
// time ranges and both ways of paging.
func TestAWSCLIFilter(t *testing.T) {
	t.Parallel()
	p := startServer(t, "", withKeys())
	s := newACSeed(t, p)
	const g = "/e2e/filter"
	s.group(g)
	base := time.Now().Add(-30 * time.Minute).UnixMilli()
	byStream := map[string][]acEvent{}
	for i, e := range acFilterCorpus {
		byStream[e.stream] = append(byStream[e.stream], acEvent{Timestamp: base + int64(i)*1000, Message: e.msg})
	}
	for _, st := range []string{"api-1", "web-1", "web-2"} {
		s.stream(g, st)
		s.put(g, st, byStream[st]...)
	}
	want := func(idx ...int) []string {
		out := make([]string, len(idx))
		for i, x := range idx {
			out[i] = acFilterCorpus[x].msg
		}
		return out
	}
	allIdx := make([]int, len(acFilterCorpus))
	for i := range allIdx {
		allIdx[i] = i
	}
	// check verifies one result: messages in time order, each event's
	// stream, timestamp and a unique eventId.
	check := func(t *testing.T, what string, got []acEvent, wantIdx []int) {
		t.Helper()
		acEqual(t, what, acMessages(got), want(wantIdx...))
		ids := map[string]bool{}
		for _, e := range got {
			i := slices.IndexFunc(acFilterCorpus[:], func(c struct{ stream, msg string }) bool { return c.msg == e.Message })
			if i < 0 {
				continue
			}
			if e.LogStreamName != acFilterCorpus[i].stream || e.Timestamp != base+int64(i)*1000 || e.IngestionTime == 0 {
				t.Errorf("%s: event %q has stream %q timestamp %d ingestionTime %d, want %q %d", what, e.Message,
					e.LogStreamName, e.Timestamp, e.IngestionTime, acFilterCorpus[i].stream, base+int64(i)*1000)
			}
			if e.EventID == "" || ids[e.EventID] {
				t.Errorf("%s: event %q has an empty or repeated eventId %q", what, e.Message, e.EventID)
			}
			ids[e.EventID] = true
		}
	}

	t.Run("Patterns", func(t *testing.T) {
		c := newACLI(t, p, readerKey, readerSecret)
		for _, tc := range []struct {
			name, pattern string
			want          []int
		}{
			// Terms match as substrings, case-sensitively, all of them.
			{"terms AND", `ERROR timeout`, []int{0}},
			{"quoted phrase", `"INTERNAL SERVER ERROR"`, []int{4}},
			// ?terms: any of them (the JSON event 8 holds "WARN").
			{"optional terms", `?WARN ?disk`, []int{1, 2, 8}},
			{"exclusion", `ERROR -timeout`, []int{1, 4, 5, 7}},
			{"json equals", `{ $.level = "ERROR" }`, []int{5, 7}},
			// 7 is slow enough but not under /api; 6 is under /api but fast.
			{"json and", `{ $.latency > 100 && $.path = "/api*" }`, []int{5, 8}},
			{"json is null", `{ $.err IS NULL }`, []int{7, 8}},
			// Only JSON messages can lack a member; text never matches.
			{"json not exists", `{ $.err NOT EXISTS }`, []int{5, 6}},
			// 10 sent too few bytes, 11 has status 200; event 3's last
			// field is 200, and the rest have no numeric last field.
			{"space-delimited", `[ip, user, ..., status = 4*, bytes > 1000]`, []int{9, 12}},
			{"regex", `%code=ERR[0-9]+%`, []int{13}},
			{"empty", ``, allIdx},
		} {
			args := []string{"logs", "filter-log-events", "--log-group-name", g}
			if tc.pattern != "" {
				args = append(args, "--filter-pattern", tc.pattern)
			}
			var out acFilterOut
			c.ok(&out, args...)
			check(t, tc.name+" "+tc.pattern, out.Events, tc.want)
		}
		msg := c.fails("InvalidParameterException", "logs", "filter-log-events", "--log-group-name", g, "--filter-pattern", `{ $.level = }`)
		if !strings.Contains(msg, "Invalid filter pattern") {
			t.Errorf("bad pattern: %s", msg)
		}
	})

	t.Run("StreamsAndTime", func(t *testing.T) {
		c := newACLI(t, p, readerKey, readerSecret)
		var out acFilterOut
		c.ok(&out, "logs", "filter-log-events", "--log-group-name", g, "--filter-pattern", "ERROR", "--log-stream-names", "web-1", "web-2")
		check(t, "ERROR in web-1, web-2", out.Events, []int{0, 1, 5})
		var searched []string
		for _, st := range out.SearchedLogStreams {
			searched = append(searched, st.LogStreamName)
		}
		slices.Sort(searched)
		acEqual(t, "searchedLogStreams", searched, []string{"web-1", "web-2"})

		out = acFilterOut{}
		c.ok(&out, "logs", "filter-log-events", "--log-group-name", g, "--filter-pattern", "?WARN ?disk", "--log-stream-name-prefix", "web-")
		check(t, "?WARN ?disk in web-*", out.Events, []int{1, 2})

		// FilterLogEvents' endTime includes its own millisecond ("Events
		// with a timestamp later than this time are not returned").
		out = acFilterOut{}
		c.ok(&out, "logs", "filter-log-events", "--log-group-name", g,
			"--start-time", fmt.Sprint(base+5000), "--end-time", fmt.Sprint(base+9000))
		check(t, "[base+5s, base+9s]", out.Events, []int{5, 6, 7, 8, 9})
	})

	t.Run("PagesByStartingToken", func(t *testing.T) {
		c := newACLI(t, p, readerKey, readerSecret)
		var got []acEvent
		token := ""
		calls := 0
		for ; calls < 20; calls++ {
			args := []string{"logs", "filter-log-events", "--log-group-name", g, "--max-items", "6", "--page-size", "4"}
			if token != "" {
				args = append(args, "--starting-token", token)
			}
			var out acFilterOut
			c.ok(&out, args...)
			if len(out.Events) > 6 {
				t.Fatalf("%d events, more than --max-items 6", len(out.Events))
			}
			got = append(got, out.Events...)
			if token = out.NextToken; token == "" {
				break
			}
		}
		check(t, "6 items a call", got, allIdx)
		if calls+1 != 3 {
			t.Errorf("took %d calls, want 3 (15 events, 6 a call)", calls+1)
		}
	})

	t.Run("PagesByNextToken", func(t *testing.T) {
		c := newACLI(t, p, readerKey, readerSecret)
		var got []acEvent
		token := ""
		for calls := 0; ; calls++ {
			if calls == 10 {
				t.Fatalf("nextToken still set after 10 pages of 8")
			}
			args := []string{"logs", "filter-log-events", "--log-group-name", g, "--no-paginate", "--limit", "8"}
			if token != "" {
				args = append(args, "--next-token", token)
			}
			var out acFilterOut
			c.ok(&out, args...)
			if len(out.Events) > 8 {
				t.Fatalf("%d events, more than --limit 8", len(out.Events))
			}
			got = append(got, out.Events...)
			if token = out.ServiceToken; token == "" {
				break
			}
		}
		check(t, "8 a page", got, allIdx)
	})
}
