package main

// The metric store benchmark (issue 5): kinsight server, Debian's
// Prometheus (remote-write receiver on) and Debian's VictoriaMetrics, one
// after another, each a separate process fed the same generated load over
// remote write 1.0 and measured from /proc (CPU seconds, VmHWM, VmRSS):
//
//  1. ingest: --series series × --timestamps timestamps 15 s apart, sent
//     round by round (a round is one timestamp of every series): the first
//     round creates the series, the later ones are the steady state;
//     memory per active series is the RSS growth over the empty process
//     divided by the series;
//  2. query: a fresh process gets --query-series counters x{Namespace=…}
//     over --hours hours at --interval, oldest first; the TSDB stores cut
//     and compact blocks meanwhile. Then sum by (Namespace) (rate(x[5m]))
//     as a range query over the whole span (step 5m), cold once and warm
//     --runs times, timing each and the server's CPU;
//  3. disk: bytes per sample of the compacted blocks (meta.json's
//     numSamples against the block directories' allocated size) for the
//     Prometheus TSDBs, and of the whole data directory after a forced
//     flush for VictoriaMetrics.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/klauspost/compress/snappy"
)

// metricsFlags are the metrics subcommand's options.
type metricsFlags struct {
	series      int
	timestamps  int
	querySeries int
	hours       float64
	interval    time.Duration
	senders     int
	perRequest  int
	targets     string
}

// benchTarget is one system under test.
type benchTarget struct {
	name  string
	start func(ctx context.Context, work, tag string) (*benchProc, error)
	// tsdb is the directory holding Prometheus TSDB blocks under the data
	// directory ("" for VictoriaMetrics).
	tsdb    func(dataDir string) string
	version string
}

// benchProc is a running system under test.
type benchProc struct {
	name, url, dataDir, logPath string
	cmd                         *exec.Cmd
	log                         *os.File
	exited                      chan struct{}
}

func (p *benchProc) pid() int { return p.cmd.Process.Pid }

func startBenchProc(ctx context.Context, name, bin string, args []string, addr, dataDir, readyPath, logPath string) (*benchProc, error) {
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	p := &benchProc{name: name, url: "http://" + addr, dataDir: dataDir, logPath: logPath, log: logf, exited: make(chan struct{})}
	p.cmd = exec.Command(bin, args...)
	p.cmd.Stdout, p.cmd.Stderr = logf, logf
	if err := p.cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	go func() { p.cmd.Wait(); close(p.exited) }()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		resp, err := http.Get(p.url + readyPath)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p, nil
			}
		}
		select {
		case <-p.exited:
			return nil, fmt.Errorf("%s exited during start; see %s", name, logPath)
		case <-ctx.Done():
			p.stop()
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			p.stop()
			return nil, fmt.Errorf("%s not ready after 2m; see %s", name, logPath)
		}
	}
}

// stop sends SIGTERM and waits up to five minutes (a TSDB may be writing a
// block), then kills.
func (p *benchProc) stop() error {
	defer p.log.Close()
	select {
	case <-p.exited:
		return nil
	default:
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
		return nil
	case <-time.After(5 * time.Minute):
		p.cmd.Process.Kill()
		<-p.exited
		return fmt.Errorf("%s did not stop within 5 minutes of SIGTERM; killed", p.name)
	}
}

func toolVersion(bin string, args ...string) string {
	out, err := exec.Command(bin, args...).CombinedOutput()
	if err != nil {
		return "?"
	}
	line, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
	return line
}

