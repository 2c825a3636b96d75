package value

import (
	"encoding/binary"
	"encoding/json"
	"math"
	"strconv"
	"time"
	"unicode/utf8"
	"unsafe"

	"github.com/kinsight/kinsight/internal/jsonx"
)

// Kind is the dynamic type of a Value.
type Kind uint8

// The kinds a Value can have. The zero Value is Null, so a missing field
// needs no constructor.
const (
	KindNull     Kind = iota
	KindBool          // ispresent, isValidIp, comparisons, JSON true/false
	KindNumber        // float64; integral values print without a fraction
	KindString        // any text, including JSON objects and arrays kept as text
	KindTime          // milliseconds since the Unix epoch, UTC
	KindDuration      // a bin/datefloor period such as 5m or 1mo
)

func (k Kind) String() string {
	switch k {
	case KindNull:
		return "null"
	case KindBool:
		return "bool"
	case KindNumber:
		return "number"
	case KindString:
		return "string"
	case KindTime:
		return "time"
	case KindDuration:
		return "duration"
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// TimeLayout is how Insights prints timestamps (@timestamp, bin(), fromMillis).
const TimeLayout = "2006-01-02 15:04:05.000"

// Value is one field or expression value. It is small (32 bytes),
// comparable with ==, and building a null, bool or number allocates
// nothing. == is identity of representation; use Equal for the query
// language's equality ("12" = 12).
type Value struct {
	kind Kind
	num  float64 // Bool: 0/1; Number; Time: ms; Duration: count
	// str is the String payload; for a Number or Bool read from JSON whose
	// text differs from the canonical form ("1.50", "1e3", "true") it keeps
	// that text so results print what the log said; for Duration the unit.
	str string
}

// Null is the missing value: a field the event does not have, or a
// function applied to something it cannot use.
func Null() Value { return Value{} }

// Str makes a string value.
func Str(s string) Value { return Value{kind: KindString, str: s} }

// Num makes a number. NaN and ±Inf become Null: AWS never prints them, and
// keeping them out makes Compare a total order on non-null values
// (0/0, sqrt(-1), log(0) and x/0 are therefore null).
func Num(f float64) Value {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return Value{}
	}
	return Value{kind: KindNumber, num: f}
}

// Int makes an integral number. Integers beyond ±2^53 lose precision, as
// they do in AWS's JSON.
func Int(i int64) Value { return Value{kind: KindNumber, num: float64(i)} }

// Bool makes a boolean. Computed booleans print as "1" and "0", as
// Insights shows the result of ispresent() or a comparison in a column.
func Bool(b bool) Value {
	if b {
		return Value{kind: KindBool, num: 1}
	}
	return Value{kind: KindBool}
}

// Time makes a timestamp from milliseconds since the epoch.
func Time(ms int64) Value { return Value{kind: KindTime, num: float64(ms)} }

// Kind reports the dynamic type.
func (v Value) Kind() Kind { return v.kind }

// IsNull reports whether v is the missing value.
func (v Value) IsNull() bool { return v.kind == KindNull }

// Same reports whether v and w are the same representation (kind, number
// bits and text), so that anything computed from one holds for the
// other; values that are only equal (1 and 1.0) are not the same.
func (v Value) Same(w Value) bool {
	return v.kind == w.kind && math.Float64bits(v.num) == math.Float64bits(w.num) && v.str == w.str
}

// IsInt reports whether v is a number with no fractional part that a
// float64 holds exactly (the printing hint).
func (v Value) IsInt() bool {
	return v.kind == KindNumber && v.num == math.Trunc(v.num) && math.Abs(v.num) <= 1<<53
}

// Millis returns a Time's milliseconds (0 for other kinds).
func (v Value) Millis() int64 {
	if v.kind != KindTime {
		return 0
	}
	return int64(v.num)
}

// BoolValue returns a Bool's value (false for other kinds).
func (v Value) BoolValue() bool { return v.kind == KindBool && v.num != 0 }

// String prints v the way Insights shows it in a result cell: null is
// empty, numbers in plain decimal ("12", "0.5", "1e-07" only when tiny or
// huge), times as "2006-01-02 15:04:05.000" in UTC, durations as "5m".
func (v Value) String() string {
	switch v.kind {
	case KindNull:
		return ""
	case KindBool:
		if v.str != "" {
			return v.str
		}
		if v.num != 0 {
			return "1"
		}
		return "0"
	case KindNumber:
		if v.str != "" {
			return v.str
		}
		return string(appendNumber(nil, v.num))
	case KindString:
		return v.str
	case KindTime:
		return time.UnixMilli(int64(v.num)).UTC().Format(TimeLayout)
	case KindDuration:
		return strconv.FormatInt(int64(v.num), 10) + v.str
	}
	return ""
}

// appendNumber formats f in the shortest form that reads back exactly,
// plain decimal for everyday magnitudes and exponent form outside them.
func appendNumber(dst []byte, f float64) []byte {
	if f == 0 {
		return append(dst, '0') // also for -0
	}
	if a := math.Abs(f); a >= 1e-6 && a < 1e21 {
		return strconv.AppendFloat(dst, f, 'f', -1, 64)
	}
	return strconv.AppendFloat(dst, f, 'g', -1, 64)
}

// AsNumber coerces v to a float64: numbers as they are, times as
// milliseconds, booleans as 1/0, and strings that are entirely a decimal
// number ("12", "-0.5", "1e3"; no spaces, hex, Inf or NaN), as AWS does for
// JSON fields like "12". Null, durations and other strings are not numbers.
func (v Value) AsNumber() (float64, bool) {
	switch v.kind {
	case KindNumber, KindTime, KindBool:
		return v.num, true
	case KindString:
		return parseNumber(v.str)
	}
	return 0, false
}

// AsTime coerces v to epoch milliseconds: a Time, a number (taken as
// ms), a numeric string, or an RFC 3339 / "2006-01-02 15:04:05.000" string.
func (v Value) AsTime() (int64, bool) {
	switch v.kind {
	case KindTime:
		return int64(v.num), true
	case KindNumber:
		return msFromFloat(v.num)
	case KindString:
		if f, ok := parseNumber(v.str); ok {
			return msFromFloat(f)
		}
		for _, layout := range []string{time.RFC3339Nano, TimeLayout, "2006-01-02T15:04:05.000", "2006-01-02 15:04:05"} {
			if t, err := time.Parse(layout, v.str); err == nil {
				return t.UnixMilli(), true
			}
		}
	}
	return 0, false
}

// msFromFloat converts epoch milliseconds held in a float, refusing ones
// outside int64 (where the conversion is undefined).
func msFromFloat(f float64) (int64, bool) {
	if math.Abs(f) > 1<<62 {
		return 0, false
	}
	return int64(math.Floor(f)), true
}

// Truthy is how filter treats an expression: booleans as they are,
// numbers when non-zero (isempty() and strcontains() return 1/0), strings
// when non-empty; null is false.
func (v Value) Truthy() bool {
	switch v.kind {
	case KindBool, KindNumber, KindTime, KindDuration:
		return v.num != 0
	case KindString:
		return v.str != ""
	}
	return false
}

// maxNumberLen bounds the strings tried as numbers, so coercing a huge
// message is cheap to reject.
const maxNumberLen = 64

// isNumberText reports whether s is a decimal number: an optional sign,
// digits with an optional fraction (or a fraction alone), an optional
// exponent. It is JSON's grammar, loosened for "+1", "01", "1." and ".5",
// which people write in queries and plain-text logs.
func isNumberText(s string) bool {
	if len(s) == 0 || len(s) > maxNumberLen {
		return false
	}
	i := 0
	if s[0] == '-' || s[0] == '+' {
		i++
	}
	digits := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
		digits++
	}
	if i < len(s) && s[i] == '.' {
		i++
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
			digits++
		}
	}
	if digits == 0 {
		return false
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '-' || s[i] == '+') {
			i++
		}
		exp := 0
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
			exp++
		}
		if exp == 0 {
			return false
		}
	}
	return i == len(s)
}

