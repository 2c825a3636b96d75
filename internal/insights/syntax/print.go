package syntax

import (
	"strconv"
	"strings"
	"time"
)

// String prints q in canonical form: one command per line after the first,
// keywords in lower case, strings double-quoted, the fewest parentheses that
// keep the tree, comments dropped. Parse(q.String()) gives a tree equal to q
// except for positions.
func (q *Query) String() string {
	var b strings.Builder
	if q.Source != nil {
		b.WriteString(q.Source.String())
	}
	for i, c := range q.Commands {
		if i > 0 || q.Source != nil {
			b.WriteString("\n| ")
		}
		b.WriteString(CommandString(c))
	}
	return b.String()
}

func (s *Source) String() string {
	var parts []string
	add := func(key string, vals []string) {
		if vals == nil {
			return
		}
		q := make([]string, len(vals))
		for i, v := range vals {
			q[i] = quote(v)
		}
		parts = append(parts, key+": ["+strings.Join(q, ", ")+"]")
	}
	add("namePrefix", s.NamePrefixes)
	add("accountIdentifier", s.AccountIdentifiers)
	add("logGroupClass", s.LogGroupClasses)
	return "SOURCE logGroups(" + strings.Join(parts, ", ") + ")"
}

// CommandString prints one command in canonical form.
func CommandString(c Command) string {
	switch c := c.(type) {
	case *Fields:
		return "fields " + projections(c.Items)
	case *Display:
		return "display " + projections(c.Items)
	case *Filter:
		return "filter " + exprString(c.Cond)
	case *Stats:
		s := "stats " + projections(c.Aggs)
		if len(c.By) > 0 {
			s += " by " + projections(c.By)
		}
		return s
	case *Sort:
		keys := make([]string, len(c.Keys))
		for i, k := range c.Keys {
			keys[i] = exprString(k.Expr)
			if k.Desc {
				keys[i] += " desc"
			}
		}
		return "sort " + strings.Join(keys, ", ")
	case *Limit:
		return "limit " + strconv.Itoa(c.N)
	case *ParseCmd:
		s := "parse " + exprString(c.Field) + " "
		if c.Regex != "" {
			return s + regexString(c.Regex)
		}
		names := make([]string, len(c.As))
		for i, n := range c.As {
			names[i] = nameString(n)
		}
		return s + quote(c.Glob) + " as " + strings.Join(names, ", ")
	case *Dedup:
		names := make([]string, len(c.Fields))
		for i, n := range c.Fields {
			names[i] = nameString(n)
		}
		return "dedup " + strings.Join(names, ", ")
	case *Pattern:
		return "pattern " + exprString(c.Field)
	case *Unmask:
		return "unmask " + exprString(c.Field)
	}
	return "?"
}

func projections(items []Projection) string {
	parts := make([]string, len(items))
	for i, it := range items {
		parts[i] = exprString(it.Expr)
		if it.Alias != "" {
			parts[i] += " as " + nameString(it.Alias)
		}
	}
	return strings.Join(parts, ", ")
}

// Precedence levels, loosest first; a child printed where the grammar
// wants at least level L gets parentheses when its own level is lower.
const (
	precOr = iota + 1
	precAnd
	precNot
	precCmp
	precAdd
	precMul
	precNeg
	precPow
	precPrimary
)

func prec(e Expr) int {
	switch e := e.(type) {
	case *Binary:
		switch e.Op {
		case "or":
			return precOr
		case "and":
			return precAnd
		case "+", "-":
			return precAdd
		case "*", "/", "%":
			return precMul
		case "^":
			return precPow
		}
		return precCmp
	case *Unary:
		if e.Op == "not" {
			return precNot
		}
		return precNeg
	}
	return precPrimary
}

// ExprString prints an expression in canonical form.
func ExprString(e Expr) string { return exprString(e) }

func exprString(e Expr) string {
	var b strings.Builder
	writeExpr(&b, e)
	return b.String()
}

func writeAtLeast(b *strings.Builder, e Expr, min int) {
	if prec(e) < min {
		b.WriteByte('(')
		writeExpr(b, e)
		b.WriteByte(')')
		return
	}
	writeExpr(b, e)
}

func writeExpr(b *strings.Builder, e Expr) {
	switch e := e.(type) {
	case *FieldRef:
		b.WriteString(nameString(e.Name))
	case *StringLit:
		b.WriteString(quote(e.Value))
	case *NumberLit:
		b.WriteString(numberString(e.Value, e.IsInt))
	case *DurationLit:
		b.WriteString(durationString(e.D, e.Unit))
	case *RegexLit:
		b.WriteString(regexString(e.Pattern))
	case *BoolLit:
		b.WriteString(strconv.FormatBool(e.Value))
	case *NullLit:
		b.WriteString("null")
	case *ListLit:
		b.WriteByte('[')
		for i, it := range e.Items {
			if i > 0 {
				b.WriteString(", ")
			}
			writeExpr(b, it)
		}
		b.WriteByte(']')
	case *Unary:
		if e.Op == "not" {
			b.WriteString("not ")
			writeAtLeast(b, e.X, precNot)
			return
		}
		b.WriteString(e.Op)
		writeAtLeast(b, e.X, precNeg)
	case *Binary:
		p := prec(e)
		left, right := p, p+1 // left-associative
		switch p {
		case precCmp:
			left, right = precAdd, precAdd
		case precPow:
			left, right = precPrimary, precNeg
		}
		writeAtLeast(b, e.L, left)
		b.WriteString(" " + e.Op + " ")
		writeAtLeast(b, e.R, right)
	case *Call:
		b.WriteString(e.Name)
		b.WriteByte('(')
		if e.Star {
			b.WriteByte('*')
		}
		for i, a := range e.Args {
			if i > 0 {
				b.WriteString(", ")
			}
			writeExpr(b, a)
		}
		b.WriteByte(')')
	default:
		b.WriteString("?")
	}
}

// nameString prints a field name bare when it lexes back as the same name,
// back-quoted otherwise.
func nameString(n string) string {
	plain := n != "" && isIdentStart(n[0]) && !isKeyword(n)
	for i := 1; plain && i < len(n); i++ {
		plain = isIdentPart(n[i])
	}
	if plain {
		return n
	}
	return "`" + n + "`"
}

func quote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '"', '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case '\n':
			b.WriteString(`\n`)
		case '\t':
			b.WriteString(`\t`)
		case '\r':
			b.WriteString(`\r`)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}

func regexString(p string) string {
	var b strings.Builder
	b.WriteByte('/')
	for i := 0; i < len(p); i++ {
		switch c := p[i]; {
		case c == '\\' && i+1 < len(p):
			b.WriteByte(c)
			i++
			b.WriteByte(p[i])
		case c == '/':
			b.WriteString(`\/`)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('/')
	return b.String()
}

func numberString(v float64, isInt bool) string {
	if isInt {
		return strconv.FormatFloat(v, 'f', -1, 64)
	}
	s := strconv.FormatFloat(v, 'g', -1, 64)
	if !strings.ContainsAny(s, ".e") {
		s += ".0"
	}
	return s
}

func durationString(d time.Duration, unit string) string {
	u, ok := durationUnits[unit]
	if !ok || u == 0 {
		return strconv.FormatInt(int64(d/time.Millisecond), 10) + "ms"
	}
	return strconv.FormatInt(int64(d/u), 10) + unit
}
