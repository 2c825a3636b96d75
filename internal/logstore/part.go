package logstore

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/kinsight/kinsight/internal/logstore/elide"
)

// A part is one immutable file of a daily partition: blocks, their bloom
// filters, a block index and a JSON meta section, found from a fixed footer.
// FORMAT.md describes the layout byte by byte.

const (
	partMagic     = "KSPART1\n"
	partEndMagic  = "KSPEND1\n"
	partFooterLen = 16
	// partVersion is what new parts are written as; version 1 parts (one
	// zstd frame per block, no constants) and version 2 parts (no elided
	// members) stay readable.
	partVersion = 3
)

type blockMeta struct {
	streamID     uint64
	minTs, maxTs int64
	maxIngest    int64
	maxSeq       uint64
	count        uint32
	rawBytes     uint32 // message bytes
	off          uint64
	size         uint32
	crc          uint32
	bloomOff     uint64
	bloomWords   uint32
	// Version 2: colsSize is the compressed size of the columns frame at
	// the start of the block (0 in version 1 parts: no separate frame),
	// consts the block's constant fields.
	colsSize uint32
	consts   []Constant
}

type partMeta struct {
	Version int    `json:"version"`
	ID      uint64 `json:"id"`
	Day     int32  `json:"day"`
	// WALSegment is the newest WAL segment whose events for this day are in
	// this part (or in the parts it was merged from).
	WALSegment uint64 `json:"wal_segment"`
	// Sources are the parts merged into this one; at open, any that still
	// exist are deleted (the merge finished but their removal did not).
	Sources    []uint64 `json:"sources,omitempty"`
	Events     int64    `json:"events"`
	RawBytes   int64    `json:"raw_bytes"`
	MinTs      int64    `json:"min_ts"`
	MaxTs      int64    `json:"max_ts"`
	Blocks     int      `json:"blocks"`
	IndexOff   int64    `json:"index_off"`
	IndexLen   int64    `json:"index_len"`
	IndexCRC   uint32   `json:"index_crc"`
	GroupIDs   []uint64 `json:"group_ids"`
	FileLength int64    `json:"-"`
}

func partFileName(id uint64) string { return fmt.Sprintf("%016x.part", id) }

func parsePartFileName(name string) (uint64, bool) {
	s, ok := strings.CutSuffix(name, ".part")
	if !ok || len(s) != 16 {
		return 0, false
	}
	id, err := strconv.ParseUint(s, 16, 64)
	return id, err == nil
}

// partWriter writes a part file: blocks first, then blooms, index, meta and
// footer. Blocks must be added in (stream, time) order.
type partWriter struct {
	path, tmp string
	f         *os.File
	w         *bufio.Writer
	off       int64
	codec     *codec
	meta      partMeta
	blocks    []blockMeta
	blooms    [][]uint64
	groups    map[uint64]struct{}
	bloom     *bloomBuilder
	raw       []byte
	comp      []byte
}

func newPartWriter(dir string, id uint64, day int32, c *codec) (*partWriter, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	path := filepath.Join(dir, partFileName(id))
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, err
	}
	pw := &partWriter{
		path: path, tmp: tmp, f: f, w: bufio.NewWriterSize(f, 1<<20), codec: c,
		meta:   partMeta{Version: partVersion, ID: id, Day: day},
		groups: map[uint64]struct{}{}, bloom: newBloomBuilder(),
	}
	if _, err := pw.w.WriteString(partMagic); err != nil {
		pw.abort()
		return nil, err
	}
	pw.off = int64(len(partMagic))
	return pw, nil
}

