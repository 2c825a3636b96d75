package config

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/labels"

	"github.com/kinsight/kinsight/internal/agent/cri"
)

// Agent configures `kinsight agent` (and the agent half of `kinsight up`):
// which log files it follows and where it ships them.
type Agent struct {
	// ClusterName fills {cluster} in log group names. Default: kinsight.
	ClusterName string `yaml:"cluster_name"`
	// HostName fills {host} in host log stream names and kubernetes.host.
	// Default: empty, meaning the machine's host name (os.Hostname).
	HostName string `yaml:"host_name"`
	// Listen is where the agent serves /metrics and /healthz; empty turns
	// them off. `kinsight up` serves the agent's metrics on the server's
	// /metrics instead. Default: 127.0.0.1:8471.
	Listen string `yaml:"listen"`
	// Pprof serves Go's /debug/pprof/ on listen. Default: false.
	Pprof bool `yaml:"pprof"`
	// MemoryLimit is the Go runtime's soft memory limit for `kinsight
	// agent` (GOMEMLIMIT, when set, wins): the garbage collector works
	// harder near it and returns memory to the system. 0 turns it off.
	// Default: 48MiB.
	MemoryLimit ByteSize `yaml:"memory_limit"`
	// GCPercent is the garbage collector's GOGC for `kinsight agent` (the
	// GOGC environment variable, when set, wins); 0 leaves Go's default
	// (100). Default: 50. The agent's live heap is small (~21 MB at a
	// steady 10,000 lines/s) and mostly pointer-free payloads, so a
	// collection is cheap (~0.2% of a core in that steady state) while the
	// heap it lets grow is most of the agent's RSS: 50 instead of 100 kept
	// ~3 MB less (anonymous 41 vs 44 MB). During a catch-up the heap
	// reaches MemoryLimit first either way. Negative turns the collector
	// off but for MemoryLimit (GOGC=off).
	GCPercent int `yaml:"gc_percent"`
	// DataDir holds the checkpoints and the disk buffer. Default: empty,
	// meaning ./kinsight-agent for `kinsight agent` and <server.data_dir>/agent
	// for `kinsight up`.
	DataDir string `yaml:"data_dir"`
	// ContainerLogs is the glob of kubelet's container log links.
	// Default: /var/log/containers/*.log.
	ContainerLogs string `yaml:"container_logs"`
	// HostLogs are globs of host log files (Debian and RHEL names).
	// Default: /var/log/messages, /var/log/secure, /var/log/dmesg,
	// /var/log/syslog, /var/log/auth.log, /var/log/kern.log.
	HostLogs []string `yaml:"host_logs"`
	// IncludeNamespaces, when set, ships only container logs of these
	// namespaces. Default: none (all).
	IncludeNamespaces []string `yaml:"include_namespaces"`
	// ExcludeNamespaces drops container logs of these namespaces (wins over
	// include). Default: none.
	ExcludeNamespaces []string `yaml:"exclude_namespaces"`
	// IncludeContainers, when set, ships only these container names.
	// Default: none (all).
	IncludeContainers []string `yaml:"include_containers"`
	// ExcludeContainers drops these container names. Default: none.
	ExcludeContainers []string `yaml:"exclude_containers"`
	// IncludePodLabels, when set, ships only container logs of pods
	// matching this Kubernetes label selector ("app in (web,api),tier!=db").
	// Needs kubernetes metadata. Default: empty (all).
	IncludePodLabels string `yaml:"include_pod_labels"`
	// ExcludePodLabels drops container logs of pods matching this selector
	// (wins over include). Default: empty.
	ExcludePodLabels string `yaml:"exclude_pod_labels"`
	// Multiline joins application records spanning lines (stack traces).
	Multiline AgentMultiline `yaml:"multiline"`
	// MergeLog parses container log lines that are JSON objects and adds
	// their fields to the record (Fluent Bit's Merge_Log). Default: true.
	MergeLog bool `yaml:"merge_log"`
	// MergeLogKey is the key the parsed fields go under; empty merges them
	// at the record's top level. Default: log_processed (Container Insights).
	MergeLogKey string `yaml:"merge_log_key"`
	// Kubernetes adds pod metadata from the API server.
	Kubernetes AgentKubernetes `yaml:"kubernetes"`
	// Dataplane ships the node's Kubernetes components' logs.
	Dataplane AgentDataplane `yaml:"dataplane"`
	// Routes are the log group and stream name templates.
	Routes AgentRoutes `yaml:"routes"`
	// Buffer bounds the delivery buffer.
	Buffer AgentBuffer `yaml:"buffer"`
	// Output is the CloudWatch Logs endpoint (a kinsight server or AWS).
	Output AgentOutput `yaml:"output"`
	// Metrics is the agent's metric side: node, pod and cluster metrics,
	// Prometheus scraping, and remote_write shipping (docs/metrics.md).
	Metrics AgentMetrics `yaml:"metrics"`
}

