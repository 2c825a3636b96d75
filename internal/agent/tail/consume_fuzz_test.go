package tail

import (
	"bytes"
	"context"
	"testing"
)

// FuzzConsume feeds arbitrary bytes in arbitrary chunks through the line
// splitter: the lines and their offsets must rebuild the input exactly, no
// piece may exceed the cap, and only the unterminated tail may be held back.
func FuzzConsume(f *testing.F) {
	f.Add([]byte("a\nbb\nccc"), uint8(3), uint8(2))
	f.Add([]byte("\n\n\n"), uint8(1), uint8(1))
	f.Add(bytes.Repeat([]byte("x"), 300), uint8(7), uint8(64))
	f.Add([]byte("2024-01-01T00:00:00Z stdout P part\n2024-01-01T00:00:00Z stdout F rest\n"), uint8(5), uint8(9))
	f.Fuzz(func(t *testing.T, data []byte, chunk, max uint8) {
		if chunk == 0 || max == 0 {
			return
		}
		h := newHarness(t, nil, nil, Config{MaxLineBytes: int(max)})
		out := make(chan Line, len(data)+1)
		tr := &tracked{}
		for i := 0; i < len(data); i += int(chunk) {
			if err := h.tl.consume(context.Background(), tr, data[i:min(i+int(chunk), len(data))], out); err != nil {
				t.Fatal(err)
			}
		}
		close(out)
		var rebuilt []byte
		var prev int64
		for l := range out {
			if len(l.Data) > int(max) {
				t.Fatalf("piece of %d bytes > cap %d", len(l.Data), max)
			}
			rebuilt = append(rebuilt, l.Data...)
			switch l.Offset - prev {
			case int64(len(l.Data)) + 1:
				rebuilt = append(rebuilt, '\n')
			case int64(len(l.Data)):
			default:
				t.Fatalf("offset %d after %d for %d bytes", l.Offset, prev, len(l.Data))
			}
			prev = l.Offset
		}
		if !bytes.Equal(rebuilt, data[:prev]) {
			t.Fatalf("rebuilt %q != %q", rebuilt, data[:prev])
		}
		if !bytes.Equal(tr.partial, data[prev:]) || bytes.IndexByte(tr.partial, '\n') >= 0 || len(tr.partial) >= int(max) {
			t.Fatalf("held back %q of %q (offset %d)", tr.partial, data, prev)
		}
	})
}