// addBlock compresses and writes one block of one stream's events.
func (pw *partWriter) addBlock(groupID, streamID uint64, evs []headEvent) error {
	if len(evs) == 0 {
		return nil
	}
	var cols int
	bm := blockMeta{streamID: streamID, minTs: evs[0].ts, maxTs: evs[0].ts, count: uint32(len(evs))}
	if pw.meta.Version >= 2 {
		bm.consts = blockConstants(evs)
	}
	switch {
	case pw.meta.Version < 2:
		pw.raw, _ = encodeBlockRaw(pw.raw[:0], evs)
		pw.comp = pw.codec.enc.EncodeAll(pw.raw, pw.comp[:0])
	default:
		if pw.meta.Version < 3 {
			pw.raw, cols = encodeBlockRaw(pw.raw[:0], evs)
		} else {
			// Members are elided only where constants were found: those
			// blocks' messages are all strict JSON objects, which is what
			// lets a reader find each member again.
			var members []elide.Member
			var spans []elide.Span
			if bm.consts != nil {
				members, spans = elideMembers(evs)
			}
			pw.raw, cols = encodeBlockV3(pw.raw[:0], evs, members, spans)
		}
		pw.comp = pw.codec.enc.EncodeAll(pw.raw[:cols], pw.comp[:0])
		bm.colsSize = uint32(len(pw.comp))
		pw.comp = pw.codec.enc.EncodeAll(pw.raw[cols:], pw.comp)
	}
	pw.bloom.reset()
	var raw int64
	for _, e := range evs {
		bm.minTs = min(bm.minTs, e.ts)
		bm.maxTs = max(bm.maxTs, e.ts)
		bm.maxIngest = max(bm.maxIngest, e.ingest)
		bm.maxSeq = max(bm.maxSeq, e.seq)
		raw += int64(len(e.msg))
		pw.bloom.addMessage(e.msg)
	}
	bm.rawBytes = uint32(raw)
	bm.off = uint64(pw.off)
	bm.size = uint32(len(pw.comp))
	bm.crc = crc32.Checksum(pw.comp, castagnoli)
	if _, err := pw.w.Write(pw.comp); err != nil {
		return err
	}
	pw.off += int64(len(pw.comp))
	pw.blocks = append(pw.blocks, bm)
	pw.blooms = append(pw.blooms, pw.bloom.build())
	pw.groups[groupID] = struct{}{}
	m := &pw.meta
	if m.Events == 0 {
		m.MinTs, m.MaxTs = bm.minTs, bm.maxTs
	}
	m.MinTs = min(m.MinTs, bm.minTs)
	m.MaxTs = max(m.MaxTs, bm.maxTs)
	m.Events += int64(len(evs))
	m.RawBytes += raw
	return nil
}

// copyBlock appends block i of src unchanged: compressed bytes and bloom
// filter are copied, not rebuilt. A block of an older part version is
// re-encoded instead, so merges turn old parts into the current version.
func (pw *partWriter) copyBlock(groupID uint64, src *part, i int) error {
	bm := src.blocks[i]
	if src.meta.Version < pw.meta.Version {
		db, err := src.readBlock(i, pw.codec, false)
		if err != nil {
			return err
		}
		evs := make([]headEvent, db.len())
		for j := range evs {
			evs[j] = headEvent{ts: db.ts[j], seq: db.seq[j], ingest: db.ingest[j], msg: db.msgs[j]}
		}
		return pw.addBlock(groupID, bm.streamID, evs)
	}
	comp := make([]byte, bm.size)
	if _, err := src.f.ReadAt(comp, int64(bm.off)); err != nil {
		return fmt.Errorf("%s: block %d: %w", src.path, i, err)
	}
	if crc32.Checksum(comp, castagnoli) != bm.crc {
		return fmt.Errorf("%s: block %d: %w: checksum mismatch", src.path, i, errBadPart)
	}
	bloom, err := src.readBloom(i)
	if err != nil {
		return err
	}
	if _, err := pw.w.Write(comp); err != nil {
		return err
	}
	bm.off = uint64(pw.off)
	pw.off += int64(len(comp))
	pw.blocks = append(pw.blocks, bm)
	pw.blooms = append(pw.blooms, bloom)
	pw.groups[groupID] = struct{}{}
	m := &pw.meta
	if m.Events == 0 {
		m.MinTs, m.MaxTs = bm.minTs, bm.maxTs
	}
	m.MinTs = min(m.MinTs, bm.minTs)
	m.MaxTs = max(m.MaxTs, bm.maxTs)
	m.Events += int64(bm.count)
	m.RawBytes += int64(bm.rawBytes)
	return nil
}

func (pw *partWriter) empty() bool { return len(pw.blocks) == 0 }

