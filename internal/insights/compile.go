package insights

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/kinsight/kinsight/internal/insights/syntax"
	"github.com/kinsight/kinsight/internal/insights/value"
)

// slotKind says where an unassigned slot takes its value from.
type slotKind uint8

const (
	slotJSON slotKind = iota // a key of a JSON message (or a name assigned by the query)
	slotTimestamp
	slotMessage
	slotLogStream
	slotLog
	slotIngestionTime
	slotPtr
)

func kindOf(name string) slotKind {
	switch name {
	case "@timestamp":
		return slotTimestamp
	case "@message":
		return slotMessage
	case "@logStream":
		return slotLogStream
	case "@log":
		return slotLog
	case "@ingestionTime":
		return slotIngestionTime
	case "@ptr":
		return slotPtr
	}
	return slotJSON
}

// evalFn evaluates an expression over one row.
type evalFn func(r *row) value.Value

// Query is a compiled query: immutable after Compile, so Runs may share it.
type Query struct {
	text   string
	ast    *syntax.Query
	names  []string // slot → field name
	kinds  []slotKind
	slotOf map[string]int
	json   jsonPlan
	stages []stage
	// hasLimit is set when the query has a limit command; Options.Limit
	// applies only when it has none.
	hasLimit bool
	columns  []string
	// eventMode is set when the final rows come from events (no stats or
	// pattern): they carry @ptr.
	eventMode bool
	prune     pruning
	// readsMessage and readsPtr are set when the streaming head reads
	// @message or @ptr (then every block's messages, or pointers, are
	// needed).
	readsMessage, readsPtr bool
	// blockConds are conjuncts of the head's filters that read only JSON
	// fields of the event: on a block where all of them are constant they
	// are decided once for the whole block.
	blockConds []blockCond
}

// blockCond is a filter conjunct over JSON fields only.
type blockCond struct {
	names []string
	fn    evalFn
}

// Compile parses and compiles query. Every error is a *syntax.Error
// pointing into query.
func Compile(query string) (*Query, error) {
	ast, err := syntax.Parse(query)
	if err != nil {
		return nil, err
	}
	q := &Query{text: query, ast: ast, slotOf: map[string]int{}}
	q.prune = derivePruning(ast.Commands)
	c := &compiler{text: query, q: q, eventMode: true}
	if err := c.commands(ast.Commands); err != nil {
		return nil, err
	}
	q.json.build(q)
	return q, nil
}

// SourcePrefixes are the log group name prefixes of SOURCE
// logGroups(namePrefix: […]), for the caller to expand; nil without SOURCE.
func (q *Query) SourcePrefixes() []string {
	if q.ast.Source == nil {
		return nil
	}
	return append([]string(nil), q.ast.Source.NamePrefixes...)
}

// Columns are the result's column names (each row omits its nulls and an
// event row adds @ptr).
func (q *Query) Columns() []string { return append([]string(nil), q.columns...) }

// String is the query as given.
func (q *Query) String() string { return q.text }

type compiler struct {
	text string
	q    *Query
	// eventMode: rows are still events (no stats or pattern yet).
	eventMode bool
	sorted    bool // an explicit sort since the last mode change
	cols      []string
	display   []string
	// statsCols are the output names of the latest stats, so that a later
	// `sort count(*) desc` reads the column rather than being an aggregate
	// outside stats.
	statsCols map[string]bool
	// aggs collects the aggregates of the stats projection being compiled;
	// nil outside one. inAgg is set inside an aggregate's arguments.
	aggs  *[]aggSpec
	inAgg bool
	// afterDedup: AWS allows only limit after dedup.
	afterDedup bool
	// assigned are the names fields, display or parse computed so far.
	assigned map[string]bool
	// aggInputEvent says whether the rows a stats aggregates are events,
	// for compiling the aggregates' arguments.
	aggInputEvent bool
}

func (c *compiler) errAt(pos syntax.Pos, format string, args ...any) error {
	return syntax.NewError(c.text, pos, fmt.Sprintf(format, args...))
}

func (c *compiler) slot(name string) int {
	if s, ok := c.q.slotOf[name]; ok {
		return s
	}
	s := len(c.q.names)
	c.q.names = append(c.q.names, name)
	c.q.kinds = append(c.q.kinds, kindOf(name))
	c.q.slotOf[name] = s
	return s
}

