package cli

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"
	"github.com/aws/smithy-go"
)

// fakeLogs answers the CloudWatch Logs calls from closures and records every
// request (copied, since the commands reuse their input between pages).
type fakeLogs struct {
	groups  func(in cloudwatchlogs.DescribeLogGroupsInput) (*cloudwatchlogs.DescribeLogGroupsOutput, error)
	streams func(in cloudwatchlogs.DescribeLogStreamsInput) (*cloudwatchlogs.DescribeLogStreamsOutput, error)
	get     func(in cloudwatchlogs.GetLogEventsInput) (*cloudwatchlogs.GetLogEventsOutput, error)
	filter  func(in cloudwatchlogs.FilterLogEventsInput) (*cloudwatchlogs.FilterLogEventsOutput, error)
	calls   []any
}

func (f *fakeLogs) DescribeLogGroups(_ context.Context, in *cloudwatchlogs.DescribeLogGroupsInput, _ ...func(*cloudwatchlogs.Options)) (*cloudwatchlogs.DescribeLogGroupsOutput, error) {
	f.calls = append(f.calls, *in)
	return f.groups(*in)
}

func (f *fakeLogs) DescribeLogStreams(_ context.Context, in *cloudwatchlogs.DescribeLogStreamsInput, _ ...func(*cloudwatchlogs.Options)) (*cloudwatchlogs.DescribeLogStreamsOutput, error) {
	f.calls = append(f.calls, *in)
	return f.streams(*in)
}

func (f *fakeLogs) GetLogEvents(_ context.Context, in *cloudwatchlogs.GetLogEventsInput, _ ...func(*cloudwatchlogs.Options)) (*cloudwatchlogs.GetLogEventsOutput, error) {
	f.calls = append(f.calls, *in)
	return f.get(*in)
}

func (f *fakeLogs) FilterLogEvents(_ context.Context, in *cloudwatchlogs.FilterLogEventsInput, _ ...func(*cloudwatchlogs.Options)) (*cloudwatchlogs.FilterLogEventsOutput, error) {
	f.calls = append(f.calls, *in)
	return f.filter(*in)
}

// runLogs runs `kinsight logs ARGS` against api and returns what it printed.
func runLogs(t *testing.T, api logsAPI, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errOut bytes.Buffer
	l := &logsCmd{
		env: &Env{Getenv: func(string) string { return "" }, Stdout: &out, Stderr: &errOut},
		now: func() time.Time { return testNow },
	}
	l.dial = func(context.Context) (*logsConn, error) {
		return &logsConn{api: api, endpoint: "http://127.0.0.1:1", region: "us-east-1",
			creds: credentials.NewStaticCredentialsProvider("AK", "SK", ""), http: http.DefaultClient}, nil
	}
	cmd := l.command()
	cmd.SetArgs(args)
	cmd.SetOut(&errOut)
	cmd.SetErr(&errOut)
	cmd.SilenceErrors, cmd.SilenceUsage = true, true
	err = cmd.ExecuteContext(t.Context())
	return out.String(), errOut.String(), err
}

func TestLogsGroupsPaginates(t *testing.T) {
	f := &fakeLogs{groups: func(in cloudwatchlogs.DescribeLogGroupsInput) (*cloudwatchlogs.DescribeLogGroupsOutput, error) {
		switch aws.ToString(in.NextToken) {
		case "":
			return &cloudwatchlogs.DescribeLogGroupsOutput{LogGroups: []types.LogGroup{{LogGroupName: aws.String("a1")}}, NextToken: aws.String("p2")}, nil
		case "p2":
			return &cloudwatchlogs.DescribeLogGroupsOutput{LogGroups: []types.LogGroup{{LogGroupName: aws.String("a2")}}, NextToken: aws.String("p3")}, nil
		case "p3":
			return &cloudwatchlogs.DescribeLogGroupsOutput{LogGroups: []types.LogGroup{{LogGroupName: aws.String("a3")}}}, nil
		}
		return nil, errors.New("unexpected token")
	}}
	out, _, err := runLogs(t, f, "groups", "--prefix", "a", "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"a1", "a2", "a3"} {
		if !strings.Contains(out, `"logGroupName": "`+name+`"`) {
			t.Errorf("output lacks %s:\n%s", name, out)
		}
	}
	if len(f.calls) != 3 || aws.ToString(f.calls[0].(cloudwatchlogs.DescribeLogGroupsInput).LogGroupNamePrefix) != "a" {
		t.Fatalf("calls = %+v", f.calls)
	}
}

