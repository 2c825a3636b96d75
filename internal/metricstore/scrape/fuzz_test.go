package scrape

import (
	"encoding/json"
	"testing"

	"github.com/prometheus/prometheus/config"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/relabel"
)

// FuzzMonitor feeds arbitrary JSON to the PodMonitor and ServiceMonitor
// translation: whatever a user puts in a CR (within what the API server's
// schema lets through, and beyond), translation and validation return an
// error or configs that relabel without panicking.
func FuzzMonitor(f *testing.F) {
	for _, seed := range []string{
		`{"selector":{"matchLabels":{"app":"x"}},"podMetricsEndpoints":[{"port":"metrics"}]}`,
		`{"selector":{"matchExpressions":[{"key":"a.b/c","operator":"In","values":["x|y","(z"]}]},"namespaceSelector":{"any":true},"podMetricsEndpoints":[{"targetPort":"web","interval":"1m","scrapeTimeout":"10s","relabelings":[{"sourceLabels":["a"],"regex":"(.*)","targetLabel":"b","replacement":"$1"}]}],"sampleLimit":10,"bodySizeLimit":"1MB"}`,
		`{"selector":{},"podMetricsEndpoints":[{"portNumber":9100,"metricRelabelings":[{"action":"HashMod","modulus":3,"targetLabel":"s","sourceLabels":["__name__"]}]}]}`,
		`{"selector":{},"endpoints":[{"targetPort":8080,"scheme":"https","params":{"a":["b"]},"honorLabels":true}],"jobLabel":"k8s-app","targetLabels":["team"]}`,
		`{"selector":{},"podMetricsEndpoints":[{"port":"m","tlsConfig":{}}]}`,
		`{}`, `null`, `{"podMetricsEndpoints":[{}]}`,
	} {
		f.Add([]byte(seed))
	}
	js := testJobSpec()
	f.Fuzz(func(t *testing.T, spec []byte) {
		meta := labels.FromStrings("__address__", "10.0.0.1:80", "__meta_kubernetes_pod_label_app", "x", "__meta_kubernetes_pod_labelpresent_app", "true", "job", "j")
		check := func(scs []*config.ScrapeConfig, err error) {
			if err != nil {
				return
			}
			for _, sc := range scs {
				if sc.Validate(config.DefaultGlobalConfig) != nil {
					continue
				}
				relabel.ProcessBuilder(labels.NewBuilder(meta), sc.RelabelConfigs...)
				relabel.ProcessBuilder(labels.NewBuilder(meta), sc.MetricRelabelConfigs...)
			}
		}
		var pm PodMonitor
		if json.Unmarshal(append(append([]byte(`{"metadata":{"name":"n","namespace":"ns"},"spec":`), spec...), '}'), &pm) == nil {
			check(js.podMonitorConfigs(&pm))
		}
		var sm ServiceMonitor
		if json.Unmarshal(append(append([]byte(`{"metadata":{"name":"n","namespace":"ns"},"spec":`), spec...), '}'), &sm) == nil {
			check(js.serviceMonitorConfigs(&sm))
		}
	})
}
