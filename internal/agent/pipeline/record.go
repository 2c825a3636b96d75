package pipeline

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"
	"unsafe"

	"github.com/kinsight/kinsight/internal/agent/cri"
	"github.com/kinsight/kinsight/internal/agent/journal"
	"github.com/kinsight/kinsight/internal/jsonx"
)

// Records are built by hand into one reused buffer: this is the agent's
// hottest path after parsing, and the kubernetes object, identical for every
// record of a file, is encoded once per file (fileRoute.kubeJSON).

// bytesString views b as a string without copying; the string must not
// outlive b's next change.
func bytesString(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

// recordKeys are the keys a container record has before merging; merged
// fields with these names are dropped rather than written twice.
var recordKeys = []string{"log", "stream", "time", "kubernetes"}

// appendContainerRecord appends the Fluent Bit-style record Container
// Insights stores: {"log","stream","time","kubernetes"} and, when the
// message is a JSON object and merging is on, its fields under mergeKey
// (or at the top level when mergeKey is empty).
func appendContainerRecord(b []byte, fr *fileRoute, r *cri.Record, mergeKey string) []byte {
	b = append(b, `{"log":`...)
	b = jsonx.AppendString(b, bytesString(r.Message))
	b = append(b, `,"stream":`...)
	b = jsonx.AppendString(b, r.Stream)
	b = append(b, `,"time":"`...)
	b = appendRFC3339Nano(b, r.Time)
	b = append(b, `","kubernetes":`...)
	b = append(b, fr.kubeJSON...)
	if fr.merge {
		b = appendMerged(b, r.Message, mergeKey)
	}
	return append(b, '}')
}

// appendQuotedContainerRecord appends the record appendContainerRecord
// writes, as a JSON string literal (what jsonx.AppendString would make of
// it), and returns the record's own length. Only the message and the
// merged fields are escaped here (the message twice); the kubernetes
// object, most of a record, was escaped once for the file
// (fr.kubeEscaped) and is not written: it belongs at the returned offset
// at in b (cloudwatch.Event.Shared), so a batch holds it once. tmp is
// scratch space, returned for reuse.
func appendQuotedContainerRecord(b, tmp []byte, fr *fileRoute, r *cri.Record, mergeKey string) (_, _ []byte, size, at int) {
	start := len(b)
	b = append(b, `"{\"log\":`...)
	b, n := appendDoubleEscaped(b, r.Message)
	size = len(`{"log":`) + n
	b = append(b, `,\"stream\":\"`...)
	b = append(b, r.Stream...) // "stdout" or "stderr": nothing to escape
	b = append(b, `\",\"time\":\"`...)
	n = len(b)
	b = appendRFC3339Nano(b, r.Time)
	size += len(`,"stream":""`) + len(r.Stream) + len(`,"time":"`) + len(b) - n
	b = append(b, `\",\"kubernetes\":`...)
	at = len(b) - start
	size += len(`","kubernetes":`) + len(fr.kubeJSON)
	switch {
	case !fr.merge:
	case mergeKey != "":
		// ,"key":{…} escaped straight from the message, without a copy.
		if obj := jsonObject(r.Message); obj != nil {
			tmp = append(jsonx.AppendString(append(tmp[:0], ','), mergeKey), ':')
			size += len(tmp) + len(obj)
			b = jsonx.AppendEscaped(b, bytesString(tmp))
			b = jsonx.AppendEscaped(b, bytesString(obj))
		}
	default:
		tmp = appendMerged(tmp[:0], r.Message, mergeKey)
		size += len(tmp)
		b = jsonx.AppendEscaped(b, bytesString(tmp))
	}
	return append(b, `}"`...), tmp, size + 1, at
}

// jsonObject returns msg trimmed if it is one JSON object, else nil.
func jsonObject(msg []byte) []byte {
	msg = bytes.TrimSpace(msg)
	if len(msg) < 2 || msg[0] != '{' || msg[len(msg)-1] != '}' || !validJSON(msg) {
		return nil
	}
	return msg
}

// appendMerged appends ,"key":{…} or the object's own fields.
func appendMerged(b, msg []byte, key string) []byte {
	obj := jsonObject(msg)
	if obj == nil {
		return b
	}
	if key != "" {
		b = append(b, ',')
		b = jsonx.AppendString(b, key)
		b = append(b, ':')
		return append(b, obj...)
	}
	var fields map[string]json.RawMessage
	if json.Unmarshal(obj, &fields) != nil {
		return b
	}
	keys := make([]string, 0, len(fields))
	for k := range fields {
		if !slices.Contains(recordKeys, k) {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		b = append(b, ',')
		b = jsonx.AppendString(b, k)
		b = append(b, ':')
		b = append(b, fields[k]...)
	}
	return b
}

// appendJournalRecord appends a journal entry with journald's field names,
// as Fluent Bit's systemd input (Strip_Underscores off) writes it.
func appendJournalRecord(b []byte, e *journal.Entry) []byte {
	b = append(b, `{"MESSAGE":`...)
	b = jsonx.AppendString(b, bytesString(e.Message))
	if e.Priority >= 0 {
		b = append(b, `,"PRIORITY":"`...)
		b = strconv.AppendInt(b, int64(e.Priority), 10)
		b = append(b, '"')
	}
	for _, f := range [...]struct{ k, v string }{{"_HOSTNAME", e.Host}, {"_PID", e.PID}, {"_SYSTEMD_UNIT", e.Unit}} {
		if f.v != "" {
			b = append(b, ',')
			b = jsonx.AppendString(b, f.k)
			b = append(b, ':')
			b = jsonx.AppendString(b, f.v)
		}
	}
	return append(b, '}')
}

// appendDoubleEscaped appends what
// jsonx.AppendEscaped(jsonx.AppendString(msg)) would, in one pass, and
// returns n, the length of jsonx.AppendString(msg): the message as a JSON
// string inside a record that is itself a JSON string. Escaping twice was
// a third of the record's cost; the second escape only doubles the
// backslashes the first one wrote and turns its quotes into \", so both
// are written here at once (FuzzDoubleEscaped checks it against the two
// passes).
func appendDoubleEscaped(b, msg []byte) (_ []byte, n int) {
	const hex = "0123456789abcdef"
	b = append(b, '\\', '"')
	n = 2
	start := 0
	for i := 0; i < len(msg); {
		// Runs of plain ASCII, 8 bytes at a time.
		for i+8 <= len(msg) && safeWord(binary.LittleEndian.Uint64(msg[i:])) {
			i += 8
		}
		if i >= len(msg) {
			break
		}
		c := msg[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, msg[start:i]...)
			n += i - start
			switch c {
			case '"':
				b = append(b, '\\', '\\', '\\', '"')
				n += 2
			case '\\':
				b = append(b, '\\', '\\', '\\', '\\')
				n += 2
			case '\b':
				b = append(b, '\\', '\\', 'b')
				n += 2
			case '\f':
				b = append(b, '\\', '\\', 'f')
				n += 2
			case '\n':
				b = append(b, '\\', '\\', 'n')
				n += 2
			case '\r':
				b = append(b, '\\', '\\', 'r')
				n += 2
			case '\t':
				b = append(b, '\\', '\\', 't')
				n += 2
			default:
				b = append(b, '\\', '\\', 'u', '0', '0', hex[c>>4], hex[c&0xF])
				n += 6
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRune(msg[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, msg[start:i]...)
			n += i - start
			b = append(b, `\\ufffd`...)
			n += 6
		case r == '\u2028' || r == '\u2029':
			b = append(b, msg[start:i]...)
			n += i - start
			b = append(b, '\\', '\\', 'u', '2', '0', '2', hex[r&0xF])
			n += 6
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	b = append(b, msg[start:]...)
	n += len(msg) - start
	return append(b, '\\', '"'), n
}

// safeWord reports whether the 8 bytes of w are all ASCII that needs no
// escape (as jsonx's: none below 0x20, none '"' or '\\', no high bit).
func safeWord(w uint64) bool {
	const lsb, msb = 0x0101010101010101, 0x8080808080808080
	below := (w - lsb*0x20) &^ w
	quote := w ^ (lsb * '"')
	backslash := w ^ (lsb * '\\')
	hasQuote := (quote - lsb) &^ quote
	hasBackslash := (backslash - lsb) &^ backslash
	return (below|hasQuote|hasBackslash|w)&msb == 0
}

// maxJSONDepth is encoding/json's nesting limit (its scanner's
// maxNestingDepth): deeper documents are not valid to it, so not here.
const maxJSONDepth = 10000

// validJSON reports what json.Valid(s) reports, several times faster: it
// decides whether a JSON line is merged (Merge_Log), where json.Valid was
// a third of a merged record's cost. It is the same grammar as
// encoding/json's scanner (strings may hold any byte but controls, as
// there; nesting up to maxJSONDepth); FuzzValidJSON checks the two agree.
func validJSON(s []byte) bool {
	// kinds holds one bit per open container, 1 for an object.
	var inline [4]uint64
	kinds := inline[:]
	depth := 0
	i := skipJSONSpace(s, 0)
	for {
		// A value starts at i.
		if i >= len(s) {
			return false
		}
		switch c := s[i]; {
		case c == '{' || c == '[':
			if depth++; depth > maxJSONDepth {
				return false
			}
			if w := (depth - 1) / 64; w >= len(kinds) {
				kinds = append(kinds, 0)
			}
			bit := uint64(1) << ((depth - 1) % 64)
			i = skipJSONSpace(s, i+1)
			if c == '[' {
				kinds[(depth-1)/64] &^= bit
				if i < len(s) && s[i] == ']' {
					i++
					depth--
					break
				}
				continue // the first element
			}
			kinds[(depth-1)/64] |= bit
			if i < len(s) && s[i] == '}' {
				i++
				depth--
				break
			}
			var ok bool
			if i, ok = skipMember(s, i); !ok {
				return false
			}
			continue // the first member's value
		case c == '"':
			var ok bool
			if i, ok = skipJSONString(s, i); !ok {
				return false
			}
		case c == 't':
			if !bytes.HasPrefix(s[i:], []byte("true")) {
				return false
			}
			i += 4
		case c == 'f':
			if !bytes.HasPrefix(s[i:], []byte("false")) {
				return false
			}
			i += 5
		case c == 'n':
			if !bytes.HasPrefix(s[i:], []byte("null")) {
				return false
			}
			i += 4
		default:
			var ok bool
			if i, ok = skipJSONNumber(s, i); !ok {
				return false
			}
		}
		// A value ended at i: close containers until the next value.
		for {
			i = skipJSONSpace(s, i)
			if depth == 0 {
				return i == len(s)
			}
			if i >= len(s) {
				return false
			}
			object := kinds[(depth-1)/64]&(1<<((depth-1)%64)) != 0
			c := s[i]
			if c == ',' {
				i = skipJSONSpace(s, i+1)
				if object {
					var ok bool
					if i, ok = skipMember(s, i); !ok {
						return false
					}
				}
				break // the next value
			}
			if (object && c == '}') || (!object && c == ']') {
				i++
				depth--
				continue
			}
			return false
		}
	}
}

// skipMember skips an object member's key and colon (and the spaces after
// it) from i, where the key's quote must be.
func skipMember(s []byte, i int) (int, bool) {
	if i >= len(s) || s[i] != '"' {
		return i, false
	}
	i, ok := skipJSONString(s, i)
	if !ok {
		return i, false
	}
	i = skipJSONSpace(s, i)
	if i >= len(s) || s[i] != ':' {
		return i, false
	}
	return skipJSONSpace(s, i+1), true
}

func skipJSONSpace(s []byte, i int) int {
	for i < len(s) && (s[i] == ' ' || s[i] == '\n' || s[i] == '\t' || s[i] == '\r') {
		i++
	}
	return i
}

// skipJSONString skips the string whose quote is at i.
func skipJSONString(s []byte, i int) (int, bool) {
	const lsb, msb = 0x0101010101010101, 0x8080808080808080
	i++
	for {
		// Runs without a quote, backslash or control, 8 bytes at a time.
		for i+8 <= len(s) {
			w := binary.LittleEndian.Uint64(s[i:])
			quote := w ^ (lsb * '"')
			backslash := w ^ (lsb * '\\')
			if ((w-lsb*0x20)&^w|(quote-lsb)&^quote|(backslash-lsb)&^backslash)&msb != 0 {
				break
			}
			i += 8
		}
		if i >= len(s) {
			return i, false
		}
		switch c := s[i]; {
		case c == '"':
			return i + 1, true
		case c < 0x20:
			return i, false
		case c == '\\':
			if i+1 >= len(s) {
				return i, false
			}
			switch s[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+6 > len(s) {
					return i, false
				}
				for _, h := range s[i+2 : i+6] {
					if !('0' <= h && h <= '9' || 'a' <= h && h <= 'f' || 'A' <= h && h <= 'F') {
						return i, false
					}
				}
				i += 6
			default:
				return i, false
			}
		default:
			i++
		}
	}
}

// skipJSONNumber skips -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?.
func skipJSONNumber(s []byte, i int) (int, bool) {
	digit := func(i int) bool { return i < len(s) && '0' <= s[i] && s[i] <= '9' }
	if i < len(s) && s[i] == '-' {
		i++
	}
	switch {
	case i < len(s) && s[i] == '0':
		i++
	case digit(i):
		for digit(i) {
			i++
		}
	default:
		return i, false
	}
	if i < len(s) && s[i] == '.' {
		i++
		if !digit(i) {
			return i, false
		}
		for digit(i) {
			i++
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if !digit(i) {
			return i, false
		}
		for digit(i) {
			i++
		}
	}
	return i, true
}

// appendRFC3339Nano appends t in UTC as t.UTC().AppendFormat(b,
// time.RFC3339Nano) does (fraction without trailing zeros, none when
// whole), by hand for the years 1970–9999 every log line has: the
// standard one was a tenth of a record's cost. Other times take the
// standard path.
func appendRFC3339Nano(b []byte, t time.Time) []byte {
	sec, nsec := t.Unix(), t.Nanosecond()
	if sec < 0 || sec >= 253402300800 { // 10000-01-01
		return t.UTC().AppendFormat(b, time.RFC3339Nano)
	}
	// Days to civil date (Howard Hinnant's days_from_civil inverse).
	days := sec / 86400
	rem := sec % 86400
	z := days + 719468
	era := z / 146097
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	y := yoe + era*400
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	d := doy - (153*mp+2)/5 + 1
	m := mp + 3
	if m > 12 {
		m -= 12
	}
	if m <= 2 {
		y++
	}
	hh, mm, ss := rem/3600, rem/60%60, rem%60
	b = append(b,
		byte('0'+y/1000), byte('0'+y/100%10), byte('0'+y/10%10), byte('0'+y%10), '-',
		byte('0'+m/10), byte('0'+m%10), '-', byte('0'+d/10), byte('0'+d%10), 'T',
		byte('0'+hh/10), byte('0'+hh%10), ':', byte('0'+mm/10), byte('0'+mm%10), ':',
		byte('0'+ss/10), byte('0'+ss%10))
	if nsec != 0 {
		var f [10]byte
		f[0] = '.'
		for i, v := 9, nsec; i > 0; i-- {
			f[i] = byte('0' + v%10)
			v /= 10
		}
		n := 10
		for f[n-1] == '0' {
			n--
		}
		b = append(b, f[:n]...)
	}
	return append(b, 'Z')
}
