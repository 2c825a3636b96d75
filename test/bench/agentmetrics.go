package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
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

// The agent-metrics benchmark (issue 6): what collecting node metrics and
// 110 pods' and their containers' metrics every 10 s adds to the log
// agent's CPU and memory, beside node-exporter doing the node part of the
// same job in the same window.
//
// Run A is `kinsight agent` with agent.metrics.enabled false, run B the same
// agent, same log load, with the metric side on. Both read the same
// low-rate log load from every container's file, have the same real
// kube-apiserver and ship to the same real `kinsight server`. Added = B − A.

// Targets from issue 6's benchmark section.
const (
	targetAddedCPU = 0.02 // of one core
	targetAddedRSS = 50e6 // bytes, "50 MB" read as 10^6
)

type agentMetricsFlags struct {
	duration, warmup, interval time.Duration
	pods, linesPer             int
	logRate                    float64
	work, binary, jsonOut      string
	profileDir                 string
	memoryLimit                string
	loghub                     string
	seed                       uint64
	rounds                     int
	keep, skipBaseline         bool
}

func parseAgentMetricsFlags(args []string, stderr io.Writer) (*agentMetricsFlags, error) {
	f := &agentMetricsFlags{}
	fs := flag.NewFlagSet("agentmetrics", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.DurationVar(&f.duration, "duration", 3*time.Minute, "measured window of each run")
	fs.DurationVar(&f.warmup, "warmup", 30*time.Second, "time each agent runs before its window (start-up, first collections)")
	fs.DurationVar(&f.interval, "interval", 10*time.Second, "agent.metrics.interval of run B, and node-exporter's scrape interval")
	fs.IntVar(&f.pods, "pods", 110, "pods on the node (1–3 containers each)")
	fs.IntVar(&f.linesPer, "lines", 20, "lines already in each container's log file when an agent starts")
	fs.Float64Var(&f.logRate, "log-rate", 100, "log lines/s appended over all containers' files during both runs (0: none)")
	fs.StringVar(&f.work, "work", "", "working directory (default: a new temporary directory)")
	fs.StringVar(&f.binary, "binary", "", "kinsight binary (default: build ./cmd/kinsight)")
	fs.StringVar(&f.jsonOut, "json", "", "also write every figure as JSON here")
	fs.StringVar(&f.profileDir, "profile-dir", "", "save run B's agent CPU profile (30 s of the window) and heap profile (after it) here")
	fs.StringVar(&f.loghub, "loghub", DefaultCorpusOptions().LoghubDir, "directory of loghub *_2k.log samples (log line text)")
	fs.Uint64Var(&f.seed, "seed", 1, "random seed of pod names, sizes and usage")
	fs.StringVar(&f.memoryLimit, "memory-limit", "", "agent.memory_limit of both runs (default: the agent's default)")
	fs.IntVar(&f.rounds, "rounds", 1, "pairs of runs (A B A B …): on a busy machine more rounds average the noise out")
	fs.BoolVar(&f.keep, "keep", false, "keep the temporary working directory")
	fs.BoolVar(&f.skipBaseline, "skip-baseline", false, "run B only (no added figures; for profiling)")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	if f.duration < 10*time.Second || f.warmup < 0 || f.interval < time.Second || f.pods < 1 || f.linesPer < 1 || f.logRate < 0 || f.rounds < 1 {
		return nil, errors.New("agentmetrics: --duration >= 10s, --warmup >= 0, --interval >= 1s, --pods >= 1, --lines >= 1, --log-rate >= 0, --rounds >= 1")
	}
	return f, nil
}

// amRun is one measured agent run.
type amRun struct {
	Label   string
	Metrics bool
	Window  time.Duration
	CPU     float64 // agent utime+stime over the window, seconds
	RSSMean int64   // kB, sampled each second over the window
	RSSMax  int64   // kB
	HWM     int64   // kB, VmHWM at the end of the window (start-up included)
	// Others is the CPU the rest of the machine used in the window (cores).
	Others   float64
	Load     [2]string // /proc/loadavg at the window's start and end
	LogLines int       // lines appended during the window
	// GCCycles is the agent's GC cycles in the window.
	GCCycles float64
	// Agent is a selection of the agent's own metrics after the window.
	Agent map[string]float64
}

func (r *amRun) cores() float64 { return r.CPU / r.Window.Seconds() }

// amExporter is node-exporter's share of run B's window.
type amExporter struct {
	Version string
	Args    []string
	CPU     float64
	RSSMean int64
	RSSMax  int64
	Scrapes int
	Series  int // samples in the last scrape
	Bytes   int // size of the last scrape
}

// amCheck is what the server holds after run B.
type amCheck struct {
	PodsWithCPU        int
	ContainersWithCPU  int
	NodeLoad1          int
	ClusterNodeCount   float64
	ServerSeries       int
	SummaryRequests    int64
	PodListRequests    int64
	KubeletDenied      int64
	SummaryBytes       int64
	AddedKubeletRBAC   bool
	WantPods           int
	WantContainers     int
	NamespacesWithPods int
}

type agentMetricsReport struct {
	Date     time.Time
	Machine  machineInfo
	Command  string
	Commit   string
	GoVer    string
	Interval time.Duration
	KubeUp   time.Duration
	// A and B are the runs without and with metrics, one of each per
	// round (A1 B1 A2 B2 …); Exporter is node-exporter in each B window.
	A, B     []*amRun
	Exporter []*amExporter
	Check    amCheck
	Profiles []string
}

func cmdAgentMetrics(ctx context.Context, args []string, command string, stdout, stderr io.Writer) error {
	f, err := parseAgentMetricsFlags(args, stderr)
	if err != nil {
		return err
	}
	logf := func(format string, a ...any) { fmt.Fprintf(stderr, "bench: "+format+"\n", a...) }
	work := f.work
	if work == "" {
		if work, err = os.MkdirTemp("", "kinsight-agentmetrics-"); err != nil {
			return err
		}
		if !f.keep {
			defer os.RemoveAll(work)
		}
	} else if err := os.MkdirAll(work, 0o755); err != nil {
		return err
	}
	bin := f.binary
	if bin == "" {
		logf("building ./cmd/kinsight…")
		if bin, err = buildServer(ctx, work); err != nil {
			return err
		}
	}
	root, err := findModuleRoot()
	if err != nil {
		return err
	}
	rep := &agentMetricsReport{Date: time.Now().UTC(), Machine: readMachineInfo(), Command: command, Commit: gitCommit(), GoVer: runtime.Version(), Interval: f.interval}
	if f.binary != "" {
		// The binary may come from another tree: the commit is the bench's.
		rep.Commit += " (bench; binary " + f.binary + ")"
	}
	pods, err := planMetricsPods(f.seed, f.pods, f.linesPer)
	if err != nil {
		return err
	}
	views := logViews(pods)
	rep.Check.WantPods, rep.Check.WantContainers = len(pods), len(views)
	loghub, err := loadLoghub(f.loghub)
	if err != nil {
		return err
	}

	logf("starting etcd and kube-apiserver; bench-node with %d pods, %d containers…", len(pods), len(views))
	t0 := time.Now()
	kube, err := startMetricsKube(ctx, root, pods)
	if err != nil {
		return fmt.Errorf("kube: %w", err)
	}
	defer kube.stop()
	rep.KubeUp = time.Since(t0)
	rep.Check.AddedKubeletRBAC = kube.addedKubeletRBAC
	if kube.addedKubeletRBAC {
		logf("note: deploy/kinsight-agent.yaml's ClusterRole has no get nodes/stats, nodes/proxy (a real kubelet requires them); granted here")
	}
	kubeconfig, tokenFile := filepath.Join(work, "kubeconfig"), filepath.Join(work, "token")
	if err := kube.writeKubeconfig(kubeconfig); err != nil {
		return err
	}
	if err := os.WriteFile(tokenFile, []byte(kube.token), 0o600); err != nil {
		return err
	}
	kubelet, err := newFakeKubelet(kube.cs, pods, kube.pods, f.seed, time.Now())
	if err != nil {
		return err
	}
	if err := kubelet.startTLS(filepath.Join(work, "kubelet-ca.pem")); err != nil {
		return err
	}
	defer kubelet.close()

	dataDir := filepath.Join(work, "server")
	os.RemoveAll(dataDir)
	srv, err := startServer(ctx, serverOptions{Binary: bin, DataDir: dataDir, LogFile: filepath.Join(work, "server.log")})
	if err != nil {
		return err
	}
	defer srv.stop()
	logf("server pid %d on %s; kubelet stand-in on %s", srv.pid(), srv.addr, kubelet.url())

	env := &amEnv{f: f, bin: bin, work: work, kubeconfig: kubeconfig, tokenFile: tokenFile, kubelet: kubelet,
		srv: srv, pods: pods, views: views, loghub: loghub, logf: logf}
	ne, err := startNodeExporter(ctx, work)
	if err != nil {
		return err
	}
	defer ne.stop()
	neVersion := toolVersion(nodeExporterBin, "--version")
	for i := range f.rounds {
		if !f.skipBaseline {
			a, err := env.run(ctx, fmt.Sprintf("A%d", i+1), false, nil)
			if err != nil {
				return err
			}
			rep.A = append(rep.A, a)
		}
		ex := &amExporter{Version: neVersion, Args: ne.cmd.Args[1:]}
		side := &amSide{ne: ne, res: ex, profiles: &rep.Profiles, profile: i == f.rounds-1}
		b, err := env.run(ctx, fmt.Sprintf("B%d", i+1), true, side)
		if err != nil {
			return err
		}
		rep.B, rep.Exporter = append(rep.B, b), append(rep.Exporter, ex)
	}
	rep.Check = checkServer(ctx, srv, rep.Check, logf)
	rep.Check.SummaryRequests, rep.Check.PodListRequests = kubelet.summaries.Load(), kubelet.podLists.Load()
	rep.Check.KubeletDenied, rep.Check.SummaryBytes = kubelet.denied.Load(), kubelet.summaryBytes.Load()
	if f.keep || f.work != "" {
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

// amEnv is what both runs share.
type amEnv struct {
	f                     *agentMetricsFlags
	bin, work             string
	kubeconfig, tokenFile string
	kubelet               *fakeKubelet
	srv                   *serverProc
	pods                  []*metricsPod
	views                 []*benchPod
	loghub                map[string][]string
	logf                  logFunc
}

// amSide is what run B measures beside the agent.
type amSide struct {
	ne       *benchProc
	res      *amExporter
	profiles *[]string
	profile  bool // take the profiles in this run (the last B)
}

// agentMetricsConfig is the agent's configuration for one run: the agent
// benchmark's (issue 3) plus agent.metrics.
func (e *amEnv) agentMetricsConfig(listen, root, dataDir string, metrics bool, kubeletURL string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "agent:\n  cluster_name: %s\n  host_name: %s\n  listen: %q\n  pprof: true\n", benchCluster, benchNode, listen)
	fmt.Fprintf(&b, "  data_dir: %q\n  container_logs: %q\n  host_logs: []\n", dataDir, filepath.Join(root, "containers", "*.log"))
	fmt.Fprintf(&b, "  merge_log: true\n  merge_log_key: log_processed\n")
	if e.f.memoryLimit != "" {
		fmt.Fprintf(&b, "  memory_limit: %s\n", e.f.memoryLimit)
	}
	fmt.Fprintf(&b, "  kubernetes:\n    enabled: \"true\"\n    kubeconfig: %q\n    node_name: %s\n", e.kubeconfig, benchNode)
	fmt.Fprintf(&b, "  dataplane:\n    journal_units: []\n")
	fmt.Fprintf(&b, "  output:\n    endpoint: %q\n    access_key_id: %s\n    secret_access_key: %s\n", e.srv.url(), agentKeyID, agentSecret)
	if !metrics {
		fmt.Fprintf(&b, "  metrics:\n    enabled: false\n")
	} else {
		// Node metrics from this machine's /proc and /sys, pods from the
		// kubelet stand-in, cluster metrics from the elected agent (the
		// only one), scraping off: the target is node and pod
		// collection; scraping's cost is its targets'.
		fmt.Fprintf(&b, "  metrics:\n    enabled: true\n    interval: %s\n", e.f.interval)
		fmt.Fprintf(&b, "    node:\n      enabled: true\n")
		fmt.Fprintf(&b, "    pods:\n      source: kubelet\n      kubelet_url: %q\n      kubelet_ca_file: %q\n      token_file: %q\n",
			kubeletURL, e.kubelet.caFile, e.tokenFile)
		fmt.Fprintf(&b, "    cluster:\n      enabled: \"true\"\n      lease_namespace: %s\n      identity: bench-agent\n", agentNamespace)
		fmt.Fprintf(&b, "    scrape:\n      enabled: \"false\"\n")
	}
	fmt.Fprintf(&b, "log:\n  level: warn\n")
	return b.String()
}

// startMetricsAgent writes the run's config and starts the agent.
func (e *amEnv) startMetricsAgent(label, root string, metrics bool) (*agentProc, error) {
	listen, err := freeAddr()
	if err != nil {
		return nil, err
	}
	dataDir := filepath.Join(e.work, "agent-"+label)
	if err := os.RemoveAll(dataDir); err != nil {
		return nil, err
	}
	cfg := filepath.Join(e.work, "agent-"+label+".yaml")
	if err := os.WriteFile(cfg, []byte(e.agentMetricsConfig(listen, root, dataDir, metrics, e.kubelet.url())), 0o600); err != nil {
		return nil, err
	}
	a := &agentProc{listen: listen, logPath: filepath.Join(e.work, "agent-"+label+".log"), exited: make(chan struct{})}
	out, err := os.Create(a.logPath)
	if err != nil {
		return nil, err
	}
	a.cmd = exec.Command(e.bin, "agent", "-c", cfg)
	a.cmd.Stdout, a.cmd.Stderr = out, out
	a.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := a.cmd.Start(); err != nil {
		out.Close()
		return nil, fmt.Errorf("start agent: %w", err)
	}
	go func() { a.cmd.Wait(); out.Close(); close(a.exited) }()
	return a, nil
}

// run starts an agent on a fresh copy of the log tree, lets it warm up
// with the log load running, then measures it over the window.
func (e *amEnv) run(ctx context.Context, label string, metrics bool, side *amSide) (*amRun, error) {
	f := e.f
	res := &amRun{Label: label, Metrics: metrics}
	root := filepath.Join(e.work, "var-log-"+label)
	if err := os.RemoveAll(root); err != nil {
		return nil, err
	}
	for _, v := range e.views {
		v.LogPath, v.LinkPath = "", ""
	}
	if _, err := writeCRITree(e.views, criTreeOptions{Root: root, Seed: f.seed, JSONShare: 0.3,
		End: time.Now(), Span: 10 * time.Minute, Loghub: e.loghub}); err != nil {
		return nil, err
	}
	if err := linkPods(e.views); err != nil {
		return nil, err
	}
	srcs := make([]*lineSource, len(e.views))
	for i, v := range e.views {
		var err error
		if srcs[i], err = newLineSource(f.seed+1, i, v, e.loghub, 0.3); err != nil {
			return nil, err
		}
	}
	ag, err := e.startMetricsAgent(label, root, metrics)
	if err != nil {
		return nil, err
	}
	defer ag.stop()
	if err := waitMetric(ctx, ag, "kinsight_agent_kube_pods", float64(len(e.pods)), 2*time.Minute); err != nil {
		return nil, fmt.Errorf("run %s: %w", label, err)
	}
	e.logf("[%s] agent pid %d (metrics %v) up; log load %.0f lines/s over %d files; warm-up %s, window %s…",
		label, ag.pid(), metrics, f.logRate, len(e.views), f.warmup, f.duration)

	// The log load runs through the warm-up and the window.
	loadCtx, stopLoad := context.WithCancel(ctx)
	defer stopLoad()
	var wg sync.WaitGroup
	var loadErr error
	if f.logRate > 0 {
		wg.Go(func() {
			_, loadErr = writeSteady(loadCtx, e.views, srcs, f.logRate, f.warmup+f.duration+time.Hour)
		})
	}
	// node-exporter is scraped over the same span as the agent collects.
	var scrapeN, lastSeries, lastBytes int
	if side != nil {
		wg.Go(func() {
			t := time.NewTicker(f.interval)
			defer t.Stop()
			for {
				if n, size, err := scrapeCount(loadCtx, side.ne.url+"/metrics"); err == nil {
					scrapeN, lastSeries, lastBytes = scrapeN+1, n, size
				}
				select {
				case <-loadCtx.Done():
					return
				case <-t.C:
				}
			}
		})
	}
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-ag.exited:
		return nil, fmt.Errorf("run %s: agent exited during warm-up; see %s", label, ag.logPath)
	case <-time.After(f.warmup):
	}

	var gc0 float64
	if m, err := ag.metrics(ctx); err == nil {
		gc0 = m["go_gc_duration_seconds_count"]
	}
	lines0 := logLinesWritten(e.views)
	res.Load[0] = loadAvg()
	start := time.Now()
	cpu0, err := procCPUSeconds(ag.pid())
	if err != nil {
		return nil, err
	}
	busy0, _ := machineCPUBusySeconds()
	var neCPU0 float64
	if side != nil {
		neCPU0, _ = procCPUSeconds(side.ne.pid())
	}
	var profWG sync.WaitGroup
	if side != nil && side.profile && f.profileDir != "" {
		if err := os.MkdirAll(f.profileDir, 0o755); err != nil {
			return nil, err
		}
		profWG.Go(func() {
			path := filepath.Join(f.profileDir, "agentmetrics-cpu.pprof")
			secs := min(30, int(f.duration.Seconds())-5)
			u := fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", ag.listen, secs)
			if err := fetchToFile(ctx, u, path); err != nil {
				e.logf("[%s] CPU profile: %v", label, err)
				return
			}
			*side.profiles = append(*side.profiles, path)
		})
	}
	var sumKB, n, neSumKB, neN int64
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	end := start.Add(f.duration)
	for time.Now().Before(end) {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-ag.exited:
			return nil, fmt.Errorf("run %s: agent exited during the window; see %s", label, ag.logPath)
		case <-tick.C:
		}
		if st, err := procStatusKB(ag.pid(), "VmRSS"); err == nil {
			sumKB, n = sumKB+st["VmRSS"], n+1
			res.RSSMax = max(res.RSSMax, st["VmRSS"])
		}
		if side != nil {
			if st, err := procStatusKB(side.ne.pid(), "VmRSS"); err == nil {
				neSumKB, neN = neSumKB+st["VmRSS"], neN+1
				side.res.RSSMax = max(side.res.RSSMax, st["VmRSS"])
			}
		}
	}
	cpu1, err := procCPUSeconds(ag.pid())
	if err != nil {
		return nil, err
	}
	res.Window = time.Since(start)
	busy1, _ := machineCPUBusySeconds()
	res.CPU = cpu1 - cpu0
	if side != nil {
		neCPU1, _ := procCPUSeconds(side.ne.pid())
		side.res.CPU = neCPU1 - neCPU0
		busy1 -= side.res.CPU
		if neN > 0 {
			side.res.RSSMean = neSumKB / neN
		}
	}
	res.Others = max(0, (busy1-busy0-res.CPU)/res.Window.Seconds())
	res.Load[1] = loadAvg()
	res.LogLines = logLinesWritten(e.views) - lines0
	if n > 0 {
		res.RSSMean = sumKB / n
	}
	if st, err := procStatusKB(ag.pid(), "VmHWM"); err == nil {
		res.HWM = st["VmHWM"]
	}
	stopLoad()
	wg.Wait()
	profWG.Wait()
	if loadErr != nil && !errors.Is(loadErr, context.Canceled) {
		return nil, loadErr
	}
	if side != nil {
		side.res.Scrapes, side.res.Series, side.res.Bytes = scrapeN, lastSeries, lastBytes
		if side.profile && f.profileDir != "" {
			path := filepath.Join(f.profileDir, "agentmetrics-heap.pprof")
			if err := fetchToFile(ctx, fmt.Sprintf("http://%s/debug/pprof/heap", ag.listen), path); err != nil {
				e.logf("[%s] heap profile: %v", label, err)
			} else {
				*side.profiles = append(*side.profiles, path)
			}
		}
	}
	if m, err := ag.metrics(ctx); err == nil {
		res.GCCycles = m["go_gc_duration_seconds_count"] - gc0
		res.Agent = map[string]float64{}
		for k, v := range m {
			if strings.HasPrefix(k, "go_memstats_") || strings.HasPrefix(k, "go_gc_") || strings.HasPrefix(k, "process_") ||
				strings.Contains(k, "metrics") || strings.Contains(k, "remote") || strings.Contains(k, "wal") ||
				k == "kinsight_agent_output_events_total" || strings.HasPrefix(k, "kinsight_agent_podmetrics") ||
				strings.HasPrefix(k, "kinsight_agent_nodemetrics") || strings.HasPrefix(k, "kinsight_agent_cluster") {
				// JSON has no NaN (an empty summary's quantiles).
				if !strings.Contains(k, "_bucket") && !math.IsNaN(v) && !math.IsInf(v, 0) {
					res.Agent[k] = v
				}
			}
		}
	}
	e.logf("[%s] window %.0f s: agent %.2f CPU-s = %.2f%% of a core; VmRSS mean %s max %s, VmHWM %s; %.0f GC cycles; %d log lines; others %.2f cores; load %s → %s",
		label, res.Window.Seconds(), res.CPU, 100*res.cores(), kbMB(res.RSSMean), kbMB(res.RSSMax), kbMB(res.HWM), res.GCCycles, res.LogLines, res.Others, res.Load[0], res.Load[1])
	if side != nil {
		e.logf("[%s] node-exporter: %.2f CPU-s = %.2f%% of a core, VmRSS mean %s max %s, %d scrapes of %d samples",
			label, side.res.CPU, 100*side.res.CPU/res.Window.Seconds(), kbMB(side.res.RSSMean), kbMB(side.res.RSSMax), scrapeN, lastSeries)
	}
	return res, nil
}

