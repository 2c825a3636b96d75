package logquery

import (
	"fmt"
	"strings"

	"github.com/kinsight/kinsight/internal/logstore"
)

// This file parses the condition expressions that JSON ({ ... }) and
// space-delimited ([ ... ]) patterns share: conditions joined by && and ||
// (&& binding tighter) with parentheses. Only the left-hand side differs: a
// $.selector in JSON, a field name in space-delimited patterns.

type fpExprKind uint8

const (
	fpExprCond fpExprKind = iota
	fpExprAnd
	fpExprOr
)

type fpExpr struct {
	kind fpExprKind
	kids []*fpExpr // for fpExprAnd and fpExprOr
	cond *fpCond   // for fpExprCond
}

// fpStep is one step of a JSON selector: .key or [index].
type fpStep struct {
	key   string
	index int // -1 for a .key step
}

type fpCond struct {
	pos  int // offset of the condition in the pattern
	path []fpStep
	name string // space-delimited field name
	op   fpOp
	val  fpValue
	// ref is what the condition reads: the JSON leaf id or the
	// space-delimited slot index; -1 for a field name no slot declares.
	ref int
	// tokens of an exact, wildcard-free string value, for MayMatch.
	tokens []string
}

type fpParser struct {
	src     string
	pos     int
	json    bool // JSON selectors rather than field names
	regexes int
	conds   []*fpCond
}

func (p *fpParser) errorf(pos int, format string, args ...any) error {
	return &FilterPatternError{Offset: pos, Msg: fmt.Sprintf(format, args...)}
}

func (p *fpParser) ws() { p.pos = fpSkipSpace(p.src, p.pos) }

func (p *fpParser) eof() bool { return p.pos >= len(p.src) }

func (p *fpParser) peek() byte {
	if p.pos < len(p.src) {
		return p.src[p.pos]
	}
	return 0
}

// near describes the text at pos for error messages.
func (p *fpParser) near(pos int) string {
	if pos >= len(p.src) {
		return "end of pattern"
	}
	rest := p.src[pos:]
	if len(rest) > 12 {
		rest = rest[:12] + "…"
	}
	return fmt.Sprintf("%q", rest)
}

func (p *fpParser) parseOr() (*fpExpr, error) {
	first, err := p.parseAnd()
	if err != nil {
		return nil, err
	}
	kids := []*fpExpr{first}
	for {
		p.ws()
		if !strings.HasPrefix(p.src[p.pos:], "||") {
			break
		}
		p.pos += 2
		e, err := p.parseAnd()
		if err != nil {
			return nil, err
		}
		kids = append(kids, e)
	}
	if len(kids) == 1 {
		return first, nil
	}
	return &fpExpr{kind: fpExprOr, kids: kids}, nil
}

func (p *fpParser) parseAnd() (*fpExpr, error) {
	first, err := p.parseUnary()
	if err != nil {
		return nil, err
	}
	kids := []*fpExpr{first}
	for {
		p.ws()
		if !strings.HasPrefix(p.src[p.pos:], "&&") {
			break
		}
		p.pos += 2
		e, err := p.parseUnary()
		if err != nil {
			return nil, err
		}
		kids = append(kids, e)
	}
	if len(kids) == 1 {
		return first, nil
	}
	return &fpExpr{kind: fpExprAnd, kids: kids}, nil
}

func (p *fpParser) parseUnary() (*fpExpr, error) {
	p.ws()
	if p.peek() != '(' {
		c, err := p.parseCond()
		if err != nil {
			return nil, err
		}
		return &fpExpr{kind: fpExprCond, cond: c}, nil
	}
	open := p.pos
	p.pos++
	e, err := p.parseOr()
	if err != nil {
		return nil, err
	}
	p.ws()
	if p.peek() != ')' {
		return nil, p.errorf(p.pos, "expected ) to close the ( at offset %d, found %s", open, p.near(p.pos))
	}
	p.pos++
	return e, nil
}

func fpIsNameByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-'
}

func (p *fpParser) name() string {
	st := p.pos
	for p.pos < len(p.src) && fpIsNameByte(p.src[p.pos]) {
		p.pos++
	}
	return p.src[st:p.pos]
}

// keyword consumes word (case-insensitively) if it is next as a whole word.
func (p *fpParser) keyword(word string) bool {
	end := p.pos + len(word)
	if end > len(p.src) || !strings.EqualFold(p.src[p.pos:end], word) {
		return false
	}
	if end < len(p.src) && fpIsNameByte(p.src[end]) {
		return false
	}
	p.pos = end
	return true
}

func (p *fpParser) parseCond() (*fpCond, error) {
	c := &fpCond{pos: p.pos, ref: -1}
	if p.json {
		if err := p.parseSelector(c); err != nil {
			return nil, err
		}
		p.ws()
		switch {
		case p.keyword("IS"):
			p.ws()
			switch {
			case p.keyword("NULL"):
				c.op = fpOpIsNull
			case p.keyword("TRUE"):
				c.op = fpOpIsTrue
			case p.keyword("FALSE"):
				c.op = fpOpIsFalse
			default:
				return nil, p.errorf(p.pos, "expected NULL, TRUE or FALSE after IS, found %s", p.near(p.pos))
			}
			p.conds = append(p.conds, c)
			return c, nil
		case p.keyword("NOT"):
			p.ws()
			if !p.keyword("EXISTS") {
				return nil, p.errorf(p.pos, "expected EXISTS after NOT, found %s", p.near(p.pos))
			}
			c.op = fpOpNotExists
			p.conds = append(p.conds, c)
			return c, nil
		}
	} else {
		c.name = p.name()
		if c.name == "" {
			return nil, p.errorf(p.pos, "expected a field name, found %s", p.near(p.pos))
		}
		p.ws()
	}
	if err := p.parseOp(c); err != nil {
		return nil, err
	}
	if err := p.parseValue(c); err != nil {
		return nil, err
	}
	p.conds = append(p.conds, c)
	return c, nil
}

