package value

import (
	"strings"
	"testing"
	"time"
)

func call(t *testing.T, name string, args ...Value) Value {
	t.Helper()
	f, err := Lookup(name, len(args))
	if err != nil {
		t.Fatalf("Lookup(%s, %d): %v", name, len(args), err)
	}
	v, err := f(args)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return v
}

func ms(s string) int64 {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t.UnixMilli()
}

func TestFunctions(t *testing.T) {
	tenMin, _ := Dur("10m")
	tests := []struct {
		name string
		args []Value
		want Value
	}{
		// General.
		{"ispresent", []Value{Str("")}, Bool(true)},
		{"ispresent", []Value{Null()}, Bool(false)},
		{"isPresent", []Value{Int(0)}, Bool(true)}, // names are case-insensitive
		{"coalesce", []Value{Null(), Null(), Str("c"), Str("d")}, Str("c")},
		{"coalesce", []Value{Null()}, Null()},
		{"coalesce", []Value{Str(""), Str("x")}, Str("")}, // empty is a value
		// Strings.
		{"concat", []Value{Str("a"), Int(1), Null(), Str("b")}, Str("a1b")},
		{"concat", []Value{Null(), Null()}, Null()},
		{"strlen", []Value{Str("héllo")}, Int(5)},
		{"strlen", []Value{Int(404)}, Int(3)},
		{"strlen", []Value{Null()}, Null()},
		{"strlen", []Value{Str("")}, Int(0)},
		{"toupper", []Value{Str("abc")}, Str("ABC")},
		{"tolower", []Value{Str("ÀBC")}, Str("àbc")},
		{"toupper", []Value{Null()}, Null()},
		{"trim", []Value{Str("  a b \t\n")}, Str("a b")},
		{"ltrim", []Value{Str("  a  ")}, Str("a  ")},
		{"rtrim", []Value{Str("  a  ")}, Str("  a")},
		{"trim", []Value{Str("xyaxy"), Str("xy")}, Str("a")},
		{"ltrim", []Value{Str("xyaxy"), Str("yx")}, Str("axy")},
		{"rtrim", []Value{Str("xyaxy"), Str("y")}, Str("xyax")},
		{"trim", []Value{Null()}, Null()},
		{"trim", []Value{Str("a"), Null()}, Null()},
		{"substr", []Value{Str("xyZfooxyZ"), Int(3), Int(3)}, Str("foo")},
		{"substr", []Value{Str("xyZfooxyZ"), Int(3)}, Str("fooxyZ")},
		{"substr", []Value{Str("héllo"), Int(1), Int(2)}, Str("él")},
		{"substr", []Value{Str("abc"), Int(10)}, Str("")},
		{"substr", []Value{Str("abc"), Int(-2), Int(2)}, Str("ab")},
		{"substr", []Value{Str("abc"), Int(1), Int(-1)}, Str("")},
		{"substr", []Value{Str("abc"), Int(1), Int(99)}, Str("bc")},
		{"substr", []Value{Str("abc"), Str("1")}, Str("bc")}, // coerced index
		{"substr", []Value{Str("abc"), Str("x")}, Null()},
		{"substr", []Value{Null(), Int(0)}, Null()},
		{"replace", []Value{Str("a-b-c"), Str("-"), Str("+")}, Str("a+b+c")},
		{"replace", []Value{Str("abc"), Str(""), Str("+")}, Str("abc")},
		{"replace", []Value{Null(), Str("a"), Str("b")}, Null()},
		{"strcontains", []Value{Str("timeout error"), Str("error")}, Int(1)},
		{"strcontains", []Value{Str("ok"), Str("error")}, Int(0)},
		{"strcontains", []Value{Str("Error"), Str("error")}, Int(0)}, // case-sensitive
		{"strcontains", []Value{Null(), Str("x")}, Int(0)},
		{"isempty", []Value{Null()}, Int(1)},
		{"isempty", []Value{Str("")}, Int(1)},
		{"isempty", []Value{Str(" ")}, Int(0)},
		{"isblank", []Value{Str(" \t")}, Int(1)},
		{"isblank", []Value{Null()}, Int(1)},
		{"isblank", []Value{Str(" x ")}, Int(0)},
		// Numeric.
		{"abs", []Value{Int(-3)}, Int(3)},
		{"abs", []Value{Str("-2.5")}, Num(2.5)},
		{"abs", []Value{Str("x")}, Null()},
		{"ceil", []Value{Num(1.2)}, Int(2)},
		{"ceil", []Value{Num(-1.2)}, Int(-1)},
		{"floor", []Value{Num(1.8)}, Int(1)},
		{"floor", []Value{Num(-1.2)}, Int(-2)},
		{"log", []Value{Int(1)}, Int(0)},
		{"log", []Value{Int(0)}, Null()},
		{"log", []Value{Int(-1)}, Null()},
		{"sqrt", []Value{Int(16)}, Int(4)},
		{"sqrt", []Value{Int(-1)}, Null()},
		{"greatest", []Value{Int(1), Str("7"), Null(), Str("x"), Num(2.5)}, Int(7)},
		{"least", []Value{Int(1), Str("-7"), Num(2.5)}, Int(-7)},
		{"least", []Value{Null(), Str("x")}, Null()},
		// Datetime.
		{"bin", []Value{Time(ms("2024-03-05T10:07:31.5Z")), mustDur(t, "5m")}, Time(ms("2024-03-05T10:05:00Z"))},
		{"datefloor", []Value{Time(ms("2024-03-05T10:07:31.5Z")), mustDur(t, "1h")}, Time(ms("2024-03-05T10:00:00Z"))},
		{"datefloor", []Value{Time(ms("2024-03-05T10:07:31.5Z")), Str("1d")}, Time(ms("2024-03-05T00:00:00Z"))},
		{"dateceil", []Value{Time(ms("2024-03-05T10:07:31.5Z")), mustDur(t, "1h")}, Time(ms("2024-03-05T11:00:00Z"))},
		{"dateceil", []Value{Time(ms("2024-03-05T10:00:00Z")), mustDur(t, "1h")}, Time(ms("2024-03-05T10:00:00Z"))},
		{"datefloor", []Value{Int(ms("2024-03-05T10:07:31Z")), tenMin}, Time(ms("2024-03-05T10:00:00Z"))},
		{"datefloor", []Value{Null(), tenMin}, Null()},
		{"datefloor", []Value{Time(0), Str("5 parsecs")}, Null()},
		{"fromMillis", []Value{Int(1700000000123)}, Time(1700000000123)},
		{"frommillis", []Value{Str("1700000000123")}, Time(1700000000123)},
		{"fromMillis", []Value{Str("x")}, Null()},
		{"toMillis", []Value{Time(1700000000123)}, Int(1700000000123)},
		{"toMillis", []Value{Null()}, Null()},
		// IP.
		{"isValidIp", []Value{Str("192.0.2.1")}, Bool(true)},
		{"isValidIp", []Value{Str("2001:db8::1")}, Bool(true)},
		{"isValidIp", []Value{Str("192.0.2.256")}, Bool(false)},
		{"isValidIp", []Value{Str("01.2.3.4")}, Bool(false)},
		{"isValidIp", []Value{Str("fe80::1%eth0")}, Bool(false)},
		{"isValidIp", []Value{Null()}, Bool(false)},
		{"isValidIpV4", []Value{Str("192.0.2.1")}, Bool(true)},
		{"isValidIpV4", []Value{Str("::1")}, Bool(false)},
		{"isValidIpV6", []Value{Str("::ffff:192.0.2.1")}, Bool(true)},
		{"isValidIpV6", []Value{Str("192.0.2.1")}, Bool(false)},
		{"isIpInSubnet", []Value{Str("192.0.2.7"), Str("192.0.2.0/24")}, Bool(true)},
		{"isIpInSubnet", []Value{Str("192.0.3.7"), Str("192.0.2.0/24")}, Bool(false)},
		{"isIpInSubnet", []Value{Str("192.0.2.7"), Str("192.0.2.99/24")}, Bool(true)}, // host bits ignored
		{"isIpInSubnet", []Value{Str("192.0.2.7"), Str("192.0.2.7")}, Bool(true)},     // bare address = /32
		{"isIpInSubnet", []Value{Str("10.1.2.3"), Str("0.0.0.0/0")}, Bool(true)},
		{"isIpInSubnet", []Value{Str("2001:db8::5"), Str("2001:db8::/32")}, Bool(true)},
		{"isIpInSubnet", []Value{Str("2001:db9::5"), Str("2001:db8::/32")}, Bool(false)},
		{"isIpInSubnet", []Value{Str("192.0.2.7"), Str("::ffff:192.0.2.0/120")}, Bool(false)},
		{"isIpInSubnet", []Value{Str("192.0.2.7"), Str("192.0.2.0/33")}, Bool(false)},
		{"isIpInSubnet", []Value{Str("nope"), Str("192.0.2.0/24")}, Bool(false)},
		{"isIpInSubnet", []Value{Null(), Str("192.0.2.0/24")}, Bool(false)},
		{"isIpv4InSubnet", []Value{Str("192.0.2.7"), Str("192.0.2.0/24")}, Bool(true)},
		{"isIpv4InSubnet", []Value{Str("2001:db8::5"), Str("2001:db8::/32")}, Bool(false)},
		{"isIpv6InSubnet", []Value{Str("2001:db8::5"), Str("2001:db8::/32")}, Bool(true)},
		{"isIpv6InSubnet", []Value{Str("192.0.2.7"), Str("192.0.2.0/24")}, Bool(false)},
	}
	for _, tt := range tests {
		got := call(t, tt.name, tt.args...)
		if got != tt.want {
			t.Errorf("%s(%q) = %#v (%q), want %#v (%q)", tt.name, tt.args, got, got, tt.want, tt.want)
		}
	}
}

