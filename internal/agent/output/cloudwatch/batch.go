package cloudwatch

import (
	"encoding/json"
	"errors"
	"fmt"
	"unicode/utf8"
)

// CloudWatch Logs limits for one PutLogEvents call (AWS API reference).
const (
	// MaxBatchBytes is the batch size limit, counted as the sum of the
	// UTF-8 message bytes plus EventOverhead per event.
	MaxBatchBytes = 1_048_576
	// EventOverhead is what AWS adds per event when sizing a batch.
	EventOverhead = 26
	// MaxMessageBytes is the longest message one event can carry: the
	// 1 MB event limit less EventOverhead.
	MaxMessageBytes = MaxBatchBytes - EventOverhead
	// MaxBatchEvents is the event count limit.
	MaxBatchEvents = 10_000
	// MaxBatchSpanMs is the longest time between a batch's first and last
	// event.
	MaxBatchSpanMs = 24 * 60 * 60 * 1000
	// TruncationMarker ends a message cut to MaxMessageBytes.
	TruncationMarker = "…[truncated by kinsight agent]"
)

// Event is one log event.
type Event struct {
	// Timestamp is milliseconds since the Unix epoch.
	Timestamp int64
	// Message is the event's text (UTF-8; invalid bytes become U+FFFD).
	Message string
	// End > 0 places the event in its source for the server's
	// exactly-once check (see positions.go): the position just past it in
	// Source's Channel. 0 means unknown; a request holding such an event
	// goes without the positions header.
	End     int64
	Source  uint64
	Channel uint8
	// Quoted says Message is not the text itself but its JSON string
	// literal, quotes included, exactly as jsonx.AppendString writes it:
	// the agent builds its records this way once, so the request body is
	// a copy instead of a second escaping pass over every record. Size is
	// then the text's own length in bytes, which the limits count.
	Quoted bool
	Size   int
	// Shared, when not empty (Quoted events only), is spliced into Message
	// at SharedAt: the literal is Message[:SharedAt] + Shared +
	// Message[SharedAt:]. The agent's records carry their file's
	// kubernetes object this way, so a batch holds it once, not once per
	// record; it is expanded only while writing the request body.
	Shared   string
	SharedAt int
}

// quotedLen is the length of a Quoted event's literal.
func (e *Event) quotedLen() int { return len(e.Message) + len(e.Shared) }

// appendQuoted appends a Quoted event's literal, Shared spliced in.
func (e *Event) appendQuoted(b []byte) []byte {
	if e.Shared == "" {
		return append(b, e.Message...)
	}
	at := min(max(e.SharedAt, 0), len(e.Message))
	b = append(b, e.Message[:at]...)
	b = append(b, e.Shared...)
	return append(b, e.Message[at:]...)
}

// Literal returns a Quoted event's whole literal (Shared spliced in);
// for a plain event, its Message.
func (e *Event) Literal() string {
	if !e.Quoted || e.Shared == "" {
		return e.Message
	}
	return string(e.appendQuoted(make([]byte, 0, e.quotedLen())))
}

// size is the length of the event's text, as the batch limits count it.
func (e *Event) size() int {
	if e.Quoted {
		return e.Size
	}
	return len(e.Message)
}

// Text returns the event's text, decoding a Quoted message.
func (e *Event) Text() string {
	if !e.Quoted {
		return e.Message
	}
	lit := e.Literal()
	var s string
	if err := json.Unmarshal([]byte(lit), &s); err != nil {
		return lit // not what Quoted promises; the bytes are all there is
	}
	return s
}

// unquote turns a Quoted event into a plain one.
func (e *Event) unquote() {
	if e.Quoted {
		e.Message, e.Quoted, e.Size, e.Shared, e.SharedAt = e.Text(), false, 0, "", 0
	}
}

// ErrUnordered is returned (wrapped) by Send for events not in
// chronological order.
var ErrUnordered = errors.New("events are not in chronological order")

// prepared is the outcome of preparing a Send's events.
type prepared struct {
	events    []Event // sendable events, in input order
	origIndex []int   // events[i] came from input index origIndex[i]
	invalid   int     // dropped: empty message or negative timestamp
	truncated int     // messages cut to MaxMessageBytes
}

// prepare checks ordering and makes every event sendable on its own. It
// copies the slice only when it has to change something.
func prepare(in []Event) (prepared, error) {
	p := prepared{events: in}
	changed := false
	for i := range in {
		if i > 0 && in[i].Timestamp < in[i-1].Timestamp {
			return prepared{}, fmt.Errorf("event %d (timestamp %d) is before event %d (timestamp %d): %w",
				i, in[i].Timestamp, i-1, in[i-1].Timestamp, ErrUnordered)
		}
		e := &in[i]
		if e.Quoted {
			// Written by jsonx: valid UTF-8 once decoded.
			if e.Size <= 0 || e.Timestamp < 0 || e.Size > MaxMessageBytes {
				changed = true
			}
			continue
		}
		if e.Message == "" || e.Timestamp < 0 || len(e.Message) > MaxMessageBytes || !utf8.ValidString(e.Message) {
			changed = true
		}
	}
	if !changed {
		return p, nil
	}
	p.events = make([]Event, 0, len(in))
	p.origIndex = make([]int, 0, len(in))
	for i, e := range in {
		if e.size() <= 0 || e.Timestamp < 0 {
			p.invalid++
			continue
		}
		if e.Quoted && e.Size > MaxMessageBytes {
			e.unquote() // rare: cut the text itself
		}
		if e.Quoted {
			p.events = append(p.events, e)
			p.origIndex = append(p.origIndex, i)
			continue
		}
		if !utf8.ValidString(e.Message) {
			e.Message = toValidUTF8(e.Message)
		}
		if len(e.Message) > MaxMessageBytes {
			e.Message = truncate(e.Message)
			p.truncated++
		}
		p.events = append(p.events, e)
		p.origIndex = append(p.origIndex, i)
	}
	return p, nil
}

// orig maps an index into p.events (or len(p.events)) to the input index
// just past it, so acknowledged prefixes are reported in the caller's terms.
func (p *prepared) orig(n, inputLen int) int {
	if p.origIndex == nil {
		return n
	}
	if n >= len(p.origIndex) {
		return inputLen
	}
	return p.origIndex[n]
}

// toValidUTF8 replaces each invalid byte sequence with U+FFFD, as the JSON
// encoder would, so that sizes are computed on the bytes that are sent.
func toValidUTF8(s string) string {
	b := make([]byte, 0, len(s)+8)
	for len(s) > 0 {
		r, size := utf8.DecodeRuneInString(s)
		if r == utf8.RuneError && size == 1 {
			b = utf8.AppendRune(b, utf8.RuneError)
		} else {
			b = append(b, s[:size]...)
		}
		s = s[size:]
	}
	return string(b)
}

// truncate cuts s to MaxMessageBytes at a rune boundary, marker included.
func truncate(s string) string {
	cut := MaxMessageBytes - len(TruncationMarker)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + TruncationMarker
}

// nextBatch returns the length of the longest prefix of events that is one
// compliant batch (at least 1 when events is not empty) and its size in
// AWS's counting.
func nextBatch(events []Event) (n, size int) {
	if len(events) == 0 {
		return 0, 0
	}
	first := events[0].Timestamp
	for n < len(events) && n < MaxBatchEvents {
		e := events[n]
		s := e.size() + EventOverhead
		if size+s > MaxBatchBytes || e.Timestamp-first > MaxBatchSpanMs {
			break
		}
		size += s
		n++
	}
	return n, size
}
