package clustermetrics

import (
	"fmt"
	"syscall"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	appslisters "k8s.io/client-go/listers/apps/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	discoverylisters "k8s.io/client-go/listers/discovery/v1"
	"k8s.io/client-go/tools/cache"
)

// syntheticCaches fills in-memory caches, as the informers would after
// strip, with a cluster of the given size: nodes, and per namespace
// deployments of podsPerDeploy pods (through a ReplicaSet) each behind a
// Service with one EndpointSlice.
func syntheticCaches(b *testing.B, nodes, namespaces, deploysPerNS, podsPerDeploy int) *caches {
	idx := func() cache.Indexer {
		return cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc})
	}
	nodeIdx, podIdx, sliceIdx, depIdx, rsIdx, dsIdx, ssIdx := idx(), idx(), idx(), idx(), idx(), idx(), idx()
	add := func(i cache.Indexer, obj any) {
		if err := i.Add(obj); err != nil {
			b.Fatal(err)
		}
	}
	yes := true
	for n := range nodes {
		add(nodeIdx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("node-%d", n)},
			Status: corev1.NodeStatus{Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}}}})
	}
	for ns := range namespaces {
		namespace := fmt.Sprintf("ns-%d", ns)
		add(dsIdx, &appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: "agent"}})
		for d := range deploysPerNS {
			name := fmt.Sprintf("app-%d", d)
			depUID, rsUID := types.UID(namespace+name), types.UID(namespace+name+"-rs")
			add(depIdx, &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name, UID: depUID}})
			add(rsIdx, &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name + "-rs", UID: rsUID,
				OwnerReferences: []metav1.OwnerReference{{Kind: "Deployment", Name: name, UID: depUID, Controller: &yes}}}})
			slice := &discoveryv1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name + "-v4",
				Labels: map[string]string{discoveryv1.LabelServiceName: name}}}
			for p := range podsPerDeploy {
				pod := fmt.Sprintf("%s-rs-%d", name, p)
				add(podIdx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: pod,
					OwnerReferences: []metav1.OwnerReference{{Kind: "ReplicaSet", Name: name + "-rs", UID: rsUID, Controller: &yes}}},
					Status: corev1.PodStatus{Phase: corev1.PodRunning}})
				slice.Endpoints = append(slice.Endpoints, discoveryv1.Endpoint{TargetRef: &corev1.ObjectReference{Kind: "Pod", Namespace: namespace, Name: pod}})
			}
			add(sliceIdx, slice)
		}
	}
	return &caches{
		nodes:        corelisters.NewNodeLister(nodeIdx),
		pods:         corelisters.NewPodLister(podIdx),
		slices:       discoverylisters.NewEndpointSliceLister(sliceIdx),
		deployments:  appslisters.NewDeploymentLister(depIdx),
		replicaSets:  appslisters.NewReplicaSetLister(rsIdx),
		daemonSets:   appslisters.NewDaemonSetLister(dsIdx),
		statefulSets: appslisters.NewStatefulSetLister(ssIdx),
	}
}

// BenchmarkCollect measures one scrape of a leader's metrics for a
// 100-node cluster with 5,000 pods (50 namespaces × 20 Deployments × 5
// pods, each Deployment behind a Service).
func BenchmarkCollect(b *testing.B) {
	e := &Elector{opts: Options{ClusterName: "bench"}, descs: newDescs()}
	e.state = syntheticCaches(b, 100, 50, 20, 5)
	ch := make(chan prometheus.Metric, 4096)
	done := make(chan int)
	go func() {
		n := 0
		for range ch {
			n++
		}
		done <- n
	}()
	b.ReportAllocs()
	cpu0 := processCPU(b)
	for b.Loop() {
		e.Collect(ch)
	}
	// CPU time, not wall time: the machine is shared, and the consumer
	// goroutine and GC are part of a scrape's cost.
	b.ReportMetric(float64(processCPU(b)-cpu0)/float64(b.N), "cpu-ns/op")
	close(ch)
	if n := <-done; n == 0 {
		b.Fatal("no series")
	} else {
		b.ReportMetric(float64(n)/float64(b.N), "series/op")
	}
}

// processCPU is the process's user+system CPU time in nanoseconds.
func processCPU(b *testing.B) int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}
