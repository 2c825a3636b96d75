package main

import (
	"bufio"
	"bytes"
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
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Targets from issue 3's benchmark section.
const (
	targetLinesPerCPUSec = 250_000.0
	targetAgentHWM       = 80e6 // bytes, "80 MB" read as 10^6
	targetSteadyCPU      = 0.10 // of one core
	targetSteadyRSS      = 60e6
	targetLatencyP99     = 2 * time.Second
	benchCluster         = "bench"
)

// agentProc is a running `kinsight agent`.
type agentProc struct {
	cmd     *exec.Cmd
	listen  string
	logPath string
	exited  chan struct{}
}

func (a *agentProc) pid() int { return a.cmd.Process.Pid }

// startAgent writes the agent's config and starts it.
func startAgent(bin, work, root, kubeconfig, endpoint string) (*agentProc, error) {
	listen, err := freeAddr()
	if err != nil {
		return nil, err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "agent:\n  cluster_name: %s\n  host_name: %s\n  listen: %q\n  pprof: true\n", benchCluster, benchNode, listen)
	fmt.Fprintf(&b, "  data_dir: %q\n  container_logs: %q\n  host_logs: []\n", filepath.Join(work, "agent-data"), filepath.Join(root, "containers", "*.log"))
	fmt.Fprintf(&b, "  merge_log: true\n  merge_log_key: log_processed\n")
	fmt.Fprintf(&b, "  kubernetes:\n    enabled: \"true\"\n    kubeconfig: %q\n    node_name: %s\n", kubeconfig, benchNode)
	fmt.Fprintf(&b, "  dataplane:\n    journal_units: []\n")
	// Issue 3's figures are the log side's; the metric side (on by default)
	// has its own benchmark, agentmetrics, which measures what it adds.
	fmt.Fprintf(&b, "  metrics:\n    enabled: false\n")
	// The server runs without access keys (loopback), so it checks no
	// signature; the agent signs anyway, as it would in production.
	fmt.Fprintf(&b, "  output:\n    endpoint: %q\n    access_key_id: %s\n    secret_access_key: %s\n", endpoint, agentKeyID, agentSecret)
	fmt.Fprintf(&b, "log:\n  level: warn\n")
	cfg := filepath.Join(work, "agent.yaml")
	if err := os.WriteFile(cfg, []byte(b.String()), 0o600); err != nil {
		return nil, err
	}
	a := &agentProc{listen: listen, logPath: filepath.Join(work, "agent.log"), exited: make(chan struct{})}
	logf, err := os.Create(a.logPath)
	if err != nil {
		return nil, err
	}
	a.cmd = exec.Command(bin, "agent", "-c", cfg)
	a.cmd.Stdout, a.cmd.Stderr = logf, logf
	a.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := a.cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start agent: %w", err)
	}
	go func() { a.cmd.Wait(); logf.Close(); close(a.exited) }()
	return a, nil
}

func (a *agentProc) stop() {
	select {
	case <-a.exited:
		return
	default:
	}
	a.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-a.exited:
	case <-time.After(30 * time.Second):
		a.cmd.Process.Kill()
		<-a.exited
	}
}

func (a *agentProc) metrics(ctx context.Context) (map[string]float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+a.listen+"/metrics", nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("agent /metrics: %s", resp.Status)
	}
	return parseMetrics(resp.Body)
}

// agentReport is every figure of the agent benchmark.
type agentReport struct {
	Date    time.Time
	Machine machineInfo
	Command string
	Commit  string
	GoVer   string
	Pods    int
	Tree    criTree
	KubeUp  time.Duration

	// catch-up
	CatchupWall   time.Duration
	CatchupCPU    float64 // agent utime+stime, seconds
	CatchupHWMKB  int64
	CatchupPeakKB int64
	ServerEvents  float64 // server's kinsight_logs_ingested_events_total
	SpotChecks    []string
	Lost          int // lines the agent never shipped (0 when complete)
	LinksFirst    bool
	OthersCores   float64 // CPU the rest of the machine used during catch-up (cores)

	// steady
	Rate         float64
	Steady       steadyResult
	SteadyCPU    float64 // agent CPU seconds over the window
	SteadyMaxKB  int64   // max sampled VmRSS
	SteadyHWMKB  int64
	Seen         int
	P50, P99, P0 time.Duration
	Max          time.Duration
	ProfilePath  string
}

