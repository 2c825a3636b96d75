package kube

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"

	"github.com/kinsight/kinsight/internal/testkube"
)

const (
	testNode  = "node-a"
	otherNode = "node-b"
	testNS    = "shop"
	deleteTTL = time.Second
)

// podSpec is one test pod and what the watcher should report for it.
type podSpec struct {
	name        string
	owner       *metav1.OwnerReference
	labels      map[string]string
	annotations map[string]string
	wantKind    string
	wantOwner   string
}

// TestWatcher runs the watcher against a real kube-apiserver with a
// service-account token that may only list and watch pods, and checks
// metadata, node scoping, late pods, deletion TTL and that lookups never
// reach the API server.
func TestWatcher(t *testing.T) {
	c := testkube.Start(t)
	t.Logf("control plane ready in %v", c.StartupTime)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cs := c.Clientset()
	c.EnsureNamespace(t, testNS)

	owners := createOwners(ctx, t, cs)
	pods := []podSpec{
		{name: "web-7d4b9c8f6-x2x9q", owner: owners["rs"], labels: map[string]string{"app": "web", "pod-template-hash": "7d4b9c8f6"},
			annotations: map[string]string{"kinsight.io/parser": "json"}, wantKind: "Deployment", wantOwner: "web"},
		{name: "db-0", owner: owners["sts"], labels: map[string]string{"app": "db"}, wantKind: "StatefulSet", wantOwner: "db"},
		{name: "agent-k8x2p", owner: owners["ds"], wantKind: "DaemonSet", wantOwner: "agent"},
		{name: "migrate-abcde", owner: owners["job"], wantKind: "Job", wantOwner: "migrate"},
		{name: "backup-cron", owner: owners["cronjob-job"], wantKind: "CronJob", wantOwner: "backup"},
		{name: "bare", annotations: map[string]string{"kinsight.io/exclude": "true"}},
	}
	for _, p := range pods {
		createPod(ctx, t, cs, p, testNode)
	}
	createPod(ctx, t, cs, podSpec{name: "elsewhere"}, otherNode)

	// Only list and watch on pods: a GET per record would be refused, and
	// the request counters below prove none is attempted.
	token := c.ServiceAccountToken(t, "kinsight", "agent", []rbacv1.PolicyRule{{
		APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"list", "watch"},
	}})
	getsBefore := c.RequestCount(t, "GET", "pods")
	listsBefore := c.RequestCount(t, "LIST", "pods")
	watchesBefore := c.RequestCount(t, "WATCH", "pods")

	reg := prometheus.NewPedanticRegistry()
	w, err := New(Config{Kubeconfig: c.Kubeconfig(t, token), NodeName: testNode, DeletedTTL: deleteTTL},
		slog.New(slog.NewTextHandler(testWriter{t}, nil)), reg)
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	runDone := make(chan error, 1)
	go func() { runDone <- w.Run(runCtx) }()
	defer func() { stop(); <-runDone }()
	if !w.WaitForSync(ctx) {
		t.Fatal("watcher did not sync")
	}
	if err := w.Run(ctx); err == nil {
		t.Error("second Run: want an error")
	}

	t.Run("initial pods", func(t *testing.T) {
		for _, want := range pods {
			got, ok := w.Pod(testNS, want.name)
			if !ok {
				t.Errorf("pod %s not found", want.name)
				continue
			}
			if got.OwnerKind != want.wantKind || got.OwnerName != want.wantOwner {
				t.Errorf("%s owner = %s/%s, want %s/%s", want.name, got.OwnerKind, got.OwnerName, want.wantKind, want.wantOwner)
			}
			if got.Host != testNode || got.Namespace != testNS || got.UID == "" {
				t.Errorf("%s: host %q namespace %q uid %q", want.name, got.Host, got.Namespace, got.UID)
			}
			if !maps.Equal(got.Labels, want.labels) || !maps.Equal(got.Annotations, want.annotations) {
				t.Errorf("%s: labels %v annotations %v, want %v %v", want.name, got.Labels, got.Annotations, want.labels, want.annotations)
			}
			app := got.Containers["app"]
			wantApp := Container{Name: "app", ID: "cid-" + want.name, Image: "docker.io/library/nginx:1.27",
				ImageID: "docker.io/library/nginx@sha256:abc"}
			if app != wantApp || got.Containers["init"].Image != "busybox:1.36" {
				t.Errorf("%s containers = %+v, want app %+v", want.name, got.Containers, wantApp)
			}
		}
		if p, _ := w.Pod(testNS, "bare"); !p.Excluded("app") {
			t.Error("bare pod's exclude annotation lost")
		}
		if p, _ := w.Pod(testNS, pods[0].name); p.Parser("app") != "json" {
			t.Error("web pod's parser annotation lost")
		}
		if got := testutil.ToFloat64(w.podsGauge); got != float64(len(pods)) {
			t.Errorf("kinsight_agent_kube_pods = %v, want %d", got, len(pods))
		}
	})

	t.Run("other node never seen", func(t *testing.T) {
		if _, ok := w.Pod(testNS, "elsewhere"); ok {
			t.Error("a pod of another node is visible")
		}
		// A pod moved to this node later is not possible (nodeName is
		// immutable once set), so creating one more on the other node is
		// the only other way it could show up.
		createPod(ctx, t, cs, podSpec{name: "elsewhere-2"}, otherNode)
	})

	t.Run("pod created after start", func(t *testing.T) {
		createPod(ctx, t, cs, podSpec{name: "late", labels: map[string]string{"v": "1"}}, testNode)
		// createPod sets the container statuses in a second request: wait
		// for the update that carries them.
		p := waitFor(t, func() (*Pod, bool) {
			p, ok := w.Pod(testNS, "late")
			return p, ok && p.Containers["app"].ID != ""
		})
		if p.Labels["v"] != "1" || p.Containers["app"].ID != "cid-late" {
			t.Errorf("late pod = %+v", p)
		}
		// An update builds a new Pod; the one handed out stays as it was.
		patch := []byte(`{"metadata":{"labels":{"v":"2"}}}`)
		if _, err := cs.CoreV1().Pods(testNS).Patch(ctx, "late", types.StrategicMergePatchType, patch, metav1.PatchOptions{}); err != nil {
			t.Fatal(err)
		}
		p2 := waitFor(t, func() (*Pod, bool) {
			p, ok := w.Pod(testNS, "late")
			return p, ok && p.Labels["v"] == "2"
		})
		if p.Labels["v"] != "1" || p2 == p {
			t.Errorf("update modified a Pod already handed out: old %v new %v", p.Labels, p2.Labels)
		}
		// elsewhere-2 was created before late, so had it been delivered it
		// would be here by now.
		if _, ok := w.Pod(testNS, "elsewhere-2"); ok {
			t.Error("a pod created on another node after start is visible")
		}
	})

	t.Run("deleted pod stays for the TTL", func(t *testing.T) {
		deletes := testutil.ToFloat64(w.events.WithLabelValues("delete"))
		// Without a kubelet to confirm, only a zero grace period removes a
		// pod bound to a node.
		zero := int64(0)
		if err := cs.CoreV1().Pods(testNS).Delete(ctx, "db-0", metav1.DeleteOptions{GracePeriodSeconds: &zero}); err != nil {
			t.Fatal(err)
		}
		waitFor(t, func() (*Pod, bool) { return nil, testutil.ToFloat64(w.events.WithLabelValues("delete")) > deletes })
		seen := time.Now()
		p, ok := w.Pod(testNS, "db-0")
		if !ok || p.OwnerKind != "StatefulSet" {
			t.Fatalf("deleted pod gone at once: %+v %v", p, ok)
		}
		if byUID, ok := w.PodByUID(p.UID); !ok || byUID.Name != "db-0" {
			t.Errorf("deleted pod by UID: %+v %v", byUID, ok)
		}
		if got := testutil.ToFloat64(w.podsGauge); got != float64(len(pods)) { // +late -db-0
			t.Errorf("kinsight_agent_kube_pods = %v, want %d", got, len(pods))
		}
		waitFor(t, func() (*Pod, bool) { _, ok := w.Pod(testNS, "db-0"); return nil, !ok })
		if held := time.Since(seen); held < deleteTTL/2 {
			t.Errorf("deleted pod kept for %v, want about %v", held, deleteTTL)
		}
	})

	t.Run("lookups never call the API server", func(t *testing.T) {
		for i := range 20000 {
			if _, ok := w.Pod(testNS, pods[i%len(pods)].name); !ok && pods[i%len(pods)].name != "db-0" {
				t.Fatalf("lookup %d failed", i)
			}
			w.Pod(testNS, fmt.Sprintf("unknown-%d", i)) // misses must not call it either
		}
		// A WATCH is counted when it ends: stop the watcher first.
		stop()
		if err := <-runDone; err != nil {
			t.Errorf("Run = %v", err)
		}
		runDone <- nil // for the deferred cleanup
		var watches float64
		deadline := time.Now().Add(15 * time.Second)
		for watches < 1 && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
			watches = c.RequestCount(t, "WATCH", "pods") - watchesBefore
		}
		gets := c.RequestCount(t, "GET", "pods") - getsBefore
		lists := c.RequestCount(t, "LIST", "pods") - listsBefore
		t.Logf("API requests on pods during the run: GET %v, LIST %v, WATCH %v", gets, lists, watches)
		if gets != 0 || lists > 2 || watches < 1 {
			t.Errorf("requests on pods: GET %v (want 0), LIST %v (want ≤ 2), WATCH %v (want ≥ 1)", gets, lists, watches)
		}
		if n := testutil.ToFloat64(w.watchErrors); n != 0 {
			t.Errorf("watch errors = %v, want 0", n)
		}
	})

	t.Run("missing RBAC is counted, not fatal", func(t *testing.T) {
		// After the request counts: refused requests are not counted there.
		token := c.ServiceAccountToken(t, "kinsight", "nobody", nil)
		w, err := NewForConfig(c.Config(token), Config{NodeName: testNode}, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		runCtx, stop := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- w.Run(runCtx) }()
		waitFor(t, func() (*Pod, bool) { return nil, testutil.ToFloat64(w.watchErrors) > 0 })
		syncCtx, syncCancel := context.WithTimeout(ctx, 300*time.Millisecond)
		defer syncCancel()
		if w.WaitForSync(syncCtx) {
			t.Error("synced without permission to list pods")
		}
		stop()
		if err := <-done; err != nil {
			t.Errorf("Run = %v", err)
		}
	})

	if n, err := testutil.GatherAndCount(reg, "kinsight_agent_kube_pods", "kinsight_agent_kube_events_total"); err != nil || n != 4 {
		t.Errorf("registered metric series = %d, %v; want 4", n, err)
	}
}

