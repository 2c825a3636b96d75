package buffer

import (
	"context"
	"encoding/binary"
	"math/rand/v2"
	"testing"
)

// TestCrashModel drives a buffer the way the pipeline will: a tailer pushes
// positions 1..n and commits the largest released token as its checkpoint; a
// sender delivers one item at a time and sometimes fails; the process
// "crashes" now and then (the buffer is abandoned without Close, memory is
// lost, the tailer resumes after its checkpoint). At the end every position
// must have been delivered exactly once or counted as dropped.
func TestCrashModel(t *testing.T) {
	for seed := uint64(1); seed <= 4; seed++ {
		rng := rand.New(rand.NewPCG(seed, 99))
		dir := t.TempDir()
		cfg := Config{MemoryBytes: 64, DiskBytes: 300, SegmentBytes: 100}
		const n = 250
		var (
			b          *Buffer
			checkpoint uint64 // the tailer's committed position
			nextPos    uint64 // the next position the tailer reads
			delivered  = map[uint64]int{}
			dropped    int64
		)
		pos := func(tok []byte) uint64 { return binary.BigEndian.Uint64(tok) }
		commit := func() {
			for _, r := range b.Released(nil) {
				checkpoint = max(checkpoint, pos(r.Token))
			}
		}
		start := func() {
			var err error
			if b, err = Open(dir, cfg, nil, nil); err != nil {
				t.Fatal(err)
			}
			commit()
			nextPos = checkpoint + 1
		}
		crash := func() {
			st := b.Stats()
			for _, v := range st.Dropped {
				dropped += v
			}
			_ = b.Close() // only closes files: as good as a kill for the disk
		}
		start()
		ctx := context.Background()
		for step := 0; ; step++ {
			if nextPos > n && b.Stats().Items == 0 {
				break
			}
			if step > 20*n {
				t.Fatalf("seed %d: not converging: %+v", seed, b.Stats())
			}
			switch op := rng.IntN(20); {
			case op < 10 && nextPos <= n:
				p := make([]byte, 8+rng.IntN(30))
				binary.BigEndian.PutUint64(p, nextPos)
				if err := b.Push(ctx, p, p[:8]); err != nil {
					t.Fatal(err)
				}
				nextPos++
			case op < 18:
				if b.Stats().Items == 0 {
					continue
				}
				it := next(t, b)
				if rng.IntN(5) == 0 {
					if err := b.Nack(it.ID); err != nil {
						t.Fatal(err)
					}
					continue
				}
				delivered[pos(it.Payload)]++
				if err := b.Ack(it.ID); err != nil {
					t.Fatalf("seed %d: Ack: %v", seed, err)
				}
			default:
				crash()
				start()
			}
			commit()
		}
		crash()
		for p, c := range delivered {
			if c != 1 {
				t.Fatalf("seed %d: position %d delivered %d times", seed, p, c)
			}
		}
		if int64(len(delivered))+dropped != n {
			t.Fatalf("seed %d: delivered %d + dropped %d != %d", seed, len(delivered), dropped, n)
		}
		t.Logf("seed %d: delivered %d, dropped %d", seed, len(delivered), dropped)
	}
}
