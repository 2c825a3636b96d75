package e2e

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"
)

// rawMatrix builds the result a range-vector instant query returns for
// series: their raw samples, labels canonical.
func rawMatrix(series []rwSeries) *qResult {
	r := &qResult{Type: "matrix"}
	for _, s := range series {
		m := map[string]string{}
		for _, l := range s.Labels {
			m[l[0]] = l[1]
		}
		qs := qSeries{Labels: canonicalLabels(m)}
		for _, p := range s.Samples {
			qs.Points = append(qs.Points, qPoint{T: p.T, V: p.V, S: fmt.Sprint(p.V)})
		}
		r.Series = append(r.Series, qs)
	}
	sort.Slice(r.Series, func(i, j int) bool { return r.Series[i].Labels < r.Series[j].Labels })
	return r
}

// TestPromRestart writes through remote write, stops the server gracefully
// and restarts it: every sample must answer again, bit for bit. Then it
// SIGKILLs the server while writers are sending and counts, after a
// restart, the acknowledged samples that are missing. The metric store
// appends each remote-write request to Prometheus's WAL before answering
// it (the WAL writes to the OS on every commit; fsync only at segment ends),
// so a process crash — unlike a machine crash — loses nothing acknowledged:
// the test expects 0.
func TestPromRestart(t *testing.T) {
	sut := metricsSUT(t)
	ctx := context.Background()
	now := time.Now().Add(-5 * time.Minute).Truncate(time.Second).UnixMilli()

	var written []rwSeries
	for i := 0; i < 50; i++ {
		s := rwSeries{Labels: [][2]string{{"__name__", "restart_test"}, {"series", fmt.Sprint(i)}, {"pod", fmt.Sprintf("p-%d", i%7)}}}
		for k := 0; k < 100; k++ {
			s.Samples = append(s.Samples, rwSample{T: now + int64(k)*1000, V: float64(i*1000+k) + 0.25})
		}
		written = append(written, s)
	}
	for k := 0; k < 100; k += 10 { // ten requests, in time order
		var req []rwSeries
		for _, s := range written {
			req = append(req, rwSeries{Labels: s.Labels, Samples: s.Samples[k : k+10]})
		}
		mustWrite(t, sut.url, req)
	}
	want := rawMatrix(written)
	at := now + 100_000
	check := func(when string) {
		t.Helper()
		got, r, err := queryInstant(ctx, sut.url, "restart_test[200s]", at)
		if err != nil || got == nil {
			t.Fatalf("%s: query: %v %+v", when, err, r)
		}
		if d := diffResults(want, got, 0); d != "" {
			t.Fatalf("%s: %s", when, d)
		}
	}
	check("before restart")
	sut.stop()
	sut.restart()
	check("after a graceful restart")

	// SIGKILL while four writers send one timestamp of 20 series a request.
	const writers, perReq = 4, 20
	base := now + 200_000
	var mu sync.Mutex
	acked := map[string]map[int64]bool{} // series → acknowledged timestamps
	sent := 0
	stopWriting := make(chan struct{})
	var wg sync.WaitGroup
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for k := 0; ; k++ {
				select {
				case <-stopWriting:
					return
				default:
				}
				ts := base + int64(k)
				var req []rwSeries
				for i := 0; i < perReq; i++ {
					name := fmt.Sprintf("w%d-s%d", w, i)
					req = append(req, rwSeries{Labels: [][2]string{{"__name__", "kill_test"}, {"series", name}}, Samples: []rwSample{{T: ts, V: float64(k)}}})
				}
				code, _, err := remoteWrite(ctx, sut.url, encodeWriteRequest(req))
				mu.Lock()
				sent++
				if err == nil && code/100 == 2 {
					for i := 0; i < perReq; i++ {
						name := fmt.Sprintf("w%d-s%d", w, i)
						if acked[name] == nil {
							acked[name] = map[int64]bool{}
						}
						acked[name][ts] = true
					}
				}
				mu.Unlock()
				if err != nil {
					return // the server is gone
				}
			}
		}(w)
	}
	time.Sleep(2 * time.Second)
	sut.kill()
	close(stopWriting)
	wg.Wait()
	sut.restart()

	got, r, err := queryInstant(ctx, sut.url, "kill_test[1h]", base+3_600_000-1)
	if err != nil || got == nil {
		t.Fatalf("after SIGKILL: query: %v %+v", err, r)
	}
	present := map[string]map[int64]bool{}
	stored := 0
	for _, s := range got.Series {
		present[s.Labels] = map[int64]bool{}
		for _, p := range s.Points {
			present[s.Labels][p.T] = true
			stored++
		}
	}
	ackedN, missing := 0, 0
	for name, tss := range acked {
		key := canonicalLabels(map[string]string{"__name__": "kill_test", "series": name})
		for ts := range tss {
			ackedN++
			if !present[key][ts] {
				missing++
			}
		}
	}
	t.Logf("SIGKILL during writes: %d requests sent, %d samples acknowledged, %d stored after restart, %d acknowledged samples missing",
		sent, ackedN, stored, missing)
	if ackedN == 0 {
		t.Fatal("no write was acknowledged before the kill")
	}
	if missing != 0 {
		t.Errorf("%d of %d acknowledged samples lost by SIGKILL (want 0: acknowledged requests are in the WAL)", missing, ackedN)
	}
	check("after SIGKILL and restart")
}
