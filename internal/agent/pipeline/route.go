package pipeline

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/labels"

	"github.com/kinsight/kinsight/internal/agent/kube"
	"github.com/kinsight/kinsight/internal/jsonx"
)

// containerName matches kubelet's /var/log/containers link names:
// <pod>_<namespace>_<container>-<container id>.log.
var containerName = regexp.MustCompile(`^([^_]+)_([^_]+)_(.+)-([0-9a-f]{64})\.log$`)

// podDir matches the directory a link points into,
// /var/log/pods/<namespace>_<pod>_<uid>/<container>/<n>.log.
var podDir = regexp.MustCompile(`/([^_/]+)_([^_/]+)_([0-9a-fA-F-]{8,})/[^/]+/[^/]+$`)

// podUID returns the pod UID the link at path points into, "" when it is
// not a kubelet link. A StatefulSet pod re-created under the same name has
// another UID: the UID keeps an old pod's logs with the old pod's metadata.
func podUID(path, namespace, pod string) string {
	target, err := os.Readlink(path)
	if err != nil {
		return ""
	}
	m := podDir.FindStringSubmatch(target)
	if m == nil || m[1] != namespace || m[2] != pod {
		return ""
	}
	return m[3]
}

// Parser annotation values (kinsight.io/parser).
const (
	parserJSON = "json"
	parserRaw  = "raw"
)

// fileRoute is where one file's records go and what they carry, decided
// when the file is first seen and completed once its pod is known.
type fileRoute struct {
	group, stream string
	container     bool
	excluded      bool
	// resolved is false while the pod's metadata is awaited.
	resolved bool
	// merge is whether JSON messages are merged into the record.
	merge bool
	k8s   kubeObject
	// kubeJSON is k8s encoded once: every record of a file carries it;
	// kubeEscaped is kubeJSON escaped as the inside of a JSON string, for
	// records built already quoted (appendQuotedContainerRecord).
	kubeJSON, kubeEscaped []byte
	// uid is the pod UID of the link's target, "" when unknown.
	uid string
}

// kubeObject is Fluent Bit's kubernetes object, in its field order, plus
// the owning workload.
type kubeObject struct {
	PodName        string            `json:"pod_name"`
	NamespaceName  string            `json:"namespace_name"`
	PodID          string            `json:"pod_id,omitempty"`
	Labels         map[string]string `json:"labels,omitempty"`
	Annotations    map[string]string `json:"annotations,omitempty"`
	Host           string            `json:"host"`
	ContainerName  string            `json:"container_name"`
	DockerID       string            `json:"docker_id"`
	ContainerHash  string            `json:"container_hash,omitempty"`
	ContainerImage string            `json:"container_image,omitempty"`
	Owner          *owner            `json:"owner,omitempty"`
}

type owner struct {
	Kind string `json:"kind"`
	Name string `json:"name"`
}

// router applies the templates and filters of a Config.
type router struct {
	cluster, host  string
	routes         Routes
	filter         Filter
	containerGlob  []string
	pods           Pods
	labels, annots bool
	merge          bool
}

func expand(tmpl, cluster, host, file string) string {
	return strings.NewReplacer("{cluster}", cluster, "{host}", host, "{file}", file).Replace(tmpl)
}

