package podmetrics

import (
	"time"
)

// Env is what the formulas need beyond the snapshots.
type Env struct {
	// NodeCPUCores and NodeMemoryBytes are node_cpu_limit (in cores; the
	// metric is in millicores) and node_memory_limit: the machine's CPUs and
	// MemTotal, as the CloudWatch agent reads them from /proc.
	NodeCPUCores    float64
	NodeMemoryBytes float64
	// Service names the Service of a pod ("" when unknown); nil means
	// unknown for all.
	Service func(namespace, pod string, labels map[string]string) string
}

// Result is one computed observation: the Container Insights values of the
// node, its pods and their containers, keyed by metric name. A value that
// cannot be computed (no previous snapshot for a rate, no limit for an
// over-limit ratio) is absent, never 0.
type Result struct {
	Time time.Time
	Node map[string]float64
	Pods []PodResult
	// Snapshot is the current snapshot, for the raw cAdvisor-like series.
	Snapshot *Snapshot
}

// PodResult is one pod's values and its containers'.
type PodResult struct {
	UID, Name, Namespace, Service string
	Values                        map[string]float64
	Containers                    []ContainerResult
	// sample and info are kept for the raw series.
	sample *PodSample
}

// ContainerResult is one container's values.
type ContainerResult struct {
	Name   string
	Values map[string]float64
	sample *ContainerSample
}

// Compute applies the Container Insights formulas to cur, with prev (nil on
// the first observation) for rates, and pods (nil when no pod list could be
// read) for requests, limits, states and names.
//
// Units are AWS's: CPU in millicores, memory and filesystem in bytes,
// network in bytes per second, utilizations in percent (0–100, and above
// 100 when a pod bursts over its limit).
func Compute(prev, cur *Snapshot, pods []PodInfo, env Env) *Result {
	res := &Result{Time: cur.Time, Node: map[string]float64{}, Snapshot: cur}
	nodeCPU := env.NodeCPUCores * 1000
	nodeMem := env.NodeMemoryBytes
	info := make(map[string]*PodInfo, len(pods))
	for i := range pods {
		info[pods[i].UID] = &pods[i]
	}

	n := res.Node
	set(n, "node_cpu_limit", nodeCPU, nodeCPU > 0)
	set(n, "node_memory_limit", nodeMem, nodeMem > 0)
	if prev != nil {
		if u, ok := cpuRate(&prev.Node.CPU, &cur.Node.CPU, prev.Time, cur.Time); ok {
			n["node_cpu_usage_total"] = u
			set(n, "node_cpu_utilization", pct(u, nodeCPU), nodeCPU > 0)
		}
		if rx, tx, ok := netRate(&prev.Node.Net, &cur.Node.Net, prev.Time, cur.Time); ok {
			n["node_network_rx_bytes"], n["node_network_tx_bytes"], n["node_network_total_bytes"] = rx, tx, rx+tx
		}
	}
	if cur.Node.Mem.Valid {
		n["node_memory_working_set"] = float64(cur.Node.Mem.WorkingSet)
		set(n, "node_memory_utilization", pct(float64(cur.Node.Mem.WorkingSet), nodeMem), nodeMem > 0)
	}
	if fs := cur.Node.Fs; fs.Valid {
		n["node_filesystem_capacity"] = float64(fs.CapacityBytes)
		n["node_filesystem_usage"] = float64(fs.UsedBytes)
		set(n, "node_filesystem_utilization", pct(float64(fs.UsedBytes), float64(fs.CapacityBytes)), fs.CapacityBytes > 0)
	}

	var runningPods, runningContainers, nodeCPUReq, nodeMemReq float64
	seen := make(map[string]bool, len(cur.Pods))
	for _, ps := range cur.Pods {
		seen[ps.UID] = true
		pi := info[ps.UID]
		var pp *PodSample
		if prev != nil {
			pp = prev.Pods[ps.UID]
		}
		pr := podResult(pp, ps, pi, prev, cur, nodeCPU, nodeMem, env)
		res.Pods = append(res.Pods, pr)
		if pods == nil {
			// Without a pod list every pod and container seen counts as
			// running; with one, the list's phases and states decide.
			runningPods++
			runningContainers += float64(len(ps.Containers))
		}
	}
	for i := range pods {
		pi := &pods[i]
		if pi.Phase == "Running" {
			runningPods++
		}
		for _, c := range pi.Containers {
			if c.State == "running" {
				runningContainers++
			}
		}
		if pi.Phase == "Succeeded" || pi.Phase == "Failed" {
			continue // finished pods hold no reservation
		}
		r := podResources(pi)
		nodeCPUReq += r.cpuReq
		nodeMemReq += r.memReq
		if !seen[pi.UID] {
			// A pod the kubelet lists but has no stats for yet (pending,
			// image pulling): its states and restarts still count.
			res.Pods = append(res.Pods, podResult(nil, &PodSample{UID: pi.UID, Name: pi.Name, Namespace: pi.Namespace}, pi, prev, cur, nodeCPU, nodeMem, env))
		}
	}
	n["node_number_of_running_pods"] = runningPods
	n["node_number_of_running_containers"] = runningContainers
	if pods != nil {
		n["node_cpu_request"] = nodeCPUReq
		n["node_memory_request"] = nodeMemReq
		set(n, "node_cpu_reserved_capacity", pct(nodeCPUReq, nodeCPU), nodeCPU > 0)
		set(n, "node_memory_reserved_capacity", pct(nodeMemReq, nodeMem), nodeMem > 0)
	}
	return res
}

