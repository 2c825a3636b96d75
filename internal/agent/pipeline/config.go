package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/kinsight/kinsight/internal/agent/buffer"
	"github.com/kinsight/kinsight/internal/agent/cri"
	"github.com/kinsight/kinsight/internal/agent/journal"
	"github.com/kinsight/kinsight/internal/agent/kube"
	"github.com/kinsight/kinsight/internal/agent/output/cloudwatch"
	"github.com/kinsight/kinsight/internal/agent/tail"
)

// Sender delivers events of one stream, in chronological order; nil means
// every event was acknowledged. *cloudwatch.Output is the real one;
// a *cloudwatch.SendError tells how many leading events got through.
type Sender interface {
	Send(ctx context.Context, group, stream string, events []cloudwatch.Event) error
}

// Pods looks pod metadata up by UID or by namespace and name;
// *kube.Watcher is one.
type Pods interface {
	Pod(namespace, name string) (*kube.Pod, bool)
	PodByUID(uid string) (*kube.Pod, bool)
}

// Journal is the dataplane journal input; *journal.Reader is one.
type Journal interface {
	Run(ctx context.Context, out chan<- journal.Entry) error
	Ack(cursor string)
	Flush() error
}

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
	// Output is where the logs go, unless Sender is set.
	Output cloudwatch.Config
	// Sender, when set, replaces the CloudWatch output (stdout, file).
	Sender Sender
	// Pods adds Kubernetes metadata to container records; nil means what
	// the file name tells only.
	Pods Pods
	// PodWait is how long records of a pod Pods does not know yet are held
	// before they go out with the file name's metadata. Default 2s.
	PodWait time.Duration
	// PodLabels and PodAnnotations add the pod's labels and annotations.
	PodLabels, PodAnnotations bool
	// MergeLog parses container messages that are JSON objects into the
	// record (Fluent Bit's Merge_Log), under MergeLogKey or, when that is
	// empty, at the top level.
	MergeLog    bool
	MergeLogKey string
	// Multiline joins container records spanning lines; nil turns it off.
	Multiline *cri.Multiline
	// Journal, when set, ships journal entries to the dataplane group.
	Journal Journal
	// Senders is how many requests are in flight at once (one stream's
	// batches always one after the other). Default 16: to AWS a node
	// sends one PutLogEvents per busy stream per BatchWait (200 a second
	// for 200 containers), and at ~100 ms a request that needs about 20 in
	// flight; to a kinsight server the batches of many streams share a
	// request (PutLogEventsBatch), so few senders are busy at a time.
	// Each busy sender holds a request body (32 senders added ~20 MB to
	// the catch-up's peak RSS before batch requests).
	Senders int
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
	// DataplaneGroup receives journal entries and the dataplane pods'
	// container logs. Default /aws/containerinsights/{cluster}/dataplane.
	DataplaneGroup string
	// DataplaneStream default {host}.{file}, {file} being the unit for
	// journal entries.
	DataplaneStream string
}

// DefaultRoutes are Container Insights' names.
func DefaultRoutes() Routes {
	return Routes{
		ApplicationGroup:  "/aws/containerinsights/{cluster}/application",
		ApplicationStream: "{file}",
		HostGroup:         "/aws/containerinsights/{cluster}/host",
		HostStream:        "{host}.{file}",
		DataplaneGroup:    "/aws/containerinsights/{cluster}/dataplane",
		DataplaneStream:   "{host}.{file}",
	}
}

// Filter selects container logs by namespace, container name and pod
// labels. An empty include list includes everything; exclude wins over
// include. Label selectors need Pods; a pod still unknown after PodWait
// matches no include selector and no exclude selector.
type Filter struct {
	IncludeNamespaces []string
	ExcludeNamespaces []string
	IncludeContainers []string
	ExcludeContainers []string
	// IncludePodLabels and ExcludePodLabels are label selectors; nil or
	// empty selects nothing to filter.
	IncludePodLabels labels.Selector
	ExcludePodLabels labels.Selector
	// DataplanePods are kube-system pod name prefixes whose container logs
	// go to the dataplane group instead of the application group.
	DataplanePods []string
}

// inFlightPerSender sizes the buffer's MaxInFlight: items taken out of the
// buffer wait behind their own stream's delivery only, so enough must be
// out that every worker finds a stream that is not busy (a node has one
// batch per busy stream per BatchWait, hundreds a second). The buffer's
// memory budget counts them all the same.
const inFlightPerSender = 8

func (c *Config) setDefaults() {
	d := DefaultRoutes()
	r := &c.Routes
	for _, p := range []struct {
		v *string
		d string
	}{
		{&r.ApplicationGroup, d.ApplicationGroup}, {&r.ApplicationStream, d.ApplicationStream},
		{&r.HostGroup, d.HostGroup}, {&r.HostStream, d.HostStream},
		{&r.DataplaneGroup, d.DataplaneGroup}, {&r.DataplaneStream, d.DataplaneStream},
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
	if c.Senders <= 0 {
		c.Senders = 16
	}
	if c.Buffer.MaxInFlight < inFlightPerSender*c.Senders {
		c.Buffer.MaxInFlight = inFlightPerSender * c.Senders
	}
	if c.PodWait <= 0 {
		c.PodWait = 2 * time.Second
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
	if len(c.ContainerLogs)+len(c.HostLogs) == 0 && c.Journal == nil {
		errs = append(errs, errors.New("pipeline: no ContainerLogs or HostLogs globs and no Journal"))
	}
	if c.ClusterName == "" {
		errs = append(errs, errors.New("pipeline: ClusterName is required"))
	}
	if c.HostName == "" {
		errs = append(errs, errors.New("pipeline: HostName is required"))
	}
	if c.Multiline != nil {
		if err := (cri.Options{Multiline: c.Multiline}).Validate(); err != nil {
			errs = append(errs, fmt.Errorf("pipeline: %w", err))
		}
	}
	if c.Sender != nil {
		return errors.Join(errs...)
	}
	if err := c.Output.Validate("output"); err != nil {
		errs = append(errs, fmt.Errorf("pipeline: %w", err))
	}
	return errors.Join(errs...)
}
