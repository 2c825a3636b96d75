package cli

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestTailCursorAdmit(t *testing.T) {
	type step struct {
		e    logEvent
		want bool
	}
	tests := []struct {
		name       string
		window     time.Duration
		steps      []step
		wantResume int64
	}{
		{
			name: "no window: ids at the newest millisecond",
			steps: []step{
				{logEvent{Timestamp: 100, EventID: "a"}, true},
				{logEvent{Timestamp: 100, EventID: "a"}, false}, // replayed at the cursor
				{logEvent{Timestamp: 100, EventID: "b"}, true},
				{logEvent{Timestamp: 90, EventID: "old"}, true}, // late, never seen
				{logEvent{Timestamp: 101, EventID: "c"}, true},
				{logEvent{Timestamp: 101, EventID: "c"}, false},
				{logEvent{Timestamp: 100, EventID: "a"}, true}, // forgotten: a resume starts at 101
				{logEvent{Timestamp: 101, LogStreamName: "s", Message: "m"}, true},
				{logEvent{Timestamp: 101, LogStreamName: "s", Message: "m"}, false}, // no id: stream+message
				{logEvent{Timestamp: 101, LogStreamName: "t", Message: "m"}, true},
			},
			wantResume: 101,
		},
		{
			name:   "late window remembers events behind the newest",
			window: 10 * time.Millisecond,
			steps: []step{
				{logEvent{Timestamp: 100, EventID: "a"}, true},
				{logEvent{Timestamp: 120, EventID: "b"}, true},
				{logEvent{Timestamp: 112, EventID: "late"}, true},
				{logEvent{Timestamp: 112, EventID: "late"}, false}, // replayed from 110
				{logEvent{Timestamp: 120, EventID: "b"}, false},
				{logEvent{Timestamp: 105, EventID: "too late"}, true}, // before the window: not kept
				{logEvent{Timestamp: 105, EventID: "too late"}, true},
				{logEvent{Timestamp: 200, EventID: "c"}, true},
				{logEvent{Timestamp: 112, EventID: "late"}, true}, // pruned with the window
			},
			wantResume: 190,
		},
		{
			name:   "never resumes before the start",
			window: time.Second,
			steps: []step{
				{logEvent{Timestamp: 100, EventID: "a"}, true},
				{logEvent{Timestamp: 100, EventID: "a"}, false},
			},
			wantResume: 50,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := newTailCursor(50, tc.window)
			for i, s := range tc.steps {
				if got := c.admit(s.e); got != s.want {
					t.Fatalf("step %d: admit(%+v) = %v, want %v", i, s.e, got, s.want)
				}
			}
			if got := c.resumeAt(); got != tc.wantResume {
				t.Fatalf("resumeAt = %d, want %d", got, tc.wantResume)
			}
		})
	}
}

func TestTailCursorBoundsMemory(t *testing.T) {
	c := newTailCursor(0, time.Hour)
	for i := range maxCursorIDs + 10 {
		c.admit(logEvent{Timestamp: int64(i / 2), EventID: strconv.Itoa(i)})
	}
	if len(c.ids) > maxCursorIDs {
		t.Fatalf("%d ids kept, bound is %d", len(c.ids), maxCursorIDs)
	}
	// Having forgotten ids, the cursor must not ask for their events again.
	if got, forgotten := c.resumeAt(), int64(maxCursorIDs/2-1); got <= forgotten {
		t.Fatalf("resumeAt = %d, at or before forgotten timestamps (%d)", got, forgotten)
	}
}

