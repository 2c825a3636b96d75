// Package testkube starts a real Kubernetes control plane (etcd and
// kube-apiserver, built from their Go modules by `make tools` into
// <repo>/tools/bin) for integration tests, and gives tests admin clients,
// kubeconfig files, service-account tokens with chosen RBAC rules, and the
// API server's request counters.
//
// Only etcd and the API server run: no controller-manager, scheduler or
// kubelet. Pods are plain API objects (set spec.nodeName yourself; nothing
// schedules them), and service accounts and their tokens are created by
// ServiceAccountToken (the TokenRequest API needs no controller). The
// ServiceAccount admission plugin is disabled so pods can be created in a
// namespace without its "default" service account, which only the
// controller-manager would create.
//
// A missing binary is a test failure, not a skip: a skipped integration test
// looks green in CI while testing nothing.
package testkube

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// adminToken is the static bearer token of the "testkube-admin" user in
// system:masters. It only ever exists on a loopback API server of a test.
const adminToken = "testkube-admin-token"

// readyTimeout bounds how long Start waits for /readyz; a healthy start
// takes a few seconds, a loaded CI machine more.
const readyTimeout = 90 * time.Second

// Cluster is a running etcd + kube-apiserver pair.
type Cluster struct {
	// URL is the API server's https address (self-signed certificate).
	URL string
	// Dir holds the data, certificates and the two log files.
	Dir string
	// StartupTime is how long Start took, from exec to /readyz answering ok.
	StartupTime time.Duration

	etcd, apiserver *proc
	http            *http.Client
}

// proc is one child process and its log file.
type proc struct {
	name, logPath string
	cmd           *exec.Cmd
	done          chan struct{} // closed when the process has exited
	err           error         // exit status, valid after done
}

// Start starts a control plane for t and stops it in t.Cleanup. It fails t
// (never skips) when the binaries are missing. On failure of t the tails of
// both logs are printed.
func Start(t testing.TB) *Cluster {
	t.Helper()
	c, stop, err := StartMain()
	if err != nil {
		t.Fatalf("testkube: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("testkube: logs of the failed test's control plane:\n%s", c.LogTails())
		}
		stop()
	})
	return c
}

// StartMain starts a control plane outside a test (for TestMain, so one
// cluster serves a whole package). stop kills both processes and removes
// their directory; call it exactly once. On error, nothing is left running and
// the error includes the logs' tails.
func StartMain() (c *Cluster, stop func(), err error) {
	root, err := repoRoot()
	if err != nil {
		return nil, nil, err
	}
	return startFrom(filepath.Join(root, "tools", "bin"))
}

