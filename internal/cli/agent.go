package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/kinsight/kinsight/internal/agent/buffer"
	"github.com/kinsight/kinsight/internal/agent/cri"
	"github.com/kinsight/kinsight/internal/agent/journal"
	"github.com/kinsight/kinsight/internal/agent/kube"
	"github.com/kinsight/kinsight/internal/agent/memtrim"
	"github.com/kinsight/kinsight/internal/agent/output/cloudwatch"
	"github.com/kinsight/kinsight/internal/agent/output/stream"
	"github.com/kinsight/kinsight/internal/agent/pipeline"
	"github.com/kinsight/kinsight/internal/agent/servicemap"
	"github.com/kinsight/kinsight/internal/config"
	"github.com/kinsight/kinsight/internal/metricstore/agentmetrics"
)

// newAgentCmd is `kinsight agent`: the node agent alone, shipping this
// machine's logs to a kinsight server or CloudWatch Logs.
func newAgentCmd(env *Env) *cobra.Command {
	var configFile string
	cmd := &cobra.Command{
		Use:   "agent",
		Short: "Run the node agent: ship container, host and dataplane logs to kinsight or CloudWatch Logs",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := config.Load(configFile)
			if err != nil {
				return err
			}
			log := newLogger(env.Stderr, cfg.Log)
			dataDir := cfg.Agent.DataDir
			if dataDir == "" {
				dataDir = "./kinsight-agent"
			}
			setAgentGC(env, cfg.Agent)
			reg := prometheus.NewRegistry()
			reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
			ag, err := newAgent(cmd.Context(), env, cfg.Agent, dataDir, log, reg)
			if err != nil {
				return err
			}
			if cfg.Agent.Listen != "" {
				stop, err := serveAgentHTTP(cfg.Agent.Listen, cfg.Agent.Pprof, reg, log)
				if err != nil {
					ag.close()
					return err
				}
				defer stop()
			}
			log.Info("kinsight agent running", "data_dir", dataDir, "endpoint", cfg.Agent.Output.Endpoint,
				"cluster", cfg.Agent.ClusterName, "listen", cfg.Agent.Listen)
			ctx, cancel := context.WithCancel(cmd.Context())
			defer cancel()
			go func() {
				// The agent is the server's binary too (105 MB): without
				// this, pages of it that a collection's stack scans or a rare
				// path touched stay resident (31 MB of the benchmark's
				// steady RSS; 12–14 MB with it).
				if err := memtrim.Run(ctx, agentTrimInterval); err != nil {
					log.Debug("periodic trim of the executable's pages stopped", "err", err)
				}
			}()
			return ag.run(ctx)
		},
	}
	cmd.Flags().StringVarP(&configFile, "config", "c", "", "YAML config file (see docs/config.md)")
	return cmd
}

// agentTrimInterval is how often `kinsight agent` gives back the pages of
// its executable it is not using (memtrim.Run). A trim costs well under a
// millisecond of CPU plus the minor faults (64 KiB each) that map the
// working set back; the first one, at start-up, also moves the working set
// into small page-cache folios.
const agentTrimInterval = 2 * time.Second

// setAgentGC applies agent.memory_limit and agent.gc_percent, unless
// GOMEMLIMIT or GOGC (the runtime reads them itself) are set.
func setAgentGC(env *Env, a config.Agent) {
	if a.MemoryLimit > 0 && env.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(int64(a.MemoryLimit))
	}
	if a.GCPercent != 0 && env.Getenv("GOGC") == "" {
		debug.SetGCPercent(a.GCPercent)
	}
}

// serveAgentHTTP serves /metrics and /healthz (and pprof) until stop is
// called.
func serveAgentHTTP(addr string, withPprof bool, reg *prometheus.Registry, log *slog.Logger) (stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("agent.listen: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("ok\n"))
	})
	if withPprof {
		mux.HandleFunc("GET /debug/pprof/", pprof.Index)
		mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
		mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("agent http", "err", err)
		}
	}()
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}, nil
}

// agent is a pipeline with the pod watcher and the output it may own,
// and the metric side when it is on.
type agent struct {
	p       *pipeline.Pipeline
	watcher *kube.Watcher
	metrics *agentmetrics.Runner
	// services feeds the pod metrics' Service label (nil without
	// Kubernetes).
	services *servicemap.Map
	closers  []func() error
}

func (a *agent) close() {
	for _, c := range a.closers {
		_ = c()
	}
}

