package logstore

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unsafe"

	"github.com/klauspost/compress/zstd"

	"github.com/kinsight/kinsight/internal/logstore/elide"
)

// A block is up to BlockMaxBytes of one stream's events in (ts, seq) order,
// stored column by column so each column compresses well:
//
//	uvarint count
//	count × zigzag varint   timestamp delta (first from 0)
//	count × zigzag varint   seq delta
//	count × zigzag varint   ingestion time delta
//	count × uvarint         message length
//	message bytes, concatenated
//
// Version 1 parts compress all of it as one zstd frame. Version 2 parts
// compress the small columns (everything before the message bytes) as one
// frame and the message bytes as a second, so a query that needs no message
// (stats count(*) by bin(5m)) decompresses a few percent of the block. The
// two frames concatenated decode (zstd decodes frame after frame) to exactly
// the version 1 layout, so a full read is the same code for both versions.
//
// Version 3 adds elided members (package elide): after the message lengths
// the columns section lists the top-level JSON objects that every message
// of the block holds with the same text, and the message bytes are stored
// with each such value replaced by {} (the lengths are the stored ones).
// A block decodes in one of three forms: its columns only, its messages as
// stored (Logs Insights reads them with the members as constants), or its
// messages restored to the bytes that were written (every other reader).

// encodeBlockRaw appends a version 1 or 2 block's raw layout to dst and
// returns it with the length of its columns section (where the message
// bytes begin).
func encodeBlockRaw(dst []byte, evs []headEvent) ([]byte, int) {
	dst, _ = appendColumns(dst, evs)
	for _, e := range evs {
		dst = binary.AppendUvarint(dst, uint64(len(e.msg)))
	}
	cols := len(dst)
	for _, e := range evs {
		dst = append(dst, e.msg...)
	}
	return dst, cols
}

// minElide is the shortest object worth eliding: below it the per-message
// walk to restore costs more than the bytes save.
const minElide = 64

// maxElided bounds the members elided from one block.
const maxElided = 4

// elideMembers finds the top-level members of evs' messages worth eliding:
// an object of at least minElide bytes whose raw key occurs exactly once
// in every message, with the same value text in all of them. It returns
// them and, per event, their value spans (spans[i*len(members)+k]). The
// caller has checked that every message is a strict JSON object with no
// escaped key (blockConstants found constants), which makes elide.Restore
// find each member again. It also requires that no flattened path occurs
// twice in any message (blockConstants checks only the first one): a
// reader can then take the members' fields from the constants and stop
// parsing a stored message once it has the others, and get what parsing
// the original would.
func elideMembers(evs []headEvent) ([]elide.Member, []elide.Span) {
	if len(evs) == 0 {
		return nil, nil
	}
	var cands []elide.Member
	first := evs[0].msg
	elide.Walk(first, func(key string, v elide.Span) {
		if len(cands) < maxElided && first[v.Start] == '{' && v.End-v.Start >= minElide && strings.IndexByte(key, '\\') < 0 {
			cands = append(cands, elide.Member{Key: key, Value: first[v.Start:v.End]})
		}
	})
	if len(cands) == 0 {
		return nil, nil
	}
	spans := make([]elide.Span, len(evs)*len(cands))
	counts := make([]int, len(cands))
	keep := make([]bool, len(cands))
	for k := range keep {
		keep[k] = true
	}
	for i, e := range evs {
		sp := spans[i*len(cands) : (i+1)*len(cands)]
		if !elide.FindMembers(e.msg, cands, sp, counts) {
			return nil, nil
		}
		for k, c := range cands {
			if counts[k] != 1 || e.msg[sp[k].Start:sp[k].End] != c.Value {
				keep[k] = false
			}
		}
	}
	n := 0
	for _, k := range keep {
		if k {
			n++
		}
	}
	if n == 0 {
		return nil, nil
	}
	if n < len(cands) {
		// Keep the surviving members' spans only.
		out := make([]elide.Span, 0, len(evs)*n)
		var ms []elide.Member
		for k, c := range cands {
			if keep[k] {
				ms = append(ms, c)
			}
		}
		for i := range evs {
			for k := range cands {
				if keep[k] {
					out = append(out, spans[i*len(cands)+k])
				}
			}
		}
		cands, spans = ms, out
	}
	if !noDuplicatePaths(evs, cands, spans) {
		return nil, nil
	}
	// Copied out of the message, which the caller may reuse.
	for k := range cands {
		cands[k] = elide.Member{Key: strings.Clone(cands[k].Key), Value: strings.Clone(cands[k].Value)}
	}
	return cands, spans
}

