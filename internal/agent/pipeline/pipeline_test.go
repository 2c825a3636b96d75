package pipeline

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"

	"github.com/kinsight/kinsight/internal/agent/output/cloudwatch"
	"github.com/kinsight/kinsight/internal/config"
	"github.com/kinsight/kinsight/internal/server"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// startServer runs a real kinsight server on a loopback port and returns
// its address.
func startServer(t *testing.T) string { return startServerAt(t, "127.0.0.1:0") }

func startServerAt(t *testing.T, addr string) string {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	cfg := config.DefaultServer()
	cfg.Listen = ln.Addr().String()
	cfg.DataDir = t.TempDir()
	cfg.ShutdownTimeout = config.Duration(time.Second)
	cfg.Logs.MinFreeDiskBytes = 0
	srv, err := server.New(cfg, server.Options{Listener: ln, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		// Not a failure here: http.Server.Shutdown counts a connection the
		// SDK dialed but never used as active for 5s, longer than this
		// test server's shutdown timeout.
		if err := <-done; err != nil {
			t.Logf("server shutdown: %v", err)
		}
	})
	return ln.Addr().String()
}

// running is a pipeline started by start.
type running struct {
	p    *Pipeline
	stop func() error
}

func start(t *testing.T, addr, logDir, dataDir string) running {
	t.Helper()
	return startWith(t, addr, logDir, dataDir, nil)
}

