package kube

import (
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestExcludedAndParser(t *testing.T) {
	tests := []struct {
		name        string
		annotations map[string]string
		container   string
		excluded    bool
		parser      string
	}{
		{name: "none", container: "app"},
		{name: "pod exclude", annotations: map[string]string{"kinsight.io/exclude": "true"}, container: "app", excluded: true},
		{name: "pod exclude other spelling", annotations: map[string]string{"kinsight.io/exclude": " True "}, container: "app", excluded: true},
		{name: "pod exclude false", annotations: map[string]string{"kinsight.io/exclude": "false"}, container: "app"},
		{name: "pod exclude junk", annotations: map[string]string{"kinsight.io/exclude": "yes please"}, container: "app"},
		{name: "container exclude", annotations: map[string]string{"kinsight.io/exclude-app": "true"}, container: "app", excluded: true},
		{name: "other container exclude", annotations: map[string]string{"kinsight.io/exclude-sidecar": "true"}, container: "app"},
		{name: "container false wins over pod true",
			annotations: map[string]string{"kinsight.io/exclude": "true", "kinsight.io/exclude-app": "false"}, container: "app"},
		{name: "container true wins over pod false",
			annotations: map[string]string{"kinsight.io/exclude": "false", "kinsight.io/exclude-app": "true"}, container: "app", excluded: true},
		{name: "pod parser", annotations: map[string]string{"kinsight.io/parser": "json"}, container: "app", parser: "json"},
		{name: "container parser wins",
			annotations: map[string]string{"kinsight.io/parser": "json", "kinsight.io/parser-app": "raw"}, container: "app", parser: "raw"},
		{name: "other container parser",
			annotations: map[string]string{"kinsight.io/parser": "json", "kinsight.io/parser-sidecar": "raw"}, container: "app", parser: "json"},
		{name: "empty container parser disables pod parser",
			annotations: map[string]string{"kinsight.io/parser": "json", "kinsight.io/parser-app": ""}, container: "app"},
		{name: "parser trimmed", annotations: map[string]string{"kinsight.io/parser": " json\n"}, container: "app", parser: "json"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &Pod{Annotations: tt.annotations}
			if got := p.Excluded(tt.container); got != tt.excluded {
				t.Errorf("Excluded(%q) = %v, want %v", tt.container, got, tt.excluded)
			}
			if got := p.Parser(tt.container); got != tt.parser {
				t.Errorf("Parser(%q) = %q, want %q", tt.container, got, tt.parser)
			}
		})
	}
	var nilPod *Pod
	if nilPod.Excluded("x") || nilPod.Parser("x") != "" {
		t.Error("nil pod: want not excluded, no parser")
	}
}

func TestOwnerOf(t *testing.T) {
	now := time.Date(2026, 11, 22, 3, 0, 0, 0, time.UTC)
	cronMinutes := now.Add(-time.Hour).Unix() / 60
	yes := true
	ref := func(kind, name string, controller bool) metav1.OwnerReference {
		r := metav1.OwnerReference{Kind: kind, Name: name}
		if controller {
			r.Controller = &yes
		}
		return r
	}
	tests := []struct {
		name     string
		refs     []metav1.OwnerReference
		labels   map[string]string
		kind, to string
	}{
		{name: "bare"},
		{name: "deployment", refs: []metav1.OwnerReference{ref("ReplicaSet", "web-7d4b9c8f6", true)},
			labels: map[string]string{"pod-template-hash": "7d4b9c8f6"}, kind: "Deployment", to: "web"},
		{name: "deployment with dashes", refs: []metav1.OwnerReference{ref("ReplicaSet", "my-web-app-5f6d", true)},
			labels: map[string]string{"pod-template-hash": "5f6d"}, kind: "Deployment", to: "my-web-app"},
		{name: "replicaset without hash label", refs: []metav1.OwnerReference{ref("ReplicaSet", "web-7d4b9c8f6", true)},
			kind: "ReplicaSet", to: "web-7d4b9c8f6"},
		{name: "replicaset hash mismatch", refs: []metav1.OwnerReference{ref("ReplicaSet", "web-abc", true)},
			labels: map[string]string{"pod-template-hash": "def"}, kind: "ReplicaSet", to: "web-abc"},
		{name: "replicaset named only the hash", refs: []metav1.OwnerReference{ref("ReplicaSet", "-abc", true)},
			labels: map[string]string{"pod-template-hash": "abc"}, kind: "ReplicaSet", to: "-abc"},
		{name: "statefulset", refs: []metav1.OwnerReference{ref("StatefulSet", "db", true)}, kind: "StatefulSet", to: "db"},
		{name: "daemonset", refs: []metav1.OwnerReference{ref("DaemonSet", "node-exporter", true)}, kind: "DaemonSet", to: "node-exporter"},
		{name: "job", refs: []metav1.OwnerReference{ref("Job", "migrate", true)}, kind: "Job", to: "migrate"},
		{name: "cronjob", refs: []metav1.OwnerReference{ref("Job", fmt.Sprintf("backup-%d", cronMinutes), true)},
			kind: "CronJob", to: "backup"},
		{name: "job named with a date", refs: []metav1.OwnerReference{ref("Job", "migrate-20240101", true)},
			kind: "Job", to: "migrate-20240101"},
		{name: "job named with a future number", refs: []metav1.OwnerReference{ref("Job", "x-99999999999", true)},
			kind: "Job", to: "x-99999999999"},
		{name: "job with leading zero suffix", refs: []metav1.OwnerReference{ref("Job", fmt.Sprintf("x-0%d", cronMinutes), true)},
			kind: "Job", to: fmt.Sprintf("x-0%d", cronMinutes)},
		{name: "controller ref wins", refs: []metav1.OwnerReference{ref("ConfigMap", "cm", false), ref("StatefulSet", "db", true)},
			kind: "StatefulSet", to: "db"},
		{name: "no controller: first ref", refs: []metav1.OwnerReference{ref("Node", "n1", false), ref("Foo", "bar", false)},
			kind: "Node", to: "n1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			kind, name := ownerOf(tt.refs, tt.labels, now)
			if kind != tt.kind || name != tt.to {
				t.Errorf("ownerOf = %s/%s, want %s/%s", kind, name, tt.kind, tt.to)
			}
		})
	}
}

