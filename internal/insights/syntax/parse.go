package syntax

import (
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"
)

// Limits AWS documents, and the one that keeps the parser's stack bounded.
const (
	MaxQueryChars = 10000 // characters in a query string
	MaxDepth      = 100   // nesting of expressions
	MaxLimit      = 10000 // largest `limit n`
)

// Parse parses a query. The error, if any, is an *Error at the first
// problem found.
func Parse(query string) (q *Query, err error) {
	if utf8.RuneCountInString(query) > MaxQueryChars {
		return nil, NewError(query, Pos(runeOffset(query, MaxQueryChars)), fmt.Sprintf("query is longer than %d characters", MaxQueryChars))
	}
	p := &parser{lex: lexer{src: query}}
	defer func() {
		if r := recover(); r != nil {
			e, ok := r.(*Error)
			if !ok {
				panic(r)
			}
			q, err = nil, e
		}
	}()
	p.next()
	return p.query(), nil
}

// Format parses query and prints it in canonical form.
func Format(query string) (string, error) {
	q, err := Parse(query)
	if err != nil {
		return "", err
	}
	return q.String(), nil
}

func runeOffset(s string, n int) int {
	for i := range s {
		if n == 0 {
			return i
		}
		n--
	}
	return len(s)
}

// parser is a recursive-descent parser with one token of look-ahead. Errors
// panic with *Error and Parse recovers them: the grammar is deep and every
// error ends the parse, so threading them through every return would only
// hide the grammar.
type parser struct {
	lex   lexer
	tok   token // current token
	off   int   // where the token after tok starts
	depth int
}

func (p *parser) fail(pos Pos, format string, args ...any) {
	panic(NewError(p.lex.src, pos, fmt.Sprintf(format, args...)))
}

func (p *parser) next() {
	t, err := p.lex.scan(p.off)
	if err != nil {
		panic(err)
	}
	p.tok, p.off = t, int(t.end)
}

// peek returns the token after the current one without consuming anything.
func (p *parser) peek() token {
	t, err := p.lex.scan(p.off)
	if err != nil {
		panic(err)
	}
	return t
}

func (p *parser) isOp(op string) bool { return p.tok.kind == tOp && p.tok.text == op }

// isKw reports whether the current token is the unquoted keyword kw, in any
// case (the docs' own samples write FILTER and IN).
func (p *parser) isKw(kw string) bool { return isKw(p.tok, kw) }

func isKw(t token, kw string) bool { return t.kind == tIdent && strings.EqualFold(t.text, kw) }

// keywords cannot be unquoted field names.
var keywords = []string{"and", "or", "not", "in", "like", "as", "by", "asc", "desc", "true", "false", "null"}

func isKeyword(s string) bool {
	for _, k := range keywords {
		if strings.EqualFold(s, k) {
			return true
		}
	}
	return false
}

func (p *parser) expectOp(op, context string) {
	if !p.isOp(op) {
		p.fail(p.tok.pos, "expected '%s' %s, found %s", op, context, p.tok)
	}
	p.next()
}

// regexHere re-reads the current '/' token as a regex literal.
func (p *parser) regexHere() *RegexLit {
	t, err := p.lex.regex(int(p.tok.pos))
	if err != nil {
		panic(err)
	}
	if _, err := regexp.Compile(t.text); err != nil {
		p.fail(t.pos, "invalid regular expression: %v", unwrapRegexErr(err))
	}
	p.tok, p.off = t, int(t.end)
	p.next()
	return &RegexLit{At: t.pos, Pattern: t.text, CaseInsensitive: strings.HasPrefix(t.text, "(?i)")}
}

func unwrapRegexErr(err error) string {
	s := err.Error()
	return strings.TrimPrefix(s, "error parsing regexp: ")
}

var commandNames = []string{"fields", "display", "filter", "stats", "sort", "limit", "parse", "dedup", "pattern", "unmask"}

// unsupported are commands AWS has that kinsight does not implement; they
// get their own message so nobody hunts for a typo.
var unsupported = []string{"filterindex", "diff", "anomaly", "unnest", "lookup", "join", "addtotals"}

