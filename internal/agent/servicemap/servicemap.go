// Package servicemap tells the agent which Service a pod on its node belongs
// to, for the Service label of Container Insights' pod and container
// metrics.
//
// Membership comes from EndpointSlices (discovery.k8s.io/v1), the same
// source the cluster metrics count from: a pod belongs to the Service named
// by the kubernetes.io/service-name label of a slice that lists it as an
// endpoint (targetRef kind Pod). Selectors are not evaluated here: the
// EndpointSlice controller has already done that, and slices also cover
// Services without selectors whose endpoints were written by hand.
//
// One watch of all slices in the cluster (slices cannot be selected by
// node on the server), with a transform that keeps, per slice, only its
// Service name and the endpoints on this node, so the cache's memory follows
// the node's pods, not the cluster's. A pod in several Services is labelled
// with the first name in sort order, so the label is stable between
// collections. Until the first list has arrived, and for pods in no
// Service, Service answers "" and the label is absent.
package servicemap

import (
	"context"
	"slices"
	"sync"

	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
)

// Map is a pod → Service index for one node. Its zero value is not usable;
// use New.
type Map struct {
	client kubernetes.Interface
	node   string

	mu     sync.RWMutex
	slices map[string]slice          // by slice namespace/name
	pods   map[string]map[string]int // pod namespace/name → Service → slices naming it
	first  map[string]string         // pod namespace/name → first Service in sort order
}

// slice is what the Map keeps of one EndpointSlice.
type slice struct {
	service string
	pods    []string // namespace/name of endpoints on this node
}

// New returns a Map of node's pods; Run fills it.
func New(client kubernetes.Interface, node string) *Map {
	return &Map{client: client, node: node, slices: map[string]slice{},
		pods: map[string]map[string]int{}, first: map[string]string{}}
}

// Service returns the Service of the pod, "" if none is known. Its
// signature is podmetrics.Options.Service's.
func (m *Map) Service(namespace, pod string, _ map[string]string) string {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.first[namespace+"/"+pod]
}

// Run watches EndpointSlices until ctx ends.
func (m *Map) Run(ctx context.Context) error {
	lw := &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			return m.client.DiscoveryV1().EndpointSlices(metav1.NamespaceAll).List(ctx, o)
		},
		WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			return m.client.DiscoveryV1().EndpointSlices(metav1.NamespaceAll).Watch(ctx, o)
		},
	}
	inf := cache.NewSharedIndexInformer(lw, &discoveryv1.EndpointSlice{}, 0, cache.Indexers{})
	if err := inf.SetTransform(m.strip); err != nil {
		return err
	}
	if _, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(o any) { m.put(o) },
		UpdateFunc: func(_, o any) { m.put(o) },
		DeleteFunc: m.remove,
	}); err != nil {
		return err
	}
	inf.RunWithContext(ctx)
	return nil
}

// strip keeps a slice's name, its Service and its endpoints on this node.
func (m *Map) strip(obj any) (any, error) {
	s, ok := obj.(*discoveryv1.EndpointSlice)
	if !ok {
		return obj, nil
	}
	out := &discoveryv1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{
		Name: s.Name, Namespace: s.Namespace, ResourceVersion: s.ResourceVersion,
	}}
	if name := s.Labels[discoveryv1.LabelServiceName]; name != "" {
		out.Labels = map[string]string{discoveryv1.LabelServiceName: name}
	}
	for _, ep := range s.Endpoints {
		if ep.TargetRef == nil || ep.TargetRef.Kind != "Pod" || ep.NodeName == nil || *ep.NodeName != m.node {
			continue
		}
		ref := *ep.TargetRef
		out.Endpoints = append(out.Endpoints, discoveryv1.Endpoint{TargetRef: &ref, NodeName: ep.NodeName})
	}
	return out, nil
}

func (m *Map) put(obj any) {
	s, ok := obj.(*discoveryv1.EndpointSlice)
	if !ok {
		return
	}
	next := slice{service: s.Labels[discoveryv1.LabelServiceName]}
	if next.service != "" {
		for _, ep := range s.Endpoints {
			ns := ep.TargetRef.Namespace
			if ns == "" {
				ns = s.Namespace
			}
			next.pods = append(next.pods, ns+"/"+ep.TargetRef.Name)
		}
	}
	key := s.Namespace + "/" + s.Name
	m.mu.Lock()
	defer m.mu.Unlock()
	m.drop(key)
	if len(next.pods) == 0 {
		return
	}
	m.slices[key] = next
	for _, p := range next.pods {
		if m.pods[p] == nil {
			m.pods[p] = map[string]int{}
		}
		m.pods[p][next.service]++
		m.refresh(p)
	}
}

func (m *Map) remove(obj any) {
	if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = d.Obj
	}
	s, ok := obj.(*discoveryv1.EndpointSlice)
	if !ok {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.drop(s.Namespace + "/" + s.Name)
}

// drop forgets what the slice key contributed. m.mu is held.
func (m *Map) drop(key string) {
	old, ok := m.slices[key]
	if !ok {
		return
	}
	delete(m.slices, key)
	for _, p := range old.pods {
		svcs := m.pods[p]
		if svcs[old.service]--; svcs[old.service] <= 0 {
			delete(svcs, old.service)
		}
		if len(svcs) == 0 {
			delete(m.pods, p)
		}
		m.refresh(p)
	}
}

// refresh recomputes the pod's first Service. m.mu is held.
func (m *Map) refresh(p string) {
	svcs := m.pods[p]
	if len(svcs) == 0 {
		delete(m.first, p)
		return
	}
	names := make([]string, 0, len(svcs))
	for n := range svcs {
		names = append(names, n)
	}
	m.first[p] = slices.Min(names)
}