func (c *compiler) addCol(name string) {
	c.slot(name)
	for _, n := range c.cols {
		if n == name {
			return
		}
	}
	c.cols = append(c.cols, name)
}

// projName is the column name of a projection: its alias, else the field
// name, else the expression's canonical text (count(*), bin(5m)).
func projName(p syntax.Projection) string {
	if p.Alias != "" {
		return p.Alias
	}
	if f, ok := p.Expr.(*syntax.FieldRef); ok {
		return f.Name
	}
	return syntax.ExprString(p.Expr)
}

func (c *compiler) commands(cmds []syntax.Command) error {
	for _, cmd := range cmds {
		if err := c.command(cmd); err != nil {
			return err
		}
	}
	if c.eventMode && !c.sorted {
		c.q.stages = append(c.q.stages, c.implicitSort())
	}
	switch {
	case c.display != nil:
		c.q.columns = c.display
	case len(c.cols) > 0:
		c.q.columns = c.cols
	default:
		c.q.columns = []string{"@timestamp", "@message"}
	}
	for _, n := range c.q.columns {
		c.slot(n)
	}
	c.slot("@ptr")
	c.q.eventMode = c.eventMode
	return nil
}

// implicitSort is the order rows have when the query gives none: newest
// first, as the console and GetQueryResults show them.
func (c *compiler) implicitSort() *sortStage {
	ts := c.slot("@timestamp")
	return &sortStage{keys: []sortKey{{fn: func(r *row) value.Value { return r.get(ts) }, desc: true}}, newestFirst: !c.assigned["@timestamp"]}
}

func (c *compiler) projections(items []syntax.Projection, display bool) (*assignStage, []string, error) {
	st := &assignStage{}
	var names []string
	for _, it := range items {
		name := projName(it)
		names = append(names, name)
		if f, ok := it.Expr.(*syntax.FieldRef); ok && f.Name == name {
			c.markRead(name)
			continue // a plain field: nothing to compute
		}
		fn, err := c.expr(it.Expr)
		if err != nil {
			return nil, nil, err
		}
		st.slots = append(st.slots, c.slot(name))
		st.fns = append(st.fns, fn)
		c.assign(name)
	}
	return st, names, nil
}

func (c *compiler) command(cmd syntax.Command) error {
	q := c.q
	if _, isLimit := cmd.(*syntax.Limit); c.afterDedup && !isLimit {
		return c.errAt(cmd.Pos(), "only limit may follow dedup")
	}
	switch cmd := cmd.(type) {
	case *syntax.Fields:
		st, names, err := c.projections(cmd.Items, false)
		if err != nil {
			return err
		}
		if len(st.slots) > 0 {
			q.stages = append(q.stages, st)
		}
		for _, n := range names {
			c.addCol(n)
		}
	case *syntax.Display:
		st, names, err := c.projections(cmd.Items, true)
		if err != nil {
			return err
		}
		if len(st.slots) > 0 {
			q.stages = append(q.stages, st)
		}
		c.display = names
	case *syntax.Filter:
		fn, err := c.expr(cmd.Cond)
		if err != nil {
			return err
		}
		if err := c.blockConds(cmd.Cond); err != nil {
			return err
		}
		q.stages = append(q.stages, &filterStage{cond: fn, pre: q.prune.pre[cmd], streamOnly: q.prune.streamOnly[cmd]})
	case *syntax.ParseCmd:
		return c.parseCmd(cmd)
	case *syntax.Unmask:
		// kinsight masks nothing, so unmask has nothing to undo; the field
		// is still compiled so that a bad reference is reported.
		if cmd.Field != nil {
			if _, err := c.expr(cmd.Field); err != nil {
				return err
			}
		}
	case *syntax.Stats:
		return c.stats(cmd)
	case *syntax.Sort:
		st := &sortStage{}
		for _, k := range cmd.Keys {
			fn, err := c.expr(k.Expr)
			if err != nil {
				return err
			}
			st.keys = append(st.keys, sortKey{fn: fn, desc: k.Desc})
		}
		if len(cmd.Keys) == 1 && cmd.Keys[0].Desc {
			if f, ok := cmd.Keys[0].Expr.(*syntax.FieldRef); ok && f.Name == "@timestamp" && c.eventMode && !c.assigned["@timestamp"] {
				st.newestFirst = true
			}
		}
		q.stages = append(q.stages, st)
		c.sorted = true
	case *syntax.Limit:
		if c.eventMode && !c.sorted {
			q.stages = append(q.stages, c.implicitSort())
			c.sorted = true
		}
		q.stages = append(q.stages, &limitStage{n: cmd.N})
		q.hasLimit = true
	case *syntax.Dedup:
		if c.eventMode && !c.sorted {
			q.stages = append(q.stages, c.implicitSort())
			c.sorted = true
		}
		st := &dedupStage{}
		for _, f := range cmd.Fields {
			c.markRead(f)
			st.slots = append(st.slots, c.slot(f))
		}
		q.stages = append(q.stages, st)
		c.afterDedup = true
	case *syntax.Pattern:
		fn, err := c.expr(cmd.Field)
		if err != nil {
			return err
		}
		st := &patternStage{src: fn, pattern: c.slot("@pattern"), count: c.slot("@sampleCount"), ratio: c.slot("@ratio")}
		q.stages = append(q.stages, st)
		c.enterAggMode([]string{"@pattern", "@sampleCount", "@ratio"})
	default:
		return c.errAt(cmd.Pos(), "unsupported command")
	}
	return nil
}

