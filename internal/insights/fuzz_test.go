package insights

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/kinsight/kinsight/internal/insights/syntax"
	"github.com/kinsight/kinsight/internal/insights/value"
)

// FuzzRun compiles random queries (seeded with the documented samples)
// and runs them over the Container Insights fixture under a small memory
// bound: nothing panics, compile errors are *syntax.Error inside the
// query, and the only run error is the memory bound's.
func FuzzRun(f *testing.F) {
	for _, s := range readSamples(f) {
		f.Add(s)
	}
	f.Add(`stats count(*) by @message, bin(1s) | sort count(*) desc | dedup @message | pattern`)
	evs := containerInsightsEvents()
	f.Fuzz(func(t *testing.T, query string) {
		q, err := Compile(query)
		if err != nil {
			var se *syntax.Error
			if !errors.As(err, &se) || int(se.Pos) > len(query) {
				t.Fatalf("%q: compile error %v is not a *syntax.Error inside the query", query, err)
			}
			return
		}
		const bound = 256 << 10
		_, err = q.Run(context.Background(), &memStore{events: evs, blockSize: 7}, Options{End: 1 << 62, MaxMemoryBytes: bound}, nil)
		if err != nil && !strings.Contains(err.Error(), "query needs more than") {
			t.Fatalf("%q: %v", query, err)
		}
	})
}

// refFlatten flattens a JSON document with encoding/json's tokenizer, the
// reference for the hand-written scanner. dup collects paths seen twice
// (duplicate keys, or "a.b" next to {"a":{"b"}}), which the scanner may
// resolve either way.
func refFlatten(msg string) (out map[string]value.Value, dup map[string]bool) {
	out, dup = map[string]value.Value{}, map[string]bool{}
	dec := json.NewDecoder(strings.NewReader(msg))
	dec.UseNumber()
	var walk func(top bool, prefix string) bool
	leaf := func(path string, v value.Value) {
		if _, ok := out[path]; ok {
			dup[path] = true
		}
		out[path] = v
	}
	walk = func(top bool, prefix string) bool {
		tok, err := dec.Token()
		if err != nil {
			return false
		}
		switch t := tok.(type) {
		case json.Delim:
			switch t {
			case '{':
				seen := map[string]bool{}
				for dec.More() {
					k, err := dec.Token()
					if err != nil {
						return false
					}
					p := join(top, prefix, k.(string))
					if seen[p] {
						dup[p] = true
					}
					seen[p] = true
					if !walk(false, p) {
						return false
					}
				}
			case '[':
				for i := 0; dec.More(); i++ {
					if !walk(false, join(top, prefix, strconv.Itoa(i))) {
						return false
					}
				}
			}
			_, err := dec.Token() // closing delimiter
			return err == nil
		case json.Number:
			leaf(prefix, value.FromJSON([]byte(t.String())))
		case string:
			raw, _ := json.Marshal(t)
			leaf(prefix, value.FromJSON(raw))
		case bool:
			leaf(prefix, value.FromJSON([]byte(strconv.FormatBool(t))))
		case nil:
			leaf(prefix, value.Null())
		}
		return true
	}
	walk(true, "")
	return out, dup
}

func join(top bool, a, b string) string {
	if top {
		return b
	}
	return a + "." + b
}

// FuzzJSONFields checks that the scanner extracts every scalar leaf of a
// valid JSON object as encoding/json's flattening does.
func FuzzJSONFields(f *testing.F) {
	for _, s := range []string{
		`{"a":1,"b":{"c":"x","d":[1,{"e":true}]},"f":null}`,
		`{"k\"q":"v\\\"","u":"\u00e9","n":-1.5e3,"s":"{\"inner\":1}"}`,
		`  {"a" : [ [1,2] , [] , {} ], "b":{"c":{"d":{"e":"deep"}}}}`,
		`{"a":1,"a":2}`,
		`{"x.y":1,"x":{"z":2}}`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, msg string) {
		trimmed := strings.TrimLeft(msg, " \t\r\n")
		if !json.Valid([]byte(msg)) || !strings.HasPrefix(trimmed, "{") || strings.Count(msg, "{")+strings.Count(msg, "[") > 60 {
			return
		}
		if !utf8.ValidString(msg) {
			return // the scanner keeps invalid bytes; encoding/json replaces them
		}
		want, dup := refFlatten(msg)
		var names []string
		for k := range want {
			if !dup[k] && k != "" {
				names = append(names, k)
			}
		}
		if len(names) == 0 {
			return
		}
		q := &Query{slotOf: map[string]int{}}
		for _, n := range names {
			q.slotOf[n] = len(q.names)
			q.names = append(q.names, n)
			q.kinds = append(q.kinds, slotJSON)
			q.json.read(n)
		}
		q.json.build(q)
		r := newRow(q)
		r.reset(&Event{Message: msg})
		for i, n := range names {
			got := r.get(i)
			if got.Kind() != want[n].Kind() || got.String() != want[n].String() {
				t.Fatalf("%s: %s = %v %q, want %v %q", msg, n, got.Kind(), got.String(), want[n].Kind(), want[n].String())
			}
		}
	})
}
