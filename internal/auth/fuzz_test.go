package auth

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/kinsight/kinsight/internal/config"
)

// FuzzVerify feeds arbitrary request lines, queries, Authorization headers,
// dates, payload-hash headers and bodies to Verify. It must never panic;
// every failure must be a well-formed *Error; a verifier holding the wrong
// secret for the same key id must never accept; and a request that does
// verify must stop verifying when one byte is added to its body. The seeds
// include real SDK-signed requests, header and presigned, so the fuzzer
// starts next to valid inputs.
func FuzzVerify(f *testing.F) {
	header, hbody := sign(f, signSpec{method: "POST", url: "http://localhost:8470/api/v1/write?x=1", body: []byte(`{"a":1}`),
		headers: [][2]string{{"X-Amz-Target", "Logs_20140328.PutLogEvents"}}})
	f.Add(header.Method, header.RequestURI, header.Header.Get("Authorization"), header.Header.Get("X-Amz-Date"),
		"", header.Header.Get("X-Amz-Target"), hbody)
	pre, pbody := presign(f, signSpec{method: "GET", url: "http://localhost:8470/logs/tail?group=%2Fa%2Fb&q=a+b"}, 300*time.Second)
	f.Add(pre.Method, pre.RequestURI, "", "", "", "", pbody)
	f.Add("GET", "/?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAKINSIGHTAGENT01%2F20250314%2Fus-east-1%2Flogs%2Faws4_request"+
		"&X-Amz-Date=20250314T150926Z&X-Amz-SignedHeaders=host&X-Amz-Signature=00&X-Amz-Expires=-1", "", "", "", "", []byte(nil))
	f.Add("POST", "/", "AWS4-HMAC-SHA256 Credential=AKIAKINSIGHTAGENT01/20250314/us-east-1/logs/aws4_request, SignedHeaders=host;x-amz-date, Signature="+
		strings.Repeat("ab", 32), "20250314T150926Z", "UNSIGNED-PAYLOAD", "", []byte("body"))
	f.Add("GET", "//a/./b/../%2F%zz?a=%&b=;c", "AWS4-HMAC-SHA256 Credential=/////, SignedHeaders=;;;, Signature=", "2025", "STREAMING-x", "\x00", []byte{0xff})
	f.Add("PUT", "http://h/x?y", "Bearer x", "", "", "", []byte(nil))

	now := func() time.Time { return signTime }
	right := NewVerifier(testKeys, Options{Now: now})
	wrong := NewVerifier([]config.AccessKey{
		{ID: agentID, Secret: agentSecret + "-not", Role: config.RoleAdmin},
		{ID: readerID, Secret: "x" + readerSec, Role: config.RoleAdmin},
	}, Options{Now: now})

	f.Fuzz(func(t *testing.T, method, requestURI, authz, amzDate, contentSHA, target string, body []byte) {
		r := fuzzRequest(method, requestURI, authz, amzDate, contentSHA, target, body)

		if id, err := wrong.Verify(r, body); err == nil {
			t.Fatalf("verified with the wrong secret: %+v", id)
		} else {
			checkErr(t, err)
		}
		id, err := right.Verify(r, body)
		if err != nil {
			checkErr(t, err)
			return
		}
		if id.AccessKeyID != agentID && id.AccessKeyID != readerID {
			t.Fatalf("identity = %+v", id)
		}
		if _, err := right.Verify(r, append(body[:len(body):len(body)], 'x')); err == nil {
			t.Fatalf("a changed body still verifies")
		}
	})
}

// fuzzRequest builds the server-side request FuzzVerify checks.
func fuzzRequest(method, requestURI, authz, amzDate, contentSHA, target string, body []byte) *http.Request {
	r := &http.Request{Method: method, Host: "localhost:8470", RequestURI: requestURI, Header: http.Header{}, ContentLength: int64(len(body))}
	if u, err := url.ParseRequestURI(requestURI); err == nil {
		r.URL = u
	} else {
		r.URL = &url.URL{Path: requestURI}
	}
	for k, v := range map[string]string{"Authorization": authz, "X-Amz-Date": amzDate, "X-Amz-Content-Sha256": contentSHA, "X-Amz-Target": target} {
		if v != "" {
			r.Header.Set(k, v)
		}
	}
	return r
}

// TestFuzzSeedsVerify makes sure the SDK-signed seeds of FuzzVerify really
// verify as the fuzz body rebuilds them, so the fuzzer's "changed body"
// invariant is exercised rather than vacuous.
func TestFuzzSeedsVerify(t *testing.T) {
	v := newTestVerifier(signTime)
	h, hbody := sign(t, signSpec{method: "POST", url: "http://localhost:8470/api/v1/write?x=1", body: []byte(`{"a":1}`),
		headers: [][2]string{{"X-Amz-Target", "Logs_20140328.PutLogEvents"}}})
	mustVerify(t, v, fuzzRequest(h.Method, h.RequestURI, h.Header.Get("Authorization"), h.Header.Get("X-Amz-Date"), "", h.Header.Get("X-Amz-Target"), hbody), hbody)
	p, pbody := presign(t, signSpec{method: "GET", url: "http://localhost:8470/logs/tail?group=%2Fa%2Fb&q=a+b"}, 300*time.Second)
	mustVerify(t, v, fuzzRequest(p.Method, p.RequestURI, "", "", "", "", pbody), pbody)
}

func checkErr(t *testing.T, err error) {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T) is not an *Error", err, err)
	}
	switch e.Code {
	case CodeMissingAuthenticationToken:
		if e.HTTPStatus != http.StatusForbidden {
			t.Fatalf("%s with HTTP %d", e.Code, e.HTTPStatus)
		}
	case CodeUnrecognizedClient, CodeInvalidSignature, CodeIncompleteSignature:
		if e.HTTPStatus != http.StatusBadRequest {
			t.Fatalf("%s with HTTP %d", e.Code, e.HTTPStatus)
		}
	default:
		t.Fatalf("unexpected code %q", e.Code)
	}
	if e.Message == "" || strings.ContainsAny(e.Message, "\r\n\x00") {
		t.Fatalf("bad message %q", e.Message)
	}
	if len(e.Message) > 1024 {
		t.Fatalf("message of %d bytes: client text is not bounded", len(e.Message))
	}
}
