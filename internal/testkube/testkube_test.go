package testkube

import (
	"context"
	"strings"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

// TestCluster starts the real control plane once and checks every helper
// against it: admin access, a service-account token limited by RBAC, a
// kubeconfig that client-go loads, and request counters that move.
func TestCluster(t *testing.T) {
	c := Start(t)
	t.Logf("control plane ready in %v", c.StartupTime)
	ctx := context.Background()

	v, err := c.Clientset().Discovery().ServerVersion()
	if err != nil {
		t.Fatalf("server version: %v", err)
	}
	if v.Major != "1" || v.Minor != "35" {
		t.Errorf("server version = %s.%s, want 1.35", v.Major, v.Minor)
	}

	token := c.ServiceAccountToken(t, "observe", "reader", []rbacv1.PolicyRule{{
		APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"list"},
	}})
	rc, err := clientcmd.BuildConfigFromFlags("", c.Kubeconfig(t, token))
	if err != nil {
		t.Fatalf("load kubeconfig: %v", err)
	}
	cs, err := kubernetes.NewForConfig(rc)
	if err != nil {
		t.Fatal(err)
	}

	listsBefore := c.RequestCount(t, "LIST", "pods")
	if _, err := cs.CoreV1().Pods("").List(ctx, metav1.ListOptions{}); err != nil {
		t.Errorf("service account with list: %v", err)
	}
	if _, err := cs.CoreV1().Pods("observe").Get(ctx, "x", metav1.GetOptions{}); !apierrors.IsForbidden(err) {
		t.Errorf("service account get without the verb: err = %v, want Forbidden", err)
	}
	if _, err := cs.CoreV1().Namespaces().List(ctx, metav1.ListOptions{}); !apierrors.IsForbidden(err) {
		t.Errorf("service account list namespaces: err = %v, want Forbidden", err)
	}
	if got := c.RequestCount(t, "LIST", "pods") - listsBefore; got != 1 {
		t.Errorf("LIST pods counted %v times, want 1", got)
	}
	// Requests refused by authorization never reach the counters; an
	// admin's GET of a missing pod does.
	getsBefore := c.RequestCount(t, "GET", "pods")
	if _, err := c.Clientset().CoreV1().Pods("observe").Get(ctx, "x", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("admin get of a missing pod: err = %v, want NotFound", err)
	}
	if got := c.RequestCount(t, "GET", "pods") - getsBefore; got != 1 {
		t.Errorf("GET pods counted %v times, want 1", got)
	}
}

func TestMissingBinaries(t *testing.T) {
	_, _, err := startFrom(t.TempDir())
	if err == nil || !strings.Contains(err.Error(), "run `make tools` first") {
		t.Errorf("start without binaries: err = %v, want one that says to run make tools", err)
	}
}

func TestParseSample(t *testing.T) {
	tests := []struct {
		line    string
		labels  map[string]string
		value   float64
		wantErr bool
	}{
		{line: `apiserver_request_total{code="200",resource="pods",verb="LIST"} 3`,
			labels: map[string]string{"code": "200", "resource": "pods", "verb": "LIST"}, value: 3},
		{line: `m{a="x\"y\\z",b=""} 1.5e+01 1700000000`,
			labels: map[string]string{"a": `x"y\z`, "b": ""}, value: 15},
		{line: `m{a="x"} `, wantErr: true},
		{line: `m{a="x} 1`, wantErr: true},
		{line: `m 1`, wantErr: true},
		{line: `m{a="1"} abc`, wantErr: true},
	}
	for _, tt := range tests {
		labels, v, err := parseSample(tt.line)
		if (err != nil) != tt.wantErr {
			t.Errorf("parseSample(%q) err = %v, wantErr %v", tt.line, err, tt.wantErr)
			continue
		}
		if tt.wantErr {
			continue
		}
		if v != tt.value || len(labels) != len(tt.labels) {
			t.Errorf("parseSample(%q) = %v %v, want %v %v", tt.line, labels, v, tt.labels, tt.value)
		}
		for k, want := range tt.labels {
			if labels[k] != want {
				t.Errorf("parseSample(%q) label %s = %q, want %q", tt.line, k, labels[k], want)
			}
		}
	}
}

func FuzzParseSample(f *testing.F) {
	f.Add(`apiserver_request_total{code="200",resource="pods",verb="LIST"} 3`)
	f.Add(`m{a="x\"y\\z",b=""} 1.5e+01 1700000000`)
	f.Add(`m{a="x`)
	f.Add(`m{,,}`)
	f.Fuzz(func(t *testing.T, line string) {
		labels, _, err := parseSample(line)
		if err == nil && labels == nil {
			t.Fatal("nil labels without error")
		}
	})
}
