package insights

import (
	"context"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestHeapStaysNearBound runs memory-hungry queries over 100k distinct
// messages with MaxMemoryBytes = 16 MiB while sampling the live heap: the
// heap the run adds stays within a small factor of the bound whether the
// query fails or not, so the accounting tracks real memory.
func TestHeapStaysNearBound(t *testing.T) {
	if testing.Short() {
		t.Skip("samples the heap for seconds")
	}
	evs := make([]Event, 100_000)
	for i := range evs {
		evs[i] = Event{Timestamp: int64(i), Message: `{"k":"key-` + itoa(i) + `","pad":"` + strings.Repeat("x", 100) + `"}`, Ptr: itoa(i)}
	}
	const bound = 16 << 20
	for _, query := range []string{
		`stats count(*) by @message`,
		`stats count(*), count_distinct(k), pct(@timestamp, 50) by bin(1s)`,
		`sort k | dedup k`,
		`pattern @message`,
		`fields k | sort k desc | limit 10000`,
	} {
		q, err := Compile(query)
		if err != nil {
			t.Fatal(err)
		}
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		base := ms.HeapAlloc
		var peak atomic.Uint64
		stop := make(chan struct{})
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			var m runtime.MemStats
			for {
				select {
				case <-stop:
					return
				case <-time.After(2 * time.Millisecond):
				}
				runtime.ReadMemStats(&m)
				if m.HeapAlloc > peak.Load() {
					peak.Store(m.HeapAlloc)
				}
			}
		}()
		_, err = q.Run(context.Background(), &memStore{events: evs, blockSize: 2048}, Options{End: 1 << 62, MaxMemoryBytes: bound}, nil)
		close(stop)
		wg.Wait()
		if err != nil && !strings.Contains(err.Error(), "query needs more than") {
			t.Fatalf("%s: %v", query, err)
		}
		grew := int64(peak.Load()) - int64(base)
		t.Logf("%s: err=%v heap grew %d MiB (bound %d MiB)", query, err != nil, grew>>20, bound>>20)
		// Garbage not yet collected counts in HeapAlloc too, hence 4x.
		if grew > 4*bound {
			t.Errorf("%s: heap grew by %d bytes, more than 4x the %d bound", query, grew, bound)
		}
	}
}

// TestConcurrentRuns runs one compiled query from many goroutines: a
// Query is shared, each Run has its own state (run with -race).
func TestConcurrentRuns(t *testing.T) {
	evs := manyEvents(3000)
	q, err := Compile(`filter level = "info" | stats count(*) as c, avg(n) by kubernetes.pod_name | sort c desc | limit 3`)
	if err != nil {
		t.Fatal(err)
	}
	want, err := q.Run(context.Background(), &memStore{events: evs, blockSize: 100}, Options{End: 1 << 62}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for g := 0; g < 30; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got, err := q.Run(context.Background(), &memStore{events: evs, blockSize: 100}, Options{End: 1 << 62}, nil)
			if err != nil {
				t.Error(err)
				return
			}
			if len(got.Rows) != len(want.Rows) || got.Stats != want.Stats {
				t.Errorf("concurrent run gave %v, want %v", got, want)
			}
		}()
	}
	wg.Wait()
}
