package scrape

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/model/exemplar"
	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/metadata"
	"github.com/prometheus/prometheus/storage"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	"github.com/kinsight/kinsight/internal/testkube"
)

// recorder is a storage.Appendable keeping the last committed value of
// every series, keyed by its labels' string form.
type recorder struct {
	mu   sync.Mutex
	last map[string]float64
	lset map[string]labels.Labels
}

func newRecorder() *recorder {
	return &recorder{last: map[string]float64{}, lset: map[string]labels.Labels{}}
}

func (r *recorder) Appender(context.Context) storage.Appender { return &recApp{r: r} }

// find returns the last values of the series matching every label in want.
func (r *recorder) find(want map[string]string) []float64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []float64
	for k, ls := range r.lset {
		ok := true
		for n, v := range want {
			if ls.Get(n) != v {
				ok = false
				break
			}
		}
		if ok {
			out = append(out, r.last[k])
		}
	}
	return out
}

// any reports whether some series has a label n with a value starting with prefix.
func (r *recorder) anyWith(n, prefix string, also map[string]string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, ls := range r.lset {
		if !strings.HasPrefix(ls.Get(n), prefix) {
			continue
		}
		ok := true
		for an, av := range also {
			if ls.Get(an) != av {
				ok = false
			}
		}
		if ok {
			return true
		}
	}
	return false
}

type recApp struct {
	r       *recorder
	pending []struct {
		l labels.Labels
		v float64
	}
}

func (a *recApp) Append(_ storage.SeriesRef, l labels.Labels, _ int64, v float64) (storage.SeriesRef, error) {
	a.pending = append(a.pending, struct {
		l labels.Labels
		v float64
	}{l, v})
	return 0, nil
}
func (a *recApp) Commit() error {
	a.r.mu.Lock()
	defer a.r.mu.Unlock()
	for _, p := range a.pending {
		k := p.l.String()
		a.r.last[k] = p.v
		a.r.lset[k] = p.l
	}
	a.pending = nil
	return nil
}
func (a *recApp) Rollback() error                   { a.pending = nil; return nil }
func (a *recApp) SetOptions(*storage.AppendOptions) {}
func (a *recApp) AppendExemplar(storage.SeriesRef, labels.Labels, exemplar.Exemplar) (storage.SeriesRef, error) {
	return 0, nil
}
func (a *recApp) AppendHistogram(storage.SeriesRef, labels.Labels, int64, *histogram.Histogram, *histogram.FloatHistogram) (storage.SeriesRef, error) {
	return 0, nil
}
func (a *recApp) AppendHistogramSTZeroSample(storage.SeriesRef, labels.Labels, int64, int64, *histogram.Histogram, *histogram.FloatHistogram) (storage.SeriesRef, error) {
	return 0, nil
}
func (a *recApp) UpdateMetadata(storage.SeriesRef, labels.Labels, metadata.Metadata) (storage.SeriesRef, error) {
	return 0, nil
}
func (a *recApp) AppendSTZeroSample(storage.SeriesRef, labels.Labels, int64, int64) (storage.SeriesRef, error) {
	return 0, nil
}

// installCRDs creates the CRDs in deploy/crds and waits until they serve.
func installCRDs(t *testing.T, ctx context.Context, dyn dynamic.Interface) {
	t.Helper()
	files, err := filepath.Glob("../../../deploy/crds/*.yaml")
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
			if _, err := dyn.Resource(crds).Create(ctx, &unstructured.Unstructured{Object: m}, metav1.CreateOptions{FieldValidation: "Strict"}); err != nil {
				t.Fatalf("%s: create: %v", f, err)
			}
		}
	}
	waitFor(t, 30*time.Second, "CRDs served", func() bool {
		_, e1 := dyn.Resource(podMonitorsGVR).List(ctx, metav1.ListOptions{})
		_, e2 := dyn.Resource(serviceMonitorsGVR).List(ctx, metav1.ListOptions{})
		return e1 == nil && e2 == nil
	})
}

