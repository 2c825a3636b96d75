package cloudwatch

import (
	"errors"
	"strconv"
	"strings"
	"testing"
)

// decodePositions is a small decoder of the header, written from the
// contract (not from appendPositions), for the tests.
func decodePositions(h string, n int) ([]Event, error) {
	v, rest, _ := strings.Cut(h, ";")
	if v != "v1" || rest == "" {
		return nil, errors.New("bad version")
	}
	var out []Event
	for run := range strings.SplitSeq(rest, ";") {
		f := strings.Split(run, ",")
		if len(f) < 3 || len(f[0]) < 1 || len(f[0]) > 16 {
			return nil, errors.New("short run")
		}
		src, err := strconv.ParseUint(f[0], 16, 64)
		if err != nil || strings.ToLower(f[0]) != f[0] {
			return nil, errors.New("bad source")
		}
		ch, err := strconv.ParseUint(f[1], 10, 8)
		if err != nil {
			return nil, errors.New("bad channel")
		}
		end, err := strconv.ParseInt(f[2], 10, 64)
		if err != nil || end < 0 {
			return nil, errors.New("bad end")
		}
		out = append(out, Event{Source: src, Channel: uint8(ch), End: end})
		for _, d := range f[3:] {
			delta, err := strconv.ParseInt(d, 10, 64)
			if err != nil || delta < 1 {
				return nil, errors.New("bad delta")
			}
			end += delta
			out = append(out, Event{Source: src, Channel: uint8(ch), End: end})
		}
	}
	if len(out) != n {
		return nil, errors.New("count mismatch")
	}
	return out, nil
}

func TestAppendPositions(t *testing.T) {
	ev := func(src uint64, ch uint8, end int64) Event { return Event{Source: src, Channel: ch, End: end} }
	tests := []struct {
		name   string
		events []Event
		want   string
		ok     bool
	}{
		{"one run", []Event{ev(0xab, 1, 10), ev(0xab, 1, 25), ev(0xab, 1, 26)}, "v1;ab,1,10,15,1", true},
		{"channels interleave", []Event{ev(0xab, 1, 10), ev(0xab, 2, 5), ev(0xab, 1, 20), ev(0xab, 2, 9)}, "v1;ab,1,10;ab,2,5;ab,1,20;ab,2,9", true},
		{"sources", []Event{ev(1, 0, 1), ev(0xffffffffffffffff, 0, 100)}, "v1;1,0,1;ffffffffffffffff,0,100", true},
		{"end goes back in a channel", []Event{ev(1, 1, 10), ev(1, 2, 3), ev(1, 1, 9)}, "", false},
		{"same end twice", []Event{ev(1, 1, 10), ev(1, 1, 10)}, "", false},
		{"no position", []Event{ev(1, 1, 10), {Message: "x"}}, "", false},
		{"empty", nil, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, ok := appendPositions(nil, tt.events, map[chanKey]int64{})
			if ok != tt.ok || (ok && string(b) != tt.want) {
				t.Fatalf("appendPositions = %q, %v; want %q, %v", b, ok, tt.want, tt.ok)
			}
			if !ok {
				return
			}
			got, err := decodePositions(string(b), len(tt.events))
			if err != nil {
				t.Fatal(err)
			}
			for i := range got {
				if got[i] != tt.events[i] {
					t.Fatalf("event %d decodes as %+v, want %+v", i, got[i], tt.events[i])
				}
			}
		})
	}
}

// FuzzAppendPositions: whatever the encoder accepts, the decoder reads
// back as the same positions; what it refuses breaks the contract.
func FuzzAppendPositions(f *testing.F) {
	f.Add([]byte{1, 1, 10, 1, 1, 5, 2, 2, 7, 1, 1, 1})
	f.Add([]byte{0, 0, 0})
	f.Add([]byte{255, 2, 200, 255, 2, 201, 3, 0, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		var events []Event
		end := map[chanKey]int64{}
		for ; len(b) >= 3; b = b[3:] {
			e := Event{Source: uint64(b[0]) * 0x9e3779b97f4a7c15, Channel: b[1] % 3, End: int64(b[2]) - 8}
			k := chanKey{e.Source, e.Channel}
			if b[2]&1 == 0 { // mostly growing ends, sometimes arbitrary ones
				e.End = end[k] + int64(b[2])
			}
			end[k] = max(end[k], e.End)
			events = append(events, e)
		}
		h, ok := appendPositions(nil, events, map[chanKey]int64{})
		valid := len(events) > 0
		last := map[chanKey]int64{}
		for _, e := range events {
			k := chanKey{e.Source, e.Channel}
			if m, seen := last[k]; e.End <= 0 || (seen && e.End <= m) {
				valid = false
			}
			last[k] = e.End
		}
		if ok != valid {
			t.Fatalf("appendPositions ok = %v for %+v", ok, events)
		}
		if !ok {
			return
		}
		got, err := decodePositions(string(h), len(events))
		if err != nil {
			t.Fatalf("%q: %v", h, err)
		}
		for i := range got {
			if got[i] != events[i] {
				t.Fatalf("event %d decodes as %+v, want %+v", i, got[i], events[i])
			}
		}
	})
}
