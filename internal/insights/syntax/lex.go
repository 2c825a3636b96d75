package syntax

import (
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

type tokKind int

const (
	tEOF      tokKind = iota
	tIdent            // name or keyword, unquoted
	tQIdent           // `back-quoted name`
	tString           // 'single' or "double"
	tNumber           // 12, 1.5, 2e3
	tDuration         // 5m, 1h, 100ms
	tRegex            // /re/, only produced by lexer.regex on the parser's request
	tOp               // punctuation and operators
)

// token is one lexeme. The lexer is a pure function of an offset, so the
// parser can look further ahead or re-read '/' as the start of a regex: a
// slash is division after an operand and a regex only where the grammar
// wants one (after like, =~ or the field of parse), which the lexer cannot
// know by itself (`parse @message /re/` has an operand before the slash).
type token struct {
	kind  tokKind
	pos   Pos
	end   Pos
	text  string // operator, identifier name, decoded string or regex
	num   float64
	isInt bool
	dur   time.Duration
	unit  string
}

func (t token) String() string {
	switch t.kind {
	case tEOF:
		return "end of query"
	case tIdent:
		return "'" + t.text + "'"
	case tQIdent:
		return "`" + t.text + "`"
	case tString:
		return "string " + strconv.Quote(t.text)
	case tNumber, tDuration:
		return "number"
	case tRegex:
		return "regex"
	}
	return "'" + t.text + "'"
}

type lexer struct {
	src string
}

func (l *lexer) errf(pos int, format string, args ...any) *Error {
	return NewError(l.src, Pos(pos), fmt.Sprintf(format, args...))
}

func isIdentStart(c byte) bool {
	return c == '_' || c == '@' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

func isIdentPart(c byte) bool {
	return isIdentStart(c) || c == '.' || isDigit(c)
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// skip returns the offset of the next token at or after i, past white space
// and '#' comments (which run to the end of the line).
func (l *lexer) skip(i int) int {
	for i < len(l.src) {
		switch c := l.src[i]; {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v':
			i++
		case c == '#':
			for i < len(l.src) && l.src[i] != '\n' {
				i++
			}
		default:
			return i
		}
	}
	return i
}

// scan returns the token that starts at or after offset i.
func (l *lexer) scan(i int) (token, *Error) {
	i = l.skip(i)
	if i >= len(l.src) {
		return token{kind: tEOF, pos: Pos(len(l.src)), end: Pos(len(l.src))}, nil
	}
	start := i
	c := l.src[i]
	switch {
	case isIdentStart(c):
		for i < len(l.src) && isIdentPart(l.src[i]) {
			i++
		}
		return token{kind: tIdent, pos: Pos(start), end: Pos(i), text: l.src[start:i]}, nil
	case c == '`':
		j := strings.IndexByte(l.src[i+1:], '`')
		if j < 0 {
			return token{}, l.errf(start, "unterminated back-quoted field name")
		}
		if j == 0 {
			return token{}, l.errf(start, "empty back-quoted field name")
		}
		return token{kind: tQIdent, pos: Pos(start), end: Pos(i + j + 2), text: l.src[i+1 : i+1+j]}, nil
	case c == '"' || c == '\'':
		return l.str(start)
	case isDigit(c) || c == '.' && i+1 < len(l.src) && isDigit(l.src[i+1]):
		return l.number(start)
	}
	op := ""
	two := ""
	if i+1 < len(l.src) {
		two = l.src[i : i+2]
	}
	switch two {
	case "!=", "<=", ">=", "=~":
		op = two
	default:
		switch c {
		case '|', ',', '(', ')', '[', ']', ':', '*', '/', '%', '^', '+', '-', '=', '<', '>':
			op = string(c)
		case '!':
			return token{}, l.errf(start, "unexpected '!'; use 'not' or '!='")
		default:
			r, _ := utf8.DecodeRuneInString(l.src[i:])
			if r == utf8.RuneError {
				return token{}, l.errf(start, "invalid UTF-8 in query")
			}
			return token{}, l.errf(start, "unexpected character %q; back-quote field names that contain it", r)
		}
	}
	return token{kind: tOp, pos: Pos(start), end: Pos(start + len(op)), text: op}, nil
}

// str scans a quoted string. Backslash escapes \n \t \r \\ \" \' are
// decoded; any other backslash is kept with the character after it, so that
// "\d" in a like pattern means what its writer meant.
func (l *lexer) str(start int) (token, *Error) {
	q := l.src[start]
	var b strings.Builder
	for i := start + 1; i < len(l.src); i++ {
		c := l.src[i]
		switch {
		case c == q:
			return token{kind: tString, pos: Pos(start), end: Pos(i + 1), text: b.String()}, nil
		case c == '\\' && i+1 < len(l.src):
			i++
			switch e := l.src[i]; e {
			case 'n':
				b.WriteByte('\n')
			case 't':
				b.WriteByte('\t')
			case 'r':
				b.WriteByte('\r')
			case '\\', '"', '\'':
				b.WriteByte(e)
			default:
				b.WriteByte('\\')
				b.WriteByte(e)
			}
		default:
			b.WriteByte(c)
		}
	}
	return token{}, l.errf(start, "unterminated string")
}

// durationUnits are the period units of bin(), datefloor() and dateceil().
// Calendar units get a nominal length; see DurationLit.
var durationUnits = map[string]time.Duration{
	"ms": time.Millisecond,
	"s":  time.Second,
	"m":  time.Minute,
	"h":  time.Hour,
	"d":  24 * time.Hour,
	"w":  7 * 24 * time.Hour,
	"mo": 30 * 24 * time.Hour,
	"q":  90 * 24 * time.Hour,
	"y":  365 * 24 * time.Hour,
}

func (l *lexer) number(start int) (token, *Error) {
	i := start
	isInt := true
	for i < len(l.src) && isDigit(l.src[i]) {
		i++
	}
	if i < len(l.src) && l.src[i] == '.' && i+1 < len(l.src) && isDigit(l.src[i+1]) {
		isInt = false
		i++
		for i < len(l.src) && isDigit(l.src[i]) {
			i++
		}
	}
	// An exponent only when digits follow, so that "2e" stays an error about
	// a unit rather than a number.
	if i < len(l.src) && (l.src[i] == 'e' || l.src[i] == 'E') {
		j := i + 1
		if j < len(l.src) && (l.src[j] == '+' || l.src[j] == '-') {
			j++
		}
		if j < len(l.src) && isDigit(l.src[j]) {
			for j < len(l.src) && isDigit(l.src[j]) {
				j++
			}
			isInt = false
			i = j
		}
	}
	numEnd := i
	for i < len(l.src) && isIdentPart(l.src[i]) {
		i++
	}
	v, err := strconv.ParseFloat(l.src[start:numEnd], 64)
	if err != nil {
		return token{}, l.errf(start, "number %s is out of range", l.src[start:numEnd])
	}
	if i == numEnd {
		return token{kind: tNumber, pos: Pos(start), end: Pos(i), num: v, isInt: isInt}, nil
	}
	unit := l.src[numEnd:i]
	u, ok := durationUnits[unit]
	if !ok {
		return token{}, l.errf(numEnd, "unknown time unit %q (use ms, s, m, h, d, w, mo, q or y); back-quote field names that start with a digit", unit)
	}
	if !isInt {
		return token{}, l.errf(start, "a time period must be a whole number followed by a unit, like 5m")
	}
	if v <= 0 || v > float64((1<<63-1)/int64(u)) {
		return token{}, l.errf(start, "time period %s is out of range", l.src[start:i])
	}
	return token{kind: tDuration, pos: Pos(start), end: Pos(i), dur: time.Duration(v) * u, unit: unit}, nil
}

// regex scans /pattern/ starting at the slash at offset start. Inside, a
// backslash escapes the next character; `\/` becomes '/' in the pattern and
// every other escape is kept for the regex engine.
func (l *lexer) regex(start int) (token, *Error) {
	var b strings.Builder
	for i := start + 1; i < len(l.src); i++ {
		c := l.src[i]
		switch {
		case c == '/':
			return token{kind: tRegex, pos: Pos(start), end: Pos(i + 1), text: b.String()}, nil
		case c == '\\' && i+1 < len(l.src):
			i++
			if l.src[i] != '/' {
				b.WriteByte('\\')
			}
			b.WriteByte(l.src[i])
		default:
			b.WriteByte(c)
		}
	}
	return token{}, l.errf(start, "unterminated regular expression; end it with '/'")
}