func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// startNodeExporter runs the real node-exporter on a free loopback port.
func startNodeExporter(t *testing.T) int {
	t.Helper()
	const bin = "/usr/bin/prometheus-node-exporter"
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("%s missing: %v", bin, err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	cmd := exec.Command(bin, "--web.listen-address=127.0.0.1:"+strconv.Itoa(port),
		// A few cheap collectors: the test is about scraping, not about
		// node-exporter's coverage.
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
	waitFor(t, 20*time.Second, "node-exporter", func() bool {
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/metrics", port))
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})
	return port
}

func serverPort(s *httptest.Server) int {
	return s.Listener.Addr().(*net.TCPAddr).Port
}

// createPod creates a running pod on node at 127.0.0.1.
func createPod(t *testing.T, ctx context.Context, cs kubernetes.Interface, ns, name, node string, labels, annotations map[string]string, ports []corev1.ContainerPort) {
	t.Helper()
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: labels, Annotations: annotations},
		Spec: corev1.PodSpec{
			NodeName:   node,
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

func annotated(port int) map[string]string {
	return map[string]string{"prometheus.io/scrape": "true", "prometheus.io/port": strconv.Itoa(port), "prometheus.io/path": "/metrics"}
}

func TestScrapeKubernetes(t *testing.T) {
	c := testkube.Start(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cs := c.Clientset()
	dyn, err := dynamic.NewForConfig(c.Admin())
	if err != nil {
		t.Fatal(err)
	}
	installCRDs(t, ctx, dyn)
	exporterPort := startNodeExporter(t)

	// The scraped things: a good target, one that hangs, one that answers
	// garbage, one with more samples than the limit, and one on another
	// node that must never be asked.
	good := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprint(w, "# TYPE good_things gauge\ngood_things 42\n")
	}))
	defer good.Close()
	hang := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
	}))
	defer hang.Close()
	garbage := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		fmt.Fprint(w, "this is {{ not metrics\x00\xff\n")
	}))
	defer garbage.Close()
	big := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		var b strings.Builder
		for i := range 5000 {
			fmt.Fprintf(&b, "big_series{i=\"%d\"} 1\n", i)
		}
		fmt.Fprint(w, b.String())
	}))
	defer big.Close()
	flood := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		// Ten million series, streamed: the body size limit must cut the
		// read short long before the end.
		for i := range 10_000_000 {
			if _, err := fmt.Fprintf(w, "flood_series{i=\"%d\"} 1\n", i); err != nil {
				return
			}
		}
	}))
	defer flood.Close()
	var otherHits atomic.Int64
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		otherHits.Add(1)
		fmt.Fprint(w, "other_node 1\n")
	}))
	defer other.Close()

	for _, ns := range []string{"mon", "apps"} {
		if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	const node = "node-a"
	createPod(t, ctx, cs, "apps", "node-exporter", node, map[string]string{"app": "node-exporter"}, nil,
		[]corev1.ContainerPort{{Name: "metrics", ContainerPort: int32(exporterPort)}})
	createPod(t, ctx, cs, "apps", "good", node, nil, annotated(serverPort(good)), nil)
	createPod(t, ctx, cs, "apps", "hang", node, nil, annotated(serverPort(hang)), nil)
	createPod(t, ctx, cs, "apps", "garbage", node, nil, annotated(serverPort(garbage)), nil)
	createPod(t, ctx, cs, "apps", "big", node, nil, annotated(serverPort(big)), nil)
	createPod(t, ctx, cs, "apps", "flood", node, nil, annotated(serverPort(flood)), nil)
	createPod(t, ctx, cs, "apps", "elsewhere", "node-b", nil, annotated(serverPort(other)), nil)

	pm := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "monitoring.coreos.com/v1", "kind": "PodMonitor",
		"metadata": map[string]any{"name": "node-exporter", "namespace": "mon"},
		"spec": map[string]any{
			"selector":          map[string]any{"matchLabels": map[string]any{"app": "node-exporter"}},
			"namespaceSelector": map[string]any{"matchNames": []any{"apps"}},
			"podMetricsEndpoints": []any{map[string]any{
				"port": "metrics", "interval": "1s", "scrapeTimeout": "900ms",
				"metricRelabelings": []any{map[string]any{"sourceLabels": []any{"__name__"}, "regex": "node_(cpu|memory|load).*|up|scrape_.*", "action": "keep"}},
			}},
		},
	}}
	if _, err := dyn.Resource(podMonitorsGVR).Namespace("mon").Create(ctx, pm, metav1.CreateOptions{FieldValidation: "Strict"}); err != nil {
		t.Fatalf("create PodMonitor: %v", err)
	}

	rec := newRecorder()
	reg := prometheus.NewRegistry()
	// The scraper runs with exactly the permissions docs/metrics.md lists.
	token := c.ServiceAccountToken(t, "kinsight", "agent", []rbacv1.PolicyRule{
		{APIGroups: []string{""}, Resources: []string{"pods", "services"}, Verbs: []string{"list", "watch"}},
		{APIGroups: []string{"discovery.k8s.io"}, Resources: []string{"endpointslices"}, Verbs: []string{"list", "watch"}},
		{APIGroups: []string{"monitoring.coreos.com"}, Resources: []string{"podmonitors", "servicemonitors"}, Verbs: []string{"list", "watch"}},
	})
	opts := Options{
		Kube: c.Config(token), NodeName: node, Appendable: rec, Registerer: reg,
		DefaultInterval: time.Second, DefaultTimeout: 500 * time.Millisecond,
		Limits:         Limits{SampleLimit: 1000, BodySizeLimit: "1MiB"},
		reloadInterval: 200 * time.Millisecond,
	}
	s, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()

	job := "mon/node-exporter"
	waitFor(t, 30*time.Second, "node-exporter samples through the PodMonitor", func() bool {
		return rec.anyWith("__name__", "node_", map[string]string{"job": job, "namespace": "apps", "pod": "node-exporter", "container": "main", "endpoint": "metrics"})
	})
	upOf := func(pod string) []float64 {
		return rec.find(map[string]string{"__name__": "up", "job": annotatedPodsJob, "pod": pod})
	}
	waitFor(t, 30*time.Second, "the annotated pod scraped", func() bool {
		v := upOf("good")
		return len(v) == 1 && v[0] == 1 && len(rec.find(map[string]string{"__name__": "good_things", "pod": "good"})) == 1
	})
	for _, pod := range []string{"hang", "garbage", "big", "flood"} {
		waitFor(t, 30*time.Second, pod+" reported down", func() bool {
			v := upOf(pod)
			return len(v) == 1 && v[0] == 0
		})
	}
	if v := rec.find(map[string]string{"__name__": "big_series"}); len(v) != 0 {
		t.Errorf("%d big_series samples appended past the sample limit", len(v))
	}
	if got := counter(t, reg, "prometheus_target_scrapes_exceeded_sample_limit_total"); got < 1 {
		t.Errorf("sample-limit rejections counted %v, want ≥ 1", got)
	}
	if got := counter(t, reg, "prometheus_target_scrapes_exceeded_body_size_limit_total"); got < 1 {
		t.Errorf("body-size rejections counted %v, want ≥ 1", got)
	}
	if d := rec.find(map[string]string{"__name__": "scrape_duration_seconds", "pod": "hang"}); len(d) != 1 || d[0] < 0.4 || d[0] > 5 {
		t.Errorf("hanging target's scrape_duration_seconds %v, want about the 0.5 s timeout", d)
	}
	if otherHits.Load() != 0 || rec.anyWith("pod", "elsewhere", nil) {
		t.Errorf("the pod on another node was scraped (%d requests)", otherHits.Load())
	}
	// The good target keeps being scraped next to the bad ones.
	before := counter(t, reg, "prometheus_target_interval_length_seconds_count")
	waitFor(t, 10*time.Second, "more scrapes", func() bool {
		return counter(t, reg, "prometheus_target_interval_length_seconds_count") > before+3
	})
	if v := upOf("good"); len(v) != 1 || v[0] != 1 {
		t.Errorf("good target up = %v", v)
	}

	testServices(t, ctx, s, cs, dyn, rec, node)

	// Deleting the PodMonitor removes its job and target.
	if err := dyn.Resource(podMonitorsGVR).Namespace("mon").Delete(ctx, "node-exporter", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 20*time.Second, "the PodMonitor's target gone", func() bool {
		for j := range s.Targets() {
			if strings.HasPrefix(j, "podMonitor/") {
				return false
			}
		}
		return true
	})
	if len(s.Targets()[annotatedPodsJob]) != 5 {
		t.Errorf("annotated targets %v, want good, hang, garbage, big and flood", s.Targets()[annotatedPodsJob])
	}
}

