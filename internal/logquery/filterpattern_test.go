package logquery

import (
	"encoding/json"
	"errors"
	"math/big"
	"reflect"
	"strings"
	"testing"
)

func TestParseFilterPatternErrorType(t *testing.T) {
	_, err := ParseFilterPattern(`{ $.a = }`)
	var fe *FilterPatternError
	if !errors.As(err, &fe) {
		t.Fatalf("error %v (%T) is not a *FilterPatternError", err, err)
	}
	if fe.Offset != 8 {
		t.Errorf("Offset = %d, want 8", fe.Offset)
	}
	if !strings.HasPrefix(fe.Error(), "invalid filter pattern at offset 8: ") {
		t.Errorf("Error() = %q", fe.Error())
	}
}

func TestMatchesAll(t *testing.T) {
	for _, tc := range []struct {
		pattern string
		want    bool
	}{
		{"", true},
		{"  \t", true},
		{`""`, true},
		{`" "`, true},
		{`ERROR`, false},
		{`-ERROR`, false},
		{`"" ""`, true},
		{`{ $.a NOT EXISTS }`, false},
		{`%.%`, false},
	} {
		p, err := ParseFilterPattern(tc.pattern)
		if err != nil {
			t.Fatalf("%q: %v", tc.pattern, err)
		}
		if got := p.MatchesAll(); got != tc.want {
			t.Errorf("%q: MatchesAll = %v, want %v", tc.pattern, got, tc.want)
		}
	}
}

func TestParseNumber(t *testing.T) {
	for _, tc := range []struct {
		in string
		ok bool
	}{
		{"0", true}, {"-0", true}, {"+12", true}, {"1.5", true}, {"1e3", true},
		{"10e-3", true}, {"1E+3", true}, {"007", true}, {"1.0e0", true},
		{"", false}, {"+", false}, {"1.", false}, {".5", false}, {"1e", false},
		{"1e+", false}, {"1.2.3", false}, {"0x10", false}, {"1_000", false},
		{"NaN", false}, {"Inf", false}, {"1 ", false}, {"--1", false},
	} {
		if _, ok := fpParseNumber(tc.in); ok != tc.ok {
			t.Errorf("fpParseNumber(%q) ok = %v, want %v", tc.in, ok, tc.ok)
		}
	}
}

func TestCompareNumbers(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want int
	}{
		{"0", "-0", 0}, {"0.000", "0e99", 0}, {"1", "1.0", 0}, {"1e3", "1000", 0},
		{"10e-3", "0.01", 0}, {"123.45", "12345e-2", 0}, {"-5", "5", -1}, {"5", "-5", 1},
		{"0", "1e-400", -1}, {"-1e-400", "0", -1}, {"9007199254740993", "9007199254740992", 1},
		{"1.1", "1.10000000000000000001", -1}, {"-1.1", "-1.10000000000000000001", 1},
		{"100", "99.999", 1}, {"1e1000000000000000000000", "1e999", 1},
		{"1e-1000000000000000000000", "1e-999", -1}, {"0.5", "0.05", 1}, {"+3", "3", 0},
	} {
		a, ok1 := fpParseNumber(tc.a)
		b, ok2 := fpParseNumber(tc.b)
		if !ok1 || !ok2 {
			t.Fatalf("parse %q %q", tc.a, tc.b)
		}
		if got := fpCompareNumbers(&a, &b); got != tc.want {
			t.Errorf("compare(%s, %s) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
		if got := fpCompareNumbers(&b, &a); got != -tc.want {
			t.Errorf("compare(%s, %s) = %d, want %d", tc.b, tc.a, got, -tc.want)
		}
	}
}

// fpRatCompare is an independent oracle for number comparison, for numbers
// with modest exponents.
func fpRatCompare(a, b string) (int, bool) {
	ra, ok1 := new(big.Rat).SetString(a)
	rb, ok2 := new(big.Rat).SetString(b)
	if !ok1 || !ok2 {
		return 0, false
	}
	return ra.Cmp(rb), true
}

func FuzzCompareNumbers(f *testing.F) {
	for _, s := range [][2]string{{"1", "1.0"}, {"-0.5", "5e-1"}, {"123.456e2", "12345.6"}, {"007.10", "7.1"}} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		na, ok1 := fpParseNumber(a)
		nb, ok2 := fpParseNumber(b)
		if !ok1 || !ok2 || len(a) > 40 || len(b) > 40 || strings.ContainsAny(a+b, "eE") && (len(a) > 12 || len(b) > 12) {
			return
		}
		want, ok := fpRatCompare(strings.TrimPrefix(a, "+"), strings.TrimPrefix(b, "+"))
		if !ok {
			return
		}
		if got := fpCompareNumbers(&na, &nb); got != want {
			t.Fatalf("compare(%q, %q) = %d, want %d", a, b, got, want)
		}
	})
}