// startFrom is StartMain with the binaries' directory given.
func startFrom(bin string) (c *Cluster, stop func(), err error) {
	begin := time.Now()
	for _, name := range []string{"etcd", "kube-apiserver"} {
		if _, err := os.Stat(filepath.Join(bin, name)); err != nil {
			return nil, nil, fmt.Errorf("%s missing (%v): run `make tools` first", filepath.Join(bin, name), err)
		}
	}
	dir, err := os.MkdirTemp("", "testkube-")
	if err != nil {
		return nil, nil, fmt.Errorf("temp dir: %w", err)
	}
	c = &Cluster{Dir: dir, http: &http.Client{
		Timeout: 10 * time.Second,
		// The API server's certificate is self-signed into Dir at startup.
		Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}},
	}}
	stop = func() {
		c.apiserver.kill()
		c.etcd.kill()
		c.http.CloseIdleConnections()
		_ = os.RemoveAll(dir)
	}
	fail := func(err error) (*Cluster, func(), error) {
		tails := c.LogTails()
		stop()
		return nil, nil, fmt.Errorf("%w\n%s", err, tails)
	}

	ports, err := freePorts(3)
	if err != nil {
		return fail(err)
	}
	clientURL := fmt.Sprintf("http://127.0.0.1:%d", ports[0])
	peerURL := fmt.Sprintf("http://127.0.0.1:%d", ports[1])
	c.etcd, err = startProc(dir, "etcd", filepath.Join(bin, "etcd"),
		"--name", "testkube",
		"--data-dir", filepath.Join(dir, "etcd"),
		"--listen-client-urls", clientURL, "--advertise-client-urls", clientURL,
		"--listen-peer-urls", peerURL, "--initial-advertise-peer-urls", peerURL,
		"--initial-cluster", "testkube="+peerURL,
		// Test data is thrown away: fsync only costs time on a shared disk.
		"--unsafe-no-fsync", "--log-level", "warn")
	if err != nil {
		return fail(err)
	}

	if err := writeAuthFiles(dir); err != nil {
		return fail(err)
	}
	c.URL = fmt.Sprintf("https://127.0.0.1:%d", ports[2])
	c.apiserver, err = startProc(dir, "kube-apiserver", filepath.Join(bin, "kube-apiserver"),
		"--etcd-servers", clientURL,
		"--bind-address", "127.0.0.1",
		"--secure-port", strconv.Itoa(ports[2]),
		"--cert-dir", filepath.Join(dir, "certs"),
		"--token-auth-file", filepath.Join(dir, "tokens.csv"),
		"--authorization-mode", "RBAC",
		"--service-account-key-file", filepath.Join(dir, "sa.key"),
		"--service-account-signing-key-file", filepath.Join(dir, "sa.key"),
		"--service-account-issuer", "https://kubernetes.default.svc",
		"--service-cluster-ip-range", "10.96.0.0/12",
		// No controller-manager creates "default" service accounts (see the package comment).
		"--disable-admission-plugins", "ServiceAccount",
		"--profiling=false")
	if err != nil {
		return fail(err)
	}
	if err := c.waitReady(readyTimeout); err != nil {
		return fail(err)
	}
	c.StartupTime = time.Since(begin)
	return c, stop, nil
}

// Admin returns a client configuration of a system:masters user.
func (c *Cluster) Admin() *rest.Config {
	return c.Config(adminToken)
}

// Config returns a client configuration authenticating with token.
func (c *Cluster) Config(token string) *rest.Config {
	return &rest.Config{
		Host:            c.URL,
		BearerToken:     token,
		TLSClientConfig: rest.TLSClientConfig{Insecure: true},
		// Tests create objects in bursts; client-go's default 5 QPS would
		// make setup, not the code under test, the slow part.
		QPS: 1000, Burst: 1000,
	}
}

// Clientset returns an admin clientset.
func (c *Cluster) Clientset() kubernetes.Interface {
	cs, err := kubernetes.NewForConfig(c.Admin())
	if err != nil {
		// Only a malformed config fails here, and Admin's is fixed.
		panic(fmt.Sprintf("testkube: admin clientset: %v", err))
	}
	return cs
}

// Kubeconfig writes a kubeconfig file that authenticates with token and
// returns its path (in t.TempDir()).
func (c *Cluster) Kubeconfig(t testing.TB, token string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "kubeconfig")
	conf := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: testkube
  cluster:
    server: %s
    insecure-skip-tls-verify: true
users:
- name: testkube
  user:
    token: %s
contexts:
- name: testkube
  context:
    cluster: testkube
    user: testkube