// logLinesWritten counts lines in every container's file (the load's
// progress, without sharing the writer's counters).
func logLinesWritten(views []*benchPod) int {
	n := 0
	for _, v := range views {
		if data, err := os.ReadFile(v.LogPath); err == nil {
			n += strings.Count(string(data), "\n")
		}
	}
	return n
}

// nodeExporterBin is Debian's prometheus-node-exporter (make test-deps).
const nodeExporterBin = "/usr/bin/prometheus-node-exporter"

// startNodeExporter runs node-exporter with the collectors that cover what
// the agent's node metrics cover (cpu, stat, meminfo, filesystem,
// diskstats, netdev, loadavg), as internal/agent/nodemetrics's comparison
// test does.
func startNodeExporter(ctx context.Context, work string) (*benchProc, error) {
	if _, err := os.Stat(nodeExporterBin); err != nil {
		return nil, fmt.Errorf("%s missing (%w): run make test-deps", nodeExporterBin, err)
	}
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	args := []string{"--web.listen-address=" + addr,
		"--collector.disable-defaults",
		"--collector.cpu", "--collector.stat", "--collector.meminfo", "--collector.filesystem",
		"--collector.diskstats", "--collector.netdev", "--collector.loadavg",
	}
	return startBenchProc(ctx, "node-exporter", nodeExporterBin, args, addr, "", "/metrics", filepath.Join(work, "node-exporter.log"))
}