func (r *agentReport) linesPerCPU() float64 { return float64(r.Tree.Lines) / r.CatchupCPU }
func (r *agentReport) steadyCores() float64 { return r.SteadyCPU / r.Steady.Took.Seconds() }

func cmdAgent(ctx context.Context, f *flags, command string, stdout io.Writer, logf logFunc) error {
	work, temp, err := workDir(f)
	if err != nil {
		return err
	}
	if temp && !f.keep {
		defer os.RemoveAll(work)
	}
	bin, err := binaryFor(ctx, f, work, logf)
	if err != nil {
		return err
	}
	rep := &agentReport{Date: time.Now().UTC(), Machine: readMachineInfo(), Command: command,
		Commit: gitCommit(), GoVer: runtime.Version(), Pods: f.agentPods, Rate: f.agentRate, LinksFirst: f.agentLinksFirst}
	pods, err := planPods(f.corpus.Seed, f.agentPods, f.agentLines)
	if err != nil {
		return err
	}
	loghub, err := loadLoghub(f.corpus.LoghubDir)
	if err != nil {
		return err
	}

	logf("starting etcd and kube-apiserver, creating %d pods on %s…", len(pods), benchNode)
	t0 := time.Now()
	kube, err := startKube(ctx, pods)
	if err != nil {
		return fmt.Errorf("kube: %w", err)
	}
	defer kube.stop()
	rep.KubeUp = time.Since(t0)
	kubeconfig := filepath.Join(work, "kubeconfig")
	if err := kube.writeKubeconfig(kubeconfig); err != nil {
		return err
	}

	root := filepath.Join(work, "var-log")
	os.RemoveAll(root)
	logf("writing the CRI tree (%d lines) under %s…", f.agentLines, root)
	t0 = time.Now()
	rep.Tree, err = writeCRITree(pods, criTreeOptions{
		Root: root, Seed: f.corpus.Seed, JSONShare: f.agentJSONShare, PartialShare: 0.02,
		End: time.Now().Add(-time.Minute), Span: 30 * time.Minute, Loghub: loghub,
	})
	if err != nil {
		return err
	}
	logf("wrote %d lines (%d CRI lines, %d split into partials, %d JSON), %.1f MB in %s",
		rep.Tree.Lines, rep.Tree.CRILines, rep.Tree.Partials, rep.Tree.JSON, float64(rep.Tree.Bytes)/1e6, time.Since(t0).Round(time.Millisecond))

	dataDir := filepath.Join(work, "server")
	os.RemoveAll(dataDir)
	os.RemoveAll(filepath.Join(work, "agent-data"))
	srv, err := startServer(ctx, serverOptions{Binary: bin, DataDir: dataDir, LogFile: filepath.Join(work, "server.log"), FlushInterval: f.flushInterval})
	if err != nil {
		return err
	}
	defer srv.stop()

	// The agent runs from its own copy of the binary, as on a node: its
	// executable's pages are its own to give back (memtrim), which they are
	// not while a server maps the same file.
	agentBin := bin
	if !f.agentShareBin {
		agentBin = filepath.Join(work, "kinsight-agent")
		if err := copyFile(bin, agentBin); err != nil {
			return fmt.Errorf("copy the agent's binary: %w", err)
		}
	}
	if err := catchUp(ctx, f, rep, agentBin, work, root, kubeconfig, srv, pods, logf); err != nil {
		return err
	}
	if f.keep || !temp {
		logf("working directory kept: %s", work)
	}
	rep.write(stdout)
	if f.jsonOut != "" {
		data, err := json.MarshalIndent(rep, "", "  ")
		if err != nil {
			return err
		}
		return os.WriteFile(f.jsonOut, data, 0o644)
	}
	return nil
}

