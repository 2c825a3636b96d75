package cri

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"
	"unicode/utf8"
)

func FuzzCRILine(f *testing.F) {
	for _, s := range []string{
		ts + " stdout F hello",
		"2024-01-02T03:04:05+01:00 stderr P part",
		"2024-01-02T03:04:05.1-05:30 stdout F:x a b",
		"2024-02-30T03:04:05Z stdout F x",
		"2024-01-02T03:04:05Z stdout F \xff\xfe",
		"",
		" ",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		tm, stream, _, msg, ok := parseCRILine([]byte(line))
		if !ok {
			return
		}
		if stream != streamStdout && stream != streamStderr {
			t.Fatalf("stream %d", stream)
		}
		if !bytes.HasSuffix([]byte(line), msg) {
			t.Fatalf("message %q is not the line's tail", msg)
		}
		// Whatever the hand parser accepts, time.Parse reads as the same instant.
		sp := bytes.IndexByte([]byte(line), ' ')
		if ref, err := time.Parse(time.RFC3339Nano, line[:sp]); err == nil && !ref.Equal(tm) {
			t.Fatalf("%q: %v, time.Parse %v", line[:sp], tm, ref)
		}
		p, _ := NewParser(Options{Format: FormatCRI}, 0)
		for _, r := range append(p.Feed([]byte(line), int64(len(line)), t0), p.Flush(t0, true)...) {
			if !utf8.Valid(r.Message) {
				t.Fatalf("invalid UTF-8 %q", r.Message)
			}
		}
	})
}

func FuzzDockerLine(f *testing.F) {
	for _, s := range []string{
		`{"log":"hello\n","stream":"stdout","time":"2024-01-02T03:04:05.123456789Z"}`,
		`{"log":"part","stream":"stderr","time":"2024-01-02T03:04:05Z"}`,
		`{"log":"\u003c\ud83d\ude00\ud800\"\\\n","stream":"stdout","time":"2024-01-02T03:04:05Z"}`,
		`{"log":"a\n","stream":"stdout","attrs":{"k":"v"},"time":"2024-01-02T03:04:05Z"}`,
		`{"log":"\`,
		`{}`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		_, stream, partial, msg, _, _, ok := parseDockerLine([]byte(line), nil, t0)
		if !ok {
			return
		}
		if stream != streamStdout && stream != streamStderr {
			t.Fatalf("stream %d", stream)
		}
		// Differential check against encoding/json on well-formed lines.
		var m map[string]any
		if !utf8.ValidString(line) || json.Unmarshal([]byte(line), &m) != nil || len(m) == 0 {
			return
		}
		for k := range m {
			if k != "log" && k != "stream" && k != "time" {
				return
			}
		}
		logv, isStr := m["log"].(string)
		if !isStr || bytes.ContainsRune([]byte(logv), utf8.RuneError) {
			return
		}
		want := logv
		if n := len(want); n > 0 && want[n-1] == '\n' {
			want = want[:n-1]
		} else if !partial {
			t.Fatalf("%s: not partial without a newline", line)
		}
		if string(msg) != want {
			t.Fatalf("%s: message %q, encoding/json %q", line, msg, want)
		}
	})
}

// FuzzParserStream feeds random bytes split into lines through a parser
// with small caps and checks the guarantees: no panic, valid UTF-8, capped
// sizes, Offsets that never decrease nor pass Pending, and nothing held
// after a forced flush.
func FuzzParserStream(f *testing.F) {
	f.Add([]byte(ts+" stdout P a\n"+ts+" stderr F b\n"+ts+" stdout F c\n"), uint16(4), uint8(0), true)
	f.Add([]byte(`{"log":"a","stream":"stdout"}`+"\n"+`{"log":"b\n","stream":"stdout"}`+"\n"), uint16(3), uint8(2), false)
	f.Add([]byte("x\xff\xfey\n\n\x00\n  at z\nCaused by: q\n"), uint16(2), uint8(3), true)
	f.Fuzz(func(t *testing.T, data []byte, maxBytes uint16, format uint8, multiline bool) {
		opts := Options{Format: Format(format % 4), MaxRecordBytes: int(maxBytes%64) + 1, FlushTimeout: time.Millisecond}
		if multiline {
			opts.Multiline, _ = MultilinePreset(PresetJava, PresetPython, PresetGo)
		}
		p, err := NewParser(opts, 0)
		if err != nil {
			t.Fatal(err)
		}
		var off, lastOff, lastPending int64
		now := t0
		check := func(recs []Record) {
			for _, r := range recs {
				if !utf8.Valid(r.Message) {
					t.Fatalf("invalid UTF-8 %q", r.Message)
				}
				if len(r.Message) > 3*opts.MaxRecordBytes {
					t.Fatalf("record of %d bytes over cap %d", len(r.Message), opts.MaxRecordBytes)
				}
				if r.Offset < lastOff || r.Offset < lastPending || r.Offset > off {
					t.Fatalf("offset %d: last %d, pending %d, fed %d", r.Offset, lastOff, lastPending, off)
				}
				lastOff = r.Offset
			}
			pend := p.Pending()
			if pend < lastPending || pend > off {
				t.Fatalf("pending %d: was %d, fed %d", pend, lastPending, off)
			}
			lastPending = pend
		}
		for i, line := range bytes.SplitAfter(data, []byte("\n")) {
			if len(line) == 0 {
				continue
			}
			off += int64(len(line))
			now = now.Add(time.Duration(line[0]%3) * time.Millisecond)
			check(p.Feed(line, off, now))
			if i%5 == 4 {
				check(p.Flush(now, false))
			}
		}
		check(p.Flush(now, true))
		if p.Pending() != off {
			t.Fatalf("pending %d after forced flush, fed %d", p.Pending(), off)
		}
	})
}
