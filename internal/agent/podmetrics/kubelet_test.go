package podmetrics

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"log"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
)

// fakeKubelet is a stand-in for a kubelet (none can run here): an httptest
// TLS server serving the recorded fixtures on /stats/summary and /pods, with
// a bearer-token check and switchable failure modes.
type fakeKubelet struct {
	srv  *httptest.Server
	mu   sync.Mutex
	mode string // "", "hang", "huge", "garbage", "500"
}

const testToken = "test-token-0123"

func newFakeKubelet(t *testing.T) *fakeKubelet {
	f := &fakeKubelet{}
	summary := readFixture(t, "kubelet/otel-minikube-2020.json")
	pods := readFixture(t, "kubelet/pods-minikube.json")
	f.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+testToken {
			http.Error(w, "Unauthorized", http.StatusUnauthorized)
			return
		}
		f.mu.Lock()
		mode := f.mode
		f.mu.Unlock()
		switch mode {
		case "hang":
			<-r.Context().Done()
			return
		case "huge":
			w.Header().Set("Content-Type", "application/json")
			chunk := []byte(strings.Repeat(" ", 64<<10))
			for i := 0; i < 64; i++ { // 4 MiB, no Content-Length
				if _, err := w.Write(chunk); err != nil {
					return
				}
			}
			return
		case "garbage":
			_, _ = w.Write([]byte(`{"node": {"nodeName": "minikube", "cpu": [1,2`))
			return
		case "500":
			http.Error(w, "internal error", http.StatusInternalServerError)
			return
		}
		switch r.URL.Path {
		case "/stats/summary":
			_, _ = w.Write(summary)
		case "/pods":
			_, _ = w.Write(pods)
		default:
			http.NotFound(w, r)
		}
	}))
	// The wrong-CA case makes the client abort handshakes; not news.
	f.srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	f.srv.StartTLS()
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeKubelet) setMode(m string) {
	f.mu.Lock()
	f.mode = m
	f.mu.Unlock()
}

