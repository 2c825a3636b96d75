package pipeline

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/kinsight/kinsight/internal/jsonx"
)

// FuzzDoubleEscaped checks the one-pass double escape against the two
// passes it replaces, byte for byte, and the length it reports.
func FuzzDoubleEscaped(f *testing.F) {
	for _, s := range []string{"", "plain text of some length", `say "hi"` + "\t\\\n\r\b\f\x00\x1f\x7f",
		"\xff\xfe caf\u00e9 \u2028\u2029 \U0001F600", `{"level":"info","msg":"a \"b\"","n":1}`, "12345678\"12345678\\"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, msg []byte) {
		inner := jsonx.AppendString(nil, bytesString(msg))
		want := jsonx.AppendEscaped([]byte("pre"), bytesString(inner))
		got, n := appendDoubleEscaped([]byte("pre"), msg)
		if !bytes.Equal(got, want) || n != len(inner) {
			t.Fatalf("%q: got %q (n %d), want %q (n %d)", msg, got, n, want, len(inner))
		}
	})
}

// FuzzValidJSON checks validJSON against json.Valid.
func FuzzValidJSON(f *testing.F) {
	for _, s := range []string{"", "{}", "[]", ` {"a":[1,-2.5e+3,true,false,null,"x\"\\\/\b\f\n\r\t\u00e9"],"b":{}} `,
		`{"level":"info","msg":"a","latency_ms":12}`, `{"a":01}`, `{"a":1.}`, `{"a":-}`, `[1,]`, `{"a":1,}`, `{"a" 1}`,
		"{\"a\":\"\x01\"}", "\"\xff\"", `{"a":"\u12g4"}`, `tru`, `nul`, `[[[[]]]]`, `{"a":[{"b":[{}]}]}`, `1e5`, `0.0E-0`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, s []byte) {
		if got, want := validJSON(s), json.Valid(s); got != want {
			t.Fatalf("validJSON(%q) = %v, json.Valid %v", s, got, want)
		}
	})
}

// TestValidJSONDepth checks the nesting limit matches encoding/json's.
func TestValidJSONDepth(t *testing.T) {
	for _, n := range []int{63, 64, 65, 200, maxJSONDepth, maxJSONDepth + 1} {
		for _, open := range []string{"[", `{"a":`} {
			close := "]"
			if open != "[" {
				close = "}"
			}
			s := []byte(strings.Repeat(open, n) + "1" + strings.Repeat(close, n))
			if got, want := validJSON(s), json.Valid(s); got != want {
				t.Errorf("depth %d %s: validJSON %v, json.Valid %v", n, open, got, want)
			}
		}
	}
	mixed := []byte(strings.Repeat(`[{"a":`, 100) + "1" + strings.Repeat("}]", 100))
	if !validJSON(mixed) || !json.Valid(mixed) {
		t.Errorf("mixed nesting not valid")
	}
}

// FuzzRFC3339Nano checks appendRFC3339Nano against time's own format.
func FuzzRFC3339Nano(f *testing.F) {
	for _, s := range []int64{0, 1, -1, 1795000000, 951782400, 253402300799, 253402300800, -62135596800, 4102444800} {
		f.Add(s, int64(0))
		f.Add(s, int64(123456789))
		f.Add(s, int64(100))
	}
	f.Fuzz(func(t *testing.T, sec, nsec int64) {
		ts := time.Unix(sec, nsec%1e9)
		want := ts.UTC().AppendFormat([]byte("x"), time.RFC3339Nano)
		if got := appendRFC3339Nano([]byte("x"), ts); !bytes.Equal(got, want) {
			t.Fatalf("%d.%09d: got %s, want %s", sec, nsec, got, want)
		}
	})
}
