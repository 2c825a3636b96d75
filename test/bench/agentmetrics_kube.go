package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	k8syaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/kubernetes"

	"github.com/kinsight/kinsight/internal/testkube"
)

// The agent-metrics benchmark's node: 110 pods (the kubelet's default
// max-pods) of 1–3 containers each on bench-node, registered in a real
// kube-apiserver so the agent's informer, its cluster elector and the
// kubelet stand-in all see the same objects.

// Names of the agent's service account, as in deploy/kinsight-agent.yaml.
const (
	agentNamespace = "kinsight"
	agentSAName    = "kinsight-agent"
)

// sidecars are the extra containers a pod may have, in order.
var sidecars = []struct{ name, image string }{
	{"istio-proxy", "docker.io/istio/proxyv2:1.24.2"},
	{"log-router", "public.ecr.aws/aws-observability/aws-for-fluent-bit:2.32.4"},
}

// metricsContainer is one container of a benchmark pod: its identity, its
// requests and limits, and the mean usage the kubelet stand-in reports.
type metricsContainer struct {
	Name, Image, ID string
	// Requests and limits; 0 = none (the pod then has no limit and
	// pod_*_over_pod_limit is absent, as AWS documents).
	ReqMilli, LimMilli int64
	ReqMem, LimMem     int64
	// CPUMilli is the container's mean CPU use, MemBytes its mean working
	// set; the stand-in varies both around these.
	CPUMilli float64
	MemBytes float64
	// log is the container's log file, in the agent benchmark's shape.
	log *benchPod
}

// metricsPod is one pod of the benchmark node.
type metricsPod struct {
	*benchPod
	Containers []*metricsContainer
}

// planMetricsPods names n pods (planPods' names and namespaces) and gives
// each 1–3 containers: the app, then istio-proxy, then log-router. Two pods
// in three have limits on every container; the third has none.
func planMetricsPods(seed uint64, n, linesPerContainer int) ([]*metricsPod, error) {
	base, err := planPods(seed, n, n)
	if err != nil {
		return nil, err
	}
	r := rand.New(rand.NewPCG(seed, 0x6d657472))
	out := make([]*metricsPod, n)
	for i, bp := range base {
		p := &metricsPod{benchPod: bp}
		for k := range 1 + r.IntN(3) {
			c := &metricsContainer{Name: bp.App, Image: bp.Image, ID: bp.ContainerID}
			if k > 0 {
				c.Name, c.Image = sidecars[k-1].name, sidecars[k-1].image
				c.ID = randString(r, "0123456789abcdef", 64)
			}
			c.CPUMilli = 5 + 200*r.Float64()
			c.MemBytes = float64(32<<20) + float64(r.IntN(400<<20))
			if i%3 != 2 {
				c.ReqMilli, c.LimMilli = 100, 1000
				c.ReqMem, c.LimMem = 128<<20, 1<<30
			}
			view := *bp
			view.App, view.ContainerID, view.Lines = c.Name, c.ID, linesPerContainer
			c.log = &view
			p.Containers = append(p.Containers, c)
		}
		out[i] = p
	}
	return out, nil
}

// logViews lists every container's log file (one benchPod per container).
func logViews(pods []*metricsPod) []*benchPod {
	var out []*benchPod
	for _, p := range pods {
		for _, c := range p.Containers {
			out = append(out, c.log)
		}
	}
	return out
}

// metricsKube is the control plane of the benchmark.
type metricsKube struct {
	cluster *testkube.Cluster
	stop    func()
	cs      kubernetes.Interface
	// token is the kinsight-agent service account's: deploy/'s RBAC.
	token string
	// addedKubeletRBAC says the harness had to grant get nodes/stats and
	// nodes/proxy itself because deploy/kinsight-agent.yaml does not.
	addedKubeletRBAC bool
	// pods is the API's view of the pods after their status update: what
	// the kubelet stand-in serves on /pods.
	pods []corev1.Pod
}

// startMetricsKube starts etcd and kube-apiserver, registers bench-node,
// creates the pods with running statuses (filling UIDs) and the agent's
// service account with deploy/kinsight-agent.yaml's roles.
func startMetricsKube(ctx context.Context, root string, pods []*metricsPod) (*metricsKube, error) {
	c, stop, err := testkube.StartMain()
	if err != nil {
		return nil, err
	}
	k := &metricsKube{cluster: c, stop: stop, cs: c.Clientset()}
	fail := func(err error) (*metricsKube, error) {
		stop()
		return nil, err
	}
	namespaces := map[string]bool{agentNamespace: true}
	for _, p := range pods {
		namespaces[p.Namespace] = true
	}
	for ns := range namespaces {
		_, err := k.cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
		if err != nil && !apierrors.IsAlreadyExists(err) {
			return fail(fmt.Errorf("create namespace %s: %w", ns, err))
		}
	}
	if err := createBenchNode(ctx, k.cs); err != nil {
		return fail(err)
	}
	if err := k.agentAccess(ctx, filepath.Join(root, "deploy", "kinsight-agent.yaml")); err != nil {
		return fail(err)
	}
	sem := make(chan struct{}, 8)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []error
	k.pods = make([]corev1.Pod, len(pods))
	for i, p := range pods {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			created, err := createMetricsPod(ctx, k.cs, i, p)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
				return
			}
			k.pods[i] = *created
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return fail(err)
	}
	return k, nil
}

