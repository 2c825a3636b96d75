package logstore

// isTokenByte reports whether b belongs inside a token. Tokens are maximal
// runs of ASCII letters, digits and '_', or of non-ASCII bytes (so a UTF-8
// word stays whole). Everything else separates tokens.
func isTokenByte(b byte) bool {
	return b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' || b == '_' || b >= 0x80
}

// IsTokenByte is the exported form of the token rule, for filters that must
// agree with the blocks' bloom filters.
func IsTokenByte(b byte) bool { return isTokenByte(b) }

// ForEachToken calls fn with every token of s, in order, repeats included.
// The bloom filters of blocks hold exactly these tokens.
func ForEachToken(s string, fn func(tok string)) {
	start := -1
	for i := 0; i < len(s); i++ {
		if isTokenByte(s[i]) {
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
