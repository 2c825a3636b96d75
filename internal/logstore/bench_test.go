package logstore

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// loghubLines reads the shared loghub corpus, skipping the benchmark if it
// is not beside the repository.
func loghubLines(b testing.TB) []string {
	b.Helper()
	files, _ := filepath.Glob("../../../shared/corpus/loghub/*.log")
	if len(files) == 0 {
		b.Skip("loghub corpus not found at ../shared/corpus/loghub")
	}
	var lines []string
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			b.Fatal(err)
		}
		sc := bufio.NewScanner(fh)
		for sc.Scan() {
			lines = append(lines, sc.Text())
		}
		fh.Close()
	}
	return lines
}

// containerRecord shapes a line like Fluent Bit's record for a container.
func containerRecord(line string, pod int, ts time.Time) string {
	return fmt.Sprintf(`{"log":%q,"stream":"stdout","time":%q,"kubernetes":{"pod_name":"web-%d-7c9f8d6b5-x2x4z","namespace_name":"prod","pod_id":"3f1e9a2c-5b7d-4e8f-9a1b-%012d","labels":{"app":"web","pod-template-hash":"7c9f8d6b5"},"host":"ip-10-0-1-23.ec2.internal","container_name":"web","docker_id":"%064d","container_image":"registry.example.com/web:1.4.2"}}`,
		line, ts.Format(time.RFC3339Nano), pod, pod, pod)
}

// BenchmarkAppend measures durable appends of ~1 MB batches from 4
// concurrent writers, as PutLogEvents delivers them (without HTTP and JSON).
func BenchmarkAppend(b *testing.B) {
	lines := loghubLines(b)
	dir := b.TempDir()
	opts := Options{}
	s, err := Open(dir, opts)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	s.CreateGroup("g", Group{})
	const writers = 4
	batches := make([][]InputEvent, 64)
	now := time.Now()
	var batchBytes int64
	for i := range batches {
		size := 0
		for size < 1<<20-64<<10 {
			msg := containerRecord(lines[(i*977+len(batches[i]))%len(lines)], i%200, now)
			batches[i] = append(batches[i], InputEvent{Timestamp: now.UnixMilli(), Message: msg})
			size += len(msg) + 26
		}
		batchBytes += int64(size)
	}
	for w := 0; w < writers; w++ {
		s.CreateStream("g", fmt.Sprint(w))
	}
	b.SetBytes(batchBytes / int64(len(batches)))
	b.ReportAllocs()
	b.ResetTimer()
	var wg sync.WaitGroup
	var next sync.Mutex
	n := 0
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				next.Lock()
				i := n
				n++
				next.Unlock()
				if i >= b.N {
					return
				}
				if _, err := s.Append(context.Background(), "g", fmt.Sprint(w), batches[i%len(batches)]); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	b.ReportMetric(float64(ms.HeapInuse)/(1<<20), "heap-MiB")
}

// readBenchStore fills a store with ~400k Container-Insights-shaped events
// in 50 streams over 24 hours, flushed and merged, with a rare token in 5.
func readBenchStore(b *testing.B) *Store {
	lines := loghubLines(b)
	s, err := Open(b.TempDir(), Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	s.CreateGroup("g", Group{})
	const streams, perStream = 50, 8000
	now := time.Now().Add(-time.Minute)
	start := now.Add(-24 * time.Hour)
	for st := 0; st < streams; st++ {
		name := fmt.Sprintf("pod-%d", st)
		s.CreateStream("g", name)
		var batch []InputEvent
		for i := 0; i < perStream; i++ {
			ts := start.Add(time.Duration(i) * 24 * time.Hour / perStream)
			msg := containerRecord(lines[(st*131+i)%len(lines)], st, ts)
			if st == 7 && i%1500 == 0 && i > 0 {
				msg = containerRecord("handled RareToken4711 request", st, ts)
			}
			batch = append(batch, InputEvent{Timestamp: ts.UnixMilli(), Message: msg})
			if len(batch) == 2000 {
				if _, err := s.Append(context.Background(), "g", name, batch); err != nil {
					b.Fatal(err)
				}
				batch = batch[:0]
			}
		}
	}
	if err := s.Flush(); err != nil {
		b.Fatal(err)
	}
	return s
}

type containsFilter string

func (f containsFilter) Match(m string) bool { return strings.Contains(m, string(f)) }
func (f containsFilter) MayMatch(mayContain func(string) bool) bool {
	return mayContain(string(f))
}

// BenchmarkReadNewest10k is GetLogEvents of a stream's newest 10,000 events.
func BenchmarkReadNewest10k(b *testing.B) {
	s := readBenchStore(b)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		recs, err := s.Read(context.Background(), "g", "pod-3", ReadQuery{Backward: true, Limit: 10000, MaxBytes: 1 << 20})
		if err != nil || len(recs) == 0 {
			b.Fatal(err, len(recs))
		}
	}
}

// BenchmarkFilterRareTerm is FilterLogEvents for a term in 5 events of 400k.
func BenchmarkFilterRareTerm(b *testing.B) {
	s := readBenchStore(b)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		res, err := s.FilterEvents(context.Background(), "g", FilterQuery{Filter: containsFilter("RareToken4711"), Limit: 10000, MaxBytes: 1 << 20})
		if err != nil || len(res.Records) != 5 {
			b.Fatal(err, len(res.Records))
		}
	}
}
