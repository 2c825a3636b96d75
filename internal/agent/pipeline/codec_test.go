package pipeline

import (
	"reflect"
	"testing"

	"github.com/kinsight/kinsight/internal/agent/output/cloudwatch"
	"github.com/kinsight/kinsight/internal/agent/tail"
)

func TestCodecRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		pl   payload
		tok  token
	}{
		{"empty", payload{Group: "g", Stream: "s", Events: []cloudwatch.Event{}}, token{Positions: []position{}}},
		{"events", payload{Group: "/aws/x", Stream: "node.syslog", Events: []cloudwatch.Event{
			{Timestamp: 1, Message: "a"}, {Timestamp: -5, Message: ""}, {Timestamp: 1 << 50, Message: "\xff\x00é"},
			{Timestamp: 2, Message: "p", End: 1 << 40, Source: 1<<64 - 1, Channel: 2},
			{Timestamp: 3, Message: `"q\\"r"`, End: 5, Source: 9, Channel: 1, Quoted: true, Size: 3},
		}}, token{Positions: []position{
			{File: tail.FileID{Dev: 1, Ino: 2, Head: "head\x00\xff"}, Offset: 99},
			{File: tail.FileID{Dev: 1 << 60, Ino: 0, Head: ""}, Offset: 0},
		}, Cursor: "s=abc;i=1f", Events: 3}},
		{"shared", payload{Group: "g", Stream: "s", Shared: `{\"pod\":1}`, Events: []cloudwatch.Event{
			{Timestamp: 1, Message: `"{}"`, Quoted: true, Size: 10, Shared: `{\"pod\":1}`, SharedAt: 2},
			{Timestamp: 2, Message: "plain"},
			{Timestamp: 3, Message: `"{}"`, Quoted: true, Size: 2},
			{Timestamp: 4, Message: `"x"`, Quoted: true, Size: 10, Shared: `{\"pod\":1}`, SharedAt: 3},
		}}, token{Positions: []position{}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pl, err := decodePayload(encodePayload(tt.pl))
			if err != nil || !reflect.DeepEqual(pl, tt.pl) {
				t.Fatalf("payload = %+v, %v; want %+v", pl, err, tt.pl)
			}
			tok, err := decodeToken(encodeToken(tt.tok))
			if err != nil || !reflect.DeepEqual(tok, tt.tok) {
				t.Fatalf("token = %+v, %v; want %+v", tok, err, tt.tok)
			}
		})
	}
	// A version 1 payload (no positions) from an older agent's disk buffer.
	if pl, err := decodePayload([]byte{1, 1, 'g', 1, 's', 1, 6, 1, 'm'}); err != nil || len(pl.Events) != 1 || pl.Events[0] != (cloudwatch.Event{Timestamp: 3, Message: "m"}) {
		t.Fatalf("version 1 payload = %+v, %v", pl, err)
	}
	// A version 3 payload (no shared part) from an older agent's disk
	// buffer.
	v3 := []byte{3, 1, 'g', 1, 's', 6, 3, '"', 'm', '"', 14, 2, 1, 1, 1}
	if pl, err := decodePayload(v3); err != nil || len(pl.Events) != 1 || pl.Events[0] != (cloudwatch.Event{Timestamp: 3, Message: `"m"`, End: 7, Source: 2, Channel: 1, Quoted: true, Size: 1}) {
		t.Fatalf("version 3 payload = %+v, %v", pl, err)
	}
	// An event whose shared part is not the payload's is written whole.
	other := cloudwatch.Event{Timestamp: 1, Message: `"{}"`, Quoted: true, Size: 6, Shared: `\"a\"`, SharedAt: 2}
	pl, err := decodePayload(encodePayload(payload{Group: "g", Stream: "s", Shared: "x", Events: []cloudwatch.Event{other}}))
	if want := (cloudwatch.Event{Timestamp: 1, Message: `"{\"a\"}"`, Quoted: true, Size: 6}); err != nil || len(pl.Events) != 1 || pl.Events[0] != want {
		t.Fatalf("foreign shared event = %+v, %v; want %+v", pl.Events, err, want)
	}
	// Flag 2 without a shared part, or past the message, is corrupt.
	for _, bad := range [][]byte{
		{4, 1, 'g', 1, 's', 0, 2, 1, 'm', 0, 0, 0, 3, 1, 0},
		{4, 1, 'g', 1, 's', 1, 'k', 2, 1, 'm', 0, 0, 0, 3, 1, 2},
		{3, 1, 'g', 1, 's', 2, 1, 'm', 0, 0, 0, 3, 1, 0},
	} {
		if _, err := decodePayload(bad); err == nil {
			t.Errorf("decodePayload(%q) succeeded", bad)
		}
	}
	// A version 1 token (no cursor) from an older agent's disk buffer.
	if tok, err := decodeToken([]byte{1, 1, 3, 4, 1, 'h', 14}); err != nil || len(tok.Positions) != 1 || tok.Positions[0].Offset != 7 || tok.Cursor != "" {
		t.Fatalf("version 1 token = %+v, %v", tok, err)
	}
	for _, bad := range [][]byte{nil, {2}, {1}, {1, 5, 'a'}, {4, 0, 0}, {3, 0, 0, 1}, append(encodeToken(token{Positions: []position{{Offset: 1}}}), 0)} {
		if _, err := decodeToken(bad); err == nil {
			t.Errorf("decodeToken(%q) succeeded", bad)
		}
		if _, err := decodePayload(bad); err == nil {
			t.Errorf("decodePayload(%q) succeeded", bad)
		}
	}
}

// FuzzDecode checks that corrupt buffer items never panic or allocate
// without bound, and that what decodes re-encodes to the same bytes.
func FuzzDecode(f *testing.F) {
	f.Add(encodePayload(payload{Group: "g", Stream: "s", Events: []cloudwatch.Event{{Timestamp: 3, Message: "m"}}}))
	f.Add(encodeToken(token{Positions: []position{{File: tail.FileID{Dev: 1, Ino: 2, Head: "h"}, Offset: 7}}, Cursor: "c"}))
	f.Add([]byte{1, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Add([]byte{3, 1, 'g', 1, 's', 6, 3, '"', 'm', '"', 14, 2, 1, 1, 1})
	f.Add(encodePayload(payload{Group: "g", Stream: "s", Shared: "k", Events: []cloudwatch.Event{
		{Timestamp: 1, Message: `"{}"`, Quoted: true, Size: 3, Shared: "k", SharedAt: 2}, {Timestamp: 2, Message: "m"}}}))
	f.Fuzz(func(t *testing.T, b []byte) {
		if pl, err := decodePayload(b); err == nil {
			if got := encodePayload(pl); string(got) != string(b) {
				// Varints have one canonical form each only when minimal;
				// a non-minimal input may decode, so compare decoded values.
				if again, err := decodePayload(got); err != nil || !reflect.DeepEqual(again, pl) {
					t.Fatalf("payload does not round-trip: %v", err)
				}
			}
		}
		if tok, err := decodeToken(b); err == nil {
			if again, err := decodeToken(encodeToken(tok)); err != nil || !reflect.DeepEqual(again, tok) {
				t.Fatalf("token does not round-trip: %v", err)
			}
		}
	})
}
