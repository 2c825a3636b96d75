package syntax

import (
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"
)

// sx prints an expression fully parenthesised, for precedence tests.
func sx(e Expr) string {
	switch e := e.(type) {
	case *Binary:
		return "(" + sx(e.L) + " " + e.Op + " " + sx(e.R) + ")"
	case *Unary:
		return "(" + e.Op + " " + sx(e.X) + ")"
	case *Call:
		args := make([]string, len(e.Args))
		for i, a := range e.Args {
			args[i] = sx(a)
		}
		if e.Star {
			args = []string{"*"}
		}
		return e.Name + "(" + strings.Join(args, ", ") + ")"
	case *ListLit:
		items := make([]string, len(e.Items))
		for i, a := range e.Items {
			items[i] = sx(a)
		}
		return "[" + strings.Join(items, ", ") + "]"
	}
	return exprString(e)
}

func mustParse(t testing.TB, q string) *Query {
	t.Helper()
	got, err := Parse(q)
	if err != nil {
		t.Fatalf("Parse(%q): %v", q, err)
	}
	return got
}

func filterCond(t *testing.T, q string) Expr {
	t.Helper()
	pq := mustParse(t, "filter "+q)
	return pq.Commands[0].(*Filter).Cond
}

func TestPrecedence(t *testing.T) {
	tests := []struct{ in, want string }{
		{"a or b and c", "(a or (b and c))"},
		{"a and b or c", "((a and b) or c)"},
		{"not a and b", "((not a) and b)"},
		{"not a = 1", "(not (a = 1))"},
		{"not not a", "(not (not a))"},
		{"a = 1 or b != 2 and c < 3", "((a = 1) or ((b != 2) and (c < 3)))"},
		{"a + b * c = d", "((a + (b * c)) = d)"},
		{"a - b - c > 0", "(((a - b) - c) > 0)"},
		{"a / b / c <= 1", "(((a / b) / c) <= 1)"},
		{"a % b * c >= 1", "(((a % b) * c) >= 1)"},
		{"2 ^ 3 ^ 2 = x", "((2 ^ (3 ^ 2)) = x)"},
		{"-2 ^ 2 = x", "((- (2 ^ 2)) = x)"},
		{"2 ^ -1 = x", "((2 ^ (- 1)) = x)"},
		{"a * -b = x", "((a * (- b)) = x)"},
		{"(a + b) * c = x", "(((a + b) * c) = x)"},
		{"a in [1, 2] and b not in ['x']", "((a in [1, 2]) and (b not in [\"x\"]))"},
		{"a like 'x' or b not like /y/", "((a like \"x\") or (b not like /y/))"},
		{"a =~ /z/ and not b", "((a =~ /z/) and (not b))"},
		{"NOT a AND b OR c", "(((not a) and b) or c)"},
		{"a In [1]", "(a in [1])"},
		{"x Not Like 'q'", "(x not like \"q\")"},
		{"f(a + 1, b) > g(*)", "(f((a + 1), b) > g(*))"},
		{"count() = 0", "(count() = 0)"},
		{"x = 1 + 2 * 3 - 4 / 2 % 3", "(x = ((1 + (2 * 3)) - ((4 / 2) % 3)))"},
	}
	for _, tt := range tests {
		if got := sx(filterCond(t, tt.in)); got != tt.want {
			t.Errorf("%s:\n got %s\nwant %s", tt.in, got, tt.want)
		}
	}
}

func TestOperators(t *testing.T) {
	for _, op := range []string{"=", "!=", "<", "<=", ">", ">=", "+", "-", "*", "/", "%", "^", "and", "or", "like", "not like", "=~", "in", "not in"} {
		rhs := "b"
		switch op {
		case "like", "not like", "=~":
			rhs = "'b'"
		case "in", "not in":
			rhs = "[b]"
		}
		e := filterCond(t, "a "+op+" "+rhs)
		b, ok := e.(*Binary)
		if !ok || b.Op != op {
			t.Errorf("a %s %s: got %#v", op, rhs, e)
			continue
		}
		if want := Pos(len("filter a ")); b.At != want {
			t.Errorf("a %s: Binary.At = %d, want %d (the operator)", op, b.At, want)
		}
	}
}