// catchUp runs the agent through the catch-up phase, then the steady one.
func catchUp(ctx context.Context, f *flags, rep *agentReport, bin, work, root, kubeconfig string, srv *serverProc, pods []*benchPod, logf logFunc) error {
	busy0, _ := machineCPUBusySeconds()
	start := time.Now()
	ag, err := startAgent(bin, work, root, kubeconfig, srv.url())
	if err != nil {
		return err
	}
	defer ag.stop()
	if f.agentLinksFirst {
		if err := linkPods(pods); err != nil {
			return err
		}
	} else {
		// The kubelet links a container's log when it starts, after the
		// pod is in the API; waiting for the agent's pod list to hold them
		// all measures the work, not a race with the agent's first list.
		if err := waitMetric(ctx, ag, "kinsight_agent_kube_pods", float64(len(pods)), time.Minute); err != nil {
			return err
		}
		start = time.Now()
		if err := linkPods(pods); err != nil {
			return err
		}
	}
	logf("agent pid %d (metrics on %s), server pid %d; catching up…", ag.pid(), ag.listen, srv.pid())
	var profErr chan error
	if f.profileDir != "" {
		if err := os.MkdirAll(f.profileDir, 0o755); err != nil {
			return err
		}
		rep.ProfilePath = filepath.Join(f.profileDir, "agent-cpu.pprof")
		profErr = make(chan error, 1)
		go func() {
			// The listener is up within milliseconds of the start.
			for range 50 {
				if _, err := ag.metrics(ctx); err == nil {
					break
				}
				time.Sleep(20 * time.Millisecond)
			}
			u := fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", ag.listen, f.profileSecs)
			profErr <- fetchToFile(ctx, u, rep.ProfilePath)
		}()
	}
	var peakKB int64
	polls := 0
	want := float64(rep.Tree.Lines)
	lastGot, lastMove := -1.0, time.Now()
	deadline := time.Now().Add(f.settleTimeout)
	for {
		select {
		case <-ag.exited:
			return fmt.Errorf("agent exited during catch-up; see %s", ag.logPath)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		if st, err := procStatusKB(ag.pid(), "VmRSS"); err == nil {
			peakKB = max(peakKB, st["VmRSS"])
		}
		// Scraping costs the agent CPU (a gzipped /metrics with a lag
		// series per file): twice a second, not at every RSS sample.
		if polls++; polls%5 != 0 {
			continue
		}
		m, err := ag.metrics(ctx)
		if err != nil {
			continue
		}
		got := m["kinsight_agent_output_events_total"]
		if got >= want {
			break
		}
		// Everything read and nothing moving for 15 s: the agent lost
		// records. Report the shortfall rather than wait forever.
		if got != lastGot || m["kinsight_agent_tail_lag_bytes"] > 0 || m["kinsight_agent_buffer_items"] > 0 {
			lastGot, lastMove = got, time.Now()
		} else if time.Since(lastMove) > 15*time.Second {
			rep.Lost = int(want - got)
			logf("catch-up: agent shipped %.0f of %.0f lines and stopped; agent metrics: %s", got, want, agentMetricsSummary(m))
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("catch-up: agent shipped %.0f of %.0f events in %s; agent metrics: %s", m["kinsight_agent_output_events_total"], want, f.settleTimeout, agentMetricsSummary(m))
		}
	}
	rep.CatchupWall = time.Since(start) - func() time.Duration {
		if rep.Lost > 0 {
			return 15 * time.Second // the stall wait
		}
		return 0
	}()
	if rep.CatchupCPU, err = procCPUSeconds(ag.pid()); err != nil {
		return err
	}
	busy1, _ := machineCPUBusySeconds()
	st, err := procStatusKB(ag.pid(), "VmHWM", "VmRSS")
	if err != nil {
		return err
	}
	rep.CatchupHWMKB, rep.CatchupPeakKB = st["VmHWM"], max(peakKB, st["VmRSS"])
	rep.OthersCores = max(0, (busy1-busy0-rep.CatchupCPU)/rep.CatchupWall.Seconds())
	logf("caught up: %d lines in %.1f s, agent %.2f CPU-s = %.0f lines/CPU-s, VmHWM %s",
		rep.Tree.Lines, rep.CatchupWall.Seconds(), rep.CatchupCPU, rep.linesPerCPU(), kbMB(rep.CatchupHWMKB))
	if m, err := ag.metrics(ctx); err == nil {
		reqs := m["kinsight_agent_output_requests_total"] // (labels summed)
		logf("catch-up: agent made %.0f GC cycles and %.0f requests (%.0f events each) since it started",
			m["go_gc_duration_seconds_count"], reqs, m["kinsight_agent_output_events_total"]/max(1, reqs))
	}
	if f.profileDir != "" {
		heap := filepath.Join(f.profileDir, "agent-heap.pprof")
		if err := fetchToFile(ctx, fmt.Sprintf("http://%s/debug/pprof/heap", ag.listen), heap); err != nil {
			logf("agent heap profile: %v", err)
		} else {
			logf("agent heap profile after catch-up: %s", heap)
		}
	}
	if m, err := srv.scrapeMetrics(ctx); err == nil {
		rep.ServerEvents = m["kinsight_logs_ingested_events_total"]
	}
	if rep.SpotChecks, err = spotCheck(ctx, srv, pods); err != nil {
		rep.SpotChecks = append(rep.SpotChecks, "FAILED: "+err.Error())
		logf("spot check: %v", err)
	}
	if profErr != nil {
		if err := <-profErr; err != nil {
			logf("agent CPU profile: %v", err)
			rep.ProfilePath = ""
		} else {
			logf("agent CPU profile: %s (go tool pprof -top %s %s)", rep.ProfilePath, bin, rep.ProfilePath)
		}
	}
	return steady(ctx, f, rep, ag, srv, pods, logf)
}

// waitMetric waits until the agent's metric reaches want.
func waitMetric(ctx context.Context, ag *agentProc, name string, want float64, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		m, err := ag.metrics(ctx)
		if err == nil && m[name] >= want {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("agent's %s did not reach %.0f in %s (last error %v)", name, want, timeout, err)
		}
		select {
		case <-ag.exited:
			return fmt.Errorf("agent exited; see %s", ag.logPath)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// spotCheck reads three whole streams (the biggest, the smallest and the
// first) with GetLogEvents: each must hold exactly its file's lines, every
// record its pod's UID as kubernetes.pod_id, and the JSON lines
// log_processed.
func spotCheck(ctx context.Context, srv *serverProc, pods []*benchPod) ([]string, error) {
	big, small := pods[0], pods[0]
	for _, p := range pods {
		if p.Lines > big.Lines {
			big = p
		}
		if p.Lines < small.Lines {
			small = p
		}
	}
	c := newLogsClient(srv.url(), 1, "", "")
	group := "/aws/containerinsights/" + benchCluster + "/application"
	var out []string
	check := []*benchPod{big}
	for _, p := range []*benchPod{small, pods[0], pods[len(pods)/2]} {
		if len(check) < 3 && !slices.Contains(check, p) {
			check = append(check, p)
		}
	}
	for _, p := range check {
		n, merged := 0, 0
		token := ""
		for {
			in := map[string]any{"logGroupName": group, "logStreamName": p.StreamName(), "startFromHead": true, "limit": 10000}
			if token != "" {
				in["nextToken"] = token
			}
			var ans struct {
				Events []struct {
					Message string `json:"message"`
				} `json:"events"`
				NextForwardToken string `json:"nextForwardToken"`
			}
			if err := c.call(ctx, "GetLogEvents", in, &ans); err != nil {
				return nil, err
			}
			for _, e := range ans.Events {
				var rec struct {
					Kubernetes   map[string]any `json:"kubernetes"`
					LogProcessed map[string]any `json:"log_processed"`
				}
				if err := json.Unmarshal([]byte(e.Message), &rec); err != nil {
					return nil, fmt.Errorf("%s: record is not JSON: %w: %.200s", p.StreamName(), err, e.Message)
				}
				if rec.Kubernetes["pod_id"] != p.UID {
					return nil, fmt.Errorf("%s: kubernetes.pod_id = %v, want %s: %.300s", p.StreamName(), rec.Kubernetes["pod_id"], p.UID, e.Message)
				}
				if rec.LogProcessed != nil {
					merged++
				}
			}
			n += len(ans.Events)
			if ans.NextForwardToken == "" || ans.NextForwardToken == token || len(ans.Events) == 0 {
				break
			}
			token = ans.NextForwardToken
		}
		if n != p.Lines {
			return nil, fmt.Errorf("%s: GetLogEvents returned %d events, the file has %d lines", p.StreamName(), n, p.Lines)
		}
		if merged == 0 {
			return nil, fmt.Errorf("%s: no record has log_processed", p.StreamName())
		}
		out = append(out, fmt.Sprintf("%s: %d/%d events, %d with log_processed, pod_id %s", p.Name, n, p.Lines, merged, p.UID))
	}
	return out, nil
}

// steady appends f.agentRate lines/s for f.agentSteady while following the
// group through the server's tail endpoint, then waits for the last lines.
func steady(ctx context.Context, f *flags, rep *agentReport, ag *agentProc, srv *serverProc, pods []*benchPod, logf logFunc) error {
	srcs := make([]*lineSource, len(pods))
	loghub, err := loadLoghub(f.corpus.LoghubDir)
	if err != nil {
		return err
	}
	for i, p := range pods {
		if srcs[i], err = newLineSource(f.corpus.Seed+1, i, p, loghub, f.agentJSONShare); err != nil {
			return err
		}
	}
	time.Sleep(2 * time.Second) // let the agent go idle after the catch-up
	fctx, stopFollow := context.WithCancel(ctx)
	defer stopFollow()
	fol, err := follow(fctx, srv, "/aws/containerinsights/"+benchCluster+"/application", time.Now())
	if err != nil {
		return err
	}
	logf("steady: %0.f lines/s over %d files for %s, following the group through the tail endpoint…", f.agentRate, len(pods), f.agentSteady)
	cpu0, err := procCPUSeconds(ag.pid())
	if err != nil {
		return err
	}
	m0, _ := ag.metrics(ctx) // GC cycles and requests, for the steady phase's counts
	sampleCtx, stopSample := context.WithCancel(ctx)
	var maxKB int64
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			if st, err := procStatusKB(ag.pid(), "VmRSS"); err == nil {
				maxKB = max(maxKB, st["VmRSS"])
			}
			select {
			case <-sampleCtx.Done():
				return
			case <-t.C:
			}
		}
	})
	// Latency is end to end: profile the server as well as the agent
	// while the steady load runs (a few seconds in, past the start-up).
	if f.profileDir != "" {
		wg.Go(func() {
			select {
			case <-sampleCtx.Done():
				return
			case <-time.After(5 * time.Second):
			}
			for _, pr := range []struct{ name, base string }{
				{"server-steady-cpu.pprof", srv.url()},
				{"agent-steady-cpu.pprof", "http://" + ag.listen},
			} {
				wg.Go(func() {
					path := filepath.Join(f.profileDir, pr.name)
					u := fmt.Sprintf("%s/debug/pprof/profile?seconds=%d", pr.base, f.profileSecs)
					if err := fetchToFile(ctx, u, path); err != nil {
						logf("steady profile: %v", err)
					} else {
						logf("steady CPU profile: %s", path)
					}
				})
			}
		})
	}
	rep.Steady, err = writeSteady(ctx, pods, srcs, f.agentRate, f.agentSteady)
	cpu1, cerr := procCPUSeconds(ag.pid())
	stopSample()
	wg.Wait()
	if err = errors.Join(err, cerr); err != nil {
		return err
	}
	rep.SteadyCPU, rep.SteadyMaxKB = cpu1-cpu0, maxKB
	if st, err := procStatusKB(ag.pid(), "VmHWM", "RssAnon", "RssFile"); err == nil {
		rep.SteadyHWMKB = st["VmHWM"]
		logf("steady: agent VmRSS at the end: %s anonymous (heap, stacks), %s of files (the binary's pages)",
			kbMB(st["RssAnon"]), kbMB(st["RssFile"]))
	}
	if m1, err := ag.metrics(ctx); err == nil && m0 != nil {
		d := func(k string) float64 { return m1[k] - m0[k] }
		reqs := d("kinsight_agent_output_requests_total") // (labels summed)
		logf("steady: agent made %.0f GC cycles and %.0f requests (%.0f events each); heap in use %s at the end",
			d("go_gc_duration_seconds_count"), reqs, d("kinsight_agent_output_events_total")/max(1, reqs),
			kbMB(int64(m1["go_memstats_heap_inuse_bytes"]/1024)))
	}
	if f.profileDir != "" {
		// With the catch-up's heap profile as -diff_base, -sample_index=alloc_space
		// shows what the steady phase allocated.
		heap := filepath.Join(f.profileDir, "agent-steady-heap.pprof")
		if err := fetchToFile(ctx, fmt.Sprintf("http://%s/debug/pprof/heap", ag.listen), heap); err != nil {
			logf("agent heap profile: %v", err)
		} else {
			logf("agent heap profile after the steady phase: %s (go tool pprof -sample_index=alloc_space -diff_base %s …)",
				heap, filepath.Join(f.profileDir, "agent-heap.pprof"))
		}
	}
	logf("steady: wrote %d lines in %.1f s; agent %.1f%% of a core, max VmRSS %s; waiting for the last lines…",
		rep.Steady.Written, rep.Steady.Took.Seconds(), 100*rep.steadyCores(), kbMB(maxKB))
	lat := fol.wait(rep.Steady.Written, 30*time.Second)
	stopFollow()
	rep.Seen = len(lat)
	slices.Sort(lat)
	if len(lat) > 0 {
		rep.P0, rep.P50, rep.P99, rep.Max = lat[0], percentile(lat, 0.50), percentile(lat, 0.99), lat[len(lat)-1]
	}
	if err := fol.err(); err != nil && !errors.Is(err, context.Canceled) {
		logf("tail: %v", err)
	}
	logf("latency over %d of %d lines: p50 %s p99 %s max %s", rep.Seen, rep.Steady.Written, ms(rep.P50), ms(rep.P99), ms(rep.Max))
	fol.mu.Lock()
	ing := slices.Clone(fol.ing)
	fol.mu.Unlock()
	if len(ing) > 0 {
		slices.Sort(ing)
		logf("of which write to ingested (agent and request): p50 %s p99 %s max %s", ms(percentile(ing, 0.50)), ms(percentile(ing, 0.99)), ms(ing[len(ing)-1]))
	}
	return nil
}

