package cli

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"
)

// t0 is 2024-05-01T12:00:00Z in epoch milliseconds.
const t0 = int64(1714564800000)

func testGroups() []types.LogGroup {
	return []types.LogGroup{
		{LogGroupName: aws.String("/aws/containerinsights/dev/application"), CreationTime: aws.Int64(t0),
			RetentionInDays: aws.Int32(7), StoredBytes: aws.Int64(3 << 20), Arn: aws.String("arn:aws:logs:us-east-1:000000000000:log-group:/aws/containerinsights/dev/application:*")},
		{LogGroupName: aws.String("app"), CreationTime: aws.Int64(t0 + 1500)},
	}
}

func TestPrinterGroups(t *testing.T) {
	var buf bytes.Buffer
	if err := newPrinter(&buf, false, time.UTC).groups(testGroups()); err != nil {
		t.Fatal(err)
	}
	want := `NAME                                    CREATED               RETENTION  STORED
/aws/containerinsights/dev/application  2024-05-01T12:00:00Z  7d         3.0MiB
app                                     2024-05-01T12:00:01Z  never      -
`
	if buf.String() != want {
		t.Fatalf("table:\n%s\nwant:\n%s", buf.String(), want)
	}

	buf.Reset()
	if err := newPrinter(&buf, true, time.UTC).groups(testGroups()); err != nil {
		t.Fatal(err)
	}
	var got []map[string]any
	if err := json.Unmarshal(buf.Bytes(), &got); err != nil {
		t.Fatalf("json output is not one JSON document: %v\n%s", err, buf.String())
	}
	if len(got) != 2 || got[0]["logGroupName"] != "/aws/containerinsights/dev/application" ||
		got[0]["retentionInDays"] != 7.0 || got[0]["creationTime"] != float64(t0) || got[0]["storedBytes"] != float64(3<<20) {
		t.Fatalf("json = %v", got)
	}
	if _, ok := got[1]["retentionInDays"]; ok {
		t.Fatalf("absent retention printed: %v", got[1])
	}
}

func TestPrinterEmptyJSONIsArray(t *testing.T) {
	var buf bytes.Buffer
	if err := newPrinter(&buf, true, time.UTC).groups(nil); err != nil {
		t.Fatal(err)
	}
	if strings.TrimSpace(buf.String()) != "[]" {
		t.Fatalf("empty groups = %q, want []", buf.String())
	}
	buf.Reset()
	if err := newPrinter(&buf, true, time.UTC).streams(nil); err != nil {
		t.Fatal(err)
	}
	if strings.TrimSpace(buf.String()) != "[]" {
		t.Fatalf("empty streams = %q, want []", buf.String())
	}
}

func TestPrinterStreams(t *testing.T) {
	streams := []types.LogStream{
		{LogStreamName: aws.String("web-1"), CreationTime: aws.Int64(t0), FirstEventTimestamp: aws.Int64(t0 + 1000),
			LastEventTimestamp: aws.Int64(t0 + 3_600_000), StoredBytes: aws.Int64(512)},
		{LogStreamName: aws.String("kube-apiserver-audit-0123"), CreationTime: aws.Int64(t0)},
	}
	var buf bytes.Buffer
	if err := newPrinter(&buf, false, time.FixedZone("KST", 9*3600)).streams(streams); err != nil {
		t.Fatal(err)
	}
	want := `NAME                       CREATED                    FIRST_EVENT                LAST_EVENT                 STORED
web-1                      2024-05-01T21:00:00+09:00  2024-05-01T21:00:01+09:00  2024-05-01T22:00:00+09:00  512B
kube-apiserver-audit-0123  2024-05-01T21:00:00+09:00  -                          -                          -
`
	if buf.String() != want {
		t.Fatalf("table:\n%s\nwant:\n%s", buf.String(), want)
	}

	buf.Reset()
	if err := newPrinter(&buf, true, time.UTC).streams(streams); err != nil {
		t.Fatal(err)
	}
	var got []streamJSON
	if err := json.Unmarshal(buf.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].LogStreamName != "web-1" || *got[0].LastEventTimestamp != t0+3_600_000 || got[1].FirstEventTimestamp != nil {
		t.Fatalf("json = %+v", got)
	}
}

