package cli

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/kinsight/kinsight/internal/agent/clustermetrics"
	"github.com/kinsight/kinsight/internal/agent/nodemetrics"
	"github.com/kinsight/kinsight/internal/agent/podmetrics"
	"github.com/kinsight/kinsight/internal/agent/servicemap"
	"github.com/kinsight/kinsight/internal/config"
	"github.com/kinsight/kinsight/internal/metricstore/agentmetrics"
	"github.com/kinsight/kinsight/internal/metricstore/agentwal"
	"github.com/kinsight/kinsight/internal/metricstore/scrape"
)

// metricsJob is the job label of the agent's node series.
const metricsJob = "kinsight-agent"

// metricsSetup is what newMetrics resolved, for the startup log line.
type metricsSetup struct {
	endpoints []string
	sources   []string
	// services names pods' Services for the pod metrics; the agent runs it
	// beside the metric side. Nil without Kubernetes.
	services *servicemap.Map
}

// newMetrics builds the agent's metric side from a.Metrics, or returns
// nil when it is off (disabled, or no remote_write destination). A source
// that cannot be built (no kubelet CA, no kubeconfig) is logged and left
// out: it must not stop the log side or the other sources. The WAL is
// opened here; its error is returned, as a bad data directory is.
func newMetrics(env *Env, a config.Agent, dataDir, node string, kubeOn bool, log *slog.Logger, reg prometheus.Registerer) (*agentmetrics.Runner, *agentwal.Store, *metricsSetup, error) {
	m := a.Metrics
	if !m.Enabled {
		return nil, nil, nil, nil
	}
	base := log
	log = base.With("component", "metrics")
	eps, err := remoteWriteEndpoints(a)
	if err != nil {
		return nil, nil, nil, err
	}
	if len(eps) == 0 {
		log.Warn("metrics: no remote_write destination (agent.metrics.remote_write is empty and output is not a kinsight server); the metric side is off")
		return nil, nil, nil, nil
	}
	setup := &metricsSetup{}
	for _, ep := range eps {
		setup.endpoints = append(setup.endpoints, ep.URL)
	}
	opts := agentmetrics.Options{Interval: time.Duration(m.Interval), Registerer: reg, Logger: log}
	if m.Node.Enabled {
		c, err := nodemetrics.New(nodemetrics.Options{ProcPath: m.Node.ProcPath, SysPath: m.Node.SysPath, RootPath: m.Node.RootPath, Logger: log})
		if err != nil {
			log.Error("metrics: node metrics off", "err", err)
		} else {
			opts.Node = c
			opts.NodeLabels = []agentwal.Label{{Name: "instance", Value: node}, {Name: "job", Value: metricsJob}}
			setup.sources = append(setup.sources, "node")
		}
	}
	source := m.Pods.Source
	if source == "auto" {
		source = "cgroup"
		if kubeOn {
			source = "kubelet"
		}
	}
	var rc *rest.Config
	if kubeOn {
		if rc, err = kubeRESTConfig(a.Kubernetes.Kubeconfig); err != nil {
			log.Error("metrics: cluster metrics, scraping and the instance id off", "err", err)
		}
	}
	if source != "off" {
		po := podmetrics.Options{ClusterName: a.ClusterName, NodeName: node, CgroupRoot: m.Pods.CgroupRoot, ProcRoot: m.Node.ProcPath, Logger: log}
		if rc != nil {
			po.InstanceID = instanceID(rc, node, log)
			if cs, err := kubernetes.NewForConfig(rc); err != nil {
				log.Error("metrics: the Service label of pod metrics off", "err", err)
			} else {
				setup.services = servicemap.New(cs, node)
				po.Service = setup.services.Service
			}
		}
		if source == "kubelet" {
			u := m.Pods.KubeletURL
			if u == "" {
				host := env.Getenv("NODE_IP")
				if host == "" {
					host = node
				}
				u = "https://" + net.JoinHostPort(host, "10250")
			}
			po.Kubelet = &podmetrics.KubeletOptions{URL: u, TokenFile: m.Pods.TokenFile, CAFile: m.Pods.KubeletCAFile, InsecureSkipVerify: m.Pods.KubeletInsecureSkipVerify}
		}
		c, err := podmetrics.New(po)
		if err != nil {
			log.Error("metrics: pod metrics off", "source", source, "err", err)
		} else {
			opts.Pods = c
			setup.sources = append(setup.sources, "pods:"+source)
		}
	}
	cluster, scraping := resolveAuto(m.Cluster.Enabled, kubeOn), resolveAuto(m.Scrape.Enabled, kubeOn)
	if (cluster || scraping) && rc == nil && !kubeOn {
		// Turned on explicitly without Kubernetes metadata.
		if rc, err = kubeRESTConfig(a.Kubernetes.Kubeconfig); err != nil {
			log.Error("metrics: cluster metrics and scraping off", "err", err)
		}
	}
	if rc == nil {
		cluster, scraping = false, false
	}
	if cluster || scraping {
		if cluster {
			if e, err := newElector(env, a, node, rc, base); err != nil {
				log.Error("metrics: cluster metrics off", "err", err)
			} else {
				opts.Cluster = e
				setup.sources = append(setup.sources, "cluster")
			}
		}
		if scraping {
			so := scrape.DefaultOptions()
			so.Kube, so.NodeName, so.Logger, so.Registerer = rc, node, base.With("component", "scrape"), reg
			so.DefaultInterval, so.DefaultTimeout = time.Duration(m.Scrape.Interval), time.Duration(m.Scrape.Timeout)
			so.Limits.SampleLimit = uint64(m.Scrape.SampleLimit)
			opts.Scrape = &so
			setup.sources = append(setup.sources, "scrape")
		}
	}
	if opts.Node == nil && opts.Pods == nil && opts.Cluster == nil && opts.Scrape == nil {
		log.Warn("metrics: no metric source is on; the metric side is off")
		return nil, nil, nil, nil
	}
	walDir := m.WALDir
	if walDir == "" {
		walDir = filepath.Join(dataDir, "metrics")
	}
	store, err := agentwal.Open(agentwal.Options{Dir: walDir, Endpoints: eps, Logger: base.With("component", "remote-write"), Registerer: reg})
	if err != nil {
		return nil, nil, nil, fmt.Errorf("agent.metrics.wal_dir: %w", err)
	}
	opts.Store = store
	r, err := agentmetrics.New(opts)
	if err != nil {
		_ = store.Close()
		return nil, nil, nil, err
	}
	return r, store, setup, nil
}

