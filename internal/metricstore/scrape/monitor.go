package scrape

import (
	"encoding/json"
	"fmt"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/alecthomas/units"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/config"
	"github.com/prometheus/prometheus/discovery"
	"github.com/prometheus/prometheus/discovery/kubernetes"
	"github.com/prometheus/prometheus/model/relabel"
	"github.com/prometheus/prometheus/util/strutil"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// The subset of monitoring.coreos.com/v1 PodMonitor and ServiceMonitor that
// the scraper translates. Field names and JSON tags are the Prometheus
// Operator's (pkg/apis/monitoring/v1); the operator's typed module is not
// imported because it pins newer Kubernetes and controller-runtime modules
// than the rest of kinsight.

// PodMonitor is a monitoring.coreos.com/v1 PodMonitor.
type PodMonitor struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              PodMonitorSpec `json:"spec"`
}

// PodMonitorSpec is the part of a PodMonitor's spec kinsight supports.
type PodMonitorSpec struct {
	JobLabel            string               `json:"jobLabel,omitempty"`
	PodTargetLabels     []string             `json:"podTargetLabels,omitempty"`
	PodMetricsEndpoints []Endpoint           `json:"podMetricsEndpoints"`
	Selector            metav1.LabelSelector `json:"selector"`
	NamespaceSelector   NamespaceSelector    `json:"namespaceSelector,omitempty"`
	Limits
}

// ServiceMonitor is a monitoring.coreos.com/v1 ServiceMonitor.
type ServiceMonitor struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              ServiceMonitorSpec `json:"spec"`
}

// ServiceMonitorSpec is the part of a ServiceMonitor's spec kinsight supports.
type ServiceMonitorSpec struct {
	JobLabel          string               `json:"jobLabel,omitempty"`
	TargetLabels      []string             `json:"targetLabels,omitempty"`
	PodTargetLabels   []string             `json:"podTargetLabels,omitempty"`
	Endpoints         []Endpoint           `json:"endpoints"`
	Selector          metav1.LabelSelector `json:"selector"`
	NamespaceSelector NamespaceSelector    `json:"namespaceSelector,omitempty"`
	Limits
}

// NamespaceSelector picks the namespaces a monitor's targets live in: any,
// a list, or (neither set) the monitor's own namespace.
type NamespaceSelector struct {
	Any        bool     `json:"any,omitempty"`
	MatchNames []string `json:"matchNames,omitempty"`
}

// Limits are the per-target limits of a monitor spec (and of Options, where
// they are the defaults and the ceiling: a monitor can lower a limit, never
// raise it above the agent's).
type Limits struct {
	SampleLimit           uint64 `json:"sampleLimit,omitempty"`
	TargetLimit           uint64 `json:"targetLimit,omitempty"`
	LabelLimit            uint64 `json:"labelLimit,omitempty"`
	LabelNameLengthLimit  uint64 `json:"labelNameLengthLimit,omitempty"`
	LabelValueLengthLimit uint64 `json:"labelValueLengthLimit,omitempty"`
	// BodySizeLimit is in bytes here; in a monitor spec it is a string
	// such as "10MB" (parsed by bodySize).
	BodySizeLimit string `json:"bodySizeLimit,omitempty"`
}

