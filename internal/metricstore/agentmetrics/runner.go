package agentmetrics

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/kinsight/kinsight/internal/agent/clustermetrics"
	"github.com/kinsight/kinsight/internal/agent/podmetrics"
	"github.com/kinsight/kinsight/internal/metricstore/agentwal"
	"github.com/kinsight/kinsight/internal/metricstore/scrape"
)

// Source names, the values of the source label of the runner's metrics.
const (
	SourceNode    = "node"
	SourcePods    = "pods"
	SourceCluster = "cluster"
)

// Options configure a Runner. Store and Interval are required, and at
// least one source.
type Options struct {
	// Store is the WAL everything is appended to. Run closes it.
	Store *agentwal.Store
	// Interval is the node, pod and cluster collection interval.
	Interval time.Duration
	// Node, when set, is gathered every Interval (the node collector).
	Node prometheus.Collector
	// NodeLabels are added to the Node series that lack them (instance,
	// job).
	NodeLabels []agentwal.Label
	// Pods, when set, is observed and gathered every Interval.
	Pods *podmetrics.Collector
	// Cluster, when set, campaigns for its Lease while Run runs and is
	// gathered every Interval (it exposes nothing unless leading).
	Cluster *clustermetrics.Elector
	// Scrape, when set, is the scraper's configuration; its Appendable is
	// set to the Store.
	Scrape *scrape.Options
	// Registerer receives the runner's own metrics
	// (kinsight_agent_metrics_*); nil registers nothing.
	Registerer prometheus.Registerer
	// Logger defaults to slog.Default().
	Logger *slog.Logger
}

// Runner runs the metric side; see the package comment.
type Runner struct {
	opts    Options
	log     *slog.Logger
	scraper *scrape.Scraper
	sources []source

	collections *prometheus.CounterVec
	seconds     *prometheus.CounterVec
	lastOK      *prometheus.GaugeVec
	unregister  func()
}

// source is one registry gathered into the WAL every interval.
type source struct {
	name    string
	reg     *prometheus.Registry
	labels  []agentwal.Label
	failing bool
}

// New checks opts and builds the Runner; nothing runs until Run. On error
// the Store is left open for the caller to close.
func New(opts Options) (*Runner, error) {
	if opts.Store == nil {
		return nil, errors.New("agentmetrics: no Store")
	}
	if opts.Interval <= 0 {
		return nil, fmt.Errorf("agentmetrics: interval %s must be positive", opts.Interval)
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	r := &Runner{opts: opts, log: opts.Logger}
	add := func(name string, c prometheus.Collector, ls []agentwal.Label) error {
		reg := prometheus.NewRegistry()
		if err := reg.Register(c); err != nil {
			return fmt.Errorf("agentmetrics: %s collector: %w", name, err)
		}
		r.sources = append(r.sources, source{name: name, reg: reg, labels: ls})
		return nil
	}
	if opts.Node != nil {
		if err := add(SourceNode, opts.Node, opts.NodeLabels); err != nil {
			return nil, err
		}
	}
	if opts.Pods != nil {
		if err := add(SourcePods, opts.Pods, nil); err != nil {
			return nil, err
		}
	}
	if opts.Cluster != nil {
		if err := add(SourceCluster, opts.Cluster, nil); err != nil {
			return nil, err
		}
	}
	if opts.Scrape != nil {
		so := *opts.Scrape
		so.Appendable = Appendable{Store: opts.Store}
		s, err := scrape.New(so)
		if err != nil {
			return nil, fmt.Errorf("agentmetrics: %w", err)
		}
		r.scraper = s
	}
	if len(r.sources) == 0 && r.scraper == nil {
		return nil, errors.New("agentmetrics: no source enabled")
	}
	r.collections = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "kinsight_agent_metrics_collections_total",
		Help: "Collections appended to the metric WAL by source (node, pods, cluster) and result (ok, error).",
	}, []string{"source", "result"})
	r.seconds = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "kinsight_agent_metrics_collection_seconds_total",
		Help: "Wall time spent collecting and appending, by source.",
	}, []string{"source"})
	r.lastOK = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "kinsight_agent_metrics_last_success_timestamp_seconds",
		Help: "Unix time of the last collection of a source appended without error.",
	}, []string{"source"})
	r.unregister = func() {}
	if opts.Registerer != nil {
		var done []prometheus.Collector
		for _, c := range []prometheus.Collector{r.collections, r.seconds, r.lastOK} {
			if err := opts.Registerer.Register(c); err != nil {
				for _, d := range done {
					opts.Registerer.Unregister(d)
				}
				return nil, fmt.Errorf("agentmetrics: register metrics: %w", err)
			}
			done = append(done, c)
		}
		r.unregister = func() {
			for _, d := range done {
				opts.Registerer.Unregister(d)
			}
		}
	}
	for _, s := range r.sources {
		r.collections.WithLabelValues(s.name, "ok")
		r.collections.WithLabelValues(s.name, "error")
	}
	return r, nil
}

