// Package e2e runs the real kinsight binary as a process, together with real
// clients (the AWS CLI, the AWS SDK for Go), as a user would.
package e2e

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
)

// binary is the kinsight binary built once by TestMain.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "kinsight-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "kinsight")
	_, file, _, _ := runtime.Caller(0)
	root := filepath.Join(filepath.Dir(file), "..", "..")
	build := exec.Command("go", "build", "-o", binary, "./cmd/kinsight")
	build.Dir = root
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building kinsight:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// Test credentials configured on servers started with withKeys.
const (
	adminKey     = "AKIDKINSIGHTADMIN"
	adminSecret  = "admin-secret-0123456789"
	readerKey    = "AKIDKINSIGHTREADER"
	readerSecret = "reader-secret-0123456789"
	agentKey     = "AKIDKINSIGHTAGENT"
	agentSecret  = "agent-secret-0123456789"
)

// serverProc is a kinsight server running as a child process.
type serverProc struct {
	t       testing.TB
	dataDir string
	config  string
	addr    string
	cmd     *exec.Cmd
	stderr  *bytes.Buffer
	exited  chan struct{}
	waitErr error // the process's exit status, once exited is closed
}

type serverOpt func(*serverProc, *strings.Builder)

// withKeys configures the admin, reader and agent access keys.
func withKeys() serverOpt {
	return func(_ *serverProc, b *strings.Builder) {
		fmt.Fprintf(b, "  auth:\n    access_keys:\n")
		for _, k := range [][3]string{{adminKey, adminSecret, "admin"}, {readerKey, readerSecret, "reader"}, {agentKey, agentSecret, "agent"}} {
			fmt.Fprintf(b, "      - {id: %s, secret: %s, role: %s}\n", k[0], k[1], k[2])
		}
	}
}

// withListen makes the server listen on addr (readiness is still checked on
// that port over loopback).
func withListen(addr string) serverOpt {
	return func(p *serverProc, _ *strings.Builder) { p.addr = addr }
}

// withYAML adds raw lines under `server:` (indented by two spaces).
func withYAML(lines string) serverOpt {
	return func(_ *serverProc, b *strings.Builder) { b.WriteString(lines) }
}

// startServer starts a server on a free loopback port with a fresh data
// directory (or dataDir, to restart on existing data) and waits until
// /readyz answers.
func startServer(t testing.TB, dataDir string, opts ...serverOpt) *serverProc {
	t.Helper()
	if dataDir == "" {
		dataDir = t.TempDir()
	}
	p := &serverProc{t: t, dataDir: dataDir, addr: freeAddr(t)}
	var extra strings.Builder
	for _, o := range opts {
		o(p, &extra)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "server:\n  listen: %q\n  data_dir: %q\n%s", p.addr, dataDir, extra.String())
	p.config = filepath.Join(t.TempDir(), "kinsight.yaml")
	if err := os.WriteFile(p.config, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	p.start()
	t.Cleanup(func() { p.stop() })
	return p
}

func (p *serverProc) start() {
	p.t.Helper()
	p.stderr = &bytes.Buffer{}
	p.cmd = exec.Command(binary, "server", "--config", p.config)
	p.cmd.Stdout = p.stderr
	p.cmd.Stderr = p.stderr
	if err := p.cmd.Start(); err != nil {
		p.t.Fatal(err)
	}
	p.exited = make(chan struct{})
	go func() { p.waitErr = p.cmd.Wait(); close(p.exited) }()
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(p.url() + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		select {
		case <-p.exited:
			p.t.Fatalf("server exited during start: %s", p.stderr)
		default:
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("server not ready after 30s: %s", p.stderr)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (p *serverProc) url() string {
	_, port, _ := net.SplitHostPort(p.addr)
	return "http://127.0.0.1:" + port
}

// stop sends SIGTERM and checks for a graceful exit: status 0 within 10 s,
// as the server promises.
func (p *serverProc) stop() {
	if p.cmd == nil || p.cmd.Process == nil {
		return
	}
	select {
	case <-p.exited:
		return
	default:
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
		if p.waitErr != nil {
			p.t.Errorf("server exited with %v after SIGTERM: %s", p.waitErr, p.stderr)
		}
	case <-time.After(10 * time.Second):
		p.cmd.Process.Kill()
		<-p.exited
		p.t.Errorf("server did not stop within 10s of SIGTERM: %s", p.stderr)
	}
}

// kill sends SIGKILL and waits for the process to be gone.
func (p *serverProc) kill() {
	p.cmd.Process.Kill()
	<-p.exited
}

// restart starts the server again on the same data and address.
func (p *serverProc) restart() { p.start() }

func freeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// awsCLI finds the AWS CLI the tests use: Debian's /usr/bin/aws first, as
// the Makefile installs it, then any on PATH.
func awsCLI(t testing.TB) string {
	t.Helper()
	if _, err := os.Stat("/usr/bin/aws"); err == nil {
		return "/usr/bin/aws"
	}
	p, err := exec.LookPath("aws")
	if err != nil {
		t.Skip("AWS CLI not installed (apt-get install awscli; `make test` does it)")
	}
	return p
}

// aws runs the AWS CLI against p with the given credentials and returns
// stdout, stderr and the exit error.
func (p *serverProc) aws(ctx context.Context, key, secret string, args ...string) (string, string, error) {
	cmd := exec.CommandContext(ctx, awsCLI(p.t), append(args, "--endpoint-url", p.url(), "--output", "json")...)
	cmd.Env = append(os.Environ(),
		"AWS_ACCESS_KEY_ID="+key, "AWS_SECRET_ACCESS_KEY="+secret, "AWS_REGION=us-east-1",
		"AWS_DEFAULT_REGION=us-east-1", "AWS_PAGER=", "AWS_CONFIG_FILE=/dev/null",
		"AWS_SHARED_CREDENTIALS_FILE=/dev/null", "AWS_EC2_METADATA_DISABLED=true",
	)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	return stdout.String(), stderr.String(), err
}