// Endpoint is a PodMetricsEndpoint or a ServiceMonitor Endpoint (the two
// share the fields kinsight supports; portNumber is PodMonitor-only).
type Endpoint struct {
	Port                     *string             `json:"port,omitempty"`
	PortNumber               *int32              `json:"portNumber,omitempty"`
	TargetPort               *intstr.IntOrString `json:"targetPort,omitempty"`
	Path                     string              `json:"path,omitempty"`
	Scheme                   string              `json:"scheme,omitempty"`
	Params                   map[string][]string `json:"params,omitempty"`
	Interval                 string              `json:"interval,omitempty"`
	ScrapeTimeout            string              `json:"scrapeTimeout,omitempty"`
	HonorLabels              bool                `json:"honorLabels,omitempty"`
	HonorTimestamps          *bool               `json:"honorTimestamps,omitempty"`
	TrackTimestampsStaleness *bool               `json:"trackTimestampsStaleness,omitempty"`
	FilterRunning            *bool               `json:"filterRunning,omitempty"`
	EnableHTTP2              *bool               `json:"enableHttp2,omitempty"`
	FollowRedirects          *bool               `json:"followRedirects,omitempty"`
	Relabelings              []RelabelConfig     `json:"relabelings,omitempty"`
	MetricRelabelings        []RelabelConfig     `json:"metricRelabelings,omitempty"`

	// Authentication and TLS need the referenced Secrets, which the agent
	// does not read: an endpoint using them is refused rather than scraped
	// without its credentials.
	BasicAuth         json.RawMessage `json:"basicAuth,omitempty"`
	BearerTokenSecret json.RawMessage `json:"bearerTokenSecret,omitempty"`
	Authorization     json.RawMessage `json:"authorization,omitempty"`
	OAuth2            json.RawMessage `json:"oauth2,omitempty"`
	TLSConfig         json.RawMessage `json:"tlsConfig,omitempty"`
}

// RelabelConfig is the operator's RelabelConfig (camelCase, optional
// separator and replacement).
type RelabelConfig struct {
	SourceLabels []string `json:"sourceLabels,omitempty"`
	Separator    *string  `json:"separator,omitempty"`
	TargetLabel  string   `json:"targetLabel,omitempty"`
	Regex        string   `json:"regex,omitempty"`
	Modulus      uint64   `json:"modulus,omitempty"`
	Replacement  *string  `json:"replacement,omitempty"`
	Action       string   `json:"action,omitempty"`
}

// jobSpec is what every generated scrape config starts from: the agent's
// defaults and limits.
type jobSpec struct {
	interval, timeout time.Duration
	limits            Limits
	bodySizeLimit     int64
	nodeName          string
	sd                kubernetes.SDConfig // API server and credentials; role and namespaces set per job
}

// newScrapeConfig returns a scrape config with Prometheus's defaults and the
// agent's interval, timeout and limits.
func (js *jobSpec) newScrapeConfig(name string) *config.ScrapeConfig {
	sc := config.DefaultScrapeConfig
	sc.JobName = name
	sc.ScrapeInterval = model.Duration(js.interval)
	sc.ScrapeTimeout = model.Duration(js.timeout)
	sc.SampleLimit = uint(js.limits.SampleLimit)
	sc.TargetLimit = uint(js.limits.TargetLimit)
	sc.LabelLimit = uint(js.limits.LabelLimit)
	sc.LabelNameLengthLimit = uint(js.limits.LabelNameLengthLimit)
	sc.LabelValueLengthLimit = uint(js.limits.LabelValueLengthLimit)
	sc.BodySizeLimit = byteLimit(js.bodySizeLimit)
	return &sc
}

// sdConfig returns a Kubernetes SD config of role over namespaces (all when
// empty), with pods limited to this node by a field selector so the API
// server, not the agent, filters out the rest of the cluster.
func (js *jobSpec) sdConfig(role kubernetes.Role, namespaces []string) discovery.Configs {
	sd := js.sd
	sd.Role = role
	sd.NamespaceDiscovery = kubernetes.NamespaceDiscovery{Names: namespaces}
	sd.Selectors = []kubernetes.SelectorConfig{{Role: kubernetes.RolePod, Field: "spec.nodeName=" + js.nodeName}}
	return discovery.Configs{&sd}
}

