package main

import (
	"strings"
	"testing"
	"time"
)

func TestParseMetrics(t *testing.T) {
	text := `# HELP kinsight_logstore_parts Parts on disk.
# TYPE kinsight_logstore_parts gauge
kinsight_logstore_parts 7
kinsight_logstore_head_bytes{state="active"} 1024
kinsight_logstore_head_bytes{state="frozen"} 2048
kinsight_logs_ingested_events_total 2e+06
kinsight_logstore_flush_seconds_bucket{le="+Inf"} 3
weird{a="}"} 5
broken{ 9
novalue
nan_metric NaN
`
	m, err := parseMetrics(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		want float64
	}{
		{"kinsight_logstore_parts", 7},
		{"kinsight_logstore_head_bytes", 3072},
		{"kinsight_logs_ingested_events_total", 2e6},
		{"kinsight_logstore_flush_seconds_bucket", 3},
		{"weird", 5},
	}
	for _, tc := range tests {
		if got := m[tc.name]; got != tc.want {
			t.Errorf("%s = %v, want %v", tc.name, got, tc.want)
		}
	}
	for _, absent := range []string{"broken", "novalue", "# HELP kinsight_logstore_parts"} {
		if _, ok := m[absent]; ok {
			t.Errorf("%q parsed from a malformed line", absent)
		}
	}
}

func FuzzParseMetrics(f *testing.F) {
	f.Add("kinsight_logstore_parts 7\n")
	f.Add("a{b=\"c\"} 1e3\n# comment\n")
	f.Add("x{ 1\n{}} 2\n")
	f.Fuzz(func(t *testing.T, s string) {
		m, err := parseMetrics(strings.NewReader(s))
		if err == nil && m == nil {
			t.Fatal("nil map without error")
		}
	})
}

func TestParseStatusKB(t *testing.T) {
	data := []byte("Name:\tkinsight\nVmPeak:\t  900000 kB\nVmHWM:\t  123456 kB\nVmRSS:\t   99999 kB\nThreads:\t12\n")
	got := parseStatusKB(data, "VmHWM", "VmRSS", "VmSwap")
	if got["VmHWM"] != 123456 || got["VmRSS"] != 99999 {
		t.Errorf("got %v", got)
	}
	if _, ok := got["VmSwap"]; ok {
		t.Errorf("absent field parsed: %v", got)
	}
}

func TestParseStatCPU(t *testing.T) {
	tests := []struct {
		in      string
		want    float64
		wantErr bool
	}{
		{"1234 (kinsight) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 12 0 100 0", 3.0, false},
		{"1234 (a b) c) R 1 1234 1234 0 -1 4194560 100 0 0 0 7 3 0 0 20 0 12 0 100 0", 0.1, false},
		{"1234 (short) S 1 2", 0, true},
		{"no paren", 0, true},
	}
	for _, tc := range tests {
		got, err := parseStatCPU([]byte(tc.in))
		if (err != nil) != tc.wantErr || (err == nil && got != tc.want) {
			t.Errorf("parseStatCPU(%q) = %v, %v; want %v, err %v", tc.in, got, err, tc.want, tc.wantErr)
		}
	}
}

func TestStats(t *testing.T) {
	ms := func(n ...int) []time.Duration {
		var d []time.Duration
		for _, x := range n {
			d = append(d, time.Duration(x)*time.Millisecond)
		}
		return d
	}
	tests := []struct {
		in            []time.Duration
		p50, p95, max time.Duration
	}{
		{ms(5), 5 * time.Millisecond, 5 * time.Millisecond, 5 * time.Millisecond},
		{ms(4, 1, 3, 2), 2 * time.Millisecond, 4 * time.Millisecond, 4 * time.Millisecond},
		{ms(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 100), 10 * time.Millisecond, 19 * time.Millisecond, 100 * time.Millisecond},
	}
	for _, tc := range tests {
		s := stats(tc.in)
		if s.P50 != tc.p50 || s.P95 != tc.p95 || s.Max != tc.max || s.N != len(tc.in) {
			t.Errorf("stats(%v) = %+v", tc.in, s)
		}
	}
	if s := stats(nil); s.N != 0 {
		t.Errorf("stats(nil) = %+v", s)
	}
}
