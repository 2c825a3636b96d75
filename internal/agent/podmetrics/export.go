package podmetrics

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// Label sets of the Container Insights series, AWS's dimension names.
var (
	nodeLabels      = []string{"ClusterName", "NodeName", "InstanceId"}
	podLabels       = []string{"ClusterName", "NodeName", "Namespace", "PodName", "Service"}
	containerLabels = []string{"ClusterName", "NodeName", "Namespace", "PodName", "Service", "ContainerName"}
)

type level int

const (
	levelNode level = iota
	levelPod
	levelContainer
)

// ciMetrics lists every Container Insights series with its level and help
// (the formula, as docs/metrics.md gives it).
var ciMetrics = []struct {
	name  string
	level level
	help  string
}{
	{"node_cpu_limit", levelNode, "CPU of the node in millicores (CPUs × 1000)."},
	{"node_cpu_usage_total", levelNode, "CPU used on the node in millicores, over the last two observations."},
	{"node_cpu_utilization", levelNode, "node_cpu_usage_total / node_cpu_limit, percent."},
	{"node_cpu_request", levelNode, "Sum of pod_cpu_request of the node's unfinished pods, millicores."},
	{"node_cpu_reserved_capacity", levelNode, "node_cpu_request / node_cpu_limit, percent."},
	{"node_memory_limit", levelNode, "Memory of the node in bytes (MemTotal)."},
	{"node_memory_working_set", levelNode, "Working set of the node in bytes (usage − inactive file)."},
	{"node_memory_utilization", levelNode, "node_memory_working_set / node_memory_limit, percent."},
	{"node_memory_request", levelNode, "Sum of pod_memory_request of the node's unfinished pods, bytes."},
	{"node_memory_reserved_capacity", levelNode, "node_memory_request / node_memory_limit, percent."},
	{"node_network_rx_bytes", levelNode, "Bytes per second received over the node's interfaces."},
	{"node_network_tx_bytes", levelNode, "Bytes per second sent over the node's interfaces."},
	{"node_network_total_bytes", levelNode, "node_network_rx_bytes + node_network_tx_bytes."},
	{"node_filesystem_capacity", levelNode, "Capacity of the node's root filesystem (kubelet nodefs), bytes."},
	{"node_filesystem_usage", levelNode, "Used bytes of the node's root filesystem."},
	{"node_filesystem_utilization", levelNode, "node_filesystem_usage / node_filesystem_capacity, percent."},
	{"node_number_of_running_pods", levelNode, "Pods in phase Running on the node."},
	{"node_number_of_running_containers", levelNode, "Containers in state running on the node."},

	{"pod_cpu_usage_total", levelPod, "CPU used by the pod in millicores, over the last two observations."},
	{"pod_cpu_utilization", levelPod, "pod_cpu_usage_total / node_cpu_limit, percent."},
	{"pod_cpu_request", levelPod, "Sum of the containers' CPU requests that are set, millicores."},
	{"pod_cpu_limit", levelPod, "Sum of the containers' CPU limits; absent if a container has none."},
	{"pod_cpu_utilization_over_pod_limit", levelPod, "pod_cpu_usage_total / pod_cpu_limit, percent."},
	{"pod_cpu_reserved_capacity", levelPod, "pod_cpu_request / node_cpu_limit, percent."},
	{"pod_memory_working_set", levelPod, "Working set of the pod, bytes."},
	{"pod_memory_utilization", levelPod, "pod_memory_working_set / node_memory_limit, percent."},
	{"pod_memory_request", levelPod, "Sum of the containers' memory requests that are set, bytes."},
	{"pod_memory_limit", levelPod, "Sum of the containers' memory limits; absent if a container has none."},
	{"pod_memory_utilization_over_pod_limit", levelPod, "pod_memory_working_set / pod_memory_limit, percent."},
	{"pod_memory_reserved_capacity", levelPod, "pod_memory_request / node_memory_limit, percent."},
	{"pod_network_rx_bytes", levelPod, "Bytes per second received by the pod, all interfaces."},
	{"pod_network_tx_bytes", levelPod, "Bytes per second sent by the pod, all interfaces."},
	{"pod_network_total_bytes", levelPod, "pod_network_rx_bytes + pod_network_tx_bytes."},
	{"pod_number_of_container_restarts", levelPod, "Sum of the containers' restart counts."},
	{"pod_number_of_containers", levelPod, "Containers in the pod spec."},
	{"pod_number_of_running_containers", levelPod, "Containers in state running."},
	{"pod_status_running", levelPod, "1 if the pod's phase is Running."},
	{"pod_status_pending", levelPod, "1 if the pod's phase is Pending."},
	{"pod_status_succeeded", levelPod, "1 if the pod's phase is Succeeded."},
	{"pod_status_failed", levelPod, "1 if the pod's phase is Failed."},
	{"pod_status_unknown", levelPod, "1 if the pod's phase is Unknown."},
	{"pod_status_ready", levelPod, "1 if the pod's Ready condition is True."},
	{"pod_status_scheduled", levelPod, "1 if the pod's PodScheduled condition is True."},
	{"pod_container_status_running", levelPod, "Containers in state running."},
	{"pod_container_status_waiting", levelPod, "Containers in state waiting."},
	{"pod_container_status_terminated", levelPod, "Containers in state terminated."},
	{"pod_container_status_waiting_reason_crash_loop_back_off", levelPod, "Containers waiting with reason CrashLoopBackOff."},
	{"pod_container_status_waiting_reason_image_pull_error", levelPod, "Containers waiting with reason ErrImagePull, ImagePullBackOff or InvalidImageName."},
	{"pod_container_status_waiting_reason_start_error", levelPod, "Containers waiting with reason StartError or RunContainerError."},
	{"pod_container_status_waiting_reason_create_container_error", levelPod, "Containers waiting with reason CreateContainerError."},
	{"pod_container_status_waiting_reason_create_container_config_error", levelPod, "Containers waiting with reason CreateContainerConfigError."},
	{"pod_container_status_terminated_reason_oom_killed", levelPod, "Containers whose current or last termination was OOMKilled."},

	{"container_cpu_usage_total", levelContainer, "CPU used by the container in millicores, over the last two observations."},
	{"container_cpu_utilization", levelContainer, "container_cpu_usage_total / node_cpu_limit, percent."},
	{"container_cpu_request", levelContainer, "The container's CPU request, millicores (absent if unset)."},
	{"container_cpu_limit", levelContainer, "The container's CPU limit, millicores (absent if unset)."},
	{"container_cpu_utilization_over_container_limit", levelContainer, "container_cpu_usage_total / container_cpu_limit, percent."},
	{"container_memory_working_set", levelContainer, "Working set of the container, bytes."},
	{"container_memory_utilization", levelContainer, "container_memory_working_set / node_memory_limit, percent."},
	{"container_memory_request", levelContainer, "The container's memory request, bytes (absent if unset)."},
	{"container_memory_limit", levelContainer, "The container's memory limit, bytes (absent if unset)."},
	{"container_memory_utilization_over_container_limit", levelContainer, "container_memory_working_set / container_memory_limit, percent."},
	{"container_filesystem_usage", levelContainer, "Used bytes of the container's writable layer (rootfs)."},
	{"container_filesystem_capacity", levelContainer, "Capacity of the filesystem holding the container's rootfs, bytes."},
	{"container_filesystem_utilization", levelContainer, "container_filesystem_usage / container_filesystem_capacity, percent."},
}

