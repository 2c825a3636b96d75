package elide

import (
	"encoding/json"
	"strings"
	"testing"
)

// cut replaces the value of the top-level member key in msg by the
// placeholder, as the store does, and returns the member.
func cut(t testing.TB, msg, key string) (string, Member, bool) {
	t.Helper()
	spans, counts := make([]Span, 1), make([]int, 1)
	if !Find(msg, []string{key}, spans, counts) || counts[0] != 1 {
		return "", Member{}, false
	}
	sp := spans[0]
	return msg[:sp.Start] + Placeholder + msg[sp.End:], Member{Key: key, Value: msg[sp.Start:sp.End]}, true
}

func TestRestore(t *testing.T) {
	for _, msg := range []string{
		`{"log":"a","kubernetes":{"pod_name":"p","labels":{"x":"}"}}}`,
		`{"kubernetes":{"pod_name":"p"},"log":"a"}`,
		` { "log" : "a\"}{" , "kubernetes" : { "a" : [1, {"b": "\\"}] } , "n" : 1 } `,
		`{"kubernetes":{}}`,
		"{\"log\":\"\xff\xfe\",\"kubernetes\":{\"k\":\"\xc3\"}}",
	} {
		stored, m, ok := cut(t, msg, "kubernetes")
		if !ok {
			t.Fatalf("%q: member not found", msg)
		}
		if RestoredLen(len(stored), []Member{m}) != len(msg) {
			t.Errorf("%q: RestoredLen %d", msg, RestoredLen(len(stored), []Member{m}))
		}
		got, err := Restore(nil, stored, []Member{m})
		if err != nil || string(got) != msg {
			t.Errorf("Restore(%q) = %q, %v; want %q", stored, got, err, msg)
		}
	}
	// Two members, restored in message order whatever the list order.
	msg := `{"a":{"x":1},"log":"l","b":{"y":2}}`
	got, err := Restore(nil, `{"a":{},"log":"l","b":{}}`, []Member{{"b", `{"y":2}`}, {"a", `{"x":1}`}})
	if err != nil || string(got) != msg {
		t.Errorf("two members: %q, %v", got, err)
	}
	for _, bad := range []string{
		`{"log":"x"}`,                       // no member
		`{"kubernetes":{},"kubernetes":{}}`, // twice
		`{"kubernetes":{"a":1}}`,            // not the placeholder
		`{"kubernetes":{}`,                  // truncated
		`not json`,
		``,
		`{"log":"\"kubernetes\":{}"}`, // only inside a string
	} {
		if _, err := Restore(nil, bad, []Member{{"kubernetes", `{"a":1}`}}); err == nil {
			t.Errorf("Restore(%q): no error", bad)
		}
	}
}

func TestWalk(t *testing.T) {
	var keys []string
	ok := Walk(`{"a":1,"b":{"c":[1,2]},"d":"e,}","f":null}`, func(k string, v Span) { keys = append(keys, k) })
	if !ok || strings.Join(keys, " ") != "a b d f" {
		t.Errorf("Walk: %v %v", ok, keys)
	}
	for _, bad := range []string{`{"a":1,}`, `{"a" 1}`, `{"a":1} x`, `[1]`, `{"a":"x}`, `{a:1}`} {
		if Walk(bad, func(string, Span) {}) {
			t.Errorf("Walk(%q) = true", bad)
		}
	}
}

// FuzzRestore: whatever the message, cutting a top-level member that
// occurs once and restoring it gives the message back, byte for byte; and
// Restore never panics on a corrupt stored message.
func FuzzRestore(f *testing.F) {
	f.Add(`{"log":"a","kubernetes":{"pod_name":"p"}}`, "kubernetes")
	f.Add(`{"kubernetes":{"a":"\\\"}"},"x":[{"kubernetes":{}}]}`, "kubernetes")
	f.Add(`{"a":{},"a":{}}`, "a")
	f.Add("{\"k\":{\"\xff\":1}, \"l\" : \"\\u00e9\"}", "k")
	f.Fuzz(func(t *testing.T, msg, key string) {
		m := Member{Key: key, Value: `{"restored":true}`}
		Restore(nil, msg, []Member{m}) // no panic
		stored, m, ok := cut(t, msg, key)
		if !ok || !strings.HasPrefix(m.Value, "{") {
			return
		}
		got, err := Restore(nil, stored, []Member{m})
		if err != nil || string(got) != msg {
			t.Fatalf("Restore(%q) = %q, %v; want %q", stored, got, err, msg)
		}
		// FindMembers, which recognises the value by its text, finds
		// what Find finds.
		spans, counts := make([]Span, 1), make([]int, 1)
		fspans, fcounts := make([]Span, 1), make([]int, 1)
		ok1 := Find(msg, []string{key}, spans, counts)
		ok2 := FindMembers(msg, []Member{m}, fspans, fcounts)
		if ok1 != ok2 || counts[0] != fcounts[0] || spans[0] != fspans[0] {
			t.Fatalf("FindMembers(%q) = %v %v %v, Find %v %v %v", msg, ok2, fspans, fcounts, ok1, spans, counts)
		}
		// A message encoding/json accepts keeps its other members.
		var orig, st map[string]json.RawMessage
		if json.Unmarshal([]byte(msg), &orig) == nil {
			if err := json.Unmarshal([]byte(stored), &st); err != nil {
				t.Fatalf("stored %q of valid %q: %v", stored, msg, err)
			}
		}
	})
}