// noDuplicatePaths reports whether no flattened path occurs twice in any
// message of evs, given members found in all of them (spans as
// elideMembers gives them). The members' values are the first message's,
// which blockConstants checked whole, so only the stored messages (each
// member's value replaced by {}) are flattened: a path occurs twice in a
// message exactly when it does in the stored one, or when a stored path
// lies under a member (a key "kubernetes.pod_name" beside the kubernetes
// object). That is a third of the work of flattening whole messages.
func noDuplicatePaths(evs []headEvent, members []elide.Member, spans []elide.Span) bool {
	var f jsonFlattener
	var buf []byte
	nm := len(members)
	for i, e := range evs {
		buf = appendStored(buf[:0], e.msg, spans[i*nm:(i+1)*nm])
		if !f.flatten(unsafe.String(unsafe.SliceData(buf), len(buf))) {
			return false
		}
		for _, sp := range f.spans {
			p := f.paths[sp[0]:sp[1]]
			for _, m := range members {
				if len(p) > len(m.Key) && p[len(m.Key)] == '.' && string(p[:len(m.Key)]) == m.Key {
					return false
				}
			}
		}
	}
	return true
}

// appendStored appends msg with the values at spans replaced by the
// placeholder (spans in any order, not overlapping).
func appendStored(dst []byte, msg string, spans []elide.Span) []byte {
	at := 0
	for {
		k := -1
		for j, x := range spans {
			if x.Start >= at && (k < 0 || x.Start < spans[k].Start) {
				k = j
			}
		}
		if k < 0 {
			return append(dst, msg[at:]...)
		}
		dst = append(dst, msg[at:spans[k].Start]...)
		dst = append(dst, elide.Placeholder...)
		at = spans[k].End
	}
}

// encodeBlockV3 appends a version 3 block's raw layout to dst: the members
// listed after the lengths, and each message stored with its members'
// values (at spans, as elideMembers gives them) replaced by the
// placeholder. It returns the layout and the length of its columns
// section.
func encodeBlockV3(dst []byte, evs []headEvent, members []elide.Member, spans []elide.Span) ([]byte, int) {
	dst, _ = appendColumns(dst, evs)
	nm := len(members)
	for i, e := range evs {
		n := len(e.msg)
		for _, sp := range spans[i*nm : (i+1)*nm] {
			n -= sp.End - sp.Start - len(elide.Placeholder)
		}
		dst = binary.AppendUvarint(dst, uint64(n))
	}
	dst = binary.AppendUvarint(dst, uint64(nm))
	for _, m := range members {
		dst = binary.AppendUvarint(dst, uint64(len(m.Key)))
		dst = append(dst, m.Key...)
		dst = binary.AppendUvarint(dst, uint64(len(m.Value)))
		dst = append(dst, m.Value...)
	}
	cols := len(dst)
	for i, e := range evs {
		dst = appendStored(dst, e.msg, spans[i*nm:(i+1)*nm])
	}
	return dst, cols
}

// appendColumns appends the count and the timestamp, seq and ingestion
// columns and returns dst with where the message lengths start.
func appendColumns(dst []byte, evs []headEvent) ([]byte, int) {
	dst = binary.AppendUvarint(dst, uint64(len(evs)))
	var pts int64
	for _, e := range evs {
		dst = binary.AppendVarint(dst, e.ts-pts)
		pts = e.ts
	}
	var pseq uint64
	for _, e := range evs {
		dst = binary.AppendVarint(dst, int64(e.seq-pseq))
		pseq = e.seq
	}
	var ping int64
	for _, e := range evs {
		dst = binary.AppendVarint(dst, e.ingest-ping)
		ping = e.ingest
	}
	return dst, len(dst)
}

// blockForm is what a read decodes of a block.
type blockForm uint8

const (
	// formFull: every message as written.
	formFull blockForm = iota
	// formColumns: timestamps, seqs and ingestion times only (msgs nil);
	// a version 1 block has no columns frame and is decoded whole.
	formColumns
	// formStored: messages as stored, elided members cut out
	// (decodedBlock.members); the same as formFull for blocks without
	// any.
	formStored
)