// enterAggMode starts rows that no longer come from events.
func (c *compiler) enterAggMode(cols []string) {
	c.eventMode = false
	c.sorted = false
	c.cols = nil
	c.display = nil
	c.statsCols = map[string]bool{}
	for _, n := range cols {
		c.addCol(n)
		c.statsCols[n] = true
	}
}

func (c *compiler) assign(name string) {
	if c.assigned == nil {
		c.assigned = map[string]bool{}
	}
	c.assigned[name] = true
}

func (c *compiler) markRead(name string) {
	s := c.slot(name)
	if c.eventMode {
		switch name {
		case "@message":
			c.q.readsMessage = true
		case "@ptr":
			c.q.readsPtr = true
		}
	}
	if c.eventMode && c.q.kinds[s] == slotJSON {
		c.q.json.read(name)
	}
}

func (c *compiler) parseCmd(cmd *syntax.ParseCmd) error {
	src, err := c.expr(cmd.Field)
	if err != nil {
		return err
	}
	st := &parseStage{src: src}
	var expr string
	if cmd.Glob != "" {
		expr = globRegex(cmd.Glob)
	} else {
		expr = cmd.Regex
	}
	re, err := regexp.Compile(expr)
	if err != nil {
		return c.errAt(cmd.At, "bad parse pattern: %v", err)
	}
	st.re = re
	for _, n := range cmd.As {
		c.assign(n)
	}
	if cmd.Glob != "" {
		for i, n := range cmd.As {
			st.slots = append(st.slots, c.slot(n))
			st.groups = append(st.groups, i+1)
		}
	} else {
		for i, n := range re.SubexpNames() {
			if n != "" {
				st.slots = append(st.slots, c.slot(n))
				st.groups = append(st.groups, i)
			}
		}
	}
	c.q.stages = append(c.q.stages, st)
	return nil
}

// globRegex turns a parse glob into a regex: the text between stars is
// literal, each star captures as little as it can, except a trailing one,
// which takes the rest. The match need not start at the beginning (AWS:
// "[*] *" finds the first bracket).
func globRegex(glob string) string {
	parts := strings.Split(glob, "*")
	var b strings.Builder
	b.WriteString("(?s)")
	for i, p := range parts {
		if i > 0 {
			if i == len(parts)-1 && p == "" {
				b.WriteString("(.*)")
			} else {
				b.WriteString("(.*?)")
			}
		}
		b.WriteString(regexp.QuoteMeta(p))
	}
	return b.String()
}