func benchTargets(ctx context.Context, f *flags, work string, logf logFunc) ([]benchTarget, error) {
	var out []benchTarget
	for _, name := range strings.Split(f.metrics.targets, ",") {
		switch name {
		case "kinsight":
			bin, err := binaryFor(ctx, f, work, logf)
			if err != nil {
				return nil, err
			}
			out = append(out, benchTarget{name: name, version: gitCommit(), tsdb: func(d string) string { return filepath.Join(d, "metrics", "tsdb") },
				start: func(ctx context.Context, work, tag string) (*benchProc, error) {
					addr, err := freeAddr()
					if err != nil {
						return nil, err
					}
					dataDir := filepath.Join(work, "kinsight-"+tag)
					cfg := fmt.Sprintf("server:\n  listen: %q\n  data_dir: %q\nlog:\n  level: warn\n", addr, dataDir)
					cfgPath := dataDir + ".yaml"
					if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
						return nil, err
					}
					return startBenchProc(ctx, name, bin, []string{"server", "--config", cfgPath}, addr, dataDir, "/readyz", dataDir+".log")
				}})
		case "prometheus":
			out = append(out, benchTarget{name: name, version: toolVersion("/usr/bin/prometheus", "--version"), tsdb: func(d string) string { return d },
				start: func(ctx context.Context, work, tag string) (*benchProc, error) {
					addr, err := freeAddr()
					if err != nil {
						return nil, err
					}
					dataDir := filepath.Join(work, "prometheus-"+tag)
					cfgPath := dataDir + ".yml"
					if err := os.WriteFile(cfgPath, []byte("global: {}\n"), 0o600); err != nil {
						return nil, err
					}
					return startBenchProc(ctx, name, "/usr/bin/prometheus", []string{
						"--config.file=" + cfgPath, "--storage.tsdb.path=" + dataDir, "--web.listen-address=" + addr,
						"--web.enable-remote-write-receiver", "--storage.tsdb.retention.time=30d", "--log.level=warn",
					}, addr, dataDir, "/-/ready", dataDir+".log")
				}})
		case "victoria-metrics":
			out = append(out, benchTarget{name: name, version: "Debian package " + toolVersion("dpkg-query", "-W", "-f=${Version}", "victoria-metrics"),
				start: func(ctx context.Context, work, tag string) (*benchProc, error) {
					addr, err := freeAddr()
					if err != nil {
						return nil, err
					}
					dataDir := filepath.Join(work, "vm-"+tag)
					// The rollup cache off, so that warm queries compute.
					return startBenchProc(ctx, name, "/usr/bin/victoria-metrics", []string{
						"-storageDataPath=" + dataDir, "-httpListenAddr=" + addr, "-retentionPeriod=1y",
						"-search.disableCache", "-search.latencyOffset=0s", "-loggerLevel=WARN",
					}, addr, dataDir, "/health", dataDir+".log")
				}})
		default:
			return nil, fmt.Errorf("--targets: unknown %q (kinsight, prometheus, victoria-metrics)", name)
		}
	}
	return out, nil
}

// sender posts remote-write bodies with a few concurrent connections,
// retrying 5xx and 429 answers as a remote-write client does.
type sender struct {
	url     string
	client  *http.Client
	retries atomic.Int64
}

func (s *sender) post(ctx context.Context, body []byte) error {
	for attempt := 0; ; attempt++ {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url+"/api/v1/write", strings.NewReader(string(body)))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Encoding", "snappy")
		req.Header.Set("Content-Type", "application/x-protobuf")
		req.Header.Set("X-Prometheus-Remote-Write-Version", "0.1.0")
		resp, err := s.client.Do(req)
		var code int
		var msg []byte
		if err == nil {
			msg, _ = io.ReadAll(io.LimitReader(resp.Body, 512))
			resp.Body.Close()
			code = resp.StatusCode
			if code/100 == 2 {
				return nil
			}
			if code/100 == 4 && code != http.StatusTooManyRequests {
				return fmt.Errorf("remote write: HTTP %d: %s", code, msg)
			}
		}
		if attempt == 30 || ctx.Err() != nil {
			return fmt.Errorf("remote write failed after %d attempts: %v (HTTP %d %s)", attempt+1, err, code, msg)
		}
		s.retries.Add(1)
		time.Sleep(time.Duration(50*(attempt+1)) * time.Millisecond)
	}
}

