package podmetrics

import (
	"encoding/json"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
)

// The kubelet's GET /pods is every pod's full object: about 18 KB a pod
// (managed fields, env, volumes, probes, tolerations …), 2 MB for 110 pods,
// read at every interval. Decoding it into corev1 types allocated all of
// that; these types name only what PodInfoFromPod reads, so encoding/json
// skips the rest without building it. They follow the API's JSON names.
type (
	podListJSON struct {
		Items []podJSON `json:"items"`
	}
	podJSON struct {
		Metadata struct {
			Name      string            `json:"name"`
			Namespace string            `json:"namespace"`
			UID       types.UID         `json:"uid"`
			Labels    map[string]string `json:"labels"`
		} `json:"metadata"`
		Spec struct {
			Containers []struct {
				Name      string                      `json:"name"`
				Resources corev1.ResourceRequirements `json:"resources"`
			} `json:"containers"`
			Resources *corev1.ResourceRequirements `json:"resources"`
		} `json:"spec"`
		Status struct {
			Phase      corev1.PodPhase `json:"phase"`
			Conditions []struct {
				Type   corev1.PodConditionType `json:"type"`
				Status corev1.ConditionStatus  `json:"status"`
			} `json:"conditions"`
			ContainerStatuses []containerStatusJSON `json:"containerStatuses"`
		} `json:"status"`
	}
	containerStatusJSON struct {
		Name                 string             `json:"name"`
		ContainerID          string             `json:"containerID"`
		RestartCount         int32              `json:"restartCount"`
		State                containerStateJSON `json:"state"`
		LastTerminationState containerStateJSON `json:"lastState"`
	}
	// containerStateJSON leaves out the states' times and messages.
	containerStateJSON struct {
		Running    *struct{}   `json:"running"`
		Waiting    *reasonOnly `json:"waiting"`
		Terminated *reasonOnly `json:"terminated"`
	}
	reasonOnly struct {
		Reason string `json:"reason"`
	}
)

// ParsePodList decodes the kubelet's GET /pods body (a v1.PodList) into
// pods holding only the fields PodInfoFromPod reads: name, namespace, UID
// and labels; the containers' names and resources and the pod's resources;
// phase, conditions' type and status, and the container statuses' name,
// container ID, restart count and the reasons of their state and last
// state.
func ParsePodList(data []byte) ([]corev1.Pod, error) {
	var l podListJSON
	if err := json.Unmarshal(data, &l); err != nil {
		return nil, fmt.Errorf("decode pod list: %w", err)
	}
	out := make([]corev1.Pod, len(l.Items))
	for i := range l.Items {
		in, p := &l.Items[i], &out[i]
		p.Name, p.Namespace, p.UID, p.Labels = in.Metadata.Name, in.Metadata.Namespace, in.Metadata.UID, in.Metadata.Labels
		p.Spec.Resources = in.Spec.Resources
		p.Spec.Containers = make([]corev1.Container, len(in.Spec.Containers))
		for j, c := range in.Spec.Containers {
			p.Spec.Containers[j] = corev1.Container{Name: c.Name, Resources: c.Resources}
		}
		p.Status.Phase = in.Status.Phase
		if len(in.Status.Conditions) > 0 {
			p.Status.Conditions = make([]corev1.PodCondition, len(in.Status.Conditions))
			for j, c := range in.Status.Conditions {
				p.Status.Conditions[j] = corev1.PodCondition{Type: c.Type, Status: c.Status}
			}
		}
		if len(in.Status.ContainerStatuses) > 0 {
			p.Status.ContainerStatuses = make([]corev1.ContainerStatus, len(in.Status.ContainerStatuses))
			for j, c := range in.Status.ContainerStatuses {
				p.Status.ContainerStatuses[j] = corev1.ContainerStatus{Name: c.Name, ContainerID: c.ContainerID, RestartCount: c.RestartCount,
					State: c.State.api(), LastTerminationState: c.LastTerminationState.api()}
			}
		}
	}
	return out, nil
}

func (s containerStateJSON) api() corev1.ContainerState {
	var out corev1.ContainerState
	if s.Running != nil {
		out.Running = &corev1.ContainerStateRunning{}
	}
	if s.Waiting != nil {
		out.Waiting = &corev1.ContainerStateWaiting{Reason: s.Waiting.Reason}
	}
	if s.Terminated != nil {
		out.Terminated = &corev1.ContainerStateTerminated{Reason: s.Terminated.Reason}
	}
	return out
}
