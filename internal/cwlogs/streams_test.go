package cwlogs

import (
	"reflect"
	"strings"
	"testing"

	"github.com/kinsight/kinsight/internal/logstore"
)

func streamAfter(name string) logstore.Stream { return logstore.Stream{Name: name} }

func TestCreateDeleteLogStream(t *testing.T) {
	e := newEnv(t)
	e.mustOK("CreateLogGroup", m{"logGroupName": "g"})
	tests := []struct {
		name string
		in   m
		typ  string
	}{
		{"ok", m{"logGroupName": "g", "logStreamName": "kube-apiserver-audit-0a1b/ünïcode ok"}, ""},
		{"exists", m{"logGroupName": "g", "logStreamName": "kube-apiserver-audit-0a1b/ünïcode ok"}, errResourceExists},
		{"colon", m{"logGroupName": "g", "logStreamName": "a:b"}, errInvalidParameter},
		{"star", m{"logGroupName": "g", "logStreamName": "a*"}, errInvalidParameter},
		{"empty", m{"logGroupName": "g", "logStreamName": ""}, errInvalidParameter},
		{"too long", m{"logGroupName": "g", "logStreamName": strings.Repeat("s", 513)}, errInvalidParameter},
		{"512 runes ok", m{"logGroupName": "g", "logStreamName": strings.Repeat("é", 512)}, ""},
		{"no group", m{"logGroupName": "nope", "logStreamName": "s"}, errResourceNotFound},
		{"bad group", m{"logGroupName": "a b", "logStreamName": "s"}, errInvalidParameter},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := e.call("CreateLogStream", tc.in)
			if tc.typ == "" {
				if r.status != 200 {
					t.Fatalf("%d %s", r.status, r.body)
				}
				return
			}
			wantErr(t, r, 400, tc.typ)
		})
	}
	e.mustOK("DeleteLogStream", m{"logGroupName": "g", "logStreamName": strings.Repeat("é", 512)})
	wantErr(t, e.call("DeleteLogStream", m{"logGroupName": "g", "logStreamName": strings.Repeat("é", 512)}), 400, errResourceNotFound)
	wantErr(t, e.call("DeleteLogStream", m{"logGroupName": "g", "logStreamName": "a:b"}), 400, errInvalidParameter)
}

func TestDescribeLogStreams(t *testing.T) {
	e := newEnv(t)
	now := nowMs()
	// Streams whose names and last-event order differ.
	e.seed("g", "b", now-3000)
	e.seed("g", "a", now-1000)
	e.seed("g", "c", now-2000)
	e.seed("g", "d") // no events

	names := func(in m) ([]string, string) {
		t.Helper()
		var out describeLogStreamsOutput
		e.mustOK("DescribeLogStreams", in).decode(t, &out)
		var n []string
		for _, s := range out.LogStreams {
			n = append(n, s.LogStreamName)
		}
		return n, out.NextToken
	}
	pageAll := func(in m) []string {
		t.Helper()
		var all []string
		for i := 0; ; i++ {
			if i > 10 {
				t.Fatal("pagination does not end")
			}
			n, tok := names(in)
			all = append(all, n...)
			if tok == "" {
				return all
			}
			in["nextToken"] = tok
		}
	}
	if got := pageAll(m{"logGroupName": "g", "limit": 1}); !reflect.DeepEqual(got, []string{"a", "b", "c", "d"}) {
		t.Errorf("by name: %v", got)
	}
	if got := pageAll(m{"logGroupName": "g", "limit": 3, "descending": true}); !reflect.DeepEqual(got, []string{"d", "c", "b", "a"}) {
		t.Errorf("by name descending: %v", got)
	}
	got := pageAll(m{"logGroupName": "g", "orderBy": "LastEventTime", "descending": true, "limit": 2})
	if len(got) != 4 || !reflect.DeepEqual(got[:3], []string{"a", "c", "b"}) {
		t.Errorf("by last event descending: %v", got)
	}
	arn := "arn:aws:logs:us-east-1:123456789012:log-group:g"
	if got, _ := names(m{"logGroupIdentifier": arn + ":*", "logStreamNamePrefix": "c"}); !reflect.DeepEqual(got, []string{"c"}) {
		t.Errorf("by ARN and prefix: %v", got)
	}
	if got, _ := names(m{"logGroupIdentifier": "g", "logStreamNamePrefix": "zz"}); len(got) != 0 {
		t.Errorf("prefix zz: %v", got)
	}

	var out describeLogStreamsOutput
	e.mustOK("DescribeLogStreams", m{"logGroupName": "g", "logStreamNamePrefix": "a"}).decode(t, &out)
	s := out.LogStreams[0]
	if s.Arn != arn+":log-stream:a" || s.CreationTime == 0 || s.FirstEventTimestamp != now-1000 ||
		s.LastEventTimestamp != now-1000 || s.LastIngestionTime == 0 || s.UploadSequenceToken == "" {
		t.Errorf("stream fields %+v", s)
	}

	nameToken := streamPageToken(false, streamAfter("a"))
	errs := []struct {
		in  m
		typ string
	}{
		{m{"logGroupName": "g", "orderBy": "LastEventTime", "logStreamNamePrefix": "a"}, errInvalidParameter},
		{m{"logGroupName": "g", "logGroupIdentifier": "g"}, errInvalidParameter},
		{m{}, errInvalidParameter},
		{m{"logGroupName": "g", "orderBy": "Size"}, errInvalidParameter},
		{m{"logGroupName": "g", "limit": 51}, errInvalidParameter},
		{m{"logGroupName": "g", "limit": -1}, errInvalidParameter},
		{m{"logGroupName": "g", "nextToken": "AAAA"}, errInvalidParameter},
		{m{"logGroupName": "g", "nextToken": groupPageToken("g")}, errInvalidParameter},
		{m{"logGroupName": "g", "nextToken": nameToken, "orderBy": "LastEventTime"}, errInvalidParameter},
		{m{"logGroupName": "g", "logStreamNamePrefix": "x:y"}, errInvalidParameter},
		{m{"logGroupIdentifier": "arn:aws:logs:us-east-1:123456789012:log-group:"}, errInvalidParameter},
		{m{"logGroupIdentifier": "arn:aws:s3:::bucket"}, errInvalidParameter},
		{m{"logGroupIdentifier": "arn:aws:logs:us-east-1:000000000000:log-group:g"}, errResourceNotFound},
		{m{"logGroupName": "missing"}, errResourceNotFound},
	}
	for _, tc := range errs {
		wantErr(t, e.call("DescribeLogStreams", tc.in), 400, tc.typ)
	}
}