// finish writes the tail sections, syncs and renames the file into place.
func (pw *partWriter) finish() error {
	var buf []byte
	for i := range pw.blocks {
		pw.blocks[i].bloomOff = uint64(pw.off)
		pw.blocks[i].bloomWords = uint32(len(pw.blooms[i]))
		buf = buf[:0]
		for _, w := range pw.blooms[i] {
			buf = binary.LittleEndian.AppendUint64(buf, w)
		}
		if _, err := pw.w.Write(buf); err != nil {
			return err
		}
		pw.off += int64(len(buf))
	}
	idx := encodeIndex(pw.blocks, pw.meta.Version)
	pw.meta.IndexOff, pw.meta.IndexLen = pw.off, int64(len(idx))
	pw.meta.IndexCRC = crc32.Checksum(idx, castagnoli)
	pw.meta.Blocks = len(pw.blocks)
	for g := range pw.groups {
		pw.meta.GroupIDs = append(pw.meta.GroupIDs, g)
	}
	sort.Slice(pw.meta.GroupIDs, func(i, j int) bool { return pw.meta.GroupIDs[i] < pw.meta.GroupIDs[j] })
	meta, _ := json.Marshal(pw.meta)
	var footer [partFooterLen]byte
	binary.LittleEndian.PutUint32(footer[0:], uint32(len(meta)))
	binary.LittleEndian.PutUint32(footer[4:], crc32.Checksum(meta, castagnoli))
	for _, b := range [][]byte{idx, meta, footer[:8], []byte(partEndMagic)} {
		if _, err := pw.w.Write(b); err != nil {
			return err
		}
	}
	if err := pw.w.Flush(); err != nil {
		return err
	}
	if err := pw.f.Sync(); err != nil {
		return err
	}
	if err := pw.f.Close(); err != nil {
		return err
	}
	pw.f = nil
	if err := os.Rename(pw.tmp, pw.path); err != nil {
		return err
	}
	return syncDir(filepath.Dir(pw.path))
}

func (pw *partWriter) abort() {
	if pw.f != nil {
		pw.f.Close()
	}
	os.Remove(pw.tmp)
}

func encodeIndex(blocks []blockMeta, version int) []byte {
	b := binary.AppendUvarint(nil, uint64(len(blocks)))
	for _, m := range blocks {
		b = binary.AppendUvarint(b, m.streamID)
		b = binary.AppendVarint(b, m.minTs)
		b = binary.AppendVarint(b, m.maxTs)
		b = binary.AppendVarint(b, m.maxIngest)
		b = binary.AppendUvarint(b, m.maxSeq)
		b = binary.AppendUvarint(b, uint64(m.count))
		b = binary.AppendUvarint(b, uint64(m.rawBytes))
		b = binary.AppendUvarint(b, m.off)
		b = binary.AppendUvarint(b, uint64(m.size))
		b = binary.LittleEndian.AppendUint32(b, m.crc)
		b = binary.AppendUvarint(b, m.bloomOff)
		b = binary.AppendUvarint(b, uint64(m.bloomWords))
		if version < 2 {
			continue
		}
		b = binary.AppendUvarint(b, uint64(m.colsSize))
		b = binary.AppendUvarint(b, uint64(len(m.consts)))
		for _, c := range m.consts {
			b = binary.AppendUvarint(b, uint64(len(c.Name)))
			b = append(b, c.Name...)
			b = binary.AppendUvarint(b, uint64(len(c.JSON)))
			b = append(b, c.JSON...)
		}
	}
	return b
}

func decodeIndex(b []byte, version int) ([]blockMeta, error) {
	d := decoder{b: b}
	n := d.uvarint()
	if d.err != nil || n > uint64(len(b)) {
		return nil, errCorruptRecord
	}
	out := make([]blockMeta, n)
	for i := range out {
		m := &out[i]
		m.streamID = d.uvarint()
		m.minTs = d.varint()
		m.maxTs = d.varint()
		m.maxIngest = d.varint()
		m.maxSeq = d.uvarint()
		m.count = uint32(d.uvarint())
		m.rawBytes = uint32(d.uvarint())
		m.off = d.uvarint()
		m.size = uint32(d.uvarint())
		crc := d.bytes(4)
		if d.err == nil {
			m.crc = binary.LittleEndian.Uint32(crc)
		}
		m.bloomOff = d.uvarint()
		m.bloomWords = uint32(d.uvarint())
		if version < 2 {
			continue
		}
		cs := d.uvarint()
		if cs > uint64(m.size) {
			return nil, errCorruptRecord
		}
		m.colsSize = uint32(cs)
		nc := d.uvarint()
		if nc > maxConstants {
			return nil, errCorruptRecord
		}
		if nc > 0 {
			m.consts = make([]Constant, nc)
		}
		for j := range m.consts {
			var kv [2]string
			for k := range kv {
				n := d.uvarint()
				if n > maxConstantBytes {
					return nil, errCorruptRecord
				}
				kv[k] = string(d.bytes(int(n)))
			}
			m.consts[j] = Constant{Name: kv[0], JSON: kv[1]}
		}
		if d.err != nil {
			return nil, d.err
		}
	}
	if d.err != nil {
		return nil, d.err
	}
	return out, nil
}

