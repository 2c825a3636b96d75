package scrape

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/config"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/relabel"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

func testJobSpec() *jobSpec {
	return &jobSpec{
		interval: 30 * time.Second, timeout: 10 * time.Second, nodeName: "node-a",
		limits:        Limits{SampleLimit: 1000, LabelLimit: 50},
		bodySizeLimit: 1 << 20,
	}
}

func podMonitor(t *testing.T, spec string) *PodMonitor {
	t.Helper()
	var pm PodMonitor
	if err := json.Unmarshal([]byte(`{"metadata":{"name":"pm","namespace":"mon"},"spec":`+spec+`}`), &pm); err != nil {
		t.Fatal(err)
	}
	return &pm
}

// relabelled runs a scrape config's target relabelling over meta labels.
func relabelled(sc *config.ScrapeConfig, meta map[string]string) (labels.Labels, bool) {
	lb := labels.NewBuilder(labels.FromMap(meta))
	keep := relabel.ProcessBuilder(lb, sc.RelabelConfigs...)
	return lb.Labels(), keep
}

func TestPodMonitorRelabelling(t *testing.T) {
	js := testJobSpec()
	pm := podMonitor(t, `{
		"jobLabel": "app.kubernetes.io/name",
		"podTargetLabels": ["tier"],
		"selector": {"matchLabels": {"app": "x"}, "matchExpressions": [
			{"key": "env", "operator": "NotIn", "values": ["dev"]},
			{"key": "canary", "operator": "DoesNotExist"}]},
		"podMetricsEndpoints": [{"port": "metrics", "path": "/m", "interval": "5s", "sampleLimit": 5,
			"relabelings": [{"targetLabel": "extra", "replacement": "yes"}]}],
		"sampleLimit": 5000, "labelLimit": 10, "bodySizeLimit": "2MB"}`)
	scs, err := js.podMonitorConfigs(pm)
	if err != nil {
		t.Fatal(err)
	}
	if len(scs) != 1 {
		t.Fatalf("%d configs", len(scs))
	}
	sc := scs[0]
	if err := sc.Validate(config.DefaultGlobalConfig); err != nil {
		t.Fatal(err)
	}
	if sc.JobName != "podMonitor/mon/pm/0" || sc.MetricsPath != "/m" || time.Duration(sc.ScrapeInterval) != 5*time.Second || time.Duration(sc.ScrapeTimeout) != 5*time.Second {
		t.Errorf("job %s path %s interval %v timeout %v", sc.JobName, sc.MetricsPath, sc.ScrapeInterval, sc.ScrapeTimeout)
	}
	// The monitor's limits only lower the agent's.
	if sc.SampleLimit != 1000 || sc.LabelLimit != 10 || sc.BodySizeLimit != 1<<20 {
		t.Errorf("limits: samples %d labels %d body %d", sc.SampleLimit, sc.LabelLimit, sc.BodySizeLimit)
	}
	meta := map[string]string{
		"__address__":                                        "10.0.0.1:9100",
		"__meta_kubernetes_namespace":                        "apps",
		"__meta_kubernetes_pod_name":                         "x-1",
		"__meta_kubernetes_pod_container_name":               "main",
		"__meta_kubernetes_pod_container_port_name":          "metrics",
		"__meta_kubernetes_pod_phase":                        "Running",
		"__meta_kubernetes_pod_label_app":                    "x",
		"__meta_kubernetes_pod_labelpresent_app":             "true",
		"__meta_kubernetes_pod_label_tier":                   "db",
		"__meta_kubernetes_pod_labelpresent_tier":            "true",
		"__meta_kubernetes_pod_label_app_kubernetes_io_name": "xname",
	}
	got, keep := relabelled(sc, meta)
	if !keep {
		t.Fatal("matching pod dropped")
	}
	for n, v := range map[string]string{"job": "xname", "namespace": "apps", "pod": "x-1", "container": "main", "endpoint": "metrics", "tier": "db", "extra": "yes"} {
		if got.Get(n) != v {
			t.Errorf("%s = %q, want %q (%v)", n, got.Get(n), v, got)
		}
	}
	for name, change := range map[string]func(map[string]string){
		"other port": func(m map[string]string) { m["__meta_kubernetes_pod_container_port_name"] = "http" },
		"other app":  func(m map[string]string) { m["__meta_kubernetes_pod_label_app"] = "y" },
		"dev env": func(m map[string]string) {
			m["__meta_kubernetes_pod_label_env"] = "dev"
			m["__meta_kubernetes_pod_labelpresent_env"] = "true"
		},
		"canary":       func(m map[string]string) { m["__meta_kubernetes_pod_labelpresent_canary"] = "true" },
		"finished pod": func(m map[string]string) { m["__meta_kubernetes_pod_phase"] = "Succeeded" },
	} {
		m := map[string]string{}
		for k, v := range meta {
			m[k] = v
		}
		change(m)
		if _, keep := relabelled(sc, m); keep {
			t.Errorf("%s: kept", name)
		}
	}
}