// sendRounds sends rounds of every template: value(series, round) at
// ts(round), requests compressed by one goroutine and sent by senders
// others. Like Prometheus's remote-write shards, a series always goes
// through the same sender, so its samples arrive in time order. It returns
// when every request is acknowledged.
func sendRounds(ctx context.Context, s *sender, tmpls []*rwTemplate, perRequest int, rounds []int, senders int,
	ts func(round int) int64, value func(series, round int) float64) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	queues := make([]chan []byte, senders)
	var firstErr error
	var once sync.Once
	fail := func(err error) { once.Do(func() { firstErr = err; cancel() }) }
	var wg sync.WaitGroup
	for i := range queues {
		queues[i] = make(chan []byte, 2)
		wg.Add(1)
		go func(q chan []byte) {
			defer wg.Done()
			for b := range q {
				if ctx.Err() != nil {
					continue
				}
				if err := s.post(ctx, b); err != nil {
					fail(err)
				}
			}
		}(queues[i])
	}
produce:
	for _, r := range rounds {
		t := ts(r)
		for c, tmpl := range tmpls {
			for j := range tmpl.valOff {
				if err := tmpl.set(j, t, value(c*perRequest+j, r)); err != nil {
					fail(err)
					break produce
				}
			}
			select {
			case queues[c%senders] <- snappy.Encode(nil, tmpl.raw):
			case <-ctx.Done():
				break produce
			}
		}
	}
	for _, q := range queues {
		close(q)
	}
	wg.Wait()
	if firstErr == nil && ctx.Err() != nil {
		return ctx.Err()
	}
	return firstErr
}

func buildTemplates(n, perRequest int, labels func(int) [][2]string) []*rwTemplate {
	var out []*rwTemplate
	for lo := 0; lo < n; lo += perRequest {
		hi := min(lo+perRequest, n)
		ls := make([][][2]string, 0, hi-lo)
		for i := lo; i < hi; i++ {
			ls = append(ls, labels(i))
		}
		out = append(out, newRWTemplate(ls))
	}
	return out
}

// procSnap is a process's CPU and memory at one moment.
type procSnap struct {
	cpu       float64
	rss, hwm  int64 // kB
	at        time.Time
	machineCP float64
}

func snap(pid int) procSnap {
	s := procSnap{at: time.Now()}
	s.cpu, _ = procCPUSeconds(pid)
	m, _ := procStatusKB(pid, "VmRSS", "VmHWM")
	s.rss, s.hwm = m["VmRSS"], m["VmHWM"]
	s.machineCP, _ = machineCPUBusySeconds()
	return s
}

// metricsIngestResult is phase 1's figures for one target.
type metricsIngestResult struct {
	Series, Samples          int
	All, First, Steady       float64 // samples/s
	CPU, FirstCPU, SteadyCPU float64 // server CPU seconds
	OthersCPU                float64 // CPU seconds used by everything else meanwhile
	BaseRSS, RSS, HWM        int64   // kB
	BytesPerSeries           float64
	ClientRetries            int64
}

// metricsQueryResult is phases 2 and 3's figures for one target.
type metricsQueryResult struct {
	Series, Samples        int
	IngestRate, IngestCPU  float64
	HWM                    int64
	Cold                   time.Duration
	Warm                   []time.Duration
	WarmCPU                []float64
	AnswerSeries, Points   int
	AnswerSum              float64
	BlockBytes, BlockSmpls int64
	DirBytes               int64
	BytesPerSample         float64 // blocks (TSDB) or whole directory (VM)
	DirBytesPerSample      float64
	Err                    string
}

type metricsRun struct {
	Date    time.Time
	Machine machineInfo
	Commit  string
	Command string
	Load    string
	Flags   metricsFlags
	Targets []string
	Version map[string]string
	Ingest  map[string]*metricsIngestResult
	Query   map[string]*metricsQueryResult
}