// follower reads the tail endpoint's NDJSON and records, for every event
// with a write-time token, the time it arrived minus its write time.
type follower struct {
	mu  sync.Mutex
	lat []time.Duration
	// ing is each event's ingestion time (the server's, ms) minus its
	// write time: the agent's share of lat, plus the request.
	ing     []time.Duration
	readErr error
	done    chan struct{}
}

func follow(ctx context.Context, srv *serverProc, group string, from time.Time) (*follower, error) {
	q := url.Values{"logGroupName": {group}, "startTime": {strconv.FormatInt(from.UnixMilli(), 10)}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.url()+"/kinsight/v1/logs/tail?"+q.Encode(), nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("tail: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
		resp.Body.Close()
		return nil, fmt.Errorf("tail: %s: %s", resp.Status, body)
	}
	fo := &follower{done: make(chan struct{})}
	go func() {
		defer close(fo.done)
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 1<<20), 8<<20)
		for sc.Scan() {
			seen := time.Now()
			if wt, ok := parseWriteTime(sc.Bytes()); ok {
				fo.mu.Lock()
				fo.lat = append(fo.lat, seen.Sub(time.Unix(0, wt)))
				if it, ok := parseIngestionTime(sc.Bytes()); ok {
					fo.ing = append(fo.ing, time.UnixMilli(it).Sub(time.Unix(0, wt)))
				}
				fo.mu.Unlock()
			}
		}
		fo.mu.Lock()
		fo.readErr = sc.Err()
		fo.mu.Unlock()
	}()
	return fo, nil
}

