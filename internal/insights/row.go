package insights

import (
	"errors"
	"slices"
	"strings"

	"github.com/kinsight/kinsight/internal/insights/value"
	"github.com/kinsight/kinsight/internal/logstore/elide"
)

// row is one row of the pipeline: an event (isEvent) whose fields are read
// lazily from it, or a row made by stats or pattern. vals/has hold the
// slots read or assigned so far.
type row struct {
	q          *Query
	ev         Event
	isEvent    bool
	jsonLoaded bool
	vals       []value.Value
	has        []bool
	// aggs holds a stats group's aggregate results while its output
	// expressions are evaluated.
	aggs []value.Value
	// keys are the row's sort keys for the sort being run.
	keys []value.Value
	// contains tests the event's message for a substring, for the
	// filters' prefilter; made once per row so calls do not allocate.
	contains func(string) bool
	// pathBuf and found are loadJSON's scratch, reused across events.
	pathBuf []byte
	found   []foundValue
	// block is the store block of the events being reset into r; consts
	// are the slots and values of the JSON fields the query reads that
	// its constants hold, set on each reset; the message is parsed only
	// for the others (none when constsAll). preset marks those slots for
	// the parse, which then stops once the rest are found.
	block     *Block
	consts    []foundValue
	constsAll bool
	preset    []bool
	// noMsg: the block's messages were not read, so the filters'
	// substring prefilter cannot run (the filters themselves still do).
	noMsg bool
	// members are the block's elided members (Constant.Elided): its
	// messages come without them. restore says the query needs the
	// original text (the executor restores each message before reset);
	// otherwise the message is read as it is, and contains also looks in
	// the members' text (what the original message held there).
	members []elide.Member
	restore bool
	// elidedLen is what each message's members add to its length.
	elidedLen int
}

func newRow(q *Query) *row {
	n := len(q.names)
	r := &row{q: q, vals: make([]value.Value, n), has: make([]bool, n)}
	r.contains = func(s string) bool {
		if containsFast(r.ev.Message, s) {
			return true
		}
		if !r.restore {
			for _, m := range r.members {
				if containsFast(m.Value, s) {
					return true
				}
			}
		}
		return false
	}
	return r
}

// reset makes r the row of ev, reusing its slices.
func (r *row) reset(ev *Event) {
	r.ev = *ev
	r.isEvent = true
	r.jsonLoaded = false
	clear(r.has)
	for _, c := range r.consts {
		r.set(c.slot, c.v)
	}
	r.jsonLoaded = r.constsAll
}

// useBlock prepares r for events of block b (nil: no block); keepsRows
// says the query keeps event rows (anything but a stats sink), which
// print or compare @message.
func (r *row) useBlock(b *Block, keepsRows bool) error {
	r.block, r.consts, r.constsAll, r.noMsg = b, r.consts[:0], false, false
	r.members, r.restore, r.elidedLen = r.members[:0], false, 0
	if r.preset != nil {
		clear(r.preset)
	}
	if b == nil {
		return nil
	}
	for _, c := range b.Constants {
		if c.Elided() {
			r.members = append(r.members, elide.Member{Key: c.Name, Value: c.JSON})
			r.elidedLen += len(c.JSON) - len(elide.Placeholder)
		}
	}
	p := &r.q.json
	r.constsAll = true
	for _, s := range p.slots {
		name := r.q.names[s]
		i := slices.IndexFunc(b.Constants, func(c Constant) bool { return c.Name == name })
		if i < 0 {
			r.constsAll = false
			// A field under an elided member that is not a constant
			// (an object, or a leaf the store did not record) is only
			// in the original text.
			for _, m := range r.members {
				if name == m.Key || strings.HasPrefix(name, m.Key) && len(name) > len(m.Key) && name[len(m.Key)] == '.' {
					r.restore = true
				}
			}
			continue
		}
		r.consts = append(r.consts, foundValue{slot: s, v: jsonValue(b.Constants[i].JSON)})
	}
	switch {
	case r.constsAll:
	case len(r.members) == 0:
		// Some fields must be parsed: parse them all, as without a block.
		// Only a block with elided members promises no path occurs twice
		// in a message, which is what makes stopping the parse once the
		// non-constant fields are found give the same answer.
		r.consts = r.consts[:0]
	default:
		if r.preset == nil {
			r.preset = make([]bool, len(r.q.names))
		}
		for _, c := range r.consts {
			r.preset[c.slot] = true
		}
	}
	if len(r.members) > 0 && (r.q.readsMessage || keepsRows) {
		r.restore = true
	}
	r.noMsg = b.NoMessage
	if b.NoMessage && (!r.constsAll && len(p.slots) > 0 || r.q.readsMessage) {
		// PlanBlock says such a block needs its messages.
		return errors.New("insights: the store left out messages the query needs")
	}
	return nil
}

