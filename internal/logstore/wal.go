package logstore

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/klauspost/compress/zstd"
)

// The write-ahead log is a directory of numbered segment files. Each holds
// frames: u32 payload length, u32 CRC-32C of the payload, payload. A payload
// is a codec byte (walRaw or walZstd) and then, plain or as one zstd frame,
// one Append: uvarint lsn, uvarint stream id, varint ingestion time (ms),
// uvarint event count, then per event varint timestamp, uvarint length,
// message bytes. A record that advances deduplication marks (marks.go) has
// the walMarks flag in its codec byte and, after the events, uvarint mark
// count and per mark uvarint source, u8 channel, varint end; records without
// marks are written exactly as before the flag existed, and old segments
// replay unchanged. See FORMAT.md.
//
// Compression is what makes durable ingest fast on ordinary disks: log
// records (JSON with a repeated kubernetes object) shrink 5–10× at zstd's
// fastest level, and the fsync'd bytes are what the disk limits.

const (
	walRaw  = 0
	walZstd = 1
	// walMarks is or'ed into the codec byte of a record carrying marks.
	walMarks = 2
	// walCompressMin: smaller records are stored raw.
	walCompressMin = 512
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

const (
	walFrameHeader = 8
	// walMaxFrame bounds a frame read at replay so a corrupt length cannot
	// make replay allocate gigabytes; an Append is at most ~1.3 MB.
	walMaxFrame = 64 << 20
)

type walRecord struct {
	lsn      uint64
	streamID uint64
	ingest   int64
	events   []InputEvent
	// marks are the deduplication marks this record advances.
	marks []walMark
}

// appendWALRecord encodes r as a frame onto buf. scratch is reused for the
// uncompressed record; enc may be nil to store it raw.
func appendWALRecord(buf []byte, r *walRecord, enc *zstd.Encoder, scratch *[]byte) []byte {
	rec := encodeWALRecord((*scratch)[:0], r)
	*scratch = rec
	start := len(buf)
	buf = append(buf, make([]byte, walFrameHeader)...)
	var flags byte
	if len(r.marks) > 0 {
		flags = walMarks
	}
	if enc != nil && len(rec) >= walCompressMin {
		buf = append(buf, walZstd|flags)
		buf = enc.EncodeAll(rec, buf)
	} else {
		buf = append(buf, walRaw|flags)
		buf = append(buf, rec...)
	}
	payload := buf[start+walFrameHeader:]
	binary.LittleEndian.PutUint32(buf[start:], uint32(len(payload)))
	binary.LittleEndian.PutUint32(buf[start+4:], crc32.Checksum(payload, castagnoli))
	return buf
}

func encodeWALRecord(buf []byte, r *walRecord) []byte {
	buf = binary.AppendUvarint(buf, r.lsn)
	buf = binary.AppendUvarint(buf, r.streamID)
	buf = binary.AppendVarint(buf, r.ingest)
	buf = binary.AppendUvarint(buf, uint64(len(r.events)))
	for _, e := range r.events {
		buf = binary.AppendVarint(buf, e.Timestamp)
		buf = binary.AppendUvarint(buf, uint64(len(e.Message)))
		buf = append(buf, e.Message...)
	}
	if len(r.marks) > 0 {
		buf = binary.AppendUvarint(buf, uint64(len(r.marks)))
		for _, m := range r.marks {
			buf = binary.AppendUvarint(buf, m.source)
			buf = append(buf, m.channel)
			buf = binary.AppendVarint(buf, m.end)
		}
	}
	return buf
}

var errCorruptRecord = errors.New("corrupt WAL record")

// decodeWALPayload decodes a frame's payload; messages are copied out.
func decodeWALPayload(p []byte, dec *zstd.Decoder) (walRecord, error) {
	if len(p) == 0 {
		return walRecord{}, errCorruptRecord
	}
	hasMarks := p[0]&walMarks != 0
	switch p[0] &^ walMarks {
	case walRaw:
		return decodeWALRecord(p[1:], hasMarks)
	case walZstd:
		raw, err := dec.DecodeAll(p[1:], nil)
		if err != nil {
			return walRecord{}, errCorruptRecord
		}
		return decodeWALRecord(raw, hasMarks)
	}
	return walRecord{}, errCorruptRecord
}

func decodeWALRecord(p []byte, hasMarks bool) (walRecord, error) {
	var r walRecord
	d := decoder{b: p}
	r.lsn = d.uvarint()
	r.streamID = d.uvarint()
	r.ingest = d.varint()
	n := d.uvarint()
	if d.err != nil || n > uint64(len(p)) {
		return r, errCorruptRecord
	}
	r.events = make([]InputEvent, 0, n)
	for i := uint64(0); i < n; i++ {
		ts := d.varint()
		msg := d.bytes(int(d.uvarint()))
		if d.err != nil {
			return r, errCorruptRecord
		}
		r.events = append(r.events, InputEvent{Timestamp: ts, Message: string(msg)})
	}
	if hasMarks {
		n := d.uvarint()
		if d.err != nil || n == 0 || n > uint64(len(d.b)) {
			return r, errCorruptRecord
		}
		r.marks = make([]walMark, 0, n)
		for i := uint64(0); i < n; i++ {
			var m walMark
			m.source = d.uvarint()
			ch := d.bytes(1)
			m.end = d.varint()
			if d.err != nil {
				return r, errCorruptRecord
			}
			m.channel = ch[0]
			r.marks = append(r.marks, m)
		}
	}
	if d.err != nil || len(d.b) != 0 {
		return r, errCorruptRecord
	}
	return r, nil
}

// decoder reads varints from a byte slice, remembering the first error.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = errCorruptRecord
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.err = errCorruptRecord
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) bytes(n int) []byte {
	if d.err != nil {
		return nil
	}
	if n < 0 || n > len(d.b) {
		d.err = errCorruptRecord
		return nil
	}
	v := d.b[:n]
	d.b = d.b[n:]
	return v
}