func (c *compiler) stats(s *syntax.Stats) error {
	st := &statsStage{}
	for _, by := range s.By {
		fn, err := c.expr(by.Expr)
		if err != nil {
			return err
		}
		st.by = append(st.by, fn)
		st.byNames = append(st.byNames, projName(by))
	}
	var aggs []aggSpec
	c.aggs = &aggs
	var outNames []string
	wasEvent := c.eventMode
	c.aggInputEvent = wasEvent
	for _, p := range s.Aggs {
		// Outside aggregates, names refer to the columns computed so far
		// in this stats (overProvisionedMB = a - b), not to events.
		c.eventMode = false
		before := len(aggs)
		fn, err := c.expr(p.Expr)
		c.eventMode = wasEvent
		if err != nil {
			c.aggs = nil
			return err
		}
		if len(aggs) == before && !onlyNames(p.Expr, outNames) {
			c.aggs = nil
			return c.errAt(p.Expr.Pos(), "stats needs an aggregate function such as count(*) here, or names computed before it in the same stats")
		}
		st.outFns = append(st.outFns, fn)
		name := projName(p)
		outNames = append(outNames, name)
		st.outSlots = append(st.outSlots, c.slot(name))
	}
	c.aggs = nil
	st.aggs = aggs
	for _, n := range st.byNames {
		st.bySlots = append(st.bySlots, c.slot(n))
	}
	c.q.stages = append(c.q.stages, st)
	c.enterAggMode(append(append([]string(nil), st.byNames...), outNames...))
	return nil
}

// aggSpec is one aggregate call of a stats command.
type aggSpec struct {
	name   string
	arg    evalFn // nil for count(*) / count()
	consts []value.Value
	nargs  int
	timed  bool // earliest, latest, sortsFirst, sortsLast: need @timestamp
	grows  bool // count_distinct, pct: size changes as values are added
}

func (a *aggSpec) new() value.Agg {
	g, err := value.NewAgg(a.name, a.consts, a.nargs)
	if err != nil {
		panic(fmt.Sprintf("insights: aggregate checked at compile time failed: %v", err)) // a bug, not input
	}
	return g
}

// onlyNames reports whether every field e reads is one of names.
func onlyNames(e syntax.Expr, names []string) bool {
	switch e := e.(type) {
	case *syntax.FieldRef:
		for _, n := range names {
			if n == e.Name {
				return true
			}
		}
		return false
	case *syntax.Unary:
		return onlyNames(e.X, names)
	case *syntax.Binary:
		return onlyNames(e.L, names) && onlyNames(e.R, names)
	case *syntax.Call:
		for _, a := range e.Args {
			if !onlyNames(a, names) {
				return false
			}
		}
	case *syntax.ListLit:
		for _, a := range e.Items {
			if !onlyNames(a, names) {
				return false
			}
		}
	}
	return true
}

// blockConds records the conjuncts of a filter at the head of the query
// (nothing but streaming stages before it) that read only event JSON
// fields the query has not assigned: their value is the same for every
// event that has the same values of those fields, so a block whose
// constants include them all decides them once.
func (c *compiler) blockConds(cond syntax.Expr) error {
	if !c.eventMode {
		return nil
	}
	for _, st := range c.q.stages {
		if !streaming(st) {
			return nil
		}
	}
	for _, conj := range conjuncts(cond) {
		var names []string
		if !jsonOnly(conj, &names) || len(names) == 0 {
			continue
		}
		ok := true
		for _, n := range names {
			ok = ok && !c.assigned[n]
		}
		if !ok {
			continue
		}
		fn, err := c.expr(conj)
		if err != nil {
			return err
		}
		c.q.blockConds = append(c.q.blockConds, blockCond{names: names, fn: fn})
	}
	return nil
}

// jsonOnly reports whether e reads nothing but JSON fields of the event
// (no @ field, no bin(), which reads @timestamp), collecting their names.
func jsonOnly(e syntax.Expr, names *[]string) bool {
	switch e := e.(type) {
	case *syntax.FieldRef:
		if strings.HasPrefix(e.Name, "@") {
			return false
		}
		*names = append(*names, e.Name)
		return true
	case *syntax.Unary:
		return jsonOnly(e.X, names)
	case *syntax.Binary:
		return jsonOnly(e.L, names) && jsonOnly(e.R, names)
	case *syntax.Call:
		if strings.EqualFold(e.Name, "bin") || e.Star {
			return false
		}
		for _, a := range e.Args {
			if !jsonOnly(a, names) {
				return false
			}
		}
	case *syntax.ListLit:
		for _, a := range e.Items {
			if !jsonOnly(a, names) {
				return false
			}
		}
	}
	return true
}
