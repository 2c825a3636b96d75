package cli

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// parseTimeArg reads a --start or --end value. It accepts
//
//	RFC3339             2024-05-01T12:00:00Z, 2024-05-01T12:00:00.5+09:00
//	date and time       2024-05-01T12:00:00 or 2024-05-01 12:00:00, in loc
//	date                2024-05-01, midnight in loc
//	epoch milliseconds  1714564800000, what the CloudWatch Logs API uses
//	now
//	a duration ago      90s, 15m, 1h30m, 2d, 1w
//
// loc is the zone the output is printed in, so a time copied from a table
// row means the same instant when given back.
func parseTimeArg(s string, now time.Time, loc *time.Location) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, errors.New("empty time")
	}
	if s == "now" {
		return now, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	for _, layout := range []string{"2006-01-02T15:04:05", "2006-01-02 15:04:05", "2006-01-02T15:04", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, s, loc); err == nil {
			return t, nil
		}
	}
	if strings.Trim(s, "0123456789") == "" {
		ms, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return time.Time{}, fmt.Errorf("time %q: %w", s, err)
		}
		return time.UnixMilli(ms), nil
	}
	d, err := parseAgo(s)
	if err != nil {
		return time.Time{}, fmt.Errorf("time %q is not RFC3339, epoch milliseconds or a duration ago like 15m, 2h, 1d", s)
	}
	return now.Add(-d), nil
}

// agoUnits are the units parseAgo knows; ParseDuration stops at hours, but
// "2d" is how people ask for log history.
var agoUnits = []struct {
	name string
	d    time.Duration
}{
	// Longer names first so "ms" is not read as "m" followed by junk.
	{"ms", time.Millisecond}, {"s", time.Second}, {"m", time.Minute},
	{"h", time.Hour}, {"d", 24 * time.Hour}, {"w", 7 * 24 * time.Hour},
}

// parseAgo parses a non-negative duration written as one or more
// number-unit pairs (1h30m, 1.5h, 2d, 90s, 250ms).
func parseAgo(s string) (time.Duration, error) {
	orig := s
	if s == "" {
		return 0, errors.New("empty duration")
	}
	var total float64
	for s != "" {
		i := 0
		for i < len(s) && (s[i] >= '0' && s[i] <= '9' || s[i] == '.') {
			i++
		}
		if i == 0 {
			return 0, fmt.Errorf("duration %q: expected a number", orig)
		}
		n, err := strconv.ParseFloat(s[:i], 64)
		if err != nil {
			return 0, fmt.Errorf("duration %q: bad number %q", orig, s[:i])
		}
		s = s[i:]
		var unit time.Duration
		for _, u := range agoUnits {
			if strings.HasPrefix(s, u.name) {
				unit, s = u.d, s[len(u.name):]
				break
			}
		}
		if unit == 0 {
			return 0, fmt.Errorf("duration %q: missing or unknown unit (use ms, s, m, h, d, w)", orig)
		}
		total += n * float64(unit)
		// Bounded well below MaxInt64 so the caller's now.Add cannot wrap.
		if total > float64(100*365*24*time.Hour) || math.IsNaN(total) {
			return 0, fmt.Errorf("duration %q is longer than 100 years", orig)
		}
	}
	return time.Duration(total), nil
}

// timeRange turns --start/--end/--since values into epoch milliseconds for
// the API; nil means unset. --since is the shorthand for --start with a
// duration, so only one of them may be given.
func timeRange(start, end, since string, now time.Time, loc *time.Location) (startMs, endMs *int64, err error) {
	if start != "" && since != "" {
		return nil, nil, errors.New("--start and --since both set the start time: give one")
	}
	if since != "" {
		d, err := parseAgo(since)
		if err != nil {
			return nil, nil, fmt.Errorf("--since: %w", err)
		}
		ms := now.Add(-d).UnixMilli()
		startMs = &ms
	}
	if start != "" {
		t, err := parseTimeArg(start, now, loc)
		if err != nil {
			return nil, nil, fmt.Errorf("--start: %w", err)
		}
		ms := t.UnixMilli()
		startMs = &ms
	}
	if end != "" {
		t, err := parseTimeArg(end, now, loc)
		if err != nil {
			return nil, nil, fmt.Errorf("--end: %w", err)
		}
		ms := t.UnixMilli()
		endMs = &ms
	}
	if startMs != nil && endMs != nil && *endMs < *startMs {
		return nil, nil, fmt.Errorf("--end (%s) is before the start (%s)",
			time.UnixMilli(*endMs).In(loc).Format(time.RFC3339), time.UnixMilli(*startMs).In(loc).Format(time.RFC3339))
	}
	return startMs, endMs, nil
}