func segmentName(n uint64) string { return fmt.Sprintf("%016d.wal", n) }

// listSegments returns the segment numbers in dir, ascending.
func listSegments(dir string) ([]uint64, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []uint64
	for _, e := range ents {
		name, ok := strings.CutSuffix(e.Name(), ".wal")
		if !ok {
			continue
		}
		n, err := strconv.ParseUint(name, 10, 64)
		if err != nil {
			continue
		}
		out = append(out, n)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out, nil
}

// replaySegment calls fn for every intact record of a segment. A torn or
// corrupt frame ends the segment: nothing after it was acknowledged, because
// a write is acknowledged only after it and everything before it were synced.
// It returns the number of bytes skipped at the end.
func replaySegment(path string, dec *zstd.Decoder, fn func(walRecord) error) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return 0, err
	}
	r := bufio.NewReaderSize(f, 1<<20)
	var off int64
	var hdr [walFrameHeader]byte
	var payload []byte
	for {
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			return st.Size() - off, nil
		}
		n := binary.LittleEndian.Uint32(hdr[:])
		if n == 0 || n > walMaxFrame {
			return st.Size() - off, nil
		}
		if cap(payload) < int(n) {
			payload = make([]byte, n)
		}
		payload = payload[:n]
		if _, err := io.ReadFull(r, payload); err != nil {
			return st.Size() - off, nil
		}
		if crc32.Checksum(payload, castagnoli) != binary.LittleEndian.Uint32(hdr[4:]) {
			return st.Size() - off, nil
		}
		rec, err := decodeWALPayload(payload, dec)
		if err != nil {
			return st.Size() - off, nil
		}
		if err := fn(rec); err != nil {
			return 0, err
		}
		off += walFrameHeader + int64(n)
	}
}

// walWriter appends frames to the current segment. It is used only by the
// committer goroutine.
type walWriter struct {
	dir      string
	segBytes int64
	seg      uint64
	f        *os.File
	size     int64
}

func (w *walWriter) open(seg uint64) error {
	f, err := os.OpenFile(filepath.Join(w.dir, segmentName(seg)), os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	if err := syncDir(w.dir); err != nil {
		f.Close()
		return err
	}
	w.f, w.seg, w.size = f, seg, 0
	return nil
}

// write appends buf and syncs it. On failure it cuts the segment back so no
// unacknowledged bytes can surface at replay, and if even that fails it
// moves to a fresh segment at the next write.
func (w *walWriter) write(buf []byte) error {
	if w.f == nil {
		if err := w.open(w.seg + 1); err != nil {
			return err
		}
	}
	_, err := w.f.Write(buf)
	if err == nil {
		err = w.f.Sync()
	}
	if err != nil {
		if terr := w.f.Truncate(w.size); terr == nil {
			if _, serr := w.f.Seek(w.size, io.SeekStart); serr == nil && w.f.Sync() == nil {
				return err
			}
		}
		w.f.Close()
		w.f = nil
		return err
	}
	w.size += int64(len(buf))
	return nil
}

// rotate closes the current segment and starts the next one, returning the
// number of the closed segment.
func (w *walWriter) rotate() (uint64, error) {
	closed := w.seg
	if w.f != nil {
		if err := w.f.Close(); err != nil {
			return closed, err
		}
		w.f = nil
	}
	return closed, w.open(closed + 1)
}

func (w *walWriter) close() error {
	if w.f == nil {
		return nil
	}
	err := w.f.Close()
	w.f = nil
	return err
}

// removeSegmentsThrough deletes segments numbered <= last.
func removeSegmentsThrough(dir string, last uint64) error {
	segs, err := listSegments(dir)
	if err != nil {
		return err
	}
	for _, s := range segs {
		if s > last {
			break
		}
		if err := os.Remove(filepath.Join(dir, segmentName(s))); err != nil && !os.IsNotExist(err) {
			return err
		}
	}
	return syncDir(dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
