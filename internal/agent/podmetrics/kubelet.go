package podmetrics

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"
)

// Defaults of KubeletOptions.
const (
	DefaultKubeletTimeout = 10 * time.Second
	// DefaultKubeletMaxBody bounds one response: a summary of 110 pods with
	// three containers each is about 600 KiB, the pod list about 2 MiB.
	DefaultKubeletMaxBody = 32 << 20
	DefaultTokenFile      = "/var/run/secrets/kubernetes.io/serviceaccount/token"
	DefaultCAFile         = "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt"
	kubeletSummaryPath    = "/stats/summary"
	kubeletPodsPath       = "/pods"
	errReasonTimeout      = "timeout"
	errReasonTooLarge     = "too_large"
	errReasonHTTPStatus   = "http_status"
	errReasonDecode       = "decode"
	errReasonRequest      = "request"
	errReasonCgroup       = "cgroup"
)

// KubeletOptions configure the kubelet client.
type KubeletOptions struct {
	// URL is the kubelet's base URL, e.g. https://<node IP>:10250. Required.
	URL string
	// TokenFile is read before every request (projected service-account
	// tokens rotate). Default DefaultTokenFile; "-" sends no token.
	TokenFile string
	// CAFile is the PEM bundle the kubelet's serving certificate is checked
	// against. Default DefaultCAFile (the cluster CA). Many clusters' kubelets
	// serve self-signed certificates: set InsecureSkipVerify for those.
	CAFile string
	// InsecureSkipVerify skips the kubelet certificate check. Explicit, off by
	// default.
	InsecureSkipVerify bool
	// Timeout bounds one request, headers and body. Default
	// DefaultKubeletTimeout.
	Timeout time.Duration
	// MaxBodyBytes bounds one response body. Default DefaultKubeletMaxBody.
	MaxBodyBytes int64
	// Transport replaces the TLS transport built from CAFile and
	// InsecureSkipVerify (tests).
	Transport http.RoundTripper
}

// KubeletClient fetches /stats/summary and /pods from one kubelet.
type KubeletClient struct {
	opts   KubeletOptions
	client *http.Client
}

// KubeletError is a failed kubelet request; Reason is the label it is
// counted under (timeout, too_large, http_status, decode, request).
type KubeletError struct {
	Path, Reason string
	Err          error
}

func (e *KubeletError) Error() string { return "kubelet " + e.Path + ": " + e.Err.Error() }
func (e *KubeletError) Unwrap() error { return e.Err }

// NewKubeletClient checks opts and builds the client; the CA file is read
// once here.
func NewKubeletClient(opts KubeletOptions) (*KubeletClient, error) {
	if opts.URL == "" {
		return nil, errors.New("kubelet url is required")
	}
	if !strings.HasPrefix(opts.URL, "https://") && !strings.HasPrefix(opts.URL, "http://") {
		return nil, fmt.Errorf("kubelet url %q: want https://host:port", opts.URL)
	}
	opts.URL = strings.TrimRight(opts.URL, "/")
	if opts.TokenFile == "" {
		opts.TokenFile = DefaultTokenFile
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultKubeletTimeout
	}
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = DefaultKubeletMaxBody
	}
	rt := opts.Transport
	if rt == nil {
		tc := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: opts.InsecureSkipVerify} //nolint:gosec // explicit option
		if !opts.InsecureSkipVerify {
			caFile := opts.CAFile
			if caFile == "" {
				caFile = DefaultCAFile
			}
			pem, err := os.ReadFile(caFile)
			if err != nil {
				return nil, fmt.Errorf("kubelet CA: %w", err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("kubelet CA %s: no PEM certificate", caFile)
			}
			tc.RootCAs = pool
		}
		rt = &http.Transport{
			TLSClientConfig:     tc,
			TLSHandshakeTimeout: opts.Timeout,
			MaxIdleConns:        2,
			IdleConnTimeout:     5 * time.Minute,
		}
	}
	return &KubeletClient{opts: opts, client: &http.Client{Transport: rt, Timeout: opts.Timeout}}, nil
}

// Summary fetches and parses GET /stats/summary.
func (k *KubeletClient) Summary(ctx context.Context, now time.Time) (*Snapshot, error) {
	body, err := k.get(ctx, kubeletSummaryPath)
	if err != nil {
		return nil, err
	}
	s, err := ParseSummary(body, now)
	if err != nil {
		return nil, &KubeletError{Path: kubeletSummaryPath, Reason: errReasonDecode, Err: err}
	}
	return s, nil
}

// Pods fetches and parses GET /pods, the kubelet's view of its pods (spec
// and status), with no API-server load.
func (k *KubeletClient) Pods(ctx context.Context) ([]PodInfo, error) {
	body, err := k.get(ctx, kubeletPodsPath)
	if err != nil {
		return nil, err
	}
	pods, err := ParsePodList(body)
	if err != nil {
		return nil, &KubeletError{Path: kubeletPodsPath, Reason: errReasonDecode, Err: err}
	}
	out := make([]PodInfo, 0, len(pods))
	for i := range pods {
		out = append(out, PodInfoFromPod(&pods[i]))
	}
	return out, nil
}

func (k *KubeletClient) get(ctx context.Context, path string) ([]byte, error) {
	fail := func(reason string, err error) error { return &KubeletError{Path: path, Reason: reason, Err: err} }
	ctx, cancel := context.WithTimeout(ctx, k.opts.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, k.opts.URL+path, nil)
	if err != nil {
		return nil, fail(errReasonRequest, err)
	}
	req.Header.Set("Accept", "application/json")
	if k.opts.TokenFile != "-" {
		tok, err := os.ReadFile(k.opts.TokenFile)
		if err != nil {
			return nil, fail(errReasonRequest, fmt.Errorf("token: %w", err))
		}
		req.Header.Set("Authorization", "Bearer "+string(bytes.TrimSpace(tok)))
	}
	resp, err := k.client.Do(req)
	if err != nil {
		return nil, fail(classify(err), err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 256))
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		return nil, fail(errReasonHTTPStatus, fmt.Errorf("status %d: %s", resp.StatusCode, bytes.TrimSpace(snippet)))
	}
	if resp.ContentLength > k.opts.MaxBodyBytes {
		return nil, fail(errReasonTooLarge, fmt.Errorf("body of %d bytes is over the %d-byte limit", resp.ContentLength, k.opts.MaxBodyBytes))
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, k.opts.MaxBodyBytes+1))
	if err != nil {
		return nil, fail(classify(err), fmt.Errorf("read body: %w", err))
	}
	if int64(len(body)) > k.opts.MaxBodyBytes {
		return nil, fail(errReasonTooLarge, fmt.Errorf("body over the %d-byte limit", k.opts.MaxBodyBytes))
	}
	return body, nil
}

func classify(err error) string {
	var ne interface{ Timeout() bool }
	if errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
		return errReasonTimeout
	}
	return errReasonRequest
}
