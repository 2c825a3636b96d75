package insights

import (
	"strings"

	"github.com/kinsight/kinsight/internal/insights/syntax"
	"github.com/kinsight/kinsight/internal/insights/value"
)

func constFn(v value.Value) evalFn { return func(*row) value.Value { return v } }

func (c *compiler) expr(e syntax.Expr) (evalFn, error) {
	switch e := e.(type) {
	case *syntax.FieldRef:
		c.markRead(e.Name)
		s := c.slot(e.Name)
		return func(r *row) value.Value { return r.get(s) }, nil
	case *syntax.StringLit:
		return constFn(value.Str(e.Value)), nil
	case *syntax.NumberLit:
		if e.IsInt {
			return constFn(value.Int(int64(e.Value))), nil
		}
		return constFn(value.Num(e.Value)), nil
	case *syntax.DurationLit:
		v, err := value.Dur(syntax.ExprString(e))
		if err != nil {
			return nil, c.errAt(e.At, "%v", err)
		}
		return constFn(v), nil
	case *syntax.BoolLit:
		return constFn(value.Bool(e.Value)), nil
	case *syntax.NullLit:
		return constFn(value.Null()), nil
	case *syntax.RegexLit:
		return nil, c.errAt(e.At, "a /regex/ is only allowed after like, not like, =~ or in parse")
	case *syntax.ListLit:
		return nil, c.errAt(e.At, "a [list] is only allowed after in or not in")
	case *syntax.Unary:
		x, err := c.expr(e.X)
		if err != nil {
			return nil, err
		}
		if e.Op == "not" {
			return func(r *row) value.Value { return value.Bool(!x(r).Truthy()) }, nil
		}
		return func(r *row) value.Value { return value.Neg(x(r)) }, nil
	case *syntax.Binary:
		return c.binary(e)
	case *syntax.Call:
		return c.call(e)
	}
	return nil, c.errAt(e.Pos(), "unsupported expression")
}

func isNullLit(e syntax.Expr) bool { _, ok := e.(*syntax.NullLit); return ok }

func (c *compiler) binary(e *syntax.Binary) (evalFn, error) {
	switch e.Op {
	case "like", "not like", "=~":
		return c.like(e)
	case "in", "not in":
		l, err := c.expr(e.L)
		if err != nil {
			return nil, err
		}
		list, ok := e.R.(*syntax.ListLit)
		if !ok {
			return nil, c.errAt(e.R.Pos(), "expected a [list] after %s", e.Op)
		}
		fns := make([]evalFn, len(list.Items))
		for i, it := range list.Items {
			if fns[i], err = c.expr(it); err != nil {
				return nil, err
			}
		}
		neg := e.Op == "not in"
		return func(r *row) value.Value {
			v := l(r)
			if v.IsNull() {
				return value.Bool(false) // a missing field is in no list, nor outside one
			}
			vals := make([]value.Value, len(fns))
			for i, f := range fns {
				vals[i] = f(r)
			}
			return value.Bool(value.In(v, vals) != neg)
		}, nil
	}
	l, err := c.expr(e.L)
	if err != nil {
		return nil, err
	}
	rt, err := c.expr(e.R)
	if err != nil {
		return nil, err
	}
	switch e.Op {
	case "and":
		return func(r *row) value.Value { return value.Bool(l(r).Truthy() && rt(r).Truthy()) }, nil
	case "or":
		return func(r *row) value.Value { return value.Bool(l(r).Truthy() || rt(r).Truthy()) }, nil
	case "=", "!=":
		neg := e.Op == "!="
		if isNullLit(e.L) || isNullLit(e.R) {
			// x = null tests absence, x != null presence.
			return func(r *row) value.Value { return value.Bool(value.Equal(l(r), rt(r)) != neg) }, nil
		}
		return func(r *row) value.Value {
			a, b := l(r), rt(r)
			if a.IsNull() || b.IsNull() {
				return value.Bool(false)
			}
			return value.Bool(value.Equal(a, b) != neg)
		}, nil
	case "<", "<=", ">", ">=":
		op := e.Op
		return func(r *row) value.Value {
			n, ok := value.Compare(l(r), rt(r))
			if !ok {
				return value.Bool(false)
			}
			switch op {
			case "<":
				return value.Bool(n < 0)
			case "<=":
				return value.Bool(n <= 0)
			case ">":
				return value.Bool(n > 0)
			}
			return value.Bool(n >= 0)
		}, nil
	}
	var f func(a, b value.Value) value.Value
	switch e.Op {
	case "+":
		f = value.Add
	case "-":
		f = value.Sub
	case "*":
		f = value.Mul
	case "/":
		f = value.Div
	case "%":
		f = value.Mod
	case "^":
		f = value.Pow
	default:
		return nil, c.errAt(e.At, "unknown operator %s", e.Op)
	}
	return func(r *row) value.Value { return f(l(r), rt(r)) }, nil
}

