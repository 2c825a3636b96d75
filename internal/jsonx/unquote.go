package jsonx

import (
	"bytes"
	"encoding/binary"
	"unicode/utf16"
	"unicode/utf8"
)

// AppendUnquoted appends the value of a JSON string to dst, given inner, the
// bytes between its quotes, and reports whether inner is a valid string
// body: no control character, no unescaped quote, only JSON's escapes.
// Escapes decode as encoding/json decodes them (a \u surrogate pair is one
// rune, any other surrogate U+FFFD). Other bytes are copied unchanged, so
// a caller that must replace invalid UTF-8 as encoding/json does checks
// utf8.Valid itself. On false, dst holds a partial result to discard.
func AppendUnquoted(dst, inner []byte) ([]byte, bool) {
	for len(inner) > 0 {
		k := bytes.IndexByte(inner, '\\')
		if k < 0 {
			k = len(inner)
		}
		if controlOrQuote(inner[:k]) {
			return dst, false
		}
		dst = append(dst, inner[:k]...)
		if k == len(inner) {
			break
		}
		if k+1 >= len(inner) {
			return dst, false
		}
		n := 2
		switch c := inner[k+1]; c {
		case '"', '\\', '/':
			dst = append(dst, c)
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'u':
			r, ok := hex4(inner[k+2:])
			if !ok {
				return dst, false
			}
			n = 6
			if utf16.IsSurrogate(r) {
				r2, ok2 := rune(-1), false
				if rest := inner[k+6:]; len(rest) >= 2 && rest[0] == '\\' && rest[1] == 'u' {
					r2, ok2 = hex4(rest[2:])
				}
				if d := utf16.DecodeRune(r, r2); ok2 && d != utf8.RuneError {
					r, n = d, 12
				} else {
					// The next escape, if any, is decoded on its own.
					r = utf8.RuneError
				}
			}
			dst = utf8.AppendRune(dst, r)
		default:
			return dst, false
		}
		inner = inner[k+n:]
	}
	return dst, true
}

// StringEnd returns the index in b of the quote that closes a JSON string
// whose body starts at b[0] (just after its opening quote), skipping
// escaped characters, or -1 when b ends first.
func StringEnd(b []byte) int {
	for i := 0; i < len(b); i++ {
		switch b[i] {
		case '"':
			return i
		case '\\':
			i++
		}
	}
	return -1
}

// controlOrQuote reports whether b holds a byte below 0x20 or a quote,
// testing eight bytes at a time: log lines make long strings.
func controlOrQuote(b []byte) bool {
	i := 0
	for ; i+8 <= len(b); i += 8 {
		w := binary.LittleEndian.Uint64(b[i:])
		quote := w ^ (lsb * '"')
		if ((w-lsb*0x20)&^w|(quote-lsb)&^quote)&msb != 0 {
			return true
		}
	}
	for ; i < len(b); i++ {
		if b[i] < 0x20 || b[i] == '"' {
			return true
		}
	}
	return false
}

// hex4 reads the four hex digits of a \u escape.
func hex4(b []byte) (rune, bool) {
	if len(b) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range b[:4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}