func TestDecodeTailLine(t *testing.T) {
	tests := []struct {
		line    string
		want    logEvent
		wantOK  bool
		wantErr bool
	}{
		{line: "", wantOK: false},
		{line: "  \t", wantOK: false},
		{line: `{"logStreamName":"s","timestamp":5,"message":"hi","ingestionTime":6,"eventId":"e"}`,
			want: logEvent{LogStreamName: "s", Timestamp: 5, Message: "hi", IngestionTime: 6, EventID: "e"}, wantOK: true},
		{line: `{"timestamp":0,"message":"epoch","future":{"x":1}}`, want: logEvent{Message: "epoch"}, wantOK: true},
		{line: `{"message":"no time"}`, wantErr: true},
		{line: `{"timestamp":"5"}`, wantErr: true},
		{line: `[1,2]`, wantErr: true},
		{line: `{"timestamp":5`, wantErr: true},
		{line: `null`, wantErr: true},
	}
	for _, tc := range tests {
		got, ok, err := decodeTailLine([]byte(tc.line))
		if tc.wantErr {
			if err == nil {
				t.Errorf("decodeTailLine(%q) = %+v, want an error", tc.line, got)
			}
			continue
		}
		if err != nil || ok != tc.wantOK || got != tc.want {
			t.Errorf("decodeTailLine(%q) = %+v, %v, %v; want %+v, %v", tc.line, got, ok, err, tc.want, tc.wantOK)
		}
	}
}

func TestReadLine(t *testing.T) {
	const limit = 10
	long := strings.Repeat("x", 100)
	in := "one\r\n\n" + long + "\nexactly10c\n" + strings.Repeat("y", 11) + "\nlast\npartial"
	br := bufio.NewReaderSize(strings.NewReader(in), 16)
	want := []struct {
		line string
		err  error
	}{
		{"one", nil}, {"", nil}, {"", errLineTooLong}, {"exactly10c", nil}, {"", errLineTooLong}, {"last", nil}, {"", io.EOF},
	}
	for i, w := range want {
		line, err := readLine(br, limit)
		if string(line) != w.line || !errors.Is(err, w.err) {
			t.Fatalf("read %d = %q, %v; want %q, %v", i, line, err, w.line, w.err)
		}
	}
}

func TestParseAWSError(t *testing.T) {
	tests := []struct {
		header, body string
		code, msg    string
	}{
		{"", `{"__type":"com.amazonaws.logs#ThrottlingException","message":"slow"}`, "ThrottlingException", "slow"},
		{"", `{"__type":"InvalidParameterException","Message":"bad"}`, "InvalidParameterException", "bad"},
		{"AccessDeniedException:http://internal", `{"message":"no"}`, "AccessDeniedException", "no"},
		{"", "404 page not found\n", "", "404 page not found"},
	}
	for _, tc := range tests {
		h := http.Header{}
		if tc.header != "" {
			h.Set("X-Amzn-ErrorType", tc.header)
		}
		code, msg := parseAWSError(h, []byte(tc.body))
		if code != tc.code || msg != tc.msg {
			t.Errorf("parseAWSError(%q, %q) = %q, %q; want %q, %q", tc.header, tc.body, code, msg, tc.code, tc.msg)
		}
	}
}

