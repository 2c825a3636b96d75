package insights

import (
	"context"
	"fmt"
	"syscall"
	"testing"
	"time"
)

// benchStore hands out fixed slices of a prepared event list: the cost
// measured is the executor's, not a store's.
type benchStore struct{ evs []Event }

func (s *benchStore) Scan(ctx context.Context, req ScanRequest, fn func([]Event) error) (ScanStats, error) {
	var st ScanStats
	for i := 0; i < len(s.evs); i += 1024 {
		b := s.evs[i:min(i+1024, len(s.evs))]
		st.RecordsScanned += int64(len(b))
		for _, ev := range b {
			st.BytesScanned += int64(len(ev.Message))
		}
		if err := fn(b); err != nil {
			return st, err
		}
	}
	return st, nil
}

// benchEvents are n Container-Insights-shaped application log lines
// spanning 24 hours, with one RareToken line in 10,000.
func benchEvents(n int) ([]Event, int64) {
	evs := make([]Event, n)
	var bytes int64
	base := int64(1700000000000)
	namespaces := []string{"payments", "default", "kube-system", "checkout"}
	levels := []string{"info", "info", "info", "warn", "error"}
	for i := range evs {
		ns := namespaces[i%len(namespaces)]
		pod := fmt.Sprintf("%s-%d-7d9f8c", ns, i%17)
		text := fmt.Sprintf("request id=%08x path=/api/v1/items/%d took %dms", i*2654435761, i%1000, i%300)
		if i%10000 == 4321 {
			text = "RareToken seen in request " + fmt.Sprint(i)
		}
		msg := fmt.Sprintf(`{"log":"%s","stream":"stdout","level":"%s","kubernetes":{"pod_name":"%s","namespace_name":"%s","container_name":"app","host":"ip-10-0-%d-%d.ec2.internal","labels":{"app":"%s","pod-template-hash":"7d9f8c"}}}`,
			text, levels[i%len(levels)], pod, ns, i%8, i%250, ns)
		ts := base + int64(i)*86400000/int64(n)
		evs[i] = Event{Timestamp: ts, IngestionTime: ts + 200, Message: msg, Group: "/aws/containerinsights/prod/application", Stream: pod, Ptr: fmt.Sprint(i)}
		bytes += int64(len(msg))
	}
	return evs, bytes
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func BenchmarkRun(b *testing.B) {
	evs, bytes := benchEvents(200_000)
	st := &benchStore{evs: evs}
	for _, bc := range []struct{ name, query string }{
		{"RareTokenLimit20", `filter @message like /RareToken/ | limit 20`},
		{"StatsCountByBin5m", `stats count(*) by bin(5m)`},
		{"JSONFilterStatsByPod", `filter kubernetes.namespace_name = "payments" and level = "error" | stats count(*) by kubernetes.pod_name`},
		{"JSONStatsByPodAllEvents", `stats count(*) by kubernetes.pod_name`},
		{"NewestLimit1000", `fields @timestamp, @message | sort @timestamp desc | limit 1000`},
	} {
		b.Run(bc.name, func(b *testing.B) {
			q, err := Compile(bc.query)
			if err != nil {
				b.Fatal(err)
			}
			o := Options{Start: 0, End: 1 << 62}
			b.ReportAllocs()
			b.SetBytes(bytes)
			b.ResetTimer()
			cpu0 := cpuTime()
			for i := 0; i < b.N; i++ {
				res, err := q.Run(context.Background(), st, o, nil)
				if err != nil {
					b.Fatal(err)
				}
				if len(res.Rows) == 0 {
					b.Fatal("no rows")
				}
			}
			cpu := cpuTime() - cpu0
			b.ReportMetric(float64(bytes)*float64(b.N)/1e6/cpu.Seconds(), "MB/cpu-s")
		})
	}
}