// testServices checks the ServiceMonitor and annotated-service jobs:
// endpoints on this node are scraped, those on another node are not.
func testServices(t *testing.T, ctx context.Context, s *Scraper, cs kubernetes.Interface, dyn dynamic.Interface, rec *recorder, node string) {
	t.Helper()
	// EndpointSlices refuse loopback addresses: serve on this host's
	// first non-loopback IPv4 address. The other node's endpoint is a
	// documentation address nothing answers on; it must not even become a
	// target.
	ip := localIP(t)
	serve := func(body string) *httptest.Server {
		l, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			fmt.Fprint(w, body)
		}))
		srv.Listener.Close()
		srv.Listener = l
		srv.Start()
		return srv
	}
	web := serve("web_requests_total 7\n")
	defer web.Close()
	svc := serve("svc_things 3\n")
	defer svc.Close()

	createPod(t, ctx, cs, "apps", "web-0", node, map[string]string{"app": "web"}, nil, nil)
	createPod(t, ctx, cs, "apps", "svc-0", node, map[string]string{"app": "svc"}, nil, nil)
	createPod(t, ctx, cs, "apps", "svc-1", "node-b", map[string]string{"app": "svc"}, nil, nil)

	for _, sv := range []*corev1.Service{
		{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "apps", Labels: map[string]string{"app": "web", "team": "blue"}},
			Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Name: "web", Port: 80}}}},
		{ObjectMeta: metav1.ObjectMeta{Name: "svc", Namespace: "apps", Annotations: map[string]string{"prometheus.io/scrape": "true"}},
			Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Name: "http", Port: 80}}}},
	} {
		if _, err := cs.CoreV1().Services("apps").Create(ctx, sv, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	ready := true
	slice := func(name, service, port string, portNum int, eps ...discoveryv1.Endpoint) *discoveryv1.EndpointSlice {
		p := int32(portNum)
		return &discoveryv1.EndpointSlice{
			ObjectMeta:  metav1.ObjectMeta{Name: name, Namespace: "apps", Labels: map[string]string{discoveryv1.LabelServiceName: service}},
			AddressType: discoveryv1.AddressTypeIPv4,
			Endpoints:   eps,
			Ports:       []discoveryv1.EndpointPort{{Name: &port, Port: &p}},
		}
	}
	ep := func(ip, pod, node string) discoveryv1.Endpoint {
		n := node
		return discoveryv1.Endpoint{Addresses: []string{ip}, NodeName: &n, Conditions: discoveryv1.EndpointConditions{Ready: &ready},
			TargetRef: &corev1.ObjectReference{Kind: "Pod", Namespace: "apps", Name: pod}}
	}
	for _, es := range []*discoveryv1.EndpointSlice{
		slice("web-abc", "web", "web", serverPort(web), ep(ip, "web-0", node)),
		slice("svc-abc", "svc", "http", serverPort(svc), ep(ip, "svc-0", node), ep("203.0.113.7", "svc-1", "node-b")),
	} {
		if _, err := cs.DiscoveryV1().EndpointSlices("apps").Create(ctx, es, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	smon := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "monitoring.coreos.com/v1", "kind": "ServiceMonitor",
		"metadata": map[string]any{"name": "web", "namespace": "apps"},
		"spec": map[string]any{
			"selector":     map[string]any{"matchExpressions": []any{map[string]any{"key": "app", "operator": "In", "values": []any{"web", "api"}}}},
			"targetLabels": []any{"team"},
			"endpoints":    []any{map[string]any{"port": "web", "interval": "1s"}},
		},
	}}
	if _, err := dyn.Resource(serviceMonitorsGVR).Namespace("apps").Create(ctx, smon, metav1.CreateOptions{FieldValidation: "Strict"}); err != nil {
		t.Fatalf("create ServiceMonitor: %v", err)
	}
	waitFor(t, 30*time.Second, "the ServiceMonitor's endpoint scraped", func() bool {
		v := rec.find(map[string]string{"__name__": "web_requests_total", "job": "web", "service": "web", "pod": "web-0", "namespace": "apps", "endpoint": "web", "team": "blue"})
		return len(v) == 1 && v[0] == 7
	})
	waitFor(t, 30*time.Second, "the annotated service's local endpoint scraped", func() bool {
		v := rec.find(map[string]string{"__name__": "svc_things", "job": annotatedEndpointsJob, "service": "svc", "pod": "svc-0", "node": node})
		return len(v) == 1 && v[0] == 3
	})
	for job, ts := range s.Targets() {
		for _, l := range ts {
			if l["pod"] == "svc-1" || strings.HasPrefix(l["__address__"], "203.0.113.7") {
				t.Errorf("job %s has the other node's endpoint as a target: %v", job, l)
			}
		}
	}
}

// localIP returns a non-loopback IPv4 address of this host.
func localIP(t *testing.T) string {
	t.Helper()
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && !n.IP.IsLoopback() && n.IP.To4() != nil {
			return n.IP.String()
		}
	}
	t.Fatal("no non-loopback IPv4 address to serve EndpointSlice targets on")
	return ""
}

