package insights

import (
	"errors"
	"slices"
	"strings"

	"github.com/kinsight/kinsight/internal/insights/value"
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
	// block is the store block of the events being reset into r; when
	// its constants hold every JSON field the query reads, consts are
	// those fields' slots and values, set on each reset instead of
	// parsing the message.
	block  *Block
	consts []foundValue
	// noMsg: the block's messages were not read, so the filters'
	// substring prefilter cannot run (the filters themselves still do).
	noMsg bool
}

func newRow(q *Query) *row {
	n := len(q.names)
	r := &row{q: q, vals: make([]value.Value, n), has: make([]bool, n)}
	r.contains = func(s string) bool { return containsFast(r.ev.Message, s) }
	return r
}

// reset makes r the row of ev, reusing its slices.
func (r *row) reset(ev *Event) {
	r.ev = *ev
	r.isEvent = true
	r.jsonLoaded = false
	clear(r.has)
	if r.consts != nil {
		for _, c := range r.consts {
			r.set(c.slot, c.v)
		}
		r.jsonLoaded = true
	}
}

// useBlock prepares r for events of block b (nil: no block).
func (r *row) useBlock(b *Block) error {
	r.block, r.consts, r.noMsg = b, r.consts[:0], false
	if b == nil {
		r.consts = nil
		return nil
	}
	p := &r.q.json
	for _, s := range p.slots {
		i := slices.IndexFunc(b.Constants, func(c Constant) bool { return c.Name == r.q.names[s] })
		if i < 0 {
			// Not every field is constant: parse each message, as
			// without a block.
			r.consts = nil
			break
		}
		r.consts = append(r.consts, foundValue{slot: s, v: jsonValue(b.Constants[i].JSON)})
	}
	r.noMsg = b.NoMessage
	if b.NoMessage && (r.consts == nil && len(p.slots) > 0 || r.q.readsMessage) {
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
