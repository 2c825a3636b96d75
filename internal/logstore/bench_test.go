package logstore

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
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
