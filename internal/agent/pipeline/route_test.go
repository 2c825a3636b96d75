package pipeline

import (
	"encoding/json"
	"testing"
	"time"
)

func TestRoute(t *testing.T) {
	id := "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	r := router{cluster: "prod", host: "ip-10-0-0-1", routes: DefaultRoutes(),
		filter:        Filter{ExcludeNamespaces: []string{"kube-system"}, ExcludeContainers: []string{"istio-proxy"}},
		containerGlob: []string{"/var/log/containers/*.log"}}
	tests := []struct {
		path, group, stream string
		container, excluded bool
		pod, ns, ctr        string
	}{
		{"/var/log/containers/web-7d9f_shop_app-" + id + ".log", "/aws/containerinsights/prod/application", "web-7d9f_shop_app-" + id, true, false, "web-7d9f", "shop", "app"},
		{"/var/log/containers/my-pod_default_side-car-" + id + ".log", "/aws/containerinsights/prod/application", "my-pod_default_side-car-" + id, true, false, "my-pod", "default", "side-car"},
		{"/var/log/containers/coredns_kube-system_coredns-" + id + ".log", "/aws/containerinsights/prod/application", "coredns_kube-system_coredns-" + id, true, true, "coredns", "kube-system", "coredns"},
		{"/var/log/containers/p_ns_istio-proxy-" + id + ".log", "/aws/containerinsights/prod/application", "p_ns_istio-proxy-" + id, true, true, "p", "ns", "istio-proxy"},
		{"/var/log/syslog", "/aws/containerinsights/prod/host", "ip-10-0-0-1.syslog", false, false, "", "", ""},
		{"/var/log/auth.log", "/aws/containerinsights/prod/host", "ip-10-0-0-1.auth.log", false, false, "", "", ""},
		// A container glob match without kubelet's name is a host log.
		{"/var/log/containers/odd.log", "/aws/containerinsights/prod/host", "ip-10-0-0-1.odd.log", false, false, "", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			fr := r.route(tt.path)
			if fr.group != tt.group || fr.stream != tt.stream || fr.container != tt.container || fr.excluded != tt.excluded {
				t.Fatalf("route = %+v", fr)
			}
			if tt.container && (fr.k8s.PodName != tt.pod || fr.k8s.NamespaceName != tt.ns || fr.k8s.ContainerName != tt.ctr || fr.k8s.DockerID != id || fr.k8s.Host != "ip-10-0-0-1") {
				t.Fatalf("kubernetes = %+v", fr.k8s)
			}
		})
	}
}

func TestFilterInclude(t *testing.T) {
	f := Filter{IncludeNamespaces: []string{"a"}, IncludeContainers: []string{"x"}, ExcludeContainers: []string{"x"}}
	for _, tt := range []struct {
		ns, ctr string
		want    bool
	}{{"a", "x", false}, {"a", "y", false}, {"b", "x", false}} {
		if got := f.allows(tt.ns, tt.ctr); got != tt.want {
			t.Errorf("allows(%s, %s) = %v", tt.ns, tt.ctr, got)
		}
	}
	f = Filter{IncludeNamespaces: []string{"a"}}
	if !f.allows("a", "any") || f.allows("b", "any") {
		t.Error("include namespaces")
	}
}

func TestContainerMessage(t *testing.T) {
	fr := fileRoute{k8s: kubeMeta{PodName: "p", NamespaceName: "n", ContainerName: "c", DockerID: "d", Host: "h"}}
	ts := time.Date(2026, 11, 22, 2, 40, 0, 123456789, time.UTC)
	got := containerMessage(&fr, []byte(`say "hi"`+"\t"), "stderr", ts)
	want := `{"log":"say \"hi\"\t","stream":"stderr","time":"2026-11-22T02:40:00.123456789Z","kubernetes":{"pod_name":"p","namespace_name":"n","container_name":"c","docker_id":"d","host":"h"}}`
	if got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	if !json.Valid([]byte(got)) {
		t.Fatal("not JSON")
	}
}
