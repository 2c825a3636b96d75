package logstore

import (
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
)

func TestZstdLevels(t *testing.T) {
	lines := loghubLines(t)
	now := time.Now()
	var evs []headEvent
	size := 0
	for i := 0; size < 512<<10; i++ {
		m := containerRecord(lines[(i*7)%len(lines)], 3, now.Add(time.Duration(i)*time.Millisecond))
		evs = append(evs, headEvent{ts: now.UnixMilli() + int64(i), seq: uint64(i), ingest: now.UnixMilli(), msg: m})
		size += len(m)
	}
	raw := encodeBlockRaw(nil, evs)
	for _, l := range []zstd.EncoderLevel{zstd.SpeedFastest, zstd.SpeedDefault, zstd.SpeedBetterCompression, zstd.SpeedBestCompression} {
		enc, _ := zstd.NewWriter(nil, zstd.WithEncoderLevel(l), zstd.WithEncoderConcurrency(1), zstd.WithLowerEncoderMem(true))
		start := time.Now()
		var out []byte
		for i := 0; i < 5; i++ {
			out = enc.EncodeAll(raw, out[:0])
		}
		d := time.Since(start) / 5
		t.Logf("%v: ratio %.1f (%d -> %d), %.0f MB/s", l, float64(size)/float64(len(out)), len(raw), len(out), float64(len(raw))/d.Seconds()/1e6)
	}
}
