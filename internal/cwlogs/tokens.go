package cwlogs

import (
	"encoding/base64"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"math"
	"math/big"
	"strings"

	"github.com/kinsight/kinsight/internal/logstore"
)

// Pagination tokens are opaque to clients but arrive from them, so every
// decoder here validates strictly and reports a bad token as an error,
// never a panic. Nothing in a token is secret: a token only says where to
// continue, and a reader may read everything anyway.
//
// Two shapes are used:
//
//   - GetLogEvents tokens and event ids look like AWS's: "f/<56 digits>/s",
//     "b/<56 digits>/s" and a 56-digit eventId. The digits are the decimal
//     of the 128-bit number (timestamp with its sign bit flipped) << 64 | seq,
//     so they order like the position they encode.
//   - Describe*/FilterLogEvents tokens are base64url of
//     version | kind | payload | crc32, so random strings fail the checksum.

const (
	posDigits = 56

	tokenVersion     = 1
	kindGroupPage    = 'g'
	kindStreamPage   = 's'
	kindFilterPage   = 'f'
	tokenMaxLen      = 4096
	streamOrderName  = 0
	streamOrderEvent = 1
)

var errBadToken = errors.New("invalid token")

// posNumber is the 128-bit number of p.
func posNumber(p logstore.Pos) *big.Int {
	hi := new(big.Int).SetUint64(uint64(p.Timestamp) ^ (1 << 63))
	hi.Lsh(hi, 64)
	return hi.Or(hi, new(big.Int).SetUint64(p.Seq))
}

// formatPos is the 56-digit decimal of p: the eventId of the record at p.
func formatPos(p logstore.Pos) string {
	s := posNumber(p).String()
	return strings.Repeat("0", posDigits-len(s)) + s
}

// parsePos inverts formatPos, accepting exactly 56 decimal digits.
func parsePos(s string) (logstore.Pos, error) {
	if len(s) != posDigits {
		return logstore.Pos{}, errBadToken
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return logstore.Pos{}, errBadToken
		}
	}
	n, ok := new(big.Int).SetString(s, 10)
	if !ok || n.BitLen() > 128 {
		return logstore.Pos{}, errBadToken
	}
	lo := new(big.Int).And(n, new(big.Int).SetUint64(math.MaxUint64)).Uint64()
	hi := new(big.Int).Rsh(n, 64).Uint64()
	return logstore.Pos{Timestamp: int64(hi ^ (1 << 63)), Seq: lo}, nil
}

// eventID is a record's stable, unique id: its position, printed.
func eventID(r logstore.Record) string { return formatPos(logstore.PosOf(r)) }

// formatReadToken is a GetLogEvents token: forward continues after p,
// backward continues before p.
func formatReadToken(backward bool, p logstore.Pos) string {
	dir := "f/"
	if backward {
		dir = "b/"
	}
	return dir + formatPos(p) + "/s"
}

// parseReadToken inverts formatReadToken.
func parseReadToken(s string) (backward bool, p logstore.Pos, err error) {
	if len(s) != 2+posDigits+2 || s[1] != '/' || !strings.HasSuffix(s, "/s") {
		return false, p, errBadToken
	}
	switch s[0] {
	case 'f':
	case 'b':
		backward = true
	default:
		return false, p, errBadToken
	}
	p, err = parsePos(s[2 : 2+posDigits])
	return backward, p, err
}

// beforeTime is the position just before every record at or after ms, so a
// forward read from it starts at ms.
func beforeTime(ms int64) logstore.Pos {
	if ms == math.MinInt64 {
		return logstore.Pos{Timestamp: ms}
	}
	return logstore.Pos{Timestamp: ms - 1, Seq: math.MaxUint64}
}

// prevPos is the position just before p, so an exclusive forward read from
// it includes p.
func prevPos(p logstore.Pos) logstore.Pos {
	if p.Seq > 0 {
		return logstore.Pos{Timestamp: p.Timestamp, Seq: p.Seq - 1}
	}
	return beforeTime(p.Timestamp)
}

// encodeOpaque wraps payload as a checksummed base64url token of a kind.
func encodeOpaque(kind byte, payload []byte) string {
	b := make([]byte, 0, len(payload)+6)
	b = append(b, tokenVersion, kind)
	b = append(b, payload...)
	b = binary.BigEndian.AppendUint32(b, crc32.ChecksumIEEE(b))
	return base64.RawURLEncoding.EncodeToString(b)
}

// decodeOpaque returns the payload of a token of the given kind.
func decodeOpaque(kind byte, s string) ([]byte, error) {
	if len(s) > tokenMaxLen {
		return nil, errBadToken
	}
	// The decoder skips \r and \n; a token has none.
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return nil, errBadToken
		}
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(s)
	if err != nil || len(b) < 6 {
		return nil, errBadToken
	}
	body, sum := b[:len(b)-4], binary.BigEndian.Uint32(b[len(b)-4:])
	if crc32.ChecksumIEEE(body) != sum || body[0] != tokenVersion || body[1] != kind {
		return nil, errBadToken
	}
	return body[2:], nil
}

// groupPageToken continues DescribeLogGroups after a group name.
func groupPageToken(after string) string { return encodeOpaque(kindGroupPage, []byte(after)) }

func parseGroupPageToken(s string) (string, error) {
	p, err := decodeOpaque(kindGroupPage, s)
	if err != nil || len(p) == 0 {
		return "", errBadToken
	}
	return string(p), nil
}

// streamPageToken continues DescribeLogStreams after a stream, remembering
// the order it was listed in so a token is not reused with another order.
func streamPageToken(byLastEvent bool, after logstore.Stream) string {
	p := make([]byte, 0, 9+len(after.Name))
	order := byte(streamOrderName)
	if byLastEvent {
		order = streamOrderEvent
	}
	p = append(p, order)
	p = binary.BigEndian.AppendUint64(p, uint64(after.LastEvent))
	p = append(p, after.Name...)
	return encodeOpaque(kindStreamPage, p)
}

func parseStreamPageToken(s string, byLastEvent bool) (*logstore.Stream, error) {
	p, err := decodeOpaque(kindStreamPage, s)
	if err != nil || len(p) < 10 {
		return nil, errBadToken
	}
	want := byte(streamOrderName)
	if byLastEvent {
		want = streamOrderEvent
	}
	if p[0] != want {
		return nil, errBadToken
	}
	return &logstore.Stream{
		LastEvent: int64(binary.BigEndian.Uint64(p[1:9])),
		Name:      string(p[9:]),
	}, nil
}

// filterPageToken continues FilterLogEvents after a position. A page that
// hit the time budget before reading anything would hand back the same
// position, and botocore's paginator (aws logs filter-log-events) aborts on
// a repeated token; the page number keeps consecutive tokens distinct.
func filterPageToken(after logstore.Pos, page uint32) string {
	p := binary.BigEndian.AppendUint64(nil, uint64(after.Timestamp))
	p = binary.BigEndian.AppendUint64(p, after.Seq)
	p = binary.BigEndian.AppendUint32(p, page)
	return encodeOpaque(kindFilterPage, p)
}

func parseFilterPageToken(s string) (logstore.Pos, uint32, error) {
	p, err := decodeOpaque(kindFilterPage, s)
	if err != nil || len(p) != 20 {
		return logstore.Pos{}, 0, errBadToken
	}
	return logstore.Pos{
		Timestamp: int64(binary.BigEndian.Uint64(p[:8])),
		Seq:       binary.BigEndian.Uint64(p[8:16]),
	}, binary.BigEndian.Uint32(p[16:]), nil
}
