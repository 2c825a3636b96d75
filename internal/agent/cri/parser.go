package cri

import (
	"errors"
	"fmt"
	"time"
	"unicode/utf8"
)

// Format is the on-disk format of a container log file.
type Format int

const (
	// FormatAuto decides on the first non-empty line: "{" means Docker, anything else CRI.
	FormatAuto Format = iota
	// FormatCRI is what containerd and CRI-O write.
	FormatCRI
	// FormatDocker is Docker's json-file driver.
	FormatDocker
	// FormatRaw takes every line as a complete stdout message stamped with
	// its read time (host logs that still want multi-line joining).
	FormatRaw
)

// String returns the format's config name.
func (f Format) String() string {
	switch f {
	case FormatAuto:
		return "auto"
	case FormatCRI:
		return "cri"
	case FormatDocker:
		return "docker"
	case FormatRaw:
		return "raw"
	}
	return fmt.Sprintf("Format(%d)", int(f))
}

// Options configure a Parser. The zero value of a field means its default.
type Options struct {
	// Format of the file. Default FormatAuto.
	Format Format
	// MaxRecordBytes caps a record's message; a longer line (joined or not)
	// is emitted in pieces of at most this size, cut on a UTF-8 boundary,
	// every piece but the last marked Partial. Default 1 MiB.
	MaxRecordBytes int
	// FlushTimeout is how long a partial line or a multi-line record waits
	// for its next line before Flush emits it as it is. Default 1s.
	FlushTimeout time.Duration
	// Multiline joins stack traces; nil (the default) turns it off.
	Multiline *Multiline
}

// DefaultOptions returns the defaults spelled out.
func DefaultOptions() Options {
	return Options{Format: FormatAuto, MaxRecordBytes: 1 << 20, FlushTimeout: time.Second}
}

// Validate reports every invalid field.
func (o Options) Validate() error {
	var errs []error
	if o.Format < FormatAuto || o.Format > FormatRaw {
		errs = append(errs, fmt.Errorf("format %d is unknown", int(o.Format)))
	}
	if o.MaxRecordBytes < 0 {
		errs = append(errs, errors.New("max_record_bytes must be >= 0 (0 means 1 MiB)"))
	}
	if o.FlushTimeout < 0 {
		errs = append(errs, errors.New("flush_timeout must be >= 0 (0 means 1s)"))
	}
	if m := o.Multiline; m != nil {
		if len(m.Start) == 0 {
			errs = append(errs, errors.New("multiline.start must hold at least one pattern"))
		}
		if m.MaxLines < 0 || m.MaxBytes < 0 {
			errs = append(errs, errors.New("multiline.max_lines and multiline.max_bytes must be >= 0"))
		}
	}
	return errors.Join(errs...)
}

// Record is one log record. Message aliases memory owned by the Parser or
// the line given to Feed: it is valid until the next call on the Parser, so
// copy it to keep it.
type Record struct {
	// Time is the runtime's timestamp (UTC) of the first line of the record,
	// or the read time for lines that carry none.
	Time time.Time
	// Stream is "stdout" or "stderr".
	Stream string
	// Message is valid UTF-8 without the trailing newline.
	Message []byte
	// Partial means the logical line goes on in a later record: it was cut
	// by a size cap or emitted by the flush timeout before its end arrived.
	Partial bool
	// Offset is a safe checkpoint once this record and every record emitted
	// before it are delivered: input before it is emitted, input after it is
	// either emitted later or still held. Offsets never decrease from one
	// record to the next.
	Offset int64
	// End is the record's position in the file for exactly-once delivery
	// (the X-Kinsight-Positions header): the offset just past its last
	// line. A piece of a line cut by MaxRecordBytes gets the line's start
	// plus the message bytes up to the cut, which is below the line's end
	// and above every earlier record's. Ends strictly increase from one
	// record to the next of the same Stream, and re-reading the file from
	// an earlier record's Offset gives the same records the same Ends.
	End int64
}

// Channel is the record's stream as the positions header numbers it:
// 1 stdout, 2 stderr (0 is a whole file or the journal).
func (r *Record) Channel() uint8 {
	if r.Stream == "stderr" {
		return 2
	}
	return 1
}