func cmdMetrics(ctx context.Context, f *flags, command string, stdout io.Writer, logf logFunc) error {
	work, temp, err := workDir(f)
	if err != nil {
		return err
	}
	if temp && !f.keep {
		defer os.RemoveAll(work)
	}
	targets, err := benchTargets(ctx, f, work, logf)
	if err != nil {
		return err
	}
	m := f.metrics
	run := &metricsRun{Date: time.Now().UTC(), Machine: readMachineInfo(), Commit: gitCommit(), Command: command, Load: loadAvg(),
		Flags: m, Version: map[string]string{}, Ingest: map[string]*metricsIngestResult{}, Query: map[string]*metricsQueryResult{}}
	logf("building %d + %d series templates…", m.series, m.querySeries)
	ingestT := buildTemplates(m.series, m.perRequest, ingestLabels)
	queryT := buildTemplates(m.querySeries, m.perRequest, queryLabels)
	for _, t := range targets {
		run.Targets = append(run.Targets, t.name)
		run.Version[t.name] = t.version
		if m.series > 0 {
			r, err := benchIngest(ctx, t, work, m, ingestT, logf)
			if err != nil {
				return fmt.Errorf("%s ingest: %w", t.name, err)
			}
			run.Ingest[t.name] = r
		}
		if m.querySeries > 0 {
			r, err := benchQuery(ctx, t, work, m, queryT, f.runs, logf)
			if err != nil {
				return fmt.Errorf("%s query: %w", t.name, err)
			}
			run.Query[t.name] = r
		}
	}
	if f.jsonOut != "" {
		b, _ := json.MarshalIndent(run, "", "  ")
		if err := os.WriteFile(f.jsonOut, b, 0o644); err != nil {
			return err
		}
	}
	run.write(stdout)
	return nil
}

func benchIngest(ctx context.Context, t benchTarget, work string, m metricsFlags, tmpls []*rwTemplate, logf logFunc) (*metricsIngestResult, error) {
	p, err := t.start(ctx, work, "ingest")
	if err != nil {
		return nil, err
	}
	defer p.stop()
	time.Sleep(2 * time.Second) // let start-up settle before the baseline
	s := &sender{url: p.url, client: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: m.senders}}}
	step := 15 * time.Second
	start := time.Now().Add(-time.Duration(m.timestamps)*step - time.Minute).Truncate(step).UnixMilli()
	ts := func(r int) int64 { return start + int64(r)*step.Milliseconds() }
	val := func(i, r int) float64 { return float64(mix(uint64(i), uint64(r))%100000) / 100 }
	s0 := snap(p.pid())
	logf("%s: ingest round 0 (%d new series)…", t.name, m.series)
	if err := sendRounds(ctx, s, tmpls, m.perRequest, []int{0}, m.senders, ts, val); err != nil {
		return nil, err
	}
	s1 := snap(p.pid())
	var rest []int
	for r := 1; r < m.timestamps; r++ {
		rest = append(rest, r)
	}
	logf("%s: first round %.1fs; rounds 1..%d…", t.name, s1.at.Sub(s0.at).Seconds(), m.timestamps-1)
	if err := sendRounds(ctx, s, tmpls, m.perRequest, rest, m.senders, ts, val); err != nil {
		return nil, err
	}
	s2 := snap(p.pid())
	r := &metricsIngestResult{Series: m.series, Samples: m.series * m.timestamps, ClientRetries: s.retries.Load()}
	r.All = float64(r.Samples) / s2.at.Sub(s0.at).Seconds()
	r.First = float64(m.series) / s1.at.Sub(s0.at).Seconds()
	r.Steady = float64(m.series*len(rest)) / s2.at.Sub(s1.at).Seconds()
	r.CPU, r.FirstCPU, r.SteadyCPU = s2.cpu-s0.cpu, s1.cpu-s0.cpu, s2.cpu-s1.cpu
	r.OthersCPU = (s2.machineCP - s0.machineCP) - r.CPU
	r.BaseRSS, r.RSS, r.HWM = s0.rss, s2.rss, s2.hwm
	r.BytesPerSeries = float64(s2.rss-s0.rss) * 1024 / float64(m.series)
	logf("%s: %.0f samples/s (first round %.0f, steady %.0f), %.1f CPU s, peak RSS %s", t.name, r.All, r.First, r.Steady, r.CPU, kbMB(r.HWM))
	return r, nil
}

