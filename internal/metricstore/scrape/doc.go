// Package scrape is the agent's Prometheus scraper: Prometheus's own
// Kubernetes service discovery, relabelling and scrape manager, configured
// from pod and service annotations and from the Prometheus Operator's
// PodMonitor and ServiceMonitor resources, appending into any
// storage.Appendable (the agent's WAL).
//
// # Node scoping
//
// Every agent scrapes only its own node. Pod discovery (role pod) carries
// the field selector spec.nodeName=<node>, so the API server sends each
// agent only its node's pods; service discovery (role endpointslice, which
// also watches pods with the same selector) keeps only endpoints whose
// nodeName is this node. A DaemonSet of agents therefore scrapes each
// target exactly once.
//
// # Jobs
//
//   - kubernetes-pods and kubernetes-service-endpoints: the annotation
//     jobs of Prometheus's example Kubernetes configuration, written as Go
//     values: prometheus.io/scrape "true" keeps a pod (or a service's
//     endpoints); prometheus.io/scheme, /path and /port set __scheme__,
//     __metrics_path__ and the address's port.
//   - podMonitor/<ns>/<name>/<i> and serviceMonitor/<ns>/<name>/<i>: one
//     job per monitor endpoint, named and relabelled as the Prometheus
//     Operator generates them (selector and namespaceSelector as keep
//     rules, port/portNumber/targetPort, namespace/pod/container/service
//     and job labels, jobLabel, podTargetLabels, targetLabels, then the
//     monitor's relabelings; metricRelabelings as metric_relabel_configs).
//     Endpoints that need Secrets (basicAuth, bearerTokenSecret,
//     authorization, oauth2, tlsConfig) are refused: the agent does not
//     read Secrets, and scraping without the credentials would only fail.
//
// The monitors are watched with informers on the dynamic client (the
// operator's typed module pins newer Kubernetes modules than kinsight's);
// changes are batched and applied by reloading both managers with the full
// set of jobs, as Prometheus reloads its configuration file. A monitor that
// does not translate or fails Prometheus's validation is left out, logged
// and counted in kinsight_agent_scrape_monitor_errors_total; the other jobs
// still apply. Without the CRDs installed, the annotation jobs still run;
// the scraper asks the API server's discovery once a minute and starts
// watching each monitor kind once its CRD is served.
//
// # Limits
//
// Every job carries the agent's scrape timeout, body size limit, sample
// limit and label limits (Options.Limits, DefaultOptions); a monitor may
// lower a limit but never raise it. A target that hangs is cut off at its
// timeout, one that answers garbage fails to parse, one that exceeds a
// limit has the whole scrape rejected: each gets up 0 for that scrape and
// is counted in Prometheus's prometheus_target_* metrics, and the other
// targets are unaffected. Every target gets Prometheus's synthetic series
// up, scrape_duration_seconds, scrape_samples_scraped,
// scrape_samples_post_metric_relabeling and scrape_series_added. The
// scrape manager negotiates Prometheus text and OpenMetrics formats.
package scrape
