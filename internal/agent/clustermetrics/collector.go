package clustermetrics

import (
	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

var _ prometheus.Collector = (*Elector)(nil)

// Label names: AWS Container Insights' dimension names.
const (
	lCluster   = "ClusterName"
	lNamespace = "Namespace"
	lService   = "Service"
	lPodName   = "PodName" // a workload's name, as Container Insights uses it
	lKind      = "Kind"
)

// Workload kinds of workload_number_of_running_pods' Kind label.
const (
	kindDeployment  = "Deployment"
	kindDaemonSet   = "DaemonSet"
	kindstatefulSet = "StatefulSet"
)

// descs are the metric descriptions, built once per Elector.
type descs struct {
	nodes, failedNodes, clusterRunning                *prometheus.Desc
	namespaceRunning, serviceRunning, workloadRunning *prometheus.Desc
	deploySpec, deployReplicas                        *prometheus.Desc
	deployAvailable, deployUnavailable                *prometheus.Desc
	dsDesired, dsCurrent, dsAvailable, dsUnavailable  *prometheus.Desc
}

// newDescs builds the descriptions.
func newDescs() *descs {
	return &descs{
		nodes: prometheus.NewDesc("cluster_node_count",
			"Nodes in the cluster.", []string{lCluster}, nil),
		failedNodes: prometheus.NewDesc("cluster_failed_node_count",
			"Nodes whose Ready condition is not True (False, Unknown or missing).", []string{lCluster}, nil),
		clusterRunning: prometheus.NewDesc("cluster_number_of_running_pods",
			"Pods in phase Running in the cluster.", []string{lCluster}, nil),
		namespaceRunning: prometheus.NewDesc("namespace_number_of_running_pods",
			"Pods in phase Running per namespace (namespaces with at least one pod).", []string{lCluster, lNamespace}, nil),
		serviceRunning: prometheus.NewDesc("service_number_of_running_pods",
			"Distinct pods in phase Running referenced by the Service's EndpointSlices.", []string{lCluster, lNamespace, lService}, nil),
		workloadRunning: prometheus.NewDesc("workload_number_of_running_pods",
			"Pods in phase Running controlled by the workload (Deployment pods through their ReplicaSet).", []string{lCluster, lNamespace, lPodName, lKind}, nil),

		deploySpec: prometheus.NewDesc("deployment_spec_replicas",
			"Desired pods of the Deployment (spec.replicas, 1 when unset).", []string{lCluster, lNamespace, lPodName}, nil),
		deployReplicas: prometheus.NewDesc("deployment_status_replicas",
			"Non-terminated pods targeted by the Deployment (status.replicas).", []string{lCluster, lNamespace, lPodName}, nil),
		deployAvailable: prometheus.NewDesc("deployment_status_replicas_available",
			"Available pods of the Deployment (status.availableReplicas).", []string{lCluster, lNamespace, lPodName}, nil),
		deployUnavailable: prometheus.NewDesc("deployment_status_replicas_unavailable",
			"Unavailable pods of the Deployment (status.unavailableReplicas).", []string{lCluster, lNamespace, lPodName}, nil),

		dsDesired: prometheus.NewDesc("daemonset_status_desired_number_scheduled",
			"Nodes that should run the DaemonSet's pod (status.desiredNumberScheduled).", []string{lCluster, lNamespace, lPodName}, nil),
		dsCurrent: prometheus.NewDesc("daemonset_status_current_number_scheduled",
			"Nodes running the DaemonSet's pod that should (status.currentNumberScheduled).", []string{lCluster, lNamespace, lPodName}, nil),
		dsAvailable: prometheus.NewDesc("daemonset_status_number_available",
			"Nodes with an available pod of the DaemonSet (status.numberAvailable).", []string{lCluster, lNamespace, lPodName}, nil),
		dsUnavailable: prometheus.NewDesc("daemonset_status_number_unavailable",
			"Nodes that should run the DaemonSet's pod and have none available (status.numberUnavailable).", []string{lCluster, lNamespace, lPodName}, nil),
	}
}

// all lists every description, for Describe.
func (d *descs) all() []*prometheus.Desc {
	return []*prometheus.Desc{
		d.nodes, d.failedNodes, d.clusterRunning, d.namespaceRunning, d.serviceRunning, d.workloadRunning,
		d.deploySpec, d.deployReplicas, d.deployAvailable, d.deployUnavailable, d.dsDesired, d.dsCurrent, d.dsAvailable, d.dsUnavailable,
	}
}

// Describe implements prometheus.Collector.
func (e *Elector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range e.descs.all() {
		ch <- d
	}
}

// Collect implements prometheus.Collector: the cluster metrics while this
// agent leads and its caches have synced, nothing otherwise.
func (e *Elector) Collect(ch chan<- prometheus.Metric) {
	inf := e.current()
	if inf == nil {
		return
	}
	cluster := e.opts.ClusterName
	gauge := func(d *prometheus.Desc, v float64, lv ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, append([]string{cluster}, lv...)...)
	}

	// Lister errors only come from a malformed selector; Everything is not.
	nodes, _ := inf.nodes.List(labels.Everything())
	failed := 0
	for _, n := range nodes {
		if !nodeReady(n) {
			failed++
		}
	}
	gauge(e.descs.nodes, float64(len(nodes)))
	gauge(e.descs.failedNodes, float64(failed))

	pods, _ := inf.pods.List(labels.Everything())
	running := 0
	perNamespace := map[string]int{}
	type workloadKey struct{ kind, namespace, name string }
	perWorkload := map[workloadKey]int{}
	for _, p := range pods {
		if _, ok := perNamespace[p.Namespace]; !ok {
			perNamespace[p.Namespace] = 0
		}
		if p.Status.Phase != corev1.PodRunning {
			continue
		}
		running++
		perNamespace[p.Namespace]++
		if kind, name := inf.workloadOf(p); kind != "" {
			perWorkload[workloadKey{kind, p.Namespace, name}]++
		}
	}
	gauge(e.descs.clusterRunning, float64(running))
	for ns, n := range perNamespace {
		gauge(e.descs.namespaceRunning, float64(n), ns)
	}

	for key, n := range inf.servicePods() {
		gauge(e.descs.serviceRunning, float64(n), key.namespace, key.name)
	}

	deployments, _ := inf.deployments.List(labels.Everything())
	for _, d := range deployments {
		spec := int32(1) // the API server's default when spec.replicas is unset
		if d.Spec.Replicas != nil {
			spec = *d.Spec.Replicas
		}
		gauge(e.descs.deploySpec, float64(spec), d.Namespace, d.Name)
		gauge(e.descs.deployReplicas, float64(d.Status.Replicas), d.Namespace, d.Name)
		gauge(e.descs.deployAvailable, float64(d.Status.AvailableReplicas), d.Namespace, d.Name)
		gauge(e.descs.deployUnavailable, float64(d.Status.UnavailableReplicas), d.Namespace, d.Name)
		gauge(e.descs.workloadRunning, float64(perWorkload[workloadKey{kindDeployment, d.Namespace, d.Name}]), d.Namespace, d.Name, kindDeployment)
	}
	daemonSets, _ := inf.daemonSets.List(labels.Everything())
	for _, d := range daemonSets {
		gauge(e.descs.dsDesired, float64(d.Status.DesiredNumberScheduled), d.Namespace, d.Name)
		gauge(e.descs.dsCurrent, float64(d.Status.CurrentNumberScheduled), d.Namespace, d.Name)
		gauge(e.descs.dsAvailable, float64(d.Status.NumberAvailable), d.Namespace, d.Name)
		gauge(e.descs.dsUnavailable, float64(d.Status.NumberUnavailable), d.Namespace, d.Name)
		gauge(e.descs.workloadRunning, float64(perWorkload[workloadKey{kindDaemonSet, d.Namespace, d.Name}]), d.Namespace, d.Name, kindDaemonSet)
	}
	statefulSets, _ := inf.statefulSets.List(labels.Everything())
	for _, s := range statefulSets {
		gauge(e.descs.workloadRunning, float64(perWorkload[workloadKey{kindstatefulSet, s.Namespace, s.Name}]), s.Namespace, s.Name, kindstatefulSet)
	}
}