// AgentRoutes are templates: {cluster} and {host} are replaced everywhere,
// {file} (the log file name without .log for containers, the base name for
// host logs) in streams.
type AgentRoutes struct {
	// ApplicationGroup receives container logs.
	// Default: /aws/containerinsights/{cluster}/application.
	ApplicationGroup string `yaml:"application_group"`
	// ApplicationStream default: {file}.
	ApplicationStream string `yaml:"application_stream"`
	// HostGroup receives host logs. Default: /aws/containerinsights/{cluster}/host.
	HostGroup string `yaml:"host_group"`
	// HostStream default: {host}.{file}.
	HostStream string `yaml:"host_stream"`
	// DataplaneGroup receives journal and dataplane pods' logs.
	// Default: /aws/containerinsights/{cluster}/dataplane.
	DataplaneGroup string `yaml:"dataplane_group"`
	// DataplaneStream default: {host}.{file} ({file} being the unit for
	// journal entries).
	DataplaneStream string `yaml:"dataplane_stream"`
}

// AgentMultiline joins multi-line records; off unless a preset or start
// patterns are given.
type AgentMultiline struct {
	// Presets are java, python and go. Default: none.
	Presets []string `yaml:"presets"`
	// Start are regular expressions (RE2) matching a record's first line.
	// Default: none.
	Start []string `yaml:"start"`
	// Continue are regular expressions of lines that never start a record.
	// Default: none.
	Continue []string `yaml:"continue"`
}

// AgentKubernetes configures pod metadata.
type AgentKubernetes struct {
	// Enabled is auto (when running in a pod or with kubeconfig set), true
	// or false. Default: auto.
	Enabled string `yaml:"enabled"`
	// Kubeconfig is a kubeconfig file; empty means the in-cluster service
	// account. Default: empty.
	Kubeconfig string `yaml:"kubeconfig"`
	// NodeName is the node whose pods are watched. Default: empty, meaning
	// $NODE_NAME, else host_name.
	NodeName string `yaml:"node_name"`
	// Wait is how long records of a pod not yet known wait for its
	// metadata before they go out with what the file name tells. Default: 2s.
	Wait Duration `yaml:"wait"`
	// Labels and Annotations add the pod's to records. Default: true.
	Labels      bool `yaml:"labels"`
	Annotations bool `yaml:"annotations"`
}

// AgentDataplane selects the Kubernetes components' logs.
type AgentDataplane struct {
	// JournalUnits are the systemd units read from the journal; empty turns
	// the journal off. Default: kubelet, containerd, docker and kube-proxy
	// (.service).
	JournalUnits []string `yaml:"journal_units"`
	// JournalDirectory is a journal directory; empty means the system's
	// (read only when /var/log/journal or /run/log/journal exists).
	// Default: empty.
	JournalDirectory string `yaml:"journal_directory"`
	// Pods are kube-system pod name prefixes whose container logs go to the
	// dataplane group instead of application. Default: aws-node, kube-proxy.
	Pods []string `yaml:"pods"`
}