func TestLogsStreamsFlags(t *testing.T) {
	page := func(names ...string) *cloudwatchlogs.DescribeLogStreamsOutput {
		out := &cloudwatchlogs.DescribeLogStreamsOutput{NextToken: aws.String("more")}
		for _, n := range names {
			out.LogStreams = append(out.LogStreams, types.LogStream{LogStreamName: aws.String(n)})
		}
		return out
	}
	tests := []struct {
		name    string
		args    []string
		check   func(t *testing.T, in cloudwatchlogs.DescribeLogStreamsInput)
		wantOut []string
		wantErr string
	}{
		{
			name: "defaults",
			args: []string{"streams", "g"},
			check: func(t *testing.T, in cloudwatchlogs.DescribeLogStreamsInput) {
				if aws.ToString(in.LogGroupName) != "g" || in.OrderBy != types.OrderByLogStreamName || in.Descending != nil || in.Limit != nil {
					t.Errorf("input = %+v", in)
				}
			},
		},
		{
			name: "last event descending limit",
			args: []string{"streams", "g", "--order-by", "last-event", "--descending", "--limit", "3"},
			check: func(t *testing.T, in cloudwatchlogs.DescribeLogStreamsInput) {
				if in.OrderBy != types.OrderByLastEventTime || !aws.ToBool(in.Descending) || aws.ToInt32(in.Limit) != 3 {
					t.Errorf("input = %+v", in)
				}
			},
			wantOut: []string{"s1", "s2", "s3"},
		},
		{name: "prefix", args: []string{"streams", "g", "--prefix", "web-"}, check: func(t *testing.T, in cloudwatchlogs.DescribeLogStreamsInput) {
			if aws.ToString(in.LogStreamNamePrefix) != "web-" {
				t.Errorf("input = %+v", in)
			}
		}},
		{name: "prefix with last-event", args: []string{"streams", "g", "--prefix", "x", "--order-by", "last-event"}, wantErr: "cannot be used"},
		{name: "bad order", args: []string{"streams", "g", "--order-by", "size"}, wantErr: "--order-by"},
		{name: "negative limit", args: []string{"streams", "g", "--limit", "-1"}, wantErr: "--limit"},
		{name: "no group", args: []string{"streams"}, wantErr: "accepts 1 arg"},
		{name: "bad output", args: []string{"streams", "g", "-o", "yaml"}, wantErr: "--output"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n := 0
			f := &fakeLogs{streams: func(in cloudwatchlogs.DescribeLogStreamsInput) (*cloudwatchlogs.DescribeLogStreamsOutput, error) {
				if tc.check != nil {
					tc.check(t, in)
				}
				n++
				if n == 1 {
					return page("s1", "s2"), nil
				}
				out := page("s3", "s4")
				out.NextToken = nil
				return out, nil
			}}
			out, _, err := runLogs(t, f, tc.args...)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tc.wantErr)
				}
				if len(f.calls) != 0 {
					t.Fatalf("a bad flag still called the server: %+v", f.calls)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := tc.wantOut
			if want == nil {
				want = []string{"s1", "s2", "s3", "s4"}
			}
			lines := strings.Split(strings.TrimSpace(out), "\n")[1:] // skip the header
			if len(lines) != len(want) {
				t.Fatalf("got %d rows, want %d:\n%s", len(lines), len(want), out)
			}
			for i, w := range want {
				if !strings.HasPrefix(lines[i], w+" ") {
					t.Errorf("row %d = %q, want stream %s", i, lines[i], w)
				}
			}
		})
	}
}