func TestConfigErrors(t *testing.T) {
	for _, cfg := range []Config{{}, {NodeName: "n", DeletedTTL: -time.Second}} {
		if _, err := NewForConfig(nil, cfg, nil, nil); err == nil {
			t.Errorf("NewForConfig(%+v): want an error", cfg)
		}
	}
	if _, err := New(Config{NodeName: "n", Kubeconfig: "/nonexistent/kubeconfig"}, nil, nil); err == nil ||
		!strings.Contains(err.Error(), "kubernetes client configuration") {
		t.Errorf("New with a missing kubeconfig: err = %v", err)
	}
	t.Setenv("KUBERNETES_SERVICE_HOST", "")
	if _, err := New(Config{NodeName: "n"}, nil, nil); err == nil {
		t.Error("New outside a cluster without a kubeconfig: want an error")
	}
}

// createOwners creates the workload objects the test pods point to and
// returns an owner reference (controller) to each.
func createOwners(ctx context.Context, t *testing.T, cs kubernetes.Interface) map[string]*metav1.OwnerReference {
	t.Helper()
	sel := &metav1.LabelSelector{MatchLabels: map[string]string{"app": "x"}}
	tmpl := corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "x"}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "nginx"}}},
	}
	yes := true
	ref := func(kind string, m metav1.ObjectMeta, apiVersion string) *metav1.OwnerReference {
		return &metav1.OwnerReference{APIVersion: apiVersion, Kind: kind, Name: m.Name, UID: m.UID, Controller: &yes}
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	out := map[string]*metav1.OwnerReference{}
	apps, batch := cs.AppsV1(), cs.BatchV1()

	d, err := apps.Deployments(testNS).Create(ctx, &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec: appsv1.DeploymentSpec{Selector: sel, Template: tmpl}}, metav1.CreateOptions{})
	must(err)
	rs, err := apps.ReplicaSets(testNS).Create(ctx, &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: "web-7d4b9c8f6",
		OwnerReferences: []metav1.OwnerReference{*ref("Deployment", d.ObjectMeta, "apps/v1")}},
		Spec: appsv1.ReplicaSetSpec{Selector: sel, Template: tmpl}}, metav1.CreateOptions{})
	must(err)
	out["rs"] = ref("ReplicaSet", rs.ObjectMeta, "apps/v1")

	sts, err := apps.StatefulSets(testNS).Create(ctx, &appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Name: "db"},
		Spec: appsv1.StatefulSetSpec{Selector: sel, Template: tmpl}}, metav1.CreateOptions{})
	must(err)
	out["sts"] = ref("StatefulSet", sts.ObjectMeta, "apps/v1")

	ds, err := apps.DaemonSets(testNS).Create(ctx, &appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Name: "agent"},
		Spec: appsv1.DaemonSetSpec{Selector: sel, Template: tmpl}}, metav1.CreateOptions{})
	must(err)
	out["ds"] = ref("DaemonSet", ds.ObjectMeta, "apps/v1")

	jobTmpl := tmpl
	jobTmpl.Spec.RestartPolicy = corev1.RestartPolicyNever
	job, err := batch.Jobs(testNS).Create(ctx, &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: "migrate"},
		Spec: batchv1.JobSpec{Template: jobTmpl}}, metav1.CreateOptions{})
	must(err)
	out["job"] = ref("Job", job.ObjectMeta, "batch/v1")

	cj, err := batch.CronJobs(testNS).Create(ctx, &batchv1.CronJob{ObjectMeta: metav1.ObjectMeta{Name: "backup"},
		Spec: batchv1.CronJobSpec{Schedule: "*/5 * * * *", JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{Template: jobTmpl}}}},
		metav1.CreateOptions{})
	must(err)
	// Named as the CronJob controller names Jobs: <cronjob>-<scheduled minute>.
	cjJob, err := batch.Jobs(testNS).Create(ctx, &batchv1.Job{ObjectMeta: metav1.ObjectMeta{
		Name:            fmt.Sprintf("backup-%d", time.Now().Unix()/60),
		OwnerReferences: []metav1.OwnerReference{*ref("CronJob", cj.ObjectMeta, "batch/v1")}},
		Spec: batchv1.JobSpec{Template: jobTmpl}}, metav1.CreateOptions{})
	must(err)
	out["cronjob-job"] = ref("Job", cjJob.ObjectMeta, "batch/v1")
	return out
}