// part is an open part file. Readers hold a reference while they use it;
// the file is closed when the part was dropped and the last reader let go.
type part struct {
	path   string
	meta   partMeta
	blocks []blockMeta // sorted by (streamID, minTs)
	f      *os.File
	size   int64

	refs    atomic.Int64
	dropped atomic.Bool
	closeMu sync.Once
}

var errBadPart = errors.New("corrupt part file")

func openPart(path string) (*part, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	p, err := readPart(f, path)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	p.refs.Store(1) // the store's own reference
	return p, nil
}

func readPart(f *os.File, path string) (*part, error) {
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	size := st.Size()
	if size < int64(len(partMagic))+partFooterLen {
		return nil, errBadPart
	}
	var footer [partFooterLen]byte
	if _, err := f.ReadAt(footer[:], size-partFooterLen); err != nil {
		return nil, err
	}
	if string(footer[8:]) != partEndMagic {
		return nil, fmt.Errorf("%w: bad end magic", errBadPart)
	}
	metaLen := int64(binary.LittleEndian.Uint32(footer[0:]))
	if metaLen <= 0 || metaLen > size-partFooterLen {
		return nil, fmt.Errorf("%w: bad meta length", errBadPart)
	}
	meta := make([]byte, metaLen)
	if _, err := f.ReadAt(meta, size-partFooterLen-metaLen); err != nil {
		return nil, err
	}
	if crc32.Checksum(meta, castagnoli) != binary.LittleEndian.Uint32(footer[4:]) {
		return nil, fmt.Errorf("%w: meta checksum", errBadPart)
	}
	p := &part{path: path, f: f, size: size}
	if err := json.Unmarshal(meta, &p.meta); err != nil {
		return nil, fmt.Errorf("%w: meta: %v", errBadPart, err)
	}
	if p.meta.Version < 1 || p.meta.Version > 3 {
		return nil, fmt.Errorf("%w: version %d", errBadPart, p.meta.Version)
	}
	if p.meta.IndexOff < 0 || p.meta.IndexLen < 0 || p.meta.IndexOff+p.meta.IndexLen > size {
		return nil, fmt.Errorf("%w: index bounds", errBadPart)
	}
	idx := make([]byte, p.meta.IndexLen)
	if _, err := f.ReadAt(idx, p.meta.IndexOff); err != nil {
		return nil, err
	}
	if crc32.Checksum(idx, castagnoli) != p.meta.IndexCRC {
		return nil, fmt.Errorf("%w: index checksum", errBadPart)
	}
	if p.blocks, err = decodeIndex(idx, p.meta.Version); err != nil {
		return nil, fmt.Errorf("%w: index: %v", errBadPart, err)
	}
	for _, b := range p.blocks {
		if int64(b.off)+int64(b.size) > size || int64(b.bloomOff)+int64(b.bloomWords)*8 > size {
			return nil, fmt.Errorf("%w: block bounds", errBadPart)
		}
	}
	return p, nil
}

func (p *part) acquire() { p.refs.Add(1) }

func (p *part) release() {
	if p.refs.Add(-1) == 0 {
		p.closeMu.Do(func() { p.f.Close() })
	}
}

// drop removes the store's reference; if remove, the file is deleted (open
// readers keep reading it through their descriptor).
func (p *part) drop(remove bool) error {
	var err error
	if remove {
		err = os.Remove(p.path)
	}
	p.dropped.Store(true)
	p.release()
	return err
}

