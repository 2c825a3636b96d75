package scrape

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/config"
	"github.com/prometheus/prometheus/discovery"
	"github.com/prometheus/prometheus/model/labels"
	promscrape "github.com/prometheus/prometheus/scrape"
	"github.com/prometheus/prometheus/storage"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	kdiscovery "k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/dynamic/dynamicinformer"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
)

// The monitoring.coreos.com/v1 resources watched.
var (
	podMonitorsGVR     = schema.GroupVersionResource{Group: "monitoring.coreos.com", Version: "v1", Resource: "podmonitors"}
	serviceMonitorsGVR = schema.GroupVersionResource{Group: "monitoring.coreos.com", Version: "v1", Resource: "servicemonitors"}
)

// Options configure a Scraper. Zero fields (each limit included) take the
// defaults of DefaultOptions; TargetLimit alone defaults to none.
type Options struct {
	// Kube is the client configuration for the API server (in a pod,
	// rest.InClusterConfig()). Needs list and watch on pods, services,
	// endpointslices, podmonitors and servicemonitors.
	Kube *rest.Config
	// NodeName is this agent's node; only targets on it are scraped.
	NodeName string
	// Appendable receives the samples (the agent's WAL).
	Appendable storage.Appendable
	// DefaultInterval and DefaultTimeout apply where a monitor or
	// annotation sets none. DefaultTimeout must not exceed DefaultInterval.
	DefaultInterval, DefaultTimeout time.Duration
	// Limits apply to every target; a monitor may only lower them.
	Limits Limits
	// Logger gets Prometheus's scrape and discovery logs; nil discards.
	Logger *slog.Logger
	// Registerer gets Prometheus's scrape and discovery metrics
	// (prometheus_target_*, prometheus_sd_*) and the scraper's own
	// (kinsight_agent_scrape_*); nil keeps them in a private registry.
	Registerer prometheus.Registerer

	// reloadInterval is how often discovery updates reach the scrape
	// manager (Prometheus's is 5 s) and how long monitor changes are
	// batched; crdCheckInterval how often the scraper looks for CRDs not
	// yet installed. Tests shorten them.
	reloadInterval, crdCheckInterval time.Duration
}

// DefaultOptions returns the defaults: 30 s interval, 10 s timeout, at most
// 50 000 samples, 64 labels of 256-byte names and 4 KiB values and a 64 MiB
// body per scrape.
func DefaultOptions() Options {
	return Options{
		DefaultInterval: 30 * time.Second,
		DefaultTimeout:  10 * time.Second,
		Limits: Limits{
			SampleLimit:           50000,
			LabelLimit:            64,
			LabelNameLengthLimit:  256,
			LabelValueLengthLimit: 4096,
			BodySizeLimit:         "64MiB",
		},
		reloadInterval:   5 * time.Second,
		crdCheckInterval: time.Minute,
	}
}

// Scraper discovers this node's scrape targets and scrapes them into an
// Appendable.
type Scraper struct {
	opts    Options
	logger  *slog.Logger
	reg     prometheus.Registerer
	js      jobSpec
	dynamic dynamic.Interface
	disco   kdiscovery.DiscoveryInterface
	metrics *metrics

	mu     sync.Mutex
	scrape *promscrape.Manager // set while Run runs
}