// Raw cAdvisor-like series, with cAdvisor's names and lower-case labels.
const (
	rawCPU        = "container_cpu_usage_seconds_total"
	rawWorkingSet = "container_memory_working_set_bytes"
	rawRSS        = "container_memory_rss"
	rawUsage      = "container_memory_usage_bytes"
	rawFs         = "container_fs_usage_bytes"
	rawRx         = "container_network_receive_bytes_total"
	rawTx         = "container_network_transmit_bytes_total"
	rawRxErr      = "container_network_receive_errors_total"
	rawTxErr      = "container_network_transmit_errors_total"
)

func buildDescs() (ci, raw map[string]*prometheus.Desc) {
	ci = make(map[string]*prometheus.Desc, len(ciMetrics))
	for _, m := range ciMetrics {
		labels := nodeLabels
		switch m.level {
		case levelPod:
			labels = podLabels
		case levelContainer:
			labels = containerLabels
		}
		ci[m.name] = prometheus.NewDesc(m.name, "Container Insights: "+m.help, labels, nil)
	}
	cl, nl := rawContainerLabels, rawNetLabels
	raw = map[string]*prometheus.Desc{
		rawCPU:        prometheus.NewDesc(rawCPU, "Cumulative CPU time of the container, seconds.", cl, nil),
		rawWorkingSet: prometheus.NewDesc(rawWorkingSet, "Working set of the container, bytes.", cl, nil),
		rawRSS:        prometheus.NewDesc(rawRSS, "Anonymous (RSS) memory of the container, bytes.", cl, nil),
		rawUsage:      prometheus.NewDesc(rawUsage, "Memory usage of the container including page cache, bytes.", cl, nil),
		rawFs:         prometheus.NewDesc(rawFs, "Bytes used by the container's writable layer.", cl, nil),
		rawRx:         prometheus.NewDesc(rawRx, "Cumulative bytes received by the pod on an interface.", nl, nil),
		rawTx:         prometheus.NewDesc(rawTx, "Cumulative bytes sent by the pod on an interface.", nl, nil),
		rawRxErr:      prometheus.NewDesc(rawRxErr, "Cumulative receive errors of the pod on an interface.", nl, nil),
		rawTxErr:      prometheus.NewDesc(rawTxErr, "Cumulative transmit errors of the pod on an interface.", nl, nil),
	}
	return ci, raw
}

