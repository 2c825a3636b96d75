package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestSmoke starts a server with access keys, creates a group with the AWS
// CLI, and checks that a wrong secret is refused with AWS's error.
func TestSmoke(t *testing.T) {
	p := startServer(t, "", withKeys())
	ctx := context.Background()
	if _, errOut, err := p.aws(ctx, adminKey, adminSecret, "logs", "create-log-group", "--log-group-name", "smoke"); err != nil {
		t.Fatalf("create-log-group: %v: %s", err, errOut)
	}
	out, errOut, err := p.aws(ctx, readerKey, readerSecret, "logs", "describe-log-groups")
	if err != nil || !strings.Contains(out, `"logGroupName": "smoke"`) {
		t.Fatalf("describe-log-groups: %v: %s %s", err, out, errOut)
	}
	_, errOut, err = p.aws(ctx, adminKey, "wrong-secret", "logs", "describe-log-groups")
	if err == nil || !strings.Contains(errOut, "InvalidSignatureException") {
		t.Fatalf("wrong secret: err=%v stderr=%s", err, errOut)
	}
}

// TestListenRefusesNonLoopbackWithoutKeys: with no access keys the server
// only serves loopback, unless told --insecure.
func TestListenRefusesNonLoopbackWithoutKeys(t *testing.T) {
	addr := "0.0.0.0:" + strings.Split(freeAddr(t), ":")[1]
	out, err := exec.Command(binary, "server", "--listen", addr, "--data-dir", t.TempDir()).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "access_keys") {
		t.Fatalf("non-loopback without keys: err=%v output=%s", err, out)
	}
	p := startServer(t, "", withListen(addr), withYAML("  insecure: true\n"))
	resp, err := http.Get(p.url() + "/healthz")
	if err != nil {
		t.Fatalf("--insecure server not serving: %v", err)
	}
	resp.Body.Close()
	p.stop()
}

// TestGracefulShutdownUnderLoad: SIGTERM while clients are writing ends with
// exit status 0 within 10 s, and every acknowledged write survives.
func TestGracefulShutdownUnderLoad(t *testing.T) {
	p := startServer(t, "")
	ctx := context.Background()
	if _, errOut, err := p.aws(ctx, "x", "x", "logs", "create-log-group", "--log-group-name", "g"); err != nil {
		t.Fatalf("%v: %s", err, errOut)
	}
	if _, errOut, err := p.aws(ctx, "x", "x", "logs", "create-log-stream", "--log-group-name", "g", "--log-stream-name", "s"); err != nil {
		t.Fatalf("%v: %s", err, errOut)
	}
	acked := make(chan int, 1)
	go func() {
		n := 0
		for i := 0; ; i++ {
			body := fmt.Sprintf(`{"logGroupName":"g","logStreamName":"s","logEvents":[{"timestamp":%d,"message":"event %d"}]}`, time.Now().UnixMilli(), i)
			req, _ := http.NewRequest("POST", p.url()+"/", strings.NewReader(body))
			req.Header.Set("X-Amz-Target", "Logs_20140328.PutLogEvents")
			req.Header.Set("Content-Type", "application/x-amz-json-1.1")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				acked <- n
				return
			}
			resp.Body.Close()
			if resp.StatusCode != 200 {
				acked <- n
				return
			}
			n++
		}
	}()
	time.Sleep(500 * time.Millisecond)
	start := time.Now()
	p.stop() // asserts exit 0 within 10 s
	n := <-acked
	t.Logf("stopped in %v after %d acknowledged writes", time.Since(start), n)
	p.restart()
	out, errOut, err := p.aws(ctx, "x", "x", "logs", "get-log-events", "--log-group-name", "g", "--log-stream-name", "s", "--start-from-head")
	if err != nil {
		t.Fatalf("%v: %s", err, errOut)
	}
	if got := strings.Count(out, `"message": "event `); got < n {
		t.Fatalf("after restart %d events, %d were acknowledged", got, n)
	}
}

// TestOperationalEndpoints: /healthz, /readyz, / and the self-metrics.
func TestOperationalEndpoints(t *testing.T) {
	p := startServer(t, "")
	if _, errOut, err := p.aws(context.Background(), "x", "x", "logs", "create-log-group", "--log-group-name", "m"); err != nil {
		t.Fatalf("%v: %s", err, errOut)
	}
	get := func(path string) (int, string) {
		resp, err := http.Get(p.url() + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	for _, c := range []struct{ path, want string }{
		{"/healthz", "ok"},
		{"/readyz", "ready"},
		{"/", "aws logs describe-log-groups --endpoint-url"},
		{"/metrics", `kinsight_logs_api_requests_total{code="OK",operation="CreateLogGroup"} 1`},
		{"/metrics", "kinsight_logstore_wal_bytes_total"},
		{"/metrics", "go_goroutines"},
	} {
		code, body := get(c.path)
		if code != 200 || !strings.Contains(body, c.want) {
			t.Errorf("GET %s: %d, want 200 with %q; got %.300s", c.path, code, c.want, body)
		}
	}
	if code, _ := get("/debug/pprof/"); code != 404 {
		t.Errorf("pprof served without server.pprof: %d", code)
	}
}