type resources struct {
	cpuReq, memReq, cpuLimit, memLimit float64
	// allCPULimit/allMemLimit: every container has a limit (AWS leaves
	// pod_*_limit out otherwise).
	allCPULimit, allMemLimit bool
}

func podResources(pi *PodInfo) resources {
	r := resources{allCPULimit: len(pi.Containers) > 0, allMemLimit: len(pi.Containers) > 0}
	for _, c := range pi.Containers {
		if c.HasCPURequest {
			r.cpuReq += float64(c.CPURequestMilli)
		}
		if c.HasMemRequest {
			r.memReq += float64(c.MemRequest)
		}
		if c.HasCPULimit {
			r.cpuLimit += float64(c.CPULimitMilli)
		} else {
			r.allCPULimit = false
		}
		if c.HasMemLimit {
			r.memLimit += float64(c.MemLimit)
		} else {
			r.allMemLimit = false
		}
	}
	if pi.PodCPULimitMilli > 0 {
		r.cpuLimit, r.allCPULimit = float64(pi.PodCPULimitMilli), true
	}
	if pi.PodMemLimit > 0 {
		r.memLimit, r.allMemLimit = float64(pi.PodMemLimit), true
	}
	return r
}

func podResult(pp, ps *PodSample, pi *PodInfo, prev, cur *Snapshot, nodeCPU, nodeMem float64, env Env) PodResult {
	pr := PodResult{UID: ps.UID, Name: ps.Name, Namespace: ps.Namespace, Values: map[string]float64{}, sample: ps}
	if pi != nil {
		if pr.Name == "" {
			pr.Name, pr.Namespace = pi.Name, pi.Namespace
		}
	}
	if pr.Name == "" {
		pr.Name = ps.UID // cgroups without a pod list know only the UID
	}
	if env.Service != nil {
		var labels map[string]string
		if pi != nil {
			labels = pi.Labels
		}
		pr.Service = env.Service(pr.Namespace, pr.Name, labels)
	}
	v := pr.Values
	var usage float64
	var hasUsage bool
	if pp != nil {
		usage, hasUsage = cpuRate(&pp.CPU, &ps.CPU, prev.Time, cur.Time)
		if rx, tx, ok := netRate(&pp.Net, &ps.Net, prev.Time, cur.Time); ok {
			v["pod_network_rx_bytes"], v["pod_network_tx_bytes"], v["pod_network_total_bytes"] = rx, tx, rx+tx
		}
	}
	if hasUsage {
		v["pod_cpu_usage_total"] = usage
		set(v, "pod_cpu_utilization", pct(usage, nodeCPU), nodeCPU > 0)
	}
	if ps.Mem.Valid {
		v["pod_memory_working_set"] = float64(ps.Mem.WorkingSet)
		set(v, "pod_memory_utilization", pct(float64(ps.Mem.WorkingSet), nodeMem), nodeMem > 0)
	}
	if pi != nil {
		r := podResources(pi)
		v["pod_cpu_request"] = r.cpuReq
		v["pod_memory_request"] = r.memReq
		set(v, "pod_cpu_reserved_capacity", pct(r.cpuReq, nodeCPU), nodeCPU > 0)
		set(v, "pod_memory_reserved_capacity", pct(r.memReq, nodeMem), nodeMem > 0)
		if r.allCPULimit {
			v["pod_cpu_limit"] = r.cpuLimit
			set(v, "pod_cpu_utilization_over_pod_limit", pct(usage, r.cpuLimit), hasUsage && r.cpuLimit > 0)
		}
		if r.allMemLimit {
			v["pod_memory_limit"] = r.memLimit
			set(v, "pod_memory_utilization_over_pod_limit", pct(float64(ps.Mem.WorkingSet), r.memLimit), ps.Mem.Valid && r.memLimit > 0)
		}
		podStatus(v, pi)
	} else if ps.Mem.Limit > 0 {
		v["pod_memory_limit"] = float64(ps.Mem.Limit)
		set(v, "pod_memory_utilization_over_pod_limit", pct(float64(ps.Mem.WorkingSet), float64(ps.Mem.Limit)), ps.Mem.Valid)
	}
	pr.Containers = containerResults(pp, ps, pi, prev, cur, nodeCPU, nodeMem)
	return pr
}