// decodedBlock is a block's events; msgs point into data. A block decoded
// without its messages (formColumns) has msgs nil. A block decoded as
// stored (formStored) with elided members has them in members, and msgs
// are the stored messages (elide.Restore gives the originals).
type decodedBlock struct {
	ts      []int64
	seq     []uint64
	ingest  []int64
	msgs    []string
	data    []byte
	members []elide.Member
	// consts, set with members, are the block's constants followed by
	// one per member (its key and object), as ScanBatch hands them over.
	consts []Constant
}

func (b *decodedBlock) len() int { return len(b.ts) }

func (b *decodedBlock) sizeBytes() int64 {
	n := int64(cap(b.data)) + int64(len(b.ts))*(8+8+8+16)
	for _, m := range b.members {
		n += int64(len(m.Key) + len(m.Value))
	}
	return n
}

// decodeBlockRaw decodes a version 1 or 2 block's raw layout; with
// columnsOnly, raw is only the columns section and the block has no
// messages.
func decodeBlockRaw(raw []byte, columnsOnly bool) (*decodedBlock, error) {
	b, lens, _, rest, err := decodeColumns(raw, !columnsOnly, 2)
	if err != nil {
		return nil, err
	}
	if columnsOnly {
		if len(rest) != 0 {
			return nil, fmt.Errorf("block columns: %w", errCorruptRecord)
		}
		return b, nil
	}
	return b, b.attach(lens, rest)
}

// decodeColumns decodes the columns section at the start of raw and
// returns the message lengths (when lens) and their sum, and what follows
// the section. Version 3 sections also hold the elided members
// (b.members).
func decodeColumns(raw []byte, lens bool, version int) (*decodedBlock, []int, int, []byte, error) {
	bad := func() (*decodedBlock, []int, int, []byte, error) {
		return nil, nil, 0, nil, fmt.Errorf("block columns: %w", errCorruptRecord)
	}
	d := decoder{b: raw}
	n := d.uvarint()
	// Every event takes at least 4 bytes of columns.
	if d.err != nil || n > uint64(len(raw))/4 {
		return nil, nil, 0, nil, fmt.Errorf("block header: %w", errCorruptRecord)
	}
	b := &decodedBlock{ts: make([]int64, n), seq: make([]uint64, n), ingest: make([]int64, n)}
	// Tight loops over the buffer rather than decoder calls: this is most
	// of the work of a query that reads no message.
	buf := d.b
	// Sequence deltas are zigzag varints like the others: summed as int64
	// they give the same bits as summed as uint64.
	seq := unsafe.Slice((*int64)(unsafe.Pointer(unsafe.SliceData(b.seq))), len(b.seq))
	for _, col := range [3][]int64{b.ts, seq, b.ingest} {
		var v int64
		for i := range col {
			x, k := binary.Varint(buf)
			if k <= 0 {
				return bad()
			}
			buf = buf[k:]
			v += x
			col[i] = v
		}
	}
	var ls []int
	if lens {
		ls = make([]int, n)
	}
	total := 0
	for i := range n {
		l, k := binary.Uvarint(buf)
		if k <= 0 || l > 1<<28 {
			return bad()
		}
		buf = buf[k:]
		total += int(l)
		if total > 1<<30 {
			return bad()
		}
		if lens {
			ls[i] = int(l)
		}
	}
	if version >= 3 {
		d := decoder{b: buf}
		m := d.uvarint()
		if d.err != nil || m > maxElided {
			return bad()
		}
		for range m {
			kl := d.uvarint()
			if kl > uint64(len(d.b)) {
				return bad()
			}
			key := string(d.bytes(int(kl)))
			vl := d.uvarint()
			if vl > uint64(len(d.b)) {
				return bad()
			}
			val := string(d.bytes(int(vl)))
			if d.err != nil || !validMember(key, val) {
				return bad()
			}
			b.members = append(b.members, elide.Member{Key: key, Value: val})
		}
		buf = d.b
	}
	return b, ls, total, buf, nil
}

// validMember checks what a reader relies on of a member read from a
// block: a key without escapes, an object value.
func validMember(key, val string) bool {
	return strings.IndexByte(key, '\\') < 0 && len(val) >= 2 && val[0] == '{' && val[len(val)-1] == '}'
}

