package podmetrics

import (
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// PodInfo is what the metrics need from a pod's spec and status: requests
// and limits, phase and conditions, container states and restarts.
type PodInfo struct {
	UID, Name, Namespace string
	Labels               map[string]string
	// Phase is status.phase: Pending, Running, Succeeded, Failed, Unknown.
	Phase            string
	Ready, Scheduled bool
	// Containers are the regular containers (not init or ephemeral ones), in
	// spec order.
	Containers []ContainerInfo
	// PodCPULimit etc. are spec.resources (pod-level resources, Kubernetes
	// 1.34+); when set they win over the containers' sums.
	PodCPULimitMilli, PodMemLimit int64
}

// ContainerInfo is one container's spec and status.
type ContainerInfo struct {
	Name string
	// ID is the runtime's container id without its scheme
	// ("containerd://"); "" before the container started.
	ID string
	// CPU in millicores and memory in bytes; Has* false when not set.
	CPURequestMilli, CPULimitMilli int64
	MemRequest, MemLimit           int64
	HasCPURequest, HasCPULimit     bool
	HasMemRequest, HasMemLimit     bool
	Restarts                       int32
	// State is "running", "waiting", "terminated" or "" (no status yet).
	State string
	// Reason is the waiting or terminated reason (CrashLoopBackOff,
	// ImagePullBackOff, OOMKilled …).
	Reason string
	// LastTerminatedReason is lastState.terminated.reason: a container that
	// was OOMKilled and restarted shows it here.
	LastTerminatedReason string
}

// PodInfoFromPod extracts a PodInfo from an API pod.
func PodInfoFromPod(p *corev1.Pod) PodInfo {
	pi := PodInfo{
		UID: string(p.UID), Name: p.Name, Namespace: p.Namespace, Labels: p.Labels,
		Phase: string(p.Status.Phase),
	}
	for _, c := range p.Status.Conditions {
		switch c.Type {
		case corev1.PodReady:
			pi.Ready = c.Status == corev1.ConditionTrue
		case corev1.PodScheduled:
			pi.Scheduled = c.Status == corev1.ConditionTrue
		}
	}
	if r := p.Spec.Resources; r != nil {
		if q, ok := r.Limits[corev1.ResourceCPU]; ok {
			pi.PodCPULimitMilli = q.MilliValue()
		}
		if q, ok := r.Limits[corev1.ResourceMemory]; ok {
			pi.PodMemLimit = q.Value()
		}
	}
	status := make(map[string]*corev1.ContainerStatus, len(p.Status.ContainerStatuses))
	for i := range p.Status.ContainerStatuses {
		status[p.Status.ContainerStatuses[i].Name] = &p.Status.ContainerStatuses[i]
	}
	for i := range p.Spec.Containers {
		c := &p.Spec.Containers[i]
		ci := ContainerInfo{Name: c.Name}
		if q, ok := c.Resources.Requests[corev1.ResourceCPU]; ok {
			ci.CPURequestMilli, ci.HasCPURequest = q.MilliValue(), true
		}
		if q, ok := c.Resources.Limits[corev1.ResourceCPU]; ok {
			ci.CPULimitMilli, ci.HasCPULimit = q.MilliValue(), true
		}
		if q, ok := c.Resources.Requests[corev1.ResourceMemory]; ok {
			ci.MemRequest, ci.HasMemRequest = q.Value(), true
		}
		if q, ok := c.Resources.Limits[corev1.ResourceMemory]; ok {
			ci.MemLimit, ci.HasMemLimit = q.Value(), true
		}
		// A limit without a request gets the limit as request (the API
		// server's defaulting); the kubelet's /pods shows defaulted specs,
		// a hand-built pod may not.
		if ci.HasCPULimit && !ci.HasCPURequest {
			ci.CPURequestMilli, ci.HasCPURequest = ci.CPULimitMilli, true
		}
		if ci.HasMemLimit && !ci.HasMemRequest {
			ci.MemRequest, ci.HasMemRequest = ci.MemLimit, true
		}
		if st, ok := status[c.Name]; ok {
			ci.Restarts = st.RestartCount
			ci.ID = stripScheme(st.ContainerID)
			switch {
			case st.State.Running != nil:
				ci.State = "running"
			case st.State.Waiting != nil:
				ci.State, ci.Reason = "waiting", st.State.Waiting.Reason
			case st.State.Terminated != nil:
				ci.State, ci.Reason = "terminated", st.State.Terminated.Reason
			}
			if t := st.LastTerminationState.Terminated; t != nil {
				ci.LastTerminatedReason = t.Reason
			}
		}
		pi.Containers = append(pi.Containers, ci)
	}
	return pi
}

func stripScheme(id string) string {
	if i := strings.Index(id, "://"); i >= 0 {
		return id[i+3:]
	}
	return id
}

// waitingReasonMetric maps a waiting reason to the Container Insights metric
// counting it; reasons not listed count only in
// pod_container_status_waiting. ErrImagePull, ImagePullBackOff and
// InvalidImageName are all "image pull errors".
func waitingReasonMetric(reason string) string {
	switch reason {
	case "CrashLoopBackOff":
		return "pod_container_status_waiting_reason_crash_loop_back_off"
	case "ErrImagePull", "ImagePullBackOff", "InvalidImageName":
		return "pod_container_status_waiting_reason_image_pull_error"
	case "StartError", "RunContainerError":
		return "pod_container_status_waiting_reason_start_error"
	case "CreateContainerError":
		return "pod_container_status_waiting_reason_create_container_error"
	case "CreateContainerConfigError":
		return "pod_container_status_waiting_reason_create_container_config_error"
	}
	return ""
}
