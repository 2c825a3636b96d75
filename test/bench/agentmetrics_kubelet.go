package main

import (
	"context"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	kubeletstats "k8s.io/kubelet/pkg/apis/stats/v1alpha1"
)

// fakeKubelet stands in for bench-node's kubelet: no kubelet can run here
// (it needs a container runtime), so the harness serves the two endpoints
// the agent reads, GET /stats/summary and GET /pods, over HTTPS with a
// kubelet's authentication: the bearer token is checked with a TokenReview
// and the request authorized with a SubjectAccessReview (get nodes/stats,
// get nodes/proxy) against the real API server, cached as the kubelet's
// webhook does (2 and 5 minutes).
//
// The summary has the shape of the recorded kubelet fixtures
// (internal/agent/podmetrics/testdata/kubelet: node with cpu, memory,
// network interfaces, fs, runtime imageFs, rlimit; per pod cpu, memory,
// network, ephemeral-storage, per container cpu, memory, rootfs, logs),
// generated for the benchmark's pods with values that move at every
// request: CPU counters grow at each container's rate, working sets swing,
// network counters grow.
type fakeKubelet struct {
	srv    *httptest.Server
	caFile string
	cs     kubernetes.Interface

	podsBody []byte

	mu      sync.Mutex
	start   time.Time
	last    time.Time
	r       *rand.Rand
	pods    []*metricsPod
	state   map[*metricsContainer]*containerCounters
	podNet  []netCounters
	nodeCPU uint64 // ns
	nodeNet netCounters
	authOK  map[string]time.Time // token+path class → until

	summaries, podLists, denied atomic.Int64
	summaryBytes                atomic.Int64
}

type containerCounters struct {
	cpuNs   uint64
	phase   float64
	rootfs  uint64
	logs    uint64
	started time.Time
}

type netCounters struct{ rx, tx uint64 }

// newFakeKubelet prepares the stand-in for pods (their UIDs set) and
// apiPods (the API's objects, served on /pods); cs checks tokens.
func newFakeKubelet(cs kubernetes.Interface, pods []*metricsPod, apiPods []corev1.Pod, seed uint64, now time.Time) (*fakeKubelet, error) {
	k := &fakeKubelet{cs: cs, start: now, last: now, r: rand.New(rand.NewPCG(seed, 0x6b75)),
		pods: pods, state: map[*metricsContainer]*containerCounters{}, podNet: make([]netCounters, len(pods)),
		authOK: map[string]time.Time{}}
	for _, p := range pods {
		for _, c := range p.Containers {
			k.state[c] = &containerCounters{
				cpuNs: uint64(k.r.IntN(3600)) * 1e9, phase: 2 * math.Pi * k.r.Float64(),
				rootfs: uint64(16<<10 + k.r.IntN(64<<20)), logs: uint64(4<<10 + k.r.IntN(8<<20)),
				started: now.Add(-time.Duration(1+k.r.IntN(72)) * time.Hour).Truncate(time.Second),
			}
		}
	}
	list := corev1.PodList{TypeMeta: metav1.TypeMeta{Kind: "PodList", APIVersion: "v1"}, Items: apiPods}
	var err error
	if k.podsBody, err = json.Marshal(list); err != nil {
		return nil, err
	}
	return k, nil
}

// startTLS serves the stand-in on a loopback port with a self-signed
// certificate, written to caFile for the agent's kubelet_ca_file.
func (k *fakeKubelet) startTLS(caFile string) error {
	k.caFile = caFile
	k.srv = httptest.NewUnstartedServer(http.HandlerFunc(k.serve))
	k.srv.StartTLS()
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: k.srv.Certificate().Raw})
	if err := os.WriteFile(caFile, ca, 0o644); err != nil {
		k.srv.Close()
		return err
	}
	return nil
}

func (k *fakeKubelet) url() string { return k.srv.URL }
func (k *fakeKubelet) close()      { k.srv.Close() }