// attach points the block's messages into msgs, which must hold exactly
// their bytes.
func (b *decodedBlock) attach(lens []int, msgs []byte) error {
	total := 0
	for _, l := range lens {
		total += l
	}
	if total != len(msgs) {
		return fmt.Errorf("block body: %w", errCorruptRecord)
	}
	b.data = msgs
	b.msgs = make([]string, len(lens))
	rest := msgs
	for i, l := range lens {
		if l > 0 {
			b.msgs[i] = unsafe.String(&rest[0], l)
		}
		rest = rest[l:]
	}
	return nil
}

// restore turns a block decoded as stored into its full form: every
// message restored into one new buffer of rawBytes (the index's count of
// written bytes).
func (b *decodedBlock) restore(rawBytes int) error {
	if len(b.members) == 0 {
		return nil
	}
	data := make([]byte, 0, rawBytes)
	lens := make([]int, len(b.msgs))
	for i, m := range b.msgs {
		n := len(data)
		var err error
		if data, err = elide.Restore(data, m, b.members); err != nil {
			return fmt.Errorf("block message %d: %w: %v", i, errCorruptRecord, err)
		}
		lens[i] = len(data) - n
	}
	b.members = nil
	return b.attach(lens, data)
}

// codec holds the shared zstd encoder and decoder; both are safe for
// concurrent EncodeAll/DecodeAll calls.
type codec struct {
	enc    *zstd.Encoder // parts
	walEnc *zstd.Encoder // WAL frames: fastest level
	dec    *zstd.Decoder
}

func newCodec(level int) (*codec, error) {
	lvl := zstd.SpeedDefault
	switch level {
	case 1:
		lvl = zstd.SpeedFastest
	case 2:
		lvl = zstd.SpeedDefault
	case 3:
		lvl = zstd.SpeedBetterCompression
	case 4:
		lvl = zstd.SpeedBestCompression
	}
	// Parts and WAL frames carry their own CRC-32C, checked before
	// decompressing: zstd's xxhash checksum would only repeat it.
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(lvl), zstd.WithEncoderConcurrency(1), zstd.WithLowerEncoderMem(true), zstd.WithEncoderCRC(false))
	if err != nil {
		return nil, err
	}
	walEnc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(1), zstd.WithLowerEncoderMem(true))
	if err != nil {
		return nil, err
	}
	dec, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(0), zstd.WithDecoderMaxMemory(256<<20), zstd.IgnoreChecksum(true))
	if err != nil {
		return nil, err
	}
	return &codec{enc: enc, walEnc: walEnc, dec: dec}, nil
}

func (c *codec) close() {
	c.enc.Close()
	c.walEnc.Close()
	c.dec.Close()
}

// Constant is a field of JSON messages whose value is the same in every
// event of a block: Name is the flattened dotted path (kubernetes.pod_name),
// JSON the value's exact JSON text (a string with its quotes, a number,
// true, false or null). ScanBlocks also lists a block's elided members as
// constants whose JSON is an object (see ScanBatch.Constants); the index
// holds scalars only.
type Constant struct{ Name, JSON string }

// Bounds on what a block records as constant, so an index entry stays small
// (they are kept in memory for every block of every open part).
const (
	maxConstants     = 32
	maxConstantBytes = 256  // name + value of one constant
	maxConstantTotal = 2048 // all of a block's constants
	maxConstDepth    = 32
)

// blockConstants finds the scalar fields that hold the same JSON text in
// every message of evs. It is deliberately strict so that reading a
// constant gives exactly what parsing each message would: every message
// must be one valid JSON object with no key escapes and no flattened path
// that occurs twice (duplicate keys, or "a.b" beside {"a":{"b"}}); fields
// under arrays are not recorded. Anything else gives no constants.
func blockConstants(evs []headEvent) []Constant {
	if len(evs) == 0 {
		return nil
	}
	var f jsonFlattener
	if !f.flatten(evs[0].msg) {
		return nil
	}
	var cands []Constant
	total := 0
	for _, l := range f.leaves {
		if l.inArray || len(cands) >= maxConstants {
			continue
		}
		name, val := f.name(l), evs[0].msg[l.v0:l.v1]
		if n := len(name) + len(val); n <= maxConstantBytes && total+n <= maxConstantTotal {
			cands = append(cands, Constant{Name: name, JSON: val})
			total += n
		}
	}
	// The other messages need not list every path: a candidate stays if
	// its path occurs exactly once (as a container or a leaf) and holds
	// the same text. A duplicate elsewhere cannot change what a reader
	// gets at a path that occurs once.
	f.setCandidates(cands)
	for _, e := range evs[1:] {
		if len(cands) == 0 {
			return nil
		}
		if !f.flatten(e.msg) {
			return nil
		}
		keep := cands[:0]
		for i, c := range cands {
			if f.seen[i] == 1 && f.same[i] {
				keep = append(keep, c)
			}
		}
		if len(keep) < len(cands) {
			cands = keep
			f.setCandidates(cands)
		}
	}
	if len(cands) == 0 {
		return nil
	}
	// Names and values are copied out of the messages, which the caller
	// may reuse.
	out := make([]Constant, len(cands))
	for i, c := range cands {
		out[i] = Constant{Name: strings.Clone(c.Name), JSON: strings.Clone(c.JSON)}
	}
	return out
}