func (p *parser) query() *Query {
	q := &Query{}
	if p.tok.kind == tEOF {
		p.fail(p.tok.pos, "empty query")
	}
	if p.isKw("source") {
		q.Source = p.source()
		if p.tok.kind == tEOF {
			return q
		}
		if p.isOp("|") {
			p.next()
		}
	}
	for {
		if p.tok.kind == tEOF {
			p.fail(p.tok.pos, "expected a command after '|'")
		}
		q.Commands = append(q.Commands, p.command())
		if p.tok.kind == tEOF {
			return q
		}
		if !p.isOp("|") {
			p.fail(p.tok.pos, "expected '|' or end of query, found %s", p.tok)
		}
		p.next()
	}
}

func (p *parser) command() Command {
	t := p.tok
	if t.kind != tIdent {
		p.fail(t.pos, "expected a command, found %s", t)
	}
	name := strings.ToLower(t.text)
	p.next()
	switch name {
	case "fields":
		return &Fields{At: t.pos, Items: p.projections("fields", false)}
	case "display":
		items := p.projections("display", false)
		d := &Display{At: t.pos, Items: items}
		for _, it := range items {
			d.Fields = append(d.Fields, projectionName(it))
		}
		return d
	case "filter":
		if p.tok.kind == tEOF || p.isOp("|") {
			p.fail(p.tok.pos, "expected a condition after 'filter'")
		}
		return &Filter{At: t.pos, Cond: p.expr()}
	case "stats":
		s := &Stats{At: t.pos, Aggs: p.projections("stats", true)}
		if p.isKw("by") {
			p.next()
			s.By = p.projections("by", false)
		}
		return s
	case "sort":
		return p.sort(t.pos)
	case "limit":
		if p.tok.kind != tNumber || !p.tok.isInt || p.tok.num < 1 || p.tok.num > MaxLimit {
			p.fail(p.tok.pos, "expected a whole number from 1 to %d after 'limit', found %s", MaxLimit, p.tok)
		}
		n := int(p.tok.num)
		p.next()
		return &Limit{At: t.pos, N: n}
	case "parse":
		return p.parse(t.pos)
	case "dedup":
		d := &Dedup{At: t.pos}
		for {
			d.Fields = append(d.Fields, p.fieldName("dedup"))
			if !p.isOp(",") {
				return d
			}
			p.next()
		}
	case "pattern":
		return &Pattern{At: t.pos, Field: p.optionalField(false)}
	case "unmask":
		return &Unmask{At: t.pos, Field: p.optionalField(true)}
	case "source":
		p.fail(t.pos, "SOURCE must come first in the query")
	}
	for _, u := range unsupported {
		if name == u {
			p.fail(t.pos, "command '%s' is not supported by kinsight", t.text)
		}
	}
	msg := fmt.Sprintf("unknown command '%s'", t.text)
	if s := suggest(name); s != "" {
		msg += fmt.Sprintf("; did you mean '%s'?", s)
	}
	p.fail(t.pos, "%s", msg)
	return nil
}

// suggest returns the command closest to name when it is a likely typo.
func suggest(name string) string {
	best, bestD := "", 3
	for _, c := range commandNames {
		if d := editDistance(name, c); d < bestD {
			best, bestD = c, d
		}
	}
	return best
}