// Stats counts what a Parser did; the caller exports them as metrics.
type Stats struct {
	Lines          uint64 // lines fed
	Records        uint64 // records emitted
	InvalidLines   uint64 // lines in no known format, passed through as the message
	InvalidUTF8    uint64 // records whose invalid UTF-8 was replaced by U+FFFD
	SplitRecords   uint64 // records cut by MaxRecordBytes or the multi-line caps
	TimeoutFlushes uint64 // held records emitted by Flush (timeout or force)
}

type streamState struct {
	// Partial ("P") lines joined so far.
	part      []byte
	partHeld  bool
	partCut   bool // a piece of this chain was already emitted
	partStart int64
	partEnd   int64
	partTime  time.Time
	partSeen  time.Time

	// Multi-line record being built.
	ml      []byte
	mlHeld  bool
	mlLines int
	mlStart int64
	mlEnd   int64
	mlTime  time.Time
	mlSeen  time.Time
}

type span struct {
	inArena bool
	lo, hi  int
}

// Parser turns the lines of one file into records. It is not safe for
// concurrent use; one goroutine owns it with its file.
type Parser struct {
	opts    Options
	format  Format
	maxML   int
	maxMLN  int
	streams [2]streamState

	last     int64 // input offset after the last line fed
	cur      int64 // start of the logical line being processed
	inFlight bool

	recs    []Record
	spans   []span
	arena   []byte
	scratch []byte
	stats   Stats
}

// NewParser returns a parser for a file whose next line starts at startOffset.
func NewParser(opts Options, startOffset int64) (*Parser, error) {
	if err := opts.Validate(); err != nil {
		return nil, fmt.Errorf("cri parser options: %w", err)
	}
	if opts.MaxRecordBytes == 0 {
		opts.MaxRecordBytes = 1 << 20
	}
	if opts.FlushTimeout == 0 {
		opts.FlushTimeout = time.Second
	}
	p := &Parser{opts: opts, format: opts.Format, last: startOffset}
	if m := opts.Multiline; m != nil {
		p.maxML, p.maxMLN = m.MaxBytes, m.MaxLines
		if p.maxML == 0 || p.maxML > opts.MaxRecordBytes {
			p.maxML = opts.MaxRecordBytes
		}
		if p.maxMLN == 0 {
			p.maxMLN = 1000
		}
	}
	return p, nil
}

// Format returns the file's format: the one configured, or the one detected
// (FormatAuto until the first non-empty line).
func (p *Parser) Format() Format { return p.format }

// Stats returns the counters so far.
func (p *Parser) Stats() Stats { return p.stats }

// Pending returns the input offset from which re-reading the file
// reproduces everything not yet emitted: the start of the oldest line held
// in a join, or the end of the last line fed when nothing is held. A
// checkpoint must never pass it.
func (p *Parser) Pending() int64 {
	m := p.last
	if p.inFlight && p.cur < m {
		m = p.cur
	}
	for i := range p.streams {
		st := &p.streams[i]
		if st.partHeld && st.partStart < m {
			m = st.partStart
		}
		if st.mlHeld && st.mlStart < m {
			m = st.mlStart
		}
	}
	return m
}

// Feed parses one line (a trailing "\n" is ignored) that ends at input
// offset offset, read at now. It returns the records completed by it, in a
// slice valid until the next call.
func (p *Parser) Feed(line []byte, offset int64, now time.Time) []Record {
	p.reset()
	if n := len(line); n > 0 && line[n-1] == '\n' {
		line = line[:n-1]
	}
	start := p.last
	if offset < start {
		offset = start // offsets going backwards are a caller bug; never let Pending go back
	}
	p.last = offset
	p.cur, p.inFlight = start, true
	p.stats.Lines++

	if p.format == FormatAuto && len(line) > 0 {
		p.format = FormatCRI
		if i := skipWS(line, 0); i < len(line) && line[i] == '{' {
			p.format = FormatDocker
		}
	}
	var (
		t       time.Time
		stream  int
		partial bool
		msg     []byte
		ok      bool
		bad     bool
	)
	switch p.format {
	case FormatCRI:
		t, stream, partial, msg, ok = parseCRILine(line)
	case FormatDocker:
		t, stream, partial, msg, p.scratch, bad, ok = parseDockerLine(line, p.scratch, now)
		if bad {
			p.stats.InvalidUTF8++
		}
	case FormatRaw:
		t, msg, ok = now, line, true
	}
	st := &p.streams[stream]
	if !ok {
		// Not the file's format: keep the text, never drop it.
		p.stats.InvalidLines++
		t, stream, partial, msg = now, streamStdout, false, line
		st = &p.streams[streamStdout]
		p.flushPartial(st, stream)
	}
	if partial || st.partHeld || len(msg) > p.opts.MaxRecordBytes {
		p.addFragment(st, stream, t, msg, start, offset, now)
		if !partial {
			p.completePartial(st, stream, offset, now)
		}
	} else {
		p.complete(st, stream, t, msg, start, offset, now, true, false)
	}
	p.inFlight = false
	return p.finish()
}

