package podmetrics

import (
	"encoding/json"
	"fmt"
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// fullPodInfos decodes a pod list into the API's own types, as ParsePodList
// did before it decoded only the fields it needs: the reference.
func fullPodInfos(data []byte) ([]PodInfo, error) {
	var l corev1.PodList
	if err := json.Unmarshal(data, &l); err != nil {
		return nil, err
	}
	out := make([]PodInfo, 0, len(l.Items))
	for i := range l.Items {
		out = append(out, PodInfoFromPod(&l.Items[i]))
	}
	return out, nil
}

func podInfos(t testing.TB, data []byte) []PodInfo {
	pods, err := ParsePodList(data)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]PodInfo, 0, len(pods))
	for i := range pods {
		out = append(out, PodInfoFromPod(&pods[i]))
	}
	return out
}

// realisticPodList is the benchmark's 110 pods with what a real kubelet's
// /pods also has: managed fields, annotations, env, volumes and mounts,
// probes, tolerations, owner references, times.
func realisticPodList(t testing.TB) []byte {
	_, raw := benchNode(t, 1)
	var l corev1.PodList
	if err := json.Unmarshal(raw, &l); err != nil {
		t.Fatal(err)
	}
	ctrl := true
	for i := range l.Items {
		p := &l.Items[i]
		p.Labels = map[string]string{"app": "app", "pod-template-hash": "5456b4b8cd"}
		p.Annotations = map[string]string{"kubectl.kubernetes.io/restartedAt": "2026-11-22T05:00:00Z", "prometheus.io/scrape": "true"}
		p.OwnerReferences = []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "app-5456b4b8cd", UID: "u", Controller: &ctrl}}
		p.ManagedFields = []metav1.ManagedFieldsEntry{
			{Manager: "kube-controller-manager", Operation: "Update", APIVersion: "v1", FieldsType: "FieldsV1", FieldsV1: &metav1.FieldsV1{Raw: fieldsV1(40)}},
			{Manager: "kubelet", Operation: "Update", APIVersion: "v1", Subresource: "status", FieldsType: "FieldsV1", FieldsV1: &metav1.FieldsV1{Raw: fieldsV1(30)}},
		}
		p.Spec.NodeName = "bench"
		p.Spec.Volumes = []corev1.Volume{{Name: "kube-api-access", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{
			{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Path: "token"}},
			{ConfigMap: &corev1.ConfigMapProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "kube-root-ca.crt"}, Items: []corev1.KeyToPath{{Key: "ca.crt", Path: "ca.crt"}}}}}}}}}
		p.Spec.Tolerations = []corev1.Toleration{{Key: "node.kubernetes.io/not-ready", Operator: "Exists", Effect: "NoExecute"}, {Key: "node.kubernetes.io/unreachable", Operator: "Exists", Effect: "NoExecute"}}
		p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: metav1.Now()},
			{Type: corev1.PodScheduled, Status: corev1.ConditionTrue, LastTransitionTime: metav1.Now()}}
		p.Status.PodIP, p.Status.HostIP = "10.0.0.1", "192.168.0.1"
		for j := range p.Spec.Containers {
			c := &p.Spec.Containers[j]
			c.Image = "registry.example.com/team/app:v1.2.3"
			for k := range 12 {
				c.Env = append(c.Env, corev1.EnvVar{Name: fmt.Sprintf("SETTING_%d", k), Value: "some-value-of-a-setting"})
			}
			c.VolumeMounts = []corev1.VolumeMount{{Name: "kube-api-access", MountPath: "/var/run/secrets/kubernetes.io/serviceaccount", ReadOnly: true}}
			c.Ports = []corev1.ContainerPort{{Name: "http", ContainerPort: 8080, Protocol: "TCP"}}
			c.ReadinessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/healthz"}}, PeriodSeconds: 10}
			st := &p.Status.ContainerStatuses[j]
			st.ContainerID = fmt.Sprintf("containerd://%064d", i*10+j)
			st.Image, st.ImageID = c.Image, "registry.example.com/team/app@sha256:0123456789abcdef"
			st.State.Running.StartedAt = metav1.Now()
			st.RestartCount = int32(j)
			if j == 2 {
				st.LastTerminationState.Terminated = &corev1.ContainerStateTerminated{Reason: "OOMKilled", ExitCode: 137}
			}
		}
		p.Spec.Containers[0].Resources.Requests[corev1.ResourceEphemeralStorage] = resource.MustParse("1Gi")
	}
	out, err := json.Marshal(l)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// fieldsV1 is a managed-fields set of n fields.
func fieldsV1(n int) []byte {
	b := []byte(`{"f:metadata":{`)
	for i := range n {
		if i > 0 {
			b = append(b, ',')
		}
		b = fmt.Appendf(b, `"f:field-%d":{".":{},"f:sub":{}}`, i)
	}
	return append(b, "}}"...)
}

func TestParsePodListMatchesFullDecode(t *testing.T) {
	for _, data := range [][]byte{realisticPodList(t), readFixture(t, "kubelet/pods-minikube.json")} {
		want, err := fullPodInfos(data)
		if err != nil {
			t.Fatal(err)
		}
		if got := podInfos(t, data); !reflect.DeepEqual(got, want) {
			t.Fatalf("ParsePodList differs from the full decode:\n got %+v\nwant %+v", got, want)
		}
	}
}

// BenchmarkParsePodList decodes a kubelet's /pods of 110 realistic pods into
// PodInfos: "api" with the API's types (the decoder before), "trimmed" with
// ParsePodList's.
func BenchmarkParsePodList(b *testing.B) {
	data := realisticPodList(b)
	b.Run("api", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := fullPodInfos(data); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("trimmed", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		for b.Loop() {
			podInfos(b, data)
		}
	})
}

// FuzzParsePodList: whatever the API's types decode, ParsePodList decodes
// to the same PodInfos (it may accept more: it does not parse what it
// skips, such as times).
func FuzzParsePodList(f *testing.F) {
	f.Add(readFixture(f, "kubelet/pods-minikube.json"))
	f.Add([]byte(`{"items":[{"metadata":{"name":"a","uid":"u"},"spec":{"containers":[{"name":"c","resources":{"limits":{"cpu":"1"}}}],"resources":{"limits":{"memory":"1Gi"}}},` +
		`"status":{"phase":"Running","conditions":[{"type":"Ready","status":"True"}],"containerStatuses":[{"name":"c","containerID":"docker://x","restartCount":2,` +
		`"state":{"waiting":{"reason":"CrashLoopBackOff"}},"lastState":{"terminated":{"reason":"OOMKilled"}}}]}}]}`))
	f.Add([]byte(`{"items":[{"status":{"containerStatuses":[{"state":{"running":null,"terminated":{}}}]}}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		want, err := fullPodInfos(data)
		if err != nil {
			return
		}
		pods, err := ParsePodList(data)
		if err != nil {
			t.Fatalf("full decode accepts, ParsePodList: %v", err)
		}
		got := make([]PodInfo, 0, len(pods))
		for i := range pods {
			got = append(got, PodInfoFromPod(&pods[i]))
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("differs:\n got %+v\nwant %+v", got, want)
		}
	})
}
