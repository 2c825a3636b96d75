package cli

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/kinsight/kinsight/internal/config"
)

// TestRemoteWriteEndpoints checks where the metric side ships: the
// configured endpoints with their secrets read from files, else the
// kinsight server of output signed with output's key, else nowhere.
func TestRemoteWriteEndpoints(t *testing.T) {
	dir := t.TempDir()
	pw, tok := filepath.Join(dir, "pw"), filepath.Join(dir, "tok")
	if err := os.WriteFile(pw, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(tok, []byte(" tkn\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	a := config.DefaultAgent()
	a.Output.Endpoint, a.Output.AccessKeyID, a.Output.SecretAccessKey = "http://kinsight:8470/", "AKID", "secret"
	eps, err := remoteWriteEndpoints(a)
	if err != nil {
		t.Fatal(err)
	}
	if len(eps) != 1 || eps[0].URL != "http://kinsight:8470/api/v1/write" || eps[0].SigV4 == nil ||
		eps[0].SigV4.AccessKey != "AKID" || eps[0].SigV4.SecretKey != "secret" || eps[0].SigV4.Region != "us-east-1" {
		t.Errorf("derived endpoint = %+v", eps)
	}

	a.Metrics.RemoteWrite = []config.AgentRemoteWrite{
		{URL: "http://prom/api/v1/write", BasicAuth: &config.AgentBasicAuth{Username: "u", PasswordFile: pw}},
		{URL: "http://mimir/push", BearerTokenFile: tok, Headers: map[string]string{"X-Scope-OrgID": "t"}},
		{URL: "https://aps/api/v1/remote_write", SigV4: &config.AgentSigV4{Region: "eu-west-1"}},
	}
	eps, err = remoteWriteEndpoints(a)
	if err != nil {
		t.Fatal(err)
	}
	if len(eps) != 3 {
		t.Fatalf("%d endpoints, want the 3 configured (not the derived one)", len(eps))
	}
	if b := eps[0].BasicAuth; b == nil || b.Username != "u" || b.Password != "s3cret" {
		t.Errorf("basic auth = %+v", b)
	}
	if eps[1].BearerToken != "tkn" || eps[1].Headers["X-Scope-OrgID"] != "t" {
		t.Errorf("bearer endpoint = %+v", eps[1])
	}
	if s := eps[2].SigV4; s == nil || s.Region != "eu-west-1" || s.AccessKey != "" {
		t.Errorf("sigv4 = %+v", s)
	}

	a.Metrics.RemoteWrite[0].BasicAuth.PasswordFile = filepath.Join(dir, "missing")
	if _, err := remoteWriteEndpoints(a); err == nil {
		t.Error("a missing password_file is not an error")
	}

	a.Metrics.RemoteWrite = nil
	for _, out := range []config.AgentOutput{{Type: "cloudwatch"}, {Type: "stdout", Endpoint: "http://kinsight:8470"}} {
		a.Output = out
		if eps, err := remoteWriteEndpoints(a); err != nil || len(eps) != 0 {
			t.Errorf("output %+v: endpoints %+v, %v; want none", out, eps, err)
		}
	}
}
