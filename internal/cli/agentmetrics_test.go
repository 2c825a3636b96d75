package cli

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"

	"github.com/kinsight/kinsight/internal/config"
)

// TestRemoteWriteEndpoints checks where the metric side ships: the
// configured endpoints with their secrets read from files, else the
// kinsight server of output signed with output's key, else nowhere.
func TestRemoteWriteEndpoints(t *testing.T) {
	dir := t.TempDir()
	pw, tok := filepath.Join(dir, "pw"), filepath.Join(dir, "tok")
	if err := os.WriteFile(pw, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(tok, []byte(" tkn\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	a := config.DefaultAgent()
	a.Output.Endpoint, a.Output.AccessKeyID, a.Output.SecretAccessKey = "http://kinsight:8470/", "AKID", "secret"
	eps, err := remoteWriteEndpoints(a)
	if err != nil {
		t.Fatal(err)
	}
	if len(eps) != 1 || eps[0].URL != "http://kinsight:8470/api/v1/write" || eps[0].SigV4 == nil ||
		eps[0].SigV4.AccessKey != "AKID" || eps[0].SigV4.SecretKey != "secret" || eps[0].SigV4.Region != "us-east-1" {
		t.Errorf("derived endpoint = %+v", eps)
	}

	a.Metrics.RemoteWrite = []config.AgentRemoteWrite{
		{URL: "http://prom/api/v1/write", BasicAuth: &config.AgentBasicAuth{Username: "u", PasswordFile: pw}},
		{URL: "http://mimir/push", BearerTokenFile: tok, Headers: map[string]string{"X-Scope-OrgID": "t"}},
		{URL: "https://aps/api/v1/remote_write", SigV4: &config.AgentSigV4{Region: "eu-west-1"}},
	}
	eps, err = remoteWriteEndpoints(a)
	if err != nil {
		t.Fatal(err)
	}
	if len(eps) != 3 {
		t.Fatalf("%d endpoints, want the 3 configured (not the derived one)", len(eps))
	}
	if b := eps[0].BasicAuth; b == nil || b.Username != "u" || b.Password != "s3cret" {
		t.Errorf("basic auth = %+v", b)
	}
	if eps[1].BearerToken != "tkn" || eps[1].Headers["X-Scope-OrgID"] != "t" {
		t.Errorf("bearer endpoint = %+v", eps[1])
	}
	if s := eps[2].SigV4; s == nil || s.Region != "eu-west-1" || s.AccessKey != "" {
		t.Errorf("sigv4 = %+v", s)
	}

	a.Metrics.RemoteWrite[0].BasicAuth.PasswordFile = filepath.Join(dir, "missing")
	if _, err := remoteWriteEndpoints(a); err == nil {
		t.Error("a missing password_file is not an error")
	}

	a.Metrics.RemoteWrite = nil
	for _, out := range []config.AgentOutput{{Type: "cloudwatch"}, {Type: "stdout", Endpoint: "http://kinsight:8470"}} {
		a.Output = out
		if eps, err := remoteWriteEndpoints(a); err != nil || len(eps) != 0 {
			t.Errorf("output %+v: endpoints %+v, %v; want none", out, eps, err)
		}
	}
}

// TestUpMetricsEndpointHangs runs `kinsight up` with its metrics shipped to
// an endpoint that accepts requests and never answers: the host log still
// reaches the server, node collections go on (counted on /metrics), and
// the process still stops promptly.
func TestUpMetricsEndpointHangs(t *testing.T) {
	hang := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		// The body read, the server notices the client hanging up.
		_, _ = io.Copy(io.Discard, r.Body)
		<-r.Context().Done()
	}))
	defer hang.Close()
	dir := t.TempDir()
	hostLog := filepath.Join(dir, "syslog")
	if err := os.WriteFile(hostLog, []byte("Nov 22 02:40:00 node kernel: hello\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfgFile := filepath.Join(dir, "kinsight.yaml")
	cfg := "agent:\n  cluster_name: uptest\n  host_name: node\n  container_logs: " + filepath.Join(dir, "containers", "*.log") +
		"\n  host_logs: [" + hostLog + "]\n  metrics:\n    interval: 10s\n    remote_write: [{url: " + hang.URL + "/api/v1/write}]\n" +
		"server:\n  shutdown_timeout: 10s\n  logs:\n    min_free_disk_bytes: 0\n"
	if err := os.WriteFile(cfgFile, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errOut syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- Run(ctx, []string{"up", "--config", cfgFile, "--listen", "127.0.0.1:0", "--data-dir", filepath.Join(dir, "data")},
			func(string) string { return "" }, nil, &out, &errOut)
	}()
	addrRe := regexp.MustCompile(`running on (http://127\.0\.0\.1:\d+)`)
	var base string
	for deadline := time.Now().Add(10 * time.Second); base == "" && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if m := addrRe.FindStringSubmatch(out.String()); m != nil {
			base = m[1]
		}
	}
	if base == "" {
		t.Fatalf("no banner:\n%s\n%s", out.String(), errOut.String())
	}
	client := cloudwatchlogs.New(cloudwatchlogs.Options{
		Region: "us-east-1", BaseEndpoint: aws.String(base),
		Credentials: credentials.NewStaticCredentialsProvider("x", "x", ""),
	})
	shipped := false
	for deadline := time.Now().Add(10 * time.Second); !shipped && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		res, err := client.GetLogEvents(context.Background(), &cloudwatchlogs.GetLogEventsInput{
			LogGroupName: aws.String("/aws/containerinsights/uptest/host"), LogStreamName: aws.String("node.syslog"), StartFromHead: aws.Bool(true),
		})
		shipped = err == nil && len(res.Events) == 1
	}
	if !shipped {
		t.Fatalf("the host log did not ship while the metrics endpoint hangs:\n%s", errOut.String())
	}
	// The first node collection is appended at start, whatever the
	// endpoint does; nothing reached the server's metric store.
	metrics := func() string {
		resp, err := http.Get(base + "/metrics")
		if err != nil {
			return ""
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	okRe := regexp.MustCompile(`(?m)^kinsight_agent_metrics_collections_total\{result="ok",source="node"\} [1-9]`)
	if m := metrics(); !okRe.MatchString(m) {
		t.Errorf("no node collection counted on /metrics:\n%s", grepLines(m, "kinsight_agent_metrics_"))
	}
	if s := queryLabels(t, base, "node_load1"); len(s) != 0 {
		t.Errorf("node_load1 reached the server although metrics go elsewhere: %v", s)
	}
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("up exited with %d:\n%s", code, errOut.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatal("up did not stop with a hanging metrics endpoint")
	}
}

// grepLines returns the lines of s containing sub.
func grepLines(s, sub string) string {
	var b strings.Builder
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			b.WriteString(l + "\n")
		}
	}
	return b.String()
}
