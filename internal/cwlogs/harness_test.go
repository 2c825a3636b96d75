package cwlogs

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/kinsight/kinsight/internal/auth"
	"github.com/kinsight/kinsight/internal/config"
	"github.com/kinsight/kinsight/internal/logstore"
)

// Test keys, one per role.
var testKeys = []config.AccessKey{
	{ID: "AKIDADMIN", Secret: "admin-secret", Role: config.RoleAdmin},
	{ID: "AKIDAGENT", Secret: "agent-secret", Role: config.RoleAgent},
	{ID: "AKIDREADER", Secret: "reader-secret", Role: config.RoleReader},
}

func keyFor(role string) config.AccessKey {
	for _, k := range testKeys {
		if k.Role == role {
			return k
		}
	}
	panic("no key for " + role)
}

// env is a real store in a temp dir behind the handler on an httptest
// server, with SigV4 verification on.
type env struct {
	t     *testing.T
	store *logstore.Store
	h     *Handler
	srv   *httptest.Server
	reg   *prometheus.Registry
}

func newEnv(t *testing.T, mod ...func(*Options)) *env {
	t.Helper()
	store, err := logstore.Open(t.TempDir(), logstore.Options{})
	if err != nil {
		t.Fatalf("logstore.Open: %v", err)
	}
	t.Cleanup(func() { _ = store.Close() })
	reg := prometheus.NewRegistry()
	opts := Options{Registerer: reg, MaxRequestBytes: 4 << 20, Region: "us-east-1", AccountID: "123456789012"}
	for _, m := range mod {
		m(&opts)
	}
	h := NewHandler(store, auth.NewVerifier(testKeys, auth.Options{}), opts)
	mux := http.NewServeMux()
	mux.Handle("POST /", h)
	mux.HandleFunc("GET /kinsight/v1/logs/tail", h.ServeTail)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return &env{t: t, store: store, h: h, srv: srv, reg: reg}
}

// result is a decoded response.
type result struct {
	status int
	header http.Header
	body   []byte
}

func (r result) errType() string {
	var e errorBody
	_ = json.Unmarshal(r.body, &e)
	return e.Type
}

func (r result) errMessage() string {
	var e errorBody
	_ = json.Unmarshal(r.body, &e)
	return e.Message
}

// decode unmarshals the body into v, zeroing v first (Unmarshal would
// merge into maps and reused slice elements).
func (r result) decode(t *testing.T, v any) {
	t.Helper()
	reflect.ValueOf(v).Elem().SetZero()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decoding %s: %v", r.body, err)
	}
}

// sign signs req with key the way the AWS SDK does.
func sign(t testing.TB, req *http.Request, body []byte, key config.AccessKey) {
	t.Helper()
	sum := sha256.Sum256(body)
	hash := hex.EncodeToString(sum[:])
	req.Header.Set("X-Amz-Content-Sha256", hash)
	creds := aws.Credentials{AccessKeyID: key.ID, SecretAccessKey: key.Secret}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, hash, "logs", "us-east-1", time.Now()); err != nil {
		t.Fatalf("signing: %v", err)
	}
}

// rawCall sends body for op signed with key, with extra headers.
func (e *env) rawCall(op string, body []byte, key *config.AccessKey, hdr map[string]string) result {
	e.t.Helper()
	req, err := http.NewRequest(http.MethodPost, e.srv.URL+"/", bytes.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Content-Type", jsonType)
	if op != "" {
		req.Header.Set("X-Amz-Target", targetPrefix+op)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	if key != nil {
		sign(e.t, req, body, *key)
	}
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatalf("%s: %v", op, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.Header.Get("x-amzn-RequestId") == "" {
		e.t.Errorf("%s: no x-amzn-RequestId header", op)
	}
	return result{status: resp.StatusCode, header: resp.Header, body: b}
}

// call sends in (marshalled) as the admin.
func (e *env) call(op string, in any) result {
	e.t.Helper()
	return e.callAs(config.RoleAdmin, op, in)
}

func (e *env) callAs(role, op string, in any) result {
	e.t.Helper()
	b, err := json.Marshal(in)
	if err != nil {
		e.t.Fatal(err)
	}
	k := keyFor(role)
	return e.rawCall(op, b, &k, nil)
}

// mustOK calls op and fails the test unless it succeeds.
func (e *env) mustOK(op string, in any) result {
	e.t.Helper()
	r := e.call(op, in)
	if r.status != http.StatusOK {
		e.t.Fatalf("%s: status %d: %s", op, r.status, r.body)
	}
	return r
}

// wantErr asserts an AWS error of type typ with status.
func wantErr(t *testing.T, r result, status int, typ string) {
	t.Helper()
	if r.status != status || r.errType() != typ {
		t.Fatalf("got %d %s (%s), want %d %s", r.status, r.errType(), r.body, status, typ)
	}
	if ct := r.header.Get("Content-Type"); ct != jsonType {
		t.Errorf("error Content-Type %q, want %q", ct, jsonType)
	}
}

type m = map[string]any

// seed creates group/stream and stores events at the given timestamps with
// messages "msg-<i>".
func (e *env) seed(group, stream string, ts ...int64) {
	e.t.Helper()
	if r := e.call("CreateLogGroup", m{"logGroupName": group}); r.status != 200 && r.errType() != errResourceExists {
		e.t.Fatalf("CreateLogGroup: %s", r.body)
	}
	if r := e.call("CreateLogStream", m{"logGroupName": group, "logStreamName": stream}); r.status != 200 && r.errType() != errResourceExists {
		e.t.Fatalf("CreateLogStream: %s", r.body)
	}
	if len(ts) == 0 {
		return
	}
	events := make([]m, len(ts))
	for i, t := range ts {
		events[i] = m{"timestamp": t, "message": msgN(stream, i)}
	}
	e.mustOK("PutLogEvents", m{"logGroupName": group, "logStreamName": stream, "logEvents": events})
}

func msgN(stream string, i int) string {
	return stream + "-msg-" + strings.Repeat("x", i%3) + strconv.Itoa(i)
}

// sdkClient is the real AWS SDK client pointed at the test server.
func (e *env) sdkClient(role string) *cloudwatchlogs.Client {
	k := keyFor(role)
	return cloudwatchlogs.New(cloudwatchlogs.Options{
		BaseEndpoint: aws.String(e.srv.URL),
		Region:       "us-east-1",
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: k.ID, SecretAccessKey: k.Secret, Source: "test"}, nil
		}),
		RetryMaxAttempts: 1,
		HTTPClient:       e.srv.Client(),
	})
}

// nowMs is the wall clock in ms (the store checks event ages against it).
func nowMs() int64 { return time.Now().UnixMilli() }
