package cri

import (
	"testing"
	"time"
)

func TestParseTimestamp(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want string // RFC3339Nano in UTC, "" for invalid
	}{
		{"2024-01-02T03:04:05Z", "2024-01-02T03:04:05Z"},
		{"2024-01-02T03:04:05.123456789Z", "2024-01-02T03:04:05.123456789Z"},
		{"2024-01-02T03:04:05.1Z", "2024-01-02T03:04:05.1Z"},
		{"2024-01-02T03:04:05.000000001Z", "2024-01-02T03:04:05.000000001Z"},
		{"2024-01-02T03:04:05.1234567891234Z", "2024-01-02T03:04:05.123456789Z"},
		{"2024-01-02T03:04:05.5+02:00", "2024-01-02T01:04:05.5Z"},
		{"2024-01-02T00:04:05-05:30", "2024-01-02T05:34:05Z"},
		{"2024-01-01T00:00:00+01:00", "2023-12-31T23:00:00Z"},
		{"2024-02-29T00:00:00Z", "2024-02-29T00:00:00Z"},
		{"2024-01-02t03:04:05z", "2024-01-02T03:04:05Z"},
		{"2023-02-29T00:00:00Z", ""},
		{"2024-13-02T03:04:05Z", ""},
		{"2024-01-32T03:04:05Z", ""},
		{"2024-01-02T24:04:05Z", ""},
		{"2024-01-02T03:60:05Z", ""},
		{"2024-01-02T03:04:60Z", ""},
		{"2024-01-02T03:04:05", ""},
		{"2024-01-02T03:04:05.Z", ""},
		{"2024-01-02T03:04:05+0200", ""},
		{"2024-01-02T03:04:05+24:00", ""},
		{"2024-01-02 03:04:05Z", ""},
		{"2024-0a-02T03:04:05Z", ""},
		{"", ""},
		{"Z", ""},
	} {
		got, ok := parseTimestamp([]byte(tc.in))
		if tc.want == "" {
			if ok {
				t.Errorf("%q: parsed as %v, want invalid", tc.in, got)
			}
			continue
		}
		if !ok {
			t.Errorf("%q: invalid, want %s", tc.in, tc.want)
			continue
		}
		if s := got.UTC().Format(time.RFC3339Nano); s != tc.want {
			t.Errorf("%q: got %s, want %s", tc.in, s, tc.want)
		}
		if ref, err := time.Parse(time.RFC3339Nano, tc.in); err == nil && !ref.Equal(got) && len(tc.in) < 36 {
			t.Errorf("%q: got %v, time.Parse says %v", tc.in, got, ref)
		}
	}
}

func TestParseCRILine(t *testing.T) {
	for _, tc := range []struct {
		in      string
		ok      bool
		stream  int
		partial bool
		msg     string
	}{
		{"2024-01-02T03:04:05.123456789Z stdout F hello world", true, streamStdout, false, "hello world"},
		{"2024-01-02T03:04:05.123456789+00:00 stderr P part", true, streamStderr, true, "part"},
		{"2024-01-02T03:04:05Z stdout F ", true, streamStdout, false, ""},
		{"2024-01-02T03:04:05Z stdout F", true, streamStdout, false, ""},
		{"2024-01-02T03:04:05Z stdout F  two  spaces ", true, streamStdout, false, " two  spaces "},
		{"2024-01-02T03:04:05Z stdout F:x tagged", true, streamStdout, false, "tagged"},
		{"2024-01-02T03:04:05Z stdout FX bad tag", false, 0, false, ""},
		{"2024-01-02T03:04:05Z stdout X msg", false, 0, false, ""},
		{"2024-01-02T03:04:05Z stdin F msg", false, 0, false, ""},
		{"2024-01-02T03:04:05Z stdout", false, 0, false, ""},
		{"2024-01-02T03:04:05Z", false, 0, false, ""},
		{"not a timestamp stdout F msg", false, 0, false, ""},
		{"", false, 0, false, ""},
	} {
		_, stream, partial, msg, ok := parseCRILine([]byte(tc.in))
		if ok != tc.ok || stream != tc.stream || partial != tc.partial || string(msg) != tc.msg {
			t.Errorf("%q: got ok=%v stream=%d partial=%v msg=%q, want %v %d %v %q",
				tc.in, ok, stream, partial, msg, tc.ok, tc.stream, tc.partial, tc.msg)
		}
	}
}