func TestLiterals(t *testing.T) {
	tests := []struct {
		in   string
		want Expr
	}{
		{`"a\"b\\c\n"`, &StringLit{Value: "a\"b\\c\n"}},
		{`'it''`, nil},
		{`'say "hi"'`, &StringLit{Value: `say "hi"`}},
		{`"\d+"`, &StringLit{Value: `\d+`}},
		{`42`, &NumberLit{Value: 42, IsInt: true}},
		{`4.5`, &NumberLit{Value: 4.5}},
		{`.5`, &NumberLit{Value: 0.5}},
		{`2e3`, &NumberLit{Value: 2000}},
		{`100ms`, &DurationLit{D: 100 * time.Millisecond, Unit: "ms"}},
		{`30s`, &DurationLit{D: 30 * time.Second, Unit: "s"}},
		{`5m`, &DurationLit{D: 5 * time.Minute, Unit: "m"}},
		{`1h`, &DurationLit{D: time.Hour, Unit: "h"}},
		{`1d`, &DurationLit{D: 24 * time.Hour, Unit: "d"}},
		{`2w`, &DurationLit{D: 14 * 24 * time.Hour, Unit: "w"}},
		{`1mo`, &DurationLit{D: 30 * 24 * time.Hour, Unit: "mo"}},
		{`1q`, &DurationLit{D: 90 * 24 * time.Hour, Unit: "q"}},
		{`1y`, &DurationLit{D: 365 * 24 * time.Hour, Unit: "y"}},
		{`true`, &BoolLit{Value: true}},
		{`FALSE`, &BoolLit{Value: false}},
		{`null`, &NullLit{}},
		{"`true`", &FieldRef{Name: "true"}},
		{"`kubernetes.pod_name`", &FieldRef{Name: "kubernetes.pod_name"}},
		{"kubernetes.pod_name", &FieldRef{Name: "kubernetes.pod_name"}},
		{"a.b.0.c", &FieldRef{Name: "a.b.0.c"}},
		{"@timestamp", &FieldRef{Name: "@timestamp"}},
		{"`foo-bar baz`", &FieldRef{Name: "foo-bar baz"}},
	}
	for _, tt := range tests {
		q, err := Parse("fields " + tt.in)
		if tt.want == nil {
			if err == nil {
				t.Errorf("%s: want error", tt.in)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tt.in, err)
			continue
		}
		got := q.Commands[0].(*Fields).Items[0].Expr
		zeroPos(reflect.ValueOf(got))
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: got %#v, want %#v", tt.in, got, tt.want)
		}
	}
}

func TestRegexLiteral(t *testing.T) {
	tests := []struct {
		q       string
		pattern string
		ci      bool
	}{
		{`a like /Exception/`, "Exception", false},
		{`a like /(?i)Exception/`, "(?i)Exception", true},
		{`a =~ /^(?i)Exception$/`, "^(?i)Exception$", false},
		{`a like /a\/b/`, "a/b", false},
		{`a like /2\d\d/`, `2\d\d`, false},
		{`a like /x#y/`, "x#y", false},
	}
	for _, tt := range tests {
		r, ok := filterCond(t, tt.q).(*Binary).R.(*RegexLit)
		if !ok || r.Pattern != tt.pattern || r.CaseInsensitive != tt.ci {
			t.Errorf("%s: got %#v", tt.q, r)
		}
	}
}

func TestCommands(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"fields @timestamp, @message", "fields @timestamp, @message"},
		{"fields abs(x) as AbsX, `foo-bar`", "fields abs(x) as AbsX, `foo-bar`"},
		{"display a, b", "display a, b"},
		{"filter a=1", "filter a = 1"},
		{"stats count(*)", "stats count(*)"},
		{"stats count(*) as n, avg(d) by bin(5m) as t, host", "stats count(*) as n, avg(d) by bin(5m) as t, host"},
		{"sort f1 desc, f2", "sort f1 desc, f2"},
		{"sort f1 ASC", "sort f1"},
		{"limit 10", "limit 10"},
		{`parse @message "a * b *" as x, y`, `parse @message "a * b *" as x, y`},
		{`parse "[*]" as level`, `parse @message "[*]" as level`},
		{`parse msg /(?<a>\d+)/`, `parse msg /(?<a>\d+)/`},
		{"dedup a, `b c`", "dedup a, `b c`"},
		{"pattern @message", "pattern @message"},
		{"pattern", "pattern @message"},
		{"unmask(@message)", "unmask @message"},
		{"unmask", "unmask @message"},
		{"fields a # a comment | filter x\n| limit 5", "fields a\n| limit 5"},
		{"# leading comment\nfields a", "fields a"},
		{`SOURCE logGroups(namePrefix: ['a', "b"]) | fields x`, "SOURCE logGroups(namePrefix: [\"a\", \"b\"])\n| fields x"},
		{`source logGroups(namePrefix: ["a"], accountIdentifier: ["1"], class: ["STANDARD"])`, `SOURCE logGroups(namePrefix: ["a"], accountIdentifier: ["1"], logGroupClass: ["STANDARD"])`},
		{`SOURCE logGroups() fields x`, "SOURCE logGroups()\n| fields x"},
		{"filter x = 'a' | stats count() by y | sort y | limit 3", "filter x = \"a\"\n| stats count() by y\n| sort y\n| limit 3"},
	}
	for _, tt := range tests {
		q, err := Parse(tt.in)
		if err != nil {
			t.Errorf("%q: %v", tt.in, err)
			continue
		}
		if got := q.String(); got != tt.want {
			t.Errorf("%q:\n got %q\nwant %q", tt.in, got, tt.want)
		}
		roundTrip(t, tt.in, q)
	}
}