// wait returns the latencies once n events arrived, or after timeout.
func (fo *follower) wait(n int, timeout time.Duration) []time.Duration {
	deadline := time.Now().Add(timeout)
	for {
		fo.mu.Lock()
		got := len(fo.lat)
		fo.mu.Unlock()
		if got >= n || time.Now().After(deadline) {
			break
		}
		select {
		case <-fo.done:
			deadline = time.Now()
		case <-time.After(100 * time.Millisecond):
		}
	}
	fo.mu.Lock()
	defer fo.mu.Unlock()
	return slices.Clone(fo.lat)
}

func (fo *follower) err() error {
	fo.mu.Lock()
	defer fo.mu.Unlock()
	return fo.readErr
}

// write prints the context and the table of figures.
func (r *agentReport) write(w io.Writer) {
	m := r.Machine
	fmt.Fprintf(w, "- Date: %s\n", r.Date.Format("2006-01-02 15:04 UTC"))
	fmt.Fprintf(w, "- Machine: %d CPUs, %s, %.1f GiB RAM, Linux %s; %s; commit %s\n", m.CPUs, m.Model, float64(m.MemBytes)/(1<<30), m.Kernel, r.GoVer, r.Commit)
	fmt.Fprintf(w, "- Command: `%s`\n", r.Command)
	fmt.Fprintf(w, "- Input: %d pods on %s (kube-apiserver up and pods created in %.1f s); %d lines = %d CRI lines (%d lines split into P/F partials), %d JSON objects (Merge_Log, key log_processed), %.1f MB of files\n",
		r.Pods, benchNode, r.KubeUp.Seconds(), r.Tree.Lines, r.Tree.CRILines, r.Tree.Partials, r.Tree.JSON, float64(r.Tree.Bytes)/1e6)
	if r.LinksFirst {
		fmt.Fprintf(w, "- Links created before the agent started (--links-first): the agent reads while its pod list is still loading\n")
	} else {
		fmt.Fprintf(w, "- Links created once the agent's pod list held all %d pods (timing starts then)\n", r.Pods)
	}
	if r.Lost > 0 {
		fmt.Fprintf(w, "- **The agent lost %d of %d lines in the catch-up** (shipped count stopped moving for 15 s with nothing left to read)\n", r.Lost, r.Tree.Lines)
	}
	fmt.Fprintf(w, "- Catch-up: other processes used %.2f cores of %d meanwhile (the server, the API server, the harness)\n", r.OthersCores, m.CPUs)
	for _, s := range r.SpotChecks {
		fmt.Fprintf(w, "- Spot check (GetLogEvents): %s\n", s)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| figure | target | measured | result |")
	fmt.Fprintln(w, "|---|---|---|---|")
	lpc := r.linesPerCPU()
	fmt.Fprintf(w, "| catch-up: lines per agent CPU-second | ≥ 250,000 | %.0f (%d lines, %.2f CPU-s utime+stime; wall %.1f s = %.0f lines/s; %.1f MB/s of files; server counted %.0f events) | %s |\n",
		lpc, r.Tree.Lines, r.CatchupCPU, r.CatchupWall.Seconds(), float64(r.Tree.Lines)/r.CatchupWall.Seconds(),
		float64(r.Tree.Bytes)/1e6/r.CatchupWall.Seconds(), r.ServerEvents, verdict(lpc >= targetLinesPerCPUSec && r.Lost == 0))
	fmt.Fprintf(w, "| catch-up: agent peak RSS | < 80 MB | VmHWM %s (peak sampled VmRSS %s) | %s |\n",
		kbMB(r.CatchupHWMKB), kbMB(r.CatchupPeakKB), verdict(float64(r.CatchupHWMKB)*1024 < targetAgentHWM))
	cores := r.steadyCores()
	fmt.Fprintf(w, "| steady %.0f lines/s: agent CPU | < 10%% of one core | %.1f%% (%.2f CPU-s over %.1f s, %d lines) | %s |\n",
		r.Rate, 100*cores, r.SteadyCPU, r.Steady.Took.Seconds(), r.Steady.Written, verdict(cores < targetSteadyCPU))
	fmt.Fprintf(w, "| steady %.0f lines/s: agent RSS | < 60 MB | max VmRSS %s (sampled each second) | %s |\n",
		r.Rate, kbMB(r.SteadyMaxKB), verdict(float64(r.SteadyMaxKB)*1024 < targetSteadyRSS))
	complete := r.Seen >= r.Steady.Written
	fmt.Fprintf(w, "| steady %.0f lines/s: write-to-queryable latency (tail endpoint) | p99 < 2 s | p50 %s, p99 %s, max %s, min %s over %d of %d lines | %s |\n",
		r.Rate, ms(r.P50), ms(r.P99), ms(r.Max), ms(r.P0), r.Seen, r.Steady.Written, verdict(complete && r.P99 < targetLatencyP99))
	if r.ProfilePath != "" {
		fmt.Fprintf(w, "\nAgent CPU profile of the catch-up: %s\n", r.ProfilePath)
	}
}

// agentMetricsSummary lists the agent's own metrics, for error messages.
func agentMetricsSummary(m map[string]float64) string {
	var parts []string
	for k, v := range m {
		if strings.HasPrefix(k, "kinsight_agent_") && !strings.Contains(k, "_bucket") {
			parts = append(parts, fmt.Sprintf("%s=%g", strings.TrimPrefix(k, "kinsight_agent_"), v))
		}
	}
	slices.Sort(parts)
	return strings.Join(parts, " ")
}

// parseIngestionTime finds a tail line's "ingestionTime" (ms).
func parseIngestionTime(b []byte) (int64, bool) {
	const key = `"ingestionTime":`
	i := bytes.Index(b, []byte(key))
	if i < 0 {
		return 0, false
	}
	var n int64
	j := i + len(key)
	for ; j < len(b) && b[j] >= '0' && b[j] <= '9'; j++ {
		n = n*10 + int64(b[j]-'0')
	}
	return n, j > i+len(key)
}

// copyFile copies an executable to a new file (a new inode).
func copyFile(from, to string) error {
	src, err := os.Open(from)
	if err != nil {
		return err
	}
	defer src.Close()
	os.Remove(to)
	dst, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(dst, src); err != nil {
		dst.Close()
		return err
	}
	return dst.Close()
}