// TestScanJSONAgainstEncodingJSON checks the scanner's notion of a valid
// JSON object and the values it selects against encoding/json.
func TestScanJSONAgainstEncodingJSON(t *testing.T) {
	for _, msg := range []string{
		`{}`, ` {"a":1} `, `{"a":[1,2,{"b":"c"}],"d":{"e":null}}`, `{"a":"\u00e9\ud83d\ude00\n"}`,
		`{"a":1,"a":{"b":2}}`, `{"a":"\ud800"}`, `{"a":"\udc00\ud800x"}`, `{"\u0061":{"b":[true]}}`,
		`{"a":01}`, `{"a":-}`, `{"a":1e}`, `{"a":"x"`, `{"a" : [ ] , "b" : { } }`, `[]`, `{"a":"\x"}`,
		"{\"a\":\"\x7f\"}", "{\"a\":\"\x01\"}", `{"a":1}{"b":2}`, `{"a":tru}`, `{"a":nul}`,
		`{"a":[1,2,3],"b":[[0,1],[2,3]]}`, `{"a":{"b":{"c":{"d":"deep"}}}}`,
	} {
		fpCompareWithEncodingJSON(t, msg)
	}
}

var fpTestPaths = [][]fpStep{
	{{key: "a", index: -1}},
	{{key: "a", index: -1}, {key: "b", index: -1}},
	{{key: "a", index: -1}, {index: 0}},
	{{key: "a", index: -1}, {index: 2}, {key: "b", index: -1}},
	{{key: "b", index: -1}, {index: 1}, {index: 0}},
	{{key: "d", index: -1}, {key: "e", index: -1}},
}

// fpLookup walks a decoded value the way a selector does.
func fpLookup(v any, path []fpStep) (any, bool) {
	for _, s := range path {
		if s.index < 0 {
			m, ok := v.(map[string]any)
			if !ok {
				return nil, false
			}
			if v, ok = m[s.key]; !ok {
				return nil, false
			}
			continue
		}
		a, ok := v.([]any)
		if !ok || s.index >= len(a) {
			return nil, false
		}
		v = a[s.index]
	}
	return v, true
}

func fpCompareWithEncodingJSON(t *testing.T, msg string) {
	t.Helper()
	root := &fpPathNode{index: -1, leaf: -1}
	nodes := make([]*fpPathNode, len(fpTestPaths))
	for i, path := range fpTestPaths {
		n := root
		for _, s := range path {
			n = n.child(s)
		}
		n.target = true
		nodes[i] = n
	}
	vals := make([]fpJSONVal, root.number(0))
	got := fpScanJSON(msg, root, vals)
	var doc any
	dec := json.NewDecoder(strings.NewReader(msg))
	dec.UseNumber()
	err := dec.Decode(&doc)
	_, isObj := doc.(map[string]any)
	want := err == nil && isObj && !dec.More() && json.Valid([]byte(msg))
	if got != want {
		t.Fatalf("scan(%q) = %v, encoding/json says valid object %v (%v)", msg, got, want, err)
	}
	if !got {
		return
	}
	for i, path := range fpTestPaths {
		v := vals[nodes[i].leaf]
		ev, ok := fpLookup(doc, path)
		if !ok {
			if v.kind != fpJSONMissing {
				t.Fatalf("%q path %v: scanner found %v, encoding/json nothing", msg, path, v)
			}
			continue
		}
		var wantKind fpJSONKind
		switch ev := ev.(type) {
		case nil:
			wantKind = fpJSONNull
		case bool:
			wantKind = fpJSONFalse
			if ev {
				wantKind = fpJSONTrue
			}
		case json.Number:
			wantKind = fpJSONNumber
			if v.raw != string(ev) {
				t.Fatalf("%q path %v: number %q, want %q", msg, path, v.raw, ev)
			}
		case string:
			wantKind = fpJSONString
			if v.text() != ev && !strings.ContainsRune(ev, '\uFFFD') {
				t.Fatalf("%q path %v: string %q, want %q", msg, path, v.text(), ev)
			}
		case []any:
			wantKind = fpJSONArray
		case map[string]any:
			wantKind = fpJSONObject
		}
		if v.kind != wantKind {
			t.Fatalf("%q path %v: kind %d, want %d", msg, path, v.kind, wantKind)
		}
	}
}