func TestCommandTrees(t *testing.T) {
	q := mustParse(t, `SOURCE logGroups(namePrefix: ["/aws/x"])
| fields a as b
| display msg, level = "ERROR" as isError, x + 1
| parse @message "* [*]" as t, lvl
| parse f /(?<one>a)(?<two>b)/
| stats count(*) as n by bin(1h) as t
| sort n desc, t
| dedup t
| limit 5`)
	zeroPos(reflect.ValueOf(q))
	want := &Query{
		Source: &Source{NamePrefixes: []string{"/aws/x"}},
		Commands: []Command{
			&Fields{Items: []Projection{{Expr: &FieldRef{Name: "a"}, Alias: "b"}}},
			&Display{
				Fields: []string{"msg", "isError", "x + 1"},
				Items: []Projection{
					{Expr: &FieldRef{Name: "msg"}},
					{Expr: &Binary{Op: "=", L: &FieldRef{Name: "level"}, R: &StringLit{Value: "ERROR"}}, Alias: "isError"},
					{Expr: &Binary{Op: "+", L: &FieldRef{Name: "x"}, R: &NumberLit{Value: 1, IsInt: true}}},
				},
			},
			&ParseCmd{Field: &FieldRef{Name: "@message"}, Glob: "* [*]", As: []string{"t", "lvl"}},
			&ParseCmd{Field: &FieldRef{Name: "f"}, Regex: "(?<one>a)(?<two>b)", As: []string{"one", "two"}},
			&Stats{
				Aggs: []Projection{{Expr: &Call{Name: "count", Star: true}, Alias: "n"}},
				By:   []Projection{{Expr: &Call{Name: "bin", Args: []Expr{&DurationLit{D: time.Hour, Unit: "h"}}}, Alias: "t"}},
			},
			&Sort{Keys: []SortKey{{Expr: &FieldRef{Name: "n"}, Desc: true}, {Expr: &FieldRef{Name: "t"}}}},
			&Dedup{Fields: []string{"t"}},
			&Limit{N: 5},
		},
	}
	if !reflect.DeepEqual(q, want) {
		t.Errorf("got  %s\nwant %s", q, want)
		for i := range want.Commands {
			if i < len(q.Commands) && !reflect.DeepEqual(q.Commands[i], want.Commands[i]) {
				t.Errorf("command %d: got %#v want %#v", i, q.Commands[i], want.Commands[i])
			}
		}
	}
}

func TestPositions(t *testing.T) {
	src := "fields a\n| filter b = 'x'"
	q := mustParse(t, src)
	f := q.Commands[1].(*Filter)
	if f.At != Pos(strings.Index(src, "filter")) {
		t.Errorf("filter at %d", f.At)
	}
	b := f.Cond.(*Binary)
	if b.L.Pos() != Pos(strings.Index(src, "b =")) || b.At != Pos(strings.Index(src, "= ")) || b.R.Pos() != Pos(strings.Index(src, "'x'")) {
		t.Errorf("positions %d %d %d", b.L.Pos(), b.At, b.R.Pos())
	}
}