// streamBlocks returns the indexes of the stream's blocks.
func (p *part) streamBlocks(streamID uint64) (lo, hi int) {
	lo = sort.Search(len(p.blocks), func(i int) bool { return p.blocks[i].streamID >= streamID })
	hi = sort.Search(len(p.blocks), func(i int) bool { return p.blocks[i].streamID > streamID })
	return lo, hi
}

// readBloom reads block i's filter.
func (p *part) readBloom(i int) ([]uint64, error) {
	b := p.blocks[i]
	buf := make([]byte, int(b.bloomWords)*8)
	if _, err := p.f.ReadAt(buf, int64(b.bloomOff)); err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	words := make([]uint64, b.bloomWords)
	for j := range words {
		words[j] = binary.LittleEndian.Uint64(buf[j*8:])
	}
	return words, nil
}

// readBlock reads, checks and decompresses block i with every message as
// written. With columnsOnly, a version 2 or 3 block decompresses only its
// columns frame (the messages stay nil); a version 1 block has no such
// frame and is decoded whole.
func (p *part) readBlock(i int, c *codec, columnsOnly bool) (*decodedBlock, error) {
	if columnsOnly {
		return p.readBlockAs(i, c, formColumns)
	}
	return p.readBlockAs(i, c, formFull)
}

// readBlockAs reads, checks and decompresses block i in the given form.
func (p *part) readBlockAs(i int, c *codec, form blockForm) (*decodedBlock, error) {
	b := p.blocks[i]
	comp := make([]byte, b.size)
	if _, err := p.f.ReadAt(comp, int64(b.off)); err != nil {
		return nil, fmt.Errorf("%s: block %d: %w", p.path, i, err)
	}
	if crc32.Checksum(comp, castagnoli) != b.crc {
		return nil, fmt.Errorf("%s: block %d: %w: checksum mismatch", p.path, i, errBadPart)
	}
	db, err := decodeBlock(comp, c, form, int(b.colsSize), int(b.rawBytes), p.meta.Version)
	if err != nil {
		return nil, fmt.Errorf("%s: block %d: %w", p.path, i, err)
	}
	if db.len() != int(b.count) {
		return nil, fmt.Errorf("%s: block %d: %w: count", p.path, i, errBadPart)
	}
	if len(db.members) > 0 {
		db.consts = make([]Constant, 0, len(b.consts)+len(db.members))
		db.consts = append(db.consts, b.consts...)
		for _, m := range db.members {
			db.consts = append(db.consts, Constant{Name: m.Key, JSON: m.Value})
		}
	}
	return db, nil
}

// decodeBlock decompresses and decodes a block's compressed bytes:
// colsSize > 0 is a version 2 or 3 block, of which formColumns
// decompresses only the columns frame. The frames are decompressed
// separately, each into a buffer of its own: zstd decoding into a buffer
// that already holds data copies the output through its history window,
// which cost more than the decompression itself. rawBytes (the written
// message bytes) sizes buffers only.
func decodeBlock(comp []byte, c *codec, form blockForm, colsSize, rawBytes, version int) (*decodedBlock, error) {
	if rawBytes < 0 || rawBytes > 1<<28 {
		rawBytes = 0
	}
	if colsSize <= 0 || colsSize > len(comp) {
		if colsSize != 0 || version >= 3 {
			return nil, fmt.Errorf("%w: columns frame size", errBadPart)
		}
		raw, err := c.dec.DecodeAll(comp, make([]byte, 0, rawBytes+rawBytes/8+64))
		if err != nil {
			return nil, fmt.Errorf("%w: %v", errBadPart, err)
		}
		return decodeBlockRaw(raw, false)
	}
	cols, err := c.dec.DecodeAll(comp[:colsSize], nil)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errBadPart, err)
	}
	b, lens, total, rest, err := decodeColumns(cols, form != formColumns, version)
	if err != nil {
		return nil, err
	}
	if len(rest) != 0 {
		return nil, fmt.Errorf("block columns: %w", errCorruptRecord)
	}
	if form == formColumns {
		b.members = nil
		return b, nil
	}
	msgs, err := c.dec.DecodeAll(comp[colsSize:], make([]byte, 0, total))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errBadPart, err)
	}
	if err := b.attach(lens, msgs); err != nil {
		return nil, err
	}
	if form == formFull {
		if err := b.restore(max(rawBytes, total)); err != nil {
			return nil, err
		}
	}
	return b, nil
}
