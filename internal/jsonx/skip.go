package jsonx

import "strings"

// SkipString returns the offset after the JSON string starting at i (a
// '"'), and false if the string does not end.
func SkipString(s string, i int) (int, bool) {
	i++
	// Short strings (most keys and values) end sooner than an IndexByte
	// call pays off.
	for end := min(i+16, len(s)); i < end; i++ {
		switch s[i] {
		case '"':
			return i + 1, true
		case '\\':
			goto slow
		}
	}
slow:
	for {
		k := strings.IndexByte(s[i:], '"')
		if k < 0 {
			return len(s), false
		}
		i += k
		// An odd number of backslashes before the quote escapes it.
		b := 0
		for b < i && s[i-1-b] == '\\' {
			b++
		}
		i++
		if b%2 == 0 {
			return i, true
		}
	}
}

// SkipValue returns the offset after the JSON value starting at i. It
// matches brackets and skips strings without validating them; scalars end at
// a delimiter. Callers that need strict JSON validate elsewhere.
func SkipValue(s string, i int) (int, bool) {
	if i >= len(s) {
		return i, false
	}
	switch s[i] {
	case '"':
		return SkipString(s, i)
	case '{', '[':
		depth := 0
		for i < len(s) {
			switch s[i] {
			case '"':
				e, ok := SkipString(s, i)
				if !ok {
					return e, false
				}
				i = e
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1, true
				}
			}
			i++
		}
		return i, false
	}
	start := i
	for i < len(s) {
		switch s[i] {
		case ',', '}', ']', ' ', '\t', '\n', '\r':
			return i, i > start
		}
		i++
	}
	return i, i > start
}