func TestErrors(t *testing.T) {
	tests := []struct {
		q   string
		at  string // the error points at the first occurrence of at; "" is the end
		msg string
	}{
		{"", "", "empty query"},
		{"  # only a comment", "", "empty query"},
		{"fitler x = 1", "fitler", "unknown command 'fitler'; did you mean 'filter'?"},
		{"fields a | sotr a", "sotr", "did you mean 'sort'"},
		{"fields a | frobnicate", "frobnicate", "unknown command 'frobnicate'"},
		{"fields a | diff", "diff", "not supported"},
		{"fields a |", "", "expected a command after '|'"},
		{"fields a b", "b", "expected '|' or end of query"},
		{"fields", "", "expected an expression after 'fields'"},
		{"fields a,", "", "expected an expression after ','"},
		{"stats count(*) by", "", "expected a field or expression after 'by'"},
		{"stats by x", "by", "expected an expression after 'stats'"},
		{"filter", "", "expected a condition after 'filter'"},
		{"filter a = ", "", "unexpected end of query; expected an expression"},
		{`filter a = "abc`, `"abc`, "unterminated string"},
		{`filter a = 'abc`, `'abc`, "unterminated string"},
		{"filter a like /abc", "/abc", "unterminated regular expression"},
		{"filter a like /(abc/", "/(abc", "invalid regular expression"},
		{"filter a like 3", "3", "expected a \"string\" or /regex/ after 'like'"},
		{"filter a not like b", "b", "after 'not like'"},
		{"filter a in 3", "3", "expected '[' after 'in'"},
		{"filter a in []", "]", "is empty"},
		{"filter a in [1, 2", "", "expected ',' or ']'"},
		{"filter a = 1 = 2", "= 2", "cannot be chained"},
		{"filter (a = 1", "", "expected ')' to close"},
		{"filter f(a, b", "", "expected ',' or ')'"},
		{"filter a ! b", "!", "unexpected '!'"},
		{"filter a == b", "= b", "expected an expression, found '='"},
		{"fields `abc", "`abc", "unterminated back-quoted"},
		{"fields ``", "``", "empty back-quoted"},
		{"fields foo-bar & 1", "&", "unexpected character '&'"},
		{"stats count(*) by bin(5x)", "x)", "unknown time unit \"x\""},
		{"stats count(*) by bin(1.5h)", "1.5h", "whole number"},
		{"fields 2xx", "xx", "unknown time unit"},
		{"limit", "", "expected a whole number from 1 to 10000 after 'limit'"},
		{"limit 0", "0", "from 1 to 10000"},
		{"limit 10001", "10001", "from 1 to 10000"},
		{"limit 2.5", "2.5", "whole number"},
		{"sort", "", "expected a field or expression after 'sort'"},
		{"sort a desc,", "", "after ','"},
		{"dedup", "", "expected a field name after 'dedup'"},
		{"dedup a, 3", "3", "expected a field name after 'dedup'"},
		{`parse @message "abc" as x`, `"abc"`, "has no '*'"},
		{`parse @message "a*b*" as x`, "as", "has 2 '*' but 1 names"},
		{`parse @message "a*"`, "", "expected 'as'"},
		{`parse @message "a*" as`, "", "expected a name for the extracted field"},
		{`parse @message /abc/`, "/abc/", "no named groups"},
		{`parse @message /(?<a>x)/ as a`, "as a", "'as' does not follow"},
		{`parse @message 3`, "3", "expected a \"glob * pattern\" or a /regex/"},
		{"fields a as", "", "expected a name after 'as'"},
		{"fields a as by", "by", "expected a name after 'as'"},
		{"fields by", "by", "found keyword 'by'"},
		{"fields x / /re/", "/re/", "can only follow"},
		{"fields a | SOURCE logGroups()", "SOURCE", "SOURCE must come first"},
		{"SOURCE x", "x", "expected 'logGroups(...)'"},
		{"SOURCE logGroups(namePrefix: 'a')", "'a'", "expected '['"},
		{"SOURCE logGroups(namePrefix: [a])", "a]", "expected a quoted string"},
		{"SOURCE logGroups(foo: ['a'])", "foo", "unknown SOURCE option 'foo'"},
		{"SOURCE logGroups(namePrefix: ['a'], namePrefix: ['b'])", "namePrefix: ['b", "given twice"},
		{"unmask(@message", "", "expected ')' after the field"},
		{"fields a\n| filter b @@ c", "@@ c", "expected '|' or end of query"},
	}
	for _, tt := range tests {
		_, err := Parse(tt.q)
		var pe *Error
		if !errors.As(err, &pe) {
			t.Errorf("%q: got %v, want *Error", tt.q, err)
			continue
		}
		want := len(tt.q)
		if tt.at != "" {
			want = strings.Index(tt.q, tt.at)
			if want < 0 {
				t.Fatalf("bad test: %q not in %q", tt.at, tt.q)
			}
		}
		if int(pe.Pos) != want || !strings.Contains(pe.Msg, tt.msg) {
			t.Errorf("%q:\n got %d %q\nwant %d %q", tt.q, pe.Pos, pe.Msg, want, tt.msg)
		}
	}
}

