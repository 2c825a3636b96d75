package pipeline

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/kinsight/kinsight/internal/agent/buffer"
	"github.com/kinsight/kinsight/internal/agent/output/cloudwatch"
	"github.com/kinsight/kinsight/internal/agent/tail"
)

// Config is everything the pipeline needs. Zero durations mean their defaults.
type Config struct {
	// ClusterName fills {cluster} in the group templates.
	ClusterName string
	// HostName fills {host} and kubernetes.host.
	HostName string
	// DataDir holds the checkpoints and the disk buffer. Required.
	DataDir string
	// ContainerLogs are globs of kubelet's container log links.
	ContainerLogs []string
	// HostLogs are globs of host log files.
	HostLogs []string
	// Routes names the groups and streams.
	Routes Routes
	// Filter selects the container logs shipped.
	Filter Filter
	// Buffer bounds the delivery buffer (it lives in DataDir/buffer).
	Buffer buffer.Config
	// Output is where the logs go.
	Output cloudwatch.Config
	// PollInterval is the tailer's. Default 250ms.
	PollInterval time.Duration
	// BatchWait is how long a batch collects records before it is pushed.
	// Default 1s.
	BatchWait time.Duration
	// CheckpointInterval is how often checkpoints are written. Default 1s.
	CheckpointInterval time.Duration
	// DrainTimeout bounds delivery of what is buffered at shutdown.
	// Default 5s.
	DrainTimeout time.Duration
	// FS is the tailer's filesystem; nil means the OS.
	FS tail.FS
	// Logger may be nil.
	Logger *slog.Logger
	// Registerer receives every metric; nil means none.
	Registerer prometheus.Registerer
}

// Routes are the group and stream name templates. {cluster} and {host} are
// replaced everywhere; {file} (the log file's base name without ".log" for
// container logs, the base name for host logs) in stream templates.
type Routes struct {
	// ApplicationGroup receives container logs.
	// Default /aws/containerinsights/{cluster}/application.
	ApplicationGroup string
	// ApplicationStream default {file}.
	ApplicationStream string
	// HostGroup receives host logs. Default /aws/containerinsights/{cluster}/host.
	HostGroup string
	// HostStream default {host}.{file}.
	HostStream string
}

// DefaultRoutes are Container Insights' names.
func DefaultRoutes() Routes {
	return Routes{
		ApplicationGroup:  "/aws/containerinsights/{cluster}/application",
		ApplicationStream: "{file}",
		HostGroup:         "/aws/containerinsights/{cluster}/host",
		HostStream:        "{host}.{file}",
	}
}

// Filter selects container logs by namespace and container name. An empty
// include list includes everything; exclude wins over include.
type Filter struct {
	IncludeNamespaces []string
	ExcludeNamespaces []string
	IncludeContainers []string
	ExcludeContainers []string
}

func (c *Config) setDefaults() {
	d := DefaultRoutes()
	r := &c.Routes
	for _, p := range []struct {
		v *string
		d string
	}{
		{&r.ApplicationGroup, d.ApplicationGroup}, {&r.ApplicationStream, d.ApplicationStream},
		{&r.HostGroup, d.HostGroup}, {&r.HostStream, d.HostStream},
	} {
		if *p.v == "" {
			*p.v = p.d
		}
	}
	if c.PollInterval <= 0 {
		c.PollInterval = 250 * time.Millisecond
	}
	if c.BatchWait <= 0 {
		c.BatchWait = time.Second
	}
	if c.CheckpointInterval <= 0 {
		c.CheckpointInterval = time.Second
	}
	if c.DrainTimeout <= 0 {
		c.DrainTimeout = 5 * time.Second
	}
	if c.FS == nil {
		c.FS = tail.OSFS{}
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

func (c *Config) validate() error {
	var errs []error
	if c.DataDir == "" {
		errs = append(errs, errors.New("pipeline: DataDir is required"))
	}
	if len(c.ContainerLogs)+len(c.HostLogs) == 0 {
		errs = append(errs, errors.New("pipeline: no ContainerLogs or HostLogs globs"))
	}
	if c.ClusterName == "" {
		errs = append(errs, errors.New("pipeline: ClusterName is required"))
	}
	if c.HostName == "" {
		errs = append(errs, errors.New("pipeline: HostName is required"))
	}
	if err := c.Output.Validate("output"); err != nil {
		errs = append(errs, fmt.Errorf("pipeline: %w", err))
	}
	return errors.Join(errs...)
}