func FuzzDecodeTailLine(f *testing.F) {
	for _, s := range []string{"", " ", evLine("a", t0, "e", "m"), `{"timestamp":1}`, `{"timestamp":-1,"message":"\u0000"}`, `{`, `null`, `{"timestamp":1e3}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		e, ok, err := decodeTailLine(line)
		if err != nil {
			if ok {
				t.Fatal("ok with an error")
			}
			return
		}
		if !ok {
			if len(bytes.TrimSpace(line)) != 0 {
				t.Fatalf("non-blank line %q taken for a heartbeat", line)
			}
			return
		}
		// Whatever decodes prints, in both formats.
		p := newPrinter(io.Discard, true, time.UTC)
		if err := p.event(e); err != nil {
			t.Fatal(err)
		}
		p = newPrinter(io.Discard, false, time.UTC)
		if err := p.event(e); err != nil {
			t.Fatal(err)
		}
	})
}

func FuzzReadLine(f *testing.F) {
	f.Add([]byte("a\nb\r\n\n"), 4)
	f.Add([]byte(strings.Repeat("x", 40)+"\nshort\n"), 8)
	f.Add([]byte("no newline"), 100)
	f.Fuzz(func(t *testing.T, data []byte, limit int) {
		if limit < 1 || limit > 1<<16 {
			return
		}
		// The reference: split on newlines; a last piece without one is
		// not a line.
		pieces := bytes.Split(data, []byte("\n"))
		pieces = pieces[:len(pieces)-1]
		br := bufio.NewReaderSize(bytes.NewReader(data), 16)
		for i, want := range pieces {
			got, err := readLine(br, limit)
			if len(want) > limit { // the limit counts a CR, not the LF
				if !errors.Is(err, errLineTooLong) {
					t.Fatalf("line %d (%d bytes > %d): %q, %v; want errLineTooLong", i, len(want), limit, got, err)
				}
				continue
			}
			want = bytes.TrimSuffix(want, []byte("\r"))
			if err != nil || !bytes.Equal(got, want) {
				t.Fatalf("line %d = %q, %v; want %q", i, got, err, want)
			}
		}
		if _, err := readLine(br, limit); !errors.Is(err, io.EOF) {
			t.Fatalf("after the last line: %v, want EOF", err)
		}
	})
}

func BenchmarkDecodeTailLine(b *testing.B) {
	line := []byte(evLine("fluent-bit-abcde", t0, "38271650000000000000000000000000000000000000000000000",
		`{"log":"INFO request served in 3ms path=/healthz","stream":"stdout","kubernetes":{"pod_name":"web-1"}}`))
	b.ReportAllocs()
	b.SetBytes(int64(len(line)))
	for b.Loop() {
		if _, _, err := decodeTailLine(line); err != nil {
			b.Fatal(err)
		}
	}
}

// FuzzTailCursorResume simulates a follow session against a server that
// stores events up to the late window out of order and, on each reconnect,
// replays everything from the requested startTime: every event must be
// printed exactly once however the disconnects fall.
func FuzzTailCursorResume(f *testing.F) {
	f.Add([]byte{10, 0x10, 0x20, 0x05, 0x80, 0x31, 0x02, 0x80, 0x80, 0x40})
	f.Add([]byte{0, 0x10, 0x10, 0x80, 0x10, 0x00})
	f.Add([]byte{19, 0x7f, 0x0f, 0x8f, 0x0e, 0x70, 0x80})
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 {
			return
		}
		window := int64(data[0] % 20)
		cur := newTailCursor(1000, time.Duration(window)*time.Millisecond)
		type ev struct {
			id string
			ts int64
		}
		var stored []ev
		printed := map[string]int{}
		newest := int64(1000)
		connected := true
		deliver := func(e ev) {
			if cur.admit(logEvent{Timestamp: e.ts, EventID: e.id}) {
				printed[e.id]++
			}
		}
		reconnect := func() {
			start := cur.resumeAt()
			replay := slices.Clone(stored)
			slices.SortStableFunc(replay, func(a, b ev) int { return int(a.ts - b.ts) })
			for _, e := range replay {
				if e.ts >= start {
					deliver(e)
				}
			}
			connected = true
		}
		for i, b := range data[1:] {
			if b&0x80 != 0 {
				connected = false
				continue
			}
			// Advance by up to 7 ms or arrive up to 15 ms late, never
			// later than the window the server promises.
			// Nothing before the session's start is ever sent.
			ts := max(1000, newest+int64(b>>4)-min(int64(b&0x0f), window))
			newest = max(newest, ts)
			e := ev{id: strconv.Itoa(i), ts: ts}
			stored = append(stored, e)
			if !connected {
				reconnect() // the replay includes e
				continue
			}
			deliver(e)
		}
		if !connected {
			reconnect()
		}
		for _, e := range stored {
			if printed[e.id] != 1 {
				t.Fatalf("event %s at %d printed %d times (window %d)", e.id, e.ts, printed[e.id], window)
			}
		}
	})
}
