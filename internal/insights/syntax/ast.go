package syntax

import "time"

// Pos is a byte offset into the query text.
type Pos int

// Query is a parsed Logs Insights query.
type Query struct {
	// Source is the leading SOURCE command, nil when the query has none.
	Source   *Source
	Commands []Command
}

// Source is `SOURCE logGroups(namePrefix: [...], ...)`. Every list is nil
// when its key was not given.
type Source struct {
	At                 Pos
	NamePrefixes       []string
	AccountIdentifiers []string
	LogGroupClasses    []string
}

// Command is one command of the pipeline.
type Command interface {
	// Pos is the offset of the command's keyword.
	Pos() Pos
}

// Projection is one item of fields, display or stats: an expression and the
// name given to it with `as` ("" when there is none).
type Projection struct {
	Expr  Expr
	Alias string
}

// Fields is `fields e1 [as a1], ...`.
type Fields struct {
	At    Pos
	Items []Projection
}

// Display is `display f1, e2 as a2, ...`. AWS documents display with plain
// field names, but its own sample queries also display aliased expressions
// (`display msg, level = "ERROR" as isError`), so Items keeps what was
// written and Fields the resulting column names: the alias when there is one,
// else the field name, else the canonical text of the expression.
type Display struct {
	At     Pos
	Fields []string
	Items  []Projection
}

// Filter is `filter cond`.
type Filter struct {
	At   Pos
	Cond Expr
}

// Stats is `stats agg1 [as a1], ... [by e1 [as b1], ...]`.
type Stats struct {
	At   Pos
	Aggs []Projection
	By   []Projection
}

// Sort is `sort e1 [asc|desc], ...`.
type Sort struct {
	At   Pos
	Keys []SortKey
}

// SortKey is one key of sort; ascending unless Desc.
type SortKey struct {
	Expr Expr
	Desc bool
}

// Limit is `limit n`, 1 <= n <= MaxLimit.
type Limit struct {
	At Pos
	N  int
}

// ParseCmd is `parse [field] "glob*" as n1, ...` or `parse [field] /regex/`.
// (It cannot be called Parse: that is the package's entry point.)
// Exactly one of Glob and Regex is set. As holds the names of the extracted
// fields in both forms: the names after `as` for a glob (one per '*', in
// order) and the named capture groups, in order, for a regex. When the field
// is omitted it is @message, as AWS documents.
type ParseCmd struct {
	At    Pos
	Field Expr
	Glob  string
	Regex string
	As    []string
}

// Dedup is `dedup f1, f2, ...`.
type Dedup struct {
	At     Pos
	Fields []string
}

// Pattern is `pattern [field]`; the field defaults to @message.
type Pattern struct {
	At    Pos
	Field Expr
}

// Unmask is `unmask [field]` or `unmask(field)`; the field defaults to
// @message.
type Unmask struct {
	At    Pos
	Field Expr
}

func (c *Fields) Pos() Pos   { return c.At }
func (c *Display) Pos() Pos  { return c.At }
func (c *Filter) Pos() Pos   { return c.At }
func (c *Stats) Pos() Pos    { return c.At }
func (c *Sort) Pos() Pos     { return c.At }
func (c *Limit) Pos() Pos    { return c.At }
func (c *ParseCmd) Pos() Pos { return c.At }
func (c *Dedup) Pos() Pos    { return c.At }
func (c *Pattern) Pos() Pos  { return c.At }
func (c *Unmask) Pos() Pos   { return c.At }

// Expr is an expression node.
type Expr interface {
	// Pos is the offset of the node: of its first character, except for
	// Binary where it is the operator's, so that type errors point at it.
	Pos() Pos
}

// FieldRef names a log field. Dotted and back-quoted names are kept whole,
// without back-quotes: `kubernetes.pod_name`, `@timestamp`, `foo-bar`.
type FieldRef struct {
	At   Pos
	Name string
}

// StringLit is a single- or double-quoted string, escapes decoded.
type StringLit struct {
	At    Pos
	Value string
}

// NumberLit is a number; IsInt when written without '.' or exponent.
type NumberLit struct {
	At    Pos
	Value float64
	IsInt bool
}

// DurationLit is a whole number with a time unit: 100ms, 30s, 5m, 1h, 1d,
// 1w, and the calendar units 1mo, 1q, 1y. Unit is the unit as written; for
// the calendar units D is nominal (30, 90 and 365 days) and the executor
// should use Unit to round on calendar boundaries.
type DurationLit struct {
	At   Pos
	D    time.Duration
	Unit string
}

// RegexLit is /pattern/ with `\/` unescaped to '/'. CaseInsensitive is set
// when the pattern starts with (?i), as AWS documents for case-insensitive
// matches; the flag stays in Pattern too.
type RegexLit struct {
	At              Pos
	Pattern         string
	CaseInsensitive bool
}

// BoolLit is the bare word true or false (any case).
type BoolLit struct {
	At    Pos
	Value bool
}

// NullLit is the bare word null (any case).
type NullLit struct {
	At Pos
}

// ListLit is [e1, e2, ...], the right side of in and not in.
type ListLit struct {
	At    Pos
	Items []Expr
}

// Unary is "not" or "-" applied to X.
type Unary struct {
	At Pos
	Op string
	X  Expr
}

// Binary is L Op R. Op is one of: and or = != < <= > >= + - * / % ^ like
// "not like" =~ in "not in". For like, not like and =~ the right side is a
// *StringLit or *RegexLit; for in and not in it is a *ListLit.
type Binary struct {
	At   Pos
	Op   string
	L, R Expr
}

// Call is name(args...). Star is set for name(*), as in count(*), and then
// Args is empty. Name is as written: function names are case-sensitive.
type Call struct {
	At   Pos
	Name string
	Args []Expr
	Star bool
}

func (e *FieldRef) Pos() Pos    { return e.At }
func (e *StringLit) Pos() Pos   { return e.At }
func (e *NumberLit) Pos() Pos   { return e.At }
func (e *DurationLit) Pos() Pos { return e.At }
func (e *RegexLit) Pos() Pos    { return e.At }
func (e *BoolLit) Pos() Pos     { return e.At }
func (e *NullLit) Pos() Pos     { return e.At }
func (e *ListLit) Pos() Pos     { return e.At }
func (e *Unary) Pos() Pos       { return e.At }
func (e *Binary) Pos() Pos      { return e.At }
func (e *Call) Pos() Pos        { return e.At }