func TestLookupErrors(t *testing.T) {
	tests := []struct {
		name  string
		nargs int
		want  string
	}{
		{"fo", 1, "unknown function 'fo'"},
		{"strlen", 2, "strlen takes 1 argument, got 2"},
		{"STRLEN", 0, "strlen takes 1 argument, got 0"},
		{"replace", 2, "replace takes 3 arguments, got 2"},
		{"trim", 3, "trim takes 1 or 2 arguments, got 3"},
		{"concat", 0, "concat takes at least 1 argument, got 0"},
		{"fromMillis", 2, "fromMillis takes 1 argument, got 2"},
		{"count", 1, "count is an aggregate function"},
	}
	for _, tt := range tests {
		_, err := Lookup(tt.name, tt.nargs)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Lookup(%s, %d) error = %v, want %q", tt.name, tt.nargs, err, tt.want)
		}
	}
}

func TestPeriods(t *testing.T) {
	at := ms("2024-05-17T13:45:30.250Z") // a Friday
	tests := []struct {
		period      string
		floor, ceil string
	}{
		{"100ms", "2024-05-17T13:45:30.200Z", "2024-05-17T13:45:30.300Z"},
		{"1msec", "2024-05-17T13:45:30.250Z", "2024-05-17T13:45:30.250Z"},
		{"30s", "2024-05-17T13:45:30Z", "2024-05-17T13:46:00Z"},
		{"2secs", "2024-05-17T13:45:30Z", "2024-05-17T13:45:32Z"},
		{"5m", "2024-05-17T13:45:00Z", "2024-05-17T13:50:00Z"},
		{"15min", "2024-05-17T13:45:00Z", "2024-05-17T14:00:00Z"},
		{"1h", "2024-05-17T13:00:00Z", "2024-05-17T14:00:00Z"},
		{"2hrs", "2024-05-17T12:00:00Z", "2024-05-17T14:00:00Z"},
		{"1d", "2024-05-17T00:00:00Z", "2024-05-18T00:00:00Z"},
		{"1w", "2024-05-13T00:00:00Z", "2024-05-20T00:00:00Z"}, // Monday
		{"1week", "2024-05-13T00:00:00Z", "2024-05-20T00:00:00Z"},
		{"1mo", "2024-05-01T00:00:00Z", "2024-06-01T00:00:00Z"},
		{"1mon", "2024-05-01T00:00:00Z", "2024-06-01T00:00:00Z"},
		{"2months", "2024-05-01T00:00:00Z", "2024-07-01T00:00:00Z"},
		{"1q", "2024-04-01T00:00:00Z", "2024-07-01T00:00:00Z"},
		{"1qtr", "2024-04-01T00:00:00Z", "2024-07-01T00:00:00Z"},
		{"1y", "2024-01-01T00:00:00Z", "2025-01-01T00:00:00Z"},
		{"1yr", "2024-01-01T00:00:00Z", "2025-01-01T00:00:00Z"},
	}
	for _, tt := range tests {
		p, err := ParsePeriod(tt.period)
		if err != nil {
			t.Fatalf("ParsePeriod(%s): %v", tt.period, err)
		}
		if got := p.Floor(at); got != ms(tt.floor) {
			t.Errorf("%s floor = %s, want %s", tt.period, Time(got), tt.floor)
		}
		if got := p.Ceil(at); got != ms(tt.ceil) {
			t.Errorf("%s ceil = %s, want %s", tt.period, Time(got), tt.ceil)
		}
	}
	// Before the epoch, floors still go down.
	p, _ := ParsePeriod("1h")
	if got := p.Floor(-1); got != -3600000 {
		t.Errorf("floor(-1ms, 1h) = %d", got)
	}
	p, _ = ParsePeriod("1mo")
	if got := p.Floor(ms("1969-07-20T20:17:00Z")); got != ms("1969-07-01T00:00:00Z") {
		t.Errorf("floor(1969, 1mo) = %s", Time(got))
	}
	for _, bad := range []string{"", "m", "0m", "-5m", "5", "5parsecs", "5M", "99999999999999999999h", "9223372036854775807w"} {
		if _, err := ParsePeriod(bad); err == nil {
			t.Errorf("ParsePeriod(%q) succeeded", bad)
		}
	}
}

func TestLikeAndIn(t *testing.T) {
	if !Like(Str("GET /api 500"), "api") || Like(Str("GET /API"), "api") || Like(Null(), "") {
		t.Error("Like is a case-sensitive substring match that never matches null")
	}
	if !Like(Int(404), "40") {
		t.Error("Like matches numbers by their printed form")
	}
	if !In(Str("200"), []Value{Int(404), Int(200)}) || In(Null(), []Value{Null()}) || In(Str("x"), nil) {
		t.Error("In uses Equal and excludes null")
	}
}