// podStatus sets the status and restart metrics: every one is emitted (0
// or more) so that alarms on them see 0 rather than missing data.
func podStatus(v map[string]float64, pi *PodInfo) {
	for _, ph := range [...]struct{ phase, name string }{
		{"Running", "pod_status_running"}, {"Pending", "pod_status_pending"},
		{"Succeeded", "pod_status_succeeded"}, {"Failed", "pod_status_failed"},
		{"Unknown", "pod_status_unknown"},
	} {
		v[ph.name] = b2f(pi.Phase == ph.phase)
	}
	v["pod_status_ready"] = b2f(pi.Ready)
	v["pod_status_scheduled"] = b2f(pi.Scheduled)
	for _, name := range waitingReasonMetrics {
		v[name] = 0
	}
	var restarts, running, waiting, terminated, oom float64
	for _, c := range pi.Containers {
		restarts += float64(c.Restarts)
		switch c.State {
		case "running":
			running++
		case "waiting":
			waiting++
			if m := waitingReasonMetric(c.Reason); m != "" {
				v[m]++
			}
		case "terminated":
			terminated++
		}
		if (c.State == "terminated" && c.Reason == "OOMKilled") || c.LastTerminatedReason == "OOMKilled" {
			oom++
		}
	}
	v["pod_number_of_container_restarts"] = restarts
	v["pod_number_of_containers"] = float64(len(pi.Containers))
	v["pod_number_of_running_containers"] = running
	v["pod_container_status_running"] = running
	v["pod_container_status_waiting"] = waiting
	v["pod_container_status_terminated"] = terminated
	v["pod_container_status_terminated_reason_oom_killed"] = oom
}

var waitingReasonMetrics = []string{
	"pod_container_status_waiting_reason_crash_loop_back_off",
	"pod_container_status_waiting_reason_image_pull_error",
	"pod_container_status_waiting_reason_start_error",
	"pod_container_status_waiting_reason_create_container_error",
	"pod_container_status_waiting_reason_create_container_config_error",
}

