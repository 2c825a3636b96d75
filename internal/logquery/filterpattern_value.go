package logquery

import (
	"regexp"
	"strings"
)

// fpOp is a comparison or test in a JSON or space-delimited condition.
type fpOp uint8

const (
	fpOpEq fpOp = iota
	fpOpNe
	fpOpLt
	fpOpGt
	fpOpLe
	fpOpGe
	fpOpIsNull
	fpOpIsTrue
	fpOpIsFalse
	fpOpNotExists
)

var fpOpNames = [...]string{"=", "!=", "<", ">", "<=", ">=", "IS NULL", "IS TRUE", "IS FALSE", "NOT EXISTS"}

func (o fpOp) String() string { return fpOpNames[o] }

// holds applies the operator to the result of a three-way comparison.
func (o fpOp) holds(cmp int) bool {
	switch o {
	case fpOpEq:
		return cmp == 0
	case fpOpNe:
		return cmp != 0
	case fpOpLt:
		return cmp < 0
	case fpOpGt:
		return cmp > 0
	case fpOpLe:
		return cmp <= 0
	case fpOpGe:
		return cmp >= 0
	}
	return false
}

// fpGlob is a string value with the documented wildcard rule: a * at the
// start or end matches any text there; a * in the middle is a literal
// ("Ev*ent will only match the actual string Ev*ent").
type fpGlob struct {
	core     string
	pre, suf bool
}

func fpNewGlob(s string) fpGlob {
	var g fpGlob
	if strings.HasPrefix(s, "*") {
		g.pre, s = true, s[1:]
	}
	if strings.HasSuffix(s, "*") {
		g.suf, s = true, s[:len(s)-1]
	}
	g.core = s
	return g
}

func (g fpGlob) wild() bool { return g.pre || g.suf }

func (g fpGlob) match(s string) bool {
	switch {
	case g.pre && g.suf:
		return strings.Contains(s, g.core)
	case g.pre:
		return strings.HasSuffix(s, g.core)
	case g.suf:
		return strings.HasPrefix(s, g.core)
	}
	return s == g.core
}

// fpValue is the right-hand side of a condition.
type fpValue struct {
	text   string // as written, quotes removed
	quoted bool
	isNum  bool // unquoted and a number: compares numerically with numbers
	num    fpNumber
	re     *regexp.Regexp // %regex% value
	glob   fpGlob
}

// matchText compares a value's text form with = or != semantics.
func (v *fpValue) matchText(s string, op fpOp) bool {
	var ok bool
	switch {
	case v.re != nil:
		ok = v.re.MatchString(s)
	case v.isNum:
		ok = s == v.text
	default:
		ok = v.glob.match(s)
	}
	return ok == (op == fpOpEq)
}

// fpNumber is a decimal number kept as its digits so that comparisons are
// exact whatever its size or precision ("precise matching on numeric
// comparisons"). Its value is ±0.D × 10^point, D being d1+d2 with leading
// and trailing zeros removed.
type fpNumber struct {
	neg    bool
	zero   bool
	d1, d2 string
	point  int64
}

func (n *fpNumber) ndigits() int { return len(n.d1) + len(n.d2) }

func (n *fpNumber) digit(i int) byte {
	if i < len(n.d1) {
		return n.d1[i]
	}
	return n.d2[i-len(n.d1)]
}

func fpIsDigit(c byte) bool { return c >= '0' && c <= '9' }

// fpParseNumber parses [+-]digits[.digits][(e|E)[+-]digits], the number
// syntax of the AWS documentation, which also covers every JSON number.
func fpParseNumber(s string) (fpNumber, bool) {
	var n fpNumber
	i := 0
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		n.neg = s[i] == '-'
		i++
	}
	st := i
	for i < len(s) && fpIsDigit(s[i]) {
		i++
	}
	intPart := s[st:i]
	if intPart == "" {
		return n, false
	}
	frac := ""
	if i < len(s) && s[i] == '.' {
		i++
		st = i
		for i < len(s) && fpIsDigit(s[i]) {
			i++
		}
		frac = s[st:i]
		if frac == "" {
			return n, false
		}
	}
	var exp int64
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		eneg := false
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			eneg = s[i] == '-'
			i++
		}
		st = i
		for i < len(s) && fpIsDigit(s[i]) {
			// Saturate: past 1e15 every exponent orders the same way.
			if exp < 1e15 {
				exp = exp*10 + int64(s[i]-'0')
			}
			i++
		}
		if i == st {
			return n, false
		}
		if eneg {
			exp = -exp
		}
	}
	if i != len(s) {
		return n, false
	}
	intPart = strings.TrimLeft(intPart, "0")
	if intPart != "" {
		n.point = int64(len(intPart)) + exp
	} else {
		t := strings.TrimLeft(frac, "0")
		n.point = exp - int64(len(frac)-len(t))
		frac = t
	}
	frac = strings.TrimRight(frac, "0")
	if frac == "" {
		intPart = strings.TrimRight(intPart, "0")
	}
	n.d1, n.d2 = intPart, frac
	n.zero = intPart == "" && frac == ""
	if n.zero {
		n.neg = false
	}
	return n, true
}

// fpCompareNumbers returns -1, 0 or 1 as a is less than, equal to or
// greater than b.
func fpCompareNumbers(a, b *fpNumber) int {
	switch {
	case a.zero && b.zero:
		return 0
	case a.zero:
		if b.neg {
			return 1
		}
		return -1
	case b.zero:
		if a.neg {
			return -1
		}
		return 1
	case a.neg != b.neg:
		if a.neg {
			return -1
		}
		return 1
	}
	c := fpCompareMagnitudes(a, b)
	if a.neg {
		return -c
	}
	return c
}

func fpCompareMagnitudes(a, b *fpNumber) int {
	if a.point != b.point {
		if a.point < b.point {
			return -1
		}
		return 1
	}
	na, nb := a.ndigits(), b.ndigits()
	for i := 0; i < na && i < nb; i++ {
		if da, db := a.digit(i), b.digit(i); da != db {
			if da < db {
				return -1
			}
			return 1
		}
	}
	// Trailing zeros are gone, so the longer one has more value.
	switch {
	case na < nb:
		return -1
	case na > nb:
		return 1
	}
	return 0
}