// run runs the pod watcher (if any), the metric side (if on) and the
// pipeline until ctx ends; the pipeline then drains for a few seconds and
// saves its checkpoints, and the metric side closes its WAL. The two
// sides share nothing but the process: the metric side appends to its
// own WAL and ships from it, so neither waits for the other.
func (a *agent) run(ctx context.Context) error {
	defer a.close()
	// The metric side stops with ctx, or when the pipeline has failed.
	mctx, stopMetrics := context.WithCancel(ctx)
	defer stopMetrics()
	merr := make(chan error, 1)
	if a.metrics != nil {
		if a.services != nil {
			go func() { _ = a.services.Run(mctx) }() // ends with mctx; errors only on set-up
		}
		go func() { merr <- a.metrics.Run(mctx) }()
	} else {
		merr <- nil
	}
	var err error
	if a.watcher == nil {
		err = a.p.Run(ctx)
	} else {
		wctx, stop := context.WithCancel(context.WithoutCancel(ctx))
		werr := make(chan error, 1)
		go func() { werr <- a.watcher.Run(wctx) }()
		err = a.p.Run(ctx)
		stop() // after the pipeline: its last records still look pods up
		if e := <-werr; e != nil && !errors.Is(e, context.Canceled) {
			err = errors.Join(err, e)
		}
	}
	stopMetrics()
	return errors.Join(err, <-merr)
}

// newAgent builds the agent of section a.
func newAgent(ctx context.Context, env *Env, a config.Agent, dataDir string, log *slog.Logger, reg prometheus.Registerer) (*agent, error) {
	pcfg, err := pipelineConfig(a, dataDir, log)
	if err != nil {
		return nil, err
	}
	pcfg.Registerer = reg
	ag := &agent{}
	fail := func(err error) (*agent, error) {
		ag.close()
		return nil, err
	}
	switch a.Output.Type {
	case "stdout":
		pcfg.Sender = stream.NewWriter(env.Stdout)
	case "file":
		out, err := stream.OpenFile(a.Output.Path)
		if err != nil {
			return fail(err)
		}
		ag.closers = append(ag.closers, out.Close)
		pcfg.Sender = out
	}
	kubeOn := useKube(env, a.Kubernetes)
	node := firstNonEmpty(a.Kubernetes.NodeName, env.Getenv("NODE_NAME"), pcfg.HostName)
	if kubeOn {
		w, err := kube.New(kube.Config{Kubeconfig: a.Kubernetes.Kubeconfig, NodeName: node},
			log.With("component", "kube"), reg)
		if err != nil {
			return fail(fmt.Errorf("agent.kubernetes: %w", err))
		}
		ag.watcher = w
		pcfg.Pods = w
		pcfg.PodWait = time.Duration(a.Kubernetes.Wait)
	}
	if jcfg, ok := journalConfig(a.Dataplane, dataDir); ok {
		j, err := journal.New(jcfg, log.With("component", "journal"), reg)
		if err != nil {
			return fail(fmt.Errorf("agent.dataplane: %w", err))
		}
		pcfg.Journal = j
	}
	mr, store, setup, err := newMetrics(env, a, dataDir, node, kubeOn, log, reg)
	if err != nil {
		return fail(err)
	}
	if mr != nil {
		ag.metrics = mr
		ag.services = setup.services
		ag.closers = append(ag.closers, store.Close) // a no-op once Run has closed it
		log.Info("kinsight agent metrics on", "sources", strings.Join(setup.sources, ","),
			"remote_write", strings.Join(setup.endpoints, ","), "interval", time.Duration(a.Metrics.Interval))
	}
	p, err := pipeline.New(ctx, pcfg)
	if err != nil {
		return fail(err)
	}
	ag.p = p
	return ag, nil
}

// useKube resolves kubernetes.enabled: auto means in a pod (the service
// account's environment) or with a kubeconfig.
func useKube(env *Env, k config.AgentKubernetes) bool {
	switch k.Enabled {
	case "true":
		return true
	case "false":
		return false
	}
	return k.Kubeconfig != "" || env.Getenv("KUBERNETES_SERVICE_HOST") != ""
}

