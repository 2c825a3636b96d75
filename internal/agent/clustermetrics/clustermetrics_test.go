package clustermetrics

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"

	"github.com/kinsight/kinsight/internal/testkube"
)

// cluster is the package's one control plane (TestMain): starting one per
// test would cost most of the package's time budget.
var cluster *testkube.Cluster

func TestMain(m *testing.M) {
	if os.Getenv(helperEnvURL) != "" {
		os.Exit(helperProcess())
	}
	c, stop, err := testkube.StartMain()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	cluster = c
	code := m.Run()
	if code != 0 {
		fmt.Fprintln(os.Stderr, c.LogTails())
	}
	stop()
	os.Exit(code)
}

// Test durations: the Lease stores whole seconds, so 3 s is about the
// shortest lease that tolerates a slow renewal on a loaded CI machine.
const (
	testLease = 3 * time.Second
	testRenew = 2 * time.Second
	testRetry = 500 * time.Millisecond
)

// newElector returns an Elector with the test durations.
func newElector(t *testing.T, client kubernetes.Interface, leaseNS, lease, id string) *Elector {
	t.Helper()
	e, err := New(Options{
		Client: client, ClusterName: "test-cluster",
		LeaseNamespace: leaseNS, LeaseName: lease, Identity: id,
		Logger:        slog.New(slog.NewTextHandler(io.Discard, nil)),
		LeaseDuration: testLease, RenewDeadline: testRenew, RetryPeriod: testRetry,
	})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// running is an Elector campaigning in the background.
type running struct {
	*Elector
	cancel context.CancelFunc
	done   chan error
}

// start runs e until the test ends or stop is called.
func start(t *testing.T, e *Elector) *running {
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{Elector: e, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- e.Run(ctx) }()
	t.Cleanup(func() { r.stop(t) })
	return r
}

// stop cancels Run and waits for it; idempotent.
func (r *running) stop(t *testing.T) {
	r.cancel()
	select {
	case err, ok := <-r.done:
		if !ok {
			return // stopped before
		}
		if err != nil {
			t.Errorf("Run: %v", err)
		}
		close(r.done)
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return 30 s after its context was cancelled")
	}
}

// samples gathers e through a pedantic registry (which checks Describe
// against Collect) as "name{label=value,…}" → value, ClusterName left out
// after checking it.
func samples(t *testing.T, e *Elector) map[string]float64 {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(e)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			var ls []string
			for _, l := range m.GetLabel() {
				if l.GetName() == "ClusterName" {
					if l.GetValue() != "test-cluster" {
						t.Errorf("%s: ClusterName %q", mf.GetName(), l.GetValue())
					}
					continue
				}
				ls = append(ls, l.GetName()+"="+l.GetValue())
			}
			out[mf.GetName()+"{"+strings.Join(ls, ",")+"}"] = m.GetGauge().GetValue()
		}
	}
	return out
}

// eventually polls cond every 100 ms until it holds or timeout passes.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %s", timeout, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// subset returns the samples of got whose keys are in want, for messages.
func diff(got, want map[string]float64) string {
	var b strings.Builder
	for _, k := range slices.Sorted(maps.Keys(want)) {
		if g, ok := got[k]; !ok || g != want[k] {
			fmt.Fprintf(&b, "  %s: got %v (present %v), want %v\n", k, g, ok, want[k])
		}
	}
	return b.String()
}

// fixture creates, through the API, the objects of TestCounts. Nothing
// runs controllers here, so statuses are written as a kubelet or
// controller would.
type fixture struct {
	t   *testing.T
	ctx context.Context
	cs  kubernetes.Interface
}

func (f fixture) node(name string, ready corev1.ConditionStatus) {
	n, err := f.cs.CoreV1().Nodes().Create(f.ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	if err != nil {
		f.t.Fatal(err)
	}
	if ready == "" {
		return // never reported: no Ready condition
	}
	n.Status.Conditions = []corev1.NodeCondition{
		{Type: corev1.NodeMemoryPressure, Status: corev1.ConditionFalse},
		{Type: corev1.NodeReady, Status: ready},
	}
	if _, err := f.cs.CoreV1().Nodes().UpdateStatus(f.ctx, n, metav1.UpdateOptions{}); err != nil {
		f.t.Fatal(err)
	}
}

func (f fixture) pod(ns, name string, phase corev1.PodPhase, owner *metav1.OwnerReference) {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: map[string]string{"app": "x"}},
		Spec: corev1.PodSpec{NodeName: "node-ready",
			Containers: []corev1.Container{{Name: "c", Image: "busybox"}}},
	}
	if owner != nil {
		p.OwnerReferences = []metav1.OwnerReference{*owner}
	}
	p, err := f.cs.CoreV1().Pods(ns).Create(f.ctx, p, metav1.CreateOptions{})
	if err != nil {
		f.t.Fatal(err)
	}
	f.setPhase(p, phase)
}

