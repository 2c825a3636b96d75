package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
)

// agentProc is `kinsight agent` running as a child process, with its
// checkpoints and disk buffer in dataDir (kept across restarts) and its
// /metrics and /healthz on addr.
type agentProc struct {
	t       testing.TB
	config  string
	dataDir string
	addr    string
	cmd     *exec.Cmd
	exited  chan struct{}
	waitErr error
	cred    *syscall.Credential // run as this user; nil: as the test
	// out collects every run's stdout and stderr (the agent logs there).
	mu  sync.Mutex
	out bytes.Buffer
}

// agentOpts are the agent settings a test varies.
type agentOpts struct {
	glob        string // container_logs
	memoryBytes int64  // 0: the default
	diskBytes   int64  // 0: the default
}

// startAgent writes a config for an agent shipping o.glob to srv with the
// agent key, starts it and waits until /healthz answers.
func startAgent(t testing.TB, srv *serverProc, o agentOpts) *agentProc {
	t.Helper()
	return startAgentAs(t, srv, o, nil)
}

// startAgentAs is startAgent with the agent running as user cred (nil: as
// the test); its data dir, config and binary are made reachable to it.
func startAgentAs(t testing.TB, srv *serverProc, o agentOpts, cred *syscall.Credential) *agentProc {
	t.Helper()
	a := &agentProc{t: t, dataDir: t.TempDir(), addr: freeAddr(t), cred: cred}
	var b strings.Builder
	fmt.Fprintf(&b, "agent:\n  cluster_name: e2e\n  host_name: node-1\n  data_dir: %q\n", a.dataDir)
	fmt.Fprintf(&b, "  listen: %q\n  container_logs: %q\n  host_logs: []\n", a.addr, o.glob)
	// Hermetic: no API server, no journal of the machine running the test.
	fmt.Fprintf(&b, "  kubernetes: {enabled: \"false\"}\n  dataplane: {journal_units: []}\n")
	if o.memoryBytes > 0 || o.diskBytes > 0 {
		fmt.Fprintf(&b, "  buffer:\n")
		if o.memoryBytes > 0 {
			fmt.Fprintf(&b, "    memory_bytes: %d\n", o.memoryBytes)
		}
		if o.diskBytes > 0 {
			fmt.Fprintf(&b, "    disk_bytes: %d\n", o.diskBytes)
		}
	}
	fmt.Fprintf(&b, "  output:\n    endpoint: %q\n    access_key_id: %s\n    secret_access_key: %s\n",
		srv.url(), agentKey, agentSecret)
	fmt.Fprintf(&b, "log:\n  level: info\n")
	a.config = filepath.Join(t.TempDir(), "agent.yaml")
	if err := os.WriteFile(a.config, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	if cred != nil {
		for _, p := range []string{a.dataDir, filepath.Dir(a.config), filepath.Dir(binary)} {
			for d := p; d != os.TempDir() && d != filepath.Dir(d); d = filepath.Dir(d) {
				if err := os.Chmod(d, 0o755); err != nil {
					t.Fatal(err)
				}
			}
		}
		if err := os.Chown(a.dataDir, int(cred.Uid), int(cred.Gid)); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(a.config, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	a.start()
	t.Cleanup(a.stop)
	return a
}

func (a *agentProc) start() {
	a.t.Helper()
	a.cmd = exec.Command(binary, "agent", "-c", a.config)
	if a.cred != nil {
		a.cmd.SysProcAttr = &syscall.SysProcAttr{Credential: a.cred}
	}
	w := agentWriter{a}
	a.cmd.Stdout, a.cmd.Stderr = w, w
	if err := a.cmd.Start(); err != nil {
		a.t.Fatal(err)
	}
	exited := make(chan struct{})
	a.exited = exited
	cmd := a.cmd
	go func() { err := cmd.Wait(); a.mu.Lock(); a.waitErr = err; a.mu.Unlock(); close(exited) }()
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get("http://" + a.addr + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		select {
		case <-exited:
			a.t.Fatalf("agent exited during start: %s", a.output())
		default:
		}
		if time.Now().After(deadline) {
			a.t.Fatalf("agent /healthz not ready after 30s: %s", a.output())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

type agentWriter struct{ a *agentProc }

func (w agentWriter) Write(p []byte) (int, error) {
	w.a.mu.Lock()
	defer w.a.mu.Unlock()
	return w.a.out.Write(p)
}

// output is everything the agent printed so far, over all its runs.
func (a *agentProc) output() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.out.String()
}

// running reports whether the current process is still alive.
func (a *agentProc) running() bool {
	select {
	case <-a.exited:
		return false
	default:
		return true
	}
}

// kill sends SIGKILL and waits for the process to be gone.
func (a *agentProc) kill() {
	a.cmd.Process.Kill()
	<-a.exited
}

// stop asks the agent to stop (SIGTERM) and checks it exits cleanly.
func (a *agentProc) stop() {
	if a.cmd == nil || !a.running() {
		return
	}
	a.cmd.Process.Signal(os.Interrupt)
	select {
	case <-a.exited:
		a.mu.Lock()
		err := a.waitErr
		a.mu.Unlock()
		if err != nil {
			a.t.Errorf("agent exited with %v after SIGINT", err)
		}
	case <-time.After(30 * time.Second):
		a.cmd.Process.Kill()
		<-a.exited
		a.t.Errorf("agent did not stop within 30s of SIGINT")
	}
}

// metrics scrapes the agent's /metrics and returns every sample, keyed by
// its series as printed (name{labels}).
func (a *agentProc) metrics() (map[string]float64, error) {
	resp, err := http.Get("http://" + a.addr + "/metrics")
	if err != nil {
		return nil, fmt.Errorf("agent /metrics: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("agent /metrics: %w", err)
	}
	if resp.StatusCode != 200 {
		return nil, fmt.Errorf("agent /metrics: %s", resp.Status)
	}
	out := map[string]float64{}
	for _, m := range regexp.MustCompile(`(?m)^([a-z_]+(?:\{[^}]*\})?) (\S+)$`).FindAllSubmatch(body, -1) {
		v, err := strconv.ParseFloat(string(m[2]), 64)
		if err != nil {
			return nil, fmt.Errorf("agent /metrics %s: %w", m[1], err)
		}
		out[string(m[1])] = v
	}
	return out, nil
}

// sumMetric adds up every series of the metric name (all label values).
func sumMetric(m map[string]float64, name string) float64 {
	var s float64
	for k, v := range m {
		if k == name || strings.HasPrefix(k, name+"{") {
			s += v
		}
	}
	return s
}

// ciRecord is the Fluent Bit-style Container Insights record the agent
// ships for a container log line.
type ciRecord struct {
	Log        string `json:"log"`
	Stream     string `json:"stream"`
	Time       string `json:"time"`
	Kubernetes struct {
		PodName       string `json:"pod_name"`
		NamespaceName string `json:"namespace_name"`
		ContainerName string `json:"container_name"`
		DockerID      string `json:"docker_id"`
		Host          string `json:"host"`
	} `json:"kubernetes"`
}

// readGroup reads every stream of group with GetLogEvents, streams read in
// parallel, and returns the records by stream name.
func readGroup(ctx context.Context, c *cloudwatchlogs.Client, group string) (map[string][]readEvent, error) {
	var streams []string
	p := cloudwatchlogs.NewDescribeLogStreamsPaginator(c, &cloudwatchlogs.DescribeLogStreamsInput{LogGroupName: aws.String(group)})
	for p.HasMorePages() {
		res, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("describe streams of %s: %w", group, err)
		}
		for _, s := range res.LogStreams {
			streams = append(streams, aws.ToString(s.LogStreamName))
		}
	}
	out := make(map[string][]readEvent, len(streams))
	var mu sync.Mutex
	var firstErr error
	sem := make(chan struct{}, 4)
	var wg sync.WaitGroup
	for _, s := range streams {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			evs, err := readStream(ctx, c, group, s)
			mu.Lock()
			defer mu.Unlock()
			if err != nil && firstErr == nil {
				firstErr = fmt.Errorf("read %s: %w", s, err)
			}
			out[s] = evs
		}()
	}
	wg.Wait()
	return out, firstErr
}

// decodeRecord parses one shipped event.
func decodeRecord(msg string) (ciRecord, error) {
	var r ciRecord
	if err := json.Unmarshal([]byte(msg), &r); err != nil {
		return r, fmt.Errorf("not a Container Insights record: %w: %.200q", err, msg)
	}
	return r, nil
}