func (k *fakeKubelet) serve(w http.ResponseWriter, r *http.Request) {
	var sub string
	switch r.URL.Path {
	case "/stats/summary":
		sub = "stats"
	case "/pods":
		sub = "proxy"
	default:
		http.NotFound(w, r)
		return
	}
	if code, msg := k.authorize(r.Context(), r.Header.Get("Authorization"), sub); code != http.StatusOK {
		k.denied.Add(1)
		http.Error(w, msg, code)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	if sub == "proxy" {
		k.podLists.Add(1)
		w.Write(k.podsBody)
		return
	}
	body, err := json.Marshal(k.summary(time.Now()))
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	k.summaries.Add(1)
	k.summaryBytes.Add(int64(len(body)))
	w.Write(body)
}

// authorize is the kubelet's webhook authentication and authorization of
// a request for nodes/<sub> of bench-node.
func (k *fakeKubelet) authorize(ctx context.Context, header, sub string) (int, string) {
	token, ok := strings.CutPrefix(header, "Bearer ")
	if !ok || token == "" {
		return http.StatusUnauthorized, "Unauthorized"
	}
	key := sub + " " + token
	k.mu.Lock()
	until, cached := k.authOK[key]
	k.mu.Unlock()
	if cached && time.Now().Before(until) {
		return http.StatusOK, ""
	}
	tr, err := k.cs.AuthenticationV1().TokenReviews().Create(ctx, &authenticationv1.TokenReview{
		Spec: authenticationv1.TokenReviewSpec{Token: token},
	}, metav1.CreateOptions{})
	if err != nil {
		return http.StatusInternalServerError, err.Error()
	}
	if !tr.Status.Authenticated {
		return http.StatusUnauthorized, "Unauthorized"
	}
	u := tr.Status.User
	extra := map[string]authorizationv1.ExtraValue{}
	for name, v := range u.Extra {
		extra[name] = authorizationv1.ExtraValue(v)
	}
	sar, err := k.cs.AuthorizationV1().SubjectAccessReviews().Create(ctx, &authorizationv1.SubjectAccessReview{
		Spec: authorizationv1.SubjectAccessReviewSpec{
			User: u.Username, UID: u.UID, Groups: u.Groups, Extra: extra,
			ResourceAttributes: &authorizationv1.ResourceAttributes{Verb: "get", Resource: "nodes", Subresource: sub, Name: benchNode},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		return http.StatusInternalServerError, err.Error()
	}
	if !sar.Status.Allowed {
		return http.StatusForbidden, fmt.Sprintf("Forbidden (user=%s, verb=get, resource=nodes, subresource=%s)", u.Username, sub)
	}
	k.mu.Lock()
	k.authOK[key] = time.Now().Add(2 * time.Minute)
	k.mu.Unlock()
	return http.StatusOK, ""
}

func u64(v uint64) *uint64 { return &v }

// summary advances every counter to now and returns the node's summary.
func (k *fakeKubelet) summary(now time.Time) *kubeletstats.Summary {
	k.mu.Lock()
	defer k.mu.Unlock()
	dt := now.Sub(k.last).Seconds()
	k.last = now
	t := metav1.NewTime(now)
	age := now.Sub(k.start).Seconds()
	s := &kubeletstats.Summary{Pods: make([]kubeletstats.PodStats, 0, len(k.pods))}
	var nodeWS, nodeUsage, nodeRSS, nodeRate float64
	for i, p := range k.pods {
		ps := kubeletstats.PodStats{
			PodRef:    kubeletstats.PodReference{Name: p.Name, Namespace: p.Namespace, UID: p.UID},
			StartTime: metav1.NewTime(k.start.Add(-72 * time.Hour).Truncate(time.Second)),
		}
		var podNs uint64
		var podRate, podWS, podUsage, podRSS float64
		for _, c := range p.Containers {
			st := k.state[c]
			// The rate wanders ±50% around the mean, a new value per read.
			rate := c.CPUMilli * (0.5 + k.r.Float64()) * 1e6 // nanocores
			st.cpuNs += uint64(rate * dt)
			ws := c.MemBytes * (1 + 0.1*math.Sin(age/60+st.phase))
			usage, rss := ws*1.25, ws*0.8
			st.rootfs += uint64(k.r.IntN(4096))
			st.logs += uint64(k.r.IntN(16 << 10))
			ps.Containers = append(ps.Containers, kubeletstats.ContainerStats{
				Name: c.Name, StartTime: metav1.NewTime(st.started),
				CPU:    &kubeletstats.CPUStats{Time: t, UsageNanoCores: u64(uint64(rate)), UsageCoreNanoSeconds: u64(st.cpuNs)},
				Memory: memStats(t, ws, usage, rss),
				Rootfs: fsStats(t, st.rootfs, 100<<30, 60<<30),
				Logs:   fsStats(t, st.logs, 100<<30, 60<<30),
			})
			podNs += st.cpuNs
			podRate += rate
			podWS, podUsage, podRSS = podWS+ws, podUsage+usage, podRSS+rss
		}
		n := &k.podNet[i]
		n.rx += uint64((20e3 + 200e3*k.r.Float64()) * dt)
		n.tx += uint64((10e3 + 100e3*k.r.Float64()) * dt)
		ps.CPU = &kubeletstats.CPUStats{Time: t, UsageNanoCores: u64(uint64(podRate)), UsageCoreNanoSeconds: u64(podNs)}
		ps.Memory = memStats(t, podWS, podUsage, podRSS)
		ps.Network = &kubeletstats.NetworkStats{Time: t,
			InterfaceStats: kubeletstats.InterfaceStats{Name: "eth0", RxBytes: u64(n.rx), RxErrors: u64(0), TxBytes: u64(n.tx), TxErrors: u64(0)},
			Interfaces:     []kubeletstats.InterfaceStats{{Name: "eth0", RxBytes: u64(n.rx), RxErrors: u64(0), TxBytes: u64(n.tx), TxErrors: u64(0)}},
		}
		ps.EphemeralStorage = fsStats(t, 64<<20+uint64(i)<<20, 100<<30, 60<<30)
		s.Pods = append(s.Pods, ps)
		nodeWS, nodeUsage, nodeRSS, nodeRate = nodeWS+podWS, nodeUsage+podUsage, nodeRSS+podRSS, nodeRate+podRate
	}
	// The node: its pods plus 300 millicores and 1 GiB of system use.
	nodeRate += 300e6
	k.nodeCPU += uint64(nodeRate * dt)
	k.nodeNet.rx += uint64(30e6 * dt)
	k.nodeNet.tx += uint64(15e6 * dt)
	const mem = 8 << 30
	nodeWS, nodeUsage, nodeRSS = nodeWS+1<<30, nodeUsage+1.5*(1<<30), nodeRSS+0.8*(1<<30)
	nm := memStats(t, nodeWS, nodeUsage, nodeRSS)
	nm.AvailableBytes = u64(uint64(max(0, mem-nodeWS)))
	s.Node = kubeletstats.NodeStats{
		NodeName: benchNode, StartTime: metav1.NewTime(k.start.Add(-96 * time.Hour).Truncate(time.Second)),
		CPU:    &kubeletstats.CPUStats{Time: t, UsageNanoCores: u64(uint64(nodeRate)), UsageCoreNanoSeconds: u64(k.nodeCPU)},
		Memory: nm,
		Network: &kubeletstats.NetworkStats{Time: t,
			InterfaceStats: kubeletstats.InterfaceStats{Name: "eth0", RxBytes: u64(k.nodeNet.rx), RxErrors: u64(0), TxBytes: u64(k.nodeNet.tx), TxErrors: u64(0)},
			Interfaces: []kubeletstats.InterfaceStats{
				{Name: "eth0", RxBytes: u64(k.nodeNet.rx), RxErrors: u64(0), TxBytes: u64(k.nodeNet.tx), TxErrors: u64(0)},
				{Name: "cni0", RxBytes: u64(k.nodeNet.tx / 2), RxErrors: u64(0), TxBytes: u64(k.nodeNet.rx / 2), TxErrors: u64(0)},
			},
		},
		Fs:      fsStats(t, 38<<30, 100<<30, 60<<30),
		Runtime: &kubeletstats.RuntimeStats{ImageFs: fsStats(t, 21<<30, 100<<30, 60<<30)},
		Rlimit:  &kubeletstats.RlimitStats{Time: t, MaxPID: new(int64(4194304)), NumOfRunningProcesses: new(int64(900))},
	}
	return s
}

func memStats(t metav1.Time, ws, usage, rss float64) *kubeletstats.MemoryStats {
	return &kubeletstats.MemoryStats{Time: t, WorkingSetBytes: u64(uint64(ws)), UsageBytes: u64(uint64(usage)), RSSBytes: u64(uint64(rss)),
		PageFaults: u64(uint64(rss / 4096)), MajorPageFaults: u64(0)}
}

func fsStats(t metav1.Time, used, capacity, avail uint64) *kubeletstats.FsStats {
	return &kubeletstats.FsStats{Time: t, UsedBytes: u64(used), CapacityBytes: u64(capacity), AvailableBytes: u64(avail),
		Inodes: u64(6553600), InodesFree: u64(6000000), InodesUsed: u64(553600)}
}
