package metricstore

import (
	"bytes"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/prompb"
)

// benchRequests builds n remote write requests of series×samples each, for
// distinct series (as a sender spreads its series over requests), at
// increasing timestamps.
func benchRequests(b *testing.B, n, seriesPer, samplesPer int, base time.Time) [][]byte {
	out := make([][]byte, n)
	for i := range n {
		req := &prompb.WriteRequest{Timeseries: make([]prompb.TimeSeries, seriesPer)}
		for s := range seriesPer {
			ts := &req.Timeseries[s]
			ts.Labels = series("bench_metric", "instance", fmt.Sprintf("host-%d", s%100), "Namespace", fmt.Sprintf("ns-%d", s%10),
				"series", fmt.Sprintf("%d-%d", i%100, s))
			for k := range samplesPer {
				ts.Samples = append(ts.Samples, prompb.Sample{Value: float64(k), Timestamp: base.Add(time.Duration(i/100*samplesPer+k) * time.Second).UnixMilli()})
			}
		}
		out[i] = encodeWrite(b, req)
	}
	return out
}

// BenchmarkRemoteWriteHTTP measures the whole path — HTTP, snappy,
// protobuf, label checks, TSDB append and commit — for requests of 500
// series × 10 samples (a Prometheus sender's batch of 5,000 samples).
func BenchmarkRemoteWriteHTTP(b *testing.B) {
	s, err := Open(b.TempDir(), Options{Logger: slog.New(slog.DiscardHandler), Registerer: prometheus.NewRegistry()})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	h := NewHandler(s, HandlerOptions{})
	srv := httptest.NewServer(http.HandlerFunc(h.Write))
	defer srv.Close()
	const seriesPer, samplesPer = 500, 10
	// Distinct requests up to 1,000 (more would repeat timestamps, which
	// the TSDB skips as identical duplicates).
	reqs := benchRequests(b, min(b.N, 1000), seriesPer, samplesPer, time.Now().Add(-time.Hour))
	b.ReportAllocs()
	b.SetBytes(int64(len(reqs[0])))
	b.ResetTimer()
	for i := range b.N {
		resp, err := http.Post(srv.URL, "application/x-protobuf", bytes.NewReader(reqs[i%len(reqs)]))
		if err != nil {
			b.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 204 {
			b.Fatalf("status %d", resp.StatusCode)
		}
	}
	b.ReportMetric(float64(b.N*seriesPer*samplesPer)/b.Elapsed().Seconds(), "samples/s")
}
