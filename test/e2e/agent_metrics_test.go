package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	"github.com/kinsight/kinsight/internal/testkube"
)

// The node every object of TestAgentMetrics is on: the kubelet fixture's
// (a minikube node), so the pod metrics' NodeName and the scraped pods'
// node agree.
const metricsNode = "minikube"

// metricsInterval is agent.metrics.interval in the test, its minimum.
const metricsInterval = 10 * time.Second

// TestAgentMetrics runs the real `kinsight agent` binary with its metric
// side on against a real `kinsight server` and a real kube-apiserver, and
// checks on the server, through /api/v1/query, that everything the agent
// collects arrives: its node metrics, a real Debian node-exporter scraped
// through a PodMonitor and through an annotated pod, the cluster metrics
// of the elected agent, and Container Insights pod metrics from the
// kubelet. No kubelet can run here, so the kubelet is a small HTTPS server
// serving a recorded /stats/summary and /pods
// (internal/agent/podmetrics/testdata/kubelet) to the agent's real kubelet
// client, which sends the service-account-style bearer token and checks
// the serving certificate against kubelet_ca_file.
//
// Then the server is stopped for 15 s and started again: every node
// sample the agent collected meanwhile arrives, so the agent's node_load1
// series has one sample per interval from the first to the last, no gap.
// The agent's service account has exactly the RBAC rules of
// deploy/kinsight-agent.yaml.
func TestAgentMetrics(t *testing.T) {
	kc := testkube.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cs := kc.Clientset()
	dyn, err := dynamic.NewForConfig(kc.Admin())
	if err != nil {
		t.Fatal(err)
	}
	installMonitorCRDs(t, ctx, dyn)
	exporter := startDebianNodeExporter(t)

	// The cluster: one Ready node, the exporter's pod (selected by a
	// PodMonitor) and an annotated pod on the same port.
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: metricsNode}, Spec: corev1.NodeSpec{ProviderID: "aws:///us-east-1a/i-0e2e0e2e0e2e0e2e0"}}
	if node, err = cs.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	node.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue, LastHeartbeatTime: metav1.Now()}}
	if _, err := cs.CoreV1().Nodes().UpdateStatus(ctx, node, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, ns := range []string{"mon", "apps", "kinsight"} {
		kc.EnsureNamespace(t, ns)
	}
	runningPod(t, ctx, cs, "apps", "node-exporter", map[string]string{"app": "node-exporter"}, nil,
		[]corev1.ContainerPort{{Name: "metrics", ContainerPort: int32(exporter)}})
	runningPod(t, ctx, cs, "apps", "annotated", nil, map[string]string{
		"prometheus.io/scrape": "true", "prometheus.io/port": strconv.Itoa(exporter), "prometheus.io/path": "/metrics",
	}, nil)
	pm := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "monitoring.coreos.com/v1", "kind": "PodMonitor",
		"metadata": map[string]any{"name": "node-exporter", "namespace": "mon"},
		"spec": map[string]any{
			"selector":            map[string]any{"matchLabels": map[string]any{"app": "node-exporter"}},
			"namespaceSelector":   map[string]any{"matchNames": []any{"apps"}},
			"podMetricsEndpoints": []any{map[string]any{"port": "metrics", "interval": "2s"}},
		},
	}}
	podMonitors := schema.GroupVersionResource{Group: "monitoring.coreos.com", Version: "v1", Resource: "podmonitors"}
	if _, err := dyn.Resource(podMonitors).Namespace("mon").Create(ctx, pm, metav1.CreateOptions{FieldValidation: "Strict"}); err != nil {
		t.Fatalf("create PodMonitor: %v", err)
	}
	token := kc.ServiceAccountToken(t, "kinsight", "kinsight-agent", deployedAgentRules(t))
	kubeconfig := kc.Kubeconfig(t, token)

	kubelet, caFile, tokenFile := startFixtureKubelet(t)

	srv := startServer(t, "")
	a := startMetricsAgent(t, srv, kubeconfig, kubelet, caFile, tokenFile)

	q := func(query string) []amSample { return amQuery(t, srv, query) }
	waitMetric := func(what, query string, ok func([]amSample) bool) {
		t.Helper()
		deadline := time.Now().Add(45 * time.Second)
		for {
			res := q(query)
			if ok(res) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: %s = %v after 45s\nagent:\n%s", what, query, res, tailOf(a.output(), 4000))
			}
			time.Sleep(250 * time.Millisecond)
		}
	}
	one := func(want float64) func([]amSample) bool {
		return func(r []amSample) bool { return len(r) == 1 && (math.IsNaN(want) || r[0].value == want) }
	}
	waitMetric("the agent's node metrics", `node_load1{instance="minikube",job="kinsight-agent"}`, one(math.NaN()))
	waitMetric("node-exporter through the PodMonitor", `up{job="mon/node-exporter",namespace="apps",pod="node-exporter"}`, one(1))
	waitMetric("node-exporter's own series through the PodMonitor", `node_load1{job="mon/node-exporter",pod="node-exporter"}`, one(math.NaN()))
	waitMetric("the annotated pod", `up{job="kubernetes-pods",namespace="apps",pod="annotated"}`, one(1))
	waitMetric("cluster metrics of the elected agent", `cluster_node_count{ClusterName="e2e"}`, one(1))
	waitMetric("running pods per namespace", `namespace_number_of_running_pods{ClusterName="e2e",Namespace="apps"}`, one(2))
	waitMetric("pod metrics from the kubelet", `pod_cpu_utilization{ClusterName="e2e",NodeName="minikube",Namespace="kube-system",PodName=~"kube-scheduler.*"}`, one(math.NaN()))
	waitMetric("pod memory from the kubelet", `pod_memory_working_set{ClusterName="e2e",NodeName="minikube",Namespace="default"}`, func(r []amSample) bool { return len(r) >= 1 })
	waitMetric("node Container Insights metrics", `node_cpu_utilization{ClusterName="e2e",NodeName="minikube",InstanceId="i-0e2e0e2e0e2e0e2e0"}`, one(math.NaN()))
	// The agent's node metrics agree with node-exporter's for the same
	// host (memory size: exact; nodemetrics' TestCompareNodeExporter
	// compares every series).
	waitMetric("node-exporter's MemTotal through the PodMonitor", `node_memory_MemTotal_bytes{job="mon/node-exporter"}`, one(math.NaN()))
	ours, theirs := q(`node_memory_MemTotal_bytes{job="kinsight-agent"}`), q(`node_memory_MemTotal_bytes{job="mon/node-exporter"}`)
	if len(ours) != 1 || len(theirs) != 1 || ours[0].value != theirs[0].value {
		t.Errorf("node_memory_MemTotal_bytes: agent %v, node-exporter %v", ours, theirs)
	}
	lease, err := cs.CoordinationV1().Leases("kinsight").Get(ctx, "kinsight-agent-cluster-metrics", metav1.GetOptions{})
	if err != nil || lease.Spec.HolderIdentity == nil || *lease.Spec.HolderIdentity != "agent-pod-0" {
		t.Errorf("cluster-metrics Lease = %v, %v; want held by agent-pod-0 ($POD_NAME)", leaseHolder(lease), err)
	}
	m, err := a.metrics()
	if err != nil {
		t.Fatal(err)
	}
	if n := sumMetric(m, `kinsight_agent_metrics_collections_total{result="ok",source="node"}`); n < 1 {
		t.Errorf("agent /metrics: node collections ok = %v", n)
	}

	// The outage: the agent keeps collecting into its WAL and ships it all
	// once the server is back.
	srv.stop()
	stoppedAt := time.Now()
	time.Sleep(15 * time.Second)
	srv.restart()
	restartedAt := time.Now()
	var samples []amSample
	deadline := time.Now().Add(40 * time.Second)
	for {
		samples = amRange(t, srv, `node_load1{instance="minikube",job="kinsight-agent"}[10m]`)
		if len(samples) > 0 && samples[len(samples)-1].t.After(restartedAt) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no node_load1 sample newer than the restart (%d samples)\nagent:\n%s", len(samples), tailOf(a.output(), 4000))
		}
		time.Sleep(500 * time.Millisecond)
	}
	first, last := samples[0].t, samples[len(samples)-1].t
	want := int(last.Sub(first).Round(metricsInterval)/metricsInterval) + 1
	if len(samples) != want || !first.Before(stoppedAt) {
		t.Errorf("node_load1 has %d samples from %s to %s, want %d (one per %s, first before the outage at %s)",
			len(samples), first.Format(time.TimeOnly), last.Format(time.TimeOnly), want, metricsInterval, stoppedAt.Format(time.TimeOnly))
	}
	t.Logf("node_load1: %d samples from %s to %s; server down %s to %s", len(samples),
		first.Format(time.TimeOnly), last.Format(time.TimeOnly), stoppedAt.Format(time.TimeOnly), restartedAt.Format(time.TimeOnly))
	during := 0
	for _, smp := range samples {
		if smp.t.After(stoppedAt) && smp.t.Before(restartedAt) {
			during++
		}
	}
	if during == 0 {
		t.Errorf("no node_load1 sample collected during the outage arrived")
	}
	for i := 1; i < len(samples); i++ {
		if d := samples[i].t.Sub(samples[i-1].t); d < metricsInterval/2 || d > metricsInterval*3/2 {
			t.Errorf("gap of %s between samples %d and %d (%s, %s)", d, i-1, i, samples[i-1].t.Format(time.TimeOnly), samples[i].t.Format(time.TimeOnly))
		}
	}
	// Graceful stop: the agent exits 0 (checked by stop) and closes its WAL.
	a.stop()
	if testing.Verbose() {
		t.Logf("agent log:\n%s", tailOf(a.output(), 6000))
	}
	if _, err := os.Stat(filepath.Join(a.dataDir, "metrics", "positions", "kinsight.json")); err != nil {
		t.Errorf("shipping position not saved: %v", err)
	}
}

