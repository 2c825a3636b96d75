package podmetrics

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Options configure a Collector. Zero values take the documented defaults.
type Options struct {
	// ClusterName, NodeName and InstanceID label every Container Insights
	// series (ClusterName, NodeName, InstanceId). NodeName defaults to the
	// kubelet summary's node name.
	ClusterName, NodeName, InstanceID string
	// Kubelet, when set, makes the kubelet (/stats/summary and /pods) the
	// source. When nil the cgroup tree under CgroupRoot is read instead.
	// The source is fixed for the Collector's life: rates need two
	// observations of the same source.
	Kubelet *KubeletOptions
	// CgroupRoot is the cgroup mount (v2 unified root, or the v1 directory
	// holding memory/ and cpuacct/). Default /sys/fs/cgroup.
	CgroupRoot string
	// Pods, when set, lists the node's pods (names, requests and limits,
	// states), e.g. from the agent's API-server informer. Default: the
	// kubelet's /pods with a kubelet source, none with cgroups (series are
	// then named by pod UID and carry no status metrics).
	Pods func(ctx context.Context) ([]PodInfo, error)
	// Service returns a pod's Service for the Service label ("" if none).
	// Default none: the label is left empty (absent).
	Service func(namespace, pod string, labels map[string]string) string
	// NodeCPUCores and NodeMemoryBytes are node_cpu_limit and
	// node_memory_limit. Default runtime.NumCPU() and MemTotal of
	// ProcRoot/meminfo.
	NodeCPUCores    float64
	NodeMemoryBytes float64
	// ProcRoot is the host's /proc (e.g. /host/proc in a pod). Default /proc.
	ProcRoot string
	// DisableRawSeries leaves out the cAdvisor-like container_* series
	// (container_cpu_usage_seconds_total …) and keeps only Container
	// Insights' names.
	DisableRawSeries bool
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// Now defaults to time.Now (tests).
	Now func() time.Time
}

// Collector observes pods and containers each time Observe is called and
// exposes, as a prometheus.Collector, the values computed from the last two
// observations. It is safe for concurrent use: Prometheus may scrape while a
// Collect runs.
type Collector struct {
	opts    Options
	kubelet *KubeletClient
	cgroups *cgroupReader
	env     Env

	mu   sync.Mutex
	prev *Snapshot
	last *Result

	descs       map[string]*prometheus.Desc
	raw         map[string]*prometheus.Desc
	collections *prometheus.CounterVec
	errs        *prometheus.CounterVec
	podsGauge   prometheus.Gauge
}

var _ prometheus.Collector = (*Collector)(nil)

// New checks opts and builds a Collector. Nothing is read until Observe.
func New(opts Options) (*Collector, error) {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.CgroupRoot == "" {
		opts.CgroupRoot = "/sys/fs/cgroup"
	}
	if opts.ProcRoot == "" {
		opts.ProcRoot = "/proc"
	}
	if opts.NodeCPUCores <= 0 {
		opts.NodeCPUCores = float64(runtime.NumCPU())
	}
	if opts.NodeMemoryBytes <= 0 {
		mt, err := memTotal(filepath.Join(opts.ProcRoot, "meminfo"))
		if err != nil {
			return nil, fmt.Errorf("podmetrics: node memory limit: %w", err)
		}
		opts.NodeMemoryBytes = float64(mt)
	}
	c := &Collector{opts: opts, env: Env{NodeCPUCores: opts.NodeCPUCores, NodeMemoryBytes: opts.NodeMemoryBytes, Service: opts.Service}}
	if opts.Kubelet != nil {
		k, err := NewKubeletClient(*opts.Kubelet)
		if err != nil {
			return nil, fmt.Errorf("podmetrics: %w", err)
		}
		c.kubelet = k
		if c.opts.Pods == nil {
			c.opts.Pods = k.Pods
		}
	} else {
		c.cgroups = &cgroupReader{root: opts.CgroupRoot}
	}
	c.descs, c.raw = buildDescs()
	c.collections = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "kinsight_agent_podmetrics_collections_total",
		Help: "Pod and container metric collections by result (ok, error).",
	}, []string{"result"})
	c.errs = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "kinsight_agent_podmetrics_errors_total",
		Help: "Failed reads by source (kubelet_summary, kubelet_pods, pods, cgroup) and reason (timeout, too_large, http_status, decode, request, cgroup).",
	}, []string{"source", "reason"})
	c.podsGauge = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "kinsight_agent_podmetrics_pods",
		Help: "Pods in the last successful collection.",
	})
	return c, nil
}

// Observe takes one observation and computes the values exposed until the
// next one. On a failed read of the stats source it returns the error,
// counts it, and exposes no pod metrics until a read succeeds (stale values
// would hide an outage); a failed pod list only drops the metrics that need
// it. ctx bounds the kubelet requests.
func (c *Collector) Observe(ctx context.Context) error {
	now := c.opts.Now()
	var snap *Snapshot
	var err error
	if c.kubelet != nil {
		snap, err = c.kubelet.Summary(ctx, now)
	} else {
		snap, err = c.cgroups.read(now)
	}
	if err != nil {
		c.countErr(err, "cgroup")
		c.collections.WithLabelValues("error").Inc()
		c.mu.Lock()
		c.last, c.prev = nil, nil
		c.mu.Unlock()
		return fmt.Errorf("podmetrics: %w", err)
	}
	var pods []PodInfo
	if c.opts.Pods != nil {
		if pods, err = c.opts.Pods(ctx); err != nil {
			c.countErr(err, "pods")
			c.opts.Logger.Warn("podmetrics: pod list failed; status, request and limit metrics left out", "err", err)
			pods = nil
		}
	}
	c.mu.Lock()
	res := Compute(c.prev, snap, pods, c.env)
	c.prev, c.last = snap, res
	c.mu.Unlock()
	c.podsGauge.Set(float64(len(res.Pods)))
	c.collections.WithLabelValues("ok").Inc()
	return nil
}

// Run calls Observe every interval until ctx ends; failures are logged and
// counted, never fatal. It returns ctx.Err().
func (c *Collector) Run(ctx context.Context, interval time.Duration) error {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if err := c.Observe(ctx); err != nil && ctx.Err() == nil {
			c.opts.Logger.Warn("podmetrics: collection failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

// Last returns the values of the last collection (nil after a failure).
// The Result must not be modified.
func (c *Collector) Last() *Result {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.last
}

func (c *Collector) countErr(err error, defaultSource string) {
	var ke *KubeletError
	switch {
	case errors.As(err, &ke):
		src := "kubelet_summary"
		if ke.Path == kubeletPodsPath {
			src = "kubelet_pods"
		}
		c.errs.WithLabelValues(src, ke.Reason).Inc()
	case defaultSource == "pods":
		c.errs.WithLabelValues("pods", errReasonRequest).Inc()
	default:
		c.errs.WithLabelValues(defaultSource, errReasonCgroup).Inc()
	}
}

// Describe sends every descriptor the Collector can emit.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.descs {
		ch <- d
	}
	if !c.opts.DisableRawSeries {
		for _, d := range c.raw {
			ch <- d
		}
	}
	c.collections.Describe(ch)
	c.errs.Describe(ch)
	c.podsGauge.Describe(ch)
}

func memTotal(path string) (uint64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	return parseMemTotal(b)
}
