package cwlogs

import (
	"strconv"
	"unsafe"

	"github.com/kinsight/kinsight/internal/jsonx"
)

// decodePutFast parses the common shape of a PutLogEvents body — the one
// every SDK and agent sends — several times faster than encoding/json, which
// dominated ingest CPU: strings without escapes point into body (which must
// not be modified afterwards) and the others are unescaped into one buffer. It returns false, having decided nothing, for
// anything outside that shape (keys in another case, duplicate members,
// fractional timestamps, nulls for required members, malformed JSON); the
// caller then decodes with encoding/json, which also words the errors. The
// body must already be valid UTF-8. FuzzDecodePutFast holds it to
// encoding/json's results.
func decodePutFast(body []byte, in *putLogEventsInput) bool {
	d := fastDec{b: body}
	return d.putObject(in, nil) && d.end()
}

// putObject parses one PutLogEvents object at d.i into in. With pos not
// nil it also takes a "positions" string member (a PutLogEventsBatch
// part, putbatch.go) into *pos; without, "positions" is an unknown key.
func (d *fastDec) putObject(in *putLogEventsInput, pos **string) bool {
	if !d.byte('{') {
		return false
	}
	var seen [5]bool
	if d.peek() == '}' {
		d.i++
		return true
	}
	for {
		key, ok := d.str()
		if !ok || !d.byte(':') {
			return false
		}
		field := -1
		switch key {
		case "logGroupName":
			field = 0
		case "logStreamName":
			field = 1
		case "logEvents":
			field = 2
		case "sequenceToken":
			field = 3
		case "positions":
			if pos != nil {
				field = 4
			}
		}
		if field >= 0 {
			if seen[field] {
				return false
			}
			seen[field] = true
		}
		switch field {
		case 0, 1, 3, 4:
			s, ok := d.str()
			if !ok {
				return false
			}
			switch field {
			case 0:
				in.LogGroupName = s
			case 1:
				in.LogStreamName = s
			case 3:
				in.SequenceToken = s
			case 4:
				*pos = &s
			}
		case 2:
			if !d.events(in) {
				return false
			}
		default:
			if !d.skipKnownCaseSafe(key) || !d.skip(0) {
				return false
			}
		}
		switch d.peek() {
		case ',':
			d.i++
		case '}':
			d.i++
			return true
		default:
			return false
		}
	}
}

type fastDec struct {
	b   []byte
	i   int
	buf []byte // unescaped message bytes
}