func containerResults(pp, ps *PodSample, pi *PodInfo, prev, cur *Snapshot, nodeCPU, nodeMem float64) []ContainerResult {
	var out []ContainerResult
	emit := func(cs *ContainerSample, ci *ContainerInfo) {
		cr := ContainerResult{Name: cs.Name, Values: map[string]float64{}, sample: cs}
		v := cr.Values
		var usage float64
		var hasUsage bool
		if pp != nil {
			if pc := pp.Containers[containerKey(cs)]; pc != nil && pc.StartTime.Equal(cs.StartTime) {
				usage, hasUsage = cpuRate(&pc.CPU, &cs.CPU, prev.Time, cur.Time)
			}
		}
		if hasUsage {
			v["container_cpu_usage_total"] = usage
			set(v, "container_cpu_utilization", pct(usage, nodeCPU), nodeCPU > 0)
		}
		if cs.Mem.Valid {
			v["container_memory_working_set"] = float64(cs.Mem.WorkingSet)
			set(v, "container_memory_utilization", pct(float64(cs.Mem.WorkingSet), nodeMem), nodeMem > 0)
		}
		if fs := cs.Rootfs; fs.Valid {
			v["container_filesystem_usage"] = float64(fs.UsedBytes)
			v["container_filesystem_capacity"] = float64(fs.CapacityBytes)
			set(v, "container_filesystem_utilization", pct(float64(fs.UsedBytes), float64(fs.CapacityBytes)), fs.CapacityBytes > 0)
		}
		if ci == nil && cs.Mem.Limit > 0 {
			// Without a pod list the cgroup's own limit stands in for the
			// spec's (the kubelet writes the spec's limit there).
			v["container_memory_limit"] = float64(cs.Mem.Limit)
			set(v, "container_memory_utilization_over_container_limit", pct(float64(cs.Mem.WorkingSet), float64(cs.Mem.Limit)), cs.Mem.Valid)
		}
		if ci != nil {
			if ci.HasCPURequest {
				v["container_cpu_request"] = float64(ci.CPURequestMilli)
			}
			if ci.HasMemRequest {
				v["container_memory_request"] = float64(ci.MemRequest)
			}
			if ci.HasCPULimit {
				v["container_cpu_limit"] = float64(ci.CPULimitMilli)
				set(v, "container_cpu_utilization_over_container_limit", pct(usage, float64(ci.CPULimitMilli)), hasUsage && ci.CPULimitMilli > 0)
			}
			if ci.HasMemLimit {
				v["container_memory_limit"] = float64(ci.MemLimit)
				set(v, "container_memory_utilization_over_container_limit", pct(float64(cs.Mem.WorkingSet), float64(ci.MemLimit)), cs.Mem.Valid && ci.MemLimit > 0)
			}
		}
		out = append(out, cr)
	}
	if pi == nil {
		for _, cs := range ps.Containers {
			emit(cs, nil)
		}
		return out
	}
	// Join by name (kubelet) or by container id (cgroups); a cgroup with no
	// container status is the pod's sandbox (pause) and is left out.
	for i := range pi.Containers {
		ci := &pi.Containers[i]
		cs := ps.Containers[ci.Name]
		if cs == nil && ci.ID != "" {
			if cs = ps.Containers[ci.ID]; cs != nil {
				cs.Name = ci.Name
			}
		}
		if cs != nil {
			emit(cs, ci)
		}
	}
	return out
}

// containerKey is how a container is keyed in its pod's map: by id for
// cgroup snapshots, by name for the kubelet's.
func containerKey(cs *ContainerSample) string {
	if cs.ID != "" {
		return cs.ID
	}
	return cs.Name
}

// cpuRate is the CPU used between two cumulative samples, in millicores.
// A counter that went back (a restarted container with the same key) gives
// no value rather than a negative one.
func cpuRate(a, b *CPUSample, ta, tb time.Time) (float64, bool) {
	if !a.Valid || !b.Valid || b.UsageCoreNanoSeconds < a.UsageCoreNanoSeconds {
		return 0, false
	}
	if !a.Time.IsZero() && !b.Time.IsZero() {
		ta, tb = a.Time, b.Time
		if ta.Equal(tb) && a.UsageCoreNanoSeconds == b.UsageCoreNanoSeconds {
			// The kubelet served the same cached sample twice (its
			// housekeeping interval is about as long as ours): its own
			// rate over its last window stands in.
			return float64(b.UsageNanoCores) / 1e6, true
		}
	}
	dt := tb.Sub(ta).Seconds()
	if dt <= 0 {
		return 0, false
	}
	// ns of CPU per s of wall time = nanocores; / 1e6 = millicores.
	return float64(b.UsageCoreNanoSeconds-a.UsageCoreNanoSeconds) / dt / 1e6, true
}

// netRate is bytes per second received and sent between two samples.
func netRate(a, b *NetSample, ta, tb time.Time) (rx, tx float64, ok bool) {
	if !a.Valid || !b.Valid || b.RxBytes < a.RxBytes || b.TxBytes < a.TxBytes {
		return 0, 0, false
	}
	if !a.Time.IsZero() && !b.Time.IsZero() {
		// The kubelet's own read times: a cached sample served twice gives
		// no value rather than a false 0.
		ta, tb = a.Time, b.Time
	}
	dt := tb.Sub(ta).Seconds()
	if dt <= 0 {
		return 0, 0, false
	}
	return float64(b.RxBytes-a.RxBytes) / dt, float64(b.TxBytes-a.TxBytes) / dt, true
}

func pct(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b * 100
}

func set(m map[string]float64, name string, v float64, ok bool) {
	if ok {
		m[name] = v
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
