package logquery

import (
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/kinsight/kinsight/internal/logstore"
)

// MaxFilterPatternLength is the longest filter pattern AWS accepts (the
// filterPattern member of the CloudWatch Logs API is limited to 1024
// characters).
const MaxFilterPatternLength = 1024

// fpMaxRegexes is how many %regex% values one JSON or space-delimited
// pattern may hold; AWS documents a limit of 2.
const fpMaxRegexes = 2

// FilterPatternError is a pattern that does not parse. Offset is the byte
// offset in the pattern where the problem was found.
type FilterPatternError struct {
	Offset int
	Msg    string
}

func (e *FilterPatternError) Error() string {
	return fmt.Sprintf("invalid filter pattern at offset %d: %s", e.Offset, e.Msg)
}

type fpKind uint8

const (
	fpKindAll fpKind = iota
	fpKindTerms
	fpKindRegex
	fpKindJSON
	fpKindDelimited
)

// FilterPattern is a parsed CloudWatch Logs filter pattern. It is immutable
// and safe for concurrent use.
type FilterPattern struct {
	text  string
	kind  fpKind
	terms *fpTerms
	re    *regexp.Regexp
	json  *fpJSON
	delim *fpDelim
}

var _ logstore.Filter = (*FilterPattern)(nil)

// ParseFilterPattern parses a CloudWatch Logs filter pattern.
func ParseFilterPattern(s string) (*FilterPattern, error) {
	if n := utf8.RuneCountInString(s); n > MaxFilterPatternLength {
		return nil, &FilterPatternError{Offset: 0, Msg: fmt.Sprintf("pattern is %d characters long; the limit is %d", n, MaxFilterPatternLength)}
	}
	p := &FilterPattern{text: s}
	start := fpSkipSpace(s, 0)
	end := len(s)
	for end > start && fpIsSpace(s[end-1]) {
		end--
	}
	if start == end {
		p.kind = fpKindAll
		return p, nil
	}
	var err error
	switch c := s[start]; {
	case c == '{':
		p.kind = fpKindJSON
		p.json, err = fpParseJSON(s, start)
	case c == '[':
		p.kind = fpKindDelimited
		p.delim, err = fpParseDelimited(s, start)
	case c == '%' && end-start >= 2 && s[end-1] == '%':
		p.kind = fpKindRegex
		p.re, err = fpCompileRegex(s, start+1, end-1)
	default:
		p.kind = fpKindTerms
		p.terms, err = fpParseTerms(s, start)
		if err == nil && p.terms.matchesAll() {
			p.kind = fpKindAll
			p.terms = nil
		}
	}
	if err != nil {
		return nil, err
	}
	return p, nil
}

// Match reports whether the message matches.
func (p *FilterPattern) Match(message string) bool {
	switch p.kind {
	case fpKindTerms:
		return p.terms.match(message)
	case fpKindRegex:
		return p.re.MatchString(message)
	case fpKindJSON:
		return p.json.match(message)
	case fpKindDelimited:
		return p.delim.match(message)
	}
	return true
}

// MayMatch is a conservative pre-check over a block of messages (the
// logstore.Filter contract): mayContain(s) is false only when no message of
// the block contains s, and MayMatch must return true whenever some message
// of the block could match.
//
// A term or phrase is itself a substring of every message it matches; an
// exact string value of a space-delimited field appears verbatim. JSON values
// can be written with \u escapes, so JSON patterns never prune.
func (p *FilterPattern) MayMatch(mayContain func(substr string) bool) bool {
	switch p.kind {
	case fpKindTerms:
		return p.terms.mayMatch(mayContain)
	case fpKindDelimited:
		return p.delim.mayMatch(mayContain)
	}
	return true
}

// String returns the pattern text.
func (p *FilterPattern) String() string { return p.text }

// MatchesAll reports whether the pattern matches every message, so callers
// can skip matching altogether.
func (p *FilterPattern) MatchesAll() bool { return p.kind == fpKindAll }

func fpIsSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func fpSkipSpace(s string, i int) int {
	for i < len(s) && fpIsSpace(s[i]) {
		i++
	}
	return i
}

// fpRegexAllowed lists the bytes AWS accepts inside %regex%: letters,
// digits, the symbols : _ # = @ / ; , - and the operators ^ $ ? [ ] { } | \ * + .
// Everything else (including space, parentheses and multi-byte characters)
// makes AWS reject the pattern.
func fpRegexAllowed(c byte) bool {
	if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
		return true
	}
	return strings.IndexByte(":_#=@/;,-^$?[]{}|\\*+.", c) >= 0
}

// fpCompileRegex compiles s[start:end], the text between the % signs.
func fpCompileRegex(s string, start, end int) (*regexp.Regexp, error) {
	if start == end {
		return nil, &FilterPatternError{Offset: start, Msg: "empty regular expression"}
	}
	for i := start; i < end; i++ {
		c := s[i]
		if c >= utf8.RuneSelf {
			return nil, &FilterPatternError{Offset: i, Msg: "multi-byte characters are not supported in a regular expression"}
		}
		if !fpRegexAllowed(c) {
			return nil, &FilterPatternError{Offset: i, Msg: fmt.Sprintf("character %q is not supported in a regular expression", c)}
		}
	}
	re, err := regexp.Compile(s[start:end])
	if err != nil {
		return nil, &FilterPatternError{Offset: start, Msg: fmt.Sprintf("bad regular expression: %v", err)}
	}
	return re, nil
}
