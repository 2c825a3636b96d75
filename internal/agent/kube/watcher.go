package kube

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/clientcmd"
)

// DefaultDeletedTTL is Config.DeletedTTL's default.
const DefaultDeletedTTL = 10 * time.Minute

// Config configures a Watcher.
type Config struct {
	// Kubeconfig is the path of a kubeconfig file; empty means the in-cluster
	// configuration (the pod's service-account token and
	// KUBERNETES_SERVICE_HOST/PORT).
	Kubeconfig string
	// NodeName is required: only this node's pods are watched.
	NodeName string
	// DeletedTTL is how long a deleted pod's metadata stays available, while
	// its logs are still being drained. Default DefaultDeletedTTL (10m).
	DeletedTTL time.Duration
}

// entry is one pod in the maps; deleted is zero while the pod exists.
type entry struct {
	pod     *Pod
	deleted time.Time
}

// podKey is a pod's namespace and name (a struct, not a joined string, so a
// lookup allocates nothing).
type podKey struct{ namespace, name string }

// Watcher keeps the metadata of one node's pods from a pod informer.
// Pod is safe for concurrent use; Run is called once.
type Watcher struct {
	cfg      Config
	log      *slog.Logger
	informer cache.SharedIndexInformer
	synced   cache.InformerSynced
	now      func() time.Time

	mu sync.RWMutex
	// byName holds the newest pod of each name; byUID also keeps a deleted
	// pod whose name a new pod has taken (a StatefulSet's pod re-created
	// while the old one's logs are still drained).
	byName  map[podKey]entry
	byUID   map[string]entry
	live    int // pods not deleted
	running bool

	podsGauge   prometheus.Gauge
	events      *prometheus.CounterVec
	watchErrors prometheus.Counter
}

// New builds a Watcher from cfg.Kubeconfig (or the in-cluster
// configuration). It does not contact the API server; Run does.
func New(cfg Config, log *slog.Logger, reg prometheus.Registerer) (*Watcher, error) {
	var (
		rc  *rest.Config
		err error
	)
	if cfg.Kubeconfig == "" {
		rc, err = rest.InClusterConfig()
	} else {
		rc, err = clientcmd.BuildConfigFromFlags("", cfg.Kubeconfig)
	}
	if err != nil {
		return nil, fmt.Errorf("kubernetes client configuration: %w", err)
	}
	return NewForConfig(rc, cfg, log, reg)
}

// NewForConfig builds a Watcher that talks to the API server of rc. reg may
// be nil (no metrics registered).
func NewForConfig(rc *rest.Config, cfg Config, log *slog.Logger, reg prometheus.Registerer) (*Watcher, error) {
	if cfg.NodeName == "" {
		return nil, errors.New("kube: node name is required")
	}
	if cfg.DeletedTTL < 0 {
		return nil, fmt.Errorf("kube: deleted TTL %v must be >= 0", cfg.DeletedTTL)
	}
	if cfg.DeletedTTL == 0 {
		cfg.DeletedTTL = DefaultDeletedTTL
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	rc = rest.CopyConfig(rc)
	if rc.UserAgent == "" {
		rc.UserAgent = "kinsight-agent"
	}
	cs, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return nil, fmt.Errorf("kubernetes client: %w", err)
	}
	w := &Watcher{
		cfg:    cfg,
		log:    log.With("node", cfg.NodeName),
		now:    time.Now,
		byName: map[podKey]entry{},
		byUID:  map[string]entry{},
		podsGauge: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "kinsight_agent_kube_pods",
			Help: "Pods of this node whose metadata the agent holds (deleted pods still within their TTL excluded).",
		}),
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kinsight_agent_kube_events_total",
			Help: "Pod informer events by type (add, update, delete).",
		}, []string{"type"}),
		watchErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "kinsight_agent_kube_watch_errors_total",
			Help: "Failed LIST or WATCH calls of the pod informer (it retries with backoff).",
		}),
	}
	for _, t := range []string{"add", "update", "delete"} {
		w.events.WithLabelValues(t) // export zeros so rates work from the start
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{w.podsGauge, w.events, w.watchErrors} {
			if err := reg.Register(c); err != nil {
				return nil, fmt.Errorf("kube: register metrics: %w", err)
			}
		}
	}

	selector := fields.OneTermEqualSelector("spec.nodeName", cfg.NodeName).String()
	pods := cs.CoreV1().Pods(metav1.NamespaceAll)
	lw := &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			o.FieldSelector = selector
			return pods.List(ctx, o)
		},
		WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			o.FieldSelector = selector
			return pods.Watch(ctx, o)
		},
	}
	w.informer = cache.NewSharedIndexInformerWithOptions(lw, &corev1.Pod{}, cache.SharedIndexInformerOptions{})
	// The informer's own store keeps every pod object; trimming what the
	// agent never reads keeps that copy small on nodes with many pods.
	if err := w.informer.SetTransform(trimPod); err != nil {
		return nil, fmt.Errorf("kube: informer transform: %w", err)
	}
	if err := w.informer.SetWatchErrorHandlerWithContext(func(_ context.Context, _ *cache.Reflector, err error) {
		w.watchErrors.Inc()
		w.log.Warn("kubernetes pod watch failed; retrying", "err", err)
	}); err != nil {
		return nil, fmt.Errorf("kube: informer error handler: %w", err)
	}
	reg2, err := w.informer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { w.upsert(obj, "add") },
		UpdateFunc: func(_, obj any) { w.upsert(obj, "update") },
		DeleteFunc: w.remove,
	})
	if err != nil {
		return nil, fmt.Errorf("kube: informer handler: %w", err)
	}
	w.synced = reg2.HasSynced
	return w, nil
}

