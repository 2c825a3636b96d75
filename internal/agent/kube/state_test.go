package kube

import (
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
)

// offlineWatcher builds a Watcher whose informer never runs, with a clock
// the test moves; events are fed to its handlers directly.
func offlineWatcher(t testing.TB) (*Watcher, *time.Time) {
	t.Helper()
	w, err := NewForConfig(&rest.Config{Host: "http://127.0.0.1:1"}, Config{NodeName: "n", DeletedTTL: time.Minute}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	w.now = func() time.Time { return now }
	return w, &now
}

func apiPod(name, uid, label string) *corev1.Pod {
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name, UID: types.UID(uid),
		Labels: map[string]string{"v": label}}}
}

// TestPodLifecycle feeds informer events and checks lookups, the pods gauge
// and the deleted-pod TTL, including a name reused by a new pod.
func TestPodLifecycle(t *testing.T) {
	w, now := offlineWatcher(t)
	gauge := func() float64 { return testutil.ToFloat64(w.podsGauge) }
	step := func(d time.Duration) { *now = now.Add(d) }
	check := func(what string, p *Pod, ok bool, wantLabel string) {
		t.Helper()
		switch {
		case wantLabel == "" && ok:
			t.Errorf("%s: found %+v, want none", what, p)
		case wantLabel != "" && (!ok || p.Labels["v"] != wantLabel):
			t.Errorf("%s: got %+v %v, want label v=%s", what, p, ok, wantLabel)
		}
	}

	w.upsert(apiPod("db-0", "u1", "a"), "add")
	w.upsert(apiPod("web", "u9", "w"), "add")
	w.upsert(apiPod("db-0", "u1", "b"), "update")
	if gauge() != 2 {
		t.Errorf("gauge after add+update = %v, want 2", gauge())
	}
	p, ok := w.Pod("ns", "db-0")
	check("by name", p, ok, "b")
	p, ok = w.PodByUID("u1")
	check("by uid", p, ok, "b")

	w.remove(apiPod("db-0", "u1", "c"))
	if gauge() != 1 {
		t.Errorf("gauge after delete = %v, want 1", gauge())
	}
	step(30 * time.Second)
	p, ok = w.Pod("ns", "db-0")
	check("deleted, within TTL", p, ok, "c")

	// The StatefulSet re-creates db-0: the name now means the new pod, the
	// old one stays reachable by UID until its TTL ends.
	w.upsert(apiPod("db-0", "u2", "new"), "add")
	p, ok = w.Pod("ns", "db-0")
	check("name reused", p, ok, "new")
	p, ok = w.PodByUID("u1")
	check("old uid after reuse", p, ok, "c")
	step(31 * time.Second)
	p, ok = w.PodByUID("u1")
	check("old uid after TTL", p, ok, "")
	p, ok = w.Pod("ns", "db-0")
	check("new pod after old TTL", p, ok, "new")
	if gauge() != 2 {
		t.Errorf("gauge = %v, want 2", gauge())
	}

	// A relist after a watch gap can replace a pod by a newer one of the
	// same name without a delete: the old one counts as deleted from then.
	w.upsert(apiPod("db-0", "u3", "relisted"), "update")
	p, ok = w.PodByUID("u2")
	check("replaced without delete", p, ok, "new")
	if gauge() != 2 {
		t.Errorf("gauge after replacement = %v, want 2", gauge())
	}
	step(time.Minute)
	if _, ok := w.PodByUID("u2"); ok {
		t.Error("replaced pod outlived its TTL")
	}

	// A delete seen only as a tombstone (missed while the watch was down).
	w.remove(cache.DeletedFinalStateUnknown{Key: "ns/web", Obj: apiPod("web", "u9", "w")})
	p, ok = w.Pod("ns", "web")
	check("tombstone delete", p, ok, "w")
	if gauge() != 1 {
		t.Errorf("gauge after tombstone = %v, want 1", gauge())
	}
	w.upsert("not a pod", "add")
	w.remove(42)

	got := testutil.ToFloat64(w.events.WithLabelValues("add")) + testutil.ToFloat64(w.events.WithLabelValues("update"))
	if got != 5 || testutil.ToFloat64(w.events.WithLabelValues("delete")) != 2 {
		t.Errorf("events: add+update %v (want 5), delete %v (want 2)", got, testutil.ToFloat64(w.events.WithLabelValues("delete")))
	}
	if len(w.byName) != 2 || len(w.byUID) != 4 {
		t.Errorf("before sweep: %d by name, %d by uid", len(w.byName), len(w.byUID))
	}
	w.sweepOnce()
	if len(w.byName) != 2 || len(w.byUID) != 2 { // db-0 (u3) and web (deleted, within TTL)
		t.Errorf("after sweep: %d by name, %d by uid, want 2 and 2", len(w.byName), len(w.byUID))
	}
	step(time.Minute)
	w.sweepOnce()
	if len(w.byName) != 1 || len(w.byUID) != 1 {
		t.Errorf("after second sweep: %d by name, %d by uid, want 1 and 1", len(w.byName), len(w.byUID))
	}
}

func BenchmarkPod(b *testing.B) {
	w, _ := offlineWatcher(b)
	for i := range 200 {
		w.upsert(apiPod(fmt.Sprintf("pod-%d", i), fmt.Sprint(i), "x"), "add")
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if _, ok := w.Pod("ns", "pod-17"); !ok {
				b.Fatal("missing")
			}
			i++
		}
	})
}

func BenchmarkNewPod(b *testing.B) {
	in := apiPod("web-7d4b9c8f6-x2x9q", "u1", "x")
	in.Labels["pod-template-hash"] = "7d4b9c8f6"
	in.Annotations = map[string]string{"kinsight.io/parser": "json"}
	in.OwnerReferences = []metav1.OwnerReference{{Kind: "ReplicaSet", Name: "web-7d4b9c8f6"}}
	in.Spec.Containers = []corev1.Container{{Name: "app", Image: "nginx"}, {Name: "sidecar", Image: "envoy"}}
	in.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "app", ContainerID: "containerd://abc", ImageID: "x@sha256:1"}}
	now := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		newPod(in, now)
	}
}
