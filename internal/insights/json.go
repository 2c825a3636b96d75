package insights

import (
	"encoding/json"
	"strconv"
	"strings"
	"unsafe"

	"github.com/kinsight/kinsight/internal/insights/value"
	"github.com/kinsight/kinsight/internal/jsonx"
)

// jsonPlan is which flattened JSON keys the query reads. Only those are
// extracted, and a subtree is skipped unless a wanted key lies under it,
// so a query that names one field does not pay for a whole object.
type jsonPlan struct {
	wanted map[string]bool
	// paths maps a wanted name or a proper dotted prefix of one to what
	// it is: one lookup per member walked.
	paths map[string]jsonPath
	slots []int // the wanted names' slots
	// lens has bit n set when some entry of paths is n bytes long (n <
	// 128): most keys of a message are skipped without hashing them.
	lens [2]uint64
}

func (p *jsonPlan) mayHave(path []byte) bool {
	n := len(path)
	return n >= 128 || p.lens[n/64]&(1<<(n%64)) != 0
}

type jsonPath struct {
	slot   int // -1 when the path is only a prefix
	prefix bool
}

func (p *jsonPlan) read(name string) {
	if p.wanted == nil {
		p.wanted = map[string]bool{}
	}
	p.wanted[name] = true
}

func (p *jsonPlan) build(q *Query) {
	p.paths = map[string]jsonPath{}
	p.slots = nil
	p.lens = [2]uint64{}
	defer func() {
		for k := range p.paths {
			if n := len(k); n < 128 {
				p.lens[n/64] |= 1 << (n % 64)
			}
		}
	}()
	for name := range p.wanted {
		s := q.slotOf[name]
		p.slots = append(p.slots, s)
		e, ok := p.paths[name]
		if !ok {
			e.slot = -1
		}
		e.slot = s
		p.paths[name] = e
		for i := 0; i < len(name); i++ {
			if name[i] == '.' {
				e, ok := p.paths[name[:i]]
				if !ok {
					e.slot = -1
				}
				e.prefix = true
				p.paths[name[:i]] = e
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
		j := jscan{s: msg, i: i, p: p, path: r.pathBuf[:0], found: r.found[:0], preset: r.preset}
		if r.preset != nil {
			for _, s := range p.slots {
				if r.preset[s] {
					j.npreset++
				}
			}
		}
		ok := j.object()
		r.pathBuf, r.found = j.path[:0], j.found[:0]
		if ok || j.done {
			// Slots the query assigned before the load keep their value;
			// among duplicate keys the last wins, as in encoding/json.
			for i, f := range j.found {
				if r.has[f.slot] {
					j.found[i].slot = -1
				}
			}
			for _, f := range j.found {
				if f.slot >= 0 {
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
	// done is set once every wanted key was found: the rest of the
	// message is not read (so among duplicate keys the first wins).
	done bool
	// preset marks (by slot) the wanted keys the block's constants give,
	// npreset counts them: they need not be found for done. A constant's
	// path occurs once in every message, so stopping before it cannot
	// change what the first-or-last rule picks.
	preset  []bool
	npreset int
}

func (j *jscan) ws() {
	// Compact JSON has no white space: one comparison settles most calls.
	for j.i < len(j.s) && j.s[j.i] <= ' ' && isSpace(j.s[j.i]) {
		j.i++
	}
}

// str reads a string at j.i (which is '"') and returns its decoded text.
func (j *jscan) str() (string, bool) {
	start := j.i
	end, ok := jsonx.SkipString(j.s, j.i)
	if !ok {
		return "", false
	}
	j.i = end
	raw := j.s[start:end]
	if strings.IndexByte(raw, '\\') < 0 {
		// Kept as is, like value.FromJSON's strings: a key with invalid
		// UTF-8 matches no name a query can spell anyway.
		return raw[1 : len(raw)-1], true
	}
	var key string
	if err := json.Unmarshal([]byte(raw), &key); err != nil {
		return "", false
	}
	return key, true
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
		if j.depth > 1 { // not a top-level key: even "" gets its dot
			j.path = append(j.path, '.')
		}
		j.path = append(j.path, key...)
		j.ws()
		if j.i >= len(j.s) || j.s[j.i] != ':' {
			return false
		}
		j.i++
		j.ws()
		if !j.member() || j.done {
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
		if j.depth > 1 { // not a top-level key: even "" gets its dot
			j.path = append(j.path, '.')
		}
		j.path = strconv.AppendInt(j.path, int64(n), 10)
		j.ws()
		if !j.member() || j.done {
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
	var e jsonPath
	ok := false
	if j.p.mayHave(j.path) {
		e, ok = j.p.paths[string(j.path)]
	}
	if !ok {
		end, ok := jsonx.SkipValue(j.s, j.i)
		j.i = end
		return ok
	}
	if e.slot >= 0 {
		start := j.i
		end, ok := jsonx.SkipValue(j.s, j.i)
		if !ok {
			return false
		}
		j.found = append(j.found, foundValue{e.slot, jsonValue(j.s[start:end])})
		if len(j.found)+j.npreset >= len(j.p.slots) && j.allFound() {
			j.done = true
			return true
		}
		if !e.prefix {
			j.i = end
			return true
		}
		// Also wanted below: walk it.
	}
	if j.i < len(j.s) {
		switch j.s[j.i] {
		case '{':
			return j.object()
		case '[':
			return j.array()
		}
	}
	end, ok := jsonx.SkipValue(j.s, j.i)
	j.i = end
	return ok
}

// allFound reports whether every wanted slot has a value.
func (j *jscan) allFound() bool {
	for _, s := range j.p.slots {
		if j.preset != nil && j.preset[s] {
			continue
		}
		seen := false
		for _, f := range j.found {
			if f.slot == s {
				seen = true
				break
			}
		}
		if !seen {
			return false
		}
	}
	return true
}

// jsonValue is value.FromJSON without copying a plain string: the value
// shares the message's memory.
func jsonValue(raw string) value.Value {
	if len(raw) >= 2 && raw[0] == '"' {
		// The same test as value.FromJSON's plain path.
		if inner := raw[1 : len(raw)-1]; value.PlainJSONString(inner) {
			return value.Str(inner)
		}
	}
	if raw == "" {
		return value.Null()
	}
	// FromJSON neither keeps nor writes its argument (what it keeps it
	// copies or decodes), so the message's bytes need no copy: the copy
	// was a tenth of a full scan's CPU.
	return value.FromJSON(unsafe.Slice(unsafe.StringData(raw), len(raw)))
}