func (d *fastDec) ws() {
	for d.i < len(d.b) {
		switch d.b[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

func (d *fastDec) peek() byte {
	d.ws()
	if d.i < len(d.b) {
		return d.b[d.i]
	}
	return 0
}

func (d *fastDec) byte(c byte) bool {
	if d.peek() != c {
		return false
	}
	d.i++
	return true
}

func (d *fastDec) end() bool {
	d.ws()
	return d.i == len(d.b)
}

// skipKnownCaseSafe rejects an unknown key that encoding/json would match
// case-insensitively to a field we decode.
func (d *fastDec) skipKnownCaseSafe(key string) bool {
	for _, k := range []string{"logGroupName", "logStreamName", "logEvents", "sequenceToken", "timestamp", "message", "positions", "parts"} {
		if len(key) == len(k) && equalFoldASCII(key, k) {
			return false
		}
	}
	return true
}

func equalFoldASCII(a, b string) bool {
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if x|0x20 != y|0x20 || (x|0x20) < 'a' || (x|0x20) > 'z' {
			if x != y {
				return false
			}
		}
	}
	return true
}

// str reads a JSON string, unescaping into d.buf; the result points into
// d.buf's current chunk, which is never written again.
func (d *fastDec) str() (string, bool) {
	if !d.byte('"') {
		return "", false
	}
	start := d.i
	// Fast scan: no escapes means the bytes can be used as they are.
	for d.i < len(d.b) {
		c := d.b[d.i]
		if c == '"' {
			// No escapes: point into the body itself, which belongs to this
			// request and is never written again.
			s := d.b[start:d.i]
			d.i++
			return unsafe.String(unsafe.SliceData(s), len(s)), true
		}
		if c == '\\' || c < 0x20 {
			break
		}
		d.i++
	}
	// Escapes or control characters: find the closing quote, then decode
	// the body (jsonx rejects what encoding/json would).
	end := jsonx.StringEnd(d.b[d.i:])
	if end < 0 {
		return "", false
	}
	out := append(d.spare(len(d.b)-start), d.b[start:d.i]...)
	out, ok := jsonx.AppendUnquoted(out, d.b[d.i:d.i+end])
	if !ok {
		return "", false
	}
	d.i += end + 1
	return d.commit(out), true
}

// spare returns an empty slice at the end of the buffer with room for n
// bytes, starting a new chunk when the current one is full (strings already
// handed out keep the old chunk alive).
func (d *fastDec) spare(n int) []byte {
	if cap(d.buf)-len(d.buf) < n {
		d.buf = make([]byte, 0, max(n, len(d.b)))
	}
	return d.buf[len(d.buf):len(d.buf)]
}

// commit claims out, which spare placed at the end of the buffer: an
// unescaped string is never longer than its JSON text, so it always fits in
// the room spare reserved and append never moved it.
func (d *fastDec) commit(out []byte) string {
	if len(out) == 0 {
		return ""
	}
	d.buf = d.buf[:len(d.buf)+len(out)]
	return unsafe.String(unsafe.SliceData(out), len(out))
}

// int64v reads an integer the way encoding/json does into an int64.
func (d *fastDec) int64v() (int64, bool) {
	d.ws()
	start := d.i
	if d.i < len(d.b) && d.b[d.i] == '-' {
		d.i++
	}
	digits := d.i
	for d.i < len(d.b) && d.b[d.i] >= '0' && d.b[d.i] <= '9' {
		d.i++
	}
	if d.i == digits || d.b[digits] == '0' && d.i-digits > 1 {
		return 0, false
	}
	if d.i < len(d.b) {
		switch d.b[d.i] {
		case '.', 'e', 'E':
			return 0, false
		}
	}
	v, err := strconv.ParseInt(string(d.b[start:d.i]), 10, 64)
	return v, err == nil
}

func (d *fastDec) events(in *putLogEventsInput) bool {
	if !d.byte('[') {
		return false
	}
	// Events share backing arrays: one allocation per slice, not per event.
	evs := in.LogEvents[:0]
	var ts []int64
	var msgs []string
	if d.peek() == ']' {
		d.i++
		in.LogEvents = []inputEvent{}
		return true
	}
	for {
		if !d.byte('{') {
			return false
		}
		if len(ts) == cap(ts) {
			ts = make([]int64, 0, max(64, 2*cap(ts)))
			msgs = make([]string, 0, cap(ts))
		}
		ts = append(ts, 0)
		msgs = append(msgs, "")
		ev := inputEvent{}
		if d.peek() == '}' {
			d.i++
		} else {
			for {
				key, ok := d.str()
				if !ok || !d.byte(':') {
					return false
				}
				switch key {
				case "timestamp":
					if ev.Timestamp != nil {
						return false
					}
					v, ok := d.int64v()
					if !ok {
						return false
					}
					ts[len(ts)-1] = v
					ev.Timestamp = &ts[len(ts)-1]
				case "message":
					if ev.Message != nil {
						return false
					}
					s, ok := d.str()
					if !ok {
						return false
					}
					msgs[len(msgs)-1] = s
					ev.Message = &msgs[len(msgs)-1]
				default:
					if !d.skipKnownCaseSafe(key) || !d.skip(0) {
						return false
					}
				}
				if d.byte(',') {
					continue
				}
				if !d.byte('}') {
					return false
				}
				break
			}
		}
		evs = append(evs, ev)
		if d.byte(',') {
			continue
		}
		if !d.byte(']') {
			return false
		}
		in.LogEvents = evs
		return true
	}
}

// skip passes over any JSON value; depth bounds nesting as encoding/json
// does (10000).
func (d *fastDec) skip(depth int) bool {
	if depth > 10000 {
		return false
	}
	switch d.peek() {
	case '"':
		_, ok := d.str()
		return ok
	case '{':
		d.i++
		if d.byte('}') {
			return true
		}
		for {
			if _, ok := d.str(); !ok || !d.byte(':') || !d.skip(depth+1) {
				return false
			}
			if d.byte(',') {
				if d.peek() != '"' {
					return false
				}
				continue
			}
			return d.byte('}')
		}
	case '[':
		d.i++
		if d.byte(']') {
			return true
		}
		for {
			if !d.skip(depth + 1) {
				return false
			}
			if d.byte(',') {
				continue
			}
			return d.byte(']')
		}
	case 't':
		return d.lit("true")
	case 'f':
		return d.lit("false")
	case 'n':
		return d.lit("null")
	}
	return d.number()
}

func (d *fastDec) lit(s string) bool {
	if d.i+len(s) > len(d.b) || string(d.b[d.i:d.i+len(s)]) != s {
		return false
	}
	d.i += len(s)
	return true
}

// number passes over a JSON number, checking its grammar.
func (d *fastDec) number() bool {
	d.ws()
	if d.i < len(d.b) && d.b[d.i] == '-' {
		d.i++
	}
	digits := func() int {
		s := d.i
		for d.i < len(d.b) && d.b[d.i] >= '0' && d.b[d.i] <= '9' {
			d.i++
		}
		return d.i - s
	}
	s := d.i
	n := digits()
	if n == 0 || n > 1 && d.b[s] == '0' {
		return false
	}
	if d.i < len(d.b) && d.b[d.i] == '.' {
		d.i++
		if digits() == 0 {
			return false
		}
	}
	if d.i < len(d.b) && (d.b[d.i] == 'e' || d.b[d.i] == 'E') {
		d.i++
		if d.i < len(d.b) && (d.b[d.i] == '+' || d.b[d.i] == '-') {
			d.i++
		}
		if digits() == 0 {
			return false
		}
	}
	return true
}