// createBenchNode registers bench-node as Ready with 2 CPUs, 8 GiB and 110
// pods of capacity.
func createBenchNode(ctx context.Context, cs kubernetes.Interface) error {
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: benchNode, Labels: map[string]string{
		"kubernetes.io/hostname": benchNode, "kubernetes.io/os": "linux",
		"node.kubernetes.io/instance-type": "m5.large",
	}}}
	created, err := cs.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{})
	if err != nil {
		return fmt.Errorf("create node: %w", err)
	}
	capacity := corev1.ResourceList{
		corev1.ResourceCPU: resource.MustParse("2"), corev1.ResourceMemory: resource.MustParse("8Gi"),
		corev1.ResourcePods: resource.MustParse("110"),
	}
	created.Status.Capacity, created.Status.Allocatable = capacity, capacity
	created.Status.Addresses = []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "127.0.0.1"}, {Type: corev1.NodeHostName, Address: benchNode}}
	created.Status.Conditions = []corev1.NodeCondition{{
		Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady",
		LastHeartbeatTime: metav1.Now(), LastTransitionTime: metav1.Now(),
	}}
	if _, err := cs.CoreV1().Nodes().UpdateStatus(ctx, created, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("node status: %w", err)
	}
	return nil
}

// createMetricsPod creates p on bench-node, owned by its ReplicaSet, and
// sets running statuses whose container IDs are the log files'.
func createMetricsPod(ctx context.Context, cs kubernetes.Interface, i int, p *metricsPod) (*corev1.Pod, error) {
	created, err := cs.CoreV1().Pods(p.Namespace).Create(ctx, metricsPodObject(i, p), metav1.CreateOptions{})
	if err != nil {
		return nil, fmt.Errorf("create pod %s/%s: %w", p.Namespace, p.Name, err)
	}
	setRunning(created, i, p)
	updated, err := cs.CoreV1().Pods(p.Namespace).UpdateStatus(ctx, created, metav1.UpdateOptions{})
	if err != nil {
		return nil, fmt.Errorf("pod status %s/%s: %w", p.Namespace, p.Name, err)
	}
	p.setUID(string(updated.UID))
	return updated, nil
}

// setUID records the pod's UID in it and its containers' log views.
func (p *metricsPod) setUID(uid string) {
	p.UID = uid
	for _, c := range p.Containers {
		c.log.UID = uid
	}
}

// metricsPodObject is p's spec: its containers with their requests and
// limits, on bench-node, owned by a ReplicaSet.
func metricsPodObject(i int, p *metricsPod) *corev1.Pod {
	yes := true
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name: p.Name, Namespace: p.Namespace,
			Labels: map[string]string{"app": p.App, "pod-template-hash": p.RSHash},
			OwnerReferences: []metav1.OwnerReference{{
				APIVersion: "apps/v1", Kind: "ReplicaSet", Name: p.App + "-" + p.RSHash,
				UID: types.UID(fmt.Sprintf("00000000-0000-4000-8000-%012d", i)), Controller: &yes,
			}},
		},
		Spec: corev1.PodSpec{NodeName: benchNode},
	}
	for _, c := range p.Containers {
		ct := corev1.Container{Name: c.Name, Image: c.Image}
		if c.LimMilli > 0 {
			ct.Resources = corev1.ResourceRequirements{
				Requests: corev1.ResourceList{corev1.ResourceCPU: *resource.NewMilliQuantity(c.ReqMilli, resource.DecimalSI), corev1.ResourceMemory: *resource.NewQuantity(c.ReqMem, resource.BinarySI)},
				Limits:   corev1.ResourceList{corev1.ResourceCPU: *resource.NewMilliQuantity(c.LimMilli, resource.DecimalSI), corev1.ResourceMemory: *resource.NewQuantity(c.LimMem, resource.BinarySI)},
			}
		}
		pod.Spec.Containers = append(pod.Spec.Containers, ct)
	}
	return pod
}