func leaseHolder(l *coordinationv1.Lease) string {
	if l == nil || l.Spec.HolderIdentity == nil {
		return "<none>"
	}
	return *l.Spec.HolderIdentity
}

// startMetricsAgent starts `kinsight agent` with Kubernetes metadata, the
// kubelet source, the elector and the scraper on, shipping metrics to srv
// by the derived remote_write endpoint.
func startMetricsAgent(t *testing.T, srv *serverProc, kubeconfig, kubelet, caFile, tokenFile string) *agentProc {
	t.Helper()
	a := &agentProc{t: t, dataDir: t.TempDir(), addr: freeAddr(t)}
	cfg := fmt.Sprintf(`agent:
  cluster_name: e2e
  host_name: %[1]s
  data_dir: %[2]q
  listen: %[3]q
  container_logs: %[4]q
  host_logs: []
  kubernetes: {enabled: "true", kubeconfig: %[5]q, node_name: %[1]s}
  dataplane: {journal_units: []}
  output: {endpoint: %[6]q, access_key_id: %[7]s, secret_access_key: %[8]s}
  metrics:
    interval: %[9]s
    pods: {source: kubelet, kubelet_url: %[10]q, kubelet_ca_file: %[11]q, token_file: %[12]q}
    cluster: {lease_namespace: kinsight}
    scrape: {interval: 2s, timeout: 1s}
log:
  level: info
`, metricsNode, a.dataDir, a.addr, filepath.Join(t.TempDir(), "*.log"), kubeconfig, srv.url(), agentKey, agentSecret,
		metricsInterval, kubelet, caFile, tokenFile)
	a.config = filepath.Join(t.TempDir(), "agent.yaml")
	if err := os.WriteFile(a.config, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	// The downward API's variables, as the DaemonSet sets them.
	t.Setenv("POD_NAME", "agent-pod-0")
	t.Setenv("POD_NAMESPACE", "kinsight")
	a.start()
	t.Cleanup(a.stop)
	return a
}

// startFixtureKubelet serves the recorded kubelet responses over HTTPS,
// only with the bearer token, and returns its URL, a CA file for its
// certificate and the token file.
func startFixtureKubelet(t *testing.T) (url, caFile, tokenFile string) {
	t.Helper()
	dir := filepath.Join("..", "..", "internal", "agent", "podmetrics", "testdata", "kubelet")
	summary, err := os.ReadFile(filepath.Join(dir, "otel-minikube-2020.json"))
	if err != nil {
		t.Fatal(err)
	}
	pods, err := os.ReadFile(filepath.Join(dir, "pods-minikube.json"))
	if err != nil {
		t.Fatal(err)
	}
	const token = "kubelet-test-token"
	k := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+token {
			http.Error(w, "Unauthorized", http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/stats/summary":
			w.Write(summary)
		case "/pods":
			w.Write(pods)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(k.Close)
	tmp := t.TempDir()
	caFile, tokenFile = filepath.Join(tmp, "ca.crt"), filepath.Join(tmp, "token")
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: k.Certificate().Raw})
	if err := os.WriteFile(caFile, ca, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(tokenFile, []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return k.URL, caFile, tokenFile
}

// deployedAgentRules are the rules of the agent's ClusterRole and Role in
// deploy/kinsight-agent.yaml.
func deployedAgentRules(t *testing.T) []rbacv1.PolicyRule {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "deploy", "kinsight-agent.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(b), 4096)
	var rules []rbacv1.PolicyRule
	for {
		var obj struct {
			Kind  string
			Rules []rbacv1.PolicyRule
		}
		if err := dec.Decode(&obj); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		if obj.Kind == "ClusterRole" || obj.Kind == "Role" {
			rules = append(rules, obj.Rules...)
		}
	}
	if len(rules) == 0 {
		t.Fatal("no RBAC rules in deploy/kinsight-agent.yaml")
	}
	return rules
}

// installMonitorCRDs creates deploy/crds and waits until PodMonitors are
// served.
func installMonitorCRDs(t *testing.T, ctx context.Context, dyn dynamic.Interface) {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("..", "..", "deploy", "crds", "*.yaml"))
	if err != nil || len(files) < 2 {
		t.Fatalf("deploy/crds: %v %v", files, err)
	}
	crds := schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(b), 4096)
		for {
			var m map[string]any
			if err := dec.Decode(&m); errors.Is(err, io.EOF) {
				break
			} else if err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			if m == nil {
				continue
			}
			if _, err := dyn.Resource(crds).Create(ctx, &unstructured.Unstructured{Object: m}, metav1.CreateOptions{}); err != nil {
				t.Fatalf("%s: %v", f, err)
			}
		}
	}
	pm := schema.GroupVersionResource{Group: "monitoring.coreos.com", Version: "v1", Resource: "podmonitors"}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if _, err := dyn.Resource(pm).List(ctx, metav1.ListOptions{}); err == nil {
			return
		} else if time.Now().After(deadline) {
			t.Fatalf("PodMonitors not served: %v", err)
		}
	}
}