// counter sums a counter or histogram count family in reg.
func counter(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	hist := strings.TrimSuffix(name, "_count")
	var sum float64
	for _, mf := range mfs {
		switch mf.GetName() {
		case name:
			for _, m := range mf.GetMetric() {
				sum += m.GetCounter().GetValue()
			}
		case hist:
			for _, m := range mf.GetMetric() {
				sum += float64(m.GetSummary().GetSampleCount() + m.GetHistogram().GetSampleCount())
			}
		}
	}
	return sum
}

// TestScrapeWithoutCRDs: on a cluster without the Prometheus Operator's
// CRDs the annotation jobs still run, and monitors are picked up once the
// CRDs are installed.
func TestScrapeWithoutCRDs(t *testing.T) {
	c := testkube.Start(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cs := c.Clientset()
	good := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprint(w, "good_things 1\n")
	}))
	defer good.Close()
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "apps"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	createPod(t, ctx, cs, "apps", "good", "node-a", nil, annotated(serverPort(good)), nil)

	rec := newRecorder()
	reg := prometheus.NewRegistry()
	s, err := New(Options{Kube: c.Admin(), NodeName: "node-a", Appendable: rec, Registerer: reg,
		DefaultInterval: time.Second, reloadInterval: 200 * time.Millisecond, crdCheckInterval: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	waitFor(t, 30*time.Second, "the annotated pod scraped", func() bool {
		v := rec.find(map[string]string{"__name__": "up", "job": annotatedPodsJob, "pod": "good"})
		return len(v) == 1 && v[0] == 1
	})

	dyn, err := dynamic.NewForConfig(c.Admin())
	if err != nil {
		t.Fatal(err)
	}
	installCRDs(t, ctx, dyn)
	createPod(t, ctx, cs, "apps", "monitored", "node-a", map[string]string{"app": "m"}, nil,
		[]corev1.ContainerPort{{Name: "metrics", ContainerPort: int32(serverPort(good))}})
	pm := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "monitoring.coreos.com/v1", "kind": "PodMonitor",
		"metadata": map[string]any{"name": "pm", "namespace": "apps"},
		"spec": map[string]any{
			"selector":            map[string]any{"matchLabels": map[string]any{"app": "m"}},
			"podMetricsEndpoints": []any{map[string]any{"port": "metrics"}},
		},
	}}
	if _, err := dyn.Resource(podMonitorsGVR).Namespace("apps").Create(ctx, pm, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "the PodMonitor created after the CRDs scraped", func() bool {
		v := rec.find(map[string]string{"__name__": "up", "job": "apps/pm", "pod": "monitored"})
		return len(v) == 1 && v[0] == 1
	})
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run: %v", err)
	}
}
