package podmetrics

import "time"

// Snapshot is one observation of the node's pods and containers, from the
// kubelet's summary or from the cgroup tree. CPU is cumulative (a rate needs
// two snapshots); everything else is a level at Time.
type Snapshot struct {
	// Time is when the snapshot was taken. Per-value timestamps of the
	// kubelet (CPU time) win over it when rates are computed.
	Time time.Time
	// Source is "kubelet" or "cgroup".
	Source string
	Node   NodeSample
	// Pods by UID.
	Pods map[string]*PodSample
}

// NodeSample is the node-level part of a snapshot. Without a kubelet it is
// the sum of the pods' cgroups (kubepods), and Network and Fs are absent.
type NodeSample struct {
	Name string
	CPU  CPUSample
	Mem  MemSample
	// Net is the sum over the node's interfaces.
	Net NetSample
	Fs  FsSample
}

// PodSample is one pod. Name and Namespace are "" when the source knows only
// the UID (cgroups without a pod list).
type PodSample struct {
	UID, Name, Namespace string
	CPU                  CPUSample
	Mem                  MemSample
	Net                  NetSample
	// Ephemeral is the pod's ephemeral storage (kubelet only).
	Ephemeral FsSample
	// Containers by name (kubelet) or by container id (cgroups).
	Containers map[string]*ContainerSample
}

// ContainerSample is one container. ID is the runtime's id when the source
// knows it (cgroups); Name is the container's name in the pod spec when
// known, else the first 12 characters of the id.
type ContainerSample struct {
	Name, ID  string
	StartTime time.Time
	CPU       CPUSample
	Mem       MemSample
	// Rootfs and Logs are the container's writable layer and its log files
	// (kubelet only).
	Rootfs, Logs FsSample
}

// CPUSample holds cumulative CPU time. Valid is false when the source did not
// report it.
type CPUSample struct {
	Valid bool
	// Time is when the counter was read (the kubelet's cpu.time); zero means
	// the snapshot's Time.
	Time time.Time
	// UsageCoreNanoSeconds is cumulative CPU time over all cores.
	UsageCoreNanoSeconds uint64
	// UsageNanoCores is the kubelet's own rate (cores × 1e9), reported as is;
	// kinsight's rates come from two snapshots instead.
	UsageNanoCores uint64
}

// MemSample holds memory levels in bytes; zero with Valid means zero, a
// missing field is HasX false.
type MemSample struct {
	Valid bool
	// WorkingSet is usage − inactive_file (clamped at 0): what the kubelet
	// evicts on and what Container Insights calls working set.
	WorkingSet uint64
	Usage      uint64
	RSS        uint64
	HasUsage   bool
	HasRSS     bool
	// Limit is the cgroup's memory limit (cgroups only); 0 is none.
	Limit uint64
}

// NetSample holds cumulative interface counters.
type NetSample struct {
	Valid bool
	// Time is when the counters were read (the kubelet's network.time);
	// zero means the snapshot's Time.
	Time                                 time.Time
	RxBytes, TxBytes, RxErrors, TxErrors uint64
	// Interfaces holds per-interface counters when the source lists them.
	Interfaces []IfaceSample
}

// IfaceSample is one network interface's cumulative counters.
type IfaceSample struct {
	Name                                 string
	RxBytes, TxBytes, RxErrors, TxErrors uint64
}

// FsSample is one filesystem's usage in bytes.
type FsSample struct {
	Valid          bool
	UsedBytes      uint64
	CapacityBytes  uint64
	AvailableBytes uint64
}