func TestServiceMonitorNodeScoped(t *testing.T) {
	js := testJobSpec()
	var sm ServiceMonitor
	if err := json.Unmarshal([]byte(`{"metadata":{"name":"sm","namespace":"mon"},"spec":{
		"selector": {"matchLabels": {"app": "web"}}, "namespaceSelector": {"any": true},
		"endpoints": [{"targetPort": 8080, "scheme": "HTTPS", "params": {"format": ["prometheus"]}}]}}`), &sm); err != nil {
		t.Fatal(err)
	}
	scs, err := js.serviceMonitorConfigs(&sm)
	if err != nil {
		t.Fatal(err)
	}
	sc := scs[0]
	if err := sc.Validate(config.DefaultGlobalConfig); err != nil {
		t.Fatal(err)
	}
	if sc.Scheme != "https" || sc.Params.Get("format") != "prometheus" {
		t.Errorf("scheme %s params %v", sc.Scheme, sc.Params)
	}
	meta := map[string]string{
		"__address__":                                         "10.0.0.1:8080",
		"__meta_kubernetes_namespace":                         "apps",
		"__meta_kubernetes_service_name":                      "web",
		"__meta_kubernetes_service_label_app":                 "web",
		"__meta_kubernetes_service_labelpresent_app":          "true",
		"__meta_kubernetes_endpointslice_port":                "8080",
		"__meta_kubernetes_endpointslice_endpoint_node_name":  "node-a",
		"__meta_kubernetes_endpointslice_address_target_kind": "Pod",
		"__meta_kubernetes_endpointslice_address_target_name": "web-1",
	}
	got, keep := relabelled(sc, meta)
	if !keep || got.Get("job") != "web" || got.Get("pod") != "web-1" || got.Get("endpoint") != "8080" {
		t.Errorf("keep %v labels %v", keep, got)
	}
	meta["__meta_kubernetes_endpointslice_endpoint_node_name"] = "node-b"
	if _, keep := relabelled(sc, meta); keep {
		t.Error("another node's endpoint kept")
	}
}

