// Package deploy holds the Kubernetes manifests; its test applies them to a
// real kube-apiserver and validates the kinsight configuration they embed,
// so they cannot drift from the code.
package deploy

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/restmapper"

	"github.com/kinsight/kinsight/internal/config"
	"github.com/kinsight/kinsight/internal/testkube"
)

// objects reads every document of a multi-document YAML file.
func objects(t *testing.T, path string) []*unstructured.Unstructured {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(b), 4096)
	var out []*unstructured.Unstructured
	for {
		var m map[string]any
		if err := dec.Decode(&m); errors.Is(err, io.EOF) {
			return out
		} else if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if m != nil {
			out = append(out, &unstructured.Unstructured{Object: m})
		}
	}
}

func TestManifestsApply(t *testing.T) {
	c := testkube.Start(t)
	disco, err := discovery.NewDiscoveryClientForConfig(c.Admin())
	if err != nil {
		t.Fatal(err)
	}
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(disco))
	dyn, err := dynamic.NewForConfig(c.Admin())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	kinds := map[string]int{}
	for _, file := range []string{"kinsight-server.yaml", "kinsight-agent.yaml"} {
		for _, obj := range objects(t, file) {
			gvk := obj.GroupVersionKind()
			m, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
			if err != nil {
				t.Fatalf("%s: %s: %v", file, gvk, err)
			}
			var ri dynamic.ResourceInterface = dyn.Resource(m.Resource)
			if ns := obj.GetNamespace(); ns != "" {
				ri = dyn.Resource(m.Resource).Namespace(ns)
			}
			// Strict: an unknown or duplicated field is an error, not a
			// warning the apiserver drops.
			if _, err := ri.Create(ctx, obj, metav1.CreateOptions{FieldValidation: "Strict"}); err != nil {
				t.Fatalf("%s: create %s %s: %v", file, gvk.Kind, obj.GetName(), err)
			}
			kinds[gvk.Kind]++
			if gvk.Kind == "ConfigMap" {
				checkConfig(t, file, obj)
			}
		}
	}
	for _, k := range []string{"Namespace", "StatefulSet", "Service", "DaemonSet", "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"} {
		if kinds[k] == 0 {
			t.Errorf("no %s in the manifests", k)
		}
	}
	if kinds["ConfigMap"] != 2 {
		t.Errorf("%d ConfigMaps, want the server's and the agent's", kinds["ConfigMap"])
	}
}

// checkConfig loads a ConfigMap's kinsight.yaml with kinsight's validation.
func checkConfig(t *testing.T, file string, cm *unstructured.Unstructured) {
	t.Helper()
	data, _, _ := unstructured.NestedStringMap(cm.Object, "data")
	text, ok := data["kinsight.yaml"]
	if !ok {
		t.Fatalf("%s: ConfigMap %s has no kinsight.yaml", file, cm.GetName())
	}
	path := filepath.Join(t.TempDir(), "kinsight.yaml")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := config.Load(path); err != nil {
		t.Fatalf("%s: ConfigMap %s: %v", file, cm.GetName(), err)
	}
}