// startWith starts a pipeline whose Config edit may change first.
func startWith(t *testing.T, addr, logDir, dataDir string, edit func(*Config)) running {
	t.Helper()
	out := cloudwatch.DefaultConfig()
	out.Endpoint = "http://" + addr
	out.AccessKeyID, out.SecretAccessKey = "test", "test"
	out.RetryBase = 10 * time.Millisecond
	out.RetryMax = 100 * time.Millisecond
	cfg := Config{
		ClusterName:        "test",
		HostName:           "node-1",
		DataDir:            dataDir,
		ContainerLogs:      []string{filepath.Join(logDir, "containers", "*.log")},
		HostLogs:           []string{filepath.Join(logDir, "host", "syslog")},
		Filter:             Filter{ExcludeNamespaces: []string{"kube-system"}},
		Output:             out,
		PollInterval:       20 * time.Millisecond,
		BatchWait:          50 * time.Millisecond,
		CheckpointInterval: 50 * time.Millisecond,
		DrainTimeout:       5 * time.Second,
		Logger:             quiet,
	}
	if edit != nil {
		edit(&cfg)
	}
	p, err := New(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	stopped := false
	stop := func() error {
		if stopped {
			return nil
		}
		stopped = true
		cancel()
		return <-done
	}
	t.Cleanup(func() { _ = stop() })
	return running{p: p, stop: stop}
}

// events reads a whole stream from the head (nil when it does not exist yet).
func events(t *testing.T, c *cloudwatchlogs.Client, group, stream string) []string {
	t.Helper()
	var msgs []string
	in := &cloudwatchlogs.GetLogEventsInput{LogGroupName: &group, LogStreamName: &stream, StartFromHead: aws.Bool(true)}
	for {
		// The output's client has retries off; reading back uses the SDK's
		// standard retryer, which retries the connection the SDK itself can
		// kill under a 200 answer on loopback (aws-sdk-go-v2 #1825, #2737).
		out, err := c.GetLogEvents(context.Background(), in, func(o *cloudwatchlogs.Options) {
			o.Retryer = retry.NewStandard(func(so *retry.StandardOptions) { so.MaxAttempts = 10 })
		})
		if err != nil {
			if strings.Contains(err.Error(), "ResourceNotFound") {
				return nil
			}
			t.Fatalf("GetLogEvents: %v", err)
		}
		for _, e := range out.Events {
			msgs = append(msgs, *e.Message)
		}
		if out.NextForwardToken == nil || (in.NextToken != nil && *in.NextToken == *out.NextForwardToken) || len(out.Events) == 0 {
			return msgs
		}
		in.NextToken = out.NextForwardToken
	}
}

// waitEvents polls until the stream holds at least n events, then returns
// them all.
func waitEvents(t *testing.T, c *cloudwatchlogs.Client, group, stream string, n int) []string {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		got := events(t, c, group, stream)
		if len(got) >= n || time.Now().After(deadline) {
			return got
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func appendFile(t *testing.T, path string, lines ...string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, l := range lines {
		if _, err := f.WriteString(l + "\n"); err != nil {
			t.Fatal(err)
		}
	}
}

// criWriter writes numbered CRI lines with increasing timestamps and
// remembers what the agent must deliver.
type criWriter struct {
	base time.Time
	n    int
	want []string // expected "log" fields
	time []string // expected "time" fields
}

func (w *criWriter) lines(k int) []string {
	var out []string
	for range k {
		ts := w.base.Add(time.Duration(w.n) * time.Millisecond).Format(time.RFC3339Nano)
		msg := fmt.Sprintf("line %d", w.n)
		if w.n%7 == 3 { // a runtime split: P then F, joined by the parser
			out = append(out, ts+" stdout P "+msg+" part-a ", ts+" stdout F part-b")
			msg += " part-a part-b"
		} else {
			out = append(out, ts+" stdout F "+msg)
		}
		w.want = append(w.want, msg)
		w.time = append(w.time, ts)
		w.n++
	}
	return out
}

func checkContainer(t *testing.T, got []string, w *criWriter, pod, ns, ctr, id string) {
	t.Helper()
	if len(got) != len(w.want) {
		t.Fatalf("got %d events, want %d (exactly once):\n%s", len(got), len(w.want), strings.Join(got, "\n"))
	}
	for i, m := range got {
		var rec struct {
			Log, Stream, Time string
			Kubernetes        map[string]string
		}
		if err := json.Unmarshal([]byte(m), &rec); err != nil {
			t.Fatalf("event %d is not JSON: %v: %s", i, err, m)
		}
		if rec.Log != w.want[i] || rec.Stream != "stdout" || rec.Time != w.time[i] {
			t.Fatalf("event %d = %s, want log %q time %s", i, m, w.want[i], w.time[i])
		}
		k := rec.Kubernetes
		if k["pod_name"] != pod || k["namespace_name"] != ns || k["container_name"] != ctr || k["docker_id"] != id || k["host"] != "node-1" {
			t.Fatalf("event %d kubernetes = %v", i, k)
		}
	}
}

// TestContainerLogsRotationAndRestart follows a kubelet-style layout
// (/var/log/containers links into /var/log/pods) through a rotation and an
// agent restart, and checks every line arrives exactly once, in order.
func TestContainerLogsRotationAndRestart(t *testing.T) {
	addr := startServer(t)
	logDir, dataDir := t.TempDir(), t.TempDir()
	id := strings.Repeat("ab12", 16)
	podDir := filepath.Join(logDir, "pods", "shop_web-7d9f_1234", "app")
	for _, d := range []string{podDir, filepath.Join(logDir, "containers")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	target := filepath.Join(podDir, "0.log")
	linkName := "web-7d9f_shop_app-" + id
	if err := os.Symlink(target, filepath.Join(logDir, "containers", linkName+".log")); err != nil {
		t.Fatal(err)
	}
	w := &criWriter{base: time.Now().Add(-time.Minute).UTC()}
	appendFile(t, target, w.lines(10)...)

	r := start(t, addr, logDir, dataDir)
	client := r.p.Output().Client()
	group := "/aws/containerinsights/test/application"
	appendFile(t, target, w.lines(10)...)
	waitEvents(t, client, group, linkName, 20)
	// kubelet rotates by renaming and reopening.
	if err := os.Rename(target, target+".20261122-024000"); err != nil {
		t.Fatal(err)
	}
	appendFile(t, target, w.lines(10)...)
	checkContainer(t, waitEvents(t, client, group, linkName, 30), w, "web-7d9f", "shop", "app", id)

	if err := r.stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	appendFile(t, target, w.lines(10)...)
	r = start(t, addr, logDir, dataDir)
	waitEvents(t, client, group, linkName, 40)
	appendFile(t, target, w.lines(5)...)
	waitEvents(t, client, group, linkName, 45)
	if err := r.stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	checkContainer(t, events(t, client, group, linkName), w, "web-7d9f", "shop", "app", id)
}

// TestHostLogsAndExclusion ships a host log raw to the host group, and
// nothing of an excluded namespace.
func TestHostLogsAndExclusion(t *testing.T) {
	addr := startServer(t)
	logDir, dataDir := t.TempDir(), t.TempDir()
	for _, d := range []string{"host", "containers"} {
		if err := os.MkdirAll(filepath.Join(logDir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	excluded := filepath.Join(logDir, "containers", "coredns-1_kube-system_coredns-"+strings.Repeat("0", 64)+".log")
	appendFile(t, excluded, time.Now().UTC().Format(time.RFC3339Nano)+" stdout F ignored")
	syslog := filepath.Join(logDir, "host", "syslog")
	want := []string{"Nov 22 02:40:00 node-1 kernel: one", "Nov 22 02:40:01 node-1 systemd[1]: two {not json}"}
	appendFile(t, syslog, want[0])

	r := start(t, addr, logDir, dataDir)
	client := r.p.Output().Client()
	appendFile(t, syslog, want[1])
	got := waitEvents(t, client, "/aws/containerinsights/test/host", "node-1.syslog", 2)
	if err := r.stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("host events = %q, want %q", got, want)
	}
	streams, err := client.DescribeLogStreams(context.Background(), &cloudwatchlogs.DescribeLogStreamsInput{
		LogGroupName: aws.String("/aws/containerinsights/test/application"),
	})
	if err == nil && len(streams.LogStreams) > 0 {
		t.Fatalf("an excluded namespace was shipped: %v", *streams.LogStreams[0].LogStreamName)
	}
	// The excluded file's lines count as done: a restart does not read them.
	if r.p.cp.Len() < 2 {
		t.Fatalf("checkpoints hold %d files, want the host log and the excluded one", r.p.cp.Len())
	}
}

// TestServerDownAtFirst starts the agent before its server: sends fail and
// are retried, and once the server is up every line arrives exactly once.
func TestServerDownAtFirst(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	logDir, dataDir := t.TempDir(), t.TempDir()
	if err := os.MkdirAll(filepath.Join(logDir, "host"), 0o755); err != nil {
		t.Fatal(err)
	}
	syslog := filepath.Join(logDir, "host", "syslog")
	var want []string
	for i := range 20 {
		want = append(want, fmt.Sprintf("host line %d", i))
	}
	appendFile(t, syslog, want[:10]...)
	r := start(t, addr, logDir, dataDir)
	time.Sleep(300 * time.Millisecond) // a few failed sends
	appendFile(t, syslog, want[10:]...)
	startServerAt(t, addr)
	got := waitEvents(t, r.p.Output().Client(), "/aws/containerinsights/test/host", "node-1.syslog", len(want))
	if err := r.stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("events = %q, want %q", got, want)
	}
}
