package scrape

import (
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/config"
	"github.com/prometheus/prometheus/discovery/kubernetes"
	"github.com/prometheus/prometheus/model/relabel"
)

// Job names of the annotation-driven scrape configs (those of Prometheus's
// example Kubernetes configuration).
const (
	annotatedPodsJob      = "kubernetes-pods"
	annotatedEndpointsJob = "kubernetes-service-endpoints"
)

// annotationConfigs returns the two scrape configs that scrape pods and
// services annotated prometheus.io/scrape: "true", honouring
// prometheus.io/scheme, /path and /port, as
// documentation/examples/prometheus-kubernetes.yml in Prometheus does, with
// every target restricted to this node.
func (js *jobSpec) annotationConfigs() []*config.ScrapeConfig {
	pods := js.newScrapeConfig(annotatedPodsJob)
	pods.ServiceDiscoveryConfigs = js.sdConfig(kubernetes.RolePod, nil)
	pods.RelabelConfigs = defaulted(append(annotationRules("pod"),
		// The address from the pod's IP and the port annotation, IPv6
		// bracketed, as Prometheus's example does: __address__ of a pod
		// that declares no ports is the bare IP, which the generic rule
		// above cannot split when it is IPv6.
		&relabel.Config{SourceLabels: model.LabelNames{"__meta_kubernetes_pod_annotation_prometheus_io_port", "__meta_kubernetes_pod_ip"}, Regex: re(`(\d+);(([A-Fa-f0-9]{1,4}::?){1,7}[A-Fa-f0-9]{1,4})`), Replacement: "[$2]:$1", TargetLabel: model.AddressLabel, Action: relabel.Replace},
		&relabel.Config{SourceLabels: model.LabelNames{"__meta_kubernetes_pod_annotation_prometheus_io_port", "__meta_kubernetes_pod_ip"}, Regex: re(`(\d+);((([0-9]+?)(\.|$)){4})`), Replacement: "$2:$1", TargetLabel: model.AddressLabel, Action: relabel.Replace},
		// A pod is listed once per declared container port; with the port
		// annotation they all rewrite to one address, and Prometheus
		// deduplicates targets with equal labels. Without it, every
		// declared port is scraped, as in Prometheus's example.
		&relabel.Config{SourceLabels: model.LabelNames{"__meta_kubernetes_pod_phase"}, Regex: re("Pending|Succeeded|Failed|Completed"), Action: relabel.Drop},
		&relabel.Config{Regex: re("__meta_kubernetes_pod_label_(.+)"), Action: relabel.LabelMap},
		copyLabel("__meta_kubernetes_namespace", "namespace"),
		copyLabel("__meta_kubernetes_pod_name", "pod"),
		copyLabel("__meta_kubernetes_pod_node_name", "node"),
	))

	eps := js.newScrapeConfig(annotatedEndpointsJob)
	eps.ServiceDiscoveryConfigs = js.sdConfig(kubernetes.RoleEndpointSlice, nil)
	eps.RelabelConfigs = defaulted(append(annotationRules("service"),
		js.onThisNode("__meta_kubernetes_endpointslice_endpoint_node_name"),
		&relabel.Config{Regex: re("__meta_kubernetes_service_label_(.+)"), Action: relabel.LabelMap},
		copyLabel("__meta_kubernetes_namespace", "namespace"),
		copyLabel("__meta_kubernetes_service_name", "service"),
		copyLabel("__meta_kubernetes_pod_name", "pod"),
		copyLabel("__meta_kubernetes_endpointslice_endpoint_node_name", "node"),
	))
	return []*config.ScrapeConfig{pods, eps}
}

// annotationRules are the keep/scheme/path/port rules over the annotations
// of kind ("pod" or "service").
func annotationRules(kind string) []*relabel.Config {
	a := func(name string) model.LabelName {
		return model.LabelName("__meta_kubernetes_" + kind + "_annotation_prometheus_io_" + name)
	}
	return []*relabel.Config{
		{SourceLabels: model.LabelNames{a("scrape")}, Regex: re("true"), Action: relabel.Keep},
		{SourceLabels: model.LabelNames{a("scheme")}, Regex: re("(https?)"), TargetLabel: model.SchemeLabel, Action: relabel.Replace},
		{SourceLabels: model.LabelNames{a("path")}, Regex: re("(.+)"), TargetLabel: model.MetricsPathLabel, Action: relabel.Replace},
		// IPv6 addresses are bracketed in __address__ ([::1]:80); the
		// host part is everything up to an optional final :port.
		{SourceLabels: model.LabelNames{model.AddressLabel, a("port")}, Regex: re(`(.+?)(?::\d+)?;(\d+)`), Replacement: "$1:$2", TargetLabel: model.AddressLabel, Action: relabel.Replace},
	}
}
