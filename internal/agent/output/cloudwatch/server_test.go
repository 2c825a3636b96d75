package cloudwatch

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/kinsight/kinsight/internal/config"
	"github.com/kinsight/kinsight/internal/server"
)

const (
	agentKey    = "AKIDKINSIGHTAGENT"
	agentSecret = "agent-secret-for-tests"
	adminKey    = "AKIDKINSIGHTADMIN"
	adminSecret = "admin-secret-for-tests"
)

// testServer is a real kinsight server on a loopback port and a temp dir.
type testServer struct {
	t      testing.TB
	dir    string
	addr   string
	cancel context.CancelFunc
	done   chan error
}

func startServer(t testing.TB) *testServer {
	t.Helper()
	s := &testServer{t: t, dir: t.TempDir(), addr: "127.0.0.1:0"}
	s.start()
	t.Cleanup(s.stop)
	return s
}

// start runs a server on s.dir and s.addr (re-binding the same port after
// a stop).
func (s *testServer) start() {
	s.t.Helper()
	var (
		ln  net.Listener
		err error
	)
	for range 50 { // the old socket may take a moment to go
		if ln, err = net.Listen("tcp", s.addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		s.t.Fatalf("listen %s: %v", s.addr, err)
	}
	s.addr = ln.Addr().String()
	cfg := config.DefaultServer()
	cfg.Listen = s.addr
	cfg.DataDir = s.dir
	cfg.ShutdownTimeout = config.Duration(3 * time.Second)
	cfg.Logs.MinFreeDiskBytes = 0
	cfg.Auth.AccessKeys = []config.AccessKey{
		{ID: agentKey, Secret: agentSecret, Role: config.RoleAgent},
		{ID: adminKey, Secret: adminSecret, Role: config.RoleAdmin},
	}
	srv, err := server.New(cfg, server.Options{Listener: ln, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		s.t.Fatalf("server.New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	s.done = make(chan error, 1)
	go func() { s.done <- srv.Run(ctx) }()
}

// stop shuts the server down and waits for it (idempotent).
func (s *testServer) stop() {
	if s.cancel == nil {
		return
	}
	s.cancel()
	if err := <-s.done; err != nil {
		s.t.Errorf("server.Run: %v", err)
	}
	s.cancel = nil
}

func (s *testServer) endpoint() string { return "http://" + s.addr }

// newOutput builds an Output to s with test-friendly retry settings.
func newOutput(t testing.TB, s *testServer, mod func(*Config)) (*Output, *prometheus.Registry) {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Endpoint = s.endpoint()
	cfg.Region = "us-east-1"
	cfg.AccessKeyID, cfg.SecretAccessKey = agentKey, agentSecret
	cfg.RetryBase, cfg.RetryMax = 10*time.Millisecond, 100*time.Millisecond
	cfg.RequestTimeout = 5 * time.Second
	if mod != nil {
		mod(&cfg)
	}
	reg := prometheus.NewRegistry()
	o, err := New(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), reg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return o, reg
}

// readAll reads a stream back with the SDK's GetLogEvents, as an admin.
func readAll(t testing.TB, s *testServer, group, stream string) []Event {
	t.Helper()
	admin, _ := newOutput(t, s, func(c *Config) { c.AccessKeyID, c.SecretAccessKey = adminKey, adminSecret })
	ctx := context.Background()
	var out []Event
	var token *string
	for {
		var (
			resp *cloudwatchlogs.GetLogEventsOutput
			err  error
		)
		// Read back with the SDK's standard retryer (the output's client has
		// retries off): against a server on loopback the SDK can close a
		// request body while Go's transport still checks it, which kills the
		// connection under a 200 answer (aws-sdk-go-v2 #1825, #2737), and
		// the standard retryer retries that.
		resp, err = admin.Client().GetLogEvents(ctx, &cloudwatchlogs.GetLogEventsInput{
			LogGroupName: aws.String(group), LogStreamName: aws.String(stream),
			StartFromHead: aws.Bool(true), NextToken: token, Limit: aws.Int32(500),
		}, func(o *cloudwatchlogs.Options) {
			o.Retryer = retry.NewStandard(func(so *retry.StandardOptions) { so.MaxAttempts = 10 })
		})
		if err != nil {
			t.Fatalf("GetLogEvents: %v", err)
		}
		for _, e := range resp.Events {
			out = append(out, Event{Timestamp: aws.ToInt64(e.Timestamp), Message: aws.ToString(e.Message)})
		}
		if resp.NextForwardToken == nil || (token != nil && *token == *resp.NextForwardToken) {
			return out
		}
		token = resp.NextForwardToken
	}
}

// errorCode is the AWS error code in err's chain, or "".
func errorCode(err error) string {
	var ae interface{ ErrorCode() string }
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}
