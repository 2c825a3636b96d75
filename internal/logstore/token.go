package logstore

// tokenByte marks the bytes that belong inside a token: ASCII letters,
// digits and '_', and every non-ASCII byte (so a UTF-8 word stays whole).
// Everything else separates tokens.
var tokenByte = func() (t [256]bool) {
	for c := 0; c < 256; c++ {
		t[c] = c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c >= 0x80
	}
	return t
}()

// IsTokenByte reports whether b belongs inside a token, the unit the
// blocks' bloom filters index (by trigrams).
func IsTokenByte(b byte) bool { return tokenByte[b] }

// ForEachToken calls fn with every token of s, in order, repeats included.
func ForEachToken(s string, fn func(tok string)) {
	start := -1
	for i := 0; i < len(s); i++ {
		if tokenByte[s[i]] {
			if start < 0 {
				start = i
			}
			continue
		}
		if start >= 0 {
			fn(s[start:i])
			start = -1
		}
	}
	if start >= 0 {
		fn(s[start:])
	}
}
