package cli

import (
	"strings"
	"testing"
	"time"
)

var testNow = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)

func TestParseAgo(t *testing.T) {
	tests := []struct {
		in      string
		want    time.Duration
		wantErr string
	}{
		{in: "90s", want: 90 * time.Second},
		{in: "15m", want: 15 * time.Minute},
		{in: "1h30m", want: 90 * time.Minute},
		{in: "1.5h", want: 90 * time.Minute},
		{in: "2d", want: 48 * time.Hour},
		{in: "1w", want: 7 * 24 * time.Hour},
		{in: "250ms", want: 250 * time.Millisecond},
		{in: "1m30s250ms", want: 90*time.Second + 250*time.Millisecond},
		{in: "0s", want: 0},
		{in: "", wantErr: "empty"},
		{in: "10", wantErr: "unit"},
		{in: "10x", wantErr: "unit"},
		{in: "h", wantErr: "expected a number"},
		{in: "-1h", wantErr: "expected a number"},
		{in: "1..2h", wantErr: "bad number"},
		{in: "1h ", wantErr: "expected a number"},
		{in: "200000w", wantErr: "100 years"},
	}
	for _, tc := range tests {
		got, err := parseAgo(tc.in)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("parseAgo(%q) = %v, %v; want error containing %q", tc.in, got, err, tc.wantErr)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("parseAgo(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
}

func TestParseTimeArg(t *testing.T) {
	seoul := time.FixedZone("KST", 9*3600)
	tests := []struct {
		in      string
		loc     *time.Location
		want    time.Time
		wantErr bool
	}{
		{in: "now", want: testNow},
		{in: "1h", want: testNow.Add(-time.Hour)},
		{in: "2d", want: testNow.Add(-48 * time.Hour)},
		{in: "2024-04-30T10:00:00Z", want: time.Date(2024, 4, 30, 10, 0, 0, 0, time.UTC)},
		{in: "2024-04-30T10:00:00.250+09:00", want: time.Date(2024, 4, 30, 1, 0, 0, 250e6, time.UTC)},
		// Without an offset the time is read in the output zone.
		{in: "2024-04-30T10:00:00", want: time.Date(2024, 4, 30, 10, 0, 0, 0, time.UTC)},
		{in: "2024-04-30T10:00:00", loc: seoul, want: time.Date(2024, 4, 30, 1, 0, 0, 0, time.UTC)},
		{in: "2024-04-30 10:00:00", want: time.Date(2024, 4, 30, 10, 0, 0, 0, time.UTC)},
		{in: "2024-04-30", want: time.Date(2024, 4, 30, 0, 0, 0, 0, time.UTC)},
		{in: "1714564800000", want: time.UnixMilli(1714564800000)},
		{in: "0", want: time.UnixMilli(0)},
		{in: " 1h ", want: testNow.Add(-time.Hour)},
		{in: "", wantErr: true},
		{in: "yesterday", wantErr: true},
		{in: "2024-13-01", wantErr: true},
		{in: "99999999999999999999", wantErr: true},
	}
	for _, tc := range tests {
		loc := tc.loc
		if loc == nil {
			loc = time.UTC
		}
		got, err := parseTimeArg(tc.in, testNow, loc)
		if tc.wantErr {
			if err == nil {
				t.Errorf("parseTimeArg(%q) = %v, want an error", tc.in, got)
			}
			continue
		}
		if err != nil || !got.Equal(tc.want) {
			t.Errorf("parseTimeArg(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
}

func TestTimeRange(t *testing.T) {
	ms := func(d time.Duration) int64 { return testNow.Add(-d).UnixMilli() }
	tests := []struct {
		name              string
		start, end, since string
		wantStart         *int64
		wantEnd           *int64
		wantErr           string
	}{
		{name: "none"},
		{name: "since", since: "10m", wantStart: ptr(ms(10 * time.Minute))},
		{name: "start end", start: "2h", end: "1h", wantStart: ptr(ms(2 * time.Hour)), wantEnd: ptr(ms(time.Hour))},
		{name: "end only", end: "now", wantEnd: ptr(testNow.UnixMilli())},
		{name: "start and since", start: "1h", since: "1h", wantErr: "both"},
		{name: "end before start", start: "1h", end: "2h", wantErr: "before the start"},
		{name: "bad since", since: "soon", wantErr: "--since"},
		{name: "bad start", start: "soon", wantErr: "--start"},
		{name: "bad end", end: "soon", wantErr: "--end"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, e, err := timeRange(tc.start, tc.end, tc.since, testNow, time.UTC)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !eqPtr(s, tc.wantStart) || !eqPtr(e, tc.wantEnd) {
				t.Fatalf("range = %v..%v, want %v..%v", deref(s), deref(e), deref(tc.wantStart), deref(tc.wantEnd))
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

func eqPtr(a, b *int64) bool { return (a == nil) == (b == nil) && (a == nil || *a == *b) }

func deref(p *int64) any {
	if p == nil {
		return nil
	}
	return *p
}

func FuzzParseAgo(f *testing.F) {
	for _, s := range []string{"1h", "1h30m", "1.5d", "250ms", "", "10", "1e9w", "9999999999999999999h", ".s", "1..h"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := parseAgo(s)
		if err != nil {
			return
		}
		if d < 0 || d > 100*365*24*time.Hour {
			t.Fatalf("parseAgo(%q) = %v, outside 0..100y", s, d)
		}
		// Whatever is accepted must be usable as a start time.
		_ = testNow.Add(-d)
	})
}

func FuzzParseTimeArg(f *testing.F) {
	for _, s := range []string{"now", "1h", "2024-04-30T10:00:00Z", "2024-04-30", "1714564800000", "x", "2024-04-30T10:00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := parseTimeArg(s, testNow, time.UTC)
		if err != nil || got.Year() < 1 || got.Year() > 9999 {
			return
		}
		// What is accepted is an instant that round-trips through the form
		// the tables print, so a printed time can always be given back.
		back, err := parseTimeArg(got.Format(time.RFC3339Nano), testNow, time.UTC)
		if err != nil || !back.Equal(got) {
			t.Fatalf("parseTimeArg(%q) = %v, which reads back as %v, %v", s, got, back, err)
		}
	})
}