// podMonitorConfigs translates a PodMonitor into one scrape config per
// endpoint, named podMonitor/<namespace>/<name>/<index> as the Prometheus
// Operator names them, with the operator's relabelling.
func (js *jobSpec) podMonitorConfigs(pm *PodMonitor) ([]*config.ScrapeConfig, error) {
	sel, err := selectorRelabel(pm.Spec.Selector, "__meta_kubernetes_pod_label_", "__meta_kubernetes_pod_labelpresent_")
	if err != nil {
		return nil, fmt.Errorf("podMonitor %s/%s: selector: %w", pm.Namespace, pm.Name, err)
	}
	var out []*config.ScrapeConfig
	for i, ep := range pm.Spec.PodMetricsEndpoints {
		name := fmt.Sprintf("podMonitor/%s/%s/%d", pm.Namespace, pm.Name, i)
		sc, err := js.endpointConfig(name, &ep, &pm.Spec.Limits)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		sc.ServiceDiscoveryConfigs = js.sdConfig(kubernetes.RolePod, namespaces(pm.Spec.NamespaceSelector, pm.Namespace))

		rl := []*relabel.Config{
			{SourceLabels: model.LabelNames{"job"}, TargetLabel: "__tmp_prometheus_job_name", Action: relabel.Replace},
		}
		rl = append(rl, sel...)
		if ep.FilterRunning == nil || *ep.FilterRunning {
			rl = append(rl, &relabel.Config{SourceLabels: model.LabelNames{"__meta_kubernetes_pod_phase"}, Regex: re("(Failed|Succeeded)"), Action: relabel.Drop})
		}
		endpointLabel := ""
		switch {
		case ep.Port != nil && *ep.Port != "":
			rl = append(rl, &relabel.Config{SourceLabels: model.LabelNames{"__meta_kubernetes_pod_container_port_name"}, Regex: re(regexp.QuoteMeta(*ep.Port)), Action: relabel.Keep})
			endpointLabel = *ep.Port
		case ep.PortNumber != nil:
			rl = append(rl, &relabel.Config{SourceLabels: model.LabelNames{"__meta_kubernetes_pod_container_port_number"}, Regex: re(strconv.Itoa(int(*ep.PortNumber))), Action: relabel.Keep})
		case ep.TargetPort != nil && ep.TargetPort.Type == intstr.String:
			rl = append(rl, &relabel.Config{SourceLabels: model.LabelNames{"__meta_kubernetes_pod_container_port_name"}, Regex: re(regexp.QuoteMeta(ep.TargetPort.StrVal)), Action: relabel.Keep})
			endpointLabel = ep.TargetPort.StrVal
		case ep.TargetPort != nil:
			rl = append(rl, &relabel.Config{SourceLabels: model.LabelNames{"__meta_kubernetes_pod_container_port_number"}, Regex: re(ep.TargetPort.String()), Action: relabel.Keep})
			endpointLabel = ep.TargetPort.String()
		}
		rl = append(rl,
			copyLabel("__meta_kubernetes_namespace", "namespace"),
			copyLabel("__meta_kubernetes_pod_container_name", "container"),
			copyLabel("__meta_kubernetes_pod_name", "pod"),
		)
		for _, l := range pm.Spec.PodTargetLabels {
			rl = append(rl, copyLabel("__meta_kubernetes_pod_label_"+strutil.SanitizeLabelName(l), strutil.SanitizeLabelName(l)))
		}
		rl = append(rl, setLabel("job", pm.Namespace+"/"+pm.Name))
		if pm.Spec.JobLabel != "" {
			rl = append(rl, &relabel.Config{SourceLabels: model.LabelNames{model.LabelName("__meta_kubernetes_pod_label_" + strutil.SanitizeLabelName(pm.Spec.JobLabel))}, TargetLabel: "job", Regex: re("(.+)"), Replacement: "${1}", Action: relabel.Replace})
		}
		if endpointLabel != "" {
			rl = append(rl, setLabel("endpoint", endpointLabel))
		}
		user, err := relabelConfigs(ep.Relabelings)
		if err != nil {
			return nil, fmt.Errorf("%s: relabelings: %w", name, err)
		}
		sc.RelabelConfigs = append(defaulted(rl), user...)
		if sc.MetricRelabelConfigs, err = relabelConfigs(ep.MetricRelabelings); err != nil {
			return nil, fmt.Errorf("%s: metricRelabelings: %w", name, err)
		}
		out = append(out, sc)
	}
	return out, nil
}

