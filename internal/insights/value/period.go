package value

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Period is a bin()/datefloor() period: N units. Calendar units (months,
// quarters, years) floor to calendar boundaries in UTC; the others are
// fixed lengths measured from the epoch.
type Period struct {
	N    int64
	Unit string // canonical: ms s m h d w mo q y
}

// unitMillis is the fixed length of each non-calendar unit.
func unitMillis(unit string) int64 {
	switch unit {
	case "ms":
		return 1
	case "s":
		return 1000
	case "m":
		return 60 * 1000
	case "h":
		return 3600 * 1000
	case "d":
		return 86400 * 1000
	case "w":
		return 7 * 86400 * 1000
	}
	return 0
}

// monthsPer is the number of months in a calendar unit (0 for fixed units).
func monthsPer(unit string) int64 {
	switch unit {
	case "mo":
		return 1
	case "q":
		return 3
	case "y":
		return 12
	}
	return 0
}

// canonicalUnit maps the spellings the AWS stats page lists for bin()
// ("millisecond ms msec, second s sec, minute m min, hour h hr, day d,
// week w, month mo mon, quarter q qtr, year y yr", multi-letter ones also
// with a plural s) to one name.
func canonicalUnit(u string) (string, bool) {
	switch u {
	case "ms", "msec", "msecs", "millisecond", "milliseconds":
		return "ms", true
	case "s", "sec", "secs", "second", "seconds":
		return "s", true
	case "m", "min", "mins", "minute", "minutes":
		return "m", true
	case "h", "hr", "hrs", "hour", "hours":
		return "h", true
	case "d", "day", "days":
		return "d", true
	case "w", "week", "weeks":
		return "w", true
	case "mo", "mos", "mon", "mons", "month", "months":
		return "mo", true
	case "q", "qtr", "qtrs", "quarter", "quarters":
		return "q", true
	case "y", "yr", "yrs", "year", "years":
		return "y", true
	}
	return "", false
}

// ParsePeriod parses a period literal such as "5m", "1hr", "2 days" or
// "1mo". The count must be a positive integer.
func ParsePeriod(s string) (Period, error) {
	t := strings.TrimSpace(s)
	i := 0
	for i < len(t) && t[i] >= '0' && t[i] <= '9' {
		i++
	}
	if i == 0 {
		return Period{}, fmt.Errorf("invalid period %q: want a count and a unit such as 5m", s)
	}
	n, err := strconv.ParseInt(t[:i], 10, 64)
	if err != nil || n <= 0 {
		return Period{}, fmt.Errorf("invalid period %q: count must be a positive integer", s)
	}
	unit, ok := canonicalUnit(strings.TrimSpace(t[i:]))
	if !ok {
		return Period{}, fmt.Errorf("invalid period %q: unknown unit %q (use ms, s, m, h, d, w, mo, q or y)", s, strings.TrimSpace(t[i:]))
	}
	p := Period{N: n, Unit: unit}
	if !p.valid() {
		return Period{}, fmt.Errorf("invalid period %q: too long", s)
	}
	return p, nil
}

// valid reports whether the period has a known unit and its length fits
// in int64 milliseconds (and a sane number of months).
func (p Period) valid() bool {
	if p.N <= 0 {
		return false
	}
	if ms := unitMillis(p.Unit); ms != 0 {
		return p.N <= (1<<62)/ms
	}
	return monthsPer(p.Unit) != 0 && p.N <= 1_000_000
}

// Duration makes a period value, e.g. the literal 5m in bin(5m).
func Duration(p Period) Value {
	return Value{kind: KindDuration, num: float64(p.N), str: p.Unit}
}

// Dur parses a period literal into a Duration value.
func Dur(s string) (Value, error) {
	p, err := ParsePeriod(s)
	if err != nil {
		return Value{}, err
	}
	return Duration(p), nil
}

// periodOf reads a period from a function argument: a Duration, a string
// literal ("1h"), or a number of milliseconds.
func periodOf(v Value) (Period, bool) {
	switch v.kind {
	case KindDuration:
		p := Period{N: int64(v.num), Unit: v.str}
		return p, p.valid()
	case KindString:
		p, err := ParsePeriod(v.str)
		return p, err == nil
	case KindNumber:
		if v.num >= 1 && v.IsInt() {
			return Period{N: int64(v.num), Unit: "ms"}, true
		}
	}
	return Period{}, false
}

func (p Period) String() string { return strconv.FormatInt(p.N, 10) + p.Unit }

// nominalMillis is the period's length with a month taken as 30 days, a
// quarter 91 and a year 365; used only to order durations.
func (p Period) nominalMillis() float64 {
	if ms := unitMillis(p.Unit); ms != 0 {
		return float64(p.N) * float64(ms)
	}
	return float64(p.N) * float64(monthsPer(p.Unit)) * 30 * 86400 * 1000
}

// weekOrigin is Monday 1970-01-05 UTC: weeks start on Monday (ISO 8601),
// not on the epoch's Thursday. AWS does not say; Monday is what its
// console's weekly bins show and what ISO weeks mean.
const weekOrigin = 4 * 86400 * 1000

// Floor returns the start of the period that contains ms.
func (p Period) Floor(ms int64) int64 {
	if months := monthsPer(p.Unit); months != 0 {
		t := time.UnixMilli(ms).UTC()
		m := int64(t.Year()-1970)*12 + int64(t.Month()-1)
		step := months * p.N
		m = floorDiv(m, step) * step
		return time.Date(1970+int(floorDiv(m, 12)), time.Month(m-floorDiv(m, 12)*12+1), 1, 0, 0, 0, 0, time.UTC).UnixMilli()
	}
	step := unitMillis(p.Unit) * p.N
	origin := int64(0)
	if p.Unit == "w" {
		origin = weekOrigin
	}
	return floorDiv(ms-origin, step)*step + origin
}

// Ceil returns ms if it is on a period boundary, else the next boundary.
func (p Period) Ceil(ms int64) int64 {
	f := p.Floor(ms)
	if f == ms {
		return ms
	}
	if months := monthsPer(p.Unit); months != 0 {
		return time.UnixMilli(f).UTC().AddDate(0, int(months*p.N), 0).UnixMilli()
	}
	return f + unitMillis(p.Unit)*p.N
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

func timeAddMonths(ms int64, months int) int64 {
	return time.UnixMilli(ms).UTC().AddDate(0, months, 0).UnixMilli()
}
