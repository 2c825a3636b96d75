package podmetrics

import (
	"testing"
	"time"
)

// awsNode builds two snapshots 10 s apart in which each pod and container
// used the given cores, and the pod infos with the given limits and requests
// (cores; <0 means not set).
type awsContainer struct {
	name              string
	limit, req, usage float64
}

type awsPod struct {
	name       string
	containers []awsContainer
}

func awsNode(nodeUsage float64, pods []awsPod) (prev, cur *Snapshot, infos []PodInfo) {
	t0 := time.Unix(1_000_000, 0)
	t1 := t0.Add(10 * time.Second)
	mk := func(t time.Time, f float64) *Snapshot {
		s := &Snapshot{Time: t, Source: SourceKubelet, Pods: map[string]*PodSample{}}
		s.Node.CPU = CPUSample{Valid: true, UsageCoreNanoSeconds: uint64(nodeUsage * f * 1e9)}
		for _, p := range pods {
			ps := &PodSample{UID: p.name + "-uid", Name: p.name, Namespace: "ns", Containers: map[string]*ContainerSample{}}
			var sum float64
			for _, c := range p.containers {
				sum += c.usage
				ps.Containers[c.name] = &ContainerSample{Name: c.name, CPU: CPUSample{Valid: true, UsageCoreNanoSeconds: uint64(c.usage * f * 1e9)}}
			}
			ps.CPU = CPUSample{Valid: true, UsageCoreNanoSeconds: uint64(sum * f * 1e9)}
			s.Pods[ps.UID] = ps
		}
		return s
	}
	// 100 s of history before t0 so that counters are not at zero.
	prev, cur = mk(t0, 100), mk(t1, 110)
	for _, p := range pods {
		pi := PodInfo{UID: p.name + "-uid", Name: p.name, Namespace: "ns", Phase: "Running"}
		for _, c := range p.containers {
			ci := ContainerInfo{Name: c.name, State: "running"}
			if c.limit >= 0 {
				ci.CPULimitMilli, ci.HasCPULimit = int64(c.limit*1000), true
			}
			if c.req >= 0 {
				ci.CPURequestMilli, ci.HasCPURequest = int64(c.req*1000), true
			}
			pi.Containers = append(pi.Containers, ci)
		}
		infos = append(infos, pi)
	}
	return prev, cur, infos
}

// TestContainerInsightsCPUExample is the worked example of AWS's "Relevant
// fields in performance log events for Amazon EKS and Kubernetes"
// (Container Insights, "Metrics calculation examples"): two nodes, three
// pods, four containers, and the percentages AWS gives for each.
func TestContainerInsightsCPUExample(t *testing.T) {
	const none = -1
	node1 := []awsPod{
		{"Pod1", []awsContainer{{"Container1", 1, 1, 0.8}, {"Container2", none, none, 1.2}}},
		{"Pod2", []awsContainer{{"Container3", 1, 0.5, 0.4}}},
	}
	node2 := []awsPod{{"Pod3", []awsContainer{{"Container4", 2, 2, 1}}}}

	prev, cur, infos := awsNode(3, node1)
	r1 := Compute(prev, cur, infos, Env{NodeCPUCores: 4, NodeMemoryBytes: 1})
	prev, cur, infos = awsNode(1.5, node2)
	r2 := Compute(prev, cur, infos, Env{NodeCPUCores: 8, NodeMemoryBytes: 1})

	pod := func(r *Result, name string) map[string]float64 {
		for _, p := range r.Pods {
			if p.Name == name {
				return p.Values
			}
		}
		t.Fatalf("no pod %s", name)
		return nil
	}
	cases := []struct {
		what   string
		values map[string]float64
		metric string
		want   float64 // <0: must be absent
	}{
		{"Pod1", pod(r1, "Pod1"), "pod_cpu_utilization", 50},
		{"Pod2", pod(r1, "Pod2"), "pod_cpu_utilization", 10},
		{"Pod3", pod(r2, "Pod3"), "pod_cpu_utilization", 12.5},
		{"Pod1 (Container2 has no limit)", pod(r1, "Pod1"), "pod_cpu_utilization_over_pod_limit", -1},
		{"Pod2", pod(r1, "Pod2"), "pod_cpu_utilization_over_pod_limit", 40},
		{"Pod3", pod(r2, "Pod3"), "pod_cpu_utilization_over_pod_limit", 50},
		{"Pod1", pod(r1, "Pod1"), "pod_cpu_reserved_capacity", 25},
		{"Pod2", pod(r1, "Pod2"), "pod_cpu_reserved_capacity", 12.5},
		{"Pod3", pod(r2, "Pod3"), "pod_cpu_reserved_capacity", 25},
		{"Pod1 (no limit on Container2)", pod(r1, "Pod1"), "pod_cpu_limit", -1},
		{"Pod2", pod(r1, "Pod2"), "pod_cpu_limit", 1000},
		{"Pod1", pod(r1, "Pod1"), "pod_cpu_usage_total", 2000},
		{"Node1", r1.Node, "node_cpu_utilization", 75},
		{"Node2", r2.Node, "node_cpu_utilization", 18.75},
		{"Node1", r1.Node, "node_cpu_reserved_capacity", 37.5},
		{"Node2", r2.Node, "node_cpu_reserved_capacity", 25},
		{"Node1", r1.Node, "node_cpu_limit", 4000},
		{"Node1", r1.Node, "node_cpu_usage_total", 3000},
		{"Node1", r1.Node, "node_number_of_running_pods", 2},
		{"Node1", r1.Node, "node_number_of_running_containers", 3},
	}
	for _, c := range cases {
		got, ok := c.values[c.metric]
		switch {
		case c.want < 0 && ok:
			t.Errorf("%s %s = %v, want absent", c.what, c.metric, got)
		case c.want >= 0 && (!ok || !near(got, c.want)):
			t.Errorf("%s %s = %v (present %v), want %v", c.what, c.metric, got, ok, c.want)
		}
	}
	// container_cpu_utilization = container_cpu_usage_total / node_cpu_limit.
	for _, p := range r1.Pods {
		for _, c := range p.Containers {
			if c.Name == "Container2" && !near(c.Values["container_cpu_utilization"], 30) {
				t.Errorf("Container2 utilization %v, want 1.2/4 = 30%%", c.Values["container_cpu_utilization"])
			}
			if c.Name == "Container1" && !near(c.Values["container_cpu_utilization_over_container_limit"], 80) {
				t.Errorf("Container1 over limit %v, want 80%%", c.Values["container_cpu_utilization_over_container_limit"])
			}
		}
	}
}

