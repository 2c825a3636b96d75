package cri

import (
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

var t0 = time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)

// step is one call on a Parser: a line to feed, or a Flush after advancing
// the clock (flush > 0) or forced.
type step struct {
	line  string
	flush time.Duration
	force bool
}

func feed(lines ...string) []step {
	s := make([]step, len(lines))
	for i, l := range lines {
		s[i] = step{line: l}
	}
	return s
}

// run drives a parser through steps; offsets are the byte count with one
// "\n" per line, the clock advances 1ms per line. It checks the offset
// invariants and renders records as "stream|msg|P@n", n being the number of
// lines before the record's Offset.
func run(t *testing.T, opts Options, steps []step) []string {
	t.Helper()
	p, err := NewParser(opts, 0)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	var off int64
	ends := map[int64]int{0: 0}
	now := t0
	lastRecOff, lastPending := int64(0), int64(0)
	collect := func(recs []Record) {
		for _, r := range recs {
			if r.Offset < lastRecOff || r.Offset < lastPending {
				t.Errorf("record offset %d after offset %d / pending %d", r.Offset, lastRecOff, lastPending)
			}
			lastRecOff = r.Offset
			n, ok := ends[r.Offset]
			if !ok {
				t.Errorf("offset %d is not at a line end", r.Offset)
			}
			s := fmt.Sprintf("%s|%s@%d", r.Stream, r.Message, n)
			if r.Partial {
				s = fmt.Sprintf("%s|%s|P@%d", r.Stream, r.Message, n)
			}
			out = append(out, s)
		}
		pend := p.Pending()
		if pend < lastPending || pend > off {
			t.Errorf("pending %d (was %d, fed up to %d)", pend, lastPending, off)
		}
		lastPending = pend
	}
	for _, s := range steps {
		switch {
		case s.flush > 0 || s.force:
			now = now.Add(s.flush)
			collect(p.Flush(now, s.force))
		default:
			off += int64(len(s.line)) + 1
			ends[off] = len(ends)
			now = now.Add(time.Millisecond)
			collect(p.Feed([]byte(s.line+"\n"), off, now))
		}
	}
	return out
}

const ts = "2024-01-02T03:04:05.123456789Z"