// Collect implements prometheus.Collector: the values of the last
// observation as constant metrics.
//
// An agent's collection is about 8,000 series of a few label sets (one per
// pod, container and interface), and client_golang's constant metrics would
// build every series' label pairs anew (a *dto.LabelPair and two strings a
// label): 65% of the allocations of a collection, alive until the
// gathered families are appended to the WAL. Here each label set is built
// once per collection and shared by its series (client_golang treats a
// written metric's labels as immutable), and a label set's series are one
// allocation.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	c.collections.Collect(ch)
	c.errs.Collect(ch)
	c.podsGauge.Collect(ch)
	c.mu.Lock()
	res := c.last
	c.mu.Unlock()
	if res == nil {
		return
	}
	node := c.opts.NodeName
	if node == "" {
		node = res.Snapshot.Node.Name
	}
	cluster, inst := c.opts.ClusterName, c.opts.InstanceID
	c.emitValues(ch, res.Node, labelPairs(nodeLabels, cluster, node, inst))
	// Two pods of one name (a StatefulSet pod and its terminating
	// predecessor) would give duplicate series and fail the whole scrape:
	// the first listed wins.
	seen := make(map[[2]string]bool, len(res.Pods))
	for i := range res.Pods {
		p := &res.Pods[i]
		k := [2]string{p.Namespace, p.Name}
		if seen[k] {
			continue
		}
		seen[k] = true
		c.emitValues(ch, p.Values, labelPairs(podLabels, cluster, node, p.Namespace, p.Name, p.Service))
		for j := range p.Containers {
			ct := &p.Containers[j]
			c.emitValues(ch, ct.Values, labelPairs(containerLabels, cluster, node, p.Namespace, p.Name, p.Service, ct.Name))
		}
		if !c.opts.DisableRawSeries {
			c.collectRaw(ch, node, p)
		}
	}
}

// emitValues sends one gauge per value with a known name, all with the
// label set lps.
func (c *Collector) emitValues(ch chan<- prometheus.Metric, values map[string]float64, lps []*dto.LabelPair) {
	ms := make([]sharedMetric, 0, len(values))
	for name, v := range values {
		if d := c.descs[name]; d != nil {
			ms = append(ms, sharedMetric{desc: d, labels: lps, v: v})
		}
	}
	send(ch, ms)
}

// Raw series' label names, cAdvisor's.
var (
	rawContainerLabels = []string{"node", "namespace", "pod", "container"}
	rawNetLabels       = []string{"node", "namespace", "pod", "interface"}
)

