// Package jsonx holds the JSON string encoding and decoding the hot paths do
// by hand: the server's event answers and the agent's records (encoding),
// PutLogEvents bodies and Logs Insights field values (decoding), where
// encoding/json's reflection and HTML escaping cost most of the time.
// Strings are written byte for byte as encoding/json writes them with
// SetEscapeHTML(false) and read as it reads them.
package jsonx

import (
	"encoding/binary"
	"unicode/utf8"
)

const (
	lsb = 0x0101010101010101
	msb = 0x8080808080808080
)

// safeWord reports whether the 8 bytes of w are all ASCII that needs no
// escape: none below 0x20, none '"' or '\\', none with the high bit set.
func safeWord(w uint64) bool {
	below := (w - lsb*0x20) &^ w
	quote := w ^ (lsb * '"')
	backslash := w ^ (lsb * '\\')
	hasQuote := (quote - lsb) &^ quote
	hasBackslash := (backslash - lsb) &^ backslash
	return (below|hasQuote|hasBackslash|w)&msb == 0
}

const hexDigits = "0123456789abcdef"

// jsonSafe marks the ASCII bytes that need no escape.
var jsonSafe = func() (t [utf8.RuneSelf]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// AppendString appends s as a JSON string the way encoding/json does
// without HTML escaping: control characters escaped, invalid UTF-8 as
// \ufffd, U+2028 and U+2029 escaped.
func AppendString(b []byte, s string) []byte {
	b = append(b, '"')
	b = AppendEscaped(b, s)
	return append(b, '"')
}

// AppendEscaped appends what AppendString puts between the quotes: s
// escaped as the inside of a JSON string. Writers that nest JSON in a JSON
// string (the agent's records in a PutLogEvents body) escape pieces with it
// once and copy them many times.
func AppendEscaped(b []byte, s string) []byte {
	start := 0
	for i := 0; i < len(s); {
		// Runs of plain ASCII, 8 bytes at a time.
		for i+8 <= len(s) && safeWord(binary.LittleEndian.Uint64([]byte(s[i:i+8]))) {
			i += 8
		}
		if i >= len(s) {
			break
		}
		if c := s[i]; c < utf8.RuneSelf {
			if jsonSafe[c] {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	return append(b, s[start:]...)
}
