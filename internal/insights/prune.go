package insights

import (
	"regexp"
	regsyntax "regexp/syntax"
	"strings"

	"github.com/kinsight/kinsight/internal/insights/syntax"
	"github.com/kinsight/kinsight/internal/insights/value"
)

// pruning is what a query lets the store skip.
type pruning struct {
	// mayMatch is nil when every block may match.
	mayMatch func(mayContain func(string) bool) bool
	streams  []string
	// streamOnly marks filters that only restrict @logStream, which
	// streams enforces in full: they do not stop a newest-first scan.
	streamOnly map[*syntax.Filter]bool
	// pre holds, for the filters at the head of the query, the substrings
	// an event's message must contain for the filter to hold: checked
	// with strings.Contains before any field is read or JSON parsed.
	pre map[*syntax.Filter]oracle
}

// oracle is a block predicate over the block's substring oracle.
type oracle func(mayContain func(string) bool) bool

// derivePruning reads the filters at the head of the query, before any
// command that drops, reorders or aggregates rows. Names that fields,
// display or parse assigned before a filter are not the event's any more,
// so a filter on them prunes nothing.
func derivePruning(cmds []syntax.Command) pruning {
	shadow := map[string]bool{}
	pre := map[*syntax.Filter]oracle{}
	var preds []oracle
	var streams []string
	streamsSet := false
	streamOnly := map[*syntax.Filter]bool{}
loop:
	for _, cmd := range cmds {
		switch cmd := cmd.(type) {
		case *syntax.Filter:
			if o := predicate(cmd.Cond, shadow); o != nil {
				preds = append(preds, o)
				pre[cmd] = o
			}
			only := true
			for _, conj := range conjuncts(cmd.Cond) {
				ss, ok := streamEq(conj, shadow)
				only = only && ok
				if ok {
					if streamsSet {
						streams = intersect(streams, ss)
					} else {
						streams, streamsSet = ss, true
					}
				}
			}
			if only {
				streamOnly[cmd] = true
			}
		case *syntax.Fields:
			shadowProjections(cmd.Items, shadow)
		case *syntax.Display:
			shadowProjections(cmd.Items, shadow)
		case *syntax.ParseCmd:
			for _, n := range cmd.As {
				shadow[n] = true
			}
		case *syntax.Unmask:
		default:
			break loop
		}
	}
	p := pruning{pre: pre, streamOnly: streamOnly}
	if streamsSet {
		p.streams = streams
		if len(streams) == 0 {
			// Contradictory stream filters: nothing can match.
			p.mayMatch = func(func(string) bool) bool { return false }
			p.streams = []string{}
			return p
		}
	}
	if len(preds) > 0 {
		p.mayMatch = func(mc func(string) bool) bool {
			for _, o := range preds {
				if !o(mc) {
					return false
				}
			}
			return true
		}
	}
	return p
}

func shadowProjections(items []syntax.Projection, shadow map[string]bool) {
	for _, it := range items {
		name := projName(it)
		if f, ok := it.Expr.(*syntax.FieldRef); ok && f.Name == name {
			continue
		}
		shadow[name] = true
	}
}

func intersect(a, b []string) []string {
	var out []string
	for _, x := range a {
		for _, y := range b {
			if x == y {
				out = append(out, x)
				break
			}
		}
	}
	return out
}

func conjuncts(e syntax.Expr) []syntax.Expr {
	if b, ok := e.(*syntax.Binary); ok && b.Op == "and" {
		return append(conjuncts(b.L), conjuncts(b.R)...)
	}
	return []syntax.Expr{e}
}

// streamEq recognises @logStream = "x" and @logStream in ["x", "y"].
func streamEq(e syntax.Expr, shadow map[string]bool) ([]string, bool) {
	b, ok := e.(*syntax.Binary)
	if !ok || shadow["@logStream"] {
		return nil, false
	}
	l, r := b.L, b.R
	if b.Op == "=" {
		if _, ok := r.(*syntax.FieldRef); ok {
			l, r = r, l
		}
	}
	f, ok := l.(*syntax.FieldRef)
	if !ok || f.Name != "@logStream" {
		return nil, false
	}
	switch b.Op {
	case "=":
		if s, ok := r.(*syntax.StringLit); ok {
			return []string{s.Value}, true
		}
	case "in":
		list, ok := r.(*syntax.ListLit)
		if !ok {
			return nil, false
		}
		var out []string
		for _, it := range list.Items {
			s, ok := it.(*syntax.StringLit)
			if !ok {
				return nil, false
			}
			out = append(out, s.Value)
		}
		return out, true
	}
	return nil, false
}