func TestParseDockerLine(t *testing.T) {
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		in      string
		ok      bool
		stream  int
		partial bool
		msg     string
		time    string
		bad     bool
	}{
		{`{"log":"hello\n","stream":"stdout","time":"2024-01-02T03:04:05.123456789Z"}`, true, streamStdout, false, "hello", "2024-01-02T03:04:05.123456789Z", false},
		{`{"log":"no newline","stream":"stderr","time":"2024-01-02T03:04:05Z"}`, true, streamStderr, true, "no newline", "2024-01-02T03:04:05Z", false},
		{`{"log":"esc \"q\" \\ \/ \t \u003cb\u003e \u00e9 \ud83d\ude00\n","stream":"stdout","time":"2024-01-02T03:04:05Z"}`, true, streamStdout, false, "esc \"q\" \\ / \t <b> é 😀", "2024-01-02T03:04:05Z", false},
		{`{"log":"lone \ud800 x\n","stream":"stdout","time":"2024-01-02T03:04:05Z"}`, true, streamStdout, false, "lone \uFFFD x", "2024-01-02T03:04:05Z", true},
		{`{"log":"bs\\\"q\\\n","stream":"stdout","time":"2024-01-02T03:04:05Z"}`, true, streamStdout, false, `bs\"q\`, "2024-01-02T03:04:05Z", false},
		{`{"log":"end\\","stream":"stdout","time":"2024-01-02T03:04:05Z"}`, true, streamStdout, true, `end\`, "2024-01-02T03:04:05Z", false},
		{`{"log":"two\n\n","stream":"stdout","time":"2024-01-02T03:04:05Z"}`, true, streamStdout, false, "two\n", "2024-01-02T03:04:05Z", false},
		{` { "time" : "2024-01-02T03:04:05+01:00" , "stream" : "stdout" , "log" : "spaced\n" } `, true, streamStdout, false, "spaced", "2024-01-02T02:04:05Z", false},
		{`{"log":"attrs\n","stream":"stdout","attrs":{"a":"b"},"time":"2024-01-02T03:04:05Z"}`, true, streamStdout, false, "attrs", "2024-01-02T03:04:05Z", false},
		{`{"log":"no time\n","stream":"stderr"}`, true, streamStderr, false, "no time", "2030-01-01T00:00:00Z", false},
		{`{"log":"no stream\n","time":"2024-01-02T03:04:05Z"}`, true, streamStdout, false, "no stream", "2024-01-02T03:04:05Z", false},
		{`{"stream":"stdout","time":"2024-01-02T03:04:05Z"}`, false, 0, false, "", "", false},
		{`{"log":"x\n","stream":"stdin","time":"2024-01-02T03:04:05Z"}`, false, 0, false, "", "", false},
		{`{"log":"x\n","stream":"stdout","time":"yesterday"}`, false, 0, false, "", "", false},
		{`{"log":"truncated`, false, 0, false, "", "", false},
		{`{"log":"x\n"} trailing`, false, 0, false, "", "", false},
		{`{}`, false, 0, false, "", "", false},
		{`{`, false, 0, false, "", "", false},
		{`[1]`, false, 0, false, "", "", false},
	} {
		ts, stream, partial, msg, _, bad, ok := parseDockerLine([]byte(tc.in), nil, now)
		if ok != tc.ok || stream != tc.stream || partial != tc.partial || string(msg) != tc.msg || bad != tc.bad {
			t.Errorf("%s: got ok=%v stream=%d partial=%v msg=%q bad=%v, want %v %d %v %q %v",
				tc.in, ok, stream, partial, msg, bad, tc.ok, tc.stream, tc.partial, tc.msg, tc.bad)
			continue
		}
		if ok && ts.UTC().Format(time.RFC3339Nano) != tc.time {
			t.Errorf("%s: time %v, want %s", tc.in, ts, tc.time)
		}
	}
}
