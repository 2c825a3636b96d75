package config

import (
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
)

// Agent configures `kinsight agent` (and the agent half of `kinsight up`):
// which log files it follows and where it ships them.
type Agent struct {
	// ClusterName fills {cluster} in log group names. Default: kinsight.
	ClusterName string `yaml:"cluster_name"`
	// HostName fills {host} in host log stream names and kubernetes.host.
	// Default: empty, meaning the machine's host name (os.Hostname).
	HostName string `yaml:"host_name"`
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
	// Routes are the log group and stream name templates.
	Routes AgentRoutes `yaml:"routes"`
	// Buffer bounds the delivery buffer.
	Buffer AgentBuffer `yaml:"buffer"`
	// Output is the CloudWatch Logs endpoint (a kinsight server or AWS).
	Output AgentOutput `yaml:"output"`
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
}

// AgentBuffer bounds the agent's delivery buffer.
type AgentBuffer struct {
	// MemoryBytes is held in memory before spilling to disk. Default: 16MiB.
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
	// Compression is auto, gzip, zstd or none. Default: auto.
	Compression string `yaml:"compression"`
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
		ContainerLogs: "/var/log/containers/*.log",
		HostLogs:      DefaultHostLogs(),
		Routes: AgentRoutes{
			ApplicationGroup:  "/aws/containerinsights/{cluster}/application",
			ApplicationStream: "{file}",
			HostGroup:         "/aws/containerinsights/{cluster}/host",
			HostStream:        "{host}.{file}",
		},
		Buffer: AgentBuffer{MemoryBytes: 16 << 20, DiskBytes: 1 << 30},
		Output: AgentOutput{Compression: "auto"},
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
	} {
		if v == "" {
			bad("%s must not be empty", name)
		}
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
	if (o.AccessKeyID == "") != (o.SecretAccessKey == "") {
		bad("output.access_key_id and output.secret_access_key: set both or neither")
	}
	switch o.Compression {
	case "auto", "gzip", "zstd", "none":
	default:
		bad("output.compression must be auto, gzip, zstd or none (got %q)", o.Compression)
	}
	return errors.Join(errs...)
}