// parseSelector reads $.name(.name|[index])*. AWS documents property names
// as letters, digits, '-' and '_', and array indexes only after a property.
func (p *fpParser) parseSelector(c *fpCond) error {
	if p.peek() != '$' {
		return p.errorf(p.pos, "expected a selector such as $.field, found %s", p.near(p.pos))
	}
	p.pos++
	if p.peek() != '.' {
		return p.errorf(p.pos, "a selector starts with $. and a property name")
	}
	for {
		switch p.peek() {
		case '.':
			p.pos++
			if p.peek() == '*' {
				return p.errorf(p.pos, "wildcard selectors are not supported")
			}
			key := p.name()
			if key == "" {
				return p.errorf(p.pos, "expected a property name after '.', found %s", p.near(p.pos))
			}
			c.path = append(c.path, fpStep{key: key, index: -1})
		case '[':
			open := p.pos
			p.pos++
			st := p.pos
			idx := 0
			for p.pos < len(p.src) && fpIsDigit(p.src[p.pos]) {
				if idx > 1e8 {
					return p.errorf(st, "array index too large")
				}
				idx = idx*10 + int(p.src[p.pos]-'0')
				p.pos++
			}
			if p.pos == st {
				if p.peek() == '*' {
					return p.errorf(p.pos, "wildcard array indexes are not supported")
				}
				return p.errorf(p.pos, "expected an array index after '['")
			}
			if p.peek() != ']' {
				return p.errorf(p.pos, "expected ] to close the [ at offset %d", open)
			}
			p.pos++
			c.path = append(c.path, fpStep{index: idx})
		default:
			return nil
		}
	}
}

func (p *fpParser) parseOp(c *fpCond) error {
	rest := p.src[p.pos:]
	switch {
	case strings.HasPrefix(rest, "!="):
		c.op, p.pos = fpOpNe, p.pos+2
	case strings.HasPrefix(rest, "<="):
		c.op, p.pos = fpOpLe, p.pos+2
	case strings.HasPrefix(rest, ">="):
		c.op, p.pos = fpOpGe, p.pos+2
	case strings.HasPrefix(rest, "="):
		c.op, p.pos = fpOpEq, p.pos+1
	case strings.HasPrefix(rest, "<"):
		c.op, p.pos = fpOpLt, p.pos+1
	case strings.HasPrefix(rest, ">"):
		c.op, p.pos = fpOpGt, p.pos+1
	default:
		if p.json {
			return p.errorf(p.pos, "expected =, !=, <, >, <=, >=, IS or NOT EXISTS after the selector, found %s", p.near(p.pos))
		}
		return p.errorf(p.pos, "expected =, !=, <, >, <= or >= after the field name, found %s", p.near(p.pos))
	}
	return nil
}

// fpEndsBare reports whether c ends an unquoted value.
func fpEndsBare(c byte) bool {
	return fpIsSpace(c) || strings.IndexByte("(){}[],&|\"<>=!", c) >= 0
}

func (p *fpParser) parseValue(c *fpCond) error {
	p.ws()
	st := p.pos
	v := &c.val
	switch p.peek() {
	case '"':
		text, next, err := fpParseQuoted(p.src, p.pos)
		if err != nil {
			return err
		}
		p.pos = next
		v.text, v.quoted = text, true
	case '%':
		end := strings.IndexByte(p.src[p.pos+1:], '%')
		if end < 0 {
			return p.errorf(p.pos, "unterminated regular expression: no closing %%")
		}
		end += p.pos + 1
		re, err := fpCompileRegex(p.src, p.pos+1, end)
		if err != nil {
			return err
		}
		p.regexes++
		if p.regexes > fpMaxRegexes {
			return p.errorf(p.pos, "at most %d regular expressions are allowed in one pattern", fpMaxRegexes)
		}
		v.text, v.re = p.src[p.pos+1:end], re
		p.pos = end + 1
	default:
		for p.pos < len(p.src) && !fpEndsBare(p.src[p.pos]) {
			p.pos++
		}
		if p.pos == st {
			return p.errorf(p.pos, "expected a value after %s, found %s", c.op, p.near(p.pos))
		}
		v.text = p.src[st:p.pos]
		v.num, v.isNum = fpParseNumber(v.text)
	}
	if c.op != fpOpEq && c.op != fpOpNe && !v.isNum {
		return p.errorf(st, "operator %s needs a number, found %s", c.op, p.near(st))
	}
	if v.re == nil && !v.isNum {
		v.glob = fpNewGlob(v.text)
		if c.op == fpOpEq && !v.glob.wild() {
			logstore.ForEachToken(v.text, func(tok string) { c.tokens = append(c.tokens, tok) })
		}
	}
	return nil
}

// leftmost returns the first condition of e in pattern order.
func (e *fpExpr) leftmost() *fpCond {
	for e.kind != fpExprCond {
		e = e.kids[0]
	}
	return e.cond
}

// mayMatch is MayMatch for a condition tree: an exact string equality needs
// every token of its value, as the value appears verbatim and bounded by
// non-token bytes; anything else may match.
func (e *fpExpr) mayMatch(mayContain func(string) bool) bool {
	switch e.kind {
	case fpExprAnd:
		for _, k := range e.kids {
			if !k.mayMatch(mayContain) {
				return false
			}
		}
		return true
	case fpExprOr:
		for _, k := range e.kids {
			if k.mayMatch(mayContain) {
				return true
			}
		}
		return false
	}
	for _, tok := range e.cond.tokens {
		if !mayContain(tok) {
			return false
		}
	}
	return true
}
