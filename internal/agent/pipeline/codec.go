package pipeline

import (
	"encoding/binary"
	"errors"
	"unsafe"

	"github.com/kinsight/kinsight/internal/agent/output/cloudwatch"
	"github.com/kinsight/kinsight/internal/agent/tail"
)

// The buffer stores opaque bytes; these are their encodings. Both are
// sequences of uvarints and length-prefixed strings, versioned by a first byte.
//
//	payload: 4, group, stream, shared, then events to the end, each
//	         (timestamp zigzag varint, message, end zigzag varint, source
//	         uvarint, channel byte, flags byte [, size uvarint if flags&1:
//	         the message is Quoted] [, at uvarint if flags&2: shared is
//	         spliced into the message at byte at])
//	         (version 3, still read from old disk buffers, had no shared
//	         and no flag 2; versions 1 and 2 had a count n before the
//	         events, and no position (1) or flags)
//
// Version 3 has no count so that a batch is built as its payload, event by
// event (appendPayloadEvent), and pushed without a second copy. Version 4
// holds the part every record of a stream repeats (the quoted kubernetes
// object, cloudwatch.Event.Shared) once per payload instead of once per
// event: a batch of 1 KB records is then about a fifth of the bytes.
//	token:   2, n, n × (dev, ino, head, offset), journal cursor, events
//	         (version 1, still read from old disk buffers, had neither)

const (
	codecVersion = 4
	tokenVersion = 2
)

var errCorrupt = errors.New("pipeline: corrupt buffer item")

// position is a (file, offset) a payload covers.
type position struct {
	File   tail.FileID
	Offset int64
}

type payload struct {
	Group, Stream string
	// Shared is what events with a Shared part share (one per payload).
	Shared string
	Events []cloudwatch.Event
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func encodePayload(p payload) []byte {
	n := 16 + len(p.Group) + len(p.Stream) + len(p.Shared)
	for i := range p.Events {
		n += 32 + len(p.Events[i].Message)
		if p.Events[i].Shared != p.Shared {
			n += len(p.Events[i].Shared)
		}
	}
	b := appendPayloadHeader(make([]byte, 0, n), p.Group, p.Stream, p.Shared)
	for i := range p.Events {
		b = appendPayloadEvent(b, &p.Events[i], p.Shared)
	}
	return b
}

// appendPayloadHeader starts a payload whose events share shared; events
// follow.
func appendPayloadHeader(b []byte, group, stream, shared string) []byte {
	b = append(b, codecVersion)
	b = appendString(b, group)
	b = appendString(b, stream)
	return appendString(b, shared)
}

// appendPayloadEvent appends one event to a payload whose header has
// shared. An event sharing something else (its file's kubernetes object
// changed within a batch) is written whole.
func appendPayloadEvent(b []byte, e *cloudwatch.Event, shared string) []byte {
	b = binary.AppendVarint(b, e.Timestamp)
	split := e.Quoted && e.Shared != "" && e.Shared == shared
	switch {
	case e.Quoted && e.Shared != "" && !split:
		lit := e.Literal()
		b = appendString(b, lit)
	default:
		b = appendString(b, e.Message)
	}
	b = binary.AppendVarint(b, e.End)
	b = binary.AppendUvarint(b, e.Source)
	b = append(b, e.Channel)
	switch {
	case split:
		b = append(b, 3)
		b = binary.AppendUvarint(b, uint64(e.Size))
		return binary.AppendUvarint(b, uint64(min(max(e.SharedAt, 0), len(e.Message))))
	case e.Quoted:
		b = append(b, 1)
		return binary.AppendUvarint(b, uint64(e.Size))
	}
	return append(b, 0)
}

// token is what a payload covers: file positions and, for journal entries,
// the cursor of the newest entry in it or in any payload pushed before it;
// Events counts its events, so a dropped payload is counted in events.
type token struct {
	Positions []position
	Cursor    string
	Events    int
}

func encodeToken(t token) []byte {
	var b []byte
	b = append(b, tokenVersion)
	b = binary.AppendUvarint(b, uint64(len(t.Positions)))
	for _, p := range t.Positions {
		b = binary.AppendUvarint(b, p.File.Dev)
		b = binary.AppendUvarint(b, p.File.Ino)
		b = appendString(b, p.File.Head)
		b = binary.AppendVarint(b, p.Offset)
	}
	b = appendString(b, t.Cursor)
	return binary.AppendUvarint(b, uint64(t.Events))
}

// reader decodes; the first error sticks.
type reader struct {
	b   []byte
	err error
}

func (r *reader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err = errCorrupt
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) varint() int64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.err = errCorrupt
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) str() string {
	n := r.uvarint()
	if r.err != nil {
		return ""
	}
	if n > uint64(len(r.b)) {
		r.err = errCorrupt
		return ""
	}
	// No copy: payloads and tokens are never modified once encoded, and
	// the strings keep the bytes alive for as long as they are used.
	s := unsafe.String(unsafe.SliceData(r.b), int(n))
	r.b = r.b[n:]
	return s
}