// serviceMonitorConfigs translates a ServiceMonitor into one scrape config
// per endpoint (serviceMonitor/<namespace>/<name>/<index>) over
// EndpointSlices, keeping only the endpoints on this node.
func (js *jobSpec) serviceMonitorConfigs(sm *ServiceMonitor) ([]*config.ScrapeConfig, error) {
	sel, err := selectorRelabel(sm.Spec.Selector, "__meta_kubernetes_service_label_", "__meta_kubernetes_service_labelpresent_")
	if err != nil {
		return nil, fmt.Errorf("serviceMonitor %s/%s: selector: %w", sm.Namespace, sm.Name, err)
	}
	var out []*config.ScrapeConfig
	for i, ep := range sm.Spec.Endpoints {
		name := fmt.Sprintf("serviceMonitor/%s/%s/%d", sm.Namespace, sm.Name, i)
		sc, err := js.endpointConfig(name, &ep, &sm.Spec.Limits)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		sc.ServiceDiscoveryConfigs = js.sdConfig(kubernetes.RoleEndpointSlice, namespaces(sm.Spec.NamespaceSelector, sm.Namespace))

		rl := []*relabel.Config{
			{SourceLabels: model.LabelNames{"job"}, TargetLabel: "__tmp_prometheus_job_name", Action: relabel.Replace},
		}
		rl = append(rl, sel...)
		rl = append(rl, js.onThisNode("__meta_kubernetes_endpointslice_endpoint_node_name"))
		endpointLabel := ""
		switch {
		case ep.Port != nil && *ep.Port != "":
			rl = append(rl, &relabel.Config{SourceLabels: model.LabelNames{"__meta_kubernetes_endpointslice_port_name"}, Regex: re(regexp.QuoteMeta(*ep.Port)), Action: relabel.Keep})
			endpointLabel = *ep.Port
		case ep.TargetPort != nil && ep.TargetPort.Type == intstr.String:
			rl = append(rl, &relabel.Config{SourceLabels: model.LabelNames{"__meta_kubernetes_pod_container_port_name"}, Regex: re(regexp.QuoteMeta(ep.TargetPort.StrVal)), Action: relabel.Keep})
			endpointLabel = ep.TargetPort.StrVal
		case ep.TargetPort != nil:
			rl = append(rl, &relabel.Config{SourceLabels: model.LabelNames{"__meta_kubernetes_endpointslice_port"}, Regex: re(ep.TargetPort.String()), Action: relabel.Keep})
			endpointLabel = ep.TargetPort.String()
		}
		rl = append(rl,
			&relabel.Config{SourceLabels: model.LabelNames{"__meta_kubernetes_endpointslice_address_target_kind", "__meta_kubernetes_endpointslice_address_target_name"}, Separator: ";", Regex: re("Node;(.*)"), Replacement: "${1}", TargetLabel: "node", Action: relabel.Replace},
			&relabel.Config{SourceLabels: model.LabelNames{"__meta_kubernetes_endpointslice_address_target_kind", "__meta_kubernetes_endpointslice_address_target_name"}, Separator: ";", Regex: re("Pod;(.*)"), Replacement: "${1}", TargetLabel: "pod", Action: relabel.Replace},
			&relabel.Config{SourceLabels: model.LabelNames{"__meta_kubernetes_pod_phase"}, Regex: re("(Failed|Succeeded)"), Action: relabel.Drop},
			copyLabel("__meta_kubernetes_namespace", "namespace"),
			copyLabel("__meta_kubernetes_service_name", "service"),
			// The target's name already gave pod; the pod's metadata (known
			// only for pods on this node) must not blank it.
			&relabel.Config{SourceLabels: model.LabelNames{"__meta_kubernetes_pod_name"}, Regex: re("(.+)"), TargetLabel: "pod", Action: relabel.Replace},
			copyLabel("__meta_kubernetes_pod_container_name", "container"),
		)
		for _, l := range sm.Spec.TargetLabels {
			rl = append(rl, copyLabel("__meta_kubernetes_service_label_"+strutil.SanitizeLabelName(l), strutil.SanitizeLabelName(l)))
		}
		for _, l := range sm.Spec.PodTargetLabels {
			rl = append(rl, copyLabel("__meta_kubernetes_pod_label_"+strutil.SanitizeLabelName(l), strutil.SanitizeLabelName(l)))
		}
		rl = append(rl, copyLabel("__meta_kubernetes_service_name", "job"))
		if sm.Spec.JobLabel != "" {
			rl = append(rl, &relabel.Config{SourceLabels: model.LabelNames{model.LabelName("__meta_kubernetes_service_label_" + strutil.SanitizeLabelName(sm.Spec.JobLabel))}, TargetLabel: "job", Regex: re("(.+)"), Replacement: "${1}", Action: relabel.Replace})
		}
		if endpointLabel != "" {
			rl = append(rl, setLabel("endpoint", endpointLabel))
		}
		user, err := relabelConfigs(ep.Relabelings)
		if err != nil {
			return nil, fmt.Errorf("%s: relabelings: %w", name, err)
		}
		sc.RelabelConfigs = append(defaulted(rl), user...)
		if sc.MetricRelabelConfigs, err = relabelConfigs(ep.MetricRelabelings); err != nil {
			return nil, fmt.Errorf("%s: metricRelabelings: %w", name, err)
		}
		out = append(out, sc)
	}
	return out, nil
}