// New checks opts and returns a Scraper; nothing runs until Run.
func New(opts Options) (*Scraper, error) {
	def := DefaultOptions()
	if opts.DefaultInterval == 0 {
		opts.DefaultInterval = def.DefaultInterval
	}
	if opts.DefaultTimeout == 0 {
		opts.DefaultTimeout = min(def.DefaultTimeout, opts.DefaultInterval)
	}
	// Each unset limit takes its default: an agent without limits is
	// what a 10-million-series target would take down.
	fill := func(v *uint64, d uint64) {
		if *v == 0 {
			*v = d
		}
	}
	fill(&opts.Limits.SampleLimit, def.Limits.SampleLimit)
	fill(&opts.Limits.LabelLimit, def.Limits.LabelLimit)
	fill(&opts.Limits.LabelNameLengthLimit, def.Limits.LabelNameLengthLimit)
	fill(&opts.Limits.LabelValueLengthLimit, def.Limits.LabelValueLengthLimit)
	if opts.Limits.BodySizeLimit == "" {
		opts.Limits.BodySizeLimit = def.Limits.BodySizeLimit
	}
	if opts.reloadInterval == 0 {
		opts.reloadInterval = def.reloadInterval
	}
	if opts.crdCheckInterval == 0 {
		opts.crdCheckInterval = def.crdCheckInterval
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Registerer == nil {
		opts.Registerer = prometheus.NewRegistry()
	}
	switch {
	case opts.NodeName == "":
		return nil, errors.New("scrape: NodeName is empty")
	case opts.Appendable == nil:
		return nil, errors.New("scrape: Appendable is nil")
	case opts.DefaultTimeout > opts.DefaultInterval:
		return nil, fmt.Errorf("scrape: DefaultTimeout %v exceeds DefaultInterval %v", opts.DefaultTimeout, opts.DefaultInterval)
	}
	sd, err := sdConfigFor(opts.Kube)
	if err != nil {
		return nil, fmt.Errorf("scrape: %w", err)
	}
	var body int64
	if opts.Limits.BodySizeLimit != "" {
		if body, err = bodySize(opts.Limits.BodySizeLimit); err != nil {
			return nil, fmt.Errorf("scrape: %w", err)
		}
	}
	dyn, err := dynamic.NewForConfig(opts.Kube)
	if err != nil {
		return nil, fmt.Errorf("scrape: dynamic client: %w", err)
	}
	disco, err := kdiscovery.NewDiscoveryClientForConfig(opts.Kube)
	if err != nil {
		return nil, fmt.Errorf("scrape: discovery client: %w", err)
	}
	m, err := newMetrics(opts.Registerer)
	if err != nil {
		return nil, fmt.Errorf("scrape: %w", err)
	}
	return &Scraper{
		opts:    opts,
		logger:  opts.Logger,
		reg:     opts.Registerer,
		dynamic: dyn,
		disco:   disco,
		metrics: m,
		js: jobSpec{
			interval:      opts.DefaultInterval,
			timeout:       opts.DefaultTimeout,
			limits:        opts.Limits,
			bodySizeLimit: body,
			nodeName:      opts.NodeName,
			sd:            sd,
		},
	}, nil
}

// Run discovers and scrapes until ctx is done. It returns an error only if
// it cannot start; bad monitors and bad targets are logged and counted.
// Run may be called once.
func (s *Scraper) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	sdMetrics, err := discovery.CreateAndRegisterSDMetrics(s.reg)
	if err != nil {
		return fmt.Errorf("scrape: discovery metrics: %w", err)
	}
	disc := discovery.NewManager(ctx, s.logger.With("component", "discovery"), s.reg, sdMetrics,
		discovery.Name("kinsight-scrape"), discovery.Updatert(s.opts.reloadInterval))
	if disc == nil {
		return errors.New("scrape: discovery manager: metrics registration failed")
	}
	sm, err := promscrape.NewManager(&promscrape.Options{
		DiscoveryReloadInterval: model.Duration(s.opts.reloadInterval),
		// Metadata goes to the WAL so remote write can send it.
		AppendMetadata: true,
	}, s.logger.With("component", "scrape"), nil, s.opts.Appendable, nil, s.reg)
	if err != nil {
		return fmt.Errorf("scrape: scrape manager: %w", err)
	}
	s.mu.Lock()
	s.scrape = sm
	s.mu.Unlock()

	// The monitors, watched through informers on the dynamic client,
	// each started once the API server serves its CRD (checked every
	// crdCheckInterval until both are), so a cluster without the Prometheus
	// Operator's CRDs costs one discovery request a minute, not an
	// informer failing and logging forever.
	factory := dynamicinformer.NewDynamicSharedInformerFactory(s.dynamic, 0)
	defer factory.Shutdown()
	changed := make(chan struct{}, 1)
	notify := cache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { poke(changed) },
		UpdateFunc: func(any, any) { poke(changed) },
		DeleteFunc: func(any) { poke(changed) },
	}
	informers := map[schema.GroupVersionResource]cache.SharedIndexInformer{}
	var lastCheck time.Time
	watchServed := func() error {
		if len(informers) == 2 || time.Since(lastCheck) < s.opts.crdCheckInterval {
			return nil
		}
		lastCheck = time.Now()
		served, err := s.servedMonitors()
		if err != nil {
			return err
		}
		for _, gvr := range served {
			if informers[gvr] != nil {
				continue
			}
			inf := factory.ForResource(gvr).Informer()
			if _, err := inf.AddEventHandler(notify); err != nil {
				return fmt.Errorf("monitor informer: %w", err)
			}
			informers[gvr] = inf
			s.logger.Info("watching monitors", "resource", gvr.Resource)
			poke(changed)
		}
		factory.Start(ctx.Done())
		return nil
	}

	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Add(2)
	go func() {
		defer wg.Done()
		if err := disc.Run(); err != nil && !errors.Is(err, context.Canceled) {
			s.logger.Error("discovery manager stopped", "err", err)
		}
	}()
	go func() {
		defer wg.Done()
		if err := sm.Run(disc.SyncCh()); err != nil {
			s.logger.Error("scrape manager stopped", "err", err)
		}
	}()
	defer sm.Stop()

	// The annotation jobs start at once; monitors join when their
	// informers have synced, and every change is applied at the next tick
	// (so a burst of changes is one reload).
	s.apply(sm, disc, nil, nil)
	tick := time.NewTicker(s.opts.reloadInterval)
	defer tick.Stop()
	for {
		if err := watchServed(); err != nil {
			s.logger.Warn("cannot check for the PodMonitor and ServiceMonitor CRDs", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		synced := true
		for _, inf := range informers {
			synced = synced && inf.HasSynced()
		}
		if !synced {
			continue
		}
		select {
		case <-changed:
		default:
			continue
		}
		var pms, sms []any
		if inf := informers[podMonitorsGVR]; inf != nil {
			pms = inf.GetStore().List()
		}
		if inf := informers[serviceMonitorsGVR]; inf != nil {
			sms = inf.GetStore().List()
		}
		s.apply(sm, disc, pms, sms)
	}
}

// servedMonitors returns the monitor resources the API server serves.
func (s *Scraper) servedMonitors() ([]schema.GroupVersionResource, error) {
	list, err := s.disco.ServerResourcesForGroupVersion(podMonitorsGVR.GroupVersion().String())
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("discovery: %w", err)
	}
	var out []schema.GroupVersionResource
	for _, r := range list.APIResources {
		for _, gvr := range []schema.GroupVersionResource{podMonitorsGVR, serviceMonitorsGVR} {
			if r.Name == gvr.Resource {
				out = append(out, gvr)
			}
		}
	}
	return out, nil
}