// startDebianNodeExporter runs Debian's prometheus-node-exporter on a free
// loopback port with a few cheap collectors.
func startDebianNodeExporter(t *testing.T) int {
	t.Helper()
	const bin = "/usr/bin/prometheus-node-exporter"
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("%s missing (apt-get install prometheus-node-exporter; make test does it): %v", bin, err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	cmd := exec.Command(bin, "--web.listen-address=127.0.0.1:"+strconv.Itoa(port),
		"--collector.disable-defaults", "--collector.cpu", "--collector.meminfo", "--collector.loadavg")
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("node-exporter log:\n%s", logs.String())
		}
	})
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/metrics", port))
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return port
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("node-exporter not answering: %v\n%s", err, logs.String())
		}
	}
}

// runningPod creates a pod on metricsNode at 127.0.0.1 in phase Running.
func runningPod(t *testing.T, ctx context.Context, cs kubernetes.Interface, ns, name string, labels, annotations map[string]string, ports []corev1.ContainerPort) {
	t.Helper()
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: labels, Annotations: annotations},
		Spec: corev1.PodSpec{
			NodeName:   metricsNode,
			Containers: []corev1.Container{{Name: "main", Image: "example.invalid/x", Ports: ports}},
		},
	}
	p, err := cs.CoreV1().Pods(ns).Create(ctx, p, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create pod %s: %v", name, err)
	}
	p.Status = corev1.PodStatus{Phase: corev1.PodRunning, PodIP: "127.0.0.1", PodIPs: []corev1.PodIP{{IP: "127.0.0.1"}}, HostIP: "127.0.0.1"}
	if _, err := cs.CoreV1().Pods(ns).UpdateStatus(ctx, p, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("pod %s status: %v", name, err)
	}
}

