package main

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/kinsight/kinsight/internal/agent/podmetrics"
	"github.com/kinsight/kinsight/internal/config"
)

// TestFakeKubeletSummary reads two of the stand-in's summaries and its pod
// list with the agent's own kubelet decoders and Container Insights
// formulas: every pod and container gets a CPU utilization, pods with
// limits an over-limit ratio, and the counters move between reads.
func TestFakeKubeletSummary(t *testing.T) {
	pods, err := planMetricsPods(3, 110, 1)
	if err != nil {
		t.Fatal(err)
	}
	var apiPods []corev1.Pod
	containers, limited := 0, 0
	for i, p := range pods {
		if n := len(p.Containers); n < 1 || n > 3 {
			t.Fatalf("%s: %d containers", p.Name, n)
		}
		containers += len(p.Containers)
		if p.Containers[0].LimMilli > 0 {
			limited++
		}
		obj := metricsPodObject(i, p)
		obj.UID = types.UID(fmt.Sprintf("11111111-2222-4333-8444-%012d", i))
		obj.CreationTimestamp = metav1.NewTime(time.Now().Add(-time.Hour))
		setRunning(obj, i, p)
		p.setUID(string(obj.UID))
		apiPods = append(apiPods, *obj)
	}
	if views := logViews(pods); len(views) != containers || views[0].UID != pods[0].UID {
		t.Fatalf("%d log views for %d containers", len(views), containers)
	}
	t0 := time.Date(2026, 11, 22, 8, 0, 0, 0, time.UTC)
	k, err := newFakeKubelet(nil, pods, apiPods, 3, t0.Add(-10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	read := func(at time.Time) *podmetrics.Snapshot {
		body, err := json.Marshal(k.summary(at))
		if err != nil {
			t.Fatal(err)
		}
		s, err := podmetrics.ParseSummary(body, at)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	s0, s1 := read(t0), read(t0.Add(10*time.Second))
	if len(s1.Pods) != len(pods) || s1.Node.Name != benchNode {
		t.Fatalf("summary: %d pods on %q, want %d on %s", len(s1.Pods), s1.Node.Name, len(pods), benchNode)
	}
	list, err := podmetrics.ParsePodList(k.podsBody)
	if err != nil {
		t.Fatal(err)
	}
	var infos []podmetrics.PodInfo
	for i := range list {
		infos = append(infos, podmetrics.PodInfoFromPod(&list[i]))
	}
	res := podmetrics.Compute(s0, s1, infos, podmetrics.Env{NodeCPUCores: 2, NodeMemoryBytes: 8 << 30})
	if len(res.Pods) != len(pods) {
		t.Fatalf("computed %d pods, want %d", len(res.Pods), len(pods))
	}
	gotContainers, gotLimited := 0, 0
	for _, p := range res.Pods {
		if v, ok := p.Values["pod_cpu_utilization"]; !ok || v <= 0 {
			t.Errorf("%s: pod_cpu_utilization %v %v", p.Name, v, ok)
		}
		if _, ok := p.Values["pod_cpu_utilization_over_pod_limit"]; ok {
			gotLimited++
		}
		if _, ok := p.Values["pod_network_rx_bytes"]; !ok {
			t.Errorf("%s: no pod_network_rx_bytes", p.Name)
		}
		for _, c := range p.Containers {
			if _, ok := c.Values["container_cpu_utilization"]; ok {
				gotContainers++
			}
		}
	}
	if gotContainers != containers || gotLimited != limited {
		t.Errorf("container_cpu_utilization for %d of %d containers; over-limit ratio for %d pods, want %d", gotContainers, containers, gotLimited, limited)
	}
	if _, ok := res.Node["node_cpu_utilization"]; !ok {
		t.Errorf("no node_cpu_utilization: %v", res.Node)
	}
}

// TestAgentMetricsConfig checks that both runs' agent configurations load
// and validate with the agent's own config package.
func TestAgentMetricsConfig(t *testing.T) {
	e := &amEnv{f: &agentMetricsFlags{interval: 10 * time.Second}, kubeconfig: "/tmp/kubeconfig", tokenFile: "/tmp/token",
		kubelet: &fakeKubelet{caFile: "/tmp/ca.pem"}, srv: &serverProc{addr: "127.0.0.1:8470"}}
	for _, metrics := range []bool{false, true} {
		text := e.agentMetricsConfig("127.0.0.1:0", "/tmp/var-log", "/tmp/agent", metrics, "https://127.0.0.1:10250")
		if _, err := config.Parse([]byte(text)); err != nil {
			t.Errorf("metrics %v: %v\n%s", metrics, err, text)
		}
	}
}