// predicate is the block oracle of a condition; nil means "any block".
func predicate(e syntax.Expr, shadow map[string]bool) oracle {
	b, ok := e.(*syntax.Binary)
	if !ok {
		return nil
	}
	switch b.Op {
	case "and":
		l, r := predicate(b.L, shadow), predicate(b.R, shadow)
		switch {
		case l == nil:
			return r
		case r == nil:
			return l
		}
		return func(mc func(string) bool) bool { return l(mc) && r(mc) }
	case "or":
		l, r := predicate(b.L, shadow), predicate(b.R, shadow)
		if l == nil || r == nil {
			return nil
		}
		return func(mc func(string) bool) bool { return l(mc) || r(mc) }
	case "like", "=~":
		f, ok := b.L.(*syntax.FieldRef)
		if !ok || f.Name != "@message" || shadow["@message"] {
			return nil
		}
		var lits []string
		switch r := b.R.(type) {
		case *syntax.StringLit:
			if b.Op == "like" {
				lits = []string{r.Value}
			} else {
				lits = requiredLiterals(r.Value)
			}
		case *syntax.RegexLit:
			lits = requiredLiterals(r.Pattern)
		}
		return containsAll(lits)
	case "=":
		l, r := b.L, b.R
		if _, ok := l.(*syntax.StringLit); ok {
			l, r = r, l
		}
		f, ok := l.(*syntax.FieldRef)
		s, ok2 := r.(*syntax.StringLit)
		if !ok || !ok2 || strings.HasPrefix(f.Name, "@") || shadow[f.Name] || !jsonVerbatim(s.Value) {
			return nil
		}
		// A JSON string value appears quoted in the message.
		return containsAll([]string{`"` + s.Value + `"`})
	}
	return nil
}

func containsAll(lits []string) oracle {
	var keep []string
	for _, l := range lits {
		if len(l) >= 3 {
			keep = append(keep, l)
		}
	}
	if len(keep) == 0 {
		return nil
	}
	return func(mc func(string) bool) bool {
		for _, l := range keep {
			if !mc(l) {
				return false
			}
		}
		return true
	}
}

// jsonVerbatim reports whether s appears as "s" in any JSON encoding of
// it, and whether field = "s" can hold only for a JSON string: no escapes
// (quotes, backslashes, controls, non-ASCII, <>& that encoding/json
// escapes and / that PHP's json_encode escapes), and not a number or boolean text, which equal JSON numbers
// and booleans.
func jsonVerbatim(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '/' || c == '<' || c == '>' || c == '&' {
			return false
		}
	}
	if _, ok := value.Str(s).AsNumber(); ok {
		return false
	}
	switch strings.ToLower(s) {
	case "true", "false":
		return false
	}
	return true
}

// requiredLiterals returns substrings every match of the regex contains
// (case-sensitive ones only).
func requiredLiterals(pat string) []string {
	re, err := regsyntax.Parse(pat, regsyntax.Perl)
	if err != nil {
		return nil
	}
	return required(re.Simplify())
}

func required(re *regsyntax.Regexp) []string {
	switch re.Op {
	case regsyntax.OpLiteral:
		if re.Flags&regsyntax.FoldCase != 0 {
			return nil
		}
		return []string{string(re.Rune)}
	case regsyntax.OpCapture, regsyntax.OpPlus:
		return required(re.Sub[0])
	case regsyntax.OpRepeat:
		if re.Min >= 1 {
			return required(re.Sub[0])
		}
	case regsyntax.OpConcat:
		var out []string
		var run strings.Builder
		flush := func() {
			if run.Len() > 0 {
				out = append(out, run.String())
				run.Reset()
			}
		}
		for _, sub := range re.Sub {
			if sub.Op == regsyntax.OpLiteral && sub.Flags&regsyntax.FoldCase == 0 {
				run.WriteString(string(sub.Rune))
				continue
			}
			flush()
			out = append(out, required(sub)...)
		}
		flush()
		return out
	}
	return nil
}

// matcher is a compiled like /re/: plain literals use strings.Contains,
// and a regex runs only on values that hold its required literals.
type matcher struct {
	re    *regexp.Regexp
	lit   string
	isLit bool
	req   []string
}

func newMatcher(pat string) (*matcher, error) {
	re, err := regexp.Compile(pat)
	if err != nil {
		return nil, err
	}
	m := &matcher{re: re}
	if p, err := regsyntax.Parse(pat, regsyntax.Perl); err == nil {
		p = p.Simplify()
		if p.Op == regsyntax.OpLiteral && p.Flags&regsyntax.FoldCase == 0 {
			m.isLit, m.lit = true, string(p.Rune)
			return m, nil
		}
		m.req = required(p)
	}
	return m, nil
}

func (m *matcher) match(s string) bool {
	if m.isLit {
		return strings.Contains(s, m.lit)
	}
	for _, l := range m.req {
		if !strings.Contains(s, l) {
			return false
		}
	}
	return m.re.MatchString(s)
}
