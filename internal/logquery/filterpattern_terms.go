package logquery

import (
	"strings"
)

// fpTerm is one word or "quoted phrase" of an unstructured pattern. It
// matches a message that contains text as a substring, case-sensitively:
// AWS's own examples have ERROR match "ERRORCODE" and Exception match
// "IllegalArgumentException".
type fpTerm struct {
	text string
}

func fpNewTerm(text string) fpTerm { return fpTerm{text: text} }

// mayMatch: a message matching the term contains its text.
func (t *fpTerm) mayMatch(mayContain func(string) bool) bool { return mayContain(t.text) }

// fpTerms is an unstructured pattern: bare terms and phrases that must all
// appear, ?terms of which one must appear, and -terms that must not.
// When a pattern has both plain and ?terms, AWS ignores the ?terms; so do we.
type fpTerms struct {
	required []fpTerm
	optional []fpTerm
	excluded []fpTerm
	// blank is set for a pattern that is only a quoted run of blanks, which
	// AWS documents as matching everything (`" "`).
	blank bool
}

func (t *fpTerms) matchesAll() bool {
	return t.blank || len(t.required) == 0 && len(t.optional) == 0 && len(t.excluded) == 0
}

func (t *fpTerms) match(m string) bool {
	for i := range t.required {
		if !strings.Contains(m, t.required[i].text) {
			return false
		}
	}
	for i := range t.excluded {
		if strings.Contains(m, t.excluded[i].text) {
			return false
		}
	}
	if len(t.required) > 0 || len(t.optional) == 0 {
		return true
	}
	for i := range t.optional {
		if strings.Contains(m, t.optional[i].text) {
			return true
		}
	}
	return false
}

func (t *fpTerms) mayMatch(mayContain func(string) bool) bool {
	for i := range t.required {
		if !t.required[i].mayMatch(mayContain) {
			return false
		}
	}
	if len(t.required) > 0 || len(t.optional) == 0 {
		return true
	}
	for i := range t.optional {
		if t.optional[i].mayMatch(mayContain) {
			return true
		}
	}
	return false
}

// fpParseTerms parses an unstructured pattern starting at s[start], which
// is not blank.
func fpParseTerms(s string, start int) (*fpTerms, error) {
	t := &fpTerms{}
	var required, optional, excluded []fpTerm
	nterms, quotedBlank := 0, false
	i := start
	for {
		i = fpSkipSpace(s, i)
		if i >= len(s) {
			break
		}
		prefix := byte(0)
		if c := s[i]; c == '?' || c == '-' {
			j := i + 1
			if j < len(s) && fpIsSpace(s[j]) {
				// AWS's own example writes an exclusion as `"ERROR" - "Exiting"`,
				// so a lone - or ? applies to the next term.
				j = fpSkipSpace(s, j)
			}
			if j < len(s) {
				prefix, i = c, j
			}
		}
		text, next, quoted, err := fpParseTerm(s, i)
		if err != nil {
			return nil, err
		}
		i = next
		nterms++
		quotedBlank = quoted && strings.TrimSpace(text) == ""
		term := fpNewTerm(text)
		switch prefix {
		case '?':
			optional = append(optional, term)
		case '-':
			excluded = append(excluded, term)
		default:
			if text != "" {
				required = append(required, term)
			}
		}
	}
	if nterms == 1 && quotedBlank && len(optional)+len(excluded) == 0 {
		t.blank = true
	}
	t.required, t.optional, t.excluded = required, optional, excluded
	return t, nil
}

// fpParseTerm reads one bare word or quoted phrase at s[i]. Inside quotes,
// \" and \\ stand for " and \; any other backslash is kept, so Windows paths
// and regex-looking text need no doubling.
func fpParseTerm(s string, i int) (text string, next int, quoted bool, err error) {
	if s[i] != '"' {
		j := i
		for j < len(s) && !fpIsSpace(s[j]) {
			if s[j] == '"' {
				return "", 0, false, &FilterPatternError{Offset: j, Msg: `unexpected '"' inside a term; quote the whole term`}
			}
			j++
		}
		return s[i:j], j, false, nil
	}
	text, next, err = fpParseQuoted(s, i)
	if err != nil {
		return "", 0, false, err
	}
	if next < len(s) && !fpIsSpace(s[next]) {
		return "", 0, false, &FilterPatternError{Offset: next, Msg: "expected a space after the closing quote"}
	}
	return text, next, true, nil
}

// fpParseQuoted reads a double-quoted string starting at s[i] == '"' and
// returns its content and the offset just past the closing quote.
func fpParseQuoted(s string, i int) (string, int, error) {
	j := i + 1
	var b *strings.Builder
	for j < len(s) {
		c := s[j]
		if c == '"' {
			if b == nil {
				return s[i+1 : j], j + 1, nil
			}
			return b.String(), j + 1, nil
		}
		if c == '\\' && j+1 < len(s) && (s[j+1] == '"' || s[j+1] == '\\') {
			if b == nil {
				b = &strings.Builder{}
				b.WriteString(s[i+1 : j])
			}
			b.WriteByte(s[j+1])
			j += 2
			continue
		}
		if b != nil {
			b.WriteByte(c)
		}
		j++
	}
	return "", 0, &FilterPatternError{Offset: i, Msg: "unterminated quoted string"}
}
