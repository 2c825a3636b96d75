package cli

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"
)

// fakeQuery answers StartQuery with an id and GetQueryResults from a
// script of answers, one per poll (the last one repeats).
type fakeQuery struct {
	fakeLogs
	startErr error
	started  []cloudwatchlogs.StartQueryInput
	polls    []*cloudwatchlogs.GetQueryResultsOutput
	polled   int
	stopped  []string
}

func (f *fakeQuery) StartQuery(_ context.Context, in *cloudwatchlogs.StartQueryInput, _ ...func(*cloudwatchlogs.Options)) (*cloudwatchlogs.StartQueryOutput, error) {
	f.started = append(f.started, *in)
	if f.startErr != nil {
		return nil, f.startErr
	}
	return &cloudwatchlogs.StartQueryOutput{QueryId: aws.String("q1")}, nil
}

func (f *fakeQuery) GetQueryResults(_ context.Context, in *cloudwatchlogs.GetQueryResultsInput, _ ...func(*cloudwatchlogs.Options)) (*cloudwatchlogs.GetQueryResultsOutput, error) {
	out := f.polls[min(f.polled, len(f.polls)-1)]
	f.polled++
	return out, nil
}

func (f *fakeQuery) StopQuery(_ context.Context, in *cloudwatchlogs.StopQueryInput, _ ...func(*cloudwatchlogs.Options)) (*cloudwatchlogs.StopQueryOutput, error) {
	f.stopped = append(f.stopped, aws.ToString(in.QueryId))
	return &cloudwatchlogs.StopQueryOutput{Success: true}, nil
}

func row(kv ...string) []types.ResultField {
	var r []types.ResultField
	for i := 0; i+1 < len(kv); i += 2 {
		r = append(r, types.ResultField{Field: aws.String(kv[i]), Value: aws.String(kv[i+1])})
	}
	return r
}

