package cloudwatch

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/zstd"
)

// minCompressBytes: smaller bodies (CreateLogStream and the like) go out
// as they are; compressing them costs more than it saves.
const minCompressBytes = 512

// S2Encoding is the Content-Encoding of an S2 block
// (github.com/klauspost/compress/s2, Encode), which a kinsight server
// decodes (cwlogs.S2Encoding; the names must stay equal).
const S2Encoding = "x-kinsight-s2"

// compressor is a Build-step middleware that replaces the serialized body
// with its compressed form and sets Content-Encoding. Build runs before
// Finalize, where the SDK hashes the payload (ComputePayloadSHA256) and
// signs it, so the signature covers the compressed bytes — which is what
// the kinsight server verifies before it decodes the body.
//
// With fallback set (auto: S2), a server that refuses the encoding as
// unsupported — a kinsight server older than S2 — makes the compressor
// switch to zstd for good (useFallback); the refused request is sent
// again.
type compressor struct {
	primary  string // "x-kinsight-s2", "zstd" or "gzip"
	fallback bool   // primary is S2 and zstd may replace it
	// fellBack is set once the server refused primary.
	fellBack atomic.Bool
	zencOnce sync.Once
	zenc     *zstd.Encoder
	zencErr  error
	gzPool   sync.Pool
	onWire   func(raw, wire int)
}

func newCompressor(encoding string, fallback bool, onWire func(raw, wire int)) (*compressor, error) {
	c := &compressor{primary: encoding, fallback: fallback, onWire: onWire}
	switch encoding {
	case "zstd":
		if _, err := c.zstd(); err != nil {
			return nil, err
		}
	case "gzip", S2Encoding:
	default:
		return nil, fmt.Errorf("unsupported encoding %q", encoding)
	}
	return c, nil
}

// zstd returns the zstd encoder, built on first use (with S2 it is only
// needed after a fallback).
func (c *compressor) zstd() (*zstd.Encoder, error) {
	c.zencOnce.Do(func() {
		// EncodeAll on one encoder is safe for concurrent use. A 64 KiB
		// window still spans dozens of records (what repeats is each
		// record's kubernetes object) and keeps the encoder's history
		// at a fraction of the default 4 MiB.
		c.zenc, c.zencErr = zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest),
			zstd.WithEncoderConcurrency(1), zstd.WithLowerEncoderMem(true), zstd.WithWindowSize(1<<16))
		if c.zencErr != nil {
			c.zencErr = fmt.Errorf("zstd encoder: %w", c.zencErr)
		}
	})
	return c.zenc, c.zencErr
}

// encoding is the Content-Encoding requests get now.
func (c *compressor) encoding() string {
	if c.fellBack.Load() {
		return "zstd"
	}
	return c.primary
}

// useFallback reports whether err is a server's refusal of the encoding
// and, if so, switches to zstd (once) so that the request can be sent
// again. A kinsight server answers an unknown Content-Encoding with 400
// SerializationException "Unsupported Content-Encoding …".
func (c *compressor) useFallback(err error) bool {
	if c == nil || !c.fallback || c.fellBack.Load() {
		return false
	}
	var apiErr smithy.APIError
	if !errors.As(err, &apiErr) || apiErr.ErrorCode() != "SerializationException" ||
		!strings.Contains(apiErr.ErrorMessage(), "Content-Encoding") {
		return false
	}
	if _, zerr := c.zstd(); zerr != nil {
		return false
	}
	c.fellBack.Store(true)
	return true
}

// ID names the middleware in the stack.
func (c *compressor) ID() string { return "KinsightCompressRequestBody" }

// HandleBuild compresses the request body.
func (c *compressor) HandleBuild(ctx context.Context, in middleware.BuildInput, next middleware.BuildHandler) (middleware.BuildOutput, middleware.Metadata, error) {
	req, ok := in.Request.(*smithyhttp.Request)
	if !ok {
		return next.HandleBuild(ctx, in)
	}
	stream := req.GetStream()
	if stream == nil {
		return next.HandleBuild(ctx, in)
	}
	var raw []byte
	var err error
	if rb, ok := stream.(interface{ Bytes() []byte }); ok {
		raw = rb.Bytes()
	} else if raw, err = io.ReadAll(stream); err != nil {
		return middleware.BuildOutput{}, middleware.Metadata{}, fmt.Errorf("read request body: %w", err)
	}
	body := raw
	if len(raw) >= minCompressBytes {
		enc := c.encoding()
		fe, _ := ctx.Value(fastEventsKey{}).(*fastEvents)
		if body, err = c.compress(enc, raw, fe); err != nil {
			return middleware.BuildOutput{}, middleware.Metadata{}, err
		}
		req.Header.Set("Content-Encoding", enc)
	}
	if req, err = req.SetStream(bytes.NewReader(body)); err != nil {
		return middleware.BuildOutput{}, middleware.Metadata{}, fmt.Errorf("set request body: %w", err)
	}
	req.ContentLength = int64(len(body))
	in.Request = req
	if c.onWire != nil {
		c.onWire(len(raw), len(body))
	}
	return next.HandleBuild(ctx, in)
}

// compress returns raw compressed in enc; with fe, S2 and zstd output
// goes in a pooled buffer that fe then owns.
func (c *compressor) compress(enc string, raw []byte, fe *fastEvents) ([]byte, error) {
	switch enc {
	case S2Encoding:
		// Encode wants the whole worst case as its destination's length.
		n := s2.MaxEncodedLen(len(raw))
		if n < 0 {
			return nil, fmt.Errorf("s2: request body of %d bytes is too large", len(raw))
		}
		var dst []byte
		if fe == nil {
			dst = make([]byte, n)
		} else {
			dst = fe.getBuf(n)[:n]
		}
		out := s2.Encode(dst, raw)
		if fe != nil {
			fe.bufs = append(fe.bufs, out)
		}
		return out, nil
	case "zstd":
		zenc, err := c.zstd()
		if err != nil {
			return nil, err
		}
		if fe == nil {
			return zenc.EncodeAll(raw, make([]byte, 0, len(raw)/4)), nil
		}
		out := zenc.EncodeAll(raw, fe.getBuf(len(raw)/4))
		fe.bufs = append(fe.bufs, out)
		return out, nil
	}
	var buf bytes.Buffer
	buf.Grow(len(raw) / 4)
	zw, _ := c.gzPool.Get().(*gzip.Writer)
	if zw == nil {
		var err error
		if zw, err = gzip.NewWriterLevel(&buf, gzip.BestSpeed); err != nil {
			return nil, fmt.Errorf("gzip writer: %w", err)
		}
	} else {
		zw.Reset(&buf)
	}
	defer c.gzPool.Put(zw)
	if _, err := zw.Write(raw); err != nil {
		return nil, fmt.Errorf("gzip request body: %w", err)
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("gzip request body: %w", err)
	}
	return buf.Bytes(), nil
}

// countingMiddleware records request sizes for uncompressed outputs, so
// request_bytes_total means the same with and without compression.
type countingMiddleware struct{ onWire func(raw, wire int) }

func (m countingMiddleware) ID() string { return "KinsightCountRequestBody" }

func (m countingMiddleware) HandleBuild(ctx context.Context, in middleware.BuildInput, next middleware.BuildHandler) (middleware.BuildOutput, middleware.Metadata, error) {
	if req, ok := in.Request.(*smithyhttp.Request); ok {
		if n, ok, err := req.StreamLength(); err == nil && ok {
			m.onWire(int(n), int(n))
		}
	}
	return next.HandleBuild(ctx, in)
}