// route decides where the file found under path goes. Container logs are
// recognised by their include glob and their name; a file matching a
// container glob with another name is treated as a host log. Container
// routes start unresolved when there is a pod source.
func (r *router) route(path string) fileRoute {
	base := filepath.Base(path)
	isContainerGlob := false
	for _, g := range r.containerGlob {
		if ok, _ := filepath.Match(g, path); ok {
			isContainerGlob = true
			break
		}
	}
	m := containerName.FindStringSubmatch(base)
	if !isContainerGlob || m == nil {
		return fileRoute{
			group:    expand(r.routes.HostGroup, r.cluster, r.host, base),
			stream:   expand(r.routes.HostStream, r.cluster, r.host, base),
			resolved: true,
		}
	}
	fr := fileRoute{container: true, merge: r.merge, k8s: kubeObject{
		PodName: m[1], NamespaceName: m[2], ContainerName: m[3], DockerID: m[4], Host: r.host,
	}}
	file := strings.TrimSuffix(base, ".log")
	group, stream := r.routes.ApplicationGroup, r.routes.ApplicationStream
	if fr.k8s.NamespaceName == "kube-system" && slices.ContainsFunc(r.filter.DataplanePods, func(p string) bool {
		return strings.HasPrefix(fr.k8s.PodName, p)
	}) {
		group, stream = r.routes.DataplaneGroup, r.routes.DataplaneStream
	}
	fr.group = expand(group, r.cluster, r.host, file)
	fr.stream = expand(stream, r.cluster, r.host, file)
	fr.uid = podUID(path, fr.k8s.NamespaceName, fr.k8s.PodName)
	if r.pods == nil {
		r.finish(&fr, nil)
		return fr
	}
	r.resolve(&fr)
	return fr
}

// resolve completes a container route if its pod is known: by the UID
// of the link's target when there is one, else by name.
func (r *router) resolve(fr *fileRoute) bool {
	var pod *kube.Pod
	var ok bool
	if fr.uid != "" {
		pod, ok = r.pods.PodByUID(fr.uid)
	} else {
		pod, ok = r.pods.Pod(fr.k8s.NamespaceName, fr.k8s.PodName)
	}
	if ok {
		r.finish(fr, pod)
	}
	return ok
}

// finish completes a container route with pod (nil: never known) and
// decides whether the file is shipped.
func (r *router) finish(fr *fileRoute, pod *kube.Pod) {
	k := &fr.k8s
	var podLabels map[string]string
	if pod != nil {
		k.PodID = pod.UID
		podLabels = pod.Labels
		if r.labels && len(pod.Labels) > 0 {
			k.Labels = pod.Labels
		}
		if r.annots && len(pod.Annotations) > 0 {
			k.Annotations = pod.Annotations
		}
		if pod.Host != "" {
			k.Host = pod.Host
		}
		if c, ok := pod.Containers[k.ContainerName]; ok {
			k.ContainerHash, k.ContainerImage = c.ImageID, c.Image
		}
		if pod.OwnerKind != "" {
			k.Owner = &owner{Kind: pod.OwnerKind, Name: pod.OwnerName}
		}
		switch pod.Parser(k.ContainerName) {
		case parserJSON:
			fr.merge = true
		case parserRaw:
			fr.merge = false
		}
	}
	fr.excluded = !r.filter.allows(k.NamespaceName, k.ContainerName, pod != nil, podLabels) ||
		(pod != nil && pod.Excluded(k.ContainerName))
	fr.kubeJSON, _ = json.Marshal(k) // strings and maps of strings always marshal
	fr.kubeEscaped = jsonx.AppendEscaped(nil, bytesString(fr.kubeJSON))
	fr.resolved = true
}

// allows applies the filter; known says whether the pod's labels are known.
func (f *Filter) allows(namespace, container string, known bool, podLabels map[string]string) bool {
	if slices.Contains(f.ExcludeNamespaces, namespace) || slices.Contains(f.ExcludeContainers, container) {
		return false
	}
	if len(f.IncludeNamespaces) > 0 && !slices.Contains(f.IncludeNamespaces, namespace) {
		return false
	}
	if len(f.IncludeContainers) > 0 && !slices.Contains(f.IncludeContainers, container) {
		return false
	}
	set := labels.Set(podLabels)
	if s := f.ExcludePodLabels; s != nil && !s.Empty() && known && s.Matches(set) {
		return false
	}
	if s := f.IncludePodLabels; s != nil && !s.Empty() && (!known || !s.Matches(set)) {
		return false
	}
	return true
}
