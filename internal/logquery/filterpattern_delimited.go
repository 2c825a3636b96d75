package logquery

// Space-delimited patterns ([ip, user, ..., status = 4*, bytes > 1000])
// name the fields of a message split on blanks. Text between double quotes
// or square brackets is one field, without its quotes or brackets, as in
// AWS's example where "$request" is `GET /index.html HTTP/1.0`.

// fpDelimBudget bounds the alignments tried for a pattern with several
// ellipses whose conditions read other fields (see match).
const fpDelimBudget = 100000

type fpSlot struct {
	ellipsis bool
	name     string  // "" for an anonymous slot
	cond     *fpExpr // nil when the field is only named
	// local is set when cond reads only this slot's own field, so it can be
	// decided while aligning slots with fields.
	local bool
}

type fpDelim struct {
	slots []fpSlot
	nell  int  // number of ellipsis slots
	ell   int  // index of the first one
	local bool // every condition is local
}

// fpParseDelimited parses a pattern whose first non-blank byte, s[start],
// is '['.
func fpParseDelimited(s string, start int) (*fpDelim, error) {
	p := &fpParser{src: s, pos: start + 1}
	p.ws()
	if p.peek() == ']' {
		return nil, p.errorf(p.pos, "empty space-delimited pattern")
	}
	d := &fpDelim{local: true, ell: -1}
	for {
		slot, err := p.parseSlot()
		if err != nil {
			return nil, err
		}
		if slot.ellipsis {
			if d.nell == 0 {
				d.ell = len(d.slots)
			}
			d.nell++
		}
		d.slots = append(d.slots, slot)
		p.ws()
		if p.peek() == ',' {
			p.pos++
			continue
		}
		if p.peek() == ']' {
			p.pos++
			break
		}
		return nil, p.errorf(p.pos, "expected , or ] after a field, found %s", p.near(p.pos))
	}
	p.ws()
	if !p.eof() {
		return nil, p.errorf(p.pos, "unexpected text after the closing ]")
	}
	d.resolve()
	return d, nil
}

// parseSlot reads one comma-separated field: empty (an anonymous field,
// which AWS's trailing-comma example shows), "...", a bare name, or
// conditions, whose first field name names the slot.
func (p *fpParser) parseSlot() (fpSlot, error) {
	p.ws()
	st := p.pos
	if len(p.src)-p.pos >= 3 && p.src[p.pos:p.pos+3] == "..." {
		p.pos += 3
		return fpSlot{ellipsis: true}, nil
	}
	if c := p.peek(); p.eof() || c == ',' || c == ']' {
		return fpSlot{}, nil
	}
	if name := p.name(); name != "" {
		p.ws()
		if c := p.peek(); p.eof() || c == ',' || c == ']' {
			return fpSlot{name: name}, nil
		}
	}
	p.pos = st
	e, err := p.parseOr()
	if err != nil {
		return fpSlot{}, err
	}
	return fpSlot{name: e.leftmost().name, cond: e}, nil
}

// resolve points every condition at the slot whose field it reads: its own
// slot when the names agree, else the first slot with that name. A name no
// slot declares reads a field that does not exist, so its conditions fail.
func (d *fpDelim) resolve() {
	for i := range d.slots {
		s := &d.slots[i]
		if s.cond == nil {
			continue
		}
		s.local = true
		d.walk(s.cond, func(c *fpCond) {
			c.ref = -1
			if c.name == s.name {
				c.ref = i
			} else {
				for j := range d.slots {
					if d.slots[j].name == c.name {
						c.ref = j
						break
					}
				}
			}
			if c.ref != i {
				s.local = false
			}
		})
		if !s.local {
			d.local = false
		}
	}
}

func (d *fpDelim) walk(e *fpExpr, fn func(*fpCond)) {
	if e.kind == fpExprCond {
		fn(e.cond)
		return
	}
	for _, k := range e.kids {
		d.walk(k, fn)
	}
}

func (d *fpDelim) mayMatch(mayContain func(string) bool) bool {
	for i := range d.slots {
		if c := d.slots[i].cond; c != nil && !c.mayMatch(mayContain) {
			return false
		}
	}
	return true
}

func fpIsFieldSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// fpSplitFields appends the fields of msg to dst. A field that opens with
// " or [ runs to the next " or ]; without one, it is an ordinary field.
func fpSplitFields(msg string, dst []string) []string {
	i := 0
	for {
		for i < len(msg) && fpIsFieldSpace(msg[i]) {
			i++
		}
		if i >= len(msg) {
			return dst
		}
		if c := msg[i]; c == '"' || c == '[' {
			closer := byte('"')
			if c == '[' {
				closer = ']'
			}
			for j := i + 1; j < len(msg); j++ {
				if msg[j] == closer {
					dst = append(dst, msg[i+1:j])
					i = j + 1
					goto next
				}
			}
		}
		{
			j := i
			for j < len(msg) && !fpIsFieldSpace(msg[j]) {
				j++
			}
			dst = append(dst, msg[i:j])
			i = j
		}
	next:
	}
}