func TestMonitorRefused(t *testing.T) {
	js := testJobSpec()
	for name, spec := range map[string]string{
		"basic auth":     `{"selector":{},"podMetricsEndpoints":[{"port":"m","basicAuth":{"username":{"name":"s","key":"u"}}}]}`,
		"tls":            `{"selector":{},"podMetricsEndpoints":[{"port":"m","tlsConfig":{"insecureSkipVerify":true}}]}`,
		"bad regex":      `{"selector":{},"podMetricsEndpoints":[{"port":"m","relabelings":[{"regex":"(","targetLabel":"x"}]}]}`,
		"bad action":     `{"selector":{},"podMetricsEndpoints":[{"port":"m","metricRelabelings":[{"action":"explode"}]}]}`,
		"hashmod no mod": `{"selector":{},"podMetricsEndpoints":[{"port":"m","relabelings":[{"action":"hashmod","targetLabel":"x"}]}]}`,
		"bad interval":   `{"selector":{},"podMetricsEndpoints":[{"port":"m","interval":"soon"}]}`,
		"bad scheme":     `{"selector":{},"podMetricsEndpoints":[{"port":"m","scheme":"ftp"}]}`,
		"bad operator":   `{"selector":{"matchExpressions":[{"key":"a","operator":"Near"}]},"podMetricsEndpoints":[{"port":"m"}]}`,
		"bad body size":  `{"selector":{},"podMetricsEndpoints":[{"port":"m"}],"bodySizeLimit":"lots"}`,
	} {
		if _, err := js.podMonitorConfigs(podMonitor(t, spec)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	// A timeout longer than the interval fails Prometheus's validation,
	// which apply runs on every translated config.
	scs, err := js.podMonitorConfigs(podMonitor(t, `{"selector":{},"podMetricsEndpoints":[{"port":"m","interval":"1s","scrapeTimeout":"5s"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if err := scs[0].Validate(config.DefaultGlobalConfig); err == nil || !strings.Contains(err.Error(), "timeout") {
		t.Errorf("timeout > interval: %v", err)
	}
}

func TestBodySize(t *testing.T) {
	for in, want := range map[string]int64{"0": 0, "512": 512, "1KB": 1024, "10MiB": 10 << 20, "2GB": 2 << 30} {
		if got, err := bodySize(in); err != nil || got != want {
			t.Errorf("bodySize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "-1", "1.5MB", "1XB", "99999999999EB"} {
		if _, err := bodySize(in); err == nil {
			t.Errorf("bodySize(%q) accepted", in)
		}
	}
}

func TestAnnotationRelabelling(t *testing.T) {
	js := testJobSpec()
	scs := js.annotationConfigs()
	for _, sc := range scs {
		if err := sc.Validate(config.DefaultGlobalConfig); err != nil {
			t.Fatal(err)
		}
	}
	pods := scs[0]
	meta := map[string]string{
		"__address__":                                           "10.0.0.1:8080",
		"__meta_kubernetes_namespace":                           "apps",
		"__meta_kubernetes_pod_name":                            "p",
		"__meta_kubernetes_pod_phase":                           "Running",
		"__meta_kubernetes_pod_label_app":                       "x",
		"__meta_kubernetes_pod_annotation_prometheus_io_scrape": "true",
		"__meta_kubernetes_pod_annotation_prometheus_io_port":   "9102",
		"__meta_kubernetes_pod_annotation_prometheus_io_path":   "/stats",
		"__meta_kubernetes_pod_annotation_prometheus_io_scheme": "https",
	}
	got, keep := relabelled(pods, meta)
	if !keep || got.Get("__address__") != "10.0.0.1:9102" || got.Get("__metrics_path__") != "/stats" || got.Get("__scheme__") != "https" || got.Get("app") != "x" {
		t.Errorf("keep %v labels %v", keep, got)
	}
	meta["__address__"] = "fd00::1"
	meta["__meta_kubernetes_pod_ip"] = "fd00::1"
	if got, _ := relabelled(pods, meta); got.Get("__address__") != "[fd00::1]:9102" {
		t.Errorf("IPv6 address %q", got.Get("__address__"))
	}
	meta["__address__"] = "10.1.2.3"
	meta["__meta_kubernetes_pod_ip"] = "10.1.2.3"
	if got, _ := relabelled(pods, meta); got.Get("__address__") != "10.1.2.3:9102" {
		t.Errorf("IPv4 address without a port: %q", got.Get("__address__"))
	}
	meta["__meta_kubernetes_pod_annotation_prometheus_io_scrape"] = "false"
	if _, keep := relabelled(pods, meta); keep {
		t.Error("pod without scrape: true kept")
	}
}

// TestDecodeUnstructured checks the informer path: numbers in an
// unstructured object are int64 and float64, not JSON text.
func TestDecodeUnstructured(t *testing.T) {
	js := testJobSpec()
	u := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "monitoring.coreos.com/v1", "kind": "ServiceMonitor",
		"metadata": map[string]any{"name": "sm", "namespace": "mon"},
		"spec": map[string]any{
			"selector":    map[string]any{},
			"sampleLimit": int64(10),
			"endpoints": []any{
				map[string]any{"targetPort": int64(8080), "honorLabels": true},
				map[string]any{"targetPort": "web"},
			},
		},
	}}
	var sm ServiceMonitor
	scs, err := decode(u, &sm, func() ([]*config.ScrapeConfig, error) { return js.serviceMonitorConfigs(&sm) })
	if err != nil {
		t.Fatal(err)
	}
	if len(scs) != 2 || !scs[0].HonorLabels || scs[0].SampleLimit != 10 {
		t.Fatalf("configs %+v", scs)
	}
	if sm.Spec.Endpoints[0].TargetPort.IntValue() != 8080 || sm.Spec.Endpoints[1].TargetPort.StrVal != "web" {
		t.Errorf("target ports %v %v", sm.Spec.Endpoints[0].TargetPort, sm.Spec.Endpoints[1].TargetPort)
	}
	bad := u.DeepCopy()
	bad.Object["spec"].(map[string]any)["endpoints"] = []any{map[string]any{"port": "m", "interval": "1s", "scrapeTimeout": "2s"}}
	var sm2 ServiceMonitor
	if _, err := decode(bad, &sm2, func() ([]*config.ScrapeConfig, error) { return js.serviceMonitorConfigs(&sm2) }); err == nil {
		t.Error("timeout over interval accepted")
	}
}