func (c *compiler) like(e *syntax.Binary) (evalFn, error) {
	l, err := c.expr(e.L)
	if err != nil {
		return nil, err
	}
	neg := e.Op == "not like"
	switch rhs := e.R.(type) {
	case *syntax.StringLit:
		lit := rhs.Value
		if e.Op == "=~" {
			// =~ with a string is a regex match with the string as pattern.
			m, err := newMatcher(lit)
			if err != nil {
				return nil, c.errAt(rhs.At, "bad regular expression: %v", err)
			}
			return likeFn(l, m.match, neg), nil
		}
		return func(r *row) value.Value { return value.Bool(value.Like(l(r), lit) != neg) }, nil
	case *syntax.RegexLit:
		m, err := newMatcher(rhs.Pattern)
		if err != nil {
			return nil, c.errAt(rhs.At, "bad regular expression: %v", err)
		}
		return likeFn(l, m.match, neg), nil
	}
	return nil, c.errAt(e.R.Pos(), "expected a \"string\" or /regex/ after %s", e.Op)
}

func likeFn(l evalFn, match func(string) bool, neg bool) evalFn {
	return func(r *row) value.Value {
		v := l(r)
		if v.IsNull() {
			return value.Bool(neg)
		}
		return value.Bool(match(v.String()) != neg)
	}
}

func (c *compiler) call(e *syntax.Call) (evalFn, error) {
	if value.IsAggregate(e.Name) {
		if c.aggs != nil && !c.inAgg {
			return c.aggregate(e)
		}
		if c.statsCols[syntax.ExprString(e)] {
			s := c.slot(syntax.ExprString(e))
			return func(r *row) value.Value { return r.get(s) }, nil
		}
		if c.inAgg {
			return nil, c.errAt(e.At, "aggregate function %s cannot be nested in another aggregate", e.Name)
		}
		return nil, c.errAt(e.At, "%s is an aggregate function: use it in stats", e.Name)
	}
	if e.Star {
		return nil, c.errAt(e.At, "only count takes *, not %s", e.Name)
	}
	args := e.Args
	if strings.EqualFold(e.Name, "bin") && len(args) == 1 {
		// bin(5m) is bin(@timestamp, 5m).
		args = []syntax.Expr{&syntax.FieldRef{At: e.At, Name: "@timestamp"}, args[0]}
	}
	fn, err := value.Lookup(e.Name, len(args))
	if err != nil {
		return nil, c.errAt(e.At, "%v", err)
	}
	fns := make([]evalFn, len(args))
	for i, a := range args {
		if fns[i], err = c.expr(a); err != nil {
			return nil, err
		}
	}
	if (strings.EqualFold(e.Name, "bin") || strings.EqualFold(e.Name, "datefloor")) && len(args) == 2 {
		if d, ok := args[1].(*syntax.DurationLit); ok {
			// The common stats … by bin(5m): no argument slice per event.
			p, err := value.ParsePeriod(syntax.ExprString(d))
			if err != nil {
				return nil, c.errAt(d.At, "%v", err)
			}
			ts := fns[0]
			return func(r *row) value.Value {
				t, ok := ts(r).AsTime()
				if !ok {
					return value.Null()
				}
				return value.Time(p.Floor(t))
			}, nil
		}
	}
	return func(r *row) value.Value {
		vals := make([]value.Value, len(fns))
		for i, f := range fns {
			vals[i] = f(r)
		}
		v, err := fn(vals)
		if err != nil {
			return value.Null()
		}
		return v
	}, nil
}

// aggregate compiles an aggregate call inside a stats projection: its
// first argument is evaluated per input row, the rest must be constants
// (pct's percentile).
func (c *compiler) aggregate(e *syntax.Call) (evalFn, error) {
	spec := aggSpec{name: e.Name, nargs: len(e.Args)}
	switch strings.ToLower(e.Name) {
	case "earliest", "latest", "sortsfirst", "sortslast":
		spec.timed = true
	case "count_distinct", "pct":
		spec.grows = true
	}
	if e.Star && !strings.EqualFold(e.Name, "count") {
		return nil, c.errAt(e.At, "only count takes *, not %s", e.Name)
	}
	saved := c.eventMode
	c.inAgg, c.eventMode = true, c.aggInputEvent
	defer func() { c.inAgg, c.eventMode = false, saved }()
	for i, a := range e.Args {
		if i == 0 {
			fn, err := c.expr(a)
			if err != nil {
				return nil, err
			}
			spec.arg = fn
			spec.consts = append(spec.consts, value.Null())
			continue
		}
		fn, err := c.expr(a)
		if err != nil {
			return nil, err
		}
		if !isConst(a) {
			return nil, c.errAt(a.Pos(), "the argument of %s after the field must be a constant", e.Name)
		}
		spec.consts = append(spec.consts, fn(nil))
	}
	if _, err := value.NewAgg(spec.name, spec.consts, spec.nargs); err != nil {
		return nil, c.errAt(e.At, "%v", err)
	}
	*c.aggs = append(*c.aggs, spec)
	i := len(*c.aggs) - 1
	return func(r *row) value.Value { return r.aggs[i] }, nil
}

func isConst(e syntax.Expr) bool {
	switch e := e.(type) {
	case *syntax.NumberLit, *syntax.StringLit, *syntax.DurationLit, *syntax.BoolLit, *syntax.NullLit:
		return true
	case *syntax.Unary:
		return isConst(e.X)
	}
	return false
}