// amSample is one sample of a query result.
type amSample struct {
	labels map[string]string
	t      time.Time
	value  float64
}

// amQuery runs an instant query on srv and returns its vector.
func amQuery(t *testing.T, srv *serverProc, query string) []amSample {
	t.Helper()
	var r struct {
		Data struct {
			Result []struct {
				Metric map[string]string
				Value  [2]any
			}
		}
	}
	amGet(t, srv, query, &r)
	var out []amSample
	for _, s := range r.Data.Result {
		out = append(out, amSample{labels: s.Metric, t: amTime(s.Value[0]), value: amValue(s.Value[1])})
	}
	return out
}

// amRange runs an instant query of a range selector (one series) and
// returns its raw samples in time order.
func amRange(t *testing.T, srv *serverProc, query string) []amSample {
	t.Helper()
	var r struct {
		Data struct {
			ResultType string
			Result     []struct {
				Metric map[string]string
				Values [][2]any
			}
		}
	}
	amGet(t, srv, query, &r)
	if len(r.Data.Result) > 1 {
		t.Fatalf("%s: %d series, want one", query, len(r.Data.Result))
	}
	var out []amSample
	for _, s := range r.Data.Result {
		for _, v := range s.Values {
			out = append(out, amSample{labels: s.Metric, t: amTime(v[0]), value: amValue(v[1])})
		}
	}
	return out
}

func amGet(t *testing.T, srv *serverProc, query string, into any) {
	t.Helper()
	resp, err := http.Get(srv.url() + "/api/v1/query?" + url.Values{"query": {query}}.Encode())
	if err != nil {
		t.Fatalf("query %s: %v", query, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("query %s: %d %s", query, resp.StatusCode, b)
	}
	if err := json.Unmarshal(b, into); err != nil {
		t.Fatalf("query %s: %v: %s", query, err, b)
	}
}

func amTime(v any) time.Time {
	f, _ := v.(float64)
	return time.UnixMilli(int64(math.Round(f * 1000)))
}

func amValue(v any) float64 {
	s, _ := v.(string)
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return math.NaN()
	}
	return f
}
