package insights

import (
	"strconv"
	"strings"

	"github.com/kinsight/kinsight/internal/insights/value"
)

// jsonPlan is which flattened JSON keys the query reads. Only those are
// extracted, and a subtree is skipped unless a wanted key lies under it,
// so a query that names one field does not pay for a whole object.
type jsonPlan struct {
	wanted   map[string]bool
	slots    map[string]int  // wanted name → slot
	prefixes map[string]bool // every proper dotted prefix of a wanted name
}

func (p *jsonPlan) read(name string) {
	if p.wanted == nil {
		p.wanted = map[string]bool{}
	}
	p.wanted[name] = true
}

func (p *jsonPlan) build(q *Query) {
	p.slots = map[string]int{}
	p.prefixes = map[string]bool{}
	for name := range p.wanted {
		p.slots[name] = q.slotOf[name]
		for i := 0; i < len(name); i++ {
			if name[i] == '.' {
				p.prefixes[name[:i]] = true
			}
		}
	}
}

// loadJSON extracts the wanted keys of a JSON message into the slots not
// assigned yet; the others (and all of them for a message that is not a
// JSON object) become null.
func (r *row) loadJSON() {
	r.jsonLoaded = true
	p := &r.q.json
	if len(p.slots) == 0 {
		return
	}
	msg := r.ev.Message
	i := 0
	for i < len(msg) && isSpace(msg[i]) {
		i++
	}
	if i < len(msg) && msg[i] == '{' {
		j := jscan{s: msg, i: i, p: p}
		if j.object() {
			for _, f := range j.found {
				if !r.has[f.slot] {
					r.set(f.slot, f.v)
				}
			}
		}
	}
	for _, s := range p.slots {
		if !r.has[s] {
			r.set(s, value.Value{})
		}
	}
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

type foundValue struct {
	slot int
	v    value.Value
}

// jscan walks one JSON object, building the dotted path of each member.
// It validates only as much as it walks; a malformed message yields false.
type jscan struct {
	s     string
	i     int
	p     *jsonPlan
	path  []byte
	found []foundValue
	depth int
}

func (j *jscan) ws() {
	for j.i < len(j.s) && isSpace(j.s[j.i]) {
		j.i++
	}
}

// str reads a string at j.i (which is '"') and returns its decoded text.
func (j *jscan) str() (string, bool) {
	start := j.i
	end, ok := skipString(j.s, j.i)
	if !ok {
		return "", false
	}
	j.i = end
	raw := j.s[start:end]
	if strings.IndexByte(raw, '\\') < 0 {
		return raw[1 : len(raw)-1], true
	}
	return value.FromJSON([]byte(raw)).String(), true
}

func (j *jscan) object() bool {
	j.depth++
	if j.depth > 64 {
		return false
	}
	defer func() { j.depth-- }()
	j.i++ // '{'
	j.ws()
	if j.i < len(j.s) && j.s[j.i] == '}' {
		j.i++
		return true
	}
	for {
		j.ws()
		if j.i >= len(j.s) || j.s[j.i] != '"' {
			return false
		}
		key, ok := j.str()
		if !ok {
			return false
		}
		base := len(j.path)
		if base > 0 {
			j.path = append(j.path, '.')
		}
		j.path = append(j.path, key...)
		j.ws()
		if j.i >= len(j.s) || j.s[j.i] != ':' {
			return false
		}
		j.i++
		j.ws()
		if !j.member() {
			return false
		}
		j.path = j.path[:base]
		j.ws()
		if j.i >= len(j.s) {
			return false
		}
		switch j.s[j.i] {
		case ',':
			j.i++
		case '}':
			j.i++
			return true
		default:
			return false
		}
	}
}

func (j *jscan) array() bool {
	j.depth++
	if j.depth > 64 {
		return false
	}
	defer func() { j.depth-- }()
	j.i++ // '['
	j.ws()
	if j.i < len(j.s) && j.s[j.i] == ']' {
		j.i++
		return true
	}
	for n := 0; ; n++ {
		base := len(j.path)
		if base > 0 {
			j.path = append(j.path, '.')
		}
		j.path = strconv.AppendInt(j.path, int64(n), 10)
		j.ws()
		if !j.member() {
			return false
		}
		j.path = j.path[:base]
		j.ws()
		if j.i >= len(j.s) {
			return false
		}
		switch j.s[j.i] {
		case ',':
			j.i++
		case ']':
			j.i++
			return true
		default:
			return false
		}
	}
}

// member handles the value at j.i whose path is j.path.
func (j *jscan) member() bool {
	start := j.i
	if slot, ok := j.p.slots[string(j.path)]; ok {
		end, ok := skipValue(j.s, j.i)
		if !ok {
			return false
		}
		j.found = append(j.found, foundValue{slot, value.FromJSON([]byte(j.s[start:end]))})
		j.i = end
		if !j.p.prefixes[string(j.path)] {
			return true
		}
		j.i = start // also wanted below: walk it again
	}
	if j.p.prefixes[string(j.path)] && j.i < len(j.s) {
		switch j.s[j.i] {
		case '{':
			return j.object()
		case '[':
			return j.array()
		}
	}
	end, ok := skipValue(j.s, j.i)
	j.i = end
	return ok
}

// skipString returns the offset after the string starting at i (a '"').
func skipString(s string, i int) (int, bool) {
	i++
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

// skipValue returns the offset after the JSON value starting at i.
func skipValue(s string, i int) (int, bool) {
	if i >= len(s) {
		return i, false
	}
	switch s[i] {
	case '"':
		return skipString(s, i)
	case '{', '[':
		depth := 0
		for i < len(s) {
			switch s[i] {
			case '"':
				e, ok := skipString(s, i)
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
