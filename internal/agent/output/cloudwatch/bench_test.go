package cloudwatch

import (
	"context"
	"testing"
	"time"
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
