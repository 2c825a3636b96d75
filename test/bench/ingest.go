package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// ingestOptions tunes the timed PutLogEvents phase.
type ingestOptions struct {
	Clients int
	// SigV4 signs every request with the agent key (the server must have
	// been started with keys).
	SigV4 bool
	// ProfileDir, when set, receives a CPU profile of the server taken
	// during ingestion and a heap profile taken at its end.
	ProfileDir     string
	ProfileSeconds int
}

// ingestResult is what the timed phase measured.
type ingestResult struct {
	SigV4      bool
	Clients    int
	Requests   int
	Retries    int
	Rejected   int // events the server listed in rejectedLogEventsInfo
	Events     int
	BodyBytes  int64
	MsgBytes   int64
	Elapsed    time.Duration
	PutLatency latencyStats
	// Server memory: the peak of VmRSS sampled every 100 ms, and VmHWM
	// (the kernel's own peak) read when the last batch was acknowledged.
	PeakRSSKB  int64
	HWMKB      int64
	RSSSamples int
	// CPU seconds over the timed phase: the server, this benchmark
	// process, and the whole machine (so others' load can be told apart).
	ServerCPU   float64
	BenchCPU    float64
	MachineBusy float64
	LoadBefore  string
	LoadAfter   string
	PresignTook time.Duration
	Profiles    []string
}

// MBps is request payload throughput in MB (10^6 bytes) per second.
func (r *ingestResult) MBps() float64 { return float64(r.BodyBytes) / 1e6 / r.Elapsed.Seconds() }

// EventsPerSec is the event throughput.
func (r *ingestResult) EventsPerSec() float64 { return float64(r.Events) / r.Elapsed.Seconds() }

type sendItem struct {
	b   *Batch
	hdr http.Header // pre-computed SigV4 headers, nil when unsigned
}

// runIngest creates the group and streams, then sends every batch from
// o.Clients concurrent clients and measures the server meanwhile.
func runIngest(ctx context.Context, srv *serverProc, corp *Corpus, o ingestOptions) (*ingestResult, error) {
	keyID, secret := "", ""
	if o.SigV4 {
		keyID, secret = agentKeyID, agentSecret
	}
	c := newLogsClient(srv.url(), o.Clients, keyID, secret)
	if err := createGroupAndStreams(ctx, c, corp); err != nil {
		return nil, err
	}
	plan := clientPlan(corp, o.Clients)
	items := make([][]sendItem, len(plan))
	res := &ingestResult{SigV4: o.SigV4, Clients: o.Clients}
	for k, p := range plan {
		items[k] = make([]sendItem, len(p))
		for i, b := range p {
			items[k][i] = sendItem{b: b}
		}
	}
	if o.SigV4 {
		// Sign everything before the clock starts: the signer's SHA-256 of
		// 1 MB bodies would otherwise take CPU from the server on this
		// 2-core machine, while a real agent signs on its own node. The
		// server still verifies every signature and body hash.
		start := time.Now()
		if err := presign(ctx, c, items, start); err != nil {
			return nil, err
		}
		res.PresignTook = time.Since(start)
	}
	runtime.GC() // the generator's garbage should not be collected mid-run

	pid := srv.pid()
	stopSampler := make(chan struct{})
	samplerDone := make(chan struct{})
	var peak atomic.Int64
	var samples atomic.Int64
	go func() {
		defer close(samplerDone)
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			if st, err := procStatusKB(pid, "VmRSS"); err == nil {
				if v := st["VmRSS"]; v > peak.Load() {
					peak.Store(v)
				}
				samples.Add(1)
			}
			select {
			case <-stopSampler:
				return
			case <-t.C:
			}
		}
	}()

	var profWG sync.WaitGroup
	profCtx, cancelProf := context.WithCancel(ctx)
	defer cancelProf()
	if o.ProfileDir != "" {
		profWG.Go(func() {
			select {
			case <-time.After(time.Second):
			case <-profCtx.Done():
				return
			}
			path := filepath.Join(o.ProfileDir, fmt.Sprintf("cpu-%s.pprof", runLabel(o.SigV4)))
			url := fmt.Sprintf("%s/debug/pprof/profile?seconds=%d", srv.url(), o.ProfileSeconds)
			if err := fetchToFile(profCtx, url, path); err != nil {
				fmt.Fprintf(os.Stderr, "bench: cpu profile: %v\n", err)
				return
			}
			res.Profiles = append(res.Profiles, path)
		})
	}

	res.LoadBefore = loadAvg()
	cpu0, _ := procCPUSeconds(pid)
	self0, _ := procCPUSeconds(os.Getpid())
	busy0, _ := machineCPUBusySeconds()
	start := time.Now()

	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
		lats     = make([][]time.Duration, len(items))
		retries  atomic.Int64
		rejected atomic.Int64
	)
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	for k := range items {
		wg.Go(func() {
			for _, it := range items[k] {
				lat, err := sendBatch(runCtx, c, it, &retries, &rejected)
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = fmt.Errorf("PutLogEvents to %s: %w", corp.Streams[it.b.Stream].Name, err)
					}
					mu.Unlock()
					cancel()
					return
				}
				lats[k] = append(lats[k], lat)
			}
		})
	}
	wg.Wait()
	res.Elapsed = time.Since(start)
	cpu1, _ := procCPUSeconds(pid)
	self1, _ := procCPUSeconds(os.Getpid())
	busy1, _ := machineCPUBusySeconds()
	res.LoadAfter = loadAvg()
	close(stopSampler)
	<-samplerDone
	if st, err := procStatusKB(pid, "VmHWM", "VmRSS"); err == nil {
		res.HWMKB = st["VmHWM"]
		peak.Store(max(peak.Load(), st["VmRSS"]))
	}
	cancelProf()
	profWG.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	if o.ProfileDir != "" {
		path := filepath.Join(o.ProfileDir, fmt.Sprintf("heap-%s.pprof", runLabel(o.SigV4)))
		if err := fetchToFile(ctx, srv.url()+"/debug/pprof/heap", path); err == nil {
			res.Profiles = append(res.Profiles, path)
		}
	}
	res.PeakRSSKB = peak.Load()
	res.RSSSamples = int(samples.Load())
	res.ServerCPU, res.BenchCPU, res.MachineBusy = cpu1-cpu0, self1-self0, busy1-busy0
	res.Retries = int(retries.Load())
	res.Rejected = int(rejected.Load())
	var all []time.Duration
	for k, it := range items {
		all = append(all, lats[k]...)
		for _, x := range it {
			res.Requests++
			res.Events += x.b.Events
			res.BodyBytes += int64(len(x.b.Body))
			res.MsgBytes += x.b.MsgBytes
		}
	}
	res.PutLatency = stats(all)
	return res, nil
}

