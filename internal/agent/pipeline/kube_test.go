package pipeline

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/kinsight/kinsight/internal/agent/kube"
	"github.com/kinsight/kinsight/internal/testkube"
)

// TestKubeMetadata runs the pipeline with a pod watcher on a real
// kube-apiserver: records of pods created through the API carry their
// metadata and owner, a pod created after its log file still gets its
// metadata, one never created goes out with the file name's, annotations
// exclude and parse, and the agent's only pod requests are a list and a
// watch.
func TestKubeMetadata(t *testing.T) {
	c := testkube.Start(t)
	cs := c.Clientset()
	ctx := context.Background()
	c.EnsureNamespace(t, "shop")
	token := c.ServiceAccountToken(t, "kinsight", "agent", []rbacv1.PolicyRule{
		{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"list", "watch"}},
	})
	w, err := kube.NewForConfig(c.Config(token), kube.Config{NodeName: "node-1"}, quiet, prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	wctx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	go func() { _ = w.Run(wctx) }()
	if !w.WaitForSync(ctx) {
		t.Fatal("watcher did not sync")
	}
	listsBefore := c.RequestCount(t, "LIST", "pods")

	id := repeat
	createPod := func(name, container, cid string, labels, annots map[string]string, owner *metav1.OwnerReference) {
		t.Helper()
		p := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "shop", Labels: labels, Annotations: annots},
			Spec:       corev1.PodSpec{NodeName: "node-1", Containers: []corev1.Container{{Name: container, Image: "registry/" + container + ":1"}}},
		}
		if owner != nil {
			p.OwnerReferences = []metav1.OwnerReference{*owner}
		}
		created, err := cs.CoreV1().Pods("shop").Create(ctx, p, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		created.Status.ContainerStatuses = []corev1.ContainerStatus{{
			Name: container, ContainerID: "containerd://" + cid, Image: "registry/" + container + ":1",
			ImageID: "registry/" + container + "@sha256:" + cid[:16],
		}}
		if _, err := cs.CoreV1().Pods("shop").UpdateStatus(ctx, created, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	yes := true
	createPod("web-5d8f9c7b6-x2x2x", "app", id('a'), map[string]string{"app": "web", "pod-template-hash": "5d8f9c7b6"},
		map[string]string{"kinsight.io/parser": "json"},
		&metav1.OwnerReference{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "web-5d8f9c7b6", UID: types.UID("rs-uid"), Controller: &yes})
	createPod("noisy-1", "app", id('b'), nil, map[string]string{"kinsight.io/exclude": "true"}, nil)
	// The container statuses come in a second request: wait until the
	// watcher has them, so the records' container_hash is deterministic.
	for deadline := time.Now().Add(15 * time.Second); ; {
		p, ok := w.Pod("shop", "web-5d8f9c7b6-x2x2x")
		if ok && p.Containers["app"].ImageID != "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the watcher never saw the web pod's container status")
		}
		time.Sleep(20 * time.Millisecond)
	}

	addr := startServer(t)
	logDir, dataDir := t.TempDir(), t.TempDir()
	if err := os.MkdirAll(filepath.Join(logDir, "containers"), 0o755); err != nil {
		t.Fatal(err)
	}
	file := func(pod, ctr, cid string) string {
		return filepath.Join(logDir, "containers", pod+"_shop_"+ctr+"-"+cid+".log")
	}
	now := time.Now().UTC()
	line := func(msg string) string { return now.Format(time.RFC3339Nano) + " stdout F " + msg }
	appendFile(t, file("web-5d8f9c7b6-x2x2x", "app", id('a')), line(`{"level":"error","msg":"boom"}`), line("plain"))
	appendFile(t, file("noisy-1", "app", id('b')), line("never shipped"))
	appendFile(t, file("late-1", "app", id('c')), line("before the pod"))
	appendFile(t, file("ghost-1", "app", id('d')), line("no pod at all"))

	r := startWith(t, addr, logDir, dataDir, func(cfg *Config) {
		cfg.Pods = w
		cfg.PodWait = 3 * time.Second
		cfg.PodLabels, cfg.PodAnnotations = true, true
		cfg.MergeLog, cfg.MergeLogKey = false, "log_processed" // on only through the parser annotation
		cfg.Filter = Filter{}
	})
	time.Sleep(300 * time.Millisecond)
	createPod("late-1", "app", id('c'), map[string]string{"app": "late"}, nil, nil)

	cl := r.p.Output().Client()
	const group = "/aws/containerinsights/test/application"
	type record struct {
		Log          string
		Kubernetes   map[string]any
		LogProcessed map[string]any `json:"log_processed"`
	}
	read := func(pod, cid string, n int) []record {
		t.Helper()
		msgs := waitEvents(t, cl, group, pod+"_shop_app-"+cid, n)
		if len(msgs) != n {
			t.Fatalf("%s: %d events, want %d: %q", pod, len(msgs), n, msgs)
		}
		var out []record
		for _, m := range msgs {
			var rec record
			if err := json.Unmarshal([]byte(m), &rec); err != nil {
				t.Fatalf("%s: %v: %s", pod, err, m)
			}
			out = append(out, rec)
		}
		return out
	}
	web := read("web-5d8f9c7b6-x2x2x", id('a'), 2)
	k := web[0].Kubernetes
	if k["pod_id"] == "" || k["container_image"] != "registry/app:1" || k["container_hash"] != "registry/app@sha256:"+id('a')[:16] {
		t.Errorf("web kubernetes = %v", k)
	}
	if o, _ := k["owner"].(map[string]any); o["kind"] != "Deployment" || o["name"] != "web" {
		t.Errorf("web owner = %v", k["owner"])
	}
	if l, _ := k["labels"].(map[string]any); l["app"] != "web" {
		t.Errorf("web labels = %v", k["labels"])
	}
	if web[0].LogProcessed["level"] != "error" || web[1].LogProcessed != nil || web[1].Log != "plain" {
		t.Errorf("json parser annotation: %+v", web)
	}
	late := read("late-1", id('c'), 1)
	if late[0].Kubernetes["pod_id"] == nil {
		t.Errorf("late pod has no metadata: %v", late[0].Kubernetes)
	}
	ghost := read("ghost-1", id('d'), 1)
	if ghost[0].Kubernetes["pod_id"] != nil || ghost[0].Kubernetes["pod_name"] != "ghost-1" || ghost[0].Kubernetes["docker_id"] != id('d') {
		t.Errorf("unknown pod: %v", ghost[0].Kubernetes)
	}
	if got := events(t, cl, group, "noisy-1_shop_app-"+id('b')); got != nil {
		t.Errorf("excluded pod shipped %q", got)
	}
	if err := r.stop(); err != nil {
		t.Fatal(err)
	}
	// Many lookups later, still one list and a watch: never a GET per record.
	if n := c.RequestCount(t, "GET", "pods"); n != 0 {
		t.Errorf("%v GET requests on pods", n)
	}
	if n := c.RequestCount(t, "LIST", "pods"); n != listsBefore {
		t.Errorf("LIST pods went from %v to %v", listsBefore, n)
	}
	// A WATCH is counted when it ends: stop the watcher, then wait for the
	// server to see the connection go.
	stopWatch()
	deadline := time.Now().Add(10 * time.Second)
	for c.RequestCount(t, "WATCH", "pods") < 1 {
		if time.Now().After(deadline) {
			t.Fatal("no WATCH request on pods ended")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// repeat returns a 64-hex container id of one digit.
func repeat(n byte) string {
	b := make([]byte, 64)
	for i := range b {
		b[i] = n
	}
	return string(b)
}
