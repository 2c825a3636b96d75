package cloudwatch

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/kinsight/kinsight/internal/jsonx"
)

// BenchmarkSend sends 1 MiB batches (2048 events of 486 bytes) to a real
// kinsight server per compression mode (auto: S2); the time includes the
// server's durable write.
func BenchmarkSend(b *testing.B) {
	for _, c := range []string{CompressionNone, CompressionAuto, CompressionZstd, CompressionGzip} {
		b.Run(c, func(b *testing.B) {
			s := startServer(b)
			o, _ := newOutput(b, s, func(cfg *Config) { cfg.Compression = c })
			evs := makeEvents(2048, time.Now().UnixMilli()-60_000, MaxBatchBytes/2048-EventOverhead)
			b.SetBytes(MaxBatchBytes)
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if err := o.Send(context.Background(), "/bench", c, evs); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkSendRequestCost is the agent's side of one steady-state
// PutLogEvents: 50 quoted records of about 1 KB (what 10,000 lines/s over
// 200 streams makes per batch) to a server that only reads the body and
// answers {}, so the figure is the output's own cost per request: body,
// S2, SDK middleware, signing, HTTP.
func BenchmarkSendRequestCost(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		_, _ = io.WriteString(w, `{}`)
	}))
	defer srv.Close()
	cfg := DefaultConfig()
	cfg.Endpoint = srv.URL
	cfg.Region = "us-east-1"
	cfg.AccessKeyID, cfg.SecretAccessKey = agentKey, agentSecret
	o, err := New(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), prometheus.NewRegistry())
	if err != nil {
		b.Fatal(err)
	}
	evs := makeEvents(50, time.Now().UnixMilli(), 1000)
	for i := range evs {
		evs[i].Message = string(jsonx.AppendString(nil, evs[i].Message))
		evs[i].Quoted, evs[i].Size = true, 1000
		evs[i].Source, evs[i].Channel, evs[i].End = 12345, 1, int64(1000*(i+1))
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := o.Send(context.Background(), "/aws/containerinsights/c/application", "pod_ns_container-0123456789", evs); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSendManyRequestCost is BenchmarkSendRequestCost's 50-record
// batches, 25 of them (a push phase's streams at the steady load) in one
// PutLogEventsBatch: compare its ns/part with that benchmark's ns/op, the
// agent's own cost per batch with and without batching.
func BenchmarkSendManyRequestCost(b *testing.B) {
	const parts = 25
	answer := `{"results":[{}` + strings.Repeat(`,{}`, parts-1) + `]}`
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		_, _ = io.WriteString(w, answer)
	}))
	defer srv.Close()
	cfg := DefaultConfig()
	cfg.Endpoint = srv.URL
	cfg.Region = "us-east-1"
	cfg.AccessKeyID, cfg.SecretAccessKey = agentKey, agentSecret
	o, err := New(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), prometheus.NewRegistry())
	if err != nil {
		b.Fatal(err)
	}
	ps := make([]Part, parts)
	for p := range ps {
		evs := makeEvents(50, time.Now().UnixMilli(), 1000)
		for i := range evs {
			evs[i].Message = string(jsonx.AppendString(nil, evs[i].Message))
			evs[i].Quoted, evs[i].Size = true, 1000
			evs[i].Source, evs[i].Channel, evs[i].End = uint64(12345+p), 1, int64(1000*(i+1))
		}
		ps[p] = Part{Group: "/aws/containerinsights/c/application", Stream: fmt.Sprintf("pod-%d_ns_container-0123456789", p), Events: evs}
	}
	b.ReportAllocs()
	for b.Loop() {
		for i, err := range o.SendMany(context.Background(), ps) {
			if err != nil {
				b.Fatalf("part %d: %v", i, err)
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*parts), "ns/part")
}
