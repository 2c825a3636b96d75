// Package podmetrics gives the agent pod and container metrics: CPU, memory
// (working set, RSS, usage, requests and limits), network, filesystem,
// restarts and container states, under the Container Insights names and
// formulas of AWS (node_cpu_utilization, pod_memory_utilization_over_pod_limit
// …, see docs/metrics.md) beside cAdvisor-like raw series
// (container_cpu_usage_seconds_total …).
//
// Use:
//
//	c, err := podmetrics.New(podmetrics.Options{ClusterName: "prod", Kubelet: &podmetrics.KubeletOptions{URL: "https://10.0.0.7:10250"}})
//	reg.MustRegister(c)    // a prometheus.Collector
//	go c.Run(ctx, 15*time.Second)  // or call c.Observe(ctx) on your own ticker
//
// Design and guarantees:
//
//   - Two sources, one per Collector. With Options.Kubelet the kubelet's
//     GET /stats/summary (decoded with k8s.io/kubelet's stats/v1alpha1 types)
//     and GET /pods are read with the service-account token (re-read before
//     every request: projected tokens rotate) over TLS checked against the
//     cluster CA, or InsecureSkipVerify when asked for explicitly. Without a
//     kubelet the cgroup tree is read: v2 (cpu.stat usage_usec,
//     memory.current, memory.stat anon and inactive_file, memory.max) or v1
//     (cpuacct.usage, memory.usage_in_bytes, memory.stat total_rss and
//     total_inactive_file, memory.limit_in_bytes), under the systemd
//     driver's kubepods.slice/…/kubepods-<qos>-pod<uid>.slice/<runtime>-<id>.scope
//     names or cgroupfs's kubepods/<qos>/pod<uid>/<id>. Working set is
//     usage − inactive_file, clamped at 0, as the kubelet computes it.
//     The source never changes mid-life, since rates compare two
//     observations of the same things.
//   - Rates (CPU millicores, network bytes per second) come from the last
//     two observations: Observe keeps the previous snapshot per pod and
//     container, and a counter that went back (a restarted container) or a
//     changed container start time gives no value rather than a negative or
//     a spike. The first observation therefore has no rates. With the
//     kubelet the intervals are its own read times (cpu.time, network.time):
//     a cached sample served twice gives the kubelet's usageNanoCores for
//     CPU and no network rate, rather than a false 0.
//   - A value that cannot be computed is absent, never 0: no pod limit means
//     no pod_cpu_utilization_over_pod_limit (AWS's rule), no previous
//     snapshot means no usage. Status metrics are all emitted, 0 included,
//     so alarms on CrashLoopBackOff see 0 rather than missing data.
//   - Bounded: every kubelet request has a timeout and a body-size limit,
//     cgroup files are read up to 64 KiB. Failures are counted
//     (kinsight_agent_podmetrics_errors_total{source,reason}) and returned by
//     Observe, never fatal; after a failed stats read no pod metrics are
//     exposed until a read succeeds, so an outage shows as missing data,
//     not as frozen values. A failed pod list only drops what needs it.
//   - The Prometheus side only copies the last computed Result into constant
//     metrics: a scrape never reads the kubelet or the cgroup tree. Two pods
//     of one namespace and name in one observation give one series (the
//     first), so a duplicate never fails the scrape. The series of one pod,
//     container or interface share one set of label pairs per scrape (built
//     once, never modified) rather than a copy per series as client_golang's
//     constant metrics make (BenchmarkObserveAndScrape, 10,000 series:
//     281k → 66k allocations a cycle).
//   - GET /pods is decoded into types naming only the fields the metrics
//     read (FuzzParsePodList checks it against the API's own types), so a
//     pod's managed fields, env and volumes are skipped, not built.
//   - The Service label is a hook (Options.Service); left unset it is empty,
//     which Prometheus treats as absent.
package podmetrics
