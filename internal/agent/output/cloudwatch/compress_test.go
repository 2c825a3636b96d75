package cloudwatch

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/aws/smithy-go"
	"github.com/klauspost/compress/s2"

	"github.com/kinsight/kinsight/internal/agent/buffer"
)

// oldServer fronts a real kinsight server the way one from before S2
// answers an S2 body: 400 SerializationException, unsupported encoding.
// It records each PutLogEvents' Content-Encoding.
type oldServer struct {
	*httptest.Server
	mu        sync.Mutex
	encodings []string
}

func newOldServer(t *testing.T, s *testServer) *oldServer {
	u, err := url.Parse(s.endpoint())
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(u)
	o := &oldServer{}
	o.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		enc := r.Header.Get("Content-Encoding")
		if r.Header.Get("X-Amz-Target") == "Logs_20140328.PutLogEvents" {
			o.mu.Lock()
			o.encodings = append(o.encodings, enc)
			o.mu.Unlock()
		}
		if enc == S2Encoding {
			_, _ = io.Copy(io.Discard, r.Body)
			w.Header().Set("Content-Type", "application/x-amz-json-1.1")
			w.WriteHeader(http.StatusBadRequest)
			_, _ = io.WriteString(w, `{"__type":"SerializationException","message":"Unsupported Content-Encoding \"x-kinsight-s2\"; use gzip or zstd."}`)
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(o.Close)
	return o
}

// TestS2FallsBackToZstd: auto sends S2; a server that refuses it gets the
// same batch again in zstd, and every later request is zstd too. Nothing is
// lost or counted as a retry.
func TestS2FallsBackToZstd(t *testing.T) {
	s := startServer(t)
	old := newOldServer(t, s)
	o, _ := newOutput(t, s, func(c *Config) { c.Endpoint = old.URL; c.MaxRetries = 0 })
	now := time.Now().UnixMilli()
	first, second := makeEvents(100, now-60_000, 200), makeEvents(100, now-30_000, 200)
	for _, evs := range [][]Event{first, second} {
		if err := o.Send(context.Background(), "/old", "s", evs); err != nil {
			t.Fatalf("Send: %v", err)
		}
	}
	checkSame(t, readAll(t, s, "/old", "s"), append(first, second...))
	old.mu.Lock()
	got := old.encodings
	old.mu.Unlock()
	// S2 refused; zstd not found (the stream is created), zstd; zstd.
	want := []string{S2Encoding, "zstd", "zstd", "zstd"}
	if len(got) != len(want) {
		t.Fatalf("PutLogEvents encodings %q, want %q", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("PutLogEvents encodings %q, want %q", got, want)
		}
	}
	if n := putOK(o); n != 2 {
		t.Errorf("PutLogEvents OK = %v, want 2", n)
	}
}

// TestS2NoFallbackWhenAsked: with zstd or gzip chosen, a refusal is an
// error like any other (no silent switch).
func TestS2NoFallbackWhenAsked(t *testing.T) {
	c, err := newCompressor(S2Encoding, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.useFallback(errUnsupportedS2()) {
		t.Fatal("fell back without the fallback option")
	}
	c, _ = newCompressor(S2Encoding, true, nil)
	if c.useFallback(context.Canceled) {
		t.Fatal("fell back on an unrelated error")
	}
	if !c.useFallback(errUnsupportedS2()) || c.encoding() != "zstd" {
		t.Fatalf("no fallback: encoding %q", c.encoding())
	}
	if c.useFallback(errUnsupportedS2()) {
		t.Fatal("fell back twice")
	}
}

// TestS2RoundTrip: the compressor's S2 output decodes to the body, for
// empty, small and large bodies, with and without a pooled buffer.
func TestS2RoundTrip(t *testing.T) {
	c, err := newCompressor(S2Encoding, true, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{0, 1, 600, 300 << 10} {
		raw := bytes.Repeat([]byte(`{"message":"abc","timestamp":1},`), n/32+1)[:n]
		for _, fe := range []*fastEvents{nil, {pool: &buffer.BytePool{}}} {
			out, err := c.compress(S2Encoding, raw, fe)
			if err != nil {
				t.Fatal(err)
			}
			back, err := s2.Decode(nil, out)
			if err != nil || !bytes.Equal(back, raw) {
				t.Fatalf("%d bytes: decoded %d bytes, err %v", n, len(back), err)
			}
		}
	}
}

func errUnsupportedS2() error {
	return &smithy.GenericAPIError{Code: "SerializationException", Message: `Unsupported Content-Encoding "x-kinsight-s2"; use gzip or zstd.`}
}