func benchQuery(ctx context.Context, t benchTarget, work string, m metricsFlags, tmpls []*rwTemplate, runs int, logf logFunc) (*metricsQueryResult, error) {
	p, err := t.start(ctx, work, "query")
	if err != nil {
		return nil, err
	}
	defer p.stop()
	s := &sender{url: p.url, client: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: m.senders}}}
	points := int(time.Duration(m.hours*float64(time.Hour)) / m.interval)
	end := time.Now().Add(-2 * time.Minute).Truncate(m.interval)
	start := end.Add(-time.Duration(points-1) * m.interval)
	// Samples sit 7 s off the 5 m query steps, so no rate window starts
	// exactly on a sample: Prometheus 3 (kinsight) leaves a range's start
	// out, Prometheus 2.42 and VictoriaMetrics keep it, and aligned data
	// would make their answers differ by that one sample.
	ts := func(r int) int64 { return start.Add(time.Duration(r)*m.interval + 7*time.Second).UnixMilli() }
	// Counters start far from zero (as counters met in the wild do), so
	// that Prometheus 2's and 3's different extrapolation towards a
	// counter's zero point does not make the answers differ.
	counters := make([]float64, m.querySeries)
	for i := range counters {
		counters[i] = 1e6 + float64(i)
	}
	val := func(i, r int) float64 {
		counters[i] += float64(mix(uint64(i), uint64(r)) % 50)
		return counters[i]
	}
	rounds := make([]int, points)
	for i := range rounds {
		rounds[i] = i
	}
	r := &metricsQueryResult{Series: m.querySeries, Samples: m.querySeries * points}
	logf("%s: loading %d series × %d points (%s apart, %.0f h)…", t.name, m.querySeries, points, m.interval, m.hours)
	s0 := snap(p.pid())
	if err := sendRounds(ctx, s, tmpls, m.perRequest, rounds, m.senders, ts, val); err != nil {
		return nil, err
	}
	s1 := snap(p.pid())
	r.IngestRate = float64(r.Samples) / s1.at.Sub(s0.at).Seconds()
	r.IngestCPU = s1.cpu - s0.cpu
	logf("%s: loaded at %.0f samples/s (%.0f CPU s); settling…", t.name, r.IngestRate, r.IngestCPU)
	if t.tsdb == nil {
		if resp, err := http.Get(p.url + "/internal/force_flush"); err == nil {
			resp.Body.Close()
		}
		time.Sleep(3 * time.Second)
	} else {
		settleBlocks(t.tsdb(p.dataDir), 90*time.Second)
	}
	q := url.Values{"query": {"sum by (Namespace) (rate(x[5m]))"},
		"start": {strconv.FormatInt(start.Unix(), 10)}, "end": {strconv.FormatInt(end.Unix(), 10)}, "step": {"300"}}
	for i := 0; i <= runs; i++ {
		c0 := snap(p.pid())
		n, pts, sum, err := rangeQuery(ctx, p.url, q)
		c1 := snap(p.pid())
		if err != nil {
			r.Err = err.Error()
			logf("%s: query: %v", t.name, err)
			break
		}
		d := c1.at.Sub(c0.at)
		if i == 0 {
			r.Cold, r.AnswerSeries, r.Points, r.AnswerSum = d, n, pts, sum
		} else {
			r.Warm = append(r.Warm, d)
			r.WarmCPU = append(r.WarmCPU, c1.cpu-c0.cpu)
		}
	}
	r.HWM = snap(p.pid()).hwm
	if err := p.stop(); err != nil {
		return nil, err
	}
	dir := p.dataDir
	if t.tsdb != nil {
		dir = t.tsdb(p.dataDir)
		r.BlockBytes, r.BlockSmpls = blockStats(dir)
		if r.BlockSmpls > 0 {
			r.BytesPerSample = float64(r.BlockBytes) / float64(r.BlockSmpls)
		}
	}
	u, err := duDir(dir)
	if err != nil {
		return nil, err
	}
	r.DirBytes = u.Allocated
	r.DirBytesPerSample = float64(u.Allocated) / float64(r.Samples)
	if t.tsdb == nil {
		r.BytesPerSample = r.DirBytesPerSample
	}
	logf("%s: query cold %s, warm %v; %.2f bytes/sample", t.name, r.Cold.Round(time.Millisecond), r.Warm, r.BytesPerSample)
	return r, nil
}