func TestPrinterEvents(t *testing.T) {
	events := []logEvent{
		{LogStreamName: "a", Timestamp: t0, Message: "first\n", IngestionTime: t0 + 5, EventID: "1"},
		{LogStreamName: "web-1", Timestamp: t0 + 1, Message: "second\r\n"},
		{LogStreamName: "a", Timestamp: t0 + 1002, Message: "multi\nline"},
	}
	tests := []struct {
		name string
		json bool
		loc  *time.Location
		want string
	}{
		{name: "table utc", loc: time.UTC, want: "" +
			"2024-05-01T12:00:00.000Z  a  first\n" +
			"2024-05-01T12:00:00.001Z  web-1  second\n" +
			"2024-05-01T12:00:01.002Z  a      multi\nline\n"},
		{name: "table zone", loc: time.FixedZone("X", -5*3600), want: "" +
			"2024-05-01T07:00:00.000-05:00  a  first\n" +
			"2024-05-01T07:00:00.001-05:00  web-1  second\n" +
			"2024-05-01T07:00:01.002-05:00  a      multi\nline\n"},
		{name: "ndjson", json: true, loc: time.UTC, want: "" +
			`{"logStreamName":"a","timestamp":1714564800000,"message":"first\n","ingestionTime":1714564800005,"eventId":"1"}` + "\n" +
			`{"logStreamName":"web-1","timestamp":1714564800001,"message":"second\r\n"}` + "\n" +
			`{"logStreamName":"a","timestamp":1714564801002,"message":"multi\nline"}` + "\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			p := newPrinter(&buf, tc.json, tc.loc)
			for _, e := range events {
				if err := p.event(e); err != nil {
					t.Fatal(err)
				}
			}
			if buf.Len() != 0 {
				t.Fatal("event wrote before flush")
			}
			if err := p.flush(); err != nil {
				t.Fatal(err)
			}
			if buf.String() != tc.want {
				t.Fatalf("got:\n%q\nwant:\n%q", buf.String(), tc.want)
			}
		})
	}
}

func TestHumanBytes(t *testing.T) {
	tests := []struct {
		in   *int64
		want string
	}{
		{nil, "-"},
		{ptr(int64(0)), "0B"},
		{ptr(int64(1023)), "1023B"},
		{ptr(int64(1024)), "1.0KiB"},
		{ptr(int64(1536)), "1.5KiB"},
		{ptr(int64(5 << 30)), "5.0GiB"},
		{ptr(int64(3 << 50)), "3072.0TiB"},
	}
	for _, tc := range tests {
		if got := humanBytes(tc.in); got != tc.want {
			t.Errorf("humanBytes(%v) = %q, want %q", deref(tc.in), got, tc.want)
		}
	}
}

func BenchmarkPrinterEventTable(b *testing.B) {
	benchmarkPrinterEvent(b, false)
}

func BenchmarkPrinterEventJSON(b *testing.B) {
	benchmarkPrinterEvent(b, true)
}

func benchmarkPrinterEvent(b *testing.B, jsonOut bool) {
	e := logEvent{LogStreamName: "fluent-bit-abcde", Timestamp: t0, IngestionTime: t0 + 3, EventID: "38271650000000000000000000000000000000000000000000000",
		Message: `{"log":"2024-05-01T12:00:00.000Z INFO request served in 3ms path=/healthz","stream":"stdout","kubernetes":{"pod_name":"web-1"}}`}
	p := newPrinter(discard{}, jsonOut, time.UTC)
	b.ReportAllocs()
	b.SetBytes(int64(len(e.Message)))
	for b.Loop() {
		if err := p.event(e); err != nil {
			b.Fatal(err)
		}
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