// journalConfig reads the journal when units are configured, journalctl
// exists and there is a journal to read.
func journalConfig(d config.AgentDataplane, dataDir string) (journal.Config, bool) {
	if len(d.JournalUnits) == 0 {
		return journal.Config{}, false
	}
	cfg := journal.Config{
		Units: d.JournalUnits, Directory: d.JournalDirectory,
		CursorFile: filepath.Join(dataDir, "journal.cursor"),
	}
	if d.JournalDirectory == "" {
		if _, err := exec.LookPath("journalctl"); err != nil {
			return cfg, false
		}
		found := false
		for _, dir := range []string{"/var/log/journal", "/run/log/journal"} {
			if ents, err := os.ReadDir(dir); err == nil && len(ents) > 0 {
				found = true
			}
		}
		if !found {
			return cfg, false
		}
	}
	return cfg, true
}

// pipelineConfig maps the agent section onto the pipeline's Config.
func pipelineConfig(a config.Agent, dataDir string, log *slog.Logger) (pipeline.Config, error) {
	host := a.HostName
	if host == "" {
		h, err := os.Hostname()
		if err != nil {
			return pipeline.Config{}, fmt.Errorf("agent.host_name is not set and the host name is unknown: %w", err)
		}
		host = h
	}
	out := cloudwatch.DefaultConfig()
	out.Endpoint = a.Output.Endpoint
	out.Region = a.Output.Region
	out.AccessKeyID = a.Output.AccessKeyID
	secret, err := a.Output.Secret()
	if err != nil {
		return pipeline.Config{}, err
	}
	out.SecretAccessKey = secret
	out.Compression = a.Output.Compression
	buf := buffer.DefaultConfig()
	buf.MemoryBytes = int64(a.Buffer.MemoryBytes)
	buf.DiskBytes = int64(a.Buffer.DiskBytes)
	buf.SegmentBytes = 0 // the default for this disk budget: min(16MiB, disk_bytes/4)
	var containers []string
	if a.ContainerLogs != "" {
		containers = []string{a.ContainerLogs}
	}
	include, err := labels.Parse(a.IncludePodLabels)
	if err != nil {
		return pipeline.Config{}, fmt.Errorf("agent.include_pod_labels: %w", err)
	}
	exclude, err := labels.Parse(a.ExcludePodLabels)
	if err != nil {
		return pipeline.Config{}, fmt.Errorf("agent.exclude_pod_labels: %w", err)
	}
	ml, err := multiline(a.Multiline)
	if err != nil {
		return pipeline.Config{}, err
	}
	return pipeline.Config{
		ClusterName:   a.ClusterName,
		HostName:      host,
		DataDir:       dataDir,
		ContainerLogs: containers,
		HostLogs:      a.HostLogs,
		Routes: pipeline.Routes{
			ApplicationGroup: a.Routes.ApplicationGroup, ApplicationStream: a.Routes.ApplicationStream,
			HostGroup: a.Routes.HostGroup, HostStream: a.Routes.HostStream,
			DataplaneGroup: a.Routes.DataplaneGroup, DataplaneStream: a.Routes.DataplaneStream,
		},
		Filter: pipeline.Filter{
			IncludeNamespaces: a.IncludeNamespaces, ExcludeNamespaces: a.ExcludeNamespaces,
			IncludeContainers: a.IncludeContainers, ExcludeContainers: a.ExcludeContainers,
			IncludePodLabels: include, ExcludePodLabels: exclude, DataplanePods: a.Dataplane.Pods,
		},
		PodLabels:      a.Kubernetes.Labels,
		PodAnnotations: a.Kubernetes.Annotations,
		MergeLog:       a.MergeLog,
		MergeLogKey:    a.MergeLogKey,
		Multiline:      ml,
		Buffer:         buf,
		Output:         out,
		Logger:         log.With("component", "agent"),
	}, nil
}

// multiline builds the joining rule of the multiline section; nil when off.
func multiline(m config.AgentMultiline) (*cri.Multiline, error) {
	if len(m.Presets) == 0 && len(m.Start) == 0 {
		return nil, nil
	}
	rule := &cri.Multiline{}
	if len(m.Presets) > 0 {
		p, err := cri.MultilinePreset(m.Presets...)
		if err != nil {
			return nil, fmt.Errorf("agent.multiline.presets: %w", err)
		}
		rule = p
	}
	for _, s := range m.Start {
		re, err := regexp.Compile(s)
		if err != nil {
			return nil, fmt.Errorf("agent.multiline.start: %w", err)
		}
		rule.Start = append(rule.Start, re)
	}
	for _, s := range m.Continue {
		re, err := regexp.Compile(s)
		if err != nil {
			return nil, fmt.Errorf("agent.multiline.continue: %w", err)
		}
		rule.Continue = append(rule.Continue, re)
	}
	return rule, nil
}