func TestErrorLineCol(t *testing.T) {
	_, err := Parse("fields a\n| filter `é` = 'x\n")
	var pe *Error
	if !errors.As(err, &pe) {
		t.Fatal(err)
	}
	if pe.Line != 2 || pe.Col != 16 || pe.Error() != "line 2:16: unterminated string" {
		t.Errorf("got %d:%d %q", pe.Line, pe.Col, pe.Error())
	}
}

func TestLimits(t *testing.T) {
	okDepth := "filter " + strings.Repeat("(", MaxDepth-2) + "a" + strings.Repeat(")", MaxDepth-2)
	if _, err := Parse(okDepth); err != nil {
		t.Errorf("depth %d: %v", MaxDepth-2, err)
	}
	for _, q := range []string{
		"filter " + strings.Repeat("(", 3000) + "a" + strings.Repeat(")", 3000),
		"filter " + strings.Repeat("not ", 2000) + "a",
		"fields " + strings.Repeat("-", 5000) + "a",
		"fields " + strings.Repeat("f(", 3000),
		"fields " + strings.Repeat("2 ^ ", 2000) + "2",
	} {
		_, err := Parse(q)
		var pe *Error
		if !errors.As(err, &pe) || !strings.Contains(pe.Msg, "nested more than 100") {
			t.Errorf("%.30q...: got %v", q, err)
		}
	}
	long := "fields " + strings.Repeat("a", MaxQueryChars-len("fields "))
	if _, err := Parse(long); err != nil {
		t.Errorf("query of exactly %d characters: %v", MaxQueryChars, err)
	}
	_, err := Parse(long + "é")
	var pe *Error
	if !errors.As(err, &pe) || pe.Pos != MaxQueryChars || !strings.Contains(pe.Msg, "longer than 10000") {
		t.Errorf("too long: got %v", err)
	}
}

func TestFormat(t *testing.T) {
	got, err := Format("FIELDS @message|FILTER x IN ['a']   # c\n|LIMIT 2")
	if err != nil || got != "fields @message\n| filter x in [\"a\"]\n| limit 2" {
		t.Errorf("got %q, %v", got, err)
	}
	if _, err := Format("fitler"); err == nil {
		t.Error("Format of a bad query: no error")
	}
}

// readSamples returns the blank-line-separated queries of
// testdata/samples.txt, skipping blocks that are only comments.
func readSamples(t testing.TB) []string {
	data, err := os.ReadFile("testdata/samples.txt")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, block := range strings.Split(string(data), "\n\n") {
		code := false
		for _, line := range strings.Split(block, "\n") {
			if l := strings.TrimSpace(line); l != "" && !strings.HasPrefix(l, "#") {
				code = true
			}
		}
		if code {
			out = append(out, strings.Trim(block, "\n"))
		}
	}
	return out
}

func TestSamples(t *testing.T) {
	samples := readSamples(t)
	if len(samples) < 40 {
		t.Fatalf("only %d samples", len(samples))
	}
	for _, s := range samples {
		q, err := Parse(s)
		if err != nil {
			t.Errorf("%s\n: %v", s, err)
			continue
		}
		roundTrip(t, s, q)
	}
}

// zeroPos sets every Pos in a tree to 0 so that trees parsed from different
// texts compare equal.
func zeroPos(v reflect.Value) {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			zeroPos(v.Elem())
		}
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			zeroPos(v.Field(i))
		}
	case reflect.Slice:
		for i := 0; i < v.Len(); i++ {
			zeroPos(v.Index(i))
		}
	case reflect.Int:
		if v.Type() == reflect.TypeFor[Pos]() && v.CanSet() {
			v.SetInt(0)
		}
	}
}

// roundTrip checks that q prints to text that parses to an equal tree and
// prints the same again.
func roundTrip(t testing.TB, src string, q *Query) {
	t.Helper()
	s1 := q.String()
	q2, err := Parse(s1)
	if err != nil {
		t.Fatalf("%q printed as %q which does not parse: %v", src, s1, err)
	}
	if s2 := q2.String(); s2 != s1 {
		t.Fatalf("%q: printing is not stable:\n%q\n%q", src, s1, s2)
	}
	zeroPos(reflect.ValueOf(q))
	zeroPos(reflect.ValueOf(q2))
	if !reflect.DeepEqual(q, q2) {
		t.Fatalf("%q: tree changed after printing as %q", src, s1)
	}
}