// settleBlocks waits until the TSDB's block directories stop changing for
// 15 s (head compaction done), at most max.
func settleBlocks(dir string, max time.Duration) {
	deadline := time.Now().Add(max)
	last, stable := "", 0
	for time.Now().Before(deadline) && stable < 3 {
		ents, _ := os.ReadDir(dir)
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		cur := strings.Join(names, ",")
		if cur == last {
			stable++
		} else {
			stable = 0
		}
		last = cur
		time.Sleep(5 * time.Second)
	}
}

// blockStats sums the allocated size and meta.json numSamples of the
// TSDB's blocks.
func blockStats(dir string) (bytes, samples int64) {
	metas, _ := filepath.Glob(filepath.Join(dir, "*", "meta.json"))
	for _, mp := range metas {
		data, err := os.ReadFile(mp)
		if err != nil {
			continue
		}
		var meta struct {
			Stats struct {
				NumSamples int64 `json:"numSamples"`
			} `json:"stats"`
		}
		if json.Unmarshal(data, &meta) != nil {
			continue
		}
		u, err := duDir(filepath.Dir(mp))
		if err != nil {
			continue
		}
		bytes += u.Allocated
		samples += meta.Stats.NumSamples
	}
	return bytes, samples
}

func rangeQuery(ctx context.Context, base string, q url.Values) (series, points int, sum float64, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/api/v1/query_range?"+q.Encode(), nil)
	if err != nil {
		return 0, 0, 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, 0, 0, err
	}
	defer resp.Body.Close()
	var body struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			Result []struct {
				Values [][2]any `json:"values"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return 0, 0, 0, fmt.Errorf("HTTP %d: %w", resp.StatusCode, err)
	}
	if body.Status != "success" {
		return 0, 0, 0, errors.New(body.Error)
	}
	for _, s := range body.Data.Result {
		points += len(s.Values)
		for _, v := range s.Values {
			if str, ok := v[1].(string); ok {
				f, _ := strconv.ParseFloat(str, 64)
				sum += f
			}
		}
	}
	return len(body.Data.Result), points, sum, nil
}

func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

func medianF(fs []float64) float64 {
	if len(fs) == 0 {
		return 0
	}
	s := slices.Clone(fs)
	sort.Float64s(s)
	return s[len(s)/2]
}

func (run *metricsRun) write(w io.Writer) {
	m := run.Machine
	fmt.Fprintf(w, "### Metric store benchmark, %s\n\n", run.Date.Format("2006-01-02 15:04 UTC"))
	fmt.Fprintf(w, "`%s` at %s, Go %s; %d CPUs (%s), %.1f GB RAM; load average at start %s.\n\n",
		run.Command, run.Commit, strings.TrimPrefix(runtime.Version(), "go"), m.CPUs, m.Model, float64(m.MemBytes)/1e9, run.Load)
	for _, t := range run.Targets {
		fmt.Fprintf(w, "- %s: %s\n", t, run.Version[t])
	}
	fmt.Fprintln(w)
	row := func(name string, cell func(t string) string) {
		fmt.Fprintf(w, "| %s |", name)
		for _, t := range run.Targets {
			fmt.Fprintf(w, " %s |", cell(t))
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "| |")
	for _, t := range run.Targets {
		fmt.Fprintf(w, " %s |", t)
	}
	fmt.Fprintf(w, "\n|---|%s\n", strings.Repeat("---|", len(run.Targets)))
	in := func(t string, f func(*metricsIngestResult) string) string {
		if r := run.Ingest[t]; r != nil {
			return f(r)
		}
		return "-"
	}
	qr := func(t string, f func(*metricsQueryResult) string) string {
		if r := run.Query[t]; r != nil {
			return f(r)
		}
		return "-"
	}
	rate := func(v float64) string { return fmt.Sprintf("%.0f", v) }
	row(fmt.Sprintf("remote write %d series × %d timestamps: samples/s", run.Flags.series, run.Flags.timestamps), func(t string) string { return in(t, func(r *metricsIngestResult) string { return rate(r.All) }) })
	row("… first round (creating the series): samples/s", func(t string) string { return in(t, func(r *metricsIngestResult) string { return rate(r.First) }) })
	row("… later rounds (steady state): samples/s", func(t string) string { return in(t, func(r *metricsIngestResult) string { return rate(r.Steady) }) })
	row("… server CPU s (first round + later rounds)", func(t string) string {
		return in(t, func(r *metricsIngestResult) string {
			return fmt.Sprintf("%.1f (%.1f + %.1f)", r.CPU, r.FirstCPU, r.SteadyCPU)
		})
	})
	row("… CPU s used by everything else meanwhile (load generator, others)", func(t string) string {
		return in(t, func(r *metricsIngestResult) string { return fmt.Sprintf("%.1f", r.OthersCPU) })
	})
	row("… peak RSS (VmHWM)", func(t string) string { return in(t, func(r *metricsIngestResult) string { return kbMB(r.HWM) }) })
	row("memory per active series ((RSS after − RSS empty) / series)", func(t string) string {
		return in(t, func(r *metricsIngestResult) string { return fmt.Sprintf("%.0f B", r.BytesPerSeries) })
	})
	row(fmt.Sprintf("load %d series × %.0f h at %s: samples/s (CPU s)", run.Flags.querySeries, run.Flags.hours, run.Flags.interval), func(t string) string {
		return qr(t, func(r *metricsQueryResult) string { return fmt.Sprintf("%.0f (%.0f)", r.IngestRate, r.IngestCPU) })
	})
	row("bytes per sample on disk (blocks; VM: data dir)", func(t string) string {
		return qr(t, func(r *metricsQueryResult) string {
			return fmt.Sprintf("%.2f (%d samples in blocks)", r.BytesPerSample, r.BlockSmpls)
		})
	})
	row("… whole data directory / samples", func(t string) string {
		return qr(t, func(r *metricsQueryResult) string { return fmt.Sprintf("%.2f", r.DirBytesPerSample) })
	})
	row("`sum by (Namespace) (rate(x[5m]))` over the span, step 5m: cold", func(t string) string {
		return qr(t, func(r *metricsQueryResult) string {
			if r.Err != "" {
				return "error: " + r.Err
			}
			return ms(r.Cold)
		})
	})
	row("… warm (median of runs; server CPU s)", func(t string) string {
		return qr(t, func(r *metricsQueryResult) string {
			return fmt.Sprintf("%s (%.2f)", ms(median(r.Warm)), medianF(r.WarmCPU))
		})
	})
	row("… answer: series, points, sum of values", func(t string) string {
		return qr(t, func(r *metricsQueryResult) string {
			return fmt.Sprintf("%d, %d, %.6g", r.AnswerSeries, r.Points, r.AnswerSum)
		})
	})
	row("… peak RSS of the query process (VmHWM)", func(t string) string { return qr(t, func(r *metricsQueryResult) string { return kbMB(r.HWM) }) })
}