// remoteWriteEndpoints are agent.metrics.remote_write, or the one derived
// from output when it ships to a kinsight server.
func remoteWriteEndpoints(a config.Agent) ([]agentwal.Endpoint, error) {
	var eps []agentwal.Endpoint
	for i, rw := range a.Metrics.RemoteWrite {
		key := fmt.Sprintf("agent.metrics.remote_write[%d]", i)
		ep := agentwal.Endpoint{URL: rw.URL, Headers: rw.Headers}
		if s := rw.SigV4; s != nil {
			region := s.Region
			if region == "" {
				region = "us-east-1"
			}
			ep.SigV4 = &agentwal.SigV4{Region: region, AccessKey: s.AccessKey, SecretKey: s.SecretKey}
		}
		if b := rw.BasicAuth; b != nil {
			pw, err := config.ReadSecret(key+".basic_auth.password_file", b.Password, b.PasswordFile)
			if err != nil {
				return nil, err
			}
			ep.BasicAuth = &agentwal.BasicAuth{Username: b.Username, Password: pw}
		}
		tok, err := config.ReadSecret(key+".bearer_token_file", rw.BearerToken, rw.BearerTokenFile)
		if err != nil {
			return nil, err
		}
		ep.BearerToken = tok
		eps = append(eps, ep)
	}
	if len(eps) > 0 || a.Output.Type != "cloudwatch" || a.Output.Endpoint == "" {
		return eps, nil
	}
	// A kinsight server: its remote write endpoint, signed like the logs.
	secret, err := a.Output.Secret()
	if err != nil {
		return nil, err
	}
	region := a.Output.Region
	if region == "" {
		region = "us-east-1"
	}
	return []agentwal.Endpoint{{
		Name:  "kinsight",
		URL:   strings.TrimRight(a.Output.Endpoint, "/") + "/api/v1/write",
		SigV4: &agentwal.SigV4{Region: region, AccessKey: a.Output.AccessKeyID, SecretKey: secret},
	}}, nil
}

// newElector builds the cluster metrics elector.
func newElector(env *Env, a config.Agent, node string, rc *rest.Config, log *slog.Logger) (*clustermetrics.Elector, error) {
	c := a.Metrics.Cluster
	ns := firstNonEmpty(c.LeaseNamespace, env.Getenv("POD_NAMESPACE"), "kube-system")
	id := firstNonEmpty(c.Identity, env.Getenv("POD_NAME"), node)
	cs, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return nil, fmt.Errorf("kubernetes client: %w", err)
	}
	return clustermetrics.New(clustermetrics.Options{
		Client: cs, ClusterName: a.ClusterName, LeaseNamespace: ns, LeaseName: c.LeaseName,
		Identity: id, Logger: log.With("component", "cluster"),
	})
}

// instanceID is the cloud instance id of node for the InstanceId label:
// the last element of an AWS providerID (aws:///<zone>/i-0123…), as
// Container Insights reports it; "" elsewhere or when the node cannot be
// read (logged: the metrics go out without the label).
func instanceID(rc *rest.Config, node string, log *slog.Logger) string {
	cs, err := kubernetes.NewForConfig(rc)
	if err != nil {
		log.Warn("metrics: no InstanceId label", "err", err)
		return ""
	}
	// Short: the log side waits for this at start.
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	// A list by name: the agent's role may list nodes, not get them.
	nodes, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{FieldSelector: "metadata.name=" + node})
	if err != nil || len(nodes.Items) != 1 {
		log.Warn("metrics: node not readable; no InstanceId label", "node", node, "err", err)
		return ""
	}
	id, ok := strings.CutPrefix(nodes.Items[0].Spec.ProviderID, "aws://")
	if !ok {
		return ""
	}
	return id[strings.LastIndexByte(id, '/')+1:]
}

// kubeRESTConfig is the API server configuration of kubeconfig, or the
// pod's service account when it is empty.
func kubeRESTConfig(kubeconfig string) (*rest.Config, error) {
	if kubeconfig == "" {
		rc, err := rest.InClusterConfig()
		if err != nil {
			return nil, fmt.Errorf("kubernetes client configuration: %w", err)
		}
		return rc, nil
	}
	rc, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return nil, fmt.Errorf("agent.kubernetes.kubeconfig: %w", err)
	}
	return rc, nil
}

// resolveAuto reads an auto|true|false setting; auto follows kubeOn.
func resolveAuto(v string, kubeOn bool) bool {
	switch v {
	case "true":
		return true
	case "false":
		return false
	}
	return kubeOn
}