// Flush emits what has waited FlushTimeout or longer since its last line
// (everything held when force is set, e.g. when the file is let go). The
// caller drives it from a ticker; it costs nothing when nothing is held.
func (p *Parser) Flush(now time.Time, force bool) []Record {
	p.reset()
	order := [2]int{0, 1}
	if p.heldStart(1) < p.heldStart(0) {
		order = [2]int{1, 0}
	}
	for _, s := range order {
		st := &p.streams[s]
		if st.partHeld && (force || now.Sub(st.partSeen) >= p.opts.FlushTimeout) {
			p.stats.TimeoutFlushes++
			p.flushPartial(st, s)
		}
		if st.mlHeld && (force || now.Sub(st.mlSeen) >= p.opts.FlushTimeout) {
			p.stats.TimeoutFlushes++
			p.flushML(st, s, false)
		}
	}
	return p.finish()
}

func (p *Parser) heldStart(s int) int64 {
	st := &p.streams[s]
	m := int64(1<<63 - 1)
	if st.partHeld {
		m = st.partStart
	}
	if st.mlHeld && st.mlStart < m {
		m = st.mlStart
	}
	return m
}

// addFragment appends a line's message to the stream's partial buffer and
// emits pieces while it is over the cap.
func (p *Parser) addFragment(st *streamState, s int, t time.Time, msg []byte, start, end int64, now time.Time) {
	if !st.partHeld {
		st.partHeld, st.partCut = true, false
		st.part = st.part[:0]
		st.partStart, st.partTime = start, t
	}
	prev := len(st.part)
	st.part = append(st.part, msg...)
	st.partEnd, st.partSeen = end, now
	p.inFlight = false // now held: partStart covers it
	limit := p.opts.MaxRecordBytes
	inLine := int64(0) // bytes of this line's message emitted so far
	for len(st.part) > limit {
		cut := runeCut(st.part, limit)
		if cut > prev {
			// The rest is the tail of this line: re-reading must start at it.
			st.partStart = start
			inLine += int64(cut - prev)
		}
		p.flushML(st, s, false)
		p.stats.SplitRecords++
		st.partCut = true
		// The cut's position counted from the line's start without its
		// prefix: below the line's end (the remainder keeps that), above
		// every earlier record of this stream, and the same on a re-read.
		p.emit(s, st.partTime, st.part[:cut], min(start+inLine, end-1), true, false)
		n := copy(st.part, st.part[cut:])
		st.part = st.part[:n]
		prev = 0
	}
}

// completePartial hands the joined partial lines on as one logical line.
func (p *Parser) completePartial(st *streamState, s int, end int64, now time.Time) {
	st.partHeld = false
	p.complete(st, s, st.partTime, st.part, st.partStart, end, now, false, st.partCut)
}

// flushPartial emits the partial lines held without waiting for their end.
func (p *Parser) flushPartial(st *streamState, s int) {
	if !st.partHeld {
		return
	}
	st.partHeld = false
	p.flushML(st, s, false)
	p.emit(s, st.partTime, st.part, st.partEnd, true, false)
}

