package jsonx

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestSkipValue(t *testing.T) {
	for _, tc := range []struct {
		in  string
		end int
		ok  bool
	}{
		{`"abc",1`, 5, true},
		{`"a\"b\\"x`, 8, true},
		{`"` + strings.Repeat("x", 40) + `\\\"y"`, 47, true},
		{`"unterminated`, 13, false},
		{`{"a":[1,{"b":"}"}],"c":null} rest`, 28, true},
		{`[1,2`, 4, false},
		{`12.5e3}`, 6, true},
		{`true,`, 4, true},
		{``, 0, false},
	} {
		end, ok := SkipValue(tc.in, 0)
		if end != tc.end || ok != tc.ok {
			t.Errorf("SkipValue(%q) = %d, %v; want %d, %v", tc.in, end, ok, tc.end, tc.ok)
		}
	}
}

// FuzzSkipValue checks that every value encoding/json accepts is skipped
// whole.
func FuzzSkipValue(f *testing.F) {
	for _, s := range []string{`"x"`, `{"a":"\"}"}`, `[1,[2,{"k":"v\\"}]]`, `-1.5e-3`, `null`, `"\u00e9\n"`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !json.Valid([]byte(s)) || strings.TrimSpace(s) != s {
			end, _ := SkipValue(s, 0) // must not panic
			if end < 0 || end > len(s) {
				t.Fatalf("SkipValue(%q) = %d, out of range", s, end)
			}
			return
		}
		if end, ok := SkipValue(s, 0); !ok || end != len(s) {
			t.Fatalf("SkipValue(%q) = %d, %v; want %d, true", s, end, ok, len(s))
		}
	})
}