// jsonFlattener parses one JSON object strictly (RFC 8259) and lists its
// scalar leaves by flattened path, as Logs Insights names them.
type jsonFlattener struct {
	s      string
	i      int
	path   []byte
	paths  []byte     // every path of the message, concatenated
	spans  [][2]int32 // each path's span in paths, containers included
	leaves []jsonLeaf
	order  []int32 // spans sorted, for the duplicate check
	// After the first message: the candidate constants by path, and per
	// candidate how often the last message had its path and whether with
	// the same value. Then paths, spans and leaves are not kept.
	cands map[string]int
	vals  []string
	seen  []int
	same  []bool
}

func (f *jsonFlattener) setCandidates(cs []Constant) {
	f.cands = make(map[string]int, len(cs))
	f.vals = f.vals[:0]
	for i, c := range cs {
		f.cands[c.Name] = i
		f.vals = append(f.vals, c.JSON)
	}
	f.seen = make([]int, len(cs))
	f.same = make([]bool, len(cs))
}

type jsonLeaf struct {
	p0, p1  int32 // path span in paths
	v0, v1  int   // value span in the message
	inArray bool
}

func (f *jsonFlattener) name(l jsonLeaf) string { return string(f.paths[l.p0:l.p1]) }

func (f *jsonFlattener) flatten(msg string) bool {
	f.s, f.i = msg, 0
	f.path, f.paths, f.spans, f.leaves = f.path[:0], f.paths[:0], f.spans[:0], f.leaves[:0]
	clear(f.seen)
	clear(f.same)
	f.ws()
	if f.i >= len(f.s) || f.s[f.i] != '{' {
		return false
	}
	if !f.value(0, false) {
		return false
	}
	f.ws()
	if f.i != len(f.s) {
		return false
	}
	if f.cands != nil {
		return true
	}
	// No path of the first message may occur twice.
	f.order = f.order[:0]
	for i := range f.spans {
		f.order = append(f.order, int32(i))
	}
	key := func(i int32) []byte { sp := f.spans[i]; return f.paths[sp[0]:sp[1]] }
	slices.SortFunc(f.order, func(a, b int32) int { return bytes.Compare(key(a), key(b)) })
	for i := 1; i < len(f.order); i++ {
		if bytes.Equal(key(f.order[i-1]), key(f.order[i])) {
			return false
		}
	}
	return true
}

func (f *jsonFlattener) ws() {
	for f.i < len(f.s) {
		switch f.s[f.i] {
		case ' ', '\t', '\n', '\r':
			f.i++
		default:
			return
		}
	}
}

// notePath records the current path (not for the top-level object); after
// the first message it counts it if it is a candidate's and returns the
// candidate's index (else -1).
func (f *jsonFlattener) notePath() (p0, p1 int32, cand int) {
	if f.cands != nil {
		i, ok := f.cands[string(f.path)]
		if !ok {
			return 0, 0, -1
		}
		f.seen[i]++
		return 0, 0, i
	}
	p0 = int32(len(f.paths))
	f.paths = append(f.paths, f.path...)
	p1 = int32(len(f.paths))
	f.spans = append(f.spans, [2]int32{p0, p1})
	return p0, p1, -1
}