// endpointConfig applies an endpoint's scrape settings and the monitor's
// limits (capped by the agent's) to a new scrape config.
func (js *jobSpec) endpointConfig(name string, ep *Endpoint, lim *Limits) (*config.ScrapeConfig, error) {
	for field, v := range map[string]json.RawMessage{"basicAuth": ep.BasicAuth, "bearerTokenSecret": ep.BearerTokenSecret, "authorization": ep.Authorization, "oauth2": ep.OAuth2, "tlsConfig": ep.TLSConfig} {
		if len(v) > 0 && string(v) != "null" && string(v) != "{}" {
			return nil, fmt.Errorf("%s is not supported (the agent does not read Secrets)", field)
		}
	}
	sc := js.newScrapeConfig(name)
	if ep.Path != "" {
		sc.MetricsPath = ep.Path
	}
	if ep.Scheme != "" {
		s := strings.ToLower(ep.Scheme)
		if s != "http" && s != "https" {
			return nil, fmt.Errorf("scheme %q: want http or https", ep.Scheme)
		}
		sc.Scheme = s
	}
	if len(ep.Params) > 0 {
		sc.Params = url.Values(ep.Params)
	}
	if ep.Interval != "" {
		d, err := model.ParseDuration(ep.Interval)
		if err != nil || d <= 0 {
			return nil, fmt.Errorf("interval %q: not a positive duration", ep.Interval)
		}
		sc.ScrapeInterval = d
		if sc.ScrapeTimeout > d {
			sc.ScrapeTimeout = d
		}
	}
	if ep.ScrapeTimeout != "" {
		d, err := model.ParseDuration(ep.ScrapeTimeout)
		if err != nil || d <= 0 {
			return nil, fmt.Errorf("scrapeTimeout %q: not a positive duration", ep.ScrapeTimeout)
		}
		sc.ScrapeTimeout = d
	}
	sc.HonorLabels = ep.HonorLabels
	if ep.HonorTimestamps != nil {
		sc.HonorTimestamps = *ep.HonorTimestamps
	}
	if ep.TrackTimestampsStaleness != nil {
		sc.TrackTimestampsStaleness = *ep.TrackTimestampsStaleness
	}
	if ep.EnableHTTP2 != nil {
		sc.HTTPClientConfig.EnableHTTP2 = *ep.EnableHTTP2
	}
	if ep.FollowRedirects != nil {
		sc.HTTPClientConfig.FollowRedirects = *ep.FollowRedirects
	}
	capLimit(&sc.SampleLimit, lim.SampleLimit)
	capLimit(&sc.TargetLimit, lim.TargetLimit)
	capLimit(&sc.LabelLimit, lim.LabelLimit)
	capLimit(&sc.LabelNameLengthLimit, lim.LabelNameLengthLimit)
	capLimit(&sc.LabelValueLengthLimit, lim.LabelValueLengthLimit)
	if lim.BodySizeLimit != "" {
		n, err := bodySize(lim.BodySizeLimit)
		if err != nil {
			return nil, err
		}
		if sc.BodySizeLimit == 0 || byteLimit(n) < sc.BodySizeLimit {
			sc.BodySizeLimit = byteLimit(n)
		}
	}
	return sc, nil
}

