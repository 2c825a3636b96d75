package e2e

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"
)

// The tests in the awscli_*_test.go files drive a real kinsight server with
// the real AWS CLI (Debian's awscli 2.x), as a user pointing `aws logs` at
// kinsight with --endpoint-url would. Each top-level test starts one server
// and shares it between its subtests; they run in parallel because most of
// their time is the CLI's start-up.

type acGroup struct {
	LogGroupName      string `json:"logGroupName"`
	CreationTime      int64  `json:"creationTime"`
	RetentionInDays   *int   `json:"retentionInDays"`
	MetricFilterCount *int   `json:"metricFilterCount"`
	Arn               string `json:"arn"`
	LogGroupArn       string `json:"logGroupArn"`
	StoredBytes       *int64 `json:"storedBytes"`
}

type acGroupsOut struct {
	LogGroups []acGroup `json:"logGroups"`
	// NextToken is the CLI's own pagination token (with --max-items);
	// nextToken the service's (with --no-paginate).
	NextToken  string `json:"NextToken"`
	NextToken2 string `json:"nextToken"`
}

type acStream struct {
	LogStreamName       string `json:"logStreamName"`
	CreationTime        int64  `json:"creationTime"`
	FirstEventTimestamp int64  `json:"firstEventTimestamp"`
	LastEventTimestamp  int64  `json:"lastEventTimestamp"`
	LastIngestionTime   int64  `json:"lastIngestionTime"`
	Arn                 string `json:"arn"`
	StoredBytes         int64  `json:"storedBytes"`
}

type acStreamsOut struct {
	LogStreams []acStream `json:"logStreams"`
	NextToken  string     `json:"NextToken"`
}

func acGroupNames(gs []acGroup) []string {
	out := make([]string, len(gs))
	for i, g := range gs {
		out[i] = g.LogGroupName
	}
	return out
}

func acStreamNames(ss []acStream) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = s.LogStreamName
	}
	return out
}

// acPageGroups follows describe-log-groups by hand: --max-items items a call,
// passing the CLI's NextToken back as --starting-token.
func acPageGroups(t *testing.T, c acli, maxItems, pageSize int, extra ...string) (names []string, calls int) {
	t.Helper()
	token := ""
	for calls = 1; calls <= 100; calls++ {
		args := append([]string{"logs", "describe-log-groups", "--max-items", fmt.Sprint(maxItems), "--page-size", fmt.Sprint(pageSize)}, extra...)
		if token != "" {
			args = append(args, "--starting-token", token)
		}
		var out acGroupsOut
		c.ok(&out, args...)
		if len(out.LogGroups) > maxItems {
			t.Errorf("call %d returned %d groups, more than --max-items %d", calls, len(out.LogGroups), maxItems)
		}
		if out.NextToken != "" && len(out.LogGroups) != maxItems {
			t.Errorf("call %d returned %d groups and a NextToken; a truncated page has --max-items %d", calls, len(out.LogGroups), maxItems)
		}
		names = append(names, acGroupNames(out.LogGroups)...)
		if out.NextToken == "" {
			return names, calls
		}
		token = out.NextToken
	}
	t.Fatalf("describe-log-groups still had a NextToken after 100 calls")
	return nil, 0
}

func acPageStreams(t *testing.T, c acli, group string, maxItems, pageSize int) (names []string, calls int) {
	t.Helper()
	token := ""
	for calls = 1; calls <= 100; calls++ {
		args := []string{"logs", "describe-log-streams", "--log-group-name", group, "--max-items", fmt.Sprint(maxItems), "--page-size", fmt.Sprint(pageSize)}
		if token != "" {
			args = append(args, "--starting-token", token)
		}
		var out acStreamsOut
		c.ok(&out, args...)
		if len(out.LogStreams) > maxItems {
			t.Errorf("call %d returned %d streams, more than --max-items %d", calls, len(out.LogStreams), maxItems)
		}
		names = append(names, acStreamNames(out.LogStreams)...)
		if out.NextToken == "" {
			return names, calls
		}
		token = out.NextToken
	}
	t.Fatalf("describe-log-streams still had a NextToken after 100 calls")
	return nil, 0
}

