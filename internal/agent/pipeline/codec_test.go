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
		pos  []position
	}{
		{"empty", payload{Group: "g", Stream: "s", Events: []cloudwatch.Event{}}, []position{}},
		{"events", payload{Group: "/aws/x", Stream: "node.syslog", Events: []cloudwatch.Event{
			{Timestamp: 1, Message: "a"}, {Timestamp: -5, Message: ""}, {Timestamp: 1 << 50, Message: "\xff\x00é"},
		}}, []position{
			{File: tail.FileID{Dev: 1, Ino: 2, Head: "head\x00\xff"}, Offset: 99},
			{File: tail.FileID{Dev: 1 << 60, Ino: 0, Head: ""}, Offset: 0},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pl, err := decodePayload(encodePayload(tt.pl))
			if err != nil || !reflect.DeepEqual(pl, tt.pl) {
				t.Fatalf("payload = %+v, %v; want %+v", pl, err, tt.pl)
			}
			ps, err := decodeToken(encodeToken(tt.pos))
			if err != nil || !reflect.DeepEqual(ps, tt.pos) {
				t.Fatalf("token = %+v, %v; want %+v", ps, err, tt.pos)
			}
		})
	}
	for _, bad := range [][]byte{nil, {2}, {1}, {1, 5, 'a'}, append(encodeToken([]position{{Offset: 1}}), 0)} {
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
	f.Add(encodeToken([]position{{File: tail.FileID{Dev: 1, Ino: 2, Head: "h"}, Offset: 7}}))
	f.Add([]byte{1, 0xff, 0xff, 0xff, 0xff, 0x0f})
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
		if ps, err := decodeToken(b); err == nil {
			if again, err := decodeToken(encodeToken(ps)); err != nil || !reflect.DeepEqual(again, ps) {
				t.Fatalf("token does not round-trip: %v", err)
			}
		}
	})
}
