package clustermetrics

import (
	"bufio"
	"context"
	"errors"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
)

// The objects of createCluster exist once per package run; every test that
// needs them asks want.
var (
	fixtureOnce sync.Once
	fixtureWant map[string]float64
)

func want(t *testing.T) map[string]float64 {
	t.Helper()
	fixtureOnce.Do(func() { fixtureWant = createCluster(t) })
	if fixtureWant == nil {
		t.Fatal("the cluster fixture failed in an earlier test")
	}
	return fixtureWant
}

func TestNewValidates(t *testing.T) {
	cs := cluster.Clientset()
	for name, o := range map[string]Options{
		"no client":          {LeaseNamespace: "ns", Identity: "a"},
		"no namespace":       {Client: cs, Identity: "a"},
		"no identity":        {Client: cs, LeaseNamespace: "ns"},
		"fractional lease":   {Client: cs, LeaseNamespace: "ns", Identity: "a", LeaseDuration: 2500 * time.Millisecond, RenewDeadline: time.Second, RetryPeriod: 100 * time.Millisecond},
		"renew >= lease":     {Client: cs, LeaseNamespace: "ns", Identity: "a", LeaseDuration: 10 * time.Second, RenewDeadline: 10 * time.Second},
		"retry too long":     {Client: cs, LeaseNamespace: "ns", Identity: "a", RetryPeriod: 9 * time.Second},
		"negative retry":     {Client: cs, LeaseNamespace: "ns", Identity: "a", RetryPeriod: -time.Second},
		"renew > lease deft": {Client: cs, LeaseNamespace: "ns", Identity: "a", RenewDeadline: 20 * time.Second},
	} {
		if _, err := New(o); err == nil {
			t.Errorf("%s: New accepted %+v", name, o)
		}
	}
	e, err := New(Options{Client: cs, LeaseNamespace: "ns", Identity: "a"})
	if err != nil {
		t.Fatal(err)
	}
	if e.opts.LeaseName != DefaultLeaseName || e.opts.LeaseDuration != DefaultLeaseDuration ||
		e.opts.RenewDeadline != DefaultRenewDeadline || e.opts.RetryPeriod != DefaultRetryPeriod {
		t.Errorf("defaults not applied: %+v", e.opts)
	}
}