// nodeReady reports whether the node's Ready condition is True. A node
// without one has never reported and counts as failed.
func nodeReady(n *corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// workloadOf resolves a pod's controlling workload: a DaemonSet or
// StatefulSet directly, a Deployment through the controlling ReplicaSet.
// It returns "" for pods without one (bare pods, Jobs, a ReplicaSet of no
// Deployment, a ReplicaSet not in the cache yet).
func (inf *caches) workloadOf(p *corev1.Pod) (kind, name string) {
	ref := metav1.GetControllerOf(p)
	if ref == nil {
		return "", ""
	}
	switch ref.Kind {
	case kindDaemonSet, kindstatefulSet:
		return ref.Kind, ref.Name
	case "ReplicaSet":
		rs, err := inf.replicaSets.ReplicaSets(p.Namespace).Get(ref.Name)
		if err != nil || rs.UID != ref.UID {
			return "", ""
		}
		if owner := metav1.GetControllerOf(rs); owner != nil && owner.Kind == kindDeployment {
			return kindDeployment, owner.Name
		}
	}
	return "", ""
}

// serviceKey names a namespaced object: a Service, or a pod of one.
type serviceKey struct{ namespace, name string }

// servicePods counts, per Service with at least one EndpointSlice, the
// distinct Running pods its slices point at. A pod is counted once however
// many slices (address families, ports) or endpoints reference it.
func (inf *caches) servicePods() map[serviceKey]int {
	slices, _ := inf.slices.List(labels.Everything())
	members := map[serviceKey]map[serviceKey]bool{} // Service → its pods

	for _, s := range slices {
		svc, ok := s.Labels[discoveryv1.LabelServiceName]
		if !ok {
			continue // not managed for a Service (a custom slice)
		}
		key := serviceKey{s.Namespace, svc}
		set := members[key]
		if set == nil {
			set = map[serviceKey]bool{}
			members[key] = set
		}
		for _, ep := range s.Endpoints {
			ref := ep.TargetRef
			if ref == nil || ref.Kind != "Pod" {
				continue
			}
			ns := ref.Namespace
			if ns == "" {
				ns = s.Namespace
			}
			set[serviceKey{ns, ref.Name}] = true
		}
	}
	out := make(map[serviceKey]int, len(members))
	for key, set := range members {
		n := 0
		for pod := range set {
			if p, err := inf.pods.Pods(pod.namespace).Get(pod.name); err == nil && p.Status.Phase == corev1.PodRunning {
				n++
			}
		}
		out[key] = n
	}
	return out
}