// AgentBuffer bounds the agent's delivery buffer.
type AgentBuffer struct {
	// MemoryBytes is held in memory before spilling to disk. Default: 8MiB.
	MemoryBytes ByteSize `yaml:"memory_bytes"`
	// DiskBytes caps the disk buffer; past it the oldest data is dropped
	// and counted. Default: 1GiB.
	DiskBytes ByteSize `yaml:"disk_bytes"`
}

// AgentOutput is where the agent sends logs.
type AgentOutput struct {
	// Endpoint is a kinsight server's base URL (http://kinsight:8470); empty
	// means AWS CloudWatch Logs in Region. Default: empty (for `kinsight up`,
	// the server it runs).
	Endpoint string `yaml:"endpoint"`
	// Region is signed into requests. Default: empty (the AWS chain's, or
	// us-east-1 with an endpoint).
	Region string `yaml:"region"`
	// AccessKeyID and SecretAccessKey are a static key pair; set both or
	// neither (then the AWS credential chain is used). Default: empty.
	AccessKeyID     string `yaml:"access_key_id"`
	SecretAccessKey string `yaml:"secret_access_key"`
	// SecretAccessKeyFile holds the secret instead (a mounted Secret);
	// surrounding white space is ignored. Default: empty.
	SecretAccessKeyFile string `yaml:"secret_access_key_file"`
	// Compression is auto, gzip, zstd or none. Default: auto.
	Compression string `yaml:"compression"`
	// Type is cloudwatch, stdout or file (the last two write one JSON line
	// per event, for debugging). Default: cloudwatch.
	Type string `yaml:"type"`
	// Path is the file of type file. Default: empty.
	Path string `yaml:"path"`
}

// DefaultHostLogs are the host log files of Debian and RHEL family systems.
func DefaultHostLogs() []string {
	return []string{
		"/var/log/messages", "/var/log/secure", "/var/log/dmesg",
		"/var/log/syslog", "/var/log/auth.log", "/var/log/kern.log",
	}
}

// DefaultAgent returns the agent section's defaults.
func DefaultAgent() Agent {
	return Agent{
		ClusterName:   "kinsight",
		Listen:        "127.0.0.1:8471",
		ContainerLogs: "/var/log/containers/*.log",
		HostLogs:      DefaultHostLogs(),
		MergeLog:      true,
		MergeLogKey:   "log_processed",
		Kubernetes: AgentKubernetes{
			Enabled: "auto", Wait: Duration(2 * time.Second), Labels: true, Annotations: true,
		},
		Dataplane: AgentDataplane{
			JournalUnits: []string{"kubelet.service", "containerd.service", "docker.service", "kube-proxy.service"},
			Pods:         []string{"aws-node", "kube-proxy"},
		},
		Routes: AgentRoutes{
			ApplicationGroup:  "/aws/containerinsights/{cluster}/application",
			ApplicationStream: "{file}",
			HostGroup:         "/aws/containerinsights/{cluster}/host",
			HostStream:        "{host}.{file}",
			DataplaneGroup:    "/aws/containerinsights/{cluster}/dataplane",
			DataplaneStream:   "{host}.{file}",
		},
		MemoryLimit: 48 << 20,
		GCPercent:   50,
		Buffer:      AgentBuffer{MemoryBytes: 8 << 20, DiskBytes: 1 << 30},
		Output:      AgentOutput{Compression: "auto", Type: "cloudwatch"},
		Metrics:     DefaultAgentMetrics(),
	}
}