// value parses the value at f.i, whose path is f.path; depth 0 is the
// message itself.
func (f *jsonFlattener) value(depth int, inArray bool) bool {
	if depth > maxConstDepth || f.i >= len(f.s) {
		return false
	}
	var p0, p1 int32
	cand := -1
	if depth > 0 {
		p0, p1, cand = f.notePath()
	}
	switch c := f.s[f.i]; {
	case c == '{':
		f.i++
		f.ws()
		if f.i < len(f.s) && f.s[f.i] == '}' {
			f.i++
			return true
		}
		for {
			f.ws()
			if f.i >= len(f.s) || f.s[f.i] != '"' {
				return false
			}
			k0 := f.i + 1
			if !f.str() {
				return false
			}
			key := f.s[k0 : f.i-1]
			if strings.IndexByte(key, '\\') >= 0 {
				return false // an escaped key: leave the decoding to the reader
			}
			base := len(f.path)
			if depth > 0 {
				f.path = append(f.path, '.')
			}
			f.path = append(f.path, key...)
			f.ws()
			if f.i >= len(f.s) || f.s[f.i] != ':' {
				return false
			}
			f.i++
			f.ws()
			if !f.value(depth+1, inArray) {
				return false
			}
			f.path = f.path[:base]
			f.ws()
			if f.i >= len(f.s) {
				return false
			}
			switch f.s[f.i] {
			case ',':
				f.i++
			case '}':
				f.i++
				return true
			default:
				return false
			}
		}
	case c == '[':
		f.i++
		f.ws()
		if f.i < len(f.s) && f.s[f.i] == ']' {
			f.i++
			return true
		}
		for n := 0; ; n++ {
			base := len(f.path)
			if depth > 0 {
				f.path = append(f.path, '.')
			}
			f.path = strconv.AppendInt(f.path, int64(n), 10)
			f.ws()
			if !f.value(depth+1, true) {
				return false
			}
			f.path = f.path[:base]
			f.ws()
			if f.i >= len(f.s) {
				return false
			}
			switch f.s[f.i] {
			case ',':
				f.i++
			case ']':
				f.i++
				return true
			default:
				return false
			}
		}
	}
	v0 := f.i
	if !f.scalar() {
		return false
	}
	switch {
	case cand >= 0:
		f.same[cand] = !inArray && f.s[v0:f.i] == f.vals[cand]
	case f.cands == nil:
		f.leaves = append(f.leaves, jsonLeaf{p0: p0, p1: p1, v0: v0, v1: f.i, inArray: inArray})
	}
	return true
}

func (f *jsonFlattener) scalar() bool {
	s := f.s[f.i:]
	switch s[0] {
	case '"':
		return f.str()
	case 't':
		return f.lit("true")
	case 'f':
		return f.lit("false")
	case 'n':
		return f.lit("null")
	}
	// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
	i := 0
	if i < len(s) && s[i] == '-' {
		i++
	}
	digits := func() int {
		n := 0
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
			n++
		}
		return n
	}
	if i < len(s) && s[i] == '0' {
		i++
	} else if digits() == 0 {
		return false
	}
	if i < len(s) && s[i] == '.' {
		i++
		if digits() == 0 {
			return false
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if digits() == 0 {
			return false
		}
	}
	f.i += i
	return true
}

func (f *jsonFlattener) lit(w string) bool {
	if !strings.HasPrefix(f.s[f.i:], w) {
		return false
	}
	f.i += len(w)
	return true
}

// str reads a string at f.i (a '"') and checks its escapes. Control
// characters are checked only in the short strings that can become keys
// or constants (long ones cannot, and scanning them byte by byte is what
// this parser must not do to every message).
func (f *jsonFlattener) str() bool {
	i := f.i + 1
	start := i
	for {
		q := strings.IndexByte(f.s[i:], '"')
		if q < 0 {
			return false
		}
		b := strings.IndexByte(f.s[i:i+q], '\\')
		if b < 0 {
			i += q
			break
		}
		i += b
		if i+1 >= len(f.s) {
			return false
		}
		switch f.s[i+1] {
		case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			i += 2
		case 'u':
			if i+6 > len(f.s) {
				return false
			}
			for _, c := range []byte(f.s[i+2 : i+6]) {
				if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
					return false
				}
			}
			i += 6
		default:
			return false
		}
	}
	if i-start <= maxConstantBytes {
		for _, c := range []byte(f.s[start:i]) {
			if c < 0x20 {
				return false
			}
		}
	}
	f.i = i + 1
	return true
}