// Run runs the informer until ctx ends, then returns nil. It returns an
// error only if called twice.
func (w *Watcher) Run(ctx context.Context) error {
	w.mu.Lock()
	if w.running {
		w.mu.Unlock()
		return errors.New("kube: watcher already running")
	}
	w.running = true
	w.mu.Unlock()

	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		w.sweep(ctx)
	}()
	w.log.Info("watching pods", "field_selector", "spec.nodeName="+w.cfg.NodeName)
	w.informer.RunWithContext(ctx)
	wg.Wait()
	return nil
}

// WaitForSync blocks until the initial list has been applied (true) or ctx
// ends (false).
func (w *Watcher) WaitForSync(ctx context.Context) bool {
	return cache.WaitForCacheSync(ctx.Done(), w.synced)
}

// Pod returns the metadata of a pod of this node, including a pod deleted
// less than DeletedTTL ago (the newest one if a pod of the same name was
// created since). It never calls the API server.
func (w *Watcher) Pod(namespace, name string) (*Pod, bool) {
	w.mu.RLock()
	e, ok := w.byName[podKey{namespace, name}]
	w.mu.RUnlock()
	return w.valid(e, ok)
}

// PodByUID is Pod by the pod's UID (the <uid> of
// /var/log/pods/<namespace>_<name>_<uid>/), which tells a deleted pod from
// a newer pod of the same name. It never calls the API server.
func (w *Watcher) PodByUID(uid string) (*Pod, bool) {
	w.mu.RLock()
	e, ok := w.byUID[uid]
	w.mu.RUnlock()
	return w.valid(e, ok)
}

func (w *Watcher) valid(e entry, ok bool) (*Pod, bool) {
	if !ok || (!e.deleted.IsZero() && w.now().Sub(e.deleted) >= w.cfg.DeletedTTL) {
		return nil, false
	}
	return e.pod, true
}

func (w *Watcher) upsert(obj any, kind string) {
	in, ok := obj.(*corev1.Pod)
	if !ok {
		w.log.Warn("pod informer delivered an unexpected object", "type", fmt.Sprintf("%T", obj))
		return
	}
	p := newPod(in, w.now())
	w.mu.Lock()
	w.putLocked(entry{pod: p})
	w.mu.Unlock()
	w.events.WithLabelValues(kind).Inc()
}

func (w *Watcher) remove(obj any) {
	if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = tomb.Obj // deleted while the watch was down
	}
	in, ok := obj.(*corev1.Pod)
	if !ok {
		w.log.Warn("pod informer deleted an unexpected object", "type", fmt.Sprintf("%T", obj))
		return
	}
	// The final object is the newest state (for a tombstone, the last one
	// seen), and it serves even if the add was never seen.
	now := w.now()
	p := newPod(in, now)
	w.mu.Lock()
	w.putLocked(entry{pod: p, deleted: now})
	w.mu.Unlock()
	w.events.WithLabelValues("delete").Inc()
}