// Validate checks the agent section; key is its YAML path.
func (a *Agent) Validate(key string) error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf(key+"."+format, args...))
	}
	if a.ClusterName == "" || strings.ContainsAny(a.ClusterName, "/:*") {
		bad("cluster_name must be non-empty without '/', ':' or '*' (got %q)", a.ClusterName)
	}
	if a.ContainerLogs == "" && len(a.HostLogs) == 0 {
		bad("container_logs and host_logs are both empty: nothing to follow")
	}
	globs := append([]string{a.ContainerLogs}, a.HostLogs...)
	for i, g := range globs {
		if g == "" {
			continue
		}
		if _, err := filepath.Match(g, ""); err != nil || !filepath.IsAbs(g) {
			name := "container_logs"
			if i > 0 {
				name = fmt.Sprintf("host_logs[%d]", i-1)
			}
			bad("%s must be an absolute glob (got %q)", name, g)
		}
	}
	for name, v := range map[string]string{
		"routes.application_group": a.Routes.ApplicationGroup, "routes.application_stream": a.Routes.ApplicationStream,
		"routes.host_group": a.Routes.HostGroup, "routes.host_stream": a.Routes.HostStream,
		"routes.dataplane_group": a.Routes.DataplaneGroup, "routes.dataplane_stream": a.Routes.DataplaneStream,
	} {
		if v == "" {
			bad("%s must not be empty", name)
		}
	}
	if a.Listen != "" {
		if _, _, err := net.SplitHostPort(a.Listen); err != nil {
			bad("listen must be host:port (got %q)", a.Listen)
		}
	}
	for name, sel := range map[string]string{"include_pod_labels": a.IncludePodLabels, "exclude_pod_labels": a.ExcludePodLabels} {
		if _, err := labels.Parse(sel); err != nil {
			bad("%s is not a label selector: %v", name, err)
		}
	}
	for i, p := range a.Multiline.Presets {
		if _, err := cri.MultilinePreset(p); err != nil {
			bad("multiline.presets[%d]: %v", i, err)
		}
	}
	for name, pats := range map[string][]string{"start": a.Multiline.Start, "continue": a.Multiline.Continue} {
		for i, p := range pats {
			if _, err := regexp.Compile(p); err != nil {
				bad("multiline.%s[%d]: %v", name, i, err)
			}
		}
	}
	switch a.Kubernetes.Enabled {
	case "auto", "true", "false":
	default:
		bad("kubernetes.enabled must be auto, true or false (got %q)", a.Kubernetes.Enabled)
	}
	if a.Kubernetes.Wait < 0 || time.Duration(a.Kubernetes.Wait) > time.Minute {
		bad("kubernetes.wait must be between 0 and 1m (got %s)", time.Duration(a.Kubernetes.Wait))
	}
	if a.MemoryLimit != 0 && a.MemoryLimit < 16<<20 {
		bad("memory_limit must be 0 (off) or at least 16MiB (got %d)", a.MemoryLimit)
	}
	if a.GCPercent < 0 && a.MemoryLimit == 0 {
		bad("gc_percent below 0 (collector off) needs a memory_limit")
	}
	if a.Buffer.MemoryBytes < 64<<10 {
		bad("buffer.memory_bytes must be at least 64KiB (got %d)", a.Buffer.MemoryBytes)
	}
	if a.Buffer.DiskBytes < 0 {
		bad("buffer.disk_bytes must not be negative (got %d)", a.Buffer.DiskBytes)
	}
	o := a.Output
	if o.Endpoint != "" {
		if u, err := url.Parse(o.Endpoint); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad("output.endpoint must be an http:// or https:// URL (got %q)", o.Endpoint)
		}
	}
	if o.SecretAccessKey != "" && o.SecretAccessKeyFile != "" {
		bad("output.secret_access_key and output.secret_access_key_file: set one, not both")
	}
	if (o.AccessKeyID == "") != (o.SecretAccessKey == "" && o.SecretAccessKeyFile == "") {
		bad("output.access_key_id and output.secret_access_key (or _file): set both or neither")
	}
	switch o.Type {
	case "cloudwatch", "stdout":
	case "file":
		if o.Path == "" {
			bad("output.path is required with output.type file")
		}
	default:
		bad("output.type must be cloudwatch, stdout or file (got %q)", o.Type)
	}
	switch o.Compression {
	case "auto", "gzip", "zstd", "none":
	default:
		bad("output.compression must be auto, gzip, zstd or none (got %q)", o.Compression)
	}
	errs = append(errs, a.Metrics.validate(key+".metrics"))
	return errors.Join(errs...)
}