func TestLogsGetFollowsTokenUntilItRepeats(t *testing.T) {
	ev := func(ts int64, msg string) types.OutputLogEvent {
		return types.OutputLogEvent{Timestamp: aws.Int64(ts), Message: aws.String(msg), IngestionTime: aws.Int64(ts + 1)}
	}
	pages := map[string]*cloudwatchlogs.GetLogEventsOutput{
		"":   {Events: []types.OutputLogEvent{ev(t0, "one"), ev(t0+1, "two")}, NextForwardToken: aws.String("f1")},
		"f1": {Events: []types.OutputLogEvent{ev(t0+2, "three")}, NextForwardToken: aws.String("f2")},
		"f2": {NextForwardToken: aws.String("f2")},
	}
	f := &fakeLogs{get: func(in cloudwatchlogs.GetLogEventsInput) (*cloudwatchlogs.GetLogEventsOutput, error) {
		return pages[aws.ToString(in.NextToken)], nil
	}}
	out, _, err := runLogs(t, f, "get", "g", "s", "--from-head", "--start", "2024-05-01T11:00:00Z", "--end", "now", "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	want := `{"logStreamName":"s","timestamp":1714564800000,"message":"one","ingestionTime":1714564800001}
{"logStreamName":"s","timestamp":1714564800001,"message":"two","ingestionTime":1714564800002}
{"logStreamName":"s","timestamp":1714564800002,"message":"three","ingestionTime":1714564800003}
`
	if out != want {
		t.Fatalf("out:\n%s\nwant:\n%s", out, want)
	}
	if len(f.calls) != 3 {
		t.Fatalf("%d calls, want 3 (the third sees the token repeat)", len(f.calls))
	}
	in := f.calls[0].(cloudwatchlogs.GetLogEventsInput)
	if !aws.ToBool(in.StartFromHead) || aws.ToInt64(in.StartTime) != t0-3_600_000 || aws.ToInt64(in.EndTime) != t0 ||
		aws.ToString(in.LogGroupName) != "g" || aws.ToString(in.LogStreamName) != "s" || in.Limit != nil {
		t.Fatalf("first input = %+v", in)
	}
}

func TestLogsGetLimit(t *testing.T) {
	f := &fakeLogs{get: func(in cloudwatchlogs.GetLogEventsInput) (*cloudwatchlogs.GetLogEventsOutput, error) {
		out := &cloudwatchlogs.GetLogEventsOutput{NextForwardToken: aws.String("next" + aws.ToString(in.NextToken))}
		for i := range 3 {
			out.Events = append(out.Events, types.OutputLogEvent{Timestamp: aws.Int64(t0 + int64(i)), Message: aws.String("m")})
		}
		return out, nil
	}}
	out, _, err := runLogs(t, f, "get", "g", "s", "--limit", "5")
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(out, "\n"); n != 5 {
		t.Fatalf("printed %d events, want 5:\n%s", n, out)
	}
	if len(f.calls) != 2 {
		t.Fatalf("%d calls, want 2", len(f.calls))
	}
	if l0, l1 := aws.ToInt32(f.calls[0].(cloudwatchlogs.GetLogEventsInput).Limit), aws.ToInt32(f.calls[1].(cloudwatchlogs.GetLogEventsInput).Limit); l0 != 5 || l1 != 2 {
		t.Fatalf("limits = %d, %d; want 5, 2", l0, l1)
	}
	if aws.ToBool(f.calls[0].(cloudwatchlogs.GetLogEventsInput).StartFromHead) {
		t.Fatal("StartFromHead set without --from-head")
	}
}

func TestLogsFilter(t *testing.T) {
	fe := func(stream string, ts int64, id string) types.FilteredLogEvent {
		return types.FilteredLogEvent{LogStreamName: aws.String(stream), Timestamp: aws.Int64(ts), EventId: aws.String(id), Message: aws.String("ERROR " + id)}
	}
	f := &fakeLogs{filter: func(in cloudwatchlogs.FilterLogEventsInput) (*cloudwatchlogs.FilterLogEventsOutput, error) {
		switch aws.ToString(in.NextToken) {
		case "":
			return &cloudwatchlogs.FilterLogEventsOutput{Events: []types.FilteredLogEvent{fe("a", t0, "1")}, NextToken: aws.String("n1")}, nil
		case "n1": // a page with no events but more to search, as the API sends
			return &cloudwatchlogs.FilterLogEventsOutput{NextToken: aws.String("n2")}, nil
		default:
			return &cloudwatchlogs.FilterLogEventsOutput{Events: []types.FilteredLogEvent{fe("b", t0+1, "2")}}, nil
		}
	}}
	out, _, err := runLogs(t, f, "filter", "g", "ERROR", "--streams", "a, b,", "--since", "1h")
	if err != nil {
		t.Fatal(err)
	}
	want := "2024-05-01T12:00:00.000Z  a  ERROR 1\n2024-05-01T12:00:00.001Z  b  ERROR 2\n"
	if out != want {
		t.Fatalf("out:\n%q\nwant:\n%q", out, want)
	}
	if len(f.calls) != 3 {
		t.Fatalf("%d calls, want 3", len(f.calls))
	}
	in := f.calls[0].(cloudwatchlogs.FilterLogEventsInput)
	if aws.ToString(in.FilterPattern) != "ERROR" || strings.Join(in.LogStreamNames, ",") != "a,b" ||
		aws.ToInt64(in.StartTime) != t0-3_600_000 || in.EndTime != nil || in.LogStreamNamePrefix != nil {
		t.Fatalf("input = %+v", in)
	}
}

func TestLogsFilterFlagErrors(t *testing.T) {
	tests := []struct {
		args    []string
		wantErr string
	}{
		{[]string{"filter", "g", "--streams", "a", "--stream-prefix", "b"}, "cannot be used together"},
		{[]string{"filter", "g", "--start", "1h", "--since", "1h"}, "both"},
		{[]string{"filter", "g", "p", "extra"}, "accepts between 1 and 2 arg"},
		{[]string{"filter", "g", "--limit", "-2"}, "--limit"},
		{[]string{"get", "g"}, "accepts 2 arg"},
		{[]string{"get", "g", "s", "--start", "later"}, "--start"},
		{[]string{"get", "g", "s", "--start", "1h", "--since", "2h"}, "both"},
		{[]string{"tail", "g", "--since", "forever"}, "--since"},
		{[]string{"tail", "g", "--streams", "a", "--stream-prefix", "b"}, "cannot be used together"},
	}
	for _, tc := range tests {
		f := &fakeLogs{}
		_, _, err := runLogs(t, f, tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
			t.Errorf("%v: err = %v, want one containing %q", tc.args, err, tc.wantErr)
		}
	}
}

func TestLogsAPIErrorIsCodeAndMessage(t *testing.T) {
	f := &fakeLogs{filter: func(cloudwatchlogs.FilterLogEventsInput) (*cloudwatchlogs.FilterLogEventsOutput, error) {
		return nil, &smithy.OperationError{ServiceID: "CloudWatch Logs", OperationName: "FilterLogEvents",
			Err: &types.ResourceNotFoundException{Message: aws.String("The specified log group does not exist.")}}
	}}
	_, _, err := runLogs(t, f, "filter", "nope")
	if err == nil || err.Error() != "ResourceNotFoundException: The specified log group does not exist." {
		t.Fatalf("err = %v", err)
	}
}

func TestCredentialsOrder(t *testing.T) {
	chainCreds := aws.Config{Credentials: credentials.NewStaticCredentialsProvider("CHAIN", "chain-secret", "")}
	tests := []struct {
		name     string
		env      map[string]string
		profile  string
		chain    aws.Config
		chainErr error
		wantID   string
		wantErr  bool
	}{
		{name: "env keys win", env: map[string]string{"AWS_ACCESS_KEY_ID": "ENV", "AWS_SECRET_ACCESS_KEY": "s", "AWS_SESSION_TOKEN": "tok"}, chain: chainCreds, wantID: "ENV"},
		{name: "id without secret uses chain", env: map[string]string{"AWS_ACCESS_KEY_ID": "ENV"}, chain: chainCreds, wantID: "CHAIN"},
		{name: "chain", chain: chainCreds, wantID: "CHAIN"},
		{name: "nothing found: dummy", chainErr: errors.New("no config"), wantID: anonymousKeyID},
		{name: "chain without credentials: dummy", chain: aws.Config{Credentials: credentials.NewStaticCredentialsProvider("", "", "")}, wantID: anonymousKeyID},
		{name: "missing profile is an error", profile: "prod", chainErr: errors.New("no such profile"), wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var gotProfile string
			l := &logsCmd{
				env:        &Env{Getenv: func(k string) string { return tc.env[k] }},
				flags:      logsFlags{profile: tc.profile},
				profileSet: tc.profile != "",
				loadChain: func(_ context.Context, profile string, _ bool) (aws.Config, error) {
					gotProfile = profile
					return tc.chain, tc.chainErr
				},
			}
			p, err := l.credentials(t.Context(), true)
			if tc.wantErr {
				if err == nil {
					t.Fatal("no error")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			c, err := p.Retrieve(t.Context())
			if err != nil || c.AccessKeyID != tc.wantID {
				t.Fatalf("credentials = %q, %v; want %q", c.AccessKeyID, err, tc.wantID)
			}
			if tc.env["AWS_SESSION_TOKEN"] != "" && c.SessionToken != "tok" {
				t.Fatalf("session token %q not passed on", c.SessionToken)
			}
			if gotProfile != tc.profile {
				t.Fatalf("chain loaded profile %q, want %q", gotProfile, tc.profile)
			}
		})
	}
}

func TestLogsFlagDefaultsFromEnv(t *testing.T) {
	env := map[string]string{"KINSIGHT_ENDPOINT": "http://logs.example:9000", "AWS_DEFAULT_REGION": "eu-west-1", "AWS_PROFILE": "dev"}
	l := &logsCmd{env: &Env{Getenv: func(k string) string { return env[k] }}}
	cmd := l.command()
	if err := cmd.ParseFlags(nil); err != nil {
		t.Fatal(err)
	}
	if l.flags.endpoint != "http://logs.example:9000" || l.flags.region != "eu-west-1" || l.flags.profile != "dev" || l.flags.output != "table" {
		t.Fatalf("flags = %+v", l.flags)
	}
	env["AWS_REGION"] = "ap-northeast-2"
	l = &logsCmd{env: &Env{Getenv: func(k string) string { return env[k] }}}
	l.command()
	if l.flags.region != "ap-northeast-2" {
		t.Fatalf("AWS_REGION did not win over AWS_DEFAULT_REGION: %q", l.flags.region)
	}
	l = &logsCmd{env: &Env{Getenv: func(string) string { return "" }}}
	l.command()
	if l.flags.endpoint != defaultEndpoint || l.flags.region != "us-east-1" {
		t.Fatalf("defaults = %+v", l.flags)
	}
}

func TestDialRejectsBadEndpoint(t *testing.T) {
	for _, ep := range []string{"127.0.0.1:8470", "ftp://x", "http://", "://"} {
		l := &logsCmd{env: &Env{Getenv: func(string) string { return "" }}, flags: logsFlags{endpoint: ep}}
		if _, err := l.dialSDK(t.Context()); err == nil || !strings.Contains(err.Error(), "--endpoint") {
			t.Errorf("endpoint %q: err = %v", ep, err)
		}
	}
}

// TestSDKClientWiring checks what the real SDK client sends for the flags:
// the base endpoint, the JSON 1.1 target and a SigV4 signature with the
// region and the environment's key. The server answers the one request with
// a canned body; nothing here stands in for the log store.
func TestSDKClientWiring(t *testing.T) {
	var got *http.Request
	var body []byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.Clone(context.Background())
		body, _ = io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		io.WriteString(w, `{"logGroups":[{"logGroupName":"g1","creationTime":1714564800000}]}`)
	}))
	defer srv.Close()
	var out bytes.Buffer
	env := map[string]string{"AWS_ACCESS_KEY_ID": "AKIDTEST", "AWS_SECRET_ACCESS_KEY": "secret"}
	l := &logsCmd{env: &Env{Getenv: func(k string) string { return env[k] }, Stdout: &out, Stderr: io.Discard}, now: time.Now}
	l.dial = l.dialSDK
	cmd := l.command()
	cmd.SetArgs([]string{"groups", "--endpoint", srv.URL + "/", "--region", "eu-central-1", "--prefix", "g"})
	if err := cmd.ExecuteContext(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got == nil {
		t.Fatal("no request reached the server")
	}
	if got.Method != http.MethodPost || got.URL.Path != "/" || got.Header.Get("X-Amz-Target") != "Logs_20140328.DescribeLogGroups" {
		t.Fatalf("request = %s %s target %q", got.Method, got.URL.Path, got.Header.Get("X-Amz-Target"))
	}
	auth := got.Header.Get("Authorization")
	if !strings.HasPrefix(auth, "AWS4-HMAC-SHA256 Credential=AKIDTEST/") || !strings.Contains(auth, "/eu-central-1/logs/aws4_request") {
		t.Fatalf("Authorization = %q", auth)
	}
	if !strings.Contains(string(body), `"logGroupNamePrefix":"g"`) {
		t.Fatalf("body = %s", body)
	}
	if !strings.Contains(out.String(), "\ng1    2024-05-01T12:00:00Z  never") {
		t.Fatalf("output:\n%s", out.String())
	}
}

// TestRunPrintsAPIErrorOnce goes through Run, as main does: an error the
// server answers is printed once as code and message, and the exit code is 1.
func TestRunPrintsAPIErrorOnce(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		w.WriteHeader(http.StatusBadRequest)
		io.WriteString(w, `{"__type":"ResourceNotFoundException","message":"The specified log group does not exist."}`)
	}))
	defer srv.Close()
	env := map[string]string{"KINSIGHT_ENDPOINT": srv.URL, "AWS_ACCESS_KEY_ID": "AK", "AWS_SECRET_ACCESS_KEY": "SK"}
	var out, errOut bytes.Buffer
	code := Run(t.Context(), []string{"logs", "streams", "nope"}, func(k string) string { return env[k] }, nil, &out, &errOut)
	if code != 1 {
		t.Fatalf("exit code %d, want 1", code)
	}
	if want := "kinsight: ResourceNotFoundException: The specified log group does not exist.\n"; errOut.String() != want || out.Len() != 0 {
		t.Fatalf("stderr %q, stdout %q; want stderr %q", errOut.String(), out.String(), want)
	}
}
