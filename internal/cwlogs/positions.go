package cwlogs

import (
	"context"
	"fmt"
	"math"
	"net/http"

	"github.com/kinsight/kinsight/internal/logstore"
)

// The X-Kinsight-Positions request header (a kinsight extension of
// PutLogEvents, docs/api.md) gives each event the position just past its
// end in its source, so that events a client sends again after a crash are
// recognised by the store and skipped:
//
//	X-Kinsight-Positions: v1;<run>[;<run>]...
//	run = <source: 1-16 lowercase hex>,<channel: 0-255>,<end0 ≥ 0>[,<delta ≥ 1>]...
//
// A run covers consecutive events in body order; the runs together cover
// every event. The parser is strict: a header that is wrong anywhere fails
// the whole request, because guessing would store duplicates or, worse,
// drop new events as duplicates.
const (
	positionsHeader  = "X-Kinsight-Positions"
	duplicatesHeader = "X-Kinsight-Duplicates"
)

// parsePositions parses the header value for a body of n events.
func parsePositions(v string, n int) ([]logstore.Position, error) {
	p := posParser{s: v}
	if len(v) < 3 || v[:3] != "v1;" {
		return nil, p.fail(0, "must start with \"v1;\"")
	}
	p.i = 3
	out := make([]logstore.Position, 0, n)
	for {
		p.run++
		src, ok := p.hex()
		if !ok {
			return nil, p.fail(p.i, "source must be 1 to 16 lowercase hex digits")
		}
		if !p.comma() {
			return nil, p.fail(p.i, "expected ',' after the source")
		}
		start := p.i
		ch, ok := p.dec()
		if !ok || ch > math.MaxUint8 {
			return nil, p.fail(start, "channel must be a decimal number from 0 to 255")
		}
		if !p.comma() {
			return nil, p.fail(p.i, "expected ',' after the channel")
		}
		start = p.i
		end, ok := p.dec()
		if !ok {
			return nil, p.fail(start, "end must be a decimal number from 0 to 9223372036854775807")
		}
		for {
			if len(out) == n {
				return nil, p.fail(start, fmt.Sprintf("positions for more than the %d events of the body", n))
			}
			out = append(out, logstore.Position{Source: src, Channel: uint8(ch), End: end})
			if !p.comma() {
				break
			}
			start = p.i
			d, ok := p.dec()
			if !ok || d < 1 {
				return nil, p.fail(start, "delta must be a decimal number ≥ 1")
			}
			if end > math.MaxInt64-d {
				return nil, p.fail(start, "end overflows int64")
			}
			end += d
		}
		if p.i == len(p.s) {
			break
		}
		if p.s[p.i] != ';' {
			return nil, p.fail(p.i, "expected ',' or ';'")
		}
		p.i++
	}
	if len(out) != n {
		return nil, p.fail(len(v), fmt.Sprintf("positions for %d events, the body has %d", len(out), n))
	}
	return out, nil
}

type posParser struct {
	s   string
	i   int
	run int
}

func (p *posParser) fail(at int, why string) error {
	if p.run == 0 {
		return invalidParam("Invalid %s header at byte %d: %s.", positionsHeader, at, why)
	}
	return invalidParam("Invalid %s header at byte %d (run %d): %s.", positionsHeader, at, p.run, why)
}

func (p *posParser) comma() bool {
	if p.i < len(p.s) && p.s[p.i] == ',' {
		p.i++
		return true
	}
	return false
}

// hex reads 1–16 lowercase hex digits.
func (p *posParser) hex() (uint64, bool) {
	var v uint64
	j := p.i
	for ; j < len(p.s) && j-p.i < 17; j++ {
		c := p.s[j]
		switch {
		case c >= '0' && c <= '9':
			v = v<<4 | uint64(c-'0')
		case c >= 'a' && c <= 'f':
			v = v<<4 | uint64(c-'a'+10)
		default:
			goto done
		}
	}
done:
	if j == p.i || j-p.i > 16 {
		return 0, false
	}
	p.i = j
	return v, true
}

// dec reads a non-negative decimal int64 (digits only, no sign).
func (p *posParser) dec() (int64, bool) {
	var v int64
	j := p.i
	for ; j < len(p.s) && p.s[j] >= '0' && p.s[j] <= '9'; j++ {
		d := int64(p.s[j] - '0')
		if v > (math.MaxInt64-d)/10 {
			return 0, false
		}
		v = v*10 + d
	}
	if j == p.i {
		return 0, false
	}
	p.i = j
	return v, true
}

// exchange carries the HTTP request's and response's headers to the
// operations that read or set headers beyond the JSON body (PutLogEvents'
// positions and duplicate count).
type exchange struct {
	req  http.Header
	resp http.Header
}

type exchangeKey struct{}

func withExchange(ctx context.Context, req, resp http.Header) context.Context {
	return context.WithValue(ctx, exchangeKey{}, &exchange{req: req, resp: resp})
}

// exchangeFrom returns the exchange, or one with empty headers when the
// operation runs without HTTP (tests, benchmarks).
func exchangeFrom(ctx context.Context) *exchange {
	if x, ok := ctx.Value(exchangeKey{}).(*exchange); ok {
		return x
	}
	return &exchange{req: http.Header{}, resp: http.Header{}}
}