// complete takes one logical line through multi-line joining. alias says
// msg may be emitted without a copy; bypass sends it out on its own (the
// tail of a line cut in pieces).
func (p *Parser) complete(st *streamState, s int, t time.Time, msg []byte, start, end int64, now time.Time, alias, bypass bool) {
	p.cur, p.inFlight = start, true
	defer func() { p.inFlight = false }()
	ml := p.opts.Multiline
	if ml == nil || bypass {
		p.flushML(st, s, false)
		p.inFlight = false // emitted now: it no longer holds Pending back
		p.emit(s, t, msg, end, false, alias)
		return
	}
	isStart := ml.isStart(msg)
	if st.mlHeld && !isStart && st.mlLines < p.maxMLN && len(st.ml)+1+len(msg) <= p.maxML {
		st.ml = append(st.ml, '\n')
		st.ml = append(st.ml, msg...)
		st.mlLines++
		st.mlEnd, st.mlSeen = end, now
		return
	}
	if st.mlHeld {
		cut := !isStart
		if cut {
			p.stats.SplitRecords++
		}
		p.flushML(st, s, cut)
	}
	st.ml = append(st.ml[:0], msg...)
	st.mlHeld, st.mlLines = true, 1
	st.mlStart, st.mlEnd, st.mlTime, st.mlSeen = start, end, t, now
}

func (p *Parser) flushML(st *streamState, s int, partial bool) {
	if !st.mlHeld {
		return
	}
	st.mlHeld = false
	p.emit(s, st.mlTime, st.ml, st.mlEnd, partial, false)
}

// emit appends a record. Messages that live in buffers the parser reuses in
// this call are copied to the arena; their slices are fixed up in finish
// because the arena may move while it grows.
func (p *Parser) emit(s int, t time.Time, msg []byte, end int64, partial, alias bool) {
	off := p.Pending()
	if end < off {
		off = end
	}
	r := Record{Time: t, Stream: streamNames[s], Partial: partial, Offset: off, End: end}
	sp := span{}
	switch {
	case !utf8.Valid(msg):
		p.stats.InvalidUTF8++
		sp.inArena, sp.lo = true, len(p.arena)
		p.arena = appendValidUTF8(p.arena, msg)
		sp.hi = len(p.arena)
	case alias:
		r.Message = msg
	default:
		sp.inArena, sp.lo = true, len(p.arena)
		p.arena = append(p.arena, msg...)
		sp.hi = len(p.arena)
	}
	p.stats.Records++
	p.recs = append(p.recs, r)
	p.spans = append(p.spans, sp)
}

func (p *Parser) reset() {
	// A 5 MB line must not pin 5 MB per file forever.
	const keep = 4 << 20
	if cap(p.arena) > keep {
		p.arena = nil
	}
	if cap(p.scratch) > keep {
		p.scratch = nil
	}
	for i := range p.streams {
		st := &p.streams[i]
		if !st.partHeld && cap(st.part) > keep {
			st.part = nil
		}
		if !st.mlHeld && cap(st.ml) > keep {
			st.ml = nil
		}
	}
	clear(p.recs) // drop references to the last call's lines
	p.recs, p.spans = p.recs[:0], p.spans[:0]
	p.arena, p.scratch = p.arena[:0], p.scratch[:0]
}

func (p *Parser) finish() []Record {
	for i, sp := range p.spans {
		if sp.inArena {
			p.recs[i].Message = p.arena[sp.lo:sp.hi:sp.hi]
		}
	}
	return p.recs
}

// runeCut returns a cut point <= max that does not split a UTF-8 sequence
// (max itself when the bytes there are not UTF-8 anyway).
func runeCut(b []byte, limit int) int {
	for i := 0; i < utf8.UTFMax && limit-i > 0; i++ {
		if utf8.RuneStart(b[limit-i]) {
			return limit - i
		}
	}
	return limit
}

// appendValidUTF8 appends b with every invalid byte replaced by U+FFFD.
func appendValidUTF8(dst, b []byte) []byte {
	for len(b) > 0 {
		r, n := utf8.DecodeRune(b)
		if r == utf8.RuneError && n == 1 {
			dst = append(dst, "\uFFFD"...)
		} else {
			dst = append(dst, b[:n]...)
		}
		b = b[n:]
	}
	return dst
}
