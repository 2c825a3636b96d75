package value

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
)

func TestString(t *testing.T) {
	tenth, fifth := 0.1, 0.2 // variables: constant arithmetic would be exact
	tests := []struct {
		v    Value
		want string
	}{
		{Null(), ""},
		{Int(42), "42"},
		{Num(12.0), "12"},
		{Num(-0.5), "-0.5"},
		{Num(math.Copysign(0, -1)), "0"},
		{Num(tenth + fifth), "0.30000000000000004"},
		{Num(1e21), "1e+21"},
		{Num(1e-7), "1e-07"},
		{Num(123456789012), "123456789012"},
		{Num(math.NaN()), ""},
		{Num(math.Inf(1)), ""},
		{Bool(true), "1"},
		{Bool(false), "0"},
		{Str("héllo"), "héllo"},
		{Time(0), "1970-01-01 00:00:00.000"},
		{Time(1700000000123), "2023-11-14 22:13:20.123"},
		{Time(-1), "1969-12-31 23:59:59.999"},
		{FromJSON([]byte("1.50")), "1.50"},
		{FromJSON([]byte("1e3")), "1e3"},
		{FromJSON([]byte("true")), "true"},
		{FromJSON([]byte("false")), "false"},
	}
	for _, tt := range tests {
		if got := tt.v.String(); got != tt.want {
			t.Errorf("%#v.String() = %q, want %q", tt.v, got, tt.want)
		}
	}
	if Num(math.NaN()).Kind() != KindNull {
		t.Error("NaN must be null")
	}
}

func TestAsNumber(t *testing.T) {
	tests := []struct {
		v    Value
		want float64
		ok   bool
	}{
		{Int(3), 3, true},
		{Str("12"), 12, true},
		{Str("-0.5"), -0.5, true},
		{Str("+7"), 7, true},
		{Str("1e3"), 1000, true},
		{Str(".5"), 0.5, true},
		{Str("5."), 5, true},
		{Str(" 12"), 0, false},
		{Str("12 "), 0, false},
		{Str("0x10"), 0, false},
		{Str("Inf"), 0, false},
		{Str("NaN"), 0, false},
		{Str("1_000"), 0, false},
		{Str("1e999"), 0, false},
		{Str("1e"), 0, false},
		{Str("-"), 0, false},
		{Str("."), 0, false},
		{Str(""), 0, false},
		{Str("abc"), 0, false},
		{Bool(true), 1, true},
		{Time(5), 5, true},
		{Null(), 0, false},
	}
	for _, tt := range tests {
		got, ok := tt.v.AsNumber()
		if ok != tt.ok || (ok && got != tt.want) {
			t.Errorf("%#v.AsNumber() = %v, %v; want %v, %v", tt.v, got, ok, tt.want, tt.ok)
		}
	}
}

func TestFromJSON(t *testing.T) {
	tests := []struct {
		raw  string
		kind Kind
		want string
	}{
		{"null", KindNull, ""},
		{" null ", KindNull, ""},
		{"", KindNull, ""},
		{"true", KindBool, "true"},
		{"12", KindNumber, "12"},
		{"-3.25", KindNumber, "-3.25"},
		{"1E2", KindNumber, "1E2"},
		{"01", KindString, "01"},       // not JSON: kept as text
		{"1e999", KindString, "1e999"}, // overflows float64
		{"-", KindString, "-"},
		{`"12"`, KindString, "12"},
		{`"a\"b\u00e9\n"`, KindString, "a\"bé\n"},
		{`"plain"`, KindString, "plain"},
		{`"bad\x"`, KindString, `"bad\x"`},
		{`{"a":1}`, KindString, `{"a":1}`},
		{`[1,2]`, KindString, `[1,2]`},
		{"nul", KindString, "nul"},
	}
	for _, tt := range tests {
		v := FromJSON([]byte(tt.raw))
		if v.Kind() != tt.kind || v.String() != tt.want {
			t.Errorf("FromJSON(%q) = %v %q, want %v %q", tt.raw, v.Kind(), v.String(), tt.kind, tt.want)
		}
	}
	if n, _ := FromJSON([]byte("42")).AsNumber(); n != 42 {
		t.Errorf("FromJSON(42) number = %v", n)
	}
	// A canonical JSON number allocates nothing.
	raw := []byte("12345")
	if allocs := testing.AllocsPerRun(100, func() { _ = FromJSON(raw) }); allocs != 0 {
		t.Errorf("FromJSON(number) allocates %v times", allocs)
	}
}

