package cli

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kinsight/kinsight/internal/config"
	"github.com/kinsight/kinsight/internal/server"
)

// TestMetricsQuery runs a real server with access keys, pushes a metric
// through the push API as the agent key, and queries it with `kinsight
// metrics query` signed with the reader key, as table and as JSON, instant
// and range.
func TestMetricsQuery(t *testing.T) {
	cfg := config.DefaultServer()
	cfg.DataDir = filepath.Join(t.TempDir(), "data")
	cfg.Logs.MinFreeDiskBytes = 0
	cfg.Auth.AccessKeys = []config.AccessKey{
		{ID: "AKIDAGENT", Secret: "agent-secret", Role: config.RoleAgent},
		{ID: "AKIDREADER", Secret: "reader-secret", Role: config.RoleReader},
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(cfg, server.Options{Listener: ln, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("server: %v", err)
		}
	})
	endpoint := "http://" + ln.Addr().String()
	req, _ := http.NewRequest("PUT", endpoint+"/metrics/job/clitest/instance/a", strings.NewReader("cli_metric{kind=\"x\"} 42\n"))
	req.SetBasicAuth("AKIDAGENT", "agent-secret")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("push: %s", resp.Status)
	}
	env := map[string]string{"AWS_ACCESS_KEY_ID": "AKIDREADER", "AWS_SECRET_ACCESS_KEY": "reader-secret", "KINSIGHT_ENDPOINT": endpoint}
	run := func(args ...string) (string, string, int) {
		var out, errOut bytes.Buffer
		code := Run(context.Background(), append([]string{"metrics"}, args...), func(k string) string { return env[k] }, nil, &out, &errOut)
		return out.String(), errOut.String(), code
	}
	out, errOut, code := run("query", "cli_metric")
	if code != 0 || !strings.Contains(out, `cli_metric{instance="a", job="clitest", kind="x"}`) || !strings.Contains(out, "42") {
		t.Errorf("table: code %d\n%s%s", code, out, errOut)
	}
	out, errOut, code = run("query", "sum(cli_metric)", "-o", "json")
	if code != 0 || !strings.HasPrefix(out, `{"resultType":"vector","result":[{"metric":{},"value":[`) || !strings.Contains(out, `"42"]`) {
		t.Errorf("json: code %d\n%s%s", code, out, errOut)
	}
	out, errOut, code = run("query", "cli_metric", "--range", "2m", "--step", "1m", "--end", "now")
	if code != 0 || !strings.Contains(out, "SERIES") || !strings.Contains(out, time.Now().UTC().Format("2006-01-02T")) {
		t.Errorf("range: code %d\n%s%s", code, out, errOut)
	}
	_, errOut, code = run("query", "sum(")
	if code == 0 || !strings.Contains(errOut, "bad_data") {
		t.Errorf("parse error: code %d %s", code, errOut)
	}
	env["AWS_SECRET_ACCESS_KEY"] = "wrong"
	_, errOut, code = run("query", "cli_metric")
	if code == 0 || !strings.Contains(errOut, "unauthorized") {
		t.Errorf("wrong secret: code %d %s", code, errOut)
	}
}
