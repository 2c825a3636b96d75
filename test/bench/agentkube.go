package main

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"sync"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"

	"github.com/kinsight/kinsight/internal/testkube"
)

// benchNode is the node the benchmark's pods run on and the agent serves.
const benchNode = "bench-node"

// benchKube is the real control plane the agent gets pod metadata from.
type benchKube struct {
	cluster *testkube.Cluster
	stop    func()
	token   string // the agent's service-account token: list and watch pods only
}

// startKube starts etcd and kube-apiserver (tools/bin, from `make tools`),
// creates the pods (filling their UIDs) and the agent's service account.
func startKube(ctx context.Context, pods []*benchPod) (*benchKube, error) {
	c, stop, err := testkube.StartMain()
	if err != nil {
		return nil, err
	}
	k := &benchKube{cluster: c, stop: stop}
	fail := func(err error) (*benchKube, error) {
		stop()
		return nil, err
	}
	cs := c.Clientset()
	namespaces := map[string]bool{"kinsight": true}
	for _, p := range pods {
		namespaces[p.Namespace] = true
	}
	for ns := range namespaces {
		_, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
		if err != nil && !apierrors.IsAlreadyExists(err) {
			return fail(fmt.Errorf("create namespace %s: %w", ns, err))
		}
	}
	if k.token, err = agentToken(ctx, cs); err != nil {
		return fail(err)
	}
	// Eight at a time: 400 requests take a second or two.
	sem := make(chan struct{}, 8)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	for i, p := range pods {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			if err := createPod(ctx, cs, i, p); err != nil {
				mu.Lock()
				if firstErr == nil {
					firstErr = err
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if firstErr != nil {
		return fail(firstErr)
	}
	return k, nil
}

// agentToken creates kinsight/agent with a ClusterRole allowing only list
// and watch on pods (what the DaemonSet's role grants) and returns a token.
func agentToken(ctx context.Context, cs kubernetes.Interface) (string, error) {
	const ns, name, role = "kinsight", "agent", "kinsight-bench-agent"
	_, err := cs.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	if err != nil {
		return "", fmt.Errorf("create service account: %w", err)
	}
	_, err = cs.RbacV1().ClusterRoles().Create(ctx, &rbacv1.ClusterRole{
		ObjectMeta: metav1.ObjectMeta{Name: role},
		Rules:      []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"list", "watch"}}},
	}, metav1.CreateOptions{})
	if err != nil {
		return "", fmt.Errorf("create cluster role: %w", err)
	}
	_, err = cs.RbacV1().ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: role},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Namespace: ns, Name: name}},
	}, metav1.CreateOptions{})
	if err != nil {
		return "", fmt.Errorf("create cluster role binding: %w", err)
	}
	expiry := int64(3600)
	tr, err := cs.CoreV1().ServiceAccounts(ns).CreateToken(ctx, name, &authenticationv1.TokenRequest{
		Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: &expiry},
	}, metav1.CreateOptions{})
	if err != nil {
		return "", fmt.Errorf("token request: %w", err)
	}
	return tr.Status.Token, nil
}

// createPod creates p on the bench node, owned by its ReplicaSet, and sets
// a running container status whose containerID is the log file's.
func createPod(ctx context.Context, cs kubernetes.Interface, i int, p *benchPod) error {
	yes := true
	image := p.Image
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name: p.Name, Namespace: p.Namespace,
			Labels:      map[string]string{"app": p.App, "pod-template-hash": p.RSHash, "app.kubernetes.io/part-of": p.Namespace},
			Annotations: map[string]string{"prometheus.io/scrape": "true", "prometheus.io/port": "9102"},
			OwnerReferences: []metav1.OwnerReference{{
				APIVersion: "apps/v1", Kind: "ReplicaSet", Name: p.App + "-" + p.RSHash,
				UID: types.UID(fmt.Sprintf("00000000-0000-4000-8000-%012d", i)), Controller: &yes,
			}},
		},
		Spec: corev1.PodSpec{NodeName: benchNode, Containers: []corev1.Container{{Name: p.App, Image: image}}},
	}
	created, err := cs.CoreV1().Pods(p.Namespace).Create(ctx, pod, metav1.CreateOptions{})
	if err != nil {
		return fmt.Errorf("create pod %s/%s: %w", p.Namespace, p.Name, err)
	}
	created.Status.Phase = corev1.PodRunning
	created.Status.ContainerStatuses = []corev1.ContainerStatus{{
		Name: p.App, ContainerID: "containerd://" + p.ContainerID, Image: image, Ready: true,
		ImageID: image + "@sha256:" + p.ContainerID, RestartCount: 0,
		State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: created.CreationTimestamp}},
	}}
	if _, err := cs.CoreV1().Pods(p.Namespace).UpdateStatus(ctx, created, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("pod status %s/%s: %w", p.Namespace, p.Name, err)
	}
	p.UID = string(created.UID)
	return nil
}

// writeKubeconfig writes a kubeconfig for the agent's token (the self-signed
// API server certificate is not verified: loopback only).
func (k *benchKube) writeKubeconfig(path string) error {
	conf := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: bench
  cluster:
    server: %s
    insecure-skip-tls-verify: true
users:
- name: agent
  user:
    token: %s
contexts:
- name: bench
  context:
    cluster: bench
    user: agent
current-context: bench
`, strconv.Quote(k.cluster.URL), strconv.Quote(k.token))
	return os.WriteFile(path, []byte(conf), 0o600)
}
