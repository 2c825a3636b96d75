package cloudwatch

import (
	"strings"
	"testing"

	"github.com/kinsight/kinsight/internal/jsonx"
)

func quoted(ts int64, text string) Event {
	return Event{Timestamp: ts, Message: string(jsonx.AppendString(nil, text)), Quoted: true, Size: len(text)}
}

// TestQuotedEvents: a Quoted event is sent and sized as its text.
func TestQuotedEvents(t *testing.T) {
	texts := []string{`{"log":"a \"b\""}`, "tab\there", "é"}
	var plain, q []Event
	for i, s := range texts {
		plain = append(plain, Event{Timestamp: int64(i), Message: s})
		q = append(q, quoted(int64(i), s))
	}
	want := appendPutLogEventsBody(nil, &fastEvents{group: "g", stream: "s", events: plain})
	if got := appendPutLogEventsBody(nil, &fastEvents{group: "g", stream: "s", events: q}); string(got) != string(want) {
		t.Fatalf("body %s, want %s", got, want)
	}
	if n, size := nextBatch(q); n != 3 || size != len(strings.Join(texts, ""))+3*EventOverhead {
		t.Fatalf("nextBatch = %d, %d", n, size)
	}
	for i := range q {
		if q[i].Text() != texts[i] {
			t.Fatalf("Text() = %q, want %q", q[i].Text(), texts[i])
		}
	}
	// Empty: dropped; too long: decoded and cut like a plain one.
	long := strings.Repeat("x", MaxMessageBytes+10)
	p, err := prepare([]Event{quoted(1, "ok"), quoted(2, ""), quoted(3, long)})
	if err != nil || p.invalid != 1 || p.truncated != 1 || len(p.events) != 2 {
		t.Fatalf("prepare = %+v, %v", p, err)
	}
	if e := p.events[1]; e.Quoted || len(e.Message) != MaxMessageBytes || !strings.HasSuffix(e.Message, TruncationMarker) {
		t.Fatalf("long quoted event not cut: quoted %v, %d bytes", e.Quoted, len(e.Message))
	}
	if !p.events[0].Quoted || p.orig(1, 3) != 2 {
		t.Fatalf("prepare lost the quoted event or its index")
	}
}

// sharedSplit returns the quoted event for text with the part of its
// literal from i to j moved to Shared.
func sharedSplit(ts int64, text string, i, j int) Event {
	e := quoted(ts, text)
	e.Shared, e.SharedAt = e.Message[i:j], i
	e.Message = e.Message[:i] + e.Message[j:]
	return e
}

// TestSharedEvents: a Quoted event with a Shared part is sent, sized,
// decoded and cut as the whole literal.
func TestSharedEvents(t *testing.T) {
	texts := []string{`{"log":"a","kubernetes":{"pod":"p\"1"}}`, `{"log":"b","kubernetes":{"pod":"p\"1"}}`}
	var plain, s []Event
	for i, text := range texts {
		plain = append(plain, Event{Timestamp: int64(i), Message: text})
		lit := string(jsonx.AppendString(nil, text))
		at := strings.Index(lit, `{\"pod`)
		s = append(s, sharedSplit(int64(i), text, at, len(lit)-2))
	}
	s = append(s, sharedSplit(2, "edge", 0, 0), sharedSplit(3, "edge", 6, 6))
	plain = append(plain, Event{Timestamp: 2, Message: "edge"}, Event{Timestamp: 3, Message: "edge"})
	want := appendPutLogEventsBody(nil, &fastEvents{group: "g", stream: "s", events: plain})
	if got := appendPutLogEventsBody(nil, &fastEvents{group: "g", stream: "s", events: s}); string(got) != string(want) {
		t.Fatalf("body %s, want %s", got, want)
	}
	for i := range s {
		if s[i].Text() != plain[i].Message {
			t.Fatalf("Text() = %q, want %q", s[i].Text(), plain[i].Message)
		}
	}
	long := strings.Repeat("x", MaxMessageBytes+10)
	p, err := prepare([]Event{s[0], sharedSplit(5, long, 1, 100)})
	if err != nil || p.truncated != 1 || len(p.events) != 2 || p.events[1].Shared != "" || p.events[1].Quoted {
		t.Fatalf("prepare = %+v, %v", p.truncated, err)
	}
	if e := p.events[0]; !e.Quoted || e.Shared == "" {
		t.Fatalf("prepare expanded a sendable shared event")
	}
}