// clone copies r for keeping after the worker moves on.
func (r *row) clone() *row {
	c := &row{q: r.q, ev: r.ev, isEvent: r.isEvent, jsonLoaded: r.jsonLoaded}
	c.vals = append([]value.Value(nil), r.vals...)
	c.has = append([]bool(nil), r.has...)
	c.keys = append([]value.Value(nil), r.keys...)
	c.contains = func(s string) bool { return containsFast(c.ev.Message, s) }
	return c
}

// copyFrom makes r a copy of o (of the same query), reusing r's slices.
func (r *row) copyFrom(o *row) {
	r.ev, r.isEvent, r.jsonLoaded = o.ev, o.isEvent, o.jsonLoaded
	copy(r.vals, o.vals)
	copy(r.has, o.has)
	r.keys = append(r.keys[:0], o.keys...)
}

// size estimates the bytes a kept row holds.
func (r *row) size() int64 {
	n := int64(160 + 40*len(r.vals) + 32*len(r.keys) + len(r.ev.Message) + len(r.ev.Ptr))
	for _, v := range r.vals {
		if v.Kind() == value.KindString {
			n += int64(len(v.String()))
		}
	}
	return n
}

func (r *row) set(s int, v value.Value) {
	r.vals[s] = v
	r.has[s] = true
}

func (r *row) get(s int) value.Value {
	if r.has[s] {
		return r.vals[s]
	}
	if !r.isEvent {
		return value.Value{}
	}
	var v value.Value
	switch r.q.kinds[s] {
	case slotTimestamp:
		v = value.Time(r.ev.Timestamp)
	case slotMessage:
		v = value.Str(r.ev.Message)
	case slotLogStream:
		v = value.Str(r.ev.Stream)
	case slotLog:
		v = value.Str(r.ev.Group)
	case slotIngestionTime:
		v = value.Time(r.ev.IngestionTime)
	case slotPtr:
		v = value.Str(r.ev.Ptr)
	default:
		if !r.jsonLoaded {
			r.loadJSON()
			if r.has[s] {
				return r.vals[s]
			}
		}
	}
	r.set(s, v)
	return v
}

// timestamp is the row's @timestamp for earliest/latest.
func (r *row) timestamp() int64 {
	if r.isEvent {
		return r.ev.Timestamp
	}
	if s, ok := r.q.slotOf["@timestamp"]; ok {
		t, _ := r.get(s).AsTime()
		return t
	}
	return 0
}

// containsFast is strings.Contains, quicker for the `"value"` needles of
// field = "value": strings.Index skips ahead by the needle's first byte,
// and a quote is everywhere in JSON, so search the inside and check the
// quotes around each hit.
func containsFast(msg, needle string) bool {
	if len(needle) < 3 || needle[0] != '"' || needle[len(needle)-1] != '"' {
		return strings.Contains(msg, needle)
	}
	inner := needle[1 : len(needle)-1]
	for i := 0; ; {
		k := strings.Index(msg[i:], inner)
		if k < 0 {
			return false
		}
		k += i
		if k > 0 && msg[k-1] == '"' && k+len(inner) < len(msg) && msg[k+len(inner)] == '"' {
			return true
		}
		i = k + 1
	}
}