func (c *Collector) collectRaw(ch chan<- prometheus.Metric, node string, p *PodResult) {
	// At most five series per container and four per interface.
	ms := make([]sharedMetric, 0, 5*len(p.Containers))
	emit := func(name string, counter bool, v float64, lps []*dto.LabelPair) {
		ms = append(ms, sharedMetric{desc: c.raw[name], labels: lps, counter: counter, v: v})
	}
	for _, ct := range p.Containers {
		cs := ct.sample
		if cs == nil {
			continue
		}
		lps := labelPairs(rawContainerLabels, node, p.Namespace, p.Name, ct.Name)
		if cs.CPU.Valid {
			emit(rawCPU, true, float64(cs.CPU.UsageCoreNanoSeconds)/1e9, lps)
		}
		if cs.Mem.Valid {
			emit(rawWorkingSet, false, float64(cs.Mem.WorkingSet), lps)
			if cs.Mem.HasRSS {
				emit(rawRSS, false, float64(cs.Mem.RSS), lps)
			}
			if cs.Mem.HasUsage {
				emit(rawUsage, false, float64(cs.Mem.Usage), lps)
			}
		}
		if cs.Rootfs.Valid {
			emit(rawFs, false, float64(cs.Rootfs.UsedBytes), lps)
		}
	}
	if p.sample != nil {
		seen := map[string]bool{}
		for _, is := range p.sample.Net.Interfaces {
			if seen[is.Name] {
				continue // a kubelet listing one interface twice must not break the scrape
			}
			seen[is.Name] = true
			lps := labelPairs(rawNetLabels, node, p.Namespace, p.Name, is.Name)
			emit(rawRx, true, float64(is.RxBytes), lps)
			emit(rawTx, true, float64(is.TxBytes), lps)
			emit(rawRxErr, true, float64(is.RxErrors), lps)
			emit(rawTxErr, true, float64(is.TxErrors), lps)
		}
	}
	send(ch, ms)
}

// send sends pointers into ms, which must not be appended to afterwards:
// a gauge's value is pointed to here, once ms has its final array.
func send(ch chan<- prometheus.Metric, ms []sharedMetric) {
	for i := range ms {
		m := &ms[i]
		if !m.counter {
			m.gauge.Value = &m.v
		}
		ch <- m
	}
}

// labelPairs builds one label set, sorted by name as a written metric's
// labels must be, in three allocations. The result has no spare capacity,
// so a wrapping registerer that appends labels copies it first.
func labelPairs(names []string, values ...string) []*dto.LabelPair {
	vs := make([]string, len(values))
	copy(vs, values)
	pairs := make([]dto.LabelPair, len(names))
	out := make([]*dto.LabelPair, len(names))
	for i := range names {
		pairs[i].Name, pairs[i].Value = &names[i], &vs[i]
		out[i] = &pairs[i]
	}
	slices.SortFunc(out, func(a, b *dto.LabelPair) int { return strings.Compare(*a.Name, *b.Name) })
	return out
}

// sharedMetric is a constant gauge or counter whose label pairs are shared
// with the other series of its label set. It is immutable once sent.
type sharedMetric struct {
	desc    *prometheus.Desc
	labels  []*dto.LabelPair
	counter bool
	v       float64
	gauge   dto.Gauge // written as is: most series are gauges
}

func (m *sharedMetric) Desc() *prometheus.Desc { return m.desc }

func (m *sharedMetric) Write(out *dto.Metric) error {
	out.Label = m.labels
	if m.counter {
		out.Counter = &dto.Counter{Value: &m.v}
	} else {
		out.Gauge = &m.gauge
	}
	return nil
}

// parseMemTotal returns MemTotal of /proc/meminfo in bytes.
func parseMemTotal(b []byte) (uint64, error) {
	for len(b) > 0 {
		line := b
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			line, b = b[:i], b[i+1:]
		} else {
			b = nil
		}
		rest, ok := bytes.CutPrefix(line, []byte("MemTotal:"))
		if !ok {
			continue
		}
		f := bytes.Fields(rest)
		if len(f) == 0 {
			break
		}
		v, err := strconv.ParseUint(string(f[0]), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("meminfo MemTotal: %w", err)
		}
		if len(f) > 1 && string(f[1]) == "kB" {
			v *= 1024
		}
		return v, nil
	}
	return 0, errors.New("meminfo: no MemTotal line")
}
