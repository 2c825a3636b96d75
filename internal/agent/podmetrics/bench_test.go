package podmetrics

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	stats "k8s.io/kubelet/pkg/apis/stats/v1alpha1"
)

// benchNode builds a summary and a pod list of 110 pods with 3 containers
// each (the kubelet's default pod limit), the benchmark size.
func benchNode(b testing.TB, step uint64) (summary, podList []byte) {
	u := func(v uint64) *uint64 { return &v }
	now := metav1.NewTime(time.Unix(1_700_000_000+int64(step)*10, 0))
	fs := &stats.FsStats{Time: now, UsedBytes: u(1 << 20), CapacityBytes: u(100 << 30), AvailableBytes: u(50 << 30)}
	s := stats.Summary{Node: stats.NodeStats{NodeName: "bench", CPU: &stats.CPUStats{Time: now, UsageCoreNanoSeconds: u(1e12 + step*1e10)},
		Memory: &stats.MemoryStats{Time: now, WorkingSetBytes: u(4 << 30)}, Fs: fs,
		Network: &stats.NetworkStats{Time: now, Interfaces: []stats.InterfaceStats{{Name: "eth0", RxBytes: u(1e9 + step*1e6), TxBytes: u(1e9)}}}}}
	var pl corev1.PodList
	for i := 0; i < 110; i++ {
		uid := fmt.Sprintf("00000000-0000-4000-8000-%012d", i)
		ps := stats.PodStats{PodRef: stats.PodReference{Name: fmt.Sprintf("pod-%d", i), Namespace: "ns", UID: uid},
			CPU:    &stats.CPUStats{Time: now, UsageCoreNanoSeconds: u(1e10 + step*1e8)},
			Memory: &stats.MemoryStats{Time: now, WorkingSetBytes: u(100 << 20), UsageBytes: u(120 << 20), RSSBytes: u(90 << 20)},
			Network: &stats.NetworkStats{Time: now, Interfaces: []stats.InterfaceStats{
				{Name: "eth0", RxBytes: u(1e6 + step*1e3), TxBytes: u(1e6), RxErrors: u(0), TxErrors: u(0)}}},
			EphemeralStorage: fs}
		pod := corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: ps.PodRef.Name, Namespace: "ns", UID: types.UID(uid)},
			Status: corev1.PodStatus{Phase: corev1.PodRunning}}
		for j := 0; j < 3; j++ {
			name := fmt.Sprintf("c%d", j)
			ps.Containers = append(ps.Containers, stats.ContainerStats{Name: name, StartTime: metav1.NewTime(time.Unix(1_600_000_000, 0)),
				CPU:    &stats.CPUStats{Time: now, UsageCoreNanoSeconds: u(3e9 + step*3e7)},
				Memory: &stats.MemoryStats{Time: now, WorkingSetBytes: u(30 << 20), UsageBytes: u(40 << 20), RSSBytes: u(30 << 20)},
				Rootfs: fs, Logs: fs})
			pod.Spec.Containers = append(pod.Spec.Containers, corev1.Container{Name: name, Resources: corev1.ResourceRequirements{
				Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m"), corev1.ResourceMemory: resource.MustParse("64Mi")},
				Limits:   corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1"), corev1.ResourceMemory: resource.MustParse("256Mi")}}})
			pod.Status.ContainerStatuses = append(pod.Status.ContainerStatuses, corev1.ContainerStatus{Name: name, State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}})
		}
		s.Pods = append(s.Pods, ps)
		pl.Items = append(pl.Items, pod)
	}
	var err error
	if summary, err = json.Marshal(s); err != nil {
		b.Fatal(err)
	}
	if podList, err = json.Marshal(pl); err != nil {
		b.Fatal(err)
	}
	return summary, podList
}

// BenchmarkObserveAndScrape is one 10 s cycle for 110 pods × 3 containers:
// decode the summary and the pod list, compute, and gather the series. The
// issue's budget is 2% of a core for all agent metrics at a 10 s interval,
// i.e. 200 ms of CPU per cycle.
func BenchmarkObserveAndScrape(b *testing.B) {
	s1, pods := benchNode(b, 1)
	s2, _ := benchNode(b, 2)
	c, err := New(Options{NodeCPUCores: 8, NodeMemoryBytes: 32 << 30, CgroupRoot: "unused"})
	if err != nil {
		b.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(c)
	b.SetBytes(int64(len(s2) + len(pods)))
	b.ReportAllocs()
	b.ResetTimer()
	series := 0
	for i := 0; i < b.N; i++ {
		prev, err := ParseSummary(s1, time.Unix(0, 0))
		if err != nil {
			b.Fatal(err)
		}
		cur, err := ParseSummary(s2, time.Unix(10, 0))
		if err != nil {
			b.Fatal(err)
		}
		pl, err := ParsePodList(pods)
		if err != nil {
			b.Fatal(err)
		}
		infos := make([]PodInfo, 0, len(pl))
		for i := range pl {
			infos = append(infos, PodInfoFromPod(&pl[i]))
		}
		res := Compute(prev, cur, infos, c.env)
		c.mu.Lock()
		c.last = res
		c.mu.Unlock()
		mfs, err := reg.Gather()
		if err != nil {
			b.Fatal(err)
		}
		series = 0
		for _, mf := range mfs {
			series += len(mf.GetMetric())
		}
	}
	b.ReportMetric(float64(series), "series")
}
