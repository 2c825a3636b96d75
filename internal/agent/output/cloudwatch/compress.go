package cloudwatch

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"sync"

	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// minCompressBytes: smaller bodies (CreateLogStream and the like) go out
// as they are; compressing them costs more than it saves.
const minCompressBytes = 512

// compressor is a Build-step middleware that replaces the serialized body
// with its compressed form and sets Content-Encoding. Build runs before
// Finalize, where the SDK hashes the payload (ComputePayloadSHA256) and
// signs it, so the signature covers the compressed bytes — which is what
// the kinsight server verifies before it decodes the body.
type compressor struct {
	encoding string // "gzip" or "zstd"
	zenc     *zstd.Encoder
	gzPool   sync.Pool
	onWire   func(raw, wire int)
}

func newCompressor(encoding string, onWire func(raw, wire int)) (*compressor, error) {
	c := &compressor{encoding: encoding, onWire: onWire}
	switch encoding {
	case "zstd":
		// EncodeAll on one encoder is safe for concurrent use. A 64 KiB
		// window still spans dozens of records (what repeats is each
		// record's kubernetes object) and keeps the encoder's history
		// at a fraction of the default 4 MiB.
		enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest),
			zstd.WithEncoderConcurrency(1), zstd.WithLowerEncoderMem(true), zstd.WithWindowSize(1<<16))
		if err != nil {
			return nil, fmt.Errorf("zstd encoder: %w", err)
		}
		c.zenc = enc
	case "gzip":
	default:
		return nil, fmt.Errorf("unsupported encoding %q", encoding)
	}
	return c, nil
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
		fe, _ := ctx.Value(fastEventsKey{}).(*fastEvents)
		if body, err = c.compress(raw, fe); err != nil {
			return middleware.BuildOutput{}, middleware.Metadata{}, err
		}
		req.Header.Set("Content-Encoding", c.encoding)
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

// compress returns raw compressed; with fe, zstd output goes in a pooled
// buffer that fe then owns.
func (c *compressor) compress(raw []byte, fe *fastEvents) ([]byte, error) {
	if c.zenc != nil {
		if fe == nil {
			return c.zenc.EncodeAll(raw, make([]byte, 0, len(raw)/4)), nil
		}
		out := c.zenc.EncodeAll(raw, getBuf(len(raw)/4))
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
