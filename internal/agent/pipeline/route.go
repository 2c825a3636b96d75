package pipeline

import (
	"encoding/json"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"
)

// containerName matches kubelet's /var/log/containers link names:
// <pod>_<namespace>_<container>-<container id>.log.
var containerName = regexp.MustCompile(`^([^_]+)_([^_]+)_(.+)-([0-9a-f]{64})\.log$`)

// fileRoute is where one file's records go, decided once per file.
type fileRoute struct {
	group, stream string
	container     bool
	excluded      bool
	k8s           kubeMeta
}

type kubeMeta struct {
	PodName       string `json:"pod_name"`
	NamespaceName string `json:"namespace_name"`
	ContainerName string `json:"container_name"`
	DockerID      string `json:"docker_id"`
	Host          string `json:"host"`
}

// router applies the templates of a Config.
type router struct {
	cluster, host string
	routes        Routes
	filter        Filter
	containerGlob []string
}

func expand(tmpl, cluster, host, file string) string {
	return strings.NewReplacer("{cluster}", cluster, "{host}", host, "{file}", file).Replace(tmpl)
}

// route decides where the file found under path goes. Container logs are
// recognised by their include glob and their name; a file matching a
// container glob with another name is treated as a host log.
func (r *router) route(path string) fileRoute {
	base := filepath.Base(path)
	isContainerGlob := false
	for _, g := range r.containerGlob {
		if ok, _ := filepath.Match(g, path); ok {
			isContainerGlob = true
			break
		}
	}
	if m := containerName.FindStringSubmatch(base); isContainerGlob && m != nil {
		fr := fileRoute{container: true, k8s: kubeMeta{
			PodName: m[1], NamespaceName: m[2], ContainerName: m[3], DockerID: m[4], Host: r.host,
		}}
		file := strings.TrimSuffix(base, ".log")
		fr.group = expand(r.routes.ApplicationGroup, r.cluster, r.host, file)
		fr.stream = expand(r.routes.ApplicationStream, r.cluster, r.host, file)
		fr.excluded = !r.filter.allows(m[2], m[3])
		return fr
	}
	return fileRoute{
		group:  expand(r.routes.HostGroup, r.cluster, r.host, base),
		stream: expand(r.routes.HostStream, r.cluster, r.host, base),
	}
}

func (f *Filter) allows(namespace, container string) bool {
	if slices.Contains(f.ExcludeNamespaces, namespace) || slices.Contains(f.ExcludeContainers, container) {
		return false
	}
	if len(f.IncludeNamespaces) > 0 && !slices.Contains(f.IncludeNamespaces, namespace) {
		return false
	}
	if len(f.IncludeContainers) > 0 && !slices.Contains(f.IncludeContainers, container) {
		return false
	}
	return true
}

// containerRecord is the Fluent Bit-style record Container Insights stores.
type containerRecord struct {
	Log        string    `json:"log"`
	Stream     string    `json:"stream"`
	Time       string    `json:"time"`
	Kubernetes *kubeMeta `json:"kubernetes"`
}

// containerMessage builds the JSON message of one container record.
func containerMessage(fr *fileRoute, msg []byte, stream string, t time.Time) string {
	b, err := json.Marshal(containerRecord{
		Log: string(msg), Stream: stream, Time: t.UTC().Format(time.RFC3339Nano), Kubernetes: &fr.k8s,
	})
	if err != nil { // cannot happen: strings and a struct of strings
		return string(msg)
	}
	return string(b)
}