func (f fixture) setPhase(p *corev1.Pod, phase corev1.PodPhase) {
	p.Status.Phase = phase
	if _, err := f.cs.CoreV1().Pods(p.Namespace).UpdateStatus(f.ctx, p, metav1.UpdateOptions{}); err != nil {
		f.t.Fatal(err)
	}
}

// controller returns a controlling owner reference.
func controller(kind string, name string, uid types.UID) *metav1.OwnerReference {
	yes := true
	api := "apps/v1"
	return &metav1.OwnerReference{APIVersion: api, Kind: kind, Name: name, UID: uid, Controller: &yes}
}

func template() corev1.PodTemplateSpec {
	return corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "x"}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox"}}},
	}
}

var selector = &metav1.LabelSelector{MatchLabels: map[string]string{"app": "x"}}

func (f fixture) deployment(ns, name string, replicas *int32, status appsv1.DeploymentStatus) types.UID {
	d, err := f.cs.AppsV1().Deployments(ns).Create(f.ctx, &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec:       appsv1.DeploymentSpec{Replicas: replicas, Selector: selector, Template: template()},
	}, metav1.CreateOptions{})
	if err != nil {
		f.t.Fatal(err)
	}
	d.Status = status
	if _, err := f.cs.AppsV1().Deployments(ns).UpdateStatus(f.ctx, d, metav1.UpdateOptions{}); err != nil {
		f.t.Fatal(err)
	}
	return d.UID
}

func (f fixture) replicaSet(ns, name string, owner *metav1.OwnerReference) types.UID {
	one := int32(1)
	rs := &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec:       appsv1.ReplicaSetSpec{Replicas: &one, Selector: selector, Template: template()},
	}
	if owner != nil {
		rs.OwnerReferences = []metav1.OwnerReference{*owner}
	}
	rs, err := f.cs.AppsV1().ReplicaSets(ns).Create(f.ctx, rs, metav1.CreateOptions{})
	if err != nil {
		f.t.Fatal(err)
	}
	return rs.UID
}

func (f fixture) daemonSet(ns, name string, status appsv1.DaemonSetStatus) types.UID {
	d, err := f.cs.AppsV1().DaemonSets(ns).Create(f.ctx, &appsv1.DaemonSet{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec:       appsv1.DaemonSetSpec{Selector: selector, Template: template()},
	}, metav1.CreateOptions{})
	if err != nil {
		f.t.Fatal(err)
	}
	d.Status = status
	if _, err := f.cs.AppsV1().DaemonSets(ns).UpdateStatus(f.ctx, d, metav1.UpdateOptions{}); err != nil {
		f.t.Fatal(err)
	}
	return d.UID
}

func (f fixture) statefulSet(ns, name string) types.UID {
	s, err := f.cs.AppsV1().StatefulSets(ns).Create(f.ctx, &appsv1.StatefulSet{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec:       appsv1.StatefulSetSpec{Selector: selector, Template: template(), ServiceName: name},
	}, metav1.CreateOptions{})
	if err != nil {
		f.t.Fatal(err)
	}
	return s.UID
}

// slice creates an EndpointSlice of service (none: no service-name label)
// pointing at pods.
func (f fixture) slice(ns, name, service string, family discoveryv1.AddressType, pods ...string) {
	s := &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Name: name, Namespace: ns},
		AddressType: family,
		Endpoints:   []discoveryv1.Endpoint{},
	}
	if service != "" {
		s.Labels = map[string]string{discoveryv1.LabelServiceName: service}
	}
	for i, p := range pods {
		addr := fmt.Sprintf("10.0.0.%d", i+1)
		if family == discoveryv1.AddressTypeIPv6 {
			addr = fmt.Sprintf("fd00::%d", i+1)
		}
		s.Endpoints = append(s.Endpoints, discoveryv1.Endpoint{
			Addresses: []string{addr},
			TargetRef: &corev1.ObjectReference{Kind: "Pod", Namespace: ns, Name: p},
		})
	}
	if _, err := f.cs.DiscoveryV1().EndpointSlices(ns).Create(f.ctx, s, metav1.CreateOptions{}); err != nil {
		f.t.Fatal(err)
	}
}