// count reads a count and checks it against the bytes left, each element
// taking at least min bytes, so corrupt input cannot make a huge allocation.
func (r *reader) count(min int) int {
	n := r.uvarint()
	if r.err == nil && n > uint64(len(r.b)/min) {
		r.err = errCorrupt
	}
	return int(n)
}

func (r *reader) byte() byte {
	if r.err != nil {
		return 0
	}
	if len(r.b) == 0 {
		r.err = errCorrupt
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

// version reads a payload's version byte (1 or codecVersion).
func (r *reader) version() byte {
	if len(r.b) == 0 || r.b[0] < 1 || r.b[0] > codecVersion {
		r.err = errCorrupt
		return 0
	}
	v := r.b[0]
	r.b = r.b[1:]
	return v
}

func (r *reader) done() error {
	if r.err == nil && len(r.b) != 0 {
		r.err = errCorrupt
	}
	return r.err
}

func decodePayload(b []byte) (payload, error) { return decodePayloadInto(nil, b) }

// decodePayloadInto decodes b appending its events to evs[:0] (nil: a new
// slice).
func decodePayloadInto(evs []cloudwatch.Event, b []byte) (payload, error) {
	r := reader{b: b}
	v := r.version()
	var p payload
	p.Group = r.str()
	p.Stream = r.str()
	if v >= 4 {
		p.Shared = r.str()
	}
	n := -1 // version 3: to the end
	if v < 3 {
		n = r.count(2)
	}
	if r.err == nil {
		// Events take at least 6 bytes in version 3; records, hundreds.
		if want := max(n, len(r.b)/256); evs == nil || cap(evs) < want {
			evs = make([]cloudwatch.Event, 0, want)
		}
		p.Events = evs[:0]
	}
	for i := 0; (i < n || (n < 0 && len(r.b) > 0)) && r.err == nil; i++ {
		e := cloudwatch.Event{Timestamp: r.varint(), Message: r.str()}
		if v >= 2 {
			e.End = r.varint()
			e.Source = r.uvarint()
			e.Channel = r.byte()
		}
		if v >= 3 {
			switch f := r.byte(); {
			case f == 0:
			case f == 1, f == 3 && v >= 4:
				e.Quoted = true
				e.Size = int(min(r.uvarint(), 1<<40))
				if f == 3 {
					at := r.uvarint()
					if at > uint64(len(e.Message)) || p.Shared == "" {
						r.err = errCorrupt
						break
					}
					e.Shared, e.SharedAt = p.Shared, int(at)
				}
			default:
				r.err = errCorrupt
			}
		}
		p.Events = append(p.Events, e)
	}
	return p, r.done()
}

// payloadStream reads only the group and stream of an encoded payload.
func payloadStream(b []byte) (group, stream string, err error) {
	r := reader{b: b}
	r.version()
	group = r.str()
	stream = r.str()
	return group, stream, r.err // version 4's shared follows; not needed
}

func decodeToken(b []byte) (token, error) {
	r := reader{b: b}
	v := byte(0)
	if len(b) > 0 {
		v = b[0]
		r.b = b[1:]
	}
	if v != 1 && v != tokenVersion {
		return token{}, errCorrupt
	}
	n := r.count(4)
	var ps []position
	if r.err == nil {
		ps = make([]position, 0, n)
	}
	for i := 0; i < n && r.err == nil; i++ {
		var p position
		p.File.Dev = r.uvarint()
		p.File.Ino = r.uvarint()
		p.File.Head = r.str()
		p.Offset = r.varint()
		ps = append(ps, p)
	}
	t := token{Positions: ps}
	if v == tokenVersion {
		t.Cursor = r.str()
		t.Events = int(r.uvarint())
	}
	return t, r.done()
}
