// Package elide cuts block-constant JSON objects out of log messages and
// puts them back, byte for byte.
//
// The log store keeps a block's messages with the value of a top-level
// member that is the same in every message (Container Insights' 750-byte
// "kubernetes" object, beside a 200-byte log line) replaced by the two
// bytes {}. The member's key and value text are stored once per block. A
// stored message is still valid JSON with every other member where it was,
// so a reader that needs only other fields (Logs Insights, with the
// object's leaves given as block constants) parses the short message, and
// one that needs the original text calls Restore.
//
// Restore finds the member again by walking the stored message's top-level
// members, so no per-message offset is stored. That is exact because the
// writer (Cut) only elides a member whose raw key occurs exactly once at
// the top level of a message, and only from messages that are valid JSON
// objects (the store checks them strictly before it elides anything).
package elide

import (
	"errors"
	"strings"

	"github.com/kinsight/kinsight/internal/jsonx"
)

// Placeholder is what an elided value is replaced by in a stored message.
const Placeholder = "{}"

// Member is an elided top-level member: Key is the raw key text between
// its quotes (never holding a backslash), Value the raw JSON text of the
// object every message of the block holds there.
type Member struct{ Key, Value string }

// ErrNotFound: a stored message does not hold an elided member's
// placeholder exactly once at its top level (the block is corrupt).
var ErrNotFound = errors.New("elided member not found in stored message")

// Span is the byte range [Start, End) of a value in a message.
type Span struct{ Start, End int }

// Find returns the value spans of the top-level members of the JSON object
// msg whose raw key is one of keys (spans[i] for keys[i]) and how often
// each key occurs (counts[i]). It walks only the top level: nested values
// are skipped. It returns false when msg is not a well-formed object as
// far as the walk can tell (the caller decides validity beyond that).
func Find(msg string, keys []string, spans []Span, counts []int) bool {
	for i := range counts {
		counts[i] = 0
	}
	return Walk(msg, func(key string, v Span) {
		for k, want := range keys {
			if key == want {
				counts[k]++
				spans[k] = v
			}
		}
	})
}

// Walk calls fn with the raw key and value span of each top-level member
// of the JSON object msg, in order, and reports whether msg is a
// well-formed object as far as the walk can tell.
func Walk(msg string, fn func(key string, value Span)) bool {
	return walk(msg, nil, fn)
}

// FindMembers is Find for the members' keys, faster where a message holds
// a member's value: that value is recognised by its text instead of being
// walked bracket by bracket (spans[k] and counts[k] for members[k]). Each
// value must be one the walk delimits itself (taken from a message by
// Walk or Find), so that both give the same spans.
func FindMembers(msg string, members []Member, spans []Span, counts []int) bool {
	for i := range counts {
		counts[i] = 0
	}
	known := func(key string, at int) int {
		for _, m := range members {
			if key == m.Key && strings.HasPrefix(msg[at:], m.Value) {
				// A whole object's text: its closing bracket is the
				// one that closes the value at.
				return at + len(m.Value)
			}
		}
		return -1
	}
	return walk(msg, known, func(key string, v Span) {
		for k, m := range members {
			if key == m.Key {
				counts[k]++
				spans[k] = v
			}
		}
	})
}

// walk is Walk; known, when set, may give where the value of key starting
// at at ends without scanning it (-1: scan it).
func walk(msg string, known func(key string, at int) int, fn func(key string, value Span)) bool {
	i := skipWS(msg, 0)
	if i >= len(msg) || msg[i] != '{' {
		return false
	}
	i = skipWS(msg, i+1)
	if i < len(msg) && msg[i] == '}' {
		return skipWS(msg, i+1) == len(msg)
	}
	for {
		if i >= len(msg) || msg[i] != '"' {
			return false
		}
		end, ok := jsonx.SkipString(msg, i)
		if !ok {
			return false
		}
		key := msg[i+1 : end-1]
		i = skipWS(msg, end)
		if i >= len(msg) || msg[i] != ':' {
			return false
		}
		i = skipWS(msg, i+1)
		vEnd := -1
		if known != nil {
			vEnd = known(key, i)
		}
		if vEnd < 0 {
			if vEnd, ok = jsonx.SkipValue(msg, i); !ok {
				return false
			}
		}
		fn(key, Span{i, vEnd})
		i = skipWS(msg, vEnd)
		if i >= len(msg) {
			return false
		}
		switch msg[i] {
		case ',':
			i = skipWS(msg, i+1)
		case '}':
			return skipWS(msg, i+1) == len(msg)
		default:
			return false
		}
	}
}

// Restore appends the original text of the stored message msg to dst:
// each member's placeholder replaced by its value.
func Restore(dst []byte, msg string, members []Member) ([]byte, error) {
	var keysBuf [4]string
	var spansBuf [4]Span
	var countsBuf [4]int
	keys, spans, counts := keysBuf[:0], spansBuf[:0], countsBuf[:0]
	for _, m := range members {
		keys = append(keys, m.Key)
		spans = append(spans, Span{})
		counts = append(counts, 0)
	}
	if !Find(msg, keys, spans, counts) {
		return dst, ErrNotFound
	}
	// Members in message order, so the text is copied forward once.
	var orderBuf [4]int
	order := orderBuf[:0]
	for k := range members {
		if counts[k] != 1 || msg[spans[k].Start:spans[k].End] != Placeholder {
			return dst, ErrNotFound
		}
		j := len(order)
		order = append(order, k)
		for j > 0 && spans[order[j-1]].Start > spans[k].Start {
			order[j] = order[j-1]
			j--
		}
		order[j] = k
	}
	at := 0
	for _, k := range order {
		dst = append(dst, msg[at:spans[k].Start]...)
		dst = append(dst, members[k].Value...)
		at = spans[k].End
	}
	return append(dst, msg[at:]...), nil
}

// RestoredLen is the length of a message restored from a stored message of
// length n.
func RestoredLen(n int, members []Member) int {
	for _, m := range members {
		n += len(m.Value) - len(Placeholder)
	}
	return n
}

func skipWS(s string, i int) int {
	for i < len(s) {
		switch s[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}