func parseNumber(s string) (float64, bool) {
	if !isNumberText(s) {
		return 0, false
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsInf(f, 0) { // overflow ("1e999") is not a number
		return 0, false
	}
	return f, true
}

// FromJSON converts one JSON scalar to a Value: null → Null, true/false →
// Bool, a number → Number (keeping its text for printing when it is not
// canonical, e.g. "1.50"), a string → String (unescaped). An object or
// array, or text that is not valid JSON, becomes a String of the raw text
// with surrounding space trimmed, so nothing a log said is lost. It
// neither keeps nor writes raw: callers may pass a message's bytes
// without copying them.
func FromJSON(raw []byte) Value {
	raw = trimSpace(raw)
	if len(raw) == 0 {
		return Value{}
	}
	switch c := raw[0]; {
	case c == 'n' && string(raw) == "null":
		return Value{}
	case c == 't' && string(raw) == "true":
		return Value{kind: KindBool, num: 1, str: "true"}
	case c == 'f' && string(raw) == "false":
		return Value{kind: KindBool, str: "false"}
	case c == '"':
		return Str(unquote(raw))
	case c == '-' || (c >= '0' && c <= '9'):
		if !isJSONNumber(raw) {
			break
		}
		f, err := strconv.ParseFloat(string(raw), 64)
		if err != nil || math.IsInf(f, 0) {
			break
		}
		var buf [32]byte
		if string(appendNumber(buf[:0], f)) == string(raw) {
			return Num(f) // canonical text: nothing to keep, no allocation
		}
		return Value{kind: KindNumber, num: f, str: string(raw)}
	}
	return Str(string(raw))
}

// isJSONNumber is RFC 8259's number grammar exactly.
func isJSONNumber(b []byte) bool {
	i := 0
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	default:
		return false
	}
	if i < len(b) && b[i] == '.' {
		i++
		n := 0
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
			n++
		}
		if n == 0 {
			return false
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		n := 0
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
			n++
		}
		if n == 0 {
			return false
		}
	}
	return i == len(b)
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && isJSONSpace(b[0]) {
		b = b[1:]
	}
	for len(b) > 0 && isJSONSpace(b[len(b)-1]) {
		b = b[:len(b)-1]
	}
	return b
}

func isJSONSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// unquote decodes a JSON string literal; the common case without escapes
// is a plain copy. A malformed literal is kept as its raw text.
func unquote(raw []byte) string {
	if len(raw) >= 2 && raw[len(raw)-1] == '"' {
		inner := raw[1 : len(raw)-1]
		if PlainJSONString(unsafe.String(unsafe.SliceData(inner), len(inner))) {
			return string(inner)
		}
		if s, ok := unescapeSimple(inner); ok {
			return s
		}
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return string(raw)
	}
	return s
}

// PlainJSONString reports whether s, the inside of a JSON string, holds
// no backslash, quote or control character, so it is its own value.
func PlainJSONString(s string) bool { return !scanJSONString(s, true) }

// scanJSONString reports whether s holds a control character or, with
// quotes, a quote or a backslash. It tests eight bytes at a time: log
// lines make long strings.
func scanJSONString(s string, quotes bool) bool {
	const (
		ones  = 0x0101010101010101
		highs = 0x8080808080808080
	)
	var qMask uint64
	if quotes {
		qMask = highs
	}
	b := unsafe.Slice(unsafe.StringData(s), len(s))
	i := 0
	for ; i+8 <= len(b); i += 8 {
		x := binary.LittleEndian.Uint64(b[i:])
		bs := x ^ ('\\' * ones)
		qs := x ^ ('"' * ones)
		// A byte < 0x20, or a zero byte of qs or bs: exact tests.
		if (x-0x20*ones)&^x&highs != 0 || ((qs-ones)&^qs|(bs-ones)&^bs)&qMask != 0 {
			return true
		}
	}
	for ; i < len(b); i++ {
		if c := b[i]; c < 0x20 || quotes && (c == '"' || c == '\\') {
			return true
		}
	}
	return false
}

// unescapeSimple decodes the inside of a JSON string that is valid UTF-8,
// as encoding/json would; anything else (invalid UTF-8, which encoding/json
// replaces, control characters or bad escapes, which it rejects) is left to
// it.
func unescapeSimple(inner []byte) (string, bool) {
	if !utf8.Valid(inner) {
		return "", false
	}
	out, ok := jsonx.AppendUnquoted(make([]byte, 0, len(inner)), inner)
	if !ok || len(out) == 0 {
		return "", ok
	}
	// out is this call's own buffer: the string may take it over.
	return unsafe.String(unsafe.SliceData(out), len(out)), true
}
