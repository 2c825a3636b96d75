package metricstore

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/prometheus/prometheus/prompb"
)

func TestAuth(t *testing.T) {
	e := newEnv(t, Options{}, authOpts())
	now := time.Now().Truncate(time.Second)
	body := encodeWrite(t, &prompb.WriteRequest{Timeseries: []prompb.TimeSeries{
		{Labels: series("auth_test"), Samples: []prompb.Sample{{Value: 1, Timestamp: ms(now)}}}}})

	signed := func(method, path string, body []byte, id, secret string) *http.Request {
		req, err := http.NewRequest(method, e.srv.URL+path, bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/x-protobuf")
		req.Header.Set("Content-Encoding", "snappy")
		sum := sha256.Sum256(body)
		creds := aws.Credentials{AccessKeyID: id, SecretAccessKey: secret}
		if err := v4.NewSigner().SignHTTP(t.Context(), creds, req, hex.EncodeToString(sum[:]), "aps", "us-east-1", time.Now()); err != nil {
			t.Fatal(err)
		}
		return req
	}
	plain := func(method, path string, body []byte, set func(*http.Request)) *http.Request {
		req, err := http.NewRequest(method, e.srv.URL+path, bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/x-protobuf")
		req.Header.Set("Content-Encoding", "snappy")
		if set != nil {
			set(req)
		}
		return req
	}
	basic := func(id, secret string) func(*http.Request) {
		return func(r *http.Request) { r.SetBasicAuth(id, secret) }
	}
	bearer := func(tok string) func(*http.Request) {
		return func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+tok) }
	}
	q := "/api/v1/query?" + url.Values{"query": {"auth_test"}, "time": {fmtUnix(now)}}.Encode()
	agent, reader, admin := testKeys[0], testKeys[1], testKeys[2]
	cases := []struct {
		name string
		req  *http.Request
		code int
	}{
		{"sigv4 agent writes", signed("POST", "/api/v1/write", body, agent.ID, agent.Secret), 204},
		{"sigv4 reader queries", signed("GET", q, nil, reader.ID, reader.Secret), 200},
		{"sigv4 wrong secret", signed("POST", "/api/v1/write", body, agent.ID, "wrong"), 401},
		{"sigv4 unknown key", signed("GET", q, nil, "AKIDNOBODY", "x"), 401},
		{"sigv4 reader may not write", signed("POST", "/api/v1/write", body, reader.ID, reader.Secret), 403},
		{"sigv4 agent may not read", signed("GET", q, nil, agent.ID, agent.Secret), 403},
		{"basic admin writes", plain("POST", "/api/v1/write", body, basic(admin.ID, admin.Secret)), 204},
		{"basic reader queries", plain("GET", q, nil, basic(reader.ID, reader.Secret)), 200},
		{"basic wrong password", plain("GET", q, nil, basic(reader.ID, admin.Secret)), 401},
		{"bearer agent writes", plain("POST", "/api/v1/write", body, bearer(agent.Secret)), 204},
		{"bearer reader queries", plain("GET", q, nil, bearer(reader.Secret)), 200},
		{"bearer wrong token", plain("GET", q, nil, bearer("nope")), 401},
		{"bearer reader may not push", plain("PUT", "/metrics/job/x", []byte("x 1\n"), bearer(reader.Secret)), 403},
		{"no credentials", plain("GET", q, nil, nil), 401},
		{"no credentials write", plain("POST", "/api/v1/write", body, nil), 401},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r, err := http.DefaultClient.Do(c.req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(r.Body)
			r.Body.Close()
			if r.StatusCode != c.code {
				t.Errorf("status %d (%s), want %d", r.StatusCode, b, c.code)
			}
			if r.StatusCode == 401 && bytes.HasPrefix([]byte(c.req.URL.Path), []byte("/api/v1/query")) && r.Header.Get("WWW-Authenticate") == "" {
				t.Errorf("401 without WWW-Authenticate")
			}
		})
	}
}