func TestAsTime(t *testing.T) {
	tests := []struct {
		v    Value
		want int64
		ok   bool
	}{
		{Time(5), 5, true},
		{Int(1700000000000), 1700000000000, true},
		{Str("1700000000000"), 1700000000000, true},
		{Str("2023-11-14T22:13:20.123Z"), 1700000000123, true},
		{Str("2023-11-14 22:13:20.123"), 1700000000123, true},
		{Str("yesterday"), 0, false},
		{Num(1e300), 0, false},
		{Null(), 0, false},
	}
	for _, tt := range tests {
		got, ok := tt.v.AsTime()
		if ok != tt.ok || got != tt.want {
			t.Errorf("%#v.AsTime() = %v, %v; want %v, %v", tt.v, got, ok, tt.want, tt.ok)
		}
	}
}

func TestTruthy(t *testing.T) {
	for _, tt := range []struct {
		v    Value
		want bool
	}{
		{Null(), false}, {Bool(true), true}, {Bool(false), false}, {Int(1), true},
		{Int(0), false}, {Str(""), false}, {Str("x"), true},
	} {
		if got := tt.v.Truthy(); got != tt.want {
			t.Errorf("%#v.Truthy() = %v", tt.v, got)
		}
	}
}

func TestCompare(t *testing.T) {
	tests := []struct {
		a, b Value
		want int
		ok   bool
	}{
		{Int(1), Int(2), -1, true},
		{Num(2.5), Int(2), 1, true},
		{Str("200"), Int(200), 0, true},
		{Str("9"), Str("10"), -1, true}, // numeric strings order as numbers
		{Str("10"), Num(10.5), -1, true},
		{Str("abc"), Str("abd"), -1, true},
		{Str("B"), Str("a"), -1, true},   // case-sensitive, byte order
		{Int(999), Str("abc"), -1, true}, // numbers before words
		{Bool(true), Int(0), -1, true},   // booleans first
		{Bool(false), Bool(true), -1, true},
		{FromJSON([]byte("true")), Str("true"), 0, true},
		{Time(1000), Int(1000), 0, true},
		{Time(1000), Int(999), 1, true},
		{mustDur(t, "1h"), mustDur(t, "60m"), 0, true},
		{mustDur(t, "1d"), mustDur(t, "1h"), 1, true},
		{Null(), Int(1), 0, false},
		{Int(1), Null(), 0, false},
		{Null(), Null(), 0, false},
	}
	for _, tt := range tests {
		got, ok := Compare(tt.a, tt.b)
		if got != tt.want || ok != tt.ok {
			t.Errorf("Compare(%q, %q) = %d, %v; want %d, %v", tt.a, tt.b, got, ok, tt.want, tt.ok)
		}
		if tt.ok {
			if back, _ := Compare(tt.b, tt.a); back != -tt.want {
				t.Errorf("Compare(%q, %q) = %d, not antisymmetric", tt.b, tt.a, back)
			}
		}
	}
}

