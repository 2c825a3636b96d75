package jsonx

import (
	"bytes"
	"encoding/json"
	"testing"
	"unicode/utf8"
)

func TestAppendUnquoted(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want string
		ok   bool
	}{
		{`plain`, "plain", true},
		{``, "", true},
		{`a\"b\\c\/d`, `a"b\c/d`, true},
		{`\b\f\n\r\t`, "\b\f\n\r\t", true},
		{`\u00e9\u4e2d`, "é中", true},
		{`\ud83d\ude00`, "😀", true},
		{`\ud83dx`, "\ufffdx", true},
		{`\ud83d\u0041`, "\ufffdA", true},
		{`\ude00`, "\ufffd", true},
		{`a"b`, "", false},
		{"a\x01b", "", false},
		{`\x`, "", false},
		{`\`, "", false},
		{`\u12`, "", false},
		{`\u12g4`, "", false},
		{`\ud83d\u12`, "", false},
	} {
		got, ok := AppendUnquoted(nil, []byte(tc.in))
		if ok != tc.ok || ok && string(got) != tc.want {
			t.Errorf("AppendUnquoted(%q) = %q, %v; want %q, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

// FuzzAppendUnquoted checks AppendUnquoted against encoding/json for
// string bodies that are valid UTF-8: it must accept exactly what
// encoding/json accepts and decode it the same way.
func FuzzAppendUnquoted(f *testing.F) {
	for _, s := range []string{`abc`, `a\"b`, `\ud83d\ude00`, `\ud800\u0041`, `\u00`, "x\ty", `\\\"`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, inner []byte) {
		if !utf8.Valid(inner) {
			return
		}
		end := StringEnd(inner)
		got, ok := AppendUnquoted(nil, inner)
		var want string
		err := json.Unmarshal(append(append([]byte{'"'}, inner...), '"'), &want)
		if end >= 0 {
			// An unescaped quote inside: not one string for either.
			if ok {
				t.Fatalf("accepted %q with a quote at %d", inner, end)
			}
			return
		}
		if ok != (err == nil) {
			t.Fatalf("%q: ok %v, encoding/json err %v", inner, ok, err)
		}
		if ok && !bytes.Equal(got, []byte(want)) {
			t.Fatalf("%q: got %q, encoding/json %q", inner, got, want)
		}
	})
}

func TestStringEnd(t *testing.T) {
	for in, want := range map[string]int{`abc"`: 3, `a\"b"c`: 4, `\\"`: 2, `abc`: -1, `ab\`: -1, `"`: 0} {
		if got := StringEnd([]byte(in)); got != want {
			t.Errorf("StringEnd(%q) = %d, want %d", in, got, want)
		}
	}
}

func TestControlOrQuote(t *testing.T) {
	base := []byte("abcdefghijklmnopqrstuvwxyz é 0123456789")
	if controlOrQuote(base) {
		t.Fatalf("plain text reported")
	}
	for i := range base {
		for _, c := range []byte{0, 0x1f, '"'} {
			b := append([]byte(nil), base...)
			b[i] = c
			if !controlOrQuote(b) {
				t.Errorf("byte %#x at %d not found", c, i)
			}
		}
	}
}

func BenchmarkAppendUnquoted(b *testing.B) {
	inner := []byte(`{\"level\":\"info\",\"msg\":\"Receiving block blk_-1608999687919862906 src: /10.250.19.102:54106 dest: /10.250.19.102:50010\",\"latency_ms\":12}`)
	b.SetBytes(int64(len(inner)))
	b.ReportAllocs()
	dst := make([]byte, 0, len(inner))
	for b.Loop() {
		dst, _ = AppendUnquoted(dst[:0], inner)
	}
}