func poke(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// apply translates the monitors and applies the whole set of scrape
// configs to both managers, scrape manager first as Prometheus does.
// A monitor that does not translate or validate is left out (logged and
// counted); the others and the annotation jobs still apply.
func (s *Scraper) apply(sm *promscrape.Manager, disc *discovery.Manager, podMonitors, serviceMonitors []any) {
	scs := s.js.annotationConfigs()
	for _, sc := range scs {
		if err := sc.Validate(config.DefaultGlobalConfig); err != nil {
			s.metrics.reloads.WithLabelValues("failure").Inc()
			s.logger.Error("annotation scrape config invalid", "job", sc.JobName, "err", err)
			return
		}
	}
	var nPM, nSM float64
	for _, o := range podMonitors {
		var pm PodMonitor
		cfgs, err := decode(o, &pm, func() ([]*config.ScrapeConfig, error) { return s.js.podMonitorConfigs(&pm) })
		if err != nil {
			s.metrics.monitorErrors.WithLabelValues("PodMonitor").Inc()
			s.logger.Warn("PodMonitor left out", "err", err)
			continue
		}
		nPM++
		scs = append(scs, cfgs...)
	}
	for _, o := range serviceMonitors {
		var smon ServiceMonitor
		cfgs, err := decode(o, &smon, func() ([]*config.ScrapeConfig, error) { return s.js.serviceMonitorConfigs(&smon) })
		if err != nil {
			s.metrics.monitorErrors.WithLabelValues("ServiceMonitor").Inc()
			s.logger.Warn("ServiceMonitor left out", "err", err)
			continue
		}
		nSM++
		scs = append(scs, cfgs...)
	}
	s.metrics.monitors.WithLabelValues("PodMonitor").Set(nPM)
	s.metrics.monitors.WithLabelValues("ServiceMonitor").Set(nSM)
	sort.Slice(scs, func(i, j int) bool { return scs[i].JobName < scs[j].JobName })

	cfg, err := config.Load("", s.logger)
	if err != nil {
		s.metrics.reloads.WithLabelValues("failure").Inc()
		s.logger.Error("empty Prometheus config does not load", "err", err)
		return
	}
	cfg.ScrapeConfigs = scs
	sdCfgs := make(map[string]discovery.Configs, len(scs))
	for _, sc := range scs {
		sdCfgs[sc.JobName] = sc.ServiceDiscoveryConfigs
	}
	if err := sm.ApplyConfig(cfg); err != nil {
		s.metrics.reloads.WithLabelValues("failure").Inc()
		s.logger.Error("scrape config not applied", "err", err)
		return
	}
	if err := disc.ApplyConfig(sdCfgs); err != nil {
		s.metrics.reloads.WithLabelValues("failure").Inc()
		s.logger.Error("discovery config not applied", "err", err)
		return
	}
	s.metrics.reloads.WithLabelValues("success").Inc()
	s.metrics.jobs.Set(float64(len(scs)))
}

// decode converts an informer's unstructured object into v, runs translate
// and validates the resulting scrape configs with Prometheus's own checks.
func decode(o any, v any, translate func() ([]*config.ScrapeConfig, error)) ([]*config.ScrapeConfig, error) {
	u, ok := o.(*unstructured.Unstructured)
	if !ok {
		return nil, fmt.Errorf("unexpected object %T", o)
	}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, v); err != nil {
		return nil, fmt.Errorf("%s %s/%s: %w", u.GetKind(), u.GetNamespace(), u.GetName(), err)
	}
	cfgs, err := translate()
	if err != nil {
		return nil, err
	}
	for _, sc := range cfgs {
		if err := sc.Validate(config.DefaultGlobalConfig); err != nil {
			return nil, fmt.Errorf("%s: %w", sc.JobName, err)
		}
	}
	return cfgs, nil
}

