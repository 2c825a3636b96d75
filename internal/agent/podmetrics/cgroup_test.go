package podmetrics

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const (
	fixUID1 = "0f2a6c1e-3b7d-4c55-9e41-2d8f5a7b9c10"
	fixUID2 = "7e6d5c4b-3a29-4817-a6b5-c4d3e2f1a0b9"
	fixCID1 = "4c8e2a17b9d3f6e05a1c7b2d9e8f3a6b5c4d1e0f9a8b7c6d5e4f3a2b1c0d9e8f"
	fixCID2 = "9d1e3f5a7b9c0d2e4f6a8b0c1d3e5f7a9b1c3d5e7f9a0b2c4d6e8f0a1b3c5d7e"
)

func TestCgroupNames(t *testing.T) {
	pods := []struct {
		in, uid string
		ok      bool
	}{
		{"kubepods-burstable-pod0f2a6c1e_3b7d_4c55_9e41_2d8f5a7b9c10.slice", fixUID1, true},
		{"kubepods-besteffort-pod7e6d5c4b_3a29_4817_a6b5_c4d3e2f1a0b9.slice", fixUID2, true},
		{"kubepods-pod0f2a6c1e_3b7d_4c55_9e41_2d8f5a7b9c10.slice", fixUID1, true}, // guaranteed QoS
		{"pod0f2a6c1e-3b7d-4c55-9e41-2d8f5a7b9c10", fixUID1, true},                // cgroupfs
		{"kubepods-burstable.slice", "", false},
		{"burstable", "", false},
		{"kubepods-burstable-pod.slice", "", false},
		{"system.slice", "", false},
		{"pod", "", false},
	}
	for _, c := range pods {
		uid, ok := podUIDFromDir(c.in)
		if uid != c.uid || ok != c.ok {
			t.Errorf("podUIDFromDir(%q) = %q, %v", c.in, uid, ok)
		}
	}
	ctrs := []struct {
		in, id string
		ok     bool
	}{
		{"cri-containerd-" + fixCID1 + ".scope", fixCID1, true},
		{"crio-" + fixCID1 + ".scope", fixCID1, true},
		{"docker-" + fixCID1 + ".scope", fixCID1, true},
		{fixCID1, fixCID1, true},
		{"crio-conmon-" + fixCID1 + ".scope", "", false},
		{"init.scope", "", false},
		{"cri-containerd-xyz.scope", "", false},
		{"memory.stat", "", false},
	}
	for _, c := range ctrs {
		id, ok := containerIDFromDir(c.in)
		if id != c.id || ok != c.ok {
			t.Errorf("containerIDFromDir(%q) = %q, %v", c.in, id, ok)
		}
	}
}

func TestCgroupV2Systemd(t *testing.T) {
	r := &cgroupReader{root: "testdata/cgroup/v2-systemd"}
	s, err := r.read(time.Unix(100, 0))
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Pods) != 2 {
		t.Fatalf("%d pods, want 2", len(s.Pods))
	}
	p := s.Pods[fixUID1]
	if p == nil || len(p.Containers) != 1 {
		t.Fatalf("pod %+v (crio-conmon scope must be skipped)", p)
	}
	// memory.current − inactive_file of the ClickHouse sample.
	const ws = 29645422592 - 8693084160
	if p.Mem.WorkingSet != ws || p.Mem.Usage != 29645422592 || p.Mem.RSS != 10429399040 || p.Mem.Limit != 0 {
		t.Errorf("pod mem %+v", p.Mem)
	}
	c := p.Containers[fixCID1]
	if c == nil || c.Mem.Limit != 34359738368 || c.Name != fixCID1[:12] {
		t.Fatalf("container %+v", c)
	}
	if c.CPU.UsageCoreNanoSeconds == 0 || c.CPU.UsageCoreNanoSeconds%1000 != 0 {
		t.Errorf("cpu from usage_usec × 1000: %d", c.CPU.UsageCoreNanoSeconds)
	}
	if !s.Node.Mem.Valid || s.Node.Mem.WorkingSet != ws {
		t.Errorf("node (kubepods) %+v", s.Node.Mem)
	}
	res := Compute(nil, s, nil, Env{NodeCPUCores: 4, NodeMemoryBytes: 64 << 30})
	for _, pr := range res.Pods {
		if pr.UID != fixUID1 {
			continue
		}
		if _, ok := pr.Values["pod_memory_limit"]; ok {
			t.Error("pod memory.max is max: no pod_memory_limit")
		}
		if v := pr.Containers[0].Values["container_memory_utilization_over_container_limit"]; !near(v, float64(ws)/34359738368*100) {
			t.Errorf("container over limit from memory.max: %v", v)
		}
	}
	if s.Pods[fixUID2] == nil || s.Pods[fixUID2].Containers[fixCID2] == nil {
		t.Errorf("besteffort pod %+v", s.Pods[fixUID2])
	}
}