// createPod creates a pod bound to node and gives it container statuses, as
// a kubelet would.
func createPod(ctx context.Context, t *testing.T, cs kubernetes.Interface, spec podSpec, node string) {
	t.Helper()
	in := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: spec.name, Labels: spec.labels, Annotations: spec.annotations},
		Spec: corev1.PodSpec{
			NodeName:       node,
			InitContainers: []corev1.Container{{Name: "init", Image: "busybox:1.36"}},
			Containers:     []corev1.Container{{Name: "app", Image: "nginx:1.27"}},
		},
	}
	if spec.owner != nil {
		in.OwnerReferences = []metav1.OwnerReference{*spec.owner}
	}
	p, err := cs.CoreV1().Pods(testNS).Create(ctx, in, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create pod %s: %v", spec.name, err)
	}
	p.Status.Phase = corev1.PodRunning
	p.Status.ContainerStatuses = []corev1.ContainerStatus{{
		Name: "app", ContainerID: "containerd://cid-" + spec.name, Ready: true,
		Image: "docker.io/library/nginx:1.27", ImageID: "docker.io/library/nginx@sha256:abc",
	}}
	if _, err := cs.CoreV1().Pods(testNS).UpdateStatus(ctx, p, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("update status of pod %s: %v", spec.name, err)
	}
}

// waitFor polls cond until it reports true (within 15 s) and returns its pod.
func waitFor(t *testing.T, cond func() (*Pod, bool)) *Pod {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		p, ok := cond()
		if ok {
			return p
		}
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 15s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// testWriter sends the watcher's logs to the test log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(b), "\n"))
	return len(b), nil
}
