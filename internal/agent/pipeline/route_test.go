package pipeline

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/labels"

	"github.com/kinsight/kinsight/internal/agent/cri"
	"github.com/kinsight/kinsight/internal/agent/journal"
	"github.com/kinsight/kinsight/internal/agent/kube"
	"github.com/kinsight/kinsight/internal/agent/output/cloudwatch"
	"github.com/kinsight/kinsight/internal/jsonx"
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
		if got := f.allows(tt.ns, tt.ctr, false, nil); got != tt.want {
			t.Errorf("allows(%s, %s) = %v", tt.ns, tt.ctr, got)
		}
	}
	f = Filter{IncludeNamespaces: []string{"a"}}
	if !f.allows("a", "any", false, nil) || f.allows("b", "any", false, nil) {
		t.Error("include namespaces")
	}
}

func TestFilterPodLabels(t *testing.T) {
	sel := func(s string) labels.Selector {
		l, err := labels.Parse(s)
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	f := Filter{IncludePodLabels: sel("app in (web,api)"), ExcludePodLabels: sel("tier=debug")}
	for _, tt := range []struct {
		known  bool
		labels map[string]string
		want   bool
	}{
		{true, map[string]string{"app": "web"}, true},
		{true, map[string]string{"app": "api", "tier": "debug"}, false},
		{true, map[string]string{"app": "db"}, false},
		{true, nil, false},
		{false, nil, false}, // an unknown pod cannot be shown to match the include
	} {
		if got := f.allows("ns", "c", tt.known, tt.labels); got != tt.want {
			t.Errorf("allows(known %v, %v) = %v", tt.known, tt.labels, got)
		}
	}
	f = Filter{ExcludePodLabels: sel("tier=debug"), IncludePodLabels: sel("")}
	if !f.allows("ns", "c", false, nil) || f.allows("ns", "c", true, map[string]string{"tier": "debug"}) {
		t.Error("exclude-only selector")
	}
}

// podMap is a fixed set of pods standing in for the watcher (which is
// tested against a real API server in package kube).
type podMap map[string]*kube.Pod

func (m podMap) Pod(ns, name string) (*kube.Pod, bool) {
	p, ok := m[ns+"/"+name]
	return p, ok
}

func (m podMap) PodByUID(uid string) (*kube.Pod, bool) {
	for _, p := range m {
		if p.UID == uid {
			return p, true
		}
	}
	return nil, false
}

// A link into an old pod's directory resolves by UID: a pod re-created
// under the same name does not lend the old logs its metadata.
func TestRouteByLinkUID(t *testing.T) {
	id := "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	dir := t.TempDir()
	pods := podMap{"db/db-0": {Name: "db-0", Namespace: "db", UID: "2222aaaa-0000-0000-0000-000000000000"}}
	r := router{cluster: "c", host: "h", routes: DefaultRoutes(), pods: pods,
		containerGlob: []string{filepath.Join(dir, "*.log")}}
	link := filepath.Join(dir, "db-0_db_pg-"+id+".log")
	target := "/var/log/pods/db_db-0_1111aaaa-0000-0000-0000-000000000000/pg/0.log"
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	fr := r.route(link)
	if fr.uid != "1111aaaa-0000-0000-0000-000000000000" || fr.resolved {
		t.Fatalf("old pod's file resolved to the new pod: %+v", fr)
	}
	pods["db/old"] = &kube.Pod{Name: "db-0", Namespace: "db", UID: "1111aaaa-0000-0000-0000-000000000000"}
	if !r.resolve(&fr) || fr.k8s.PodID != "1111aaaa-0000-0000-0000-000000000000" {
		t.Fatalf("by uid: %+v", fr)
	}
}

func TestRouteWithPods(t *testing.T) {
	id := "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	pods := podMap{
		"shop/web-1": {Name: "web-1", Namespace: "shop", UID: "u-1", Host: "node-a",
			Labels:      map[string]string{"app": "web"},
			Annotations: map[string]string{"kinsight.io/parser": "json", "kinsight.io/exclude-sidecar": "true"},
			OwnerKind:   "Deployment", OwnerName: "web",
			Containers: map[string]kube.Container{"app": {Name: "app", ID: id, Image: "web:1", ImageID: "sha256:abc"}}},
		"shop/raw-1": {Name: "raw-1", Namespace: "shop", UID: "u-2",
			Annotations: map[string]string{"kinsight.io/parser": "raw"}},
		"shop/gone-1": {Name: "gone-1", Namespace: "shop", UID: "u-3",
			Annotations: map[string]string{"kinsight.io/exclude": "true"}},
	}
	r := router{cluster: "c", host: "h", routes: DefaultRoutes(), pods: pods, labels: true, annots: true,
		containerGlob: []string{"/var/log/containers/*.log"},
		filter:        Filter{DataplanePods: []string{"aws-node", "kube-proxy"}}}
	link := func(pod, ns, ctr string) string {
		return "/var/log/containers/" + pod + "_" + ns + "_" + ctr + "-" + id + ".log"
	}

	fr := r.route(link("web-1", "shop", "app"))
	if !fr.resolved || fr.excluded || !fr.merge {
		t.Fatalf("web-1/app: %+v", fr)
	}
	var k map[string]any
	if err := json.Unmarshal(fr.kubeJSON, &k); err != nil {
		t.Fatal(err)
	}
	for key, want := range map[string]any{
		"pod_name": "web-1", "namespace_name": "shop", "pod_id": "u-1", "host": "node-a",
		"container_name": "app", "docker_id": id, "container_image": "web:1", "container_hash": "sha256:abc",
	} {
		if k[key] != want {
			t.Errorf("kubernetes.%s = %v, want %v", key, k[key], want)
		}
	}
	if l, _ := k["labels"].(map[string]any); l["app"] != "web" {
		t.Errorf("labels = %v", k["labels"])
	}
	if o, _ := k["owner"].(map[string]any); o["kind"] != "Deployment" || o["name"] != "web" {
		t.Errorf("owner = %v", k["owner"])
	}

	if fr := r.route(link("web-1", "shop", "sidecar")); !fr.excluded {
		t.Error("per-container exclude annotation ignored")
	}
	if fr := r.route(link("gone-1", "shop", "x")); !fr.excluded {
		t.Error("pod exclude annotation ignored")
	}
	r.merge = true
	if fr := r.route(link("raw-1", "shop", "x")); fr.merge {
		t.Error("parser raw did not turn merging off")
	}
	fr = r.route(link("new-1", "shop", "x"))
	if fr.resolved {
		t.Fatal("an unknown pod resolved")
	}
	pods["shop/new-1"] = &kube.Pod{Name: "new-1", Namespace: "shop", UID: "u-4"}
	if !r.resolve(&fr) || fr.k8s.PodID != "u-4" {
		t.Fatalf("late pod: %+v", fr)
	}
	fr = r.route(link("aws-node-x1", "kube-system", "aws-node"))
	if fr.group != "/aws/containerinsights/c/dataplane" || fr.stream != "h.aws-node-x1_kube-system_aws-node-"+id {
		t.Fatalf("dataplane pod routed to %s %s", fr.group, fr.stream)
	}
	if fr := r.route(link("aws-node-x1", "default", "aws-node")); fr.group != "/aws/containerinsights/c/application" {
		t.Fatalf("aws-node outside kube-system routed to %s", fr.group)
	}
}

