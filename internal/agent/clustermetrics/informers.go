package clustermetrics

import (
	"context"
	"log/slog"
	"slices"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	appslisters "k8s.io/client-go/listers/apps/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	discoverylisters "k8s.io/client-go/listers/discovery/v1"
	"k8s.io/client-go/tools/cache"
)

// caches is one leadership term's caches.
type caches struct {
	factory informers.SharedInformerFactory
	cancel  context.CancelFunc
	synced  map[string]cache.InformerSynced // by resource, for the log

	nodes        corelisters.NodeLister
	pods         corelisters.PodLister
	slices       discoverylisters.EndpointSliceLister
	deployments  appslisters.DeploymentLister
	replicaSets  appslisters.ReplicaSetLister
	daemonSets   appslisters.DaemonSetLister
	statefulSets appslisters.StatefulSetLister
}

// startInformers starts the watches of one term; they stop when ctx ends
// or stop is called.
func startInformers(ctx context.Context, client kubernetes.Interface) *caches {
	// Resync 0: counts only need the watch's changes; a periodic resync
	// would only replay the cache to handlers this package does not have.
	f := informers.NewSharedInformerFactoryWithOptions(client, 0, informers.WithTransform(strip))
	inf := &caches{factory: f}
	// Asking for each lister registers its informer with the factory
	// before Start.
	inf.nodes = f.Core().V1().Nodes().Lister()
	inf.pods = f.Core().V1().Pods().Lister()
	inf.slices = f.Discovery().V1().EndpointSlices().Lister()
	inf.deployments = f.Apps().V1().Deployments().Lister()
	inf.replicaSets = f.Apps().V1().ReplicaSets().Lister()
	inf.daemonSets = f.Apps().V1().DaemonSets().Lister()
	inf.statefulSets = f.Apps().V1().StatefulSets().Lister()
	inf.synced = map[string]cache.InformerSynced{
		"nodes":          f.Core().V1().Nodes().Informer().HasSynced,
		"pods":           f.Core().V1().Pods().Informer().HasSynced,
		"endpointslices": f.Discovery().V1().EndpointSlices().Informer().HasSynced,
		"deployments":    f.Apps().V1().Deployments().Informer().HasSynced,
		"replicasets":    f.Apps().V1().ReplicaSets().Informer().HasSynced,
		"daemonsets":     f.Apps().V1().DaemonSets().Informer().HasSynced,
		"statefulsets":   f.Apps().V1().StatefulSets().Informer().HasSynced,
	}
	ctx, inf.cancel = context.WithCancel(ctx)
	f.Start(ctx.Done())
	return inf
}

// waitSynced waits until every cache holds its initial list; false if ctx
// ended first. It logs the caches still missing every warnAfter: a missing
// RBAC permission makes a reflector retry forever, and the leader would
// otherwise report nothing without a word.
func (inf *caches) waitSynced(ctx context.Context, log *slog.Logger, warnAfter time.Duration) bool {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	warn := time.Now().Add(warnAfter)
	for {
		var missing []string
		for name, synced := range inf.synced {
			if !synced() {
				missing = append(missing, name)
			}
		}
		if len(missing) == 0 {
			return true
		}
		if now := time.Now(); now.After(warn) {
			slices.Sort(missing)
			log.Warn("cluster metrics: caches not synced yet; reporting nothing until they are (RBAC? see deploy/kinsight-agent.yaml)",
				"resources", missing)
			warn = now.Add(warnAfter)
		}
		select {
		case <-ctx.Done():
			return false
		case <-tick.C:
		}
	}
}

// stop stops the watches and waits for the informers' goroutines to end.
func (inf *caches) stop() {
	inf.cancel()
	inf.factory.Shutdown()
}

// strip is the informers' transform: it keeps only the fields the counts
// read, so that the leader's caches of every pod and node of the cluster
// cost little memory. Specs, most of the status, labels, annotations and
// managed fields are dropped.
func strip(obj any) (any, error) {
	switch o := obj.(type) {
	case *corev1.Pod:
		return &corev1.Pod{
			ObjectMeta: slimMeta(o.ObjectMeta),
			Status:     corev1.PodStatus{Phase: o.Status.Phase},
		}, nil
	case *corev1.Node:
		n := &corev1.Node{ObjectMeta: slimMeta(o.ObjectMeta)}
		for _, c := range o.Status.Conditions {
			if c.Type == corev1.NodeReady {
				n.Status.Conditions = []corev1.NodeCondition{{Type: c.Type, Status: c.Status}}
			}
		}
		return n, nil
	case *discoveryv1.EndpointSlice:
		s := &discoveryv1.EndpointSlice{ObjectMeta: slimMeta(o.ObjectMeta)}
		// The service-name label is the only label the counts read.
		if name, ok := o.Labels[discoveryv1.LabelServiceName]; ok {
			s.Labels = map[string]string{discoveryv1.LabelServiceName: name}
		}
		for _, ep := range o.Endpoints {
			if ep.TargetRef != nil {
				s.Endpoints = append(s.Endpoints, discoveryv1.Endpoint{TargetRef: ep.TargetRef})
			}
		}
		return s, nil
	case *appsv1.Deployment:
		st := o.Status
		st.Conditions = nil
		return &appsv1.Deployment{ObjectMeta: slimMeta(o.ObjectMeta),
			Spec: appsv1.DeploymentSpec{Replicas: o.Spec.Replicas}, Status: st}, nil
	case *appsv1.DaemonSet:
		st := o.Status
		st.Conditions = nil
		return &appsv1.DaemonSet{ObjectMeta: slimMeta(o.ObjectMeta), Status: st}, nil
	case *appsv1.ReplicaSet:
		return &appsv1.ReplicaSet{ObjectMeta: slimMeta(o.ObjectMeta)}, nil
	case *appsv1.StatefulSet:
		return &appsv1.StatefulSet{ObjectMeta: slimMeta(o.ObjectMeta)}, nil
	}
	// Tombstones (cache.DeletedFinalStateUnknown) and anything else pass
	// unchanged.
	return obj, nil
}

// slimMeta keeps the identity, resourceVersion (the informer's bookkeeping
// needs it) and owner references of an object.
func slimMeta(m metav1.ObjectMeta) metav1.ObjectMeta {
	return metav1.ObjectMeta{
		Name:            m.Name,
		Namespace:       m.Namespace,
		UID:             m.UID,
		ResourceVersion: m.ResourceVersion,
		OwnerReferences: m.OwnerReferences,
	}
}
