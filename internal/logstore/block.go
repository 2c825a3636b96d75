package logstore

import (
	"encoding/binary"
	"fmt"
	"unsafe"

	"github.com/klauspost/compress/zstd"
)

// A block is up to BlockMaxBytes of one stream's events in (ts, seq) order,
// stored column by column so each column compresses well, then zstd'd:
//
//	uvarint count
//	count × zigzag varint   timestamp delta (first from 0)
//	count × zigzag varint   seq delta
//	count × zigzag varint   ingestion time delta
//	count × uvarint         message length
//	message bytes, concatenated

func encodeBlockRaw(dst []byte, evs []headEvent) []byte {
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
	for _, e := range evs {
		dst = binary.AppendUvarint(dst, uint64(len(e.msg)))
	}
	for _, e := range evs {
		dst = append(dst, e.msg...)
	}
	return dst
}

// decodedBlock is a block's events; msgs point into data.
type decodedBlock struct {
	ts     []int64
	seq    []uint64
	ingest []int64
	msgs   []string
	data   []byte
}

func (b *decodedBlock) len() int { return len(b.ts) }

func (b *decodedBlock) sizeBytes() int64 {
	return int64(cap(b.data)) + int64(len(b.ts))*(8+8+8+16)
}

func decodeBlockRaw(raw []byte) (*decodedBlock, error) {
	d := decoder{b: raw}
	n := d.uvarint()
	if d.err != nil || n > uint64(len(raw)) {
		return nil, fmt.Errorf("block header: %w", errCorruptRecord)
	}
	b := &decodedBlock{
		ts: make([]int64, n), seq: make([]uint64, n), ingest: make([]int64, n), msgs: make([]string, n), data: raw,
	}
	var v int64
	for i := range b.ts {
		v += d.varint()
		b.ts[i] = v
	}
	var s uint64
	for i := range b.seq {
		s += uint64(d.varint())
		b.seq[i] = s
	}
	v = 0
	for i := range b.ingest {
		v += d.varint()
		b.ingest[i] = v
	}
	lens := make([]int, n)
	total := 0
	for i := range lens {
		lens[i] = int(d.uvarint())
		total += lens[i]
	}
	if d.err != nil || total < 0 || total != len(d.b) {
		return nil, fmt.Errorf("block body: %w", errCorruptRecord)
	}
	rest := d.b
	for i, l := range lens {
		if l > 0 {
			b.msgs[i] = unsafe.String(&rest[0], l)
		}
		rest = rest[l:]
	}
	return b, nil
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
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(lvl), zstd.WithEncoderConcurrency(1), zstd.WithLowerEncoderMem(true))
	if err != nil {
		return nil, err
	}
	walEnc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(1), zstd.WithLowerEncoderMem(true))
	if err != nil {
		return nil, err
	}
	dec, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(0), zstd.WithDecoderMaxMemory(256<<20))
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
