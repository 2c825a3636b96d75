package e2e

import (
	"context"
	"strings"
	"testing"
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