func TestCgroupV1Host(t *testing.T) {
	r := &cgroupReader{root: "testdata/cgroup/v1-host"}
	s, err := r.read(time.Unix(100, 0))
	if err != nil {
		t.Fatal(err)
	}
	p := s.Pods[fixUID1]
	if p == nil || p.Containers[fixCID1] == nil {
		t.Fatalf("pods %+v", s.Pods)
	}
	// Recorded on this machine: usage 150183936, total_inactive_file
	// 39800832, total_rss 2068480, no limit (9223372036854771712).
	if p.Mem.Usage != 150183936 || p.Mem.WorkingSet != 150183936-39800832 || p.Mem.RSS != 2068480 || p.Mem.Limit != 0 {
		t.Errorf("pod mem %+v", p.Mem)
	}
	if want := fileUint(t, "cgroup/v1-host/cpuacct/kubepods/burstable/pod"+fixUID1+"/cpuacct.usage"); p.CPU.UsageCoreNanoSeconds != want {
		t.Errorf("pod cpu %+v", p.CPU)
	}
}

func TestCgroupErrors(t *testing.T) {
	if _, err := (&cgroupReader{root: t.TempDir()}).read(time.Now()); err == nil {
		t.Error("empty root: no error")
	}
	// A pod whose cgroup vanished mid-walk is skipped; a corrupt file fails
	// the read.
	root := copyTree(t, "testdata/cgroup/v2-systemd")
	pod := filepath.Join(root, "kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod7e6d5c4b_3a29_4817_a6b5_c4d3e2f1a0b9.slice")
	if err := os.Remove(filepath.Join(pod, "cpu.stat")); err != nil {
		t.Fatal(err)
	}
	s, err := (&cgroupReader{root: root}).read(time.Now())
	if err != nil || len(s.Pods) != 1 {
		t.Fatalf("vanished pod: %v, %d pods", err, len(s.Pods))
	}
	if err := os.WriteFile(filepath.Join(pod, "cpu.stat"), []byte("usage_usec twelve\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := (&cgroupReader{root: root}).read(time.Now()); err == nil || !strings.Contains(err.Error(), "cpu.stat") {
		t.Errorf("corrupt cpu.stat: %v", err)
	}
}

// TestCgroupCollectorRate runs the Collector over the v1 tree recorded here
// twice, the second time with the cpuacct counters read about 1 s later.
func TestCgroupCollectorRate(t *testing.T) {
	root := copyTree(t, "testdata/cgroup/v1-host")
	clock := time.Unix(1000, 0)
	c, err := New(Options{CgroupRoot: root, NodeCPUCores: 2, NodeMemoryBytes: 8 << 30, Now: func() time.Time { return clock }, ClusterName: "c"})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Observe(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, ok := c.Last().Node["node_cpu_usage_total"]; ok {
		t.Error("rate after one observation")
	}
	later := readFixture(t, "cgroup/v1-host-later/cpuacct.usage")
	err = filepath.WalkDir(filepath.Join(root, "cpuacct"), func(p string, d os.DirEntry, err error) error {
		if err == nil && d.Name() == "cpuacct.usage" {
			err = os.WriteFile(p, later, 0o644)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	clock = clock.Add(time.Second)
	if err := c.Observe(context.Background()); err != nil {
		t.Fatal(err)
	}
	res := c.Last()
	// millicores over 1 s
	later2 := float64(fileUint(t, "cgroup/v1-host-later/cpuacct.usage"))
	want := (later2 - float64(fileUint(t, "cgroup/v1-host/cpuacct/kubepods/cpuacct.usage"))) / 1e6
	wantPod := (later2 - float64(fileUint(t, "cgroup/v1-host/cpuacct/kubepods/burstable/pod"+fixUID1+"/cpuacct.usage"))) / 1e6
	wantCtr := (later2 - float64(fileUint(t, "cgroup/v1-host/cpuacct/kubepods/burstable/pod"+fixUID1+"/"+fixCID1+"/cpuacct.usage"))) / 1e6
	if got := res.Node["node_cpu_usage_total"]; !near(got, want) {
		t.Errorf("node_cpu_usage_total %v, want %v", got, want)
	}
	if got := res.Node["node_cpu_utilization"]; !near(got, want/2000*100) {
		t.Errorf("node_cpu_utilization %v", got)
	}
	if len(res.Pods) != 1 || res.Pods[0].Name != fixUID1 || !near(res.Pods[0].Values["pod_cpu_usage_total"], wantPod) {
		t.Fatalf("pods %+v", res.Pods)
	}
	ct := res.Pods[0].Containers
	if len(ct) != 1 || !near(ct[0].Values["container_cpu_utilization"], wantCtr/2000*100) {
		t.Errorf("containers %+v", ct)
	}
	if res.Node["node_number_of_running_pods"] != 1 || res.Node["node_number_of_running_containers"] != 1 {
		t.Errorf("counts %+v", res.Node)
	}
}

// TestRunStops: Run observes at once and returns when its context ends.
func TestRunStops(t *testing.T) {
	c, err := New(Options{CgroupRoot: "testdata/cgroup/v2-systemd", NodeCPUCores: 1, NodeMemoryBytes: 1 << 30})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := c.Run(ctx, time.Hour); err != context.Canceled {
		t.Fatalf("Run: %v", err)
	}
	if c.Last() == nil || len(c.Last().Pods) != 2 {
		t.Fatalf("no observation before returning: %+v", c.Last())
	}
}

func TestParseKeyedAndValue(t *testing.T) {
	kv, err := parseKeyed([]byte("usage_usec 5\nuser_usec 3\n\nsystem_usec 2"), nil)
	if err != nil || kv["usage_usec"] != 5 || kv["system_usec"] != 2 || len(kv) != 3 {
		t.Errorf("%v %v", kv, err)
	}
	kv, err = parseKeyed([]byte("anon 1\nfile 2\n"), wantV2Mem)
	if err != nil || len(kv) != 1 || kv["anon"] != 1 {
		t.Errorf("filtered %v %v", kv, err)
	}
	for _, bad := range []string{"anon", "anon ", " 1", "anon -1", "anon 1 2", "anon 99999999999999999999"} {
		if _, err := parseKeyed([]byte(bad), nil); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
	for in, want := range map[string]uint64{"42\n": 42, " 7 ": 7, "0": 0} {
		if v, unl, err := parseValue([]byte(in)); err != nil || unl || v != want {
			t.Errorf("%q: %d %v %v", in, v, unl, err)
		}
	}
	if _, unl, err := parseValue([]byte("max\n")); !unl || err != nil {
		t.Errorf("max: %v %v", unl, err)
	}
	for _, bad := range []string{"", "\n", "-1", "1.5", "maximum"} {
		if _, _, err := parseValue([]byte(bad)); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
	if v, err := parseMemTotal([]byte("MemTotal:       16314036 kB\nMemFree: 1 kB\n")); err != nil || v != 16314036*1024 {
		t.Errorf("meminfo %d %v", v, err)
	}
	if _, err := parseMemTotal([]byte("MemFree: 1 kB\n")); err == nil {
		t.Error("meminfo without MemTotal: no error")
	}
}

func FuzzParseKeyed(f *testing.F) {
	for _, name := range []string{"cgroup/v1-host/memory/kubepods/memory.stat", "cgroup/v2-systemd/kubepods.slice/memory.stat", "cgroup/v2-systemd/kubepods.slice/cpu.stat"} {
		f.Add(readFixture(f, name))
	}
	f.Add([]byte("a 1\nb\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		kv, err := parseKeyed(data, nil)
		if err != nil {
			return
		}
		// Every key parsed is a key of the input.
		for k := range kv {
			if !strings.Contains(string(data), k+" ") {
				t.Fatalf("key %q not in input", k)
			}
		}
		filtered, err := parseKeyed(data, wantV1Mem)
		if err != nil {
			t.Fatalf("filtered parse failed where the full one did not: %v", err)
		}
		for k, v := range filtered {
			if kv[k] != v {
				t.Fatalf("%s: %d vs %d", k, v, kv[k])
			}
		}
	})
}

func FuzzParseValue(f *testing.F) {
	for _, s := range []string{"max\n", "9223372036854771712\n", "0", "", "12 34"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		v, unl, err := parseValue(data)
		if err == nil && unl && v != 0 {
			t.Fatalf("unlimited with value %d", v)
		}
	})
}

func fileUint(t *testing.T, name string) uint64 {
	t.Helper()
	v, _, err := parseValue(readFixture(t, name))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func near(a, b float64) bool {
	d := a - b
	if d < 0 {
		d = -d
	}
	return d <= 1e-9*max(1, a, b, -a, -b)
}

func copyTree(t *testing.T, src string) string {
	t.Helper()
	dst := t.TempDir()
	err := filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}