func FuzzScanJSON(f *testing.F) {
	for _, s := range []string{`{"a":1}`, `{"a":[1,{"b":"x"}],"d":{"e":null}}`, `{"a":"\u00e9"}`, `{"b":[[1,2],[3]]}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, msg string) {
		fpCompareWithEncodingJSON(t, msg)
	})
}

func TestJSONStringEqual(t *testing.T) {
	for _, tc := range []struct {
		raw, want string
		eq        bool
	}{
		{`abc`, "abc", true},
		{`a\u0062c`, "abc", true},
		{`a\"b`, `a"b`, true},
		{`\ud83d\ude00`, "😀", true},
		{`\ud83d`, "\uFFFD", true},
		{`a\nb`, "a\nb", true},
		{`a\nb`, `a\nb`, false},
		{`ab`, "abc", false},
		{`abc`, "ab", false},
	} {
		if got := fpJSONStringEqual(tc.raw, tc.want); got != tc.eq {
			t.Errorf("fpJSONStringEqual(%q, %q) = %v", tc.raw, tc.want, got)
		}
		if tc.eq && fpDecodeJSONString(tc.raw) != tc.want {
			t.Errorf("fpDecodeJSONString(%q) = %q, want %q", tc.raw, fpDecodeJSONString(tc.raw), tc.want)
		}
	}
}

func TestSplitFields(t *testing.T) {
	for _, tc := range []struct {
		msg  string
		want []string
	}{
		{``, nil},
		{`   `, nil},
		{`a b  c`, []string{"a", "b", "c"}},
		{`127.0.0.1 - frank [10/Oct/2000:13:25:15 -0700] "GET /apache_pb.gif HTTP/1.0" 200 1534`,
			[]string{"127.0.0.1", "-", "frank", "10/Oct/2000:13:25:15 -0700", "GET /apache_pb.gif HTTP/1.0", "200", "1534"}},
		{`"" []`, []string{"", ""}},
		{`"a b"c`, []string{"a b", "c"}},
		{`x"a b"`, []string{`x"a`, `b"`}},
		{`"open ended`, []string{`"open`, "ended"}},
		{"a\tb\r\nc", []string{"a", "b", "c"}},
		{`[a "b] c"`, []string{`a "b`, `c"`}},
	} {
		got := fpSplitFields(tc.msg, nil)
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("fpSplitFields(%q) = %q, want %q", tc.msg, got, tc.want)
		}
	}
}

// TestDelimitedAlignments checks the glob aligner and the exhaustive search
// agree on patterns with several ellipses and local conditions.
func TestDelimitedAlignments(t *testing.T) {
	patterns := []string{
		`[..., a = x, ..., b = y, ...]`,
		`[..., a = x, b = y, ...]`,
		`[a = x, ..., b = y]`,
		`[..., a = x*, ..., ..., b = *y]`,
		`[c, ..., a = x, ..., b = y, d]`,
	}
	msgs := []string{"x y", "x q y", "y x", "q x y q", "x", "x y y", "xx yy", "x x x y", "c x y d", "c x q q y d", "", "y"}
	for _, pat := range patterns {
		p, err := ParseFilterPattern(pat)
		if err != nil {
			t.Fatal(err)
		}
		if !p.delim.local {
			t.Fatalf("%s: want a pattern with only local conditions", pat)
		}
		for _, msg := range msgs {
			fields := fpSplitFields(msg, nil)
			asg := make([]int, len(p.delim.slots))
			budget := fpDelimBudget
			want := p.delim.search(0, 0, fields, asg, &budget)
			if got := p.Match(msg); got != want {
				t.Errorf("%s on %q: glob %v, search %v", pat, msg, got, want)
			}
		}
	}
}

func TestConcurrentMatch(t *testing.T) {
	p, err := ParseFilterPattern(`{ $.a = 1 && $.b.c = "x" }`)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan bool)
	for g := 0; g < 4; g++ {
		go func() {
			ok := true
			for i := 0; i < 1000; i++ {
				ok = ok && p.Match(`{"a":1,"b":{"c":"x"}}`) && !p.Match(`{"a":2,"b":{"c":"x"}}`)
			}
			done <- ok
		}()
	}
	for g := 0; g < 4; g++ {
		if !<-done {
			t.Error("concurrent Match gave a wrong answer")
		}
	}
}

func TestMatchAllocations(t *testing.T) {
	for _, tc := range []struct {
		pattern, msg string
	}{
		{`ERROR "disk full" ?x -DEBUG`, `2024-01-01 ERROR disk full on /var`},
		{`{ $.level = "error" && $.latency > 100 }`, `{"level":"error","latency":250,"msg":"slow","kubernetes":{"pod_name":"web-1"}}`},
		{`[ip, user, ..., status = 4*, bytes > 1000]`, `127.0.0.1 - frank [10/Oct/2000:13:25:15 -0700] "GET /x HTTP/1.0" 404 1534`},
	} {
		p, err := ParseFilterPattern(tc.pattern)
		if err != nil {
			t.Fatal(err)
		}
		if !p.Match(tc.msg) {
			t.Fatalf("%s does not match %s", tc.pattern, tc.msg)
		}
		if n := testing.AllocsPerRun(100, func() { p.Match(tc.msg) }); n != 0 {
			t.Errorf("%s: %v allocations per Match, want 0", tc.pattern, n)
		}
	}
}
