package buffer

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
)

// On-disk layout; FORMAT.md is the written specification.
const (
	segMagic     = "KSBUF001"
	segHeaderLen = int64(len(segMagic))
	frameHdrLen  = 8 // body length uint32 LE + CRC-32C of the body uint32 LE
	frameItem    = byte(1)
	frameAck     = byte(2)
	bodyFixedLen = 1 + 8 // kind + seq
	// maxBodyLen bounds a frame so a corrupt length can never ask for more
	// than this; it is also the largest item the disk part accepts.
	maxBodyLen = 1 << 30
)

// crcTable is read-only after construction.
var crcTable = crc32.MakeTable(crc32.Castagnoli)

// appendItemFrame appends an item frame holding seq, token and payload.
func appendItemFrame(dst []byte, seq uint64, token, payload []byte) []byte {
	var tl [binary.MaxVarintLen64]byte
	n := binary.PutUvarint(tl[:], uint64(len(token)))
	bodyLen := bodyFixedLen + n + len(token) + len(payload)
	start := len(dst)
	dst = binary.LittleEndian.AppendUint32(dst, uint32(bodyLen))
	dst = append(dst, 0, 0, 0, 0)
	dst = append(dst, frameItem)
	dst = binary.LittleEndian.AppendUint64(dst, seq)
	dst = append(dst, tl[:n]...)
	dst = append(dst, token...)
	dst = append(dst, payload...)
	binary.LittleEndian.PutUint32(dst[start+4:], crc32.Checksum(dst[start+frameHdrLen:], crcTable))
	return dst
}

// appendAckFrame appends an ack frame for seq.
func appendAckFrame(dst []byte, seq uint64) []byte {
	start := len(dst)
	dst = binary.LittleEndian.AppendUint32(dst, bodyFixedLen)
	dst = append(dst, 0, 0, 0, 0)
	dst = append(dst, frameAck)
	dst = binary.LittleEndian.AppendUint64(dst, seq)
	binary.LittleEndian.PutUint32(dst[start+4:], crc32.Checksum(dst[start+frameHdrLen:], crcTable))
	return dst
}

// frame is one decoded frame. For item frames read by replay, payload is not
// kept (only its place), so replaying a segment costs memory per item, not
// per byte.
type frame struct {
	kind    byte
	seq     uint64
	token   []byte
	payload []byte // only from decodeFrame
	off     int64  // offset of the frame header in the segment
	size    int64  // header + body
}

var errCorrupt = errors.New("corrupt frame")

// decodeFrame decodes one whole frame held in b (as read back for delivery).
func decodeFrame(b []byte) (frame, error) {
	if len(b) < frameHdrLen+bodyFixedLen {
		return frame{}, fmt.Errorf("%w: %d bytes", errCorrupt, len(b))
	}
	bodyLen := binary.LittleEndian.Uint32(b)
	if int64(bodyLen) != int64(len(b)-frameHdrLen) {
		return frame{}, fmt.Errorf("%w: length %d, have %d", errCorrupt, bodyLen, len(b)-frameHdrLen)
	}
	body := b[frameHdrLen:]
	if crc32.Checksum(body, crcTable) != binary.LittleEndian.Uint32(b[4:]) {
		return frame{}, fmt.Errorf("%w: checksum mismatch", errCorrupt)
	}
	f := frame{kind: body[0], seq: binary.LittleEndian.Uint64(body[1:]), size: int64(len(b))}
	switch f.kind {
	case frameAck:
		if len(body) != bodyFixedLen {
			return frame{}, fmt.Errorf("%w: ack frame of %d bytes", errCorrupt, len(body))
		}
	case frameItem:
		rest := body[bodyFixedLen:]
		tl, n := binary.Uvarint(rest)
		if n <= 0 || tl > uint64(len(rest)-n) {
			return frame{}, fmt.Errorf("%w: bad token length", errCorrupt)
		}
		f.token = rest[n : n+int(tl)]
		f.payload = rest[n+int(tl):]
	default:
		return frame{}, fmt.Errorf("%w: unknown kind %d", errCorrupt, f.kind)
	}
	return f, nil
}

// replaySegment reads a segment of size bytes from r (from its start) and
// calls fn for every frame whose checksum is valid, in order. It stops at
// the first frame that is torn or invalid and returns the length of the
// valid prefix: the caller truncates the file there. A segment whose magic
// is wrong has a valid prefix of 0. Memory use is bounded by the token size,
// never by a length read from the file.
func replaySegment(r io.Reader, size int64, fn func(frame)) int64 {
	br := bufio.NewReaderSize(r, 64<<10)
	var magic [len(segMagic)]byte
	if _, err := io.ReadFull(br, magic[:]); err != nil || string(magic[:]) != segMagic {
		return 0
	}
	off := segHeaderLen
	var hdr [frameHdrLen]byte
	h := crc32.New(crcTable)
	for {
		if _, err := io.ReadFull(br, hdr[:]); err != nil {
			return off // clean end or a torn header
		}
		bodyLen := int64(binary.LittleEndian.Uint32(hdr[:]))
		if bodyLen < bodyFixedLen || bodyLen > maxBodyLen || bodyLen > size-off-frameHdrLen {
			return off
		}
		h.Reset()
		body := io.TeeReader(io.LimitReader(br, bodyLen), h)
		var fixed [bodyFixedLen]byte
		if _, err := io.ReadFull(body, fixed[:]); err != nil {
			return off
		}
		f := frame{kind: fixed[0], seq: binary.LittleEndian.Uint64(fixed[1:]), off: off, size: frameHdrLen + bodyLen}
		rest := bodyLen - bodyFixedLen
		switch f.kind {
		case frameAck:
			if rest != 0 {
				return off
			}
		case frameItem:
			tl, n, ok := readUvarint(body)
			if !ok || tl > uint64(rest-int64(n)) {
				return off
			}
			f.token = make([]byte, tl)
			if _, err := io.ReadFull(body, f.token); err != nil {
				return off
			}
			want := rest - int64(n) - int64(tl)
			if got, err := io.Copy(io.Discard, body); err != nil || got != want {
				return off
			}
		default:
			return off
		}
		if h.Sum32() != binary.LittleEndian.Uint32(hdr[4:]) {
			return off
		}
		fn(f)
		off += f.size
	}
}

// readUvarint reads a uvarint a byte at a time, reporting its encoded length.
func readUvarint(r io.Reader) (uint64, int, bool) {
	var x uint64
	var s uint
	var b [1]byte
	for i := 0; i < binary.MaxVarintLen64; i++ {
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return 0, 0, false
		}
		if b[0] < 0x80 {
			if i == binary.MaxVarintLen64-1 && b[0] > 1 {
				return 0, 0, false
			}
			return x | uint64(b[0])<<s, i + 1, true
		}
		x |= uint64(b[0]&0x7f) << s
		s += 7
	}
	return 0, 0, false
}