func editDistance(a, b string) int {
	if len(a) > 32 || len(b) > 32 {
		return 99
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			// A transposition ("fitler") counts as one edit.
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				cur[j] = min(cur[j], prev[j-1])
			}
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

func projectionName(it Projection) string {
	if it.Alias != "" {
		return it.Alias
	}
	if f, ok := it.Expr.(*FieldRef); ok {
		return f.Name
	}
	return exprString(it.Expr)
}

// projections parses `e [as name], ...` for the command or clause named by
// after.
func (p *parser) projections(after string, stopAtBy bool) []Projection {
	var out []Projection
	for {
		if p.tok.kind == tEOF || p.isOp("|") || p.isOp(",") || stopAtBy && p.isKw("by") {
			what := "an expression"
			if after == "by" {
				what = "a field or expression"
			}
			if len(out) > 0 {
				after = ","
			}
			p.fail(p.tok.pos, "expected %s after '%s', found %s", what, after, p.tok)
		}
		it := Projection{Expr: p.expr()}
		if p.isKw("as") {
			p.next()
			it.Alias = p.name("after 'as'")
		}
		out = append(out, it)
		if !p.isOp(",") {
			return out
		}
		p.next()
	}
}

// name reads an unquoted or back-quoted name that is not a keyword.
func (p *parser) name(context string) string {
	t := p.tok
	switch {
	case t.kind == tQIdent:
	case t.kind == tIdent && !isKeyword(t.text):
	default:
		p.fail(t.pos, "expected a name %s, found %s", context, t)
	}
	p.next()
	return t.text
}

func (p *parser) fieldName(after string) string {
	t := p.tok
	if t.kind != tQIdent && (t.kind != tIdent || isKeyword(t.text)) {
		p.fail(t.pos, "expected a field name after '%s', found %s", after, t)
	}
	p.next()
	return t.text
}

func (p *parser) sort(at Pos) *Sort {
	s := &Sort{At: at}
	after := "sort"
	for {
		if p.tok.kind == tEOF || p.isOp("|") || p.isOp(",") {
			p.fail(p.tok.pos, "expected a field or expression after '%s', found %s", after, p.tok)
		}
		k := SortKey{Expr: p.expr()}
		if p.isKw("desc") {
			k.Desc = true
			p.next()
		} else if p.isKw("asc") {
			p.next()
		}
		s.Keys = append(s.Keys, k)
		if !p.isOp(",") {
			return s
		}
		after = ","
		p.next()
	}
}

// optionalField parses the field of pattern and unmask, @message when
// omitted; unmask also takes it in parentheses as AWS's examples write it.
func (p *parser) optionalField(parens bool) Expr {
	if parens && p.isOp("(") {
		p.next()
		f := &FieldRef{At: p.tok.pos, Name: p.fieldName("(")}
		p.expectOp(")", "after the field")
		return f
	}
	if p.tok.kind == tQIdent || p.tok.kind == tIdent && !isKeyword(p.tok.text) {
		at := p.tok.pos
		return &FieldRef{At: at, Name: p.fieldName("")}
	}
	return &FieldRef{At: p.tok.pos, Name: "@message"}
}

func (p *parser) parse(at Pos) *ParseCmd {
	c := &ParseCmd{At: at}
	if p.tok.kind == tQIdent || p.tok.kind == tIdent && !isKeyword(p.tok.text) {
		c.Field = &FieldRef{At: p.tok.pos, Name: p.tok.text}
		p.next()
	} else {
		c.Field = &FieldRef{At: p.tok.pos, Name: "@message"}
	}
	switch {
	case p.tok.kind == tString:
		gt := p.tok
		c.Glob = gt.text
		p.next()
		stars := strings.Count(c.Glob, "*")
		if stars == 0 {
			p.fail(gt.pos, "the parse pattern has no '*' to extract")
		}
		if !p.isKw("as") {
			p.fail(p.tok.pos, "expected 'as' and %d field names after the parse pattern, found %s", stars, p.tok)
		}
		asPos := p.tok.pos
		p.next()
		for {
			c.As = append(c.As, p.name("for the extracted field"))
			if !p.isOp(",") {
				break
			}
			p.next()
		}
		if len(c.As) != stars {
			p.fail(asPos, "the parse pattern has %d '*' but %d names follow 'as'", stars, len(c.As))
		}
	case p.isOp("/"):
		rt := p.tok
		re := p.regexHere()
		c.Regex = re.Pattern
		cre := regexp.MustCompile(re.Pattern) // compiled by regexHere already
		for _, n := range cre.SubexpNames() {
			if n != "" {
				c.As = append(c.As, n)
			}
		}
		if len(c.As) == 0 {
			p.fail(rt.pos, "the parse regex has no named groups; name what to extract with (?<name>...)")
		}
		if p.isKw("as") {
			p.fail(p.tok.pos, "'as' does not follow a parse regex; the group names (?<name>...) name the fields")
		}
	default:
		p.fail(p.tok.pos, "expected a \"glob * pattern\" or a /regex/ in 'parse', found %s", p.tok)
	}
	return c
}

func (p *parser) source() *Source {
	s := &Source{At: p.tok.pos}
	p.next()
	if !isKw(p.tok, "logGroups") {
		p.fail(p.tok.pos, "expected 'logGroups(...)' after SOURCE, found %s", p.tok)
	}
	p.next()
	p.expectOp("(", "after 'logGroups'")
	seen := map[string]bool{}
	for !p.isOp(")") {
		if len(seen) > 0 {
			p.expectOp(",", "between SOURCE options")
		}
		kt := p.tok
		if kt.kind != tIdent {
			p.fail(kt.pos, "expected namePrefix, accountIdentifier or logGroupClass, found %s", kt)
		}
		var dst *[]string
		switch strings.ToLower(kt.text) {
		case "nameprefix":
			dst = &s.NamePrefixes
		case "accountidentifier", "accountidentifiers":
			dst = &s.AccountIdentifiers
		case "loggroupclass", "class":
			dst = &s.LogGroupClasses
		default:
			p.fail(kt.pos, "unknown SOURCE option '%s'; expected namePrefix, accountIdentifier or logGroupClass", kt.text)
		}
		key := strings.ToLower(kt.text)
		if seen[key] {
			p.fail(kt.pos, "SOURCE option '%s' given twice", kt.text)
		}
		seen[key] = true
		p.next()
		p.expectOp(":", "after '"+kt.text+"'")
		p.expectOp("[", "to start the list of '"+kt.text+"'")
		*dst = []string{}
		for !p.isOp("]") {
			if len(*dst) > 0 {
				p.expectOp(",", "between list items")
			}
			if p.tok.kind != tString {
				p.fail(p.tok.pos, "expected a quoted string in the '%s' list, found %s", kt.text, p.tok)
			}
			*dst = append(*dst, p.tok.text)
			p.next()
		}
		p.next()
	}
	p.next()
	return s
}

// Expressions, loosest first: or, and, not, comparison, + -, * / %, unary
// minus, ^ (right-associative), primary. This is the order AWS documents
// (arithmetic over comparison over not over and over or) with the usual
// mathematical order inside arithmetic.

func (p *parser) enter() {
	p.depth++
	if p.depth > MaxDepth {
		p.fail(p.tok.pos, "expression is nested more than %d deep", MaxDepth)
	}
}

func (p *parser) leave() { p.depth-- }

func (p *parser) expr() Expr {
	p.enter()
	defer p.leave()
	return p.or()
}

func (p *parser) or() Expr {
	l := p.and()
	for p.isKw("or") {
		at := p.tok.pos
		p.next()
		l = &Binary{At: at, Op: "or", L: l, R: p.and()}
	}
	return l
}

func (p *parser) and() Expr {
	l := p.not()
	for p.isKw("and") {
		at := p.tok.pos
		p.next()
		l = &Binary{At: at, Op: "and", L: l, R: p.not()}
	}
	return l
}

func (p *parser) not() Expr {
	if p.isKw("not") {
		p.enter()
		defer p.leave()
		at := p.tok.pos
		p.next()
		return &Unary{At: at, Op: "not", X: p.not()}
	}
	return p.cmp()
}

// cmpOp returns the comparison operator at the current token ("" if none)
// and whether it takes two tokens (not like, not in).
func (p *parser) cmpOp() (string, bool) {
	switch {
	case p.tok.kind == tOp:
		switch p.tok.text {
		case "=", "!=", "<", "<=", ">", ">=", "=~":
			return p.tok.text, false
		}
	case p.isKw("like"):
		return "like", false
	case p.isKw("in"):
		return "in", false
	case p.isKw("not"):
		if n := p.peek(); isKw(n, "like") {
			return "not like", true
		} else if isKw(n, "in") {
			return "not in", true
		}
	}
	return "", false
}

func (p *parser) cmp() Expr {
	l := p.add()
	op, two := p.cmpOp()
	if op == "" {
		return l
	}
	at := p.tok.pos
	opText := p.tok.text
	p.next()
	if two {
		opText += " " + p.tok.text
		p.next()
	}
	var r Expr
	switch op {
	case "like", "not like", "=~":
		switch {
		case p.tok.kind == tString:
			r = &StringLit{At: p.tok.pos, Value: p.tok.text}
			p.next()
		case p.isOp("/"):
			r = p.regexHere()
		default:
			p.fail(p.tok.pos, "expected a \"string\" or /regex/ after '%s', found %s", opText, p.tok)
		}
	case "in", "not in":
		r = p.list(opText)
	default:
		r = p.add()
	}
	if op2, _ := p.cmpOp(); op2 != "" {
		p.fail(p.tok.pos, "comparisons cannot be chained; use 'and' or parentheses")
	}
	return &Binary{At: at, Op: op, L: l, R: r}
}

func (p *parser) list(after string) *ListLit {
	if !p.isOp("[") {
		p.fail(p.tok.pos, "expected '[' after '%s', found %s", after, p.tok)
	}
	p.enter()
	defer p.leave()
	l := &ListLit{At: p.tok.pos}
	p.next()
	for !p.isOp("]") {
		if len(l.Items) > 0 {
			if !p.isOp(",") {
				p.fail(p.tok.pos, "expected ',' or ']' in the list, found %s", p.tok)
			}
			p.next()
		}
		if p.tok.kind == tEOF {
			p.fail(l.At, "unterminated list; end it with ']'")
		}
		l.Items = append(l.Items, p.expr())
	}
	if len(l.Items) == 0 {
		p.fail(p.tok.pos, "the list after '%s' is empty", after)
	}
	p.next()
	return l
}

func (p *parser) add() Expr {
	l := p.mul()
	for p.isOp("+") || p.isOp("-") {
		at, op := p.tok.pos, p.tok.text
		p.next()
		l = &Binary{At: at, Op: op, L: l, R: p.mul()}
	}
	return l
}

func (p *parser) mul() Expr {
	l := p.unary()
	for p.isOp("*") || p.isOp("/") || p.isOp("%") {
		at, op := p.tok.pos, p.tok.text
		p.next()
		l = &Binary{At: at, Op: op, L: l, R: p.unary()}
	}
	return l
}

func (p *parser) unary() Expr {
	if p.isOp("-") {
		p.enter()
		defer p.leave()
		at := p.tok.pos
		p.next()
		return &Unary{At: at, Op: "-", X: p.unary()}
	}
	return p.pow()
}

func (p *parser) pow() Expr {
	base := p.primary()
	if p.isOp("^") {
		p.enter()
		defer p.leave()
		at := p.tok.pos
		p.next()
		return &Binary{At: at, Op: "^", L: base, R: p.unary()}
	}
	return base
}

func (p *parser) primary() Expr {
	t := p.tok
	switch t.kind {
	case tString:
		p.next()
		return &StringLit{At: t.pos, Value: t.text}
	case tNumber:
		p.next()
		return &NumberLit{At: t.pos, Value: t.num, IsInt: t.isInt}
	case tDuration:
		p.next()
		return &DurationLit{At: t.pos, D: t.dur, Unit: t.unit}
	case tQIdent:
		p.next()
		return &FieldRef{At: t.pos, Name: t.text}
	case tIdent:
		switch strings.ToLower(t.text) {
		case "true", "false":
			p.next()
			return &BoolLit{At: t.pos, Value: strings.EqualFold(t.text, "true")}
		case "null":
			p.next()
			return &NullLit{At: t.pos}
		}
		if isKeyword(t.text) {
			p.fail(t.pos, "expected an expression, found keyword '%s'", t.text)
		}
		p.next()
		if p.isOp("(") {
			return p.call(t)
		}
		return &FieldRef{At: t.pos, Name: t.text}
	case tOp:
		switch t.text {
		case "(":
			p.next()
			e := p.expr()
			if !p.isOp(")") {
				p.fail(p.tok.pos, "expected ')' to close the '(' at offset %d, found %s", t.pos, p.tok)
			}
			p.next()
			return e
		case "/":
			p.fail(t.pos, "a /regex/ can only follow 'like', 'not like' or '=~'")
		}
	}
	if t.kind == tEOF {
		p.fail(t.pos, "unexpected end of query; expected an expression")
	}
	p.fail(t.pos, "expected an expression, found %s", t)
	return nil
}

func (p *parser) call(name token) *Call {
	p.enter()
	defer p.leave()
	c := &Call{At: name.pos, Name: name.text}
	open := p.tok.pos
	p.next()
	if p.isOp("*") {
		if n := p.peek(); n.kind == tOp && n.text == ")" {
			c.Star = true
			p.next()
			p.next()
			return c
		}
	}
	for !p.isOp(")") {
		if len(c.Args) > 0 {
			if !p.isOp(",") {
				p.fail(p.tok.pos, "expected ',' or ')' in the arguments of %s, found %s", name.text, p.tok)
			}
			p.next()
		}
		if p.tok.kind == tEOF {
			p.fail(open, "unclosed '(' of %s", name.text)
		}
		c.Args = append(c.Args, p.expr())
	}
	p.next()
	return c
}