current-context: testkube
`, strconv.Quote(c.URL), strconv.Quote(token))
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		t.Fatalf("testkube: write kubeconfig: %v", err)
	}
	return path
}

// waitReady polls /readyz until it answers 200, a process exits, or timeout.
func (c *Cluster) waitReady(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	var last string
	for time.Now().Before(deadline) {
		for _, p := range []*proc{c.etcd, c.apiserver} {
			select {
			case <-p.done:
				return fmt.Errorf("%s exited during startup: %v", p.name, p.err)
			default:
			}
		}
		body, code, err := c.get(context.Background(), "/readyz")
		if err == nil && code == http.StatusOK {
			return nil
		}
		if err != nil {
			last = err.Error()
		} else {
			last = fmt.Sprintf("HTTP %d: %s", code, body)
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("kube-apiserver not ready after %v: %s", timeout, last)
}

// get fetches an API server path as the admin user.
func (c *Cluster) get(ctx context.Context, path string) ([]byte, int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.URL+path, nil)
	if err != nil {
		return nil, 0, err
	}
	req.Header.Set("Authorization", "Bearer "+adminToken)
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, 0, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return body, resp.StatusCode, err
}

// LogTails returns the last lines of both processes' logs, for failure
// messages.
func (c *Cluster) LogTails() string {
	var b strings.Builder
	for _, p := range []*proc{c.etcd, c.apiserver} {
		if p == nil {
			continue
		}
		fmt.Fprintf(&b, "--- tail of %s (%s)\n%s\n", p.name, p.logPath, tail(p.logPath, 40))
	}
	return b.String()
}

// tail returns the last n lines of a file.
func tail(path string, n int) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(unreadable: %v)", err)
	}
	lines := bytes.Split(bytes.TrimRight(data, "\n"), []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return string(bytes.Join(lines, []byte("\n")))
}

// startProc starts bin with args, its stdout and stderr going to
// dir/<name>.log. The child gets its own process group and is killed with
// its parent on Linux, so a test binary that dies leaves no orphans behind.
func startProc(dir, name, bin string, args ...string) (*proc, error) {
	logPath := filepath.Join(dir, name+".log")
	f, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("%s log: %w", name, err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &proc{name: name, logPath: logPath, cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		f.Close()
		close(p.done)
	}()
	return p, nil
}

// kill stops the process with SIGKILL and waits for it: test data is thrown
// away, and the API server's graceful drain would only add seconds.
func (p *proc) kill() {
	if p == nil {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
	}
}

// repoRoot walks up from the working directory (a package directory under
// `go test`) to the directory holding the kinsight go.mod. tools/ has a
// go.mod of its own, so a go.mod is only accepted if it declares kinsight.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("working directory: %w", err)
	}
	for {
		data, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && bytes.HasPrefix(bytes.TrimSpace(data), []byte("module github.com/kinsight/kinsight\n")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no kinsight go.mod above the working directory")
		}
		dir = parent
	}
}

// freePorts returns n distinct loopback ports that were free a moment ago.
// All listeners stay open until all ports are chosen so they are distinct.
func freePorts(n int) ([]int, error) {
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("free port: %w", err)
		}
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// writeAuthFiles writes the static token file (the admin user) and an RSA
// key that signs and verifies service-account tokens.
func writeAuthFiles(dir string) error {
	tokens := adminToken + `,testkube-admin,testkube-admin-uid,"system:masters"` + "\n"
	if err := os.WriteFile(filepath.Join(dir, "tokens.csv"), []byte(tokens), 0o600); err != nil {
		return fmt.Errorf("token file: %w", err)
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return fmt.Errorf("service-account key: %w", err)
	}
	pemKey := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
	if err := os.WriteFile(filepath.Join(dir, "sa.key"), pemKey, 0o600); err != nil {
		return fmt.Errorf("service-account key: %w", err)
	}
	return nil
}

// metricLines returns the API server's /metrics lines of one metric family.
func (c *Cluster) metricLines(ctx context.Context, name string) ([]string, error) {
	body, code, err := c.get(ctx, "/metrics")
	if err != nil {
		return nil, fmt.Errorf("GET /metrics: %w", err)
	}
	if code != http.StatusOK {
		return nil, fmt.Errorf("GET /metrics: HTTP %d: %.200s", code, body)
	}
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		if line := sc.Text(); strings.HasPrefix(line, name+"{") {
			out = append(out, line)
		}
	}
	return out, sc.Err()
}