// TestContainerInsightsMemory checks the memory formulas of the same AWS
// page: pod_memory_utilization = working set / node_memory_limit,
// over_pod_limit = working set / sum(container limits) (absent if one is
// missing), reserved capacity = sum(requests) / node_memory_limit.
func TestContainerInsightsMemory(t *testing.T) {
	const gi = 1 << 30
	now := time.Unix(100, 0)
	cur := &Snapshot{Time: now, Pods: map[string]*PodSample{
		"a": {UID: "a", Name: "a", Namespace: "n", Mem: MemSample{Valid: true, WorkingSet: 1 * gi},
			Containers: map[string]*ContainerSample{"x": {Name: "x", Mem: MemSample{Valid: true, WorkingSet: gi / 2}}, "y": {Name: "y", Mem: MemSample{Valid: true, WorkingSet: gi / 2}}}},
		"b": {UID: "b", Name: "b", Namespace: "n", Mem: MemSample{Valid: true, WorkingSet: 2 * gi},
			Containers: map[string]*ContainerSample{"z": {Name: "z", Mem: MemSample{Valid: true, WorkingSet: 2 * gi}}}},
	}}
	cur.Node.Mem = MemSample{Valid: true, WorkingSet: 6 * gi}
	infos := []PodInfo{
		{UID: "a", Name: "a", Namespace: "n", Phase: "Running", Containers: []ContainerInfo{
			{Name: "x", MemLimit: 2 * gi, HasMemLimit: true, MemRequest: gi, HasMemRequest: true},
			{Name: "y", MemLimit: 2 * gi, HasMemLimit: true, MemRequest: gi, HasMemRequest: true},
		}},
		{UID: "b", Name: "b", Namespace: "n", Phase: "Running", Containers: []ContainerInfo{{Name: "z", MemRequest: gi, HasMemRequest: true}}},
	}
	r := Compute(nil, cur, infos, Env{NodeCPUCores: 4, NodeMemoryBytes: 16 * gi})
	want := map[string]map[string]float64{
		"a": {"pod_memory_utilization": 6.25, "pod_memory_utilization_over_pod_limit": 25, "pod_memory_reserved_capacity": 12.5, "pod_memory_limit": 4 * gi, "pod_memory_request": 2 * gi},
		"b": {"pod_memory_utilization": 12.5, "pod_memory_reserved_capacity": 6.25},
	}
	for _, p := range r.Pods {
		for m, w := range want[p.Name] {
			if !near(p.Values[m], w) {
				t.Errorf("%s %s = %v, want %v", p.Name, m, p.Values[m], w)
			}
		}
		if p.Name == "b" {
			if _, ok := p.Values["pod_memory_utilization_over_pod_limit"]; ok {
				t.Error("b has no memory limit: over_pod_limit must be absent")
			}
		}
		if _, ok := p.Values["pod_cpu_usage_total"]; ok {
			t.Error("first observation must have no CPU rate")
		}
	}
	if !near(r.Node["node_memory_utilization"], 37.5) || !near(r.Node["node_memory_reserved_capacity"], 18.75) {
		t.Errorf("node %v", r.Node)
	}
}

