package value

import (
	"math"
	"strings"
)

// Ordering across kinds. AWS documents that comparison operators "accept
// all data types" but not how unlike types order, so kinsight fixes one
// rule that keeps Compare a total order on non-null values (antisymmetric
// and transitive, which sort and top-k need):
//
//  1. booleans (and the strings "true"/"false", so a JSON true equals the
//     query literal "true"): false < true;
//  2. numbers, timestamps and strings that are entirely a number, ordered
//     numerically: 9 < "10" < 10.5 and @timestamp compares with epoch ms;
//  3. durations, by their nominal length (a month as 30 days);
//  4. all other strings, byte-wise (Insights is case-sensitive).
//
// Classes order as listed, so numbers sort before words. Two numeric
// strings compare as numbers ("9" < "10"), not as text: mixing text and
// numeric order is what would make the order intransitive.
const (
	classBool = iota
	classNumeric
	classDuration
	classString
)

func classOf(v Value) (class int, num float64) {
	switch v.kind {
	case KindBool:
		return classBool, v.num
	case KindNumber, KindTime:
		return classNumeric, v.num
	case KindDuration:
		p, _ := periodOf(v)
		return classDuration, p.nominalMillis()
	case KindString:
		switch v.str {
		case "true":
			return classBool, 1
		case "false":
			return classBool, 0
		}
		if f, ok := parseNumber(v.str); ok {
			return classNumeric, f
		}
	}
	return classString, 0
}

// Compare orders a and b (-1, 0, +1) by the rule above. ok is false when
// either is null: a missing field is neither less nor greater than
// anything, so `filter x < 5` drops events without x.
func Compare(a, b Value) (int, bool) {
	if a.kind == KindNull || b.kind == KindNull {
		return 0, false
	}
	// Fast paths: same kind, no coercion.
	if a.kind == b.kind && a.kind == KindNumber {
		return cmpFloat(a.num, b.num), true
	}
	ca, na := classOf(a)
	cb, nb := classOf(b)
	if ca != cb {
		if ca < cb {
			return -1, true
		}
		return 1, true
	}
	if ca == classString {
		return strings.Compare(a.str, b.str), true
	}
	if c := cmpFloat(na, nb); c != 0 || ca != classDuration {
		return c, true
	}
	// Durations of equal nominal length ("1d" and "24h") are equal.
	return 0, true
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Equal is the query language's `=`: two nulls are equal (so dedup and
// stats by treat missing keys as one group), a null equals nothing else,
// and otherwise values are equal when Compare says 0 ("200" = 200,
// true = "true").
func Equal(a, b Value) bool {
	if a.kind == KindNull || b.kind == KindNull {
		return a.kind == b.kind
	}
	c, _ := Compare(a, b)
	return c == 0
}

// Order is a total order over all values, nulls last, for `sort` and for
// deterministic tie-breaks. Ascending sort uses Order(a, b); descending
// uses Order(b, a) with nulls still kept last by the caller if wanted.
func Order(a, b Value) int {
	switch {
	case a.kind == KindNull && b.kind == KindNull:
		return 0
	case a.kind == KindNull:
		return 1
	case b.kind == KindNull:
		return -1
	}
	c, _ := Compare(a, b)
	return c
}

// Key returns a string that is equal for two values exactly when Equal
// says they are equal: the group key for stats … by and the identity for
// count_distinct and dedup.
func Key(v Value) string {
	c, n := classOf(v)
	switch c {
	case classBool:
		if n != 0 {
			return "b1"
		}
		return "b0"
	case classNumeric:
		if n == 0 {
			n = 0 // fold -0 into 0
		}
		return string(appendKeyNumber([]byte{'n'}, n))
	case classDuration:
		return string(appendKeyNumber([]byte{'d'}, n))
	}
	if v.kind == KindNull {
		return ""
	}
	return "s" + v.str
}

func appendKeyNumber(dst []byte, f float64) []byte {
	if f == math.Trunc(f) && math.Abs(f) < 1<<53 {
		return appendInt(dst, int64(f))
	}
	return appendNumber(dst, f)
}

func appendInt(dst []byte, i int64) []byte {
	if i < 0 {
		dst = append(dst, '-')
		u := uint64(-i)
		return appendUint(dst, u)
	}
	return appendUint(dst, uint64(i))
}

func appendUint(dst []byte, u uint64) []byte {
	var buf [20]byte
	n := len(buf)
	for {
		n--
		buf[n] = byte('0' + u%10)
		u /= 10
		if u == 0 {
			break
		}
	}
	return append(dst, buf[n:]...)
}