// capLimit lowers *dst to v when v is set and below it (0 is "no limit").
func capLimit(dst *uint, v uint64) {
	if v == 0 {
		return
	}
	if *dst == 0 || uint(v) < *dst {
		*dst = uint(v)
	}
}

// bodySizePattern is the operator's ByteSize: a number and a unit.
var bodySizePattern = regexp.MustCompile(`^(0|[1-9][0-9]*)(B|KB|MB|GB|TB|PB|EB|KiB|MiB|GiB|TiB|PiB|EiB)?$`)

// bodySize parses the operator's byte sizes ("512KB", "10MiB"), which it
// passes to Prometheus's body_size_limit, where every unit is base 2.
func bodySize(s string) (int64, error) {
	m := bodySizePattern.FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		return 0, fmt.Errorf("bodySizeLimit %q: not a byte size", s)
	}
	n, err := strconv.ParseInt(m[1], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("bodySizeLimit %q: %w", s, err)
	}
	shift := map[string]uint{"": 0, "B": 0, "KB": 10, "KiB": 10, "MB": 20, "MiB": 20, "GB": 30, "GiB": 30, "TB": 40, "TiB": 40, "PB": 50, "PiB": 50, "EB": 60, "EiB": 60}[m[2]]
	if shift > 0 && n > (1<<62)>>shift {
		return 0, fmt.Errorf("bodySizeLimit %q: too large", s)
	}
	return n << shift, nil
}

// namespaces returns the namespaces a monitor selects; nil means all.
func namespaces(ns NamespaceSelector, own string) []string {
	switch {
	case ns.Any:
		return nil
	case len(ns.MatchNames) > 0:
		return ns.MatchNames
	default:
		return []string{own}
	}
}

// selectorRelabel turns a label selector into keep/drop rules over the
// discovered objects' label meta labels, as the operator does.
func selectorRelabel(sel metav1.LabelSelector, labelPrefix, presentPrefix string) ([]*relabel.Config, error) {
	var rl []*relabel.Config
	for _, k := range sortedKeys(sel.MatchLabels) {
		n := strutil.SanitizeLabelName(k)
		rl = append(rl,
			&relabel.Config{SourceLabels: model.LabelNames{model.LabelName(labelPrefix + n), model.LabelName(presentPrefix + n)}, Separator: ";", Regex: re(regexp.QuoteMeta(sel.MatchLabels[k]) + ";true"), Action: relabel.Keep})
	}
	for _, e := range sel.MatchExpressions {
		n := strutil.SanitizeLabelName(e.Key)
		quoted := make([]string, len(e.Values))
		for i, v := range e.Values {
			quoted[i] = regexp.QuoteMeta(v)
		}
		values := "(" + strings.Join(quoted, "|") + ")"
		both := model.LabelNames{model.LabelName(labelPrefix + n), model.LabelName(presentPrefix + n)}
		switch e.Operator {
		case metav1.LabelSelectorOpIn:
			rl = append(rl, &relabel.Config{SourceLabels: both, Separator: ";", Regex: re(values + ";true"), Action: relabel.Keep})
		case metav1.LabelSelectorOpNotIn:
			rl = append(rl, &relabel.Config{SourceLabels: both, Separator: ";", Regex: re(values + ";true"), Action: relabel.Drop})
		case metav1.LabelSelectorOpExists:
			rl = append(rl, &relabel.Config{SourceLabels: model.LabelNames{model.LabelName(presentPrefix + n)}, Regex: re("true"), Action: relabel.Keep})
		case metav1.LabelSelectorOpDoesNotExist:
			rl = append(rl, &relabel.Config{SourceLabels: model.LabelNames{model.LabelName(presentPrefix + n)}, Regex: re("true"), Action: relabel.Drop})
		default:
			return nil, fmt.Errorf("unknown operator %q", e.Operator)
		}
	}
	return rl, nil
}