func mustDur(t *testing.T, s string) Value {
	t.Helper()
	v, err := Dur(s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestEqualAndKey(t *testing.T) {
	tests := []struct {
		a, b Value
		want bool
	}{
		{Null(), Null(), true},
		{Null(), Str(""), false},
		{Str(""), Str(""), true},
		{Str("12"), Int(12), true},
		{Str("12.0"), Int(12), true},
		{Str("12a"), Int(12), false},
		{Num(math.Copysign(0, -1)), Int(0), true},
		{Str("true"), Bool(true), true},
		{Str("True"), Bool(true), false},
		{Str("x"), Str("x"), true},
		{Time(5), Int(5), true},
	}
	for _, tt := range tests {
		if got := Equal(tt.a, tt.b); got != tt.want {
			t.Errorf("Equal(%#v, %#v) = %v", tt.a, tt.b, got)
		}
		if got := Key(tt.a) == Key(tt.b); got != tt.want {
			t.Errorf("Key(%#v)=%q, Key(%#v)=%q: equal=%v, want %v", tt.a, Key(tt.a), tt.b, Key(tt.b), got, tt.want)
		}
	}
}

func TestOrderNullsLast(t *testing.T) {
	if Order(Null(), Int(1)) != 1 || Order(Int(1), Null()) != -1 || Order(Null(), Null()) != 0 {
		t.Error("nulls must sort last")
	}
	if Order(Int(1), Int(2)) != -1 {
		t.Error("Order(1, 2)")
	}
}

func TestArithmetic(t *testing.T) {
	h := mustDur(t, "1h")
	mo := mustDur(t, "1mo")
	tests := []struct {
		name string
		got  Value
		want Value
	}{
		{"add", Add(Int(2), Int(3)), Int(5)},
		{"add string coerces", Add(Str("12"), Int(1)), Int(13)},
		{"add word is null", Add(Str("x"), Int(1)), Null()},
		{"add null", Add(Null(), Int(1)), Null()},
		{"sub", Sub(Int(2), Num(0.5)), Num(1.5)},
		{"mul", Mul(Int(4), Int(-2)), Int(-8)},
		{"div", Div(Int(5), Int(2)), Num(2.5)},
		{"div zero", Div(Int(5), Int(0)), Null()},
		{"mod", Mod(Int(10), Int(3)), Int(1)},
		{"mod negative", Mod(Int(-10), Int(3)), Int(-1)},
		{"mod zero", Mod(Int(1), Int(0)), Null()},
		{"pow", Pow(Int(2), Int(3)), Int(8)},
		{"pow inf", Pow(Int(0), Int(-1)), Null()},
		{"neg", Neg(Str("4")), Int(-4)},
		{"neg null", Neg(Null()), Null()},
		{"time plus hour", Add(Time(0), h), Time(3600000)},
		{"hour plus time", Add(h, Time(0)), Time(3600000)},
		{"time minus hour", Sub(Time(3600000), h), Time(0)},
		{"time plus month", Add(Time(0), mo), Time(31 * 86400000)},
		{"time minus time", Sub(Time(5000), Time(2000)), Int(3000)},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s: got %#v (%q), want %#v", tt.name, tt.got, tt.got, tt.want)
		}
	}
}

// FuzzUnquote: the fast paths give what encoding/json gives.
func FuzzUnquote(f *testing.F) {
	for _, s := range []string{`"plain"`, `"a\"b\\c\/d\n\t\r\b\f"`, `"\u00e9"`, "\"x\ty\"", `"é\n"`, "\"\xff\\n\"", `"trailing\"`, `"12345678\\9abcdefgh"`, `"\ud83d\ude00"`, `"\ud83d"`, `"\ud83dx"`, `"\ud83d\u0041"`, `"\uDE00\ud83d"`, `"<\u003c\u0026>"`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		if len(raw) < 2 || raw[0] != '"' || raw[len(raw)-1] != '"' {
			return
		}
		inner := raw[1 : len(raw)-1]
		plain := !strings.ContainsAny(inner, "\"\\\\") && !strings.ContainsFunc(inner, func(r rune) bool { return r < 0x20 })
		if PlainJSONString(inner) != plain {
			t.Fatalf("PlainJSONString(%q) = %v", inner, !plain)
		}
		// A plain string is kept as it is (even invalid UTF-8); the rest
		// is what encoding/json decodes, or the raw text if it cannot.
		want := inner
		if !plain {
			want = raw
			var s string
			if err := json.Unmarshal([]byte(raw), &s); err == nil {
				want = s
			}
		}
		if got := unquote([]byte(raw)); got != want {
			t.Fatalf("unquote(%q) = %q, want %q", raw, got, want)
		}
	})
}

// TestUnescapeSimpleTakesLogLines: escaped quotes, backslashes and \u
// escapes, what log lines hold, stay on the fast path.
func TestUnescapeSimpleTakesLogLines(t *testing.T) {
	in := `GET \"/api?q=1\" \u003cok\u003e C:\\tmp \ud83d\ude00`
	got, ok := unescapeSimple([]byte(in))
	var want string
	if err := json.Unmarshal([]byte(`"`+in+`"`), &want); err != nil || !ok || got != want {
		t.Fatalf("unescapeSimple = %q, %v; encoding/json %q, %v", got, ok, want, err)
	}
}
