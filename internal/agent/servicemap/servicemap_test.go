package servicemap

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/kinsight/kinsight/internal/testkube"
)

// TestMapRealAPIServer writes EndpointSlices into a real kube-apiserver (no
// controller-manager runs, so the test plays the EndpointSlice controller)
// and watches the Map follow them, with a token allowed only to list and
// watch EndpointSlices, as the agent's ClusterRole allows.
func TestMapRealAPIServer(t *testing.T) {
	c := testkube.Start(t)
	admin := c.Clientset()
	c.EnsureNamespace(t, "shop")
	token := c.ServiceAccountToken(t, "kube-system", "servicemap-test", []rbacv1.PolicyRule{{
		APIGroups: []string{"discovery.k8s.io"}, Resources: []string{"endpointslices"}, Verbs: []string{"list", "watch"},
	}})
	client, err := kubernetes.NewForConfig(c.Config(token))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	m := New(client, "node-1")
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()

	put := func(name, service string, pods map[string]string) {
		t.Helper()
		s := &discoveryv1.EndpointSlice{
			ObjectMeta:  metav1.ObjectMeta{Name: name, Namespace: "shop"},
			AddressType: discoveryv1.AddressTypeIPv4,
		}
		if service != "" {
			s.Labels = map[string]string{discoveryv1.LabelServiceName: service}
		}
		i := 0
		for pod, node := range pods {
			i++
			s.Endpoints = append(s.Endpoints, discoveryv1.Endpoint{
				Addresses: []string{"10.0.0." + string(rune('0'+i))},
				NodeName:  &node,
				TargetRef: &corev1.ObjectReference{Kind: "Pod", Namespace: "shop", Name: pod},
			})
		}
		cur, err := admin.DiscoveryV1().EndpointSlices("shop").Get(ctx, name, metav1.GetOptions{})
		if err == nil {
			s.ResourceVersion = cur.ResourceVersion
			_, err = admin.DiscoveryV1().EndpointSlices("shop").Update(ctx, s, metav1.UpdateOptions{})
		} else {
			_, err = admin.DiscoveryV1().EndpointSlices("shop").Create(ctx, s, metav1.CreateOptions{})
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	want := func(pod, service string) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for m.Service("shop", pod, nil) != service {
			if time.Now().After(deadline) {
				t.Fatalf("Service(shop, %s) = %q, want %q", pod, m.Service("shop", pod, nil), service)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}

	put("web-abc", "web", map[string]string{"web-1": "node-1", "web-2": "node-2"})
	want("web-1", "web")
	put("orphan", "", map[string]string{"lonely": "node-1"}) // no Service label
	put("api-xyz", "api", map[string]string{"web-1": "node-1"})
	want("web-1", "api") // in two Services: the first name in sort order
	// Other nodes' pods and unlabelled slices are not kept.
	if got := m.Service("shop", "web-2", nil); got != "" {
		t.Errorf("pod on another node: Service = %q", got)
	}
	if got := m.Service("shop", "lonely", nil); got != "" {
		t.Errorf("slice without a Service: Service = %q", got)
	}
	if err := admin.DiscoveryV1().EndpointSlices("shop").Delete(ctx, "api-xyz", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	want("web-1", "web")
	put("web-abc", "web", map[string]string{"web-3": "node-1"}) // web-1 left the Service
	want("web-3", "web")
	want("web-1", "")
	m.mu.RLock()
	defer m.mu.RUnlock()
	if len(m.slices) != 1 || len(m.pods) != 1 || len(m.first) != 1 {
		t.Errorf("index holds %d slices, %d pods, %d first names; want 1 each", len(m.slices), len(m.pods), len(m.first))
	}
}