func TestNewPodContainers(t *testing.T) {
	in := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns", UID: "u1",
			Labels: map[string]string{"app": "a"}, Annotations: map[string]string{"k": "v"}},
		Spec: corev1.PodSpec{
			NodeName:       "node-1",
			InitContainers: []corev1.Container{{Name: "init", Image: "busybox:1"}},
			Containers:     []corev1.Container{{Name: "app", Image: "nginx"}, {Name: "pending", Image: "redis:7"}},
			EphemeralContainers: []corev1.EphemeralContainer{{EphemeralContainerCommon: corev1.EphemeralContainerCommon{
				Name: "debug", Image: "alpine"}}},
		},
		Status: corev1.PodStatus{
			InitContainerStatuses: []corev1.ContainerStatus{{Name: "init", ContainerID: "containerd://aaa",
				Image: "docker.io/library/busybox:1", ImageID: "docker.io/library/busybox@sha256:111"}},
			ContainerStatuses: []corev1.ContainerStatus{{Name: "app", ContainerID: "docker://bbb",
				Image: "docker.io/library/nginx:latest", ImageID: "docker-pullable://nginx@sha256:222"}},
			EphemeralContainerStatuses: []corev1.ContainerStatus{{Name: "debug", ContainerID: "cri-o://ccc"}},
		},
	}
	p := newPod(in, time.Now())
	want := map[string]Container{
		"init":    {Name: "init", ID: "aaa", Image: "docker.io/library/busybox:1", ImageID: "docker.io/library/busybox@sha256:111"},
		"app":     {Name: "app", ID: "bbb", Image: "docker.io/library/nginx:latest", ImageID: "nginx@sha256:222"},
		"pending": {Name: "pending", Image: "redis:7"},
		"debug":   {Name: "debug", ID: "ccc", Image: "alpine"},
	}
	if len(p.Containers) != len(want) {
		t.Errorf("containers = %v, want %v", p.Containers, want)
	}
	for name, c := range want {
		if p.Containers[name] != c {
			t.Errorf("container %s = %+v, want %+v", name, p.Containers[name], c)
		}
	}
	if p.Name != "p" || p.Namespace != "ns" || p.UID != "u1" || p.Host != "node-1" || p.Labels["app"] != "a" || p.Annotations["k"] != "v" {
		t.Errorf("pod = %+v", p)
	}
	// The API object may be reused by the informer: the Pod must not share maps.
	in.Labels["app"] = "changed"
	if p.Labels["app"] != "a" {
		t.Error("Pod shares its labels map with the API object")
	}
	// trimPod keeps everything newPod reads.
	trimmed, err := trimPod(in)
	if err != nil {
		t.Fatal(err)
	}
	in.Labels["app"] = "a"
	p2 := newPod(trimmed.(*corev1.Pod), time.Now())
	if fmt.Sprint(p2) != fmt.Sprint(newPod(in, time.Now())) {
		t.Errorf("newPod(trimPod(x)) = %+v, want %+v", p2, newPod(in, time.Now()))
	}
}

func FuzzOwnerOf(f *testing.F) {
	now := time.Date(2026, 11, 22, 3, 0, 0, 0, time.UTC)
	f.Add("ReplicaSet", "web-7d4b9c8f6", "7d4b9c8f6")
	f.Add("Job", fmt.Sprintf("backup-%d", now.Unix()/60), "")
	f.Add("Job", "x-+123", "")
	f.Add("Job", "-", "")
	f.Add("ReplicaSet", "-", "")
	f.Fuzz(func(t *testing.T, kind, name, hash string) {
		ctrl := true
		refs := []metav1.OwnerReference{{Kind: kind, Name: name, Controller: &ctrl}}
		gotKind, gotName := ownerOf(refs, map[string]string{"pod-template-hash": hash}, now)
		switch {
		case gotKind == "Deployment" && kind == "ReplicaSet":
			if gotName == "" || gotName+"-"+hash != name {
				t.Fatalf("Deployment %q from ReplicaSet %q hash %q", gotName, name, hash)
			}
		case gotKind == "CronJob" && kind == "Job":
			if gotName == "" || !strings.HasPrefix(name, gotName+"-") {
				t.Fatalf("CronJob %q from Job %q", gotName, name)
			}
		default:
			if gotKind != kind || gotName != name {
				t.Fatalf("ownerOf(%q, %q) = %q, %q", kind, name, gotKind, gotName)
			}
		}
	})
}
