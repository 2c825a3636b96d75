package podmetrics

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

func readFixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseSummaryFixtures(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	t.Run("otel minikube 2020", func(t *testing.T) {
		s, err := ParseSummary(readFixture(t, "kubelet/otel-minikube-2020.json"), now)
		if err != nil {
			t.Fatal(err)
		}
		if s.Node.Name != "minikube" || len(s.Pods) != 3 {
			t.Fatalf("node %q, %d pods", s.Node.Name, len(s.Pods))
		}
		if s.Node.CPU.UsageCoreNanoSeconds != 263475389988 || s.Node.Mem.WorkingSet != 1234567890 {
			t.Errorf("node cpu/mem %+v %+v", s.Node.CPU, s.Node.Mem)
		}
		// eth0 + sit0 (0)
		if s.Node.Net.RxBytes != 948305524 || s.Node.Net.TxBytes != 12542266 || len(s.Node.Net.Interfaces) != 2 {
			t.Errorf("node net %+v", s.Node.Net)
		}
		if s.Node.Fs.CapacityBytes != 17361125376 || s.Node.Fs.UsedBytes != 2626973696 {
			t.Errorf("node fs %+v", s.Node.Fs)
		}
		p := s.Pods["5795d0c442cb997ff93c49feeb9f6386"]
		if p == nil || p.Name != "kube-scheduler-minikube" || p.Namespace != "kube-system" {
			t.Fatalf("pod %+v", p)
		}
		if p.CPU.UsageCoreNanoSeconds != 4553997785 || p.Mem.WorkingSet != 12230656 || p.Mem.RSS != 12660736 || p.Mem.Usage != 14290944 {
			t.Errorf("pod cpu/mem %+v %+v", p.CPU, p.Mem)
		}
		if want := time.Date(2020, 4, 20, 22, 52, 18, 0, time.UTC); !p.CPU.Time.Equal(want) {
			t.Errorf("cpu time %v", p.CPU.Time)
		}
		c := p.Containers["kube-scheduler"]
		if c == nil || c.CPU.UsageCoreNanoSeconds != 4560175707 || c.Rootfs.UsedBytes != 12288 || c.Logs.UsedBytes != 36864 {
			t.Errorf("container %+v", c)
		}
		if p.Ephemeral.UsedBytes != 49152 {
			t.Errorf("ephemeral %+v", p.Ephemeral)
		}
	})
	t.Run("beats gke 2017: no pod-level cpu/memory", func(t *testing.T) {
		s, err := ParseSummary(readFixture(t, "kubelet/beats-gke-2017-multiple-containers.json"), now)
		if err != nil {
			t.Fatal(err)
		}
		p := s.Pods["beabc196-2456-11e7-a3ad-42010a840235"]
		if p == nil || len(p.Containers) != 2 {
			t.Fatalf("pod %+v", p)
		}
		// The pod's figures are the containers' sum.
		if !p.CPU.Valid || p.CPU.UsageCoreNanoSeconds != 2*43959424 || p.Mem.WorkingSet != 2*1454080 {
			t.Errorf("pod sums %+v %+v", p.CPU, p.Mem)
		}
		// Inline network (no interface list) is one interface.
		if p.Net.RxBytes != 107056 || len(p.Net.Interfaces) != 1 || p.Net.Interfaces[0].Name != "eth0" {
			t.Errorf("pod net %+v", p.Net)
		}
		if s.Node.Net.TxBytes != 812729002 {
			t.Errorf("node net %+v", s.Node.Net)
		}
	})
	t.Run("gke 2025: memory without usageBytes", func(t *testing.T) {
		s, err := ParseSummary(readFixture(t, "kubelet/gke-2025-auditproxy-pod.json"), now)
		if err != nil {
			t.Fatal(err)
		}
		p := s.Pods["43780f1ce6e2171bc9e70cae3118ab6b"]
		c := p.Containers["auditproxy"]
		if !c.Mem.Valid || c.Mem.WorkingSet != 76451840 || c.Mem.HasUsage || c.Mem.HasRSS {
			t.Errorf("container mem %+v", c.Mem)
		}
		if p.Net.TxBytes != 939343805472 || p.CPU.UsageCoreNanoSeconds != 15900193844000 {
			t.Errorf("pod %+v %+v", p.Net, p.CPU)
		}
		if s.Node.CPU.Valid || s.Node.Mem.Valid || s.Node.Fs.Valid {
			t.Errorf("absent node stats must stay invalid: %+v", s.Node)
		}
	})
}

func TestParseSummaryBad(t *testing.T) {
	for _, in := range []string{``, `{`, `[]`, `{}`, `{"node":{"cpu":"x"}}`, `<html>502</html>`, `{"node":{"nodeName":"n","cpu":{"usageCoreNanoSeconds":-1}}}`} {
		if _, err := ParseSummary([]byte(in), time.Now()); err == nil {
			t.Errorf("%q: no error", in)
		}
	}
}

func TestParsePodList(t *testing.T) {
	pods, err := ParsePodList(readFixture(t, "kubelet/pods-minikube.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(pods) != 4 {
		t.Fatalf("%d pods", len(pods))
	}
	web := PodInfoFromPod(&pods[3])
	if web.Phase != "Pending" || web.Ready || !web.Scheduled || len(web.Containers) != 2 {
		t.Fatalf("web %+v", web)
	}
	w, p := web.Containers[0], web.Containers[1]
	if w.State != "waiting" || w.Reason != "ImagePullBackOff" || w.CPULimitMilli != 1000 || w.MemLimit != 512<<20 || w.CPURequestMilli != 500 {
		t.Errorf("web container %+v", w)
	}
	if p.State != "waiting" || p.Reason != "CrashLoopBackOff" || p.Restarts != 5 || p.ID != "5f0e1d2c3b4a" || p.LastTerminatedReason != "Error" {
		t.Errorf("proxy container %+v", p)
	}
	sched := PodInfoFromPod(&pods[0])
	// A limit without a request defaults the request (memory 1G here).
	if c := sched.Containers[0]; !c.HasMemRequest || c.MemRequest != 1e9 || c.ID != "364bd8f13021f326" || c.State != "running" {
		t.Errorf("scheduler container %+v", c)
	}
	if _, err := ParsePodList([]byte(`{"items":[{"metadata":{"name":7}}]}`)); err == nil {
		t.Error("bad pod list: no error")
	}
}

func FuzzParseSummary(f *testing.F) {
	for _, name := range []string{"kubelet/otel-minikube-2020.json", "kubelet/beats-gke-2017-multiple-containers.json", "kubelet/gke-2025-auditproxy-pod.json"} {
		f.Add(readFixture(f, name))
	}
	f.Add([]byte(`{"node":{"nodeName":"n"},"pods":[{"podRef":{"uid":"u"},"containers":[{"name":"c"}]}]}`))
	f.Add([]byte(`{"node":{"nodeName":"n","network":{"interfaces":[{"name":"a","rxBytes":1},{"name":"a"}]}}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := ParseSummary(data, time.Unix(0, 0))
		if err != nil {
			return
		}
		prev, _ := ParseSummary(data, time.Unix(10, 0))
		// Whatever decodes must compute and export without panicking.
		res := Compute(prev, s, nil, Env{NodeCPUCores: 2, NodeMemoryBytes: 1 << 30})
		for _, p := range res.Pods {
			if p.UID == "" {
				t.Fatal("pod without UID")
			}
		}
	})
}
