package value

import (
	"math"
	"strconv"
	"testing"
)

// FuzzFromJSON checks that decoding never panics, that a number's value
// agrees with strconv, that printing round-trips through FromJSON for
// numbers, and that string coercion matches the number grammar.
func FuzzFromJSON(f *testing.F) {
	for _, s := range []string{"12", "-0", "1.50", "1e3", "1E-2", "01", "1e999", "-", `"12"`, `"a\u00e9"`, `"\ud800"`,
		"true", "false", "null", " 7 ", `{"a":1}`, "[1]", "", "+1", ".5", "1.", "NaN", "Infinity", "0x1p3", "1_0"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		v := FromJSON(raw)
		s := v.String()
		switch v.Kind() {
		case KindNumber:
			x, ok := v.AsNumber()
			if !ok || math.IsNaN(x) || math.IsInf(x, 0) {
				t.Fatalf("FromJSON(%q) number not finite: %v", raw, x)
			}
			y, err := strconv.ParseFloat(string(trimSpace(raw)), 64)
			if err != nil || y != x {
				t.Fatalf("FromJSON(%q) = %v, strconv says %v, %v", raw, x, y, err)
			}
			if back := FromJSON([]byte(s)); !Equal(back, v) {
				t.Fatalf("FromJSON(%q) prints %q which reads back as %#v", raw, s, back)
			}
			canon := string(appendNumber(nil, x))
			if back, ok := parseNumber(canon); !ok || back != x {
				t.Fatalf("canonical %q of %v does not parse back", canon, x)
			}
		case KindNull, KindBool:
		case KindString:
		default:
			t.Fatalf("FromJSON(%q) kind %v", raw, v.Kind())
		}
		// Coercion of the same text as a string.
		sv := Str(string(raw))
		if x, ok := sv.AsNumber(); ok {
			if math.IsNaN(x) || math.IsInf(x, 0) {
				t.Fatalf("Str(%q).AsNumber() = %v", raw, x)
			}
			if !isNumberText(string(raw)) {
				t.Fatalf("Str(%q) coerced but is not number text", raw)
			}
		}
		_ = Key(v)
		_, _ = v.AsTime()
	})
}

// fuzzValue builds a Value from fuzz input: the kind from a byte, the
// payload from a string, so the fuzzer explores numeric strings, words,
// booleans, times, durations and null.
func fuzzValue(kind uint8, s string, f float64) Value {
	switch kind % 7 {
	case 0:
		return Null()
	case 1:
		return Bool(f > 0)
	case 2:
		return Num(f)
	case 3:
		return Str(s)
	case 4:
		if math.Abs(f) < 1<<53 {
			return Time(int64(f))
		}
		return Time(0)
	case 5:
		if v, err := Dur(s); err == nil {
			return v
		}
		return Str(s)
	}
	return FromJSON([]byte(s))
}

// FuzzCompare checks that Compare is a total order on non-null values:
// antisymmetric, transitive (for the three values given), consistent with
// Equal and Key, and that Order puts nulls last.
func FuzzCompare(f *testing.F) {
	f.Add(uint8(3), "9", 0.0, uint8(2), "", 9.5, uint8(3), "10", 0.0)
	f.Add(uint8(3), "true", 0.0, uint8(1), "", 1.0, uint8(3), "abc", 0.0)
	f.Add(uint8(6), "1e3", 0.0, uint8(2), "", 1000.0, uint8(4), "", 1000.0)
	f.Add(uint8(5), "1h", 0.0, uint8(5), "60m", 0.0, uint8(0), "", 0.0)
	f.Add(uint8(3), "-0", 0.0, uint8(2), "", 0.0, uint8(3), "0.0", 0.0)
	f.Fuzz(func(t *testing.T, ka uint8, sa string, fa float64, kb uint8, sb string, fb float64, kc uint8, sc string, fc float64) {
		a, b, c := fuzzValue(ka, sa, fa), fuzzValue(kb, sb, fb), fuzzValue(kc, sc, fc)
		ab, okAB := Compare(a, b)
		ba, okBA := Compare(b, a)
		if okAB != okBA || ab != -ba {
			t.Fatalf("not antisymmetric: Compare(%#v, %#v) = %d, reverse %d", a, b, ab, ba)
		}
		if okAB != (!a.IsNull() && !b.IsNull()) {
			t.Fatalf("ok = %v for %#v, %#v", okAB, a, b)
		}
		if Equal(a, b) != (Key(a) == Key(b)) {
			t.Fatalf("Equal(%#v, %#v) = %v but keys %q %q", a, b, Equal(a, b), Key(a), Key(b))
		}
		if okAB && Equal(a, b) != (ab == 0) {
			t.Fatalf("Equal and Compare disagree on %#v, %#v", a, b)
		}
		if aa, ok := Compare(a, a); ok && aa != 0 {
			t.Fatalf("Compare(%#v, itself) = %d", a, aa)
		}
		bc, _ := Compare(b, c)
		ac, okAC := Compare(a, c)
		if okAB && okAC {
			if ab <= 0 && bc <= 0 && ac > 0 {
				t.Fatalf("not transitive: %#v <= %#v <= %#v but first > last", a, b, c)
			}
			if ab == 0 && bc == 0 && ac != 0 {
				t.Fatalf("equality not transitive: %#v %#v %#v", a, b, c)
			}
		}
		if o := Order(a, b); o != -Order(b, a) {
			t.Fatalf("Order not antisymmetric on %#v, %#v", a, b)
		}
		if a.IsNull() && !b.IsNull() && Order(a, b) != 1 {
			t.Fatalf("null does not sort last")
		}
	})
}

// FuzzParsePeriod checks that period parsing never panics and that floor
// and ceil bracket the timestamp and are idempotent.
func FuzzParsePeriod(f *testing.F) {
	for _, s := range []string{"5m", "1mo", "2 days", "1qtr", "3y", "100ms", "0s", "99999999999999999999h", "1w", "7yrs"} {
		f.Add(s, int64(1700000000123))
	}
	f.Add("1h", int64(-1))
	f.Fuzz(func(t *testing.T, s string, ms int64) {
		p, err := ParsePeriod(s)
		if err != nil {
			return
		}
		// Keep within ±100,000 years, where calendar arithmetic is exact.
		const span = 100_000 * 366 * 86400 * 1000
		if ms > span || ms < -span || p.nominalMillis() > span {
			return
		}
		fl, ce := p.Floor(ms), p.Ceil(ms)
		if fl > ms || ce < ms {
			t.Fatalf("%s: floor %d, ceil %d do not bracket %d", p, fl, ce, ms)
		}
		if p.Floor(fl) != fl || p.Ceil(ce) != ce {
			t.Fatalf("%s: floor/ceil of %d not idempotent (%d, %d)", p, ms, fl, ce)
		}
		if back, err := ParsePeriod(p.String()); err != nil || back != p {
			t.Fatalf("%s does not round-trip: %v %v", p, back, err)
		}
	})
}