// Secret returns the output's secret access key, read from
// secret_access_key_file when that is set.
func (o AgentOutput) Secret() (string, error) {
	if o.SecretAccessKeyFile == "" {
		return o.SecretAccessKey, nil
	}
	b, err := os.ReadFile(o.SecretAccessKeyFile)
	if err != nil {
		return "", fmt.Errorf("agent.output.secret_access_key_file: %w", err)
	}
	return strings.TrimSpace(string(b)), nil
}

// AgentMetrics configures the agent's metric side (docs/metrics.md): what
// it collects, how often, and where the WAL-backed remote_write queue
// ships it. The schema is shared with the benchmark (test/bench).
type AgentMetrics struct {
	// Enabled turns the whole metric side on; false is a logs-only agent.
	// Default: true.
	Enabled bool `yaml:"enabled"`
	// Interval is how often node, pod and cluster metrics are collected;
	// 10s to 60s. Default: 30s (the CloudWatch agent's is 60s).
	Interval Duration `yaml:"interval"`
	// WALDir holds the metric WAL and the remote_write positions.
	// Default: empty, meaning <data_dir>/metrics.
	WALDir string `yaml:"wal_dir"`
	// Node are the node's own metrics under node-exporter's names.
	Node AgentNodeMetrics `yaml:"node"`
	// Pods are pod and container metrics and the Container Insights set.
	Pods AgentPodMetrics `yaml:"pods"`
	// Cluster are the cluster counts of the one agent holding a Lease.
	Cluster AgentClusterMetrics `yaml:"cluster"`
	// Scrape is Prometheus scraping of the node's pods.
	Scrape AgentScrape `yaml:"scrape"`
	// RemoteWrite are the destinations. Default: empty, meaning one,
	// <output.endpoint>/api/v1/write signed (SigV4) with output's keys,
	// when output ships to a kinsight server (type cloudwatch with an
	// endpoint); with no endpoint (AWS) or another output type nothing can
	// be derived and the metric side stays off, saying so in the log.
	RemoteWrite []AgentRemoteWrite `yaml:"remote_write"`
}

// AgentNodeMetrics configures node metrics (package nodemetrics).
type AgentNodeMetrics struct {
	// Enabled turns node metrics on. Default: true.
	Enabled bool `yaml:"enabled"`
	// ProcPath, SysPath and RootPath are where the host's /proc, /sys and
	// / are mounted (node-exporter's --path.procfs, --path.sysfs,
	// --path.rootfs). Defaults: /proc, /sys, /; the DaemonSet sets
	// /host/proc, /host/sys, /host/root.
	ProcPath string `yaml:"proc_path"`
	SysPath  string `yaml:"sys_path"`
	RootPath string `yaml:"root_path"`
}

// AgentPodMetrics configures pod and container metrics (package
// podmetrics).
type AgentPodMetrics struct {
	// Source is auto, kubelet, cgroup or off. auto is kubelet when
	// kubernetes metadata is on, else cgroup. Default: auto.
	Source string `yaml:"source"`
	// KubeletURL is the kubelet's base URL. Default: empty, meaning
	// https://$NODE_IP:10250 when NODE_IP is set, else
	// https://<node name>:10250.
	KubeletURL string `yaml:"kubelet_url"`
	// KubeletCAFile verifies the kubelet's serving certificate. Default:
	// empty, meaning the service account's CA
	// (/var/run/secrets/kubernetes.io/serviceaccount/ca.crt).
	KubeletCAFile string `yaml:"kubelet_ca_file"`
	// KubeletInsecureSkipVerify does not verify the kubelet's certificate
	// (kubelets with self-signed serving certificates). Default: false.
	KubeletInsecureSkipVerify bool `yaml:"kubelet_insecure_skip_verify"`
	// TokenFile is the bearer token sent to the kubelet. Default: empty,
	// meaning /var/run/secrets/kubernetes.io/serviceaccount/token.
	TokenFile string `yaml:"token_file"`
	// CgroupRoot is the cgroup mount read by the cgroup source.
	// Default: /sys/fs/cgroup.
	CgroupRoot string `yaml:"cgroup_root"`
}