// Targets returns the active targets' label sets by job (for tests and a
// later status page); nil before Run.
func (s *Scraper) Targets() map[string][]map[string]string {
	s.mu.Lock()
	sm := s.scrape
	s.mu.Unlock()
	if sm == nil {
		return nil
	}
	out := map[string][]map[string]string{}
	b := labels.NewBuilder(labels.EmptyLabels())
	for job, ts := range sm.TargetsActive() {
		for _, t := range ts {
			out[job] = append(out[job], t.Labels(b).Map())
		}
	}
	return out
}

// metrics are the scraper's own; Prometheus's managers add theirs.
type metrics struct {
	monitors      *prometheus.GaugeVec
	monitorErrors *prometheus.CounterVec
	reloads       *prometheus.CounterVec
	jobs          prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		monitors: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "kinsight_agent_scrape_monitors",
			Help: "PodMonitors and ServiceMonitors translated into scrape configs, by kind.",
		}, []string{"kind"}),
		monitorErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kinsight_agent_scrape_monitor_errors_total",
			Help: "Monitors left out of a reload because they did not translate or validate, by kind.",
		}, []string{"kind"}),
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kinsight_agent_scrape_reloads_total",
			Help: "Scrape configuration reloads, by result.",
		}, []string{"result"}),
		jobs: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "kinsight_agent_scrape_jobs",
			Help: "Scrape configs (jobs) applied at the last successful reload.",
		}),
	}
	for _, c := range []prometheus.Collector{m.monitors, m.monitorErrors, m.reloads, m.jobs} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register metrics: %w", err)
		}
	}
	return m, nil
}