// createCluster creates TestCounts' objects and returns the metrics they
// must give.
func createCluster(t *testing.T) map[string]float64 {
	ctx := context.Background()
	f := fixture{t: t, ctx: ctx, cs: cluster.Clientset()}
	cluster.EnsureNamespace(t, "shop")
	cluster.EnsureNamespace(t, "batch")

	f.node("node-ready", corev1.ConditionTrue)
	f.node("node-notready", corev1.ConditionFalse)
	f.node("node-unknown", corev1.ConditionUnknown)
	f.node("node-new", "")

	three, zero := int32(3), int32(0)
	web := f.deployment("shop", "web", &three, appsv1.DeploymentStatus{
		Replicas: 3, UpdatedReplicas: 3, ReadyReplicas: 2, AvailableReplicas: 2, UnavailableReplicas: 1})
	f.deployment("shop", "idle", nil, appsv1.DeploymentStatus{}) // spec.replicas defaults to 1
	f.deployment("shop", "scaled-down", &zero, appsv1.DeploymentStatus{})
	webRS := f.replicaSet("shop", "web-6d4cf56db6", controller("Deployment", "web", web))
	orphanRS := f.replicaSet("shop", "orphan-rs", nil)
	ds := f.daemonSet("shop", "logs", appsv1.DaemonSetStatus{
		DesiredNumberScheduled: 4, CurrentNumberScheduled: 3, NumberReady: 2, NumberAvailable: 2, NumberUnavailable: 2})
	db := f.statefulSet("shop", "db")

	rs := controller("ReplicaSet", "web-6d4cf56db6", webRS)
	f.pod("shop", "web-1", corev1.PodRunning, rs)
	f.pod("shop", "web-2", corev1.PodRunning, rs)
	f.pod("shop", "web-3", corev1.PodPending, rs)
	f.pod("shop", "logs-a", corev1.PodRunning, controller("DaemonSet", "logs", ds))
	f.pod("shop", "logs-b", corev1.PodFailed, controller("DaemonSet", "logs", ds))
	f.pod("shop", "db-0", corev1.PodRunning, controller("StatefulSet", "db", db))
	f.pod("shop", "bare", corev1.PodRunning, nil)
	f.pod("shop", "orphan", corev1.PodRunning, controller("ReplicaSet", "orphan-rs", orphanRS))
	f.pod("shop", "done", corev1.PodSucceeded, nil)
	f.pod("batch", "job-1", corev1.PodRunning, nil)
	f.pod("batch", "job-2", corev1.PodPending, nil)
	f.pod("batch", "job-3", corev1.PodFailed, nil)

	// Dual stack: web's pods appear in an IPv4 and an IPv6 slice and count
	// once; a pod that does not exist counts nothing.
	f.slice("shop", "web-v4", "web", discoveryv1.AddressTypeIPv4, "web-1", "web-2", "web-3", "gone")
	f.slice("shop", "web-v6", "web", discoveryv1.AddressTypeIPv6, "web-1", "web-2")
	f.slice("shop", "db-v4", "db", discoveryv1.AddressTypeIPv4, "db-0")
	f.slice("shop", "empty-v4", "empty", discoveryv1.AddressTypeIPv4)
	f.slice("shop", "custom", "", discoveryv1.AddressTypeIPv4, "bare")

	return map[string]float64{
		"cluster_node_count{}":                                         4,
		"cluster_failed_node_count{}":                                  3,
		"cluster_number_of_running_pods{}":                             7,
		"namespace_number_of_running_pods{Namespace=shop}":             6,
		"namespace_number_of_running_pods{Namespace=batch}":            1,
		"service_number_of_running_pods{Namespace=shop,Service=web}":   2,
		"service_number_of_running_pods{Namespace=shop,Service=db}":    1,
		"service_number_of_running_pods{Namespace=shop,Service=empty}": 0,
		// The API server's own Service: its slice points at the API
		// server's address, not at a pod.
		"service_number_of_running_pods{Namespace=default,Service=kubernetes}": 0,

		"workload_number_of_running_pods{Kind=Deployment,Namespace=shop,PodName=web}":         2,
		"workload_number_of_running_pods{Kind=Deployment,Namespace=shop,PodName=idle}":        0,
		"workload_number_of_running_pods{Kind=Deployment,Namespace=shop,PodName=scaled-down}": 0,
		"workload_number_of_running_pods{Kind=DaemonSet,Namespace=shop,PodName=logs}":         1,
		"workload_number_of_running_pods{Kind=StatefulSet,Namespace=shop,PodName=db}":         1,

		"deployment_spec_replicas{Namespace=shop,PodName=web}":                       3,
		"deployment_status_replicas{Namespace=shop,PodName=web}":                     3,
		"deployment_status_replicas_available{Namespace=shop,PodName=web}":           2,
		"deployment_status_replicas_unavailable{Namespace=shop,PodName=web}":         1,
		"deployment_spec_replicas{Namespace=shop,PodName=idle}":                      1,
		"deployment_status_replicas{Namespace=shop,PodName=idle}":                    0,
		"deployment_status_replicas_available{Namespace=shop,PodName=idle}":          0,
		"deployment_status_replicas_unavailable{Namespace=shop,PodName=idle}":        0,
		"deployment_spec_replicas{Namespace=shop,PodName=scaled-down}":               0,
		"deployment_status_replicas{Namespace=shop,PodName=scaled-down}":             0,
		"deployment_status_replicas_available{Namespace=shop,PodName=scaled-down}":   0,
		"deployment_status_replicas_unavailable{Namespace=shop,PodName=scaled-down}": 0,

		"daemonset_status_desired_number_scheduled{Namespace=shop,PodName=logs}": 4,
		"daemonset_status_current_number_scheduled{Namespace=shop,PodName=logs}": 3,
		"daemonset_status_number_available{Namespace=shop,PodName=logs}":         2,
		"daemonset_status_number_unavailable{Namespace=shop,PodName=logs}":       2,
	}
}