// TestStatusMetrics checks states, reasons and restarts from the pod list
// fixture joined with the minikube summary.
func TestStatusMetrics(t *testing.T) {
	s, err := ParseSummary(readFixture(t, "kubelet/otel-minikube-2020.json"), time.Unix(100, 0))
	if err != nil {
		t.Fatal(err)
	}
	pods, err := ParsePodList(readFixture(t, "kubelet/pods-minikube.json"))
	if err != nil {
		t.Fatal(err)
	}
	var infos []PodInfo
	for i := range pods {
		infos = append(infos, PodInfoFromPod(&pods[i]))
	}
	r := Compute(nil, s, infos, Env{NodeCPUCores: 2, NodeMemoryBytes: 4 << 30, Service: func(ns, pod string, labels map[string]string) string {
		if labels["k8s-app"] == "kube-dns" {
			return "kube-dns"
		}
		return ""
	}})
	byName := map[string]PodResult{}
	for _, p := range r.Pods {
		byName[p.Name] = p
	}
	web := byName["web-6d4cf56db6-x7k2p"].Values
	for m, w := range map[string]float64{
		"pod_status_pending": 1, "pod_status_running": 0, "pod_status_ready": 0, "pod_status_scheduled": 1,
		"pod_container_status_waiting": 2, "pod_container_status_running": 0,
		"pod_container_status_waiting_reason_image_pull_error":    1,
		"pod_container_status_waiting_reason_crash_loop_back_off": 1,
		"pod_container_status_terminated_reason_oom_killed":       0,
		"pod_number_of_container_restarts":                        5,
		"pod_cpu_limit":                                           1200, "pod_cpu_request": 600,
	} {
		if got, ok := web[m]; !ok || got != w {
			t.Errorf("web %s = %v (present %v), want %v", m, got, ok, w)
		}
	}
	hello := byName["go-hello-world-5456b4b8cd-99vxc"].Values
	if hello["pod_container_status_terminated_reason_oom_killed"] != 1 || hello["pod_number_of_container_restarts"] != 3 || hello["pod_status_running"] != 1 {
		t.Errorf("go-hello-world %v", hello)
	}
	if _, ok := hello["pod_cpu_limit"]; ok {
		t.Error("go-hello-world has no CPU limit")
	}
	dns := byName["coredns-66bff467f8-szddj"]
	if dns.Service != "kube-dns" || !near(dns.Values["pod_memory_utilization_over_pod_limit"], 6934528.0/(170<<20)*100) {
		t.Errorf("coredns %q %v", dns.Service, dns.Values["pod_memory_utilization_over_pod_limit"])
	}
	if r.Node["node_number_of_running_pods"] != 3 || r.Node["node_number_of_running_containers"] != 3 {
		t.Errorf("node counts %v", r.Node)
	}
	// The pending pod has no stats but is reported; its CPU request counts
	// on the node: 100 + 250 + 100 + 600 millicores.
	if r.Node["node_cpu_request"] != 1050 {
		t.Errorf("node_cpu_request %v", r.Node["node_cpu_request"])
	}
}

// TestRateEdgeCases: restarted containers and counters that go back give no
// value, never a negative one.
func TestRateEdgeCases(t *testing.T) {
	t0, t1 := time.Unix(0, 0), time.Unix(10, 0)
	if _, ok := cpuRate(&CPUSample{Valid: true, UsageCoreNanoSeconds: 100}, &CPUSample{Valid: true, UsageCoreNanoSeconds: 50}, t0, t1); ok {
		t.Error("counter reset gave a rate")
	}
	if _, ok := cpuRate(&CPUSample{Valid: true}, &CPUSample{Valid: true, UsageCoreNanoSeconds: 50}, t1, t1); ok {
		t.Error("zero interval gave a rate")
	}
	// Per-sample times (the kubelet's cpu.time) win over snapshot times.
	v, ok := cpuRate(&CPUSample{Valid: true, Time: time.Unix(0, 0)}, &CPUSample{Valid: true, Time: time.Unix(5, 0), UsageCoreNanoSeconds: 5e9}, t0, t1)
	if !ok || v != 1000 {
		t.Errorf("rate %v %v, want 1000 millicores", v, ok)
	}
	if _, _, ok := netRate(&NetSample{Valid: true, RxBytes: 10}, &NetSample{Valid: true, RxBytes: 5}, t0, t1); ok {
		t.Error("network counter reset gave a rate")
	}
	// A container restarted between observations (new start time) has no
	// usage in the second.
	mk := func(t time.Time, start time.Time, ns uint64) *Snapshot {
		return &Snapshot{Time: t, Pods: map[string]*PodSample{"u": {UID: "u", Name: "p", Containers: map[string]*ContainerSample{
			"c": {Name: "c", StartTime: start, CPU: CPUSample{Valid: true, UsageCoreNanoSeconds: ns}}}}}}
	}
	r := Compute(mk(t0, time.Unix(-100, 0), 1e9), mk(t1, time.Unix(5, 0), 2e9), nil, Env{NodeCPUCores: 1, NodeMemoryBytes: 1})
	if _, ok := r.Pods[0].Containers[0].Values["container_cpu_usage_total"]; ok {
		t.Error("restarted container got a rate")
	}
}
