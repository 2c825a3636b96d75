package buffer

import (
	"bytes"
	"testing"
)

func buildSegment(items int) []byte {
	b := []byte(segMagic)
	for i := 1; i <= items; i++ {
		b = appendItemFrame(b, uint64(i), tok(i), payload(i))
		if i%3 == 0 {
			b = appendAckFrame(b, uint64(i-1))
		}
	}
	return b
}

func TestReplaySegment(t *testing.T) {
	seg := buildSegment(6)
	for _, tc := range []struct {
		name       string
		data       []byte
		wantFrames int
		wantValid  int64
	}{
		{"whole", seg, 8, int64(len(seg))},
		{"empty", nil, 0, 0},
		{"bad-magic", append([]byte("XXXXXXXX"), seg[8:]...), 0, 0},
		{"header-only", seg[:segHeaderLen], 0, segHeaderLen},
		{"torn-last", seg[:len(seg)-3], 7, -1},
		{"flipped-bit", func() []byte { c := bytes.Clone(seg); c[40] ^= 1; return c }(), 0, segHeaderLen},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var frames []frame
			valid := replaySegment(bytes.NewReader(tc.data), int64(len(tc.data)), func(f frame) { frames = append(frames, f) })
			if len(frames) != tc.wantFrames {
				t.Fatalf("%d frames, want %d", len(frames), tc.wantFrames)
			}
			if tc.wantValid >= 0 && valid != tc.wantValid {
				t.Fatalf("valid %d, want %d", valid, tc.wantValid)
			}
			checkFrames(t, tc.data, frames, valid)
		})
	}
}

// checkFrames asserts that the replayed frames tile data[8:valid] and that
// each decodes, checksum included, to what replay reported.
func checkFrames(t *testing.T, data []byte, frames []frame, valid int64) {
	t.Helper()
	if valid > int64(len(data)) || (valid != 0 && valid < segHeaderLen) {
		t.Fatalf("valid prefix %d of %d bytes", valid, len(data))
	}
	off := segHeaderLen
	for _, f := range frames {
		if f.off != off {
			t.Fatalf("frame at %d, want %d", f.off, off)
		}
		d, err := decodeFrame(data[f.off : f.off+f.size])
		if err != nil {
			t.Fatalf("replayed frame at %d does not decode: %v", f.off, err)
		}
		if d.kind != f.kind || d.seq != f.seq || !bytes.Equal(d.token, f.token) {
			t.Fatalf("frame at %d: replay %+v, decode %+v", f.off, f, d)
		}
		off += f.size
	}
	if len(frames) > 0 && off != valid {
		t.Fatalf("frames end at %d, valid prefix %d", off, valid)
	}
}

func TestDecodeFrameRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		seq            uint64
		token, payload []byte
	}{
		{1, nil, nil},
		{1 << 60, []byte("file=/var/log/x;off=123"), bytes.Repeat([]byte("ab"), 500)},
		{7, bytes.Repeat([]byte{0xff}, 300), []byte{0}},
	} {
		f, err := decodeFrame(appendItemFrame(nil, tc.seq, tc.token, tc.payload))
		if err != nil || f.kind != frameItem || f.seq != tc.seq || !bytes.Equal(f.token, tc.token) || !bytes.Equal(f.payload, tc.payload) {
			t.Fatalf("round trip of %d: %+v %v", tc.seq, f, err)
		}
	}
	f, err := decodeFrame(appendAckFrame(nil, 42))
	if err != nil || f.kind != frameAck || f.seq != 42 {
		t.Fatalf("ack round trip: %+v %v", f, err)
	}
	bad := appendItemFrame(nil, 3, []byte("t"), []byte("p"))
	bad[len(bad)-1] ^= 0x80
	if _, err := decodeFrame(bad); err == nil {
		t.Fatal("corrupt frame decoded")
	}
}

// FuzzSegmentReplay: any bytes as a segment file never panic, and replay
// yields only frames whose checksum holds, tiling a prefix of the file.
func FuzzSegmentReplay(f *testing.F) {
	seg := buildSegment(5)
	f.Add(seg)
	f.Add(seg[:len(seg)-7])
	f.Add([]byte(segMagic))
	f.Add(append([]byte(segMagic), 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 1))
	f.Add(append([]byte(segMagic), appendAckFrame(nil, 9)...))
	f.Add([]byte("garbage"))
	f.Fuzz(func(t *testing.T, data []byte) {
		var frames []frame
		valid := replaySegment(bytes.NewReader(data), int64(len(data)), func(fr frame) { frames = append(frames, fr) })
		checkFrames(t, data, frames, valid)
		if valid > 0 && len(frames) == 0 && valid != segHeaderLen {
			t.Fatalf("valid %d with no frames", valid)
		}
	})
}