func (d *fpDelim) match(msg string) bool {
	var fbuf [32]string
	fields := fpSplitFields(msg, fbuf[:0])
	n := len(d.slots)
	var abuf [32]int
	var asg []int
	if n <= len(abuf) {
		asg = abuf[:n]
	} else {
		asg = make([]int, n)
	}
	switch {
	case d.nell == 0:
		if len(fields) != n {
			return false
		}
		for i := range asg {
			asg[i] = i
		}
		return d.check(fields, asg, false)
	case d.nell == 1:
		if len(fields) < n-1 {
			return false
		}
		for i := range asg {
			switch {
			case i < d.ell:
				asg[i] = i
			case i == d.ell:
				asg[i] = -1
			default:
				asg[i] = i - n + len(fields)
			}
		}
		return d.check(fields, asg, false)
	case d.local:
		return d.glob(fields, asg)
	}
	budget := fpDelimBudget
	return d.search(0, 0, fields, asg, &budget)
}

// check evaluates the conditions of every slot, or only the non-local ones.
func (d *fpDelim) check(fields []string, asg []int, nonLocalOnly bool) bool {
	for i := range d.slots {
		s := &d.slots[i]
		if s.cond == nil || nonLocalOnly && s.local {
			continue
		}
		if !fpEvalDelim(s.cond, fields, asg) {
			return false
		}
	}
	return true
}

func (d *fpDelim) slotMatches(p, t int, fields []string, asg []int) bool {
	s := &d.slots[p]
	asg[p] = t
	return s.cond == nil || fpEvalDelim(s.cond, fields, asg)
}

// glob aligns slots with fields the way a wildcard matcher aligns * and
// single characters: every non-ellipsis slot takes one field, so
// backtracking to the last ellipsis only is enough, in O(slots × fields).
func (d *fpDelim) glob(fields []string, asg []int) bool {
	p, t := 0, 0
	starP, starT := -1, 0
	for t < len(fields) {
		switch {
		case p < len(d.slots) && d.slots[p].ellipsis:
			starP, starT = p, t
			p++
		case p < len(d.slots) && d.slotMatches(p, t, fields, asg):
			p++
			t++
		case starP >= 0:
			starT++
			p, t = starP+1, starT
		default:
			return false
		}
	}
	for p < len(d.slots) && d.slots[p].ellipsis {
		p++
	}
	return p == len(d.slots)
}

// search tries alignments one by one when conditions read other slots'
// fields and several ellipses make the alignment ambiguous. It gives up
// (no match) after fpDelimBudget steps rather than run for long.
func (d *fpDelim) search(p, t int, fields []string, asg []int, budget *int) bool {
	*budget--
	if *budget < 0 {
		return false
	}
	if p == len(d.slots) {
		return t == len(fields) && d.check(fields, asg, true)
	}
	s := &d.slots[p]
	if s.ellipsis {
		asg[p] = -1
		for k := t; k <= len(fields); k++ {
			if d.search(p+1, k, fields, asg, budget) {
				return true
			}
			if *budget < 0 {
				return false
			}
		}
		return false
	}
	if t >= len(fields) {
		return false
	}
	asg[p] = t
	if s.local && s.cond != nil && !fpEvalDelim(s.cond, fields, asg) {
		return false
	}
	return d.search(p+1, t+1, fields, asg, budget)
}

func fpEvalDelim(e *fpExpr, fields []string, asg []int) bool {
	switch e.kind {
	case fpExprAnd:
		for _, k := range e.kids {
			if !fpEvalDelim(k, fields, asg) {
				return false
			}
		}
		return true
	case fpExprOr:
		for _, k := range e.kids {
			if fpEvalDelim(k, fields, asg) {
				return true
			}
		}
		return false
	}
	c := e.cond
	if c.ref < 0 || asg[c.ref] < 0 {
		return false
	}
	return c.matchField(fields[asg[c.ref]])
}

// matchField evaluates a condition on a field's text. A numeric value
// compares numerically when the field is a number; otherwise = and !=
// compare text and the ordering operators fail.
func (c *fpCond) matchField(f string) bool {
	if c.val.isNum {
		if n, ok := fpParseNumber(f); ok {
			return c.op.holds(fpCompareNumbers(&n, &c.val.num))
		}
		if c.op != fpOpEq && c.op != fpOpNe {
			return false
		}
	}
	return c.val.matchText(f, c.op)
}
