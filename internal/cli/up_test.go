package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
)

// syncBuffer is a bytes.Buffer safe to write from the command's goroutine
// while the test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestUpServesAndShipsHostLogs runs `kinsight up` in-process on a free port,
// with the agent's host log pointed at a temp file, and checks the banner,
// /healthz, and a clean exit when the context ends.
func TestUpServesAndShipsHostLogs(t *testing.T) {
	dir := t.TempDir()
	hostLog := filepath.Join(dir, "syslog")
	if err := os.WriteFile(hostLog, []byte("Nov 22 02:40:00 node kernel: hello\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfgFile := filepath.Join(dir, "kinsight.yaml")
	cfg := "agent:\n  cluster_name: uptest\n  host_name: node\n  container_logs: " + filepath.Join(dir, "containers", "*.log") +
		"\n  host_logs: [" + hostLog + "]\nserver:\n  shutdown_timeout: 10s\n  logs:\n    min_free_disk_bytes: 0\n"
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
	for deadline := time.Now().Add(10 * time.Second); base == "" && time.Now().Before(deadline); {
		select {
		case code := <-done:
			t.Fatalf("up exited with %d:\n%s\n%s", code, out.String(), errOut.String())
		case <-time.After(20 * time.Millisecond):
		}
		if m := addrRe.FindStringSubmatch(out.String()); m != nil {
			base = m[1]
		}
	}
	if base == "" {
		t.Fatalf("no banner:\n%s\n%s", out.String(), errOut.String())
	}
	if want := "kinsight logs tail /aws/containerinsights/uptest/host -f"; !strings.Contains(out.String(), want) {
		t.Errorf("banner lacks %q:\n%s", want, out.String())
	}
	resp, err := http.Get(base + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/healthz = %d", resp.StatusCode)
	}
	// The agent ships the host log to the server it runs beside.
	client := cloudwatchlogs.New(cloudwatchlogs.Options{
		Region: "us-east-1", BaseEndpoint: aws.String(base),
		Credentials: credentials.NewStaticCredentialsProvider("x", "x", ""),
	})
	var got []string
	for deadline := time.Now().Add(10 * time.Second); len(got) == 0 && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		res, err := client.GetLogEvents(context.Background(), &cloudwatchlogs.GetLogEventsInput{
			LogGroupName: aws.String("/aws/containerinsights/uptest/host"), LogStreamName: aws.String("node.syslog"), StartFromHead: aws.Bool(true),
		})
		if err == nil {
			for _, e := range res.Events {
				got = append(got, *e.Message)
			}
		}
	}
	if len(got) != 1 || got[0] != "Nov 22 02:40:00 node kernel: hello" {
		t.Fatalf("host log events = %q", got)
	}
	// The agent's node metrics reach the server's metric store by remote
	// write over loopback: the banner's metrics query answers.
	if want := "kinsight metrics query 'node_load1'"; !strings.Contains(out.String(), want) {
		t.Errorf("banner lacks %q:\n%s", want, out.String())
	}
	var series []map[string]string
	for deadline := time.Now().Add(30 * time.Second); len(series) == 0 && time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		series = queryLabels(t, base, "node_load1")
	}
	if len(series) != 1 || series[0]["instance"] != "node" || series[0]["job"] != "kinsight-agent" {
		t.Fatalf("node_load1 series = %v, want one with instance=node, job=kinsight-agent:\n%s", series, errOut.String())
	}
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("up exited with %d:\n%s", code, errOut.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatal("up did not stop")
	}
	// The agent saved its checkpoints in the server's data dir.
	if _, err := os.Stat(filepath.Join(dir, "data", "agent", "checkpoints")); err != nil {
		t.Errorf("agent checkpoints: %v", err)
	}
}

// queryLabels runs an instant query on the server at base and returns the
// label sets of its vector result (nil on any error).
func queryLabels(t *testing.T, base, query string) []map[string]string {
	t.Helper()
	resp, err := http.Get(base + "/api/v1/query?query=" + url.QueryEscape(query))
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	var r struct {
		Data struct {
			Result []struct {
				Metric map[string]string `json:"metric"`
			} `json:"result"`
		} `json:"data"`
	}
	if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&r) != nil {
		return nil
	}
	var out []map[string]string
	for _, s := range r.Data.Result {
		out = append(out, s.Metric)
	}
	return out
}

func TestAgentRejectsBadConfig(t *testing.T) {
	var out, errOut syncBuffer
	code := Run(t.Context(), []string{"agent", "--config", "../config/testdata/agent.bad.yaml"}, func(string) string { return "" }, nil, &out, &errOut)
	if code != 1 || !strings.Contains(errOut.String(), "agent.output.compression") {
		t.Fatalf("code %d, stderr:\n%s", code, errOut.String())
	}
}
