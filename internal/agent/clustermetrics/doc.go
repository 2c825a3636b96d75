// Package clustermetrics gives the agent Container Insights' cluster-level
// metrics (cluster_node_count, cluster_failed_node_count,
// namespace_number_of_running_pods, service_number_of_running_pods,
// deployment_* and daemonset_* replica counts, running pods per workload)
// from exactly one agent of the DaemonSet, elected through a
// coordination.k8s.io Lease.
//
// Use:
//
//	e, err := clustermetrics.New(clustermetrics.Options{Client: cs, ClusterName: "prod",
//		LeaseNamespace: "kinsight", Identity: nodeName})
//	reg.MustRegister(e)     // a prometheus.Collector; empty unless leading
//	go e.Run(ctx)           // campaigns until ctx ends
//
// Design and guarantees:
//
//   - Every agent runs an Elector; client-go's leaderelection with a
//     LeaseLock picks one holder (defaults: lease 15 s, renew deadline 10 s,
//     retry 2 s, as kube-controller-manager). Per-node agents all carry the
//     same informer code, but only the leader starts it: a cluster-wide pod
//     watch per node would cost the API server N times the memory and
//     bandwidth for the same answer.
//   - On winning the lease the leader starts one shared informer factory
//     (nodes, pods of all namespaces, discovery.k8s.io/v1 EndpointSlices,
//     Deployments, ReplicaSets, DaemonSets, StatefulSets): one LIST each,
//     then WATCH only (no resync). Objects are stripped by a transform
//     before they reach the cache (a pod keeps its name, owner references
//     and phase), so a leader's memory is proportional to the object count,
//     not to the objects' specs. Metrics appear only after every cache has
//     synced, so a new leader never reports a partial count.
//   - On losing the lease (renewal failed within the renew deadline, or ctx
//     ended) the collector yields nothing at once and the informers are
//     shut down before Run campaigns again; another agent takes over when
//     the lease expires. A graceful stop (ctx cancelled) releases the lease
//     so the next leader need not wait for it to expire. A leader that
//     cannot reach the API server stops reporting after the renew deadline,
//     before another can acquire the lease after the lease duration, so two
//     agents report the same cluster at once only across clock skew.
//   - Counts are computed from the caches at scrape time (O(objects) per
//     scrape, no API request). Series for every known namespace with pods,
//     Service with EndpointSlices, Deployment, DaemonSet and StatefulSet
//     are emitted, 0 included, so alarms see 0 rather than missing data.
//   - Labels are AWS's dimension names: ClusterName on every series,
//     Namespace, Service, and PodName carrying the workload's name for
//     workload series, as Container Insights does.
package clustermetrics