func TestLogsQuery(t *testing.T) {
	running := &cloudwatchlogs.GetQueryResultsOutput{Status: types.QueryStatusRunning, Results: [][]types.ResultField{row("pod", "a")},
		Statistics: &types.QueryStatistics{RecordsScanned: 10}}
	complete := &cloudwatchlogs.GetQueryResultsOutput{Status: types.QueryStatusComplete,
		Results: [][]types.ResultField{
			row("pod", "web-1", "count(*)", "12", "@ptr", "p1"),
			row("pod", "api, \"x\"", "count(*)", "3", "@ptr", "p2"),
			row("count(*)", "1"), // a null pod is omitted, as AWS does
		},
		Statistics: &types.QueryStatistics{RecordsMatched: 16, RecordsScanned: 100, BytesScanned: 2048}}
	tests := []struct {
		name       string
		args       []string
		polls      []*cloudwatchlogs.GetQueryResultsOutput
		wantOut    []string
		notOut     []string
		wantStderr string
		check      func(t *testing.T, in cloudwatchlogs.StartQueryInput)
	}{
		{
			name:       "table after polling",
			args:       []string{"query", "-g", "app", "-g", "api", "--since", "2h", "--limit", "50", "stats count(*) by pod"},
			polls:      []*cloudwatchlogs.GetQueryResultsOutput{running, complete},
			wantOut:    []string{"pod       count(*)\n", "web-1     12\n", "api, \"x\"  3\n", "3 rows; 16 records matched, 100 scanned, 2.0KiB scanned"},
			notOut:     []string{"@ptr", "p1"},
			wantStderr: "Running: 1 rows so far, 10 records scanned",
			check: func(t *testing.T, in cloudwatchlogs.StartQueryInput) {
				if strings.Join(in.LogGroupNames, ",") != "app,api" || aws.ToInt32(in.Limit) != 50 ||
					aws.ToInt64(in.EndTime) != testNow.Unix() || aws.ToInt64(in.StartTime) != testNow.Unix()-7200 ||
					aws.ToString(in.QueryString) != "stats count(*) by pod" {
					t.Errorf("input = %+v", in)
				}
			},
		},
		{
			name:    "json",
			args:    []string{"query", "-g", "app", "-o", "json", "q"},
			polls:   []*cloudwatchlogs.GetQueryResultsOutput{complete},
			wantOut: []string{`"pod": "web-1"`, `"@ptr": "p1"`},
			check: func(t *testing.T, in cloudwatchlogs.StartQueryInput) {
				if aws.ToInt64(in.StartTime) != testNow.Unix()-3600 || in.Limit != nil {
					t.Errorf("default range/limit: %+v", in)
				}
			},
		},
		{
			name:    "csv",
			args:    []string{"query", "-g", "app", "-o", "csv", "q"},
			polls:   []*cloudwatchlogs.GetQueryResultsOutput{complete},
			wantOut: []string{"pod,count(*)\nweb-1,12\n\"api, \"\"x\"\"\",3\n,1\n"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeQuery{polls: tc.polls}
			out, stderr, err := runLogs(t, f, tc.args...)
			if err != nil {
				t.Fatalf("err %v; stderr %s", err, stderr)
			}
			for _, w := range tc.wantOut {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			for _, w := range tc.notOut {
				if strings.Contains(out, w) {
					t.Errorf("output has %q:\n%s", w, out)
				}
			}
			if !strings.Contains(stderr, tc.wantStderr) {
				t.Errorf("stderr lacks %q: %q", tc.wantStderr, stderr)
			}
			if tc.name == "json" {
				var rows []map[string]string
				if err := json.Unmarshal([]byte(out), &rows); err != nil || len(rows) != 3 {
					t.Errorf("json output: %v %v", rows, err)
				}
			}
			if tc.check != nil {
				tc.check(t, f.started[0])
			}
		})
	}
}

func TestLogsQueryErrors(t *testing.T) {
	malformed := &types.MalformedQueryException{Message: aws.String("bad"), QueryCompileError: &types.QueryCompileError{
		Message:  aws.String("unexpected token"),
		Location: &types.QueryCompileErrorLocation{StartCharOffset: aws.Int32(20), EndCharOffset: aws.Int32(25)},
	}}
	f := &fakeQuery{startErr: malformed}
	_, _, err := runLogs(t, f, "query", "-g", "app", "fields @message\n| fliter x")
	want := "MalformedQueryException: unexpected token\n  | fliter x\n      ^"
	if err == nil || err.Error() != want {
		t.Fatalf("err = %q, want %q", err, want)
	}

	f = &fakeQuery{polls: []*cloudwatchlogs.GetQueryResultsOutput{{Status: types.QueryStatusTimeout}}}
	if _, _, err := runLogs(t, f, "query", "-g", "app", "q"); err == nil || !strings.Contains(err.Error(), "Timeout") {
		t.Fatalf("timeout: %v", err)
	}
	if _, _, err := runLogs(t, &fakeQuery{}, "groups", "-o", "csv"); err == nil || !strings.Contains(err.Error(), "only for query") {
		t.Fatalf("csv outside query: %v", err)
	}
	if _, _, err := runLogs(t, &fakeQuery{}, "query", "-g", "a", "--limit", "20000", "q"); err == nil {
		t.Fatal("limit 20000 accepted")
	}
}

func TestLogsQueryStopsOnCancel(t *testing.T) {
	f := &fakeQuery{polls: []*cloudwatchlogs.GetQueryResultsOutput{{Status: types.QueryStatusRunning}}}
	// Cancelled while the query runs (Ctrl-C): the query is stopped.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := runQuery(ctx, f, &cloudwatchlogs.StartQueryInput{QueryString: aws.String("q")}, &strings.Builder{})
	if err == nil || len(f.stopped) != 1 || f.stopped[0] != "q1" {
		t.Fatalf("err %v, stopped %v", err, f.stopped)
	}
}

func TestCaretAt(t *testing.T) {
	tests := []struct {
		query string
		off   int
		want  string
	}{
		{"fields x", 0, "  fields x\n  ^"},
		{"fields x", 7, "  fields x\n         ^"},
		{"a\n\tbé c", 6, "  \tbé c\n  \t   ^"},
		{"abc", 99, "  abc\n     ^"},
	}
	for _, tc := range tests {
		if got := caretAt(tc.query, tc.off); got != tc.want {
			t.Errorf("caretAt(%q, %d) = %q, want %q", tc.query, tc.off, got, tc.want)
		}
	}
}