// relabelConfigs converts the operator's relabel rules, applying
// Prometheus's defaults to the fields left out.
func relabelConfigs(in []RelabelConfig) ([]*relabel.Config, error) {
	out := make([]*relabel.Config, 0, len(in))
	for i, r := range in {
		c := relabel.DefaultRelabelConfig
		if r.Action != "" {
			c.Action = relabel.Action(strings.ToLower(r.Action))
		}
		switch c.Action {
		case relabel.Replace, relabel.Keep, relabel.Drop, relabel.HashMod, relabel.LabelMap, relabel.LabelDrop,
			relabel.LabelKeep, relabel.Lowercase, relabel.Uppercase, relabel.KeepEqual, relabel.DropEqual:
		default:
			return nil, fmt.Errorf("rule %d: unknown action %q", i, r.Action)
		}
		for _, l := range r.SourceLabels {
			c.SourceLabels = append(c.SourceLabels, model.LabelName(l))
		}
		if r.Separator != nil {
			c.Separator = *r.Separator
		}
		if r.Regex != "" {
			rx, err := relabel.NewRegexp(r.Regex)
			if err != nil {
				return nil, fmt.Errorf("rule %d: regex: %w", i, err)
			}
			c.Regex = rx
		}
		if r.Replacement != nil {
			c.Replacement = *r.Replacement
		}
		c.TargetLabel = r.TargetLabel
		c.Modulus = r.Modulus
		if err := c.Validate(model.UTF8Validation); err != nil {
			return nil, fmt.Errorf("rule %d: %w", i, err)
		}
		out = append(out, &c)
	}
	return out, nil
}

// defaulted fills the fields our own rules leave out with Prometheus's
// relabel defaults (a rule written in Go skips UnmarshalYAML's defaults).
func defaulted(rl []*relabel.Config) []*relabel.Config {
	for _, c := range rl {
		if c.Separator == "" {
			c.Separator = relabel.DefaultRelabelConfig.Separator
		}
		if c.Regex.Regexp == nil {
			c.Regex = relabel.DefaultRelabelConfig.Regex
		}
		if c.Replacement == "" {
			c.Replacement = relabel.DefaultRelabelConfig.Replacement
		}
		if c.Action == "" {
			c.Action = relabel.Replace
		}
	}
	return rl
}

// onThisNode keeps targets whose node meta label is this agent's node.
func (js *jobSpec) onThisNode(meta model.LabelName) *relabel.Config {
	return &relabel.Config{SourceLabels: model.LabelNames{meta}, Regex: re(regexp.QuoteMeta(js.nodeName)), Action: relabel.Keep}
}

func copyLabel(from, to string) *relabel.Config {
	return &relabel.Config{SourceLabels: model.LabelNames{model.LabelName(from)}, TargetLabel: to, Action: relabel.Replace}
}

func setLabel(name, value string) *relabel.Config {
	return &relabel.Config{TargetLabel: name, Replacement: value, Action: relabel.Replace}
}

// re compiles one of our own fixed patterns; they are constants or quoted
// user strings, so failure is a programming error.
func re(s string) relabel.Regexp {
	return relabel.MustNewRegexp(s)
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func byteLimit(n int64) units.Base2Bytes { return units.Base2Bytes(n) }