// AgentClusterMetrics configures the elected cluster collector (package
// clustermetrics).
type AgentClusterMetrics struct {
	// Enabled is auto, true or false; auto is on when kubernetes metadata
	// is on. Default: auto.
	Enabled string `yaml:"enabled"`
	// LeaseNamespace holds the Lease. Default: empty, meaning
	// $POD_NAMESPACE, else kube-system.
	LeaseNamespace string `yaml:"lease_namespace"`
	// LeaseName names the Lease. Default: empty, meaning
	// kinsight-cluster-metrics (clustermetrics.DefaultLeaseName).
	LeaseName string `yaml:"lease_name"`
	// Identity is this agent's name in the Lease. Default: empty, meaning
	// $POD_NAME, else the node name.
	Identity string `yaml:"identity"`
}

// AgentScrape configures Prometheus scraping (package scrape).
type AgentScrape struct {
	// Enabled is auto, true or false; auto is on when kubernetes metadata
	// is on (discovery needs the API server). Default: auto.
	Enabled string `yaml:"enabled"`
	// Interval and Timeout apply where a monitor or annotation sets none;
	// timeout must not exceed interval. Defaults: 30s and 10s.
	Interval Duration `yaml:"interval"`
	Timeout  Duration `yaml:"timeout"`
	// SampleLimit caps the samples of one scrape (a monitor may lower
	// it); a scrape over it is rejected. Default: 50000.
	SampleLimit int `yaml:"sample_limit"`
}

// AgentRemoteWrite is one remote_write destination. At most one of sigv4,
// basic_auth and bearer_token(_file) may be set.
type AgentRemoteWrite struct {
	// URL is the remote write URL (http:// or https://).
	URL string `yaml:"url"`
	// SigV4 signs requests as Amazon Managed Prometheus (and kinsight
	// server) expect.
	SigV4 *AgentSigV4 `yaml:"sigv4"`
	// BasicAuth is HTTP basic authentication.
	BasicAuth *AgentBasicAuth `yaml:"basic_auth"`
	// BearerToken, or the file holding it (re-read at start only), is sent
	// as Authorization: Bearer.
	BearerToken     string `yaml:"bearer_token"`
	BearerTokenFile string `yaml:"bearer_token_file"`
	// Headers are added to every request.
	Headers map[string]string `yaml:"headers"`
}

// AgentSigV4 signs with a static key pair, or with the AWS credential
// chain when both keys are empty. (Prometheus's role_arn is not
// supported: the sender has no role assumption.)
type AgentSigV4 struct {
	// Region is signed into requests. Default: empty, meaning us-east-1.
	Region    string `yaml:"region"`
	AccessKey string `yaml:"access_key"`
	SecretKey string `yaml:"secret_key"`
}

// AgentBasicAuth is HTTP basic authentication; set password or
// password_file.
type AgentBasicAuth struct {
	Username     string `yaml:"username"`
	Password     string `yaml:"password"`
	PasswordFile string `yaml:"password_file"`
}

// DefaultAgentMetrics returns the metrics section's defaults.
func DefaultAgentMetrics() AgentMetrics {
	return AgentMetrics{
		Enabled:  true,
		Interval: Duration(30 * time.Second),
		Node:     AgentNodeMetrics{Enabled: true, ProcPath: "/proc", SysPath: "/sys", RootPath: "/"},
		Pods:     AgentPodMetrics{Source: "auto", CgroupRoot: "/sys/fs/cgroup"},
		Cluster:  AgentClusterMetrics{Enabled: "auto"},
		Scrape: AgentScrape{
			Enabled: "auto", Interval: Duration(30 * time.Second), Timeout: Duration(10 * time.Second),
			SampleLimit: 50000,
		},
	}
}