// setRunning gives pod the status of a running pod whose containers are
// p's.
func setRunning(pod *corev1.Pod, i int, p *metricsPod) {
	started := pod.CreationTimestamp
	pod.Status.Phase = corev1.PodRunning
	pod.Status.HostIP = "127.0.0.1"
	pod.Status.PodIP = fmt.Sprintf("10.244.%d.%d", i/250, 2+i%250)
	pod.Status.StartTime = &started
	pod.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}
	pod.Status.ContainerStatuses = nil
	for _, c := range p.Containers {
		pod.Status.ContainerStatuses = append(pod.Status.ContainerStatuses, corev1.ContainerStatus{
			Name: c.Name, ContainerID: "containerd://" + c.ID, Image: c.Image, Ready: true,
			ImageID: c.Image + "@sha256:" + c.ID,
			State:   corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: started}},
		})
	}
}

// agentAccess creates the kinsight-agent service account with the
// ClusterRole and Role of deploy/kinsight-agent.yaml (so the benchmark
// runs with exactly the DaemonSet's permissions) and takes a token.
//
// A real kubelet authorizes /stats/summary as get nodes/stats and /pods as
// get nodes/proxy (SubjectAccessReview, webhook mode); the stand-in does
// the same. When the deployed ClusterRole lacks those, they are granted
// here and the report says so.
func (k *metricsKube) agentAccess(ctx context.Context, manifest string) error {
	data, err := os.ReadFile(manifest)
	if err != nil {
		return err
	}
	var clusterRules, leaseRules []rbacv1.PolicyRule
	dec := k8syaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	for {
		var doc struct {
			Kind  string              `json:"kind"`
			Rules []rbacv1.PolicyRule `json:"rules"`
		}
		if err := dec.Decode(&doc); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return fmt.Errorf("%s: %w", manifest, err)
		}
		switch doc.Kind {
		case "ClusterRole":
			clusterRules = append(clusterRules, doc.Rules...)
		case "Role":
			leaseRules = append(leaseRules, doc.Rules...)
		}
	}
	if len(clusterRules) == 0 {
		return fmt.Errorf("%s: no ClusterRole", manifest)
	}
	if !allows(clusterRules, "nodes/stats") || !allows(clusterRules, "nodes/proxy") {
		k.addedKubeletRBAC = true
		clusterRules = append(clusterRules, rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"nodes/stats", "nodes/proxy"}, Verbs: []string{"get"}})
	}
	cs := k.cs
	subject := []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Namespace: agentNamespace, Name: agentSAName}}
	if _, err := cs.CoreV1().ServiceAccounts(agentNamespace).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: agentSAName}}, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("create service account: %w", err)
	}
	if _, err := cs.RbacV1().ClusterRoles().Create(ctx, &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: agentSAName}, Rules: clusterRules}, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("create cluster role: %w", err)
	}
	if _, err := cs.RbacV1().ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: agentSAName},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: agentSAName},
		Subjects:   subject,
	}, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("create cluster role binding: %w", err)
	}
	if len(leaseRules) > 0 {
		const name = agentSAName + "-leader-election"
		if _, err := cs.RbacV1().Roles(agentNamespace).Create(ctx, &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: name}, Rules: leaseRules}, metav1.CreateOptions{}); err != nil {
			return fmt.Errorf("create role: %w", err)
		}
		if _, err := cs.RbacV1().RoleBindings(agentNamespace).Create(ctx, &rbacv1.RoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: name},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: name},
			Subjects:   subject,
		}, metav1.CreateOptions{}); err != nil {
			return fmt.Errorf("create role binding: %w", err)
		}
	}
	expiry := int64(6 * 3600)
	tr, err := cs.CoreV1().ServiceAccounts(agentNamespace).CreateToken(ctx, agentSAName, &authenticationv1.TokenRequest{
		Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: &expiry},
	}, metav1.CreateOptions{})
	if err != nil {
		return fmt.Errorf("token request: %w", err)
	}
	k.token = tr.Status.Token
	return nil
}

// allows reports whether rules grant get on the core resource res.
func allows(rules []rbacv1.PolicyRule, res string) bool {
	for _, r := range rules {
		group, resource, verb := false, false, false
		for _, g := range r.APIGroups {
			group = group || g == "" || g == "*"
		}
		for _, x := range r.Resources {
			resource = resource || x == res || x == "*"
		}
		for _, v := range r.Verbs {
			verb = verb || v == "get" || v == "*"
		}
		if group && resource && verb {
			return true
		}
	}
	return false
}

// writeKubeconfig writes a kubeconfig for the agent's token.
func (k *metricsKube) writeKubeconfig(path string) error {
	bk := &benchKube{cluster: k.cluster, token: k.token}
	return bk.writeKubeconfig(path)
}
