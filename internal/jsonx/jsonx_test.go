package jsonx

import (
	"bytes"
	"encoding/json"
	"testing"
)

func encodingJSON(t testing.TB, s string) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(s); err != nil {
		t.Fatal(err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

func TestAppendStringMatchesEncodingJSON(t *testing.T) {
	for _, s := range []string{"", "plain", `q"b\s`, "\x00\x1f\t\n\r\b\f", "<html>&", "\u2028\u2029é", "bad\xffutf8\xc3", "日本語"} {
		if got, want := AppendString(nil, s), encodingJSON(t, s); !bytes.Equal(got, want) {
			t.Errorf("%q: got %s, want %s", s, got, want)
		}
	}
}

func FuzzAppendString(f *testing.F) {
	f.Add("x\"\\\u2028\xff")
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := AppendString([]byte("prefix"), s), append([]byte("prefix"), encodingJSON(t, s)...); !bytes.Equal(got, want) {
			t.Fatalf("%q: got %s, want %s", s, got, want)
		}
	})
}