// putLocked stores e under its name and UID, replacing what was there;
// w.mu is held.
func (w *Watcher) putLocked(e entry) {
	key := podKey{e.pod.Namespace, e.pod.Name}
	if old, ok := w.byUID[e.pod.UID]; ok && old.deleted.IsZero() {
		w.live--
	}
	if old, ok := w.byName[key]; ok && old.pod.UID != e.pod.UID && old.deleted.IsZero() {
		// A new pod took the name before the old one's delete arrived:
		// keep the old one by UID only, as deleted now.
		old.deleted = w.now()
		w.byUID[old.pod.UID] = old
		w.live--
	}
	w.byName[key] = e
	w.byUID[e.pod.UID] = e
	if e.deleted.IsZero() {
		w.live++
	}
	w.podsGauge.Set(float64(w.live))
}

// sweep drops expired deleted pods every DeletedTTL/2 (at most once a
// minute, at least every second) until ctx ends.
func (w *Watcher) sweep(ctx context.Context) {
	every := min(max(w.cfg.DeletedTTL/2, time.Second), time.Minute)
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		w.sweepOnce()
	}
}

// sweepOnce drops the deleted pods whose TTL has ended.
func (w *Watcher) sweepOnce() {
	now := w.now()
	w.mu.Lock()
	defer w.mu.Unlock()
	for k, e := range w.byName {
		if !e.deleted.IsZero() && now.Sub(e.deleted) >= w.cfg.DeletedTTL {
			delete(w.byName, k)
		}
	}
	for k, e := range w.byUID {
		if !e.deleted.IsZero() && now.Sub(e.deleted) >= w.cfg.DeletedTTL {
			delete(w.byUID, k)
		}
	}
}

// trimPod keeps only what newPod reads, so the informer's store does not hold
// managed fields, volumes, env and the rest of every pod spec.
func trimPod(obj any) (any, error) {
	in, ok := obj.(*corev1.Pod)
	if !ok {
		return obj, nil // e.g. DeletedFinalStateUnknown: already trimmed
	}
	out := &corev1.Pod{
		TypeMeta: in.TypeMeta,
		ObjectMeta: metav1.ObjectMeta{
			Name: in.Name, Namespace: in.Namespace, UID: in.UID,
			ResourceVersion: in.ResourceVersion,
			Labels:          in.Labels, Annotations: in.Annotations,
			OwnerReferences: in.OwnerReferences,
		},
		Spec: corev1.PodSpec{NodeName: in.Spec.NodeName},
		Status: corev1.PodStatus{
			ContainerStatuses:          trimStatuses(in.Status.ContainerStatuses),
			InitContainerStatuses:      trimStatuses(in.Status.InitContainerStatuses),
			EphemeralContainerStatuses: trimStatuses(in.Status.EphemeralContainerStatuses),
		},
	}
	for _, c := range in.Spec.Containers {
		out.Spec.Containers = append(out.Spec.Containers, corev1.Container{Name: c.Name, Image: c.Image})
	}
	for _, c := range in.Spec.InitContainers {
		out.Spec.InitContainers = append(out.Spec.InitContainers, corev1.Container{Name: c.Name, Image: c.Image})
	}
	for _, c := range in.Spec.EphemeralContainers {
		out.Spec.EphemeralContainers = append(out.Spec.EphemeralContainers, corev1.EphemeralContainer{
			EphemeralContainerCommon: corev1.EphemeralContainerCommon{Name: c.Name, Image: c.Image}})
	}
	return out, nil
}

func trimStatuses(in []corev1.ContainerStatus) []corev1.ContainerStatus {
	if len(in) == 0 {
		return nil
	}
	out := make([]corev1.ContainerStatus, len(in))
	for i, s := range in {
		out[i] = corev1.ContainerStatus{Name: s.Name, ContainerID: s.ContainerID, Image: s.Image, ImageID: s.ImageID}
	}
	return out
}
