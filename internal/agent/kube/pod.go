package kube

import (
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Annotation keys honoured per pod, with an optional "-<container>" suffix
// that applies to one container and wins over the pod-wide value.
const (
	AnnotationExclude = "kinsight.io/exclude"
	AnnotationParser  = "kinsight.io/parser"
)

// Pod is the metadata of one pod. A *Pod returned by Watcher.Pod is never
// modified afterwards (an update builds a new one); do not modify it either.
type Pod struct {
	Name, Namespace, UID string
	// Host is spec.nodeName.
	Host        string
	Labels      map[string]string
	Annotations map[string]string
	// OwnerKind and OwnerName name the workload that owns the pod:
	// Deployment, StatefulSet, DaemonSet, Job, CronJob, ReplicaSet (when no
	// Deployment can be inferred), or the raw controller owner's kind and
	// name. Both are "" for a bare pod.
	OwnerKind, OwnerName string
	// Containers holds containers, init containers and ephemeral containers
	// by name.
	Containers map[string]Container
}

// Container is one container of a pod.
type Container struct {
	Name string
	// ID is the runtime's container id without its "containerd://" or
	// "docker://" prefix (Fluent Bit's docker_id); "" until the container
	// has started.
	ID string
	// Image is the image as the runtime reports it (spec image until then).
	Image string
	// ImageID is the image digest reference without a scheme prefix
	// (Fluent Bit's container_hash).
	ImageID string
}

// Excluded reports whether the logs of container should be dropped:
// annotation kinsight.io/exclude-<container> if set, else
// kinsight.io/exclude. Values are parsed as booleans ("true", "1", …); an
// unparsable value does not exclude.
func (p *Pod) Excluded(container string) bool {
	if p == nil {
		return false
	}
	v, ok := p.Annotations[AnnotationExclude+"-"+container]
	if !ok {
		v = p.Annotations[AnnotationExclude]
	}
	b, err := strconv.ParseBool(strings.TrimSpace(v))
	return err == nil && b
}

// Parser returns the parser named for container's logs (e.g. "json", "raw"):
// annotation kinsight.io/parser-<container> if set, else kinsight.io/parser,
// else "".
func (p *Pod) Parser(container string) string {
	if p == nil {
		return ""
	}
	if v, ok := p.Annotations[AnnotationParser+"-"+container]; ok {
		return strings.TrimSpace(v)
	}
	return strings.TrimSpace(p.Annotations[AnnotationParser])
}

// newPod builds the immutable metadata of an API pod. now dates CronJob
// name inference (see ownerOf).
func newPod(in *corev1.Pod, now time.Time) *Pod {
	p := &Pod{
		Name:        in.Name,
		Namespace:   in.Namespace,
		UID:         string(in.UID),
		Host:        in.Spec.NodeName,
		Labels:      copyMap(in.Labels),
		Annotations: copyMap(in.Annotations),
		Containers:  make(map[string]Container, len(in.Spec.Containers)+len(in.Spec.InitContainers)),
	}
	p.OwnerKind, p.OwnerName = ownerOf(in.OwnerReferences, in.Labels, now)
	for _, c := range in.Spec.InitContainers {
		p.Containers[c.Name] = Container{Name: c.Name, Image: c.Image}
	}
	for _, c := range in.Spec.Containers {
		p.Containers[c.Name] = Container{Name: c.Name, Image: c.Image}
	}
	for _, c := range in.Spec.EphemeralContainers {
		p.Containers[c.Name] = Container{Name: c.Name, Image: c.Image}
	}
	for _, statuses := range [][]corev1.ContainerStatus{
		in.Status.InitContainerStatuses, in.Status.ContainerStatuses, in.Status.EphemeralContainerStatuses,
	} {
		for _, s := range statuses {
			c := p.Containers[s.Name]
			c.Name = s.Name
			c.ID = stripScheme(s.ContainerID)
			if s.Image != "" {
				c.Image = s.Image
			}
			c.ImageID = stripScheme(s.ImageID)
			p.Containers[s.Name] = c
		}
	}
	return p
}

// stripScheme removes a "<runtime>://" prefix ("containerd://",
// "docker://", "docker-pullable://", "cri-o://").
func stripScheme(s string) string {
	if i := strings.Index(s, "://"); i >= 0 {
		return s[i+3:]
	}
	return s
}

func copyMap(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// cronJobWindow bounds how old the scheduled time in a Job's name may be for
// the Job to be taken as a CronJob's: the CronJob controller names its Jobs
// <cronjob>-<scheduled time in minutes since the epoch>, and a Job whose pod
// is still on a node was scheduled recently. The window keeps user Jobs
// named e.g. "migrate-20240101" (a date, read as minutes: 2008) as Jobs.
const cronJobWindow = 366 * 24 * time.Hour

// ownerOf resolves the workload owning a pod from its ownerReferences and
// labels, without API calls. The controller reference wins; without one the
// first reference is used.
func ownerOf(refs []metav1.OwnerReference, labels map[string]string, now time.Time) (kind, name string) {
	if len(refs) == 0 {
		return "", ""
	}
	ref := refs[0]
	for _, r := range refs {
		if r.Controller != nil && *r.Controller {
			ref = r
			break
		}
	}
	switch ref.Kind {
	case "ReplicaSet":
		// The Deployment controller names ReplicaSets <deployment>-<hash>
		// and labels their pods with that hash.
		if hash := labels["pod-template-hash"]; hash != "" {
			if deploy, ok := strings.CutSuffix(ref.Name, "-"+hash); ok && deploy != "" {
				return "Deployment", deploy
			}
		}
	case "Job":
		if cron, ok := cronJobName(ref.Name, now); ok {
			return "CronJob", cron
		}
	}
	return ref.Kind, ref.Name
}

// cronJobName returns <cronjob> for a Job named <cronjob>-<minutes> whose
// minutes since the epoch fall within cronJobWindow before now (or a day
// after, for clock skew).
func cronJobName(job string, now time.Time) (string, bool) {
	i := strings.LastIndexByte(job, '-')
	if i <= 0 || i == len(job)-1 {
		return "", false
	}
	minutes, err := strconv.ParseInt(job[i+1:], 10, 64)
	if err != nil || minutes <= 0 || minutes > 1<<40 || job[i+1] == '+' || job[i+1] == '0' {
		return "", false
	}
	scheduled := time.Unix(minutes*60, 0)
	if scheduled.Before(now.Add(-cronJobWindow)) || scheduled.After(now.Add(24*time.Hour)) {
		return "", false
	}
	return job[:i], true
}