func runLabel(sigv4 bool) string {
	if sigv4 {
		return "sigv4"
	}
	return "nokeys"
}

// presign signs every request at one instant, hashing bodies on all CPUs.
func presign(ctx context.Context, c *logsClient, items [][]sendItem, at time.Time) error {
	var flat []*sendItem
	for k := range items {
		for i := range items[k] {
			flat = append(flat, &items[k][i])
		}
	}
	var wg sync.WaitGroup
	errs := make([]error, runtime.GOMAXPROCS(0))
	for w := range errs {
		wg.Go(func() {
			for i := w; i < len(flat); i += len(errs) {
				it := flat[i]
				sum := sha256.Sum256(it.b.Body)
				req, err := c.newRequest(ctx, "PutLogEvents", it.b.Body, hex.EncodeToString(sum[:]), at)
				if err != nil {
					errs[w] = err
					return
				}
				it.hdr = http.Header{}
				for _, h := range []string{"Authorization", "X-Amz-Date", "X-Amz-Security-Token"} {
					if v := req.Header.Get(h); v != "" {
						it.hdr.Set(h, v)
					}
				}
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// sendBatch sends one batch, retrying what an AWS SDK would retry, and
// returns the latency of the successful attempt.
func sendBatch(ctx context.Context, c *logsClient, it sendItem, retries, rejected *atomic.Int64) (time.Duration, error) {
	for attempt := 0; ; attempt++ {
		var req *http.Request
		var err error
		if it.hdr != nil {
			req, err = c.baseRequest(ctx, "PutLogEvents", it.b.Body)
			if err == nil {
				for k, v := range it.hdr {
					req.Header[k] = v
				}
			}
		} else {
			req, err = c.newRequest(ctx, "PutLogEvents", it.b.Body, "", time.Now())
		}
		if err != nil {
			return 0, err
		}
		t0 := time.Now()
		data, err := c.do(req)
		lat := time.Since(t0)
		if err == nil {
			var out struct {
				Rejected *struct {
					TooNew  *int `json:"tooNewLogEventStartIndex"`
					TooOld  *int `json:"tooOldLogEventEndIndex"`
					Expired *int `json:"expiredLogEventEndIndex"`
				} `json:"rejectedLogEventsInfo"`
			}
			if json.Unmarshal(data, &out) == nil && out.Rejected != nil {
				n := 0
				if r := out.Rejected; r.TooNew != nil {
					n += it.b.Events - *r.TooNew
				}
				if r := out.Rejected; r.TooOld != nil || r.Expired != nil {
					old := 0
					if r.TooOld != nil {
						old = *r.TooOld
					}
					if r.Expired != nil {
						old = max(old, *r.Expired)
					}
					n += old
				}
				rejected.Add(int64(n))
			}
			return lat, nil
		}
		var ae *apiError
		if !errors.As(err, &ae) || !ae.retryable() || attempt >= 20 {
			return 0, err
		}
		retries.Add(1)
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(time.Duration(attempt+1) * 50 * time.Millisecond):
		}
	}
}

func fetchToFile(ctx context.Context, url, path string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// settleResult is the store's state once flushing and merging stopped.
type settleResult struct {
	Took     time.Duration
	TimedOut bool
	Parts    int
	MaxParts int // most parts in one daily partition
	Days     int
	PartsDU  diskUsage
	WALDU    diskUsage
	DataDU   diskUsage
	Metrics  map[string]float64
}

// dropNonFinite removes NaN and ±Inf metrics (a summary with no
// observations yet reports NaN quantiles), which JSON cannot encode.
func (s *settleResult) dropNonFinite() {
	if s == nil {
		return
	}
	for k, v := range s.Metrics {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			delete(s.Metrics, k)
		}
	}
}

// waitSettled polls /metrics until the heads are flushed, no part is being
// written and the part count has not changed for `stable`, then measures
// the data directory.
func waitSettled(ctx context.Context, srv *serverProc, dataDir string, stable, timeout time.Duration) (*settleResult, error) {
	start := time.Now()
	res := &settleResult{}
	partsDir := filepath.Join(dataDir, "logs", "parts")
	var lastParts, lastWritten float64 = -1, -1
	var since time.Time
	for {
		m, err := srv.scrapeMetrics(ctx)
		if err != nil {
			return nil, err
		}
		parts, written := m["kinsight_logstore_parts"], m["kinsight_logstore_parts_written_total"]
		busy := m["kinsight_logstore_head_bytes"] > 0 || hasTmp(partsDir)
		switch {
		case busy || parts != lastParts || written != lastWritten:
			since = time.Time{}
		case since.IsZero():
			since = time.Now()
		case time.Since(since) >= stable:
			res.Metrics = m
			res.Took = time.Since(start)
			return res, measureDisk(res, dataDir)
		}
		lastParts, lastWritten = parts, written
		if time.Since(start) > timeout {
			res.Metrics, res.TimedOut, res.Took = m, true, time.Since(start)
			return res, measureDisk(res, dataDir)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

func hasTmp(dir string) bool {
	found := false
	filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(path, ".tmp") {
			found = true
		}
		return nil
	})
	return found
}

func measureDisk(res *settleResult, dataDir string) error {
	partsDir := filepath.Join(dataDir, "logs", "parts")
	days, err := os.ReadDir(partsDir)
	if err != nil {
		return err
	}
	for _, d := range days {
		if !d.IsDir() {
			continue
		}
		files, err := os.ReadDir(filepath.Join(partsDir, d.Name()))
		if err != nil {
			return err
		}
		n := 0
		for _, f := range files {
			if strings.HasSuffix(f.Name(), ".part") {
				n++
			}
		}
		res.Days++
		res.Parts += n
		res.MaxParts = max(res.MaxParts, n)
	}
	if res.PartsDU, err = duDir(partsDir); err != nil {
		return err
	}
	if res.WALDU, err = duDir(filepath.Join(dataDir, "logs", "wal")); err != nil {
		return err
	}
	res.DataDU, err = duDir(dataDir)
	return err
}

// latencyStats summarises a set of latencies.
type latencyStats struct {
	N             int
	Min, P50, P95 time.Duration
	Max           time.Duration
}

func stats(d []time.Duration) latencyStats {
	if len(d) == 0 {
		return latencyStats{}
	}
	s := slices.Clone(d)
	slices.Sort(s)
	pct := func(p float64) time.Duration {
		// nearest rank: the smallest value with at least p of the samples
		// at or below it.
		i := int(float64(len(s))*p+0.999999) - 1
		return s[min(max(i, 0), len(s)-1)]
	}
	return latencyStats{N: len(s), Min: s[0], P50: pct(0.50), P95: pct(0.95), Max: s[len(s)-1]}
}