func TestContainerRecord(t *testing.T) {
	fr := fileRoute{kubeJSON: []byte(`{"pod_name":"p"}`)}
	ts := time.Date(2026, 11, 22, 2, 40, 0, 123456789, time.UTC)
	rec := func(msg string) *cri.Record {
		return &cri.Record{Message: []byte(msg), Stream: "stderr", Time: ts}
	}
	got := string(appendContainerRecord(nil, &fr, rec(`say "hi"`+"\t"), "log_processed"))
	want := `{"log":"say \"hi\"\t","stream":"stderr","time":"2026-11-22T02:40:00.123456789Z","kubernetes":{"pod_name":"p"}}`
	if got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	fr.merge = true
	for _, tt := range []struct{ msg, key, want string }{
		{`{"level":"error","n":3}`, "log_processed", `,"log_processed":{"level":"error","n":3}}`},
		{` {"a":{"b":1}} `, "log_processed", `,"log_processed":{"a":{"b":1}}}`},
		{`{"level":"error","log":"x","n":3}`, "", `,"level":"error","n":3}`},
		{`{"broken":`, "log_processed", `"kubernetes":{"pod_name":"p"}}`},
		{`[1,2]`, "log_processed", `"kubernetes":{"pod_name":"p"}}`},
		{`plain text`, "", `"kubernetes":{"pod_name":"p"}}`},
	} {
		got := string(appendContainerRecord(nil, &fr, rec(tt.msg), tt.key))
		if !strings.HasSuffix(got, tt.want) || !json.Valid([]byte(got)) {
			t.Errorf("%s (key %q): got %s, want suffix %s", tt.msg, tt.key, got, tt.want)
		}
	}
}

func TestJournalRecord(t *testing.T) {
	e := journal.Entry{Message: []byte("Started \"x\"\xff"), Priority: 6, Host: "h", PID: "12", Unit: "kubelet.service"}
	got := string(appendJournalRecord(nil, &e))
	want := `{"MESSAGE":"Started \"x\"\ufffd","PRIORITY":"6","_HOSTNAME":"h","_PID":"12","_SYSTEMD_UNIT":"kubelet.service"}`
	if got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	e = journal.Entry{Message: []byte("m"), Priority: -1, Unit: "u"}
	if got := string(appendJournalRecord(nil, &e)); got != `{"MESSAGE":"m","_SYSTEMD_UNIT":"u"}` {
		t.Fatalf("got %s", got)
	}
}

// FuzzContainerRecord checks that every record is valid JSON whatever the
// message, merged or not.
func FuzzContainerRecord(f *testing.F) {
	f.Add([]byte(`{"a":1}`), "")
	f.Add([]byte("\xff{\"log\":2}"), "log_processed")
	f.Fuzz(func(t *testing.T, msg []byte, key string) {
		kube := `{"pod_name":"p\"q","labels":{"a":"<b>\u2028"}}`
		fr := fileRoute{kubeJSON: []byte(kube), kubeEscaped: jsonx.AppendEscaped(nil, kube), merge: true}
		r := &cri.Record{Message: msg, Stream: "stdout", Time: time.Unix(0, int64(len(msg))*1e9+7)}
		b := appendContainerRecord(nil, &fr, r, key)
		if !json.Valid([]byte(strings.ToValidUTF8(string(b), "\uFFFD"))) {
			t.Fatalf("invalid record %q", b)
		}
		// The quoted form is the record as a JSON string, and its size the
		// record's length.
		q, _, size, at := appendQuotedContainerRecord(nil, nil, &fr, r, key)
		ev := cloudwatch.Event{Message: string(q), Quoted: true, Size: size, Shared: string(fr.kubeEscaped), SharedAt: at}
		q = []byte(ev.Literal())
		if want := jsonx.AppendString(nil, string(b)); string(q) != string(want) || size != len(b) {
			t.Fatalf("quoted record %s (size %d), want %s (size %d)", q, size, want, len(b))
		}
	})
}
