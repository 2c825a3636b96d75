package logquery

import (
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// JSON patterns are matched by one pass of a small validating scanner over
// the message: it follows only the paths the pattern's selectors name (a
// trie), records where each selected value sits in the message without
// copying it, and skips everything else. A message that is not a complete,
// valid JSON object never matches. Strings are decoded only when a value
// with escapes is compared.

// fpMaxJSONDepth bounds nesting, as encoding/json does, so a hostile
// message cannot grow the stack without limit.
const fpMaxJSONDepth = 10000

type fpJSONKind uint8

const (
	fpJSONMissing fpJSONKind = iota
	fpJSONString
	fpJSONNumber
	fpJSONTrue
	fpJSONFalse
	fpJSONNull
	fpJSONObject
	fpJSONArray
)

// fpJSONVal is a selected value: for a string, its raw text between the
// quotes (esc says whether it holds escapes); for a number, its literal.
type fpJSONVal struct {
	kind fpJSONKind
	esc  bool
	raw  string
}

func (v *fpJSONVal) text() string {
	switch v.kind {
	case fpJSONString:
		if v.esc {
			return fpDecodeJSONString(v.raw)
		}
		return v.raw
	case fpJSONNumber:
		return v.raw
	case fpJSONTrue:
		return "true"
	case fpJSONFalse:
		return "false"
	case fpJSONNull:
		return "null"
	}
	return ""
}

// fpPathNode is a node of the selector trie; the root stands for $.
type fpPathNode struct {
	key     string
	index   int // -1 for a member step
	leaf    int // id of the selector ending here, or -1
	lo, hi  int // the leaf ids of this subtree
	target  bool
	members []*fpPathNode
	elems   []*fpPathNode
}

func (n *fpPathNode) child(s fpStep) *fpPathNode {
	list := &n.members
	if s.index >= 0 {
		list = &n.elems
	}
	for _, c := range *list {
		if c.key == s.key && c.index == s.index {
			return c
		}
	}
	c := &fpPathNode{key: s.key, index: s.index, leaf: -1}
	*list = append(*list, c)
	return c
}

func (n *fpPathNode) member(raw string, esc bool) *fpPathNode {
	for _, c := range n.members {
		if esc && fpJSONStringEqual(raw, c.key) || !esc && raw == c.key {
			return c
		}
	}
	return nil
}

func (n *fpPathNode) elem(i int) *fpPathNode {
	for _, c := range n.elems {
		if c.index == i {
			return c
		}
	}
	return nil
}

// number gives every selector a leaf id in depth-first order, so that each
// subtree's ids are the range [lo, hi).
func (n *fpPathNode) number(next int) int {
	n.lo = next
	if n.target {
		n.leaf = next
		next++
	}
	for _, c := range n.members {
		next = c.number(next)
	}
	for _, c := range n.elems {
		next = c.number(next)
	}
	n.hi = next
	return next
}

type fpJSON struct {
	expr    *fpExpr
	root    *fpPathNode
	nleaves int
}

// fpParseJSON parses a pattern whose first non-blank byte, s[start], is '{'.
func fpParseJSON(s string, start int) (*fpJSON, error) {
	p := &fpParser{src: s, pos: start + 1, json: true}
	p.ws()
	if p.peek() == '}' {
		return nil, p.errorf(p.pos, "empty JSON pattern")
	}
	e, err := p.parseOr()
	if err != nil {
		return nil, err
	}
	p.ws()
	if p.peek() != '}' {
		return nil, p.errorf(p.pos, "expected &&, || or } after a condition, found %s", p.near(p.pos))
	}
	p.pos++
	p.ws()
	if !p.eof() {
		return nil, p.errorf(p.pos, "unexpected text after the closing }")
	}
	j := &fpJSON{expr: e, root: &fpPathNode{index: -1, leaf: -1}}
	nodes := make([]*fpPathNode, len(p.conds))
	for i, c := range p.conds {
		n := j.root
		for _, s := range c.path {
			n = n.child(s)
		}
		n.target = true
		nodes[i] = n
	}
	j.nleaves = j.root.number(0)
	for i, c := range p.conds {
		c.ref = nodes[i].leaf
	}
	return j, nil
}

func (j *fpJSON) match(msg string) bool {
	var buf [16]fpJSONVal
	var vals []fpJSONVal
	if j.nleaves <= len(buf) {
		vals = buf[:j.nleaves]
	} else {
		vals = make([]fpJSONVal, j.nleaves)
	}
	if !fpScanJSON(msg, j.root, vals) {
		return false
	}
	return fpEvalJSON(j.expr, vals)
}

func fpEvalJSON(e *fpExpr, vals []fpJSONVal) bool {
	switch e.kind {
	case fpExprAnd:
		for _, k := range e.kids {
			if !fpEvalJSON(k, vals) {
				return false
			}
		}
		return true
	case fpExprOr:
		for _, k := range e.kids {
			if fpEvalJSON(k, vals) {
				return true
			}
		}
		return false
	}
	return e.cond.matchJSON(&vals[e.cond.ref])
}

// matchJSON evaluates a condition on a selected value. Comparisons need a
// scalar: a selector that is missing or names an object or array fails both
// = and != (AWS: "the filter will not be applied"). A numeric value compares
// numerically with a JSON number, and by text with a string for = and !=.
func (c *fpCond) matchJSON(v *fpJSONVal) bool {
	switch c.op {
	case fpOpNotExists:
		return v.kind == fpJSONMissing
	case fpOpIsNull:
		return v.kind == fpJSONNull
	case fpOpIsTrue:
		return v.kind == fpJSONTrue
	case fpOpIsFalse:
		return v.kind == fpJSONFalse
	}
	switch v.kind {
	case fpJSONMissing, fpJSONObject, fpJSONArray:
		return false
	}
	if c.val.isNum {
		if v.kind == fpJSONNumber {
			n, ok := fpParseNumber(v.raw)
			return ok && c.op.holds(fpCompareNumbers(&n, &c.val.num))
		}
		if c.op != fpOpEq && c.op != fpOpNe {
			return false
		}
	}
	return c.val.matchText(v.text(), c.op)
}

// fpScanner walks one JSON message. The selected values go to a vals
// slice passed down the calls rather than kept here, which lets escape
// analysis keep the caller's buffer on its stack.
type fpScanner struct {
	s string
	i int
}

// fpScanJSON reports whether s is one valid JSON object (blanks around it
// allowed) and fills vals with the values the trie under root selects.
func fpScanJSON(s string, root *fpPathNode, vals []fpJSONVal) bool {
	sc := fpScanner{s: s}
	sc.ws()
	if sc.i >= len(s) || s[sc.i] != '{' {
		return false
	}
	if !sc.value(root, vals, 0) {
		return false
	}
	sc.ws()
	return sc.i == len(s)
}

func (sc *fpScanner) ws() {
	for sc.i < len(sc.s) {
		switch sc.s[sc.i] {
		case ' ', '\t', '\n', '\r':
			sc.i++
		default:
			return
		}
	}
}

func fpRecord(vals []fpJSONVal, n *fpPathNode, k fpJSONKind, raw string, esc bool) {
	if n != nil && n.leaf >= 0 {
		vals[n.leaf] = fpJSONVal{kind: k, esc: esc, raw: raw}
	}
}

// value scans one value; n is its trie node, nil when nothing under it is
// selected.
func (sc *fpScanner) value(n *fpPathNode, vals []fpJSONVal, depth int) bool {
	if depth > fpMaxJSONDepth {
		return false
	}
	sc.ws()
	if sc.i >= len(sc.s) {
		return false
	}
	switch c := sc.s[sc.i]; {
	case c == '{':
		fpRecord(vals, n, fpJSONObject, "", false)
		return sc.object(n, vals, depth)
	case c == '[':
		fpRecord(vals, n, fpJSONArray, "", false)
		return sc.array(n, vals, depth)
	case c == '"':
		st := sc.i + 1
		esc, ok := sc.str()
		if !ok {
			return false
		}
		fpRecord(vals, n, fpJSONString, sc.s[st:sc.i-1], esc)
	case c == '-' || fpIsDigit(c):
		st := sc.i
		if !sc.num() {
			return false
		}
		fpRecord(vals, n, fpJSONNumber, sc.s[st:sc.i], false)
	case c == 't':
		return sc.lit("true", n, vals, fpJSONTrue)
	case c == 'f':
		return sc.lit("false", n, vals, fpJSONFalse)
	case c == 'n':
		return sc.lit("null", n, vals, fpJSONNull)
	default:
		return false
	}
	return true
}

func (sc *fpScanner) lit(word string, n *fpPathNode, vals []fpJSONVal, k fpJSONKind) bool {
	if !strings.HasPrefix(sc.s[sc.i:], word) {
		return false
	}
	sc.i += len(word)
	fpRecord(vals, n, k, "", false)
	return true
}

func (sc *fpScanner) object(n *fpPathNode, vals []fpJSONVal, depth int) bool {
	sc.i++ // {
	sc.ws()
	if sc.i < len(sc.s) && sc.s[sc.i] == '}' {
		sc.i++
		return true
	}
	for {
		sc.ws()
		if sc.i >= len(sc.s) || sc.s[sc.i] != '"' {
			return false
		}
		st := sc.i + 1
		esc, ok := sc.str()
		if !ok {
			return false
		}
		key := sc.s[st : sc.i-1]
		sc.ws()
		if sc.i >= len(sc.s) || sc.s[sc.i] != ':' {
			return false
		}
		sc.i++
		var child *fpPathNode
		if n != nil {
			child = n.member(key, esc)
		}
		if child != nil {
			// A repeated key replaces what an earlier one selected, as
			// decoding into a map would.
			clear(vals[child.lo:child.hi])
		}
		if !sc.value(child, vals, depth+1) {
			return false
		}
		sc.ws()
		if sc.i >= len(sc.s) {
			return false
		}
		switch sc.s[sc.i] {
		case ',':
			sc.i++
		case '}':
			sc.i++
			return true
		default:
			return false
		}
	}
}

func (sc *fpScanner) array(n *fpPathNode, vals []fpJSONVal, depth int) bool {
	sc.i++ // [
	sc.ws()
	if sc.i < len(sc.s) && sc.s[sc.i] == ']' {
		sc.i++
		return true
	}
	for idx := 0; ; idx++ {
		var child *fpPathNode
		if n != nil {
			child = n.elem(idx)
		}
		if !sc.value(child, vals, depth+1) {
			return false
		}
		sc.ws()
		if sc.i >= len(sc.s) {
			return false
		}
		switch sc.s[sc.i] {
		case ',':
			sc.i++
		case ']':
			sc.i++
			return true
		default:
			return false
		}
	}
}

// str scans a string starting at its opening quote and leaves sc.i just
// past the closing one.
func (sc *fpScanner) str() (esc, ok bool) {
	s := sc.s
	i := sc.i + 1
	for i < len(s) {
		c := s[i]
		switch {
		case c == '"':
			sc.i = i + 1
			return esc, true
		case c == '\\':
			esc = true
			if i+1 >= len(s) {
				return false, false
			}
			switch s[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+6 > len(s) || !fpIsHex4(s[i+2:i+6]) {
					return false, false
				}
				i += 6
			default:
				return false, false
			}
		case c < 0x20:
			return false, false
		default:
			i++
		}
	}
	return false, false
}

// num scans a JSON number.
func (sc *fpScanner) num() bool {
	s, i := sc.s, sc.i
	if s[i] == '-' {
		i++
	}
	switch {
	case i >= len(s):
		return false
	case s[i] == '0':
		i++
	case s[i] >= '1' && s[i] <= '9':
		for i < len(s) && fpIsDigit(s[i]) {
			i++
		}
	default:
		return false
	}
	if i < len(s) && s[i] == '.' {
		i++
		st := i
		for i < len(s) && fpIsDigit(s[i]) {
			i++
		}
		if i == st {
			return false
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		st := i
		for i < len(s) && fpIsDigit(s[i]) {
			i++
		}
		if i == st {
			return false
		}
	}
	sc.i = i
	return true
}

func fpIsHex4(s string) bool {
	for i := 0; i < 4; i++ {
		c := s[i]
		if !(fpIsDigit(c) || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

func fpHex4(s string) rune {
	var r rune
	for i := 0; i < 4; i++ {
		c := s[i]
		switch {
		case fpIsDigit(c):
			c -= '0'
		case c >= 'a' && c <= 'f':
			c = c - 'a' + 10
		default:
			c = c - 'A' + 10
		}
		r = r<<4 | rune(c)
	}
	return r
}

// fpEscape decodes the escape at raw[i] == '\\' of a string the scanner
// has validated, returning the rune and the bytes it used. Like
// encoding/json, a lone surrogate becomes U+FFFD.
func fpEscape(raw string, i int) (rune, int) {
	switch raw[i+1] {
	case 'b':
		return '\b', 2
	case 'f':
		return '\f', 2
	case 'n':
		return '\n', 2
	case 'r':
		return '\r', 2
	case 't':
		return '\t', 2
	case 'u':
		r := fpHex4(raw[i+2:])
		if utf16.IsSurrogate(r) {
			if i+12 <= len(raw) && raw[i+6] == '\\' && raw[i+7] == 'u' {
				if r2 := utf16.DecodeRune(r, fpHex4(raw[i+8:])); r2 != utf8.RuneError {
					return r2, 12
				}
			}
			return utf8.RuneError, 6
		}
		return r, 6
	}
	return rune(raw[i+1]), 2
}

func fpDecodeJSONString(raw string) string {
	var b strings.Builder
	b.Grow(len(raw))
	for i := 0; i < len(raw); {
		if raw[i] != '\\' {
			b.WriteByte(raw[i])
			i++
			continue
		}
		r, n := fpEscape(raw, i)
		b.WriteRune(r)
		i += n
	}
	return b.String()
}

// fpJSONStringEqual compares the raw text of a JSON string with want
// without allocating.
func fpJSONStringEqual(raw, want string) bool {
	j := 0
	for i := 0; i < len(raw); {
		if raw[i] != '\\' {
			if j >= len(want) || want[j] != raw[i] {
				return false
			}
			i++
			j++
			continue
		}
		r, n := fpEscape(raw, i)
		var buf [utf8.UTFMax]byte
		m := utf8.EncodeRune(buf[:], r)
		if j+m > len(want) || want[j:j+m] != string(buf[:m]) {
			return false
		}
		i += n
		j += m
	}
	return j == len(want)
}