func TestCounts(t *testing.T) {
	expect := want(t)
	cluster.EnsureNamespace(t, "kinsight-counts")
	e := start(t, newElector(t, cluster.Clientset(), "kinsight-counts", "lease", "agent-a"))
	eventually(t, 30*time.Second, "the only agent never reported", func() bool { return len(samples(t, e.Elector)) > 0 })
	if !e.IsLeader() {
		t.Error("reporting but IsLeader is false")
	}
	// The caches hold stripped objects (the package's memory claim).
	if inf := e.current(); inf != nil {
		p, err := inf.pods.Pods("shop").Get("web-1")
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Spec.Containers) != 0 || p.Labels != nil || p.ManagedFields != nil || len(p.OwnerReferences) != 1 || p.Status.Phase != corev1.PodRunning {
			t.Errorf("cached pod not stripped to owner and phase: %+v", p)
		}
	}
	got := samples(t, e.Elector)
	if d := diff(got, expect); d != "" || len(got) != len(expect) {
		t.Fatalf("metrics differ from the objects created:\n%s(got %d series, want %d: %v)", d, len(got), len(expect), got)
	}

	// Watches, not the initial list alone: a pod that starts running and
	// a node that becomes ready change the counts.
	ctx := context.Background()
	cs := cluster.Clientset()
	p, err := cs.CoreV1().Pods("shop").Get(ctx, "web-3", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	fixture{t: t, ctx: ctx, cs: cs}.setPhase(p, corev1.PodRunning)
	n, err := cs.CoreV1().Nodes().Get(ctx, "node-unknown", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range n.Status.Conditions {
		if n.Status.Conditions[i].Type == corev1.NodeReady {
			n.Status.Conditions[i].Status = corev1.ConditionTrue
		}
	}
	if _, err := cs.CoreV1().Nodes().UpdateStatus(ctx, n, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	after := maps.Clone(expect)
	after["cluster_failed_node_count{}"] = 2
	after["cluster_number_of_running_pods{}"] = 8
	after["namespace_number_of_running_pods{Namespace=shop}"] = 7
	after["service_number_of_running_pods{Namespace=shop,Service=web}"] = 3
	after["workload_number_of_running_pods{Kind=Deployment,Namespace=shop,PodName=web}"] = 3
	var last map[string]float64
	eventually(t, 30*time.Second, "watched changes not reflected", func() bool {
		last = samples(t, e.Elector)
		return diff(last, after) == ""
	})

	// Put the fixture back for the other tests, and wait until it shows.
	p, err = cs.CoreV1().Pods("shop").Get(ctx, "web-3", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	fixture{t: t, ctx: ctx, cs: cs}.setPhase(p, corev1.PodPending)
	n, err = cs.CoreV1().Nodes().Get(ctx, "node-unknown", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range n.Status.Conditions {
		if n.Status.Conditions[i].Type == corev1.NodeReady {
			n.Status.Conditions[i].Status = corev1.ConditionUnknown
		}
	}
	if _, err := cs.CoreV1().Nodes().UpdateStatus(ctx, n, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "restored fixture not reflected", func() bool { return diff(samples(t, e.Elector), expect) == "" })
}

// leaders returns the electors that say they lead.
func leaders(rs ...*running) []*running {
	var out []*running
	for _, r := range rs {
		if r.IsLeader() {
			out = append(out, r)
		}
	}
	return out
}

// TestHandoverOnCancel: two agents, exactly one leads and reports; the
// leader stops gracefully (releasing the Lease) and the other takes over
// with the same counts.
func TestHandoverOnCancel(t *testing.T) {
	expect := want(t)
	cluster.EnsureNamespace(t, "kinsight-handover")
	a := start(t, newElector(t, cluster.Clientset(), "kinsight-handover", "lease", "agent-a"))
	b := start(t, newElector(t, cluster.Clientset(), "kinsight-handover", "lease", "agent-b"))

	var leader, follower *running
	eventually(t, 30*time.Second, "no single reporting leader", func() bool {
		ls := leaders(a, b)
		if len(ls) != 1 || len(samples(t, ls[0].Elector)) == 0 {
			return false
		}
		leader, follower = ls[0], a
		if leader == a {
			follower = b
		}
		return true
	})
	// Stable: for a few retry periods the follower neither leads nor reports.
	for range 5 {
		time.Sleep(testRetry)
		if ls := leaders(a, b); len(ls) != 1 || ls[0] != leader {
			t.Fatalf("leadership changed without cause: %d leaders", len(ls))
		}
		if n := len(samples(t, follower.Elector)); n != 0 {
			t.Fatalf("the follower reports %d series", n)
		}
	}
	before := samples(t, leader.Elector)
	if d := diff(before, expect); d != "" {
		t.Fatalf("leader's metrics:\n%s", d)
	}

	// Followers watch nothing: a third agent that never leads ends no pod
	// watch when it stops (the API server counts a WATCH when it ends; the
	// informers' initial list is a streaming WATCH too). The leader's
	// stop below is the control that such ends are counted.
	c := start(t, newElector(t, cluster.Clientset(), "kinsight-handover", "lease", "agent-c"))
	time.Sleep(3 * testRetry)
	if c.IsLeader() {
		t.Fatal("a third agent leads")
	}
	watches := func() float64 { return cluster.RequestCount(t, "WATCH", "pods") }
	w0 := watches()
	c.stop(t)
	if w1 := watches(); w1 != w0 {
		t.Errorf("stopping a follower ended %v pod watches, want 0", w1-w0)
	}

	stopped := time.Now()
	leader.stop(t)
	eventually(t, 10*time.Second, "stopping the leader ended no pod watch", func() bool { return watches() > w0 })
	if leader.IsLeader() || len(samples(t, leader.Elector)) != 0 {
		t.Fatal("a stopped agent still leads or reports")
	}
	eventually(t, 30*time.Second, "the follower never took over", func() bool {
		return follower.IsLeader() && len(samples(t, follower.Elector)) > 0
	})
	took := time.Since(stopped)
	t.Logf("takeover after a graceful stop (lease released): %v", took)
	// A released Lease is taken at the follower's next retry, well within
	// one lease duration; the bound is loose so a loaded machine passes.
	if took > 2*testLease+testRenew {
		t.Errorf("takeover took %v, more than 2×lease + renew deadline", took)
	}
	if after := samples(t, follower.Elector); diff(after, before) != "" || len(after) != len(before) {
		t.Errorf("new leader's counts differ:\n%s", diff(after, before))
	}
}

// cutTransport fails every request while cut is set: an agent whose
// process was killed (or partitioned) stops renewing without releasing.
type cutTransport struct {
	next http.RoundTripper
	cut  *atomic.Bool
}

func (c cutTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if c.cut.Load() {
		return nil, errors.New("test: connection cut")
	}
	return c.next.RoundTrip(r)
}

// TestTakeoverAfterKill: the leader stops renewing without releasing the
// Lease; it stops reporting, and the other agent takes over once the lease
// expires and reports the same counts.
func TestTakeoverAfterKill(t *testing.T) {
	expect := want(t)
	cluster.EnsureNamespace(t, "kinsight-kill")
	var cut atomic.Bool
	conf := cluster.Admin()
	conf.WrapTransport = func(rt http.RoundTripper) http.RoundTripper { return cutTransport{next: rt, cut: &cut} }
	victimClient, err := kubernetes.NewForConfig(conf)
	if err != nil {
		t.Fatal(err)
	}
	victim := start(t, newElector(t, victimClient, "kinsight-kill", "lease", "agent-victim"))
	eventually(t, 30*time.Second, "the first agent never reported", func() bool { return len(samples(t, victim.Elector)) > 0 })
	other := start(t, newElector(t, cluster.Clientset(), "kinsight-kill", "lease", "agent-other"))
	time.Sleep(2 * testRetry)
	if other.IsLeader() {
		t.Fatal("the second agent leads while the first renews")
	}
	before := samples(t, victim.Elector)
	if d := diff(before, expect); d != "" {
		t.Fatalf("leader's metrics:\n%s", d)
	}

	cut.Store(true)
	killed := time.Now()
	eventually(t, 30*time.Second, "the cut-off leader kept reporting", func() bool {
		return !victim.IsLeader() && len(samples(t, victim.Elector)) == 0
	})
	t.Logf("cut-off leader stopped reporting after %v (renew deadline %v)", time.Since(killed), testRenew)
	eventually(t, 30*time.Second, "the other agent never took over", func() bool {
		return other.IsLeader() && len(samples(t, other.Elector)) > 0
	})
	took := time.Since(killed)
	t.Logf("takeover after the leader stopped renewing: %v (lease %v)", took, testLease)
	// Expected: the lease duration plus up to a retry period or two; the
	// bound leaves room for a loaded machine.
	if took > 3*testLease {
		t.Errorf("takeover took %v, more than 3× the lease duration", took)
	}
	if after := samples(t, other.Elector); diff(after, before) != "" || len(after) != len(before) {
		t.Errorf("new leader's counts differ:\n%s", diff(after, before))
	}
}

// TestDeployRBAC runs an agent with a token of the service account of
// deploy/kinsight-agent.yaml, bound to the ClusterRole and Role found
// there: if they miss a permission, the Lease cannot be taken or a cache
// never syncs, and no metrics appear.
func TestDeployRBAC(t *testing.T) {
	expect := want(t)
	ctx := context.Background()
	cs := cluster.Clientset()
	ns, sa := "", ""
	for _, obj := range deployObjects(t) {
		var err error
		switch o := obj.(type) {
		case *corev1.Namespace:
			cluster.EnsureNamespace(t, o.Name)
		case *corev1.ServiceAccount:
			cluster.EnsureNamespace(t, o.Namespace)
			ns, sa = o.Namespace, o.Name
			_, err = cs.CoreV1().ServiceAccounts(o.Namespace).Create(ctx, o, metav1.CreateOptions{})
		case *rbacv1.ClusterRole:
			_, err = cs.RbacV1().ClusterRoles().Create(ctx, o, metav1.CreateOptions{})
		case *rbacv1.ClusterRoleBinding:
			_, err = cs.RbacV1().ClusterRoleBindings().Create(ctx, o, metav1.CreateOptions{})
		case *rbacv1.Role:
			cluster.EnsureNamespace(t, o.Namespace)
			_, err = cs.RbacV1().Roles(o.Namespace).Create(ctx, o, metav1.CreateOptions{})
		case *rbacv1.RoleBinding:
			_, err = cs.RbacV1().RoleBindings(o.Namespace).Create(ctx, o, metav1.CreateOptions{})
		}
		// AlreadyExists: an earlier run (-count) against the same cluster.
		if err != nil && !apierrors.IsAlreadyExists(err) {
			t.Fatal(err)
		}
	}
	if sa == "" {
		t.Fatal("no ServiceAccount in deploy/kinsight-agent.yaml")
	}
	expiry := int64(3600)
	tr, err := cs.CoreV1().ServiceAccounts(ns).CreateToken(ctx, sa, &authenticationv1.TokenRequest{
		Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: &expiry}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	agentClient, err := kubernetes.NewForConfig(cluster.Config(tr.Status.Token))
	if err != nil {
		t.Fatal(err)
	}
	// The default Lease name, as the agent will use it.
	e, err := New(Options{Client: agentClient, ClusterName: "test-cluster", LeaseNamespace: ns, Identity: "node-ready",
		Logger:        slog.New(slog.NewTextHandler(io.Discard, nil)),
		LeaseDuration: testLease, RenewDeadline: testRenew, RetryPeriod: testRetry})
	if err != nil {
		t.Fatal(err)
	}
	r := start(t, e)
	eventually(t, 30*time.Second, "the agent's service account never reported (RBAC missing?)", func() bool {
		return len(samples(t, r.Elector)) > 0
	})
	if d := diff(samples(t, r.Elector), expect); d != "" {
		t.Errorf("metrics with the agent's RBAC:\n%s", d)
	}
	lease, err := cs.CoordinationV1().Leases(ns).Get(ctx, DefaultLeaseName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if h := lease.Spec.HolderIdentity; h == nil || *h != "node-ready" {
		t.Errorf("lease holder %v, want node-ready", h)
	}
}

// deployObjects decodes the RBAC-related objects of the agent's manifest.
func deployObjects(t *testing.T) []any {
	t.Helper()
	f, err := os.Open(filepath.Join("..", "..", "..", "deploy", "kinsight-agent.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rd := utilyaml.NewYAMLReader(bufio.NewReader(f))
	var out []any
	for {
		doc, err := rd.Read()
		if errors.Is(err, io.EOF) {
			return out
		} else if err != nil {
			t.Fatal(err)
		}
		obj, _, err := scheme.Codecs.UniversalDeserializer().Decode(doc, nil, nil)
		if err != nil {
			t.Fatalf("deploy/kinsight-agent.yaml: %v", err)
		}
		switch obj.(type) {
		case *corev1.Namespace, *corev1.ServiceAccount, *rbacv1.ClusterRole, *rbacv1.ClusterRoleBinding, *rbacv1.Role, *rbacv1.RoleBinding:
			out = append(out, obj)
		}
	}
}

// syncBuffer is a goroutine-safe log sink.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestMissingPermission: a leader whose role lacks one resource leads but
// reports nothing (never a partial count), and says which cache waits.
func TestMissingPermission(t *testing.T) {
	want(t)
	const ns = "kinsight-norbac"
	token := cluster.ServiceAccountToken(t, ns, "agent", []rbacv1.PolicyRule{
		{APIGroups: []string{""}, Resources: []string{"pods", "nodes"}, Verbs: []string{"list", "watch"}},
		{APIGroups: []string{"discovery.k8s.io"}, Resources: []string{"endpointslices"}, Verbs: []string{"list", "watch"}},
		{APIGroups: []string{"apps"}, Resources: []string{"deployments", "daemonsets", "replicasets"}, Verbs: []string{"list", "watch"}},
		{APIGroups: []string{"coordination.k8s.io"}, Resources: []string{"leases"}, Verbs: []string{"get", "create", "update"}},
	})
	client, err := kubernetes.NewForConfig(cluster.Config(token))
	if err != nil {
		t.Fatal(err)
	}
	var logs syncBuffer
	e, err := New(Options{Client: client, ClusterName: "test-cluster", LeaseNamespace: ns, Identity: "a",
		Logger:        slog.New(slog.NewTextHandler(&logs, nil)),
		LeaseDuration: testLease, RenewDeadline: testRenew, RetryPeriod: testRetry})
	if err != nil {
		t.Fatal(err)
	}
	e.syncWarnAfter = time.Second
	r := start(t, e)
	eventually(t, 30*time.Second, "no warning naming the unsynced cache", func() bool {
		return strings.Contains(logs.String(), "resources=[statefulsets]")
	})
	if !r.IsLeader() {
		t.Error("not leading")
	}
	if n := len(samples(t, r.Elector)); n != 0 {
		t.Errorf("%d series reported from partly synced caches", n)
	}
}