func TestParserCRI(t *testing.T) {
	small := DefaultOptions()
	small.MaxRecordBytes = 10
	for _, tc := range []struct {
		name  string
		opts  Options
		steps []step
		want  []string
	}{
		{"full lines", DefaultOptions(), feed(
			ts+" stdout F a",
			ts+" stderr F b",
		), []string{"stdout|a@1", "stderr|b@2"}},
		{"P P F join", DefaultOptions(), feed(
			ts+" stdout P a",
			ts+" stdout P b",
			ts+" stdout F c",
		), []string{"stdout|abc@3"}},
		{"interleaved streams", DefaultOptions(), feed(
			ts+" stdout P o1",
			ts+" stderr P e1",
			ts+" stdout F o2",
			ts+" stderr F e2",
		), []string{"stdout|o1o2@1", "stderr|e1e2@4"}},
		{"other stream completes while one joins", DefaultOptions(), feed(
			ts+" stdout P o1",
			ts+" stderr F e",
			ts+" stdout F o2",
		), []string{"stderr|e@0", "stdout|o1o2@3"}},
		{"invalid line passes through and ends a join", DefaultOptions(), feed(
			ts+" stdout P o1",
			"garbage",
			ts+" stdout F x",
		), []string{"stdout|o1|P@1", "stdout|garbage@2", "stdout|x@3"}},
		{"cap splits a joined line", small, feed(
			ts+" stdout P 0123456",
			ts+" stdout P 789abcd",
			ts+" stdout F ef",
		), []string{"stdout|0123456789|P@1", "stdout|abcdef@3"}},
		{"cap splits a long F line", small, feed(
			ts + " stdout F 0123456789abcdefghijKLM",
		), []string{"stdout|0123456789|P@0", "stdout|abcdefghij|P@0", "stdout|KLM@1"}},
		{"cap cuts on a rune boundary", small, feed(
			ts + " stdout F 012345678é",
		), []string{"stdout|012345678|P@0", "stdout|é@1"}},
		{"timeout flushes a P", DefaultOptions(), []step{
			{line: ts + " stdout P lonely"},
			{flush: 500 * time.Millisecond},
			{flush: 600 * time.Millisecond},
			{line: ts + " stdout F end"},
		}, []string{"stdout|lonely|P@1", "stdout|end@2"}},
		{"force flush", DefaultOptions(), []step{
			{line: ts + " stderr P a"},
			{line: ts + " stdout P b"},
			{force: true},
		}, []string{"stderr|a|P@1", "stdout|b|P@2"}},
		{"empty messages", DefaultOptions(), feed(
			ts+" stdout F ",
			ts+" stdout P ",
			ts+" stdout F",
		), []string{"stdout|@1", "stdout|@3"}},
		{"invalid UTF-8 replaced", DefaultOptions(), feed(
			ts + " stdout F a\xffb\xc3",
		), []string{"stdout|a\uFFFDb\uFFFD@1"}},
		{"raw format", Options{Format: FormatRaw}, feed("plain line", `{"log":"x"}`), []string{"stdout|plain line@1", `stdout|{"log":"x"}@2`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := run(t, tc.opts, tc.steps)
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}

func TestParserDocker(t *testing.T) {
	d := func(log, stream string) string {
		return fmt.Sprintf(`{"log":%q,"stream":%q,"time":"2024-01-02T03:04:05Z"}`, log, stream)
	}
	chunk := strings.Repeat("x", 16*1024)
	small := Options{MaxRecordBytes: 20000}
	for _, tc := range []struct {
		name  string
		opts  Options
		steps []step
		want  []string
	}{
		{"lines", Options{}, feed(d("a\n", "stdout"), d("b\n", "stderr")), []string{"stdout|a@1", "stderr|b@2"}},
		{"16 KiB split joined", Options{}, feed(d(chunk, "stdout"), d("tail\n", "stdout")),
			[]string{"stdout|" + chunk + "tail@2"}},
		{"split interleaved with other stream", Options{}, feed(d("a", "stdout"), d("e\n", "stderr"), d("b\n", "stdout")),
			[]string{"stderr|e@0", "stdout|ab@3"}},
		{"split past cap", small, feed(d(chunk, "stdout"), d(chunk+"\n", "stdout")),
			[]string{"stdout|" + strings.Repeat("x", 20000) + "|P@1", "stdout|" + strings.Repeat("x", 2*16384-20000) + "@2"}},
		{"docker file with garbage line", Options{}, feed(d("a\n", "stdout"), "oops"), []string{"stdout|a@1", "stdout|oops@2"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := run(t, tc.opts, tc.steps)
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("got\n%.300s\nwant\n%.300s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}

func TestAutoDetect(t *testing.T) {
	for _, tc := range []struct {
		first string
		want  Format
	}{
		{`{"log":"a\n","stream":"stdout","time":"2024-01-02T03:04:05Z"}`, FormatDocker},
		{ts + " stdout F a", FormatCRI},
		{"anything", FormatCRI},
	} {
		p, _ := NewParser(Options{}, 0)
		p.Feed([]byte("\n"), 1, t0) // an empty line does not decide
		if p.Format() != FormatAuto {
			t.Fatalf("decided on an empty line: %v", p.Format())
		}
		p.Feed([]byte(tc.first), 10, t0)
		if p.Format() != tc.want {
			t.Errorf("%q: detected %v, want %v", tc.first, p.Format(), tc.want)
		}
	}
	p, _ := NewParser(Options{Format: FormatCRI}, 0)
	recs := p.Feed([]byte(`{"log":"a\n"}`), 14, t0)
	if len(recs) != 1 || p.Stats().InvalidLines != 1 || string(recs[0].Message) != `{"log":"a\n"}` {
		t.Errorf("forced CRI: %+v %+v", recs, p.Stats())
	}
}

func TestOptionsValidate(t *testing.T) {
	bad := []Options{
		{Format: Format(9)},
		{MaxRecordBytes: -1},
		{FlushTimeout: -time.Second},
		{Multiline: &Multiline{}},
	}
	for _, o := range bad {
		if _, err := NewParser(o, 0); err == nil {
			t.Errorf("%+v: accepted", o)
		}
	}
	if err := DefaultOptions().Validate(); err != nil {
		t.Error(err)
	}
}

func TestStats(t *testing.T) {
	o := DefaultOptions()
	o.MaxRecordBytes = 4
	got := run(t, o, append(feed(ts+" stdout F abcdefgh", "junk", ts+" stdout F \xff", ts+" stdout P x"), step{force: true}))
	if len(got) != 5 {
		t.Fatalf("records: %q", got)
	}
	p, _ := NewParser(o, 0)
	for _, s := range []string{ts + " stdout F abcdefgh", "junk", ts + " stdout F \xff", ts + " stdout P x"} {
		p.Feed([]byte(s), 0, t0)
	}
	p.Flush(t0, true)
	want := Stats{Lines: 4, Records: 5, InvalidLines: 1, InvalidUTF8: 1, SplitRecords: 1, TimeoutFlushes: 1}
	if p.Stats() != want {
		t.Errorf("stats %+v, want %+v", p.Stats(), want)
	}
}

// TestBadInput covers the bad-input list: a 5 MB line, binary junk
// and a truncated CRI line all come out as valid records.
func TestBadInput(t *testing.T) {
	p, _ := NewParser(DefaultOptions(), 0)
	big := strings.Repeat("é", 5<<20/2) // 5 MB of two-byte runes: cuts must not split them
	line := ts + " stdout F " + big
	recs := p.Feed([]byte(line), int64(len(line)), t0)
	total := 0
	for i, r := range recs {
		if len(r.Message) > 1<<20 || !utf8.Valid(r.Message) || r.Partial != (i < len(recs)-1) {
			t.Fatalf("piece %d: %d bytes, partial %v", i, len(r.Message), r.Partial)
		}
		total += len(r.Message)
	}
	if total != len(big) || len(recs) != 5 || p.Stats().SplitRecords != 4 {
		t.Errorf("%d records, %d bytes, stats %+v", len(recs), total, p.Stats())
	}

	p, _ = NewParser(DefaultOptions(), 0)
	junk := []byte("\x00\x01\xff\xfe{\"log\":\x80 stdout F")
	recs = p.Feed(junk, 100, t0)
	if len(recs) != 1 || !utf8.Valid(recs[0].Message) || !recs[0].Time.Equal(t0) {
		t.Errorf("junk: %+v", recs)
	}
	recs = p.Feed([]byte("2024-01-02T03:04:05.12"), 200, t0)
	if len(recs) != 1 || string(recs[0].Message) != "2024-01-02T03:04:05.12" || p.Stats().InvalidLines != 2 {
		t.Errorf("truncated: %+v %+v", recs, p.Stats())
	}
}