// scrapeCount fetches a /metrics page and counts its samples.
func scrapeCount(ctx context.Context, u string) (samples, size int, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return 0, 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, 0, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, 0, err
	}
	for line := range strings.SplitSeq(string(body), "\n") {
		if line != "" && line[0] != '#' {
			samples++
		}
	}
	return samples, len(body), nil
}

// instantQuery runs a PromQL instant query and returns each series'
// labels and value.
func instantQuery(ctx context.Context, base, q string) ([]map[string]string, []float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/api/v1/query?"+url.Values{"query": {q}}.Encode(), nil)
	if err != nil {
		return nil, nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	var body struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			Result []struct {
				Metric map[string]string `json:"metric"`
				Value  [2]any            `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return nil, nil, fmt.Errorf("query %s: HTTP %d: %w", q, resp.StatusCode, err)
	}
	if body.Status != "success" {
		return nil, nil, fmt.Errorf("query %s: %s", q, body.Error)
	}
	var labels []map[string]string
	var vals []float64
	for _, r := range body.Data.Result {
		s, _ := r.Value[1].(string)
		v, _ := strconv.ParseFloat(s, 64)
		labels, vals = append(labels, r.Metric), append(vals, v)
	}
	return labels, vals, nil
}

// checkServer asks the server what arrived from run B's agent.
func checkServer(ctx context.Context, srv *serverProc, c amCheck, logf logFunc) amCheck {
	count := func(q string) int {
		ls, _, err := instantQuery(ctx, srv.url(), q)
		if err != nil {
			logf("check: %v", err)
			return -1
		}
		return len(ls)
	}
	c.PodsWithCPU = count(`count by (Namespace, PodName) (pod_cpu_utilization)`)
	c.ContainersWithCPU = count(`count by (Namespace, PodName, ContainerName) (container_cpu_utilization)`)
	c.NodeLoad1 = count(`node_load1`)
	c.NamespacesWithPods = count(`namespace_number_of_running_pods`)
	if _, v, err := instantQuery(ctx, srv.url(), `max(cluster_node_count)`); err == nil && len(v) == 1 {
		c.ClusterNodeCount = v[0]
	}
	if _, v, err := instantQuery(ctx, srv.url(), `count({__name__=~".+"})`); err == nil && len(v) == 1 {
		c.ServerSeries = int(v[0])
	}
	return c
}

// write prints the context and the table of figures.
func (r *agentMetricsReport) write(w io.Writer) {
	m := r.Machine
	fmt.Fprintf(w, "- Date: %s\n", r.Date.Format("2006-01-02 15:04 UTC"))
	fmt.Fprintf(w, "- Machine: %d CPUs, %s, %.1f GiB RAM, Linux %s; %s; commit %s\n", m.CPUs, m.Model, float64(m.MemBytes)/(1<<30), m.Kernel, r.GoVer, r.Commit)
	fmt.Fprintf(w, "- Command: `%s`\n", r.Command)
	c := r.Check
	fmt.Fprintf(w, "- Node: %d pods, %d containers on %s (kube-apiserver up, node and pods created in %.1f s); kubelet stand-in served %d summaries (%.0f KB each), %d pod lists, denied %d requests\n",
		c.WantPods, c.WantContainers, benchNode, r.KubeUp.Seconds(), c.SummaryRequests, float64(c.SummaryBytes)/float64(max(1, c.SummaryRequests))/1e3, c.PodListRequests, c.KubeletDenied)
	if c.AddedKubeletRBAC {
		fmt.Fprintf(w, "- deploy/kinsight-agent.yaml grants no get on nodes/stats and nodes/proxy, which a kubelet requires for /stats/summary and /pods: the harness added them\n")
	}
	for _, run := range append(slices.Clone(r.A), r.B...) {
		heap := ""
		if v, ok := run.Agent["go_memstats_heap_inuse_bytes"]; ok {
			heap = fmt.Sprintf(", Go heap in use %s", mb(int64(v)))
		}
		fmt.Fprintf(w, "- Run %s (metrics %v): window %.0f s, %d log lines appended; agent %.2f%% of a core (%.2f CPU-s), VmRSS mean %s max %s%s, %.0f GC cycles; other processes %.2f cores; load average %s → %s\n",
			run.Label, run.Metrics, run.Window.Seconds(), run.LogLines, 100*run.cores(), run.CPU, kbMB(run.RSSMean), kbMB(run.RSSMax), heap, run.GCCycles, run.Others, run.Load[0], run.Load[1])
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| figure | target | measured | result |")
	fmt.Fprintln(w, "|---|---|---|---|")
	b := pool(r.B)
	if len(r.A) > 0 {
		a := pool(r.A)
		added := b.cores() - a.cores()
		fmt.Fprintf(w, "| added CPU (B − A) | < 2%% of one core | %.2f%% (A %.2f%%, B %.2f%%: %.2f and %.2f CPU-s over %.0f and %.0f s) | %s |\n",
			100*added, 100*a.cores(), 100*b.cores(), a.CPU, b.CPU, a.Window.Seconds(), b.Window.Seconds(), verdict(added < targetAddedCPU))
		addMean := float64(b.RSSMean-a.RSSMean) * 1024
		addMax := float64(b.RSSMax-a.RSSMax) * 1024
		fmt.Fprintf(w, "| added RSS, mean (B − A) | < 50 MB | %.1f MB (A %s, B %s) | %s |\n", addMean/1e6, kbMB(a.RSSMean), kbMB(b.RSSMean), verdict(addMean < targetAddedRSS))
		fmt.Fprintf(w, "| added RSS, max (B − A) | < 50 MB | %.1f MB (A %s, B %s; VmHWM A %s, B %s) | %s |\n",
			addMax/1e6, kbMB(a.RSSMax), kbMB(b.RSSMax), kbMB(a.HWM), kbMB(b.HWM), verdict(addMax < targetAddedRSS))
	} else {
		fmt.Fprintf(w, "| agent with metrics (no baseline) | — | %.2f%% of a core, VmRSS mean %s max %s | — |\n", 100*b.cores(), kbMB(b.RSSMean), kbMB(b.RSSMax))
	}
	if len(r.Exporter) > 0 {
		var e amExporter
		var sumKB int64
		for _, x := range r.Exporter {
			e.CPU += x.CPU
			e.Scrapes += x.Scrapes
			e.Series, e.Bytes = x.Series, x.Bytes
			e.RSSMax = max(e.RSSMax, x.RSSMax)
			sumKB += x.RSSMean
		}
		e.RSSMean = sumKB / int64(len(r.Exporter))
		fmt.Fprintf(w, "| node-exporter, same windows (node part only, scraped every %s) | reference | %.2f%% of one core (%.2f CPU-s), VmRSS mean %s max %s; %d scrapes of %d samples (%.0f KB) | — |\n",
			r.Interval, 100*e.CPU/b.Window.Seconds(), e.CPU, kbMB(e.RSSMean), kbMB(e.RSSMax), e.Scrapes, e.Series, float64(e.Bytes)/1e3)
	}
	fmt.Fprintf(w, "| server: pods with pod_cpu_utilization | %d | %d | %s |\n", c.WantPods, c.PodsWithCPU, verdict(c.PodsWithCPU == c.WantPods))
	fmt.Fprintf(w, "| server: containers with container_cpu_utilization | %d | %d | %s |\n", c.WantContainers, c.ContainersWithCPU, verdict(c.ContainersWithCPU == c.WantContainers))
	fmt.Fprintf(w, "| server: node_load1 | present | %d series | %s |\n", c.NodeLoad1, verdict(c.NodeLoad1 >= 1))
	fmt.Fprintf(w, "| server: cluster_node_count, namespaces with namespace_number_of_running_pods | 1, ≥ 1 | %.0f, %d | %s |\n",
		c.ClusterNodeCount, c.NamespacesWithPods, verdict(c.ClusterNodeCount == 1 && c.NamespacesWithPods >= 1))
	fmt.Fprintf(w, "\nSeries on the server after run B: %d.\n", c.ServerSeries)
	if last := r.B[len(r.B)-1]; last.Agent != nil {
		b := last
		fmt.Fprintf(w, "Agent (B) Go heap in use %s, heap objects %.0f, GC cycles %.0f.\n",
			mb(int64(b.Agent["go_memstats_heap_inuse_bytes"])), b.Agent["go_memstats_heap_objects"], b.Agent["go_gc_duration_seconds_count"])
	}
	for _, p := range r.Profiles {
		fmt.Fprintf(w, "Profile: %s\n", p)
	}
}

// pool sums runs' CPU and windows, averages their mean RSS and keeps the
// largest maxima.
func pool(runs []*amRun) *amRun {
	out := &amRun{}
	var sumKB int64
	for _, r := range runs {
		out.CPU += r.CPU
		out.Window += r.Window
		sumKB += r.RSSMean
		out.RSSMax = max(out.RSSMax, r.RSSMax)
		out.HWM = max(out.HWM, r.HWM)
	}
	out.RSSMean = sumKB / int64(max(1, len(runs)))
	return out
}