// validate checks the metrics section; key is its YAML path. The section
// is checked even when disabled, so turning it on later cannot surprise.
func (m *AgentMetrics) validate(key string) error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf(key+"."+format, args...))
	}
	if iv := time.Duration(m.Interval); iv < 10*time.Second || iv > time.Minute {
		bad("interval must be between 10s and 60s (got %s)", iv)
	}
	for name, p := range map[string]string{
		"node.proc_path": m.Node.ProcPath, "node.sys_path": m.Node.SysPath, "node.root_path": m.Node.RootPath,
		"pods.cgroup_root": m.Pods.CgroupRoot,
	} {
		if !filepath.IsAbs(p) {
			bad("%s must be an absolute path (got %q)", name, p)
		}
	}
	switch m.Pods.Source {
	case "auto", "kubelet", "cgroup", "off":
	default:
		bad("pods.source must be auto, kubelet, cgroup or off (got %q)", m.Pods.Source)
	}
	if m.Pods.KubeletURL != "" && !httpURL(m.Pods.KubeletURL) {
		bad("pods.kubelet_url must be an http:// or https:// URL (got %q)", m.Pods.KubeletURL)
	}
	if m.Pods.KubeletCAFile != "" && m.Pods.KubeletInsecureSkipVerify {
		bad("pods.kubelet_ca_file and pods.kubelet_insecure_skip_verify: set one, not both")
	}
	for name, v := range map[string]string{"cluster.enabled": m.Cluster.Enabled, "scrape.enabled": m.Scrape.Enabled} {
		switch v {
		case "auto", "true", "false":
		default:
			bad("%s must be auto, true or false (got %q)", name, v)
		}
	}
	si, st := time.Duration(m.Scrape.Interval), time.Duration(m.Scrape.Timeout)
	if si < time.Second || si > 10*time.Minute {
		bad("scrape.interval must be between 1s and 10m (got %s)", si)
	}
	if st <= 0 || st > si {
		bad("scrape.timeout must be positive and at most scrape.interval (got %s)", st)
	}
	if m.Scrape.SampleLimit <= 0 {
		bad("scrape.sample_limit must be positive (got %d)", m.Scrape.SampleLimit)
	}
	for i, rw := range m.RemoteWrite {
		rk := fmt.Sprintf("remote_write[%d]", i)
		if !httpURL(rw.URL) {
			bad("%s.url must be an http:// or https:// URL (got %q)", rk, rw.URL)
		}
		n := 0
		if rw.SigV4 != nil {
			n++
			if (rw.SigV4.AccessKey == "") != (rw.SigV4.SecretKey == "") {
				bad("%s.sigv4.access_key and secret_key: set both or neither (neither uses the AWS credential chain)", rk)
			}
		}
		if rw.BasicAuth != nil {
			n++
			if rw.BasicAuth.Username == "" {
				bad("%s.basic_auth.username must not be empty", rk)
			}
			if rw.BasicAuth.Password != "" && rw.BasicAuth.PasswordFile != "" {
				bad("%s.basic_auth.password and password_file: set one, not both", rk)
			}
		}
		if rw.BearerToken != "" || rw.BearerTokenFile != "" {
			n++
			if rw.BearerToken != "" && rw.BearerTokenFile != "" {
				bad("%s.bearer_token and bearer_token_file: set one, not both", rk)
			}
		}
		if n > 1 {
			bad("%s: set at most one of sigv4, basic_auth and bearer_token(_file)", rk)
		}
		for h := range rw.Headers {
			if h == "" || strings.ContainsAny(h, " :\r\n") || http.CanonicalHeaderKey(h) == "Authorization" {
				bad("%s.headers: %q is not a header name the sender may set", rk, h)
			}
		}
	}
	return errors.Join(errs...)
}

// httpURL reports whether s is an absolute http(s) URL with a host.
func httpURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

// ReadSecret returns value, or the trimmed contents of file when file is
// set; what is an error names key.
func ReadSecret(key, value, file string) (string, error) {
	if file == "" {
		return value, nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("%s: %w", key, err)
	}
	return strings.TrimSpace(string(b)), nil
}