// files writes the server's CA and the token where a pod would have them.
func (f *fakeKubelet) files(t *testing.T, token string) (caFile, tokenFile string) {
	dir := t.TempDir()
	caFile, tokenFile = filepath.Join(dir, "ca.crt"), filepath.Join(dir, "token")
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: f.srv.Certificate().Raw})
	if err := os.WriteFile(caFile, ca, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(tokenFile, []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return caFile, tokenFile
}

func TestKubeletClient(t *testing.T) {
	f := newFakeKubelet(t)
	ca, tok := f.files(t, testToken)
	k, err := NewKubeletClient(KubeletOptions{URL: f.srv.URL, CAFile: ca, TokenFile: tok, Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	s, err := k.Summary(ctx, time.Now())
	if err != nil || s.Node.Name != "minikube" || len(s.Pods) != 3 {
		t.Fatalf("summary: %v", err)
	}
	pods, err := k.Pods(ctx)
	if err != nil || len(pods) != 4 || pods[0].Name != "kube-scheduler-minikube" {
		t.Fatalf("pods: %v %v", pods, err)
	}

	reason := func(err error) string {
		var ke *KubeletError
		if !errors.As(err, &ke) {
			return "not a KubeletError: " + err.Error()
		}
		return ke.Reason
	}
	// Timeout: a kubelet that never answers is cut off by Options.Timeout.
	short, err := NewKubeletClient(KubeletOptions{URL: f.srv.URL, CAFile: ca, TokenFile: tok, Timeout: 300 * time.Millisecond, MaxBodyBytes: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ mode, want string }{
		{"hang", errReasonTimeout}, {"huge", errReasonTooLarge}, {"garbage", errReasonDecode}, {"500", errReasonHTTPStatus},
	} {
		f.setMode(c.mode)
		_, err := short.Summary(ctx, time.Now())
		if err == nil || reason(err) != c.want {
			t.Errorf("%s: %v, want reason %s", c.mode, err, c.want)
		}
	}
	f.setMode("")

	// Wrong token, wrong CA, insecure mode.
	_, badTok := f.files(t, "wrong")
	kb, _ := NewKubeletClient(KubeletOptions{URL: f.srv.URL, CAFile: ca, TokenFile: badTok})
	if _, err := kb.Summary(ctx, time.Now()); err == nil || reason(err) != errReasonHTTPStatus || !strings.Contains(err.Error(), "401") {
		t.Errorf("bad token: %v", err)
	}
	// httptest servers share one certificate: another CA is made here.
	otherCA := filepath.Join(t.TempDir(), "other.crt")
	if err := os.WriteFile(otherCA, selfSignedPEM(t), 0o600); err != nil {
		t.Fatal(err)
	}
	kc, _ := NewKubeletClient(KubeletOptions{URL: f.srv.URL, CAFile: otherCA, TokenFile: tok})
	if _, err := kc.Summary(ctx, time.Now()); err == nil {
		t.Error("certificate of another CA accepted")
	}
	ki, _ := NewKubeletClient(KubeletOptions{URL: f.srv.URL, InsecureSkipVerify: true, TokenFile: tok})
	if _, err := ki.Summary(ctx, time.Now()); err != nil {
		t.Errorf("insecure: %v", err)
	}
	for _, o := range []KubeletOptions{{}, {URL: "10.0.0.1:10250"}, {URL: f.srv.URL, CAFile: filepath.Join(t.TempDir(), "none")}} {
		if _, err := NewKubeletClient(o); err == nil {
			t.Errorf("%+v: no error", o)
		}
	}
}

// TestCollectorKubelet runs the Collector against the stand-in kubelet
// through a pedantic Prometheus registry: two observations, the exported
// series, then failures counted and no stale values exposed.
func TestCollectorKubelet(t *testing.T) {
	f := newFakeKubelet(t)
	ca, tok := f.files(t, testToken)
	clock := time.Unix(1_700_000_000, 0)
	c, err := New(Options{
		ClusterName: "test", InstanceID: "i-0abc", NodeCPUCores: 2, NodeMemoryBytes: 4 << 30,
		Kubelet: &KubeletOptions{URL: f.srv.URL, CAFile: ca, TokenFile: tok, Timeout: 300 * time.Millisecond, MaxBodyBytes: 1 << 20},
		Now:     func() time.Time { return clock },
	})
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(c)
	ctx := context.Background()
	for i := 0; i < 2; i++ {
		if err := c.Observe(ctx); err != nil {
			t.Fatal(err)
		}
		clock = clock.Add(10 * time.Second)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	got := map[string][]*dto.Metric{}
	for _, mf := range mfs {
		got[mf.GetName()] = mf.GetMetric()
	}
	for _, name := range []string{"node_cpu_limit", "node_memory_utilization", "node_filesystem_utilization", "pod_memory_working_set",
		"pod_status_pending", "pod_container_status_waiting_reason_crash_loop_back_off", "container_memory_working_set",
		rawCPU, rawWorkingSet, rawRx, "kinsight_agent_podmetrics_collections_total"} {
		if len(got[name]) == 0 {
			t.Errorf("no %s series", name)
		}
	}
	// The same fixture twice is a kubelet serving one cached sample twice:
	// CPU falls back to the kubelet's own usageNanoCores, network (no such
	// rate) is left out.
	for _, m := range got["pod_cpu_usage_total"] {
		if labelOf(m, "PodName") == "kube-scheduler-minikube" && !near(m.GetGauge().GetValue(), 3.620103) {
			t.Errorf("kube-scheduler pod_cpu_usage_total %v, want usageNanoCores 3620103 / 1e6", m.GetGauge().GetValue())
		}
	}
	if len(got["pod_cpu_usage_total"]) != 3 {
		t.Errorf("%d pod_cpu_usage_total series, want 3", len(got["pod_cpu_usage_total"]))
	}
	if _, ok := got["pod_network_rx_bytes"]; ok {
		t.Error("pod_network_rx_bytes from an unchanged network.time")
	}
	if m := got["node_cpu_limit"][0]; m.GetGauge().GetValue() != 2000 || labelOf(m, "InstanceId") != "i-0abc" || labelOf(m, "NodeName") != "minikube" {
		t.Errorf("node_cpu_limit %v", m)
	}
	if n := len(got["pod_status_running"]); n != 4 {
		t.Errorf("%d pod_status_running series, want 4 (3 with stats, 1 pending)", n)
	}

	f.setMode("garbage")
	if err := c.Observe(ctx); err == nil {
		t.Fatal("garbage: no error")
	}
	f.setMode("hang")
	if err := c.Observe(ctx); err == nil {
		t.Fatal("hang: no error")
	}
	f.setMode("huge")
	if err := c.Observe(ctx); err == nil {
		t.Fatal("huge: no error")
	}
	for reason, want := range map[string]float64{errReasonDecode: 1, errReasonTimeout: 1, errReasonTooLarge: 1} {
		if v := testutil.ToFloat64(c.errs.WithLabelValues("kubelet_summary", reason)); v != want {
			t.Errorf("errors{%s} = %v", reason, v)
		}
	}
	if v := testutil.ToFloat64(c.collections.WithLabelValues("error")); v != 3 {
		t.Errorf("failed collections %v", v)
	}
	mfs, err = reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if strings.HasPrefix(mf.GetName(), "pod_") || strings.HasPrefix(mf.GetName(), "node_") {
			t.Errorf("stale %s exposed after a failed collection", mf.GetName())
		}
	}
	f.setMode("")
	if err := c.Observe(ctx); err != nil {
		t.Fatal(err)
	}
	if c.Last() == nil {
		t.Fatal("no result after recovery")
	}
}

func selfSignedPEM(t *testing.T) []byte {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "other CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

func labelOf(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

// TestDescribedNames: every name Compute can produce has a descriptor, so
// nothing is silently dropped at export.
func TestDescribedNames(t *testing.T) {
	ci, _ := buildDescs()
	s, err := ParseSummary(readFixture(t, "kubelet/otel-minikube-2020.json"), time.Unix(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	s2, _ := ParseSummary(readFixture(t, "kubelet/otel-minikube-2020.json"), time.Unix(10, 0))
	// Move every counter so that all rates exist.
	bump := func(c *CPUSample) { c.UsageCoreNanoSeconds += 1e9; c.Time = c.Time.Add(10 * time.Second) }
	bump(&s2.Node.CPU)
	s2.Node.Net.RxBytes += 10
	s2.Node.Net.Time = s2.Node.Net.Time.Add(10 * time.Second)
	for _, p := range s2.Pods {
		bump(&p.CPU)
		p.Net.RxBytes += 10
		p.Net.Time = p.Net.Time.Add(10 * time.Second)
		for _, c := range p.Containers {
			bump(&c.CPU)
		}
	}
	pods, _ := ParsePodList(readFixture(t, "kubelet/pods-minikube.json"))
	var infos []PodInfo
	for i := range pods {
		infos = append(infos, PodInfoFromPod(&pods[i]))
	}
	r := Compute(s, s2, infos, Env{NodeCPUCores: 2, NodeMemoryBytes: 1 << 30})
	names := map[string]bool{}
	for n := range r.Node {
		names[n] = true
	}
	for _, p := range r.Pods {
		for n := range p.Values {
			names[n] = true
		}
		for _, c := range p.Containers {
			for n := range c.Values {
				names[n] = true
			}
		}
	}
	for n := range names {
		if ci[n] == nil {
			t.Errorf("%s has no descriptor", n)
		}
	}
	if !names["pod_cpu_utilization_over_pod_limit"] || !names["container_cpu_utilization_over_container_limit"] || !names["node_network_total_bytes"] {
		t.Errorf("expected rate metrics missing: %v", names)
	}
}