// TestAWSCLIGroupsStreams creates, lists (every way of paging the CLI
// offers), filters and deletes log groups and streams.
func TestAWSCLIGroupsStreams(t *testing.T) {
	t.Parallel()
	p := startServer(t, "", withKeys())
	c := newACLI(t, p, adminKey, adminSecret)
	s := newACSeed(t, p)
	started := time.Now().UnixMilli()

	// 60 paging groups created in a shuffled order, so name order (what
	// AWS lists by: "ASCII-sorted by log group name") is not creation
	// order, plus the groups of the name-pattern example in the AWS
	// documentation of logGroupNamePattern (a case-sensitive substring
	// search: DataLogs matches DataLogs, aws/DataLogs and GroupDataLogs,
	// not datalogs, Data/log/s or Groupdata). Group names may not start
	// with "aws/" here, so that one is "x-aws/DataLogs".
	var paged []string
	for i := range 60 {
		paged = append(paged, fmt.Sprintf("/e2e/pg/%02d-%c", i, 'a'+rune(i%26)))
	}
	patternMatch := []string{"DataLogs", "GroupDataLogs", "x-aws/DataLogs"}
	patternOther := []string{"datalogs", "Data/log/s", "Groupdata"}
	all := slices.Concat(paged, patternMatch, patternOther)
	for _, i := range rand.Perm(len(all)) {
		s.group(all[i])
	}
	c.ok(nil, "logs", "create-log-group", "--log-group-name", "/e2e/cli-made")
	all = append(all, "/e2e/cli-made")
	slices.Sort(all)
	slices.Sort(paged)
	slices.Sort(patternMatch)

	t.Run("CreateDuplicateGroup", func(t *testing.T) {
		c := newACLI(t, p, adminKey, adminSecret)
		msg := c.fails("ResourceAlreadyExistsException", "logs", "create-log-group", "--log-group-name", "/e2e/cli-made")
		if !strings.Contains(msg, "The specified log group already exists") {
			t.Errorf("message: %s", msg)
		}
	})

	t.Run("GroupsByHandWithMaxItems", func(t *testing.T) {
		c := newACLI(t, p, adminKey, adminSecret)
		// 13 items a call from service pages of 5: most calls end inside a
		// service page, so the CLI's token must resume mid-page.
		names, calls := acPageGroups(t, c, 13, 5, "--log-group-name-prefix", "/e2e/pg/")
		acEqual(t, "groups paged by hand", names, paged)
		if calls != 5 {
			t.Errorf("took %d calls, want 5 (60 groups, 13 a call)", calls)
		}
	})

	t.Run("GroupsFollowedByCLI", func(t *testing.T) {
		c := newACLI(t, p, adminKey, adminSecret)
		var out acGroupsOut
		c.ok(&out, "logs", "describe-log-groups", "--page-size", "7")
		acEqual(t, "all groups, 7 a service page", acGroupNames(out.LogGroups), all)
		if out.NextToken != "" {
			t.Errorf("NextToken %q after a full listing", out.NextToken)
		}
		for _, g := range out.LogGroups {
			wantARN := "arn:aws:logs:us-east-1:000000000000:log-group:" + g.LogGroupName + ":*"
			if g.Arn != wantARN {
				t.Errorf("%s: arn %q, want %q", g.LogGroupName, g.Arn, wantARN)
			}
			if g.CreationTime < started-5000 || g.CreationTime > time.Now().UnixMilli()+5000 {
				t.Errorf("%s: creationTime %d outside the test's run", g.LogGroupName, g.CreationTime)
			}
			if g.StoredBytes == nil || *g.StoredBytes != 0 || g.RetentionInDays != nil {
				t.Errorf("%s: storedBytes %v retentionInDays %v, want 0 and absent", g.LogGroupName, g.StoredBytes, g.RetentionInDays)
			}
		}
	})

	t.Run("GroupNamePattern", func(t *testing.T) {
		c := newACLI(t, p, adminKey, adminSecret)
		var out acGroupsOut
		c.ok(&out, "logs", "describe-log-groups", "--log-group-name-pattern", "DataLogs")
		acEqual(t, "pattern DataLogs", acGroupNames(out.LogGroups), patternMatch)
		// "If you specify logGroupNamePattern in your request, then only
		// arn, creationTime, and logGroupName are included in the response."
		for _, g := range out.LogGroups {
			if g.StoredBytes != nil || g.MetricFilterCount != nil || g.Arn == "" || g.CreationTime == 0 {
				t.Errorf("%s with a pattern: %+v, want only arn, creationTime and logGroupName", g.LogGroupName, g)
			}
		}
		c.fails("InvalidParameterException", "logs", "describe-log-groups", "--log-group-name-pattern", "Data", "--log-group-name-prefix", "Data")
	})

	// Streams: 60 in one group, created shuffled.
	const sg = "/e2e/streams"
	s.group(sg)
	var streams []string
	for i := range 60 {
		streams = append(streams, fmt.Sprintf("s-%03d", i))
	}
	for _, i := range rand.Perm(len(streams)) {
		s.stream(sg, streams[i])
	}

	t.Run("StreamsByHandWithMaxItems", func(t *testing.T) {
		c := newACLI(t, p, adminKey, adminSecret)
		names, calls := acPageStreams(t, c, sg, 17, 6)
		acEqual(t, "streams paged by hand", names, streams)
		if calls != 4 {
			t.Errorf("took %d calls, want 4 (60 streams, 17 a call)", calls)
		}
	})

	t.Run("StreamsFollowedByCLIAndPrefix", func(t *testing.T) {
		c := newACLI(t, p, adminKey, adminSecret)
		var out acStreamsOut
		c.ok(&out, "logs", "describe-log-streams", "--log-group-name", sg, "--page-size", "9")
		acEqual(t, "all streams, 9 a service page", acStreamNames(out.LogStreams), streams)
		for _, st := range out.LogStreams {
			if want := "arn:aws:logs:us-east-1:000000000000:log-group:" + sg + ":log-stream:" + st.LogStreamName; st.Arn != want {
				t.Errorf("stream arn %q, want %q", st.Arn, want)
			}
		}
		out = acStreamsOut{}
		c.ok(&out, "logs", "describe-log-streams", "--log-group-name", sg, "--log-stream-name-prefix", "s-01")
		acEqual(t, "prefix s-01", acStreamNames(out.LogStreams), streams[10:20])
	})

	t.Run("StreamsByLastEventTime", func(t *testing.T) {
		c := newACLI(t, p, adminKey, adminSecret)
		const g = "/e2e/order"
		s.group(g)
		// Last-event order differs from name and creation order.
		now := time.Now().Add(-time.Hour).UnixMilli()
		last := map[string]int64{"a": now + 3000, "b": now + 1000, "c": now + 5000, "d": now + 500, "e": now + 4000}
		for _, name := range []string{"e", "d", "c", "b", "a"} {
			s.stream(g, name)
			s.put(g, name, acEvent{Timestamp: now, Message: "first " + name}, acEvent{Timestamp: last[name], Message: "last " + name})
		}
		var out acStreamsOut
		c.ok(&out, "logs", "describe-log-streams", "--log-group-name", g, "--order-by", "LastEventTime", "--descending")
		acEqual(t, "LastEventTime descending", acStreamNames(out.LogStreams), []string{"c", "e", "a", "b", "d"})
		for _, st := range out.LogStreams {
			if st.LastEventTimestamp != last[st.LogStreamName] || st.FirstEventTimestamp != now {
				t.Errorf("%s: first/last event %d/%d, want %d/%d", st.LogStreamName, st.FirstEventTimestamp, st.LastEventTimestamp, now, last[st.LogStreamName])
			}
		}
		// AWS: "If you order the results by event time, you cannot specify
		// the logStreamNamePrefix parameter." (InvalidParameterException)
		c.fails("InvalidParameterException", "logs", "describe-log-streams", "--log-group-name", g,
			"--order-by", "LastEventTime", "--log-stream-name-prefix", "a")
	})

	t.Run("NotFoundAndDuplicates", func(t *testing.T) {
		c := newACLI(t, p, adminKey, adminSecret)
		msg := c.fails("ResourceNotFoundException", "logs", "describe-log-streams", "--log-group-name", "/e2e/missing")
		if !strings.Contains(msg, "The specified log group does not exist.") {
			t.Errorf("message: %s", msg)
		}
		c.fails("ResourceNotFoundException", "logs", "create-log-stream", "--log-group-name", "/e2e/missing", "--log-stream-name", "x")
		msg = c.fails("ResourceNotFoundException", "logs", "get-log-events", "--log-group-name", sg, "--log-stream-name", "no-such-stream")
		if !strings.Contains(msg, "The specified log stream does not exist.") {
			t.Errorf("message: %s", msg)
		}
		c.ok(nil, "logs", "create-log-stream", "--log-group-name", sg, "--log-stream-name", "cli-stream")
		c.fails("ResourceAlreadyExistsException", "logs", "create-log-stream", "--log-group-name", sg, "--log-stream-name", "cli-stream")
	})

	t.Run("Delete", func(t *testing.T) {
		c := newACLI(t, p, adminKey, adminSecret)
		c.ok(nil, "logs", "delete-log-stream", "--log-group-name", sg, "--log-stream-name", "s-000")
		var out acStreamsOut
		c.ok(&out, "logs", "describe-log-streams", "--log-group-name", sg, "--log-stream-name-prefix", "s-00")
		acEqual(t, "prefix s-00 after deleting s-000", acStreamNames(out.LogStreams), streams[1:10])
		c.fails("ResourceNotFoundException", "logs", "delete-log-stream", "--log-group-name", sg, "--log-stream-name", "s-000")

		c.ok(nil, "logs", "delete-log-group", "--log-group-name", "/e2e/cli-made")
		var groups acGroupsOut
		c.ok(&groups, "logs", "describe-log-groups", "--log-group-name-prefix", "/e2e/")
		got := acGroupNames(groups.LogGroups)
		if slices.Contains(got, "/e2e/cli-made") || !slices.Contains(got, sg) {
			t.Errorf("groups under /e2e/ after deleting /e2e/cli-made: %q", got)
		}
		c.fails("ResourceNotFoundException", "logs", "delete-log-group", "--log-group-name", "/e2e/cli-made")
	})
}