// Run collects every Interval, and runs the elector and the scraper,
// until ctx ends; then it stops them and closes the Store. Failures of
// sources are logged and counted; Run returns only the Store's close
// error or the scraper's failure to start (the rest keeps running).
func (r *Runner) Run(ctx context.Context) error {
	defer r.unregister()
	var wg sync.WaitGroup
	var scrapeErr error
	if r.opts.Cluster != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := r.opts.Cluster.Run(ctx); err != nil {
				r.log.Error("metrics: cluster elector stopped", "err", err)
			}
		}()
	}
	if r.scraper != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := r.scraper.Run(ctx); err != nil {
				r.log.Error("metrics: scraper stopped", "err", err)
				scrapeErr = err
			}
		}()
	}
	if len(r.sources) > 0 {
		t := time.NewTicker(r.opts.Interval)
		now := time.Now()
		for {
			r.collect(ctx, now)
			select {
			case <-ctx.Done():
			case now = <-t.C:
				continue
			}
			break
		}
		t.Stop()
	} else {
		<-ctx.Done()
	}
	wg.Wait()
	err := r.opts.Store.Close()
	if err != nil {
		err = fmt.Errorf("metrics: %w", err)
	}
	return errors.Join(err, scrapeErr)
}

// collect takes one collection of every source, stamped now.
func (r *Runner) collect(ctx context.Context, now time.Time) {
	if r.opts.Pods != nil {
		// Bounded by the interval: the next tick must not wait for a
		// kubelet that hangs. A failed observation leaves the pod
		// registry empty, which the append below reports as success, so
		// it is counted here.
		octx, cancel := context.WithTimeout(ctx, r.opts.Interval)
		err := r.opts.Pods.Observe(octx)
		cancel()
		if err != nil && ctx.Err() == nil {
			r.result(r.source(SourcePods), err)
		}
	}
	for i := range r.sources {
		s := &r.sources[i]
		start := time.Now()
		err := r.opts.Store.AppendGathered(ctx, s.reg, now, s.labels)
		r.seconds.WithLabelValues(s.name).Add(time.Since(start).Seconds())
		if s.name == SourcePods && r.opts.Pods.Last() == nil && err == nil {
			continue // counted as an error above
		}
		r.result(s, err)
	}
}

func (r *Runner) source(name string) *source {
	for i := range r.sources {
		if r.sources[i].name == name {
			return &r.sources[i]
		}
	}
	return nil
}

// result counts one collection and logs a change between failing and
// working, so a source that stays down logs once, not every interval.
func (r *Runner) result(s *source, err error) {
	if err != nil {
		r.collections.WithLabelValues(s.name, "error").Inc()
		if !s.failing {
			r.log.Warn("metrics: collection failing (logged again when it recovers)", "source", s.name, "err", err)
		}
		s.failing = true
		return
	}
	r.collections.WithLabelValues(s.name, "ok").Inc()
	r.lastOK.WithLabelValues(s.name).Set(float64(time.Now().UnixNano()) / 1e9)
	if s.failing {
		r.log.Info("metrics: collection recovered", "source", s.name)
	}
	s.failing = false
}
