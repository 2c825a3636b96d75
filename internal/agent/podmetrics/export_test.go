package podmetrics

import (
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// TestSharedLabelSets: the series of one pod or container share their label
// pairs (export.go). Gathering through a registerer that adds a label must
// not change them for another registry gathering at the same time, and every
// series keeps its own values, type and sorted labels.
func TestSharedLabelSets(t *testing.T) {
	s1, pods := benchNode(t, 1)
	s2, _ := benchNode(t, 2)
	c, err := New(Options{ClusterName: "test", NodeCPUCores: 8, NodeMemoryBytes: 32 << 30, CgroupRoot: "unused"})
	if err != nil {
		t.Fatal(err)
	}
	prev, err := ParseSummary(s1, time.Unix(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	cur, err := ParseSummary(s2, time.Unix(10, 0))
	if err != nil {
		t.Fatal(err)
	}
	pl, err := ParsePodList(pods)
	if err != nil {
		t.Fatal(err)
	}
	var infos []PodInfo
	for i := range pl {
		infos = append(infos, PodInfoFromPod(&pl[i]))
	}
	c.last = Compute(prev, cur, infos, c.env)

	plain, wrapped := prometheus.NewPedanticRegistry(), prometheus.NewPedanticRegistry()
	plain.MustRegister(c)
	prometheus.WrapRegistererWith(prometheus.Labels{"AZ": "a"}, wrapped).MustRegister(c)
	var (
		wg       sync.WaitGroup
		got      [2][]*dto.MetricFamily
		gerr     [2]error
		gatherer = [2]prometheus.Gatherer{plain, wrapped}
	)
	for i := range 2 {
		wg.Go(func() { got[i], gerr[i] = gatherer[i].Gather() })
	}
	wg.Wait()
	for i := range 2 {
		if gerr[i] != nil {
			t.Fatalf("gather %d: %v", i, gerr[i])
		}
	}
	count := func(mfs []*dto.MetricFamily) (n int) {
		for _, mf := range mfs {
			n += len(mf.GetMetric())
		}
		return n
	}
	if n0, n1 := count(got[0]), count(got[1]); n0 != n1 || n0 < 10_000 {
		t.Fatalf("%d and %d series, want the same (over 10,000)", n0, n1)
	}
	for i, mfs := range got {
		for _, mf := range mfs {
			for _, m := range mf.GetMetric() {
				names := make([]string, 0, len(m.GetLabel()))
				for _, l := range m.GetLabel() {
					names = append(names, l.GetName())
				}
				if !slices.IsSorted(names) {
					t.Fatalf("%s: labels not sorted: %v", mf.GetName(), names)
				}
				if hasAZ := labelOf(m, "AZ") == "a"; hasAZ != (i == 1) {
					t.Fatalf("registry %d: %s %v: AZ label %v", i, mf.GetName(), m.GetLabel(), hasAZ)
				}
			}
		}
	}
	byName := map[string]*dto.MetricFamily{}
	for _, mf := range got[0] {
		byName[mf.GetName()] = mf
	}
	for name, typ := range map[string]dto.MetricType{rawCPU: dto.MetricType_COUNTER, rawRx: dto.MetricType_COUNTER,
		rawWorkingSet: dto.MetricType_GAUGE, "container_memory_working_set": dto.MetricType_GAUGE, "pod_number_of_containers": dto.MetricType_GAUGE} {
		if mf := byName[name]; mf == nil || mf.GetType() != typ {
			t.Fatalf("%s: %v, want type %v", name, mf, typ)
		}
	}
	for _, m := range byName["container_memory_working_set"].GetMetric() {
		if m.GetGauge().GetValue() != 30<<20 || labelOf(m, "ClusterName") != "test" || labelOf(m, "ContainerName") == "" {
			t.Fatalf("container_memory_working_set %v", m)
		}
	}
	for _, m := range byName["pod_number_of_containers"].GetMetric() {
		if m.GetGauge().GetValue() != 3 {
			t.Fatalf("pod_number_of_containers %v", m)
		}
	}
	for _, m := range byName[rawCPU].GetMetric() {
		if m.GetCounter().GetValue() != 3+2*0.03 || labelOf(m, "container") == "" {
			t.Fatalf("%s %v", rawCPU, m)
		}
	}
}
