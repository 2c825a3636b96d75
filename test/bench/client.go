package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// logsClient speaks the CloudWatch Logs JSON 1.1 protocol with raw
// net/http, signing with SigV4 when it has credentials.
type logsClient struct {
	url    string
	http   *http.Client
	creds  *aws.Credentials
	signer *v4.Signer
}

func newLogsClient(url string, conns int, keyID, secret string) *logsClient {
	c := &logsClient{
		url: url,
		http: &http.Client{
			Transport: &http.Transport{
				MaxIdleConns:        conns * 2,
				MaxIdleConnsPerHost: conns * 2,
				IdleConnTimeout:     time.Minute,
				DisableCompression:  true,
			},
			Timeout: 5 * time.Minute,
		},
	}
	if keyID != "" {
		c.creds = &aws.Credentials{AccessKeyID: keyID, SecretAccessKey: secret}
		c.signer = v4.NewSigner()
	}
	return c
}

// apiError is an AWS-shaped error answer.
type apiError struct {
	Status int
	Type   string
	Msg    string
}

func (e *apiError) Error() string {
	return fmt.Sprintf("HTTP %d %s: %s", e.Status, e.Type, e.Msg)
}

// retryable reports whether AWS SDKs would retry this error.
func (e *apiError) retryable() bool {
	return e.Status >= 500 || strings.HasSuffix(e.Type, "ThrottlingException") ||
		strings.HasSuffix(e.Type, "ServiceUnavailableException")
}

// baseRequest builds an unsigned request for op.
func (c *logsClient) baseRequest(ctx context.Context, op string, body []byte) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url+"/", bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	req.Header.Set("X-Amz-Target", "Logs_20140328."+op)
	return req, nil
}

// newRequest builds a request for op, signed at `at` when the client has
// keys; payloadHash is the body's hex SHA-256, computed when empty.
func (c *logsClient) newRequest(ctx context.Context, op string, body []byte, payloadHash string, at time.Time) (*http.Request, error) {
	req, err := c.baseRequest(ctx, op, body)
	if err != nil {
		return nil, err
	}
	if c.creds != nil {
		if payloadHash == "" {
			sum := sha256.Sum256(body)
			payloadHash = hex.EncodeToString(sum[:])
		}
		if err := c.signer.SignHTTP(ctx, *c.creds, req, payloadHash, "logs", benchRegion, at); err != nil {
			return nil, fmt.Errorf("sign: %w", err)
		}
	}
	return req, nil
}

// do sends req and returns the answer's body, or an *apiError.
func (c *logsClient) do(req *http.Request) ([]byte, error) {
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Type    string `json:"__type"`
			Message string `json:"message"`
		}
		json.Unmarshal(data, &e)
		if e.Message == "" {
			e.Message = strings.TrimSpace(string(data))
		}
		return nil, &apiError{Status: resp.StatusCode, Type: e.Type, Msg: e.Message}
	}
	return data, nil
}

// call marshals in, sends op (signing now) and unmarshals the answer into
// out (when not nil).
func (c *logsClient) call(ctx context.Context, op string, in, out any) error {
	_, err := c.timedCall(ctx, op, in, out)
	return err
}

// timedCall is call that also returns the latency: from sending the
// request until the last byte of the answer was read, so neither the
// client's JSON encoding nor its decoding is counted.
func (c *logsClient) timedCall(ctx context.Context, op string, in, out any) (time.Duration, error) {
	body, err := json.Marshal(in)
	if err != nil {
		return 0, err
	}
	req, err := c.newRequest(ctx, op, body, "", time.Now())
	if err != nil {
		return 0, err
	}
	t0 := time.Now()
	data, err := c.do(req)
	lat := time.Since(t0)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", op, err)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return 0, fmt.Errorf("%s: decode answer: %w", op, err)
		}
	}
	return lat, nil
}

// createGroupAndStreams creates the corpus's log group and streams, as an
// agent does before its first PutLogEvents.
func createGroupAndStreams(ctx context.Context, c *logsClient, corp *Corpus) error {
	if err := c.call(ctx, "CreateLogGroup", map[string]string{"logGroupName": corp.Group}, nil); err != nil {
		return err
	}
	for _, s := range corp.Streams {
		in := map[string]string{"logGroupName": corp.Group, "logStreamName": s.Name}
		if err := c.call(ctx, "CreateLogStream", in, nil); err != nil {
			return err
		}
	}
	return nil
}
