package auth

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"
	"github.com/aws/smithy-go"

	"github.com/kinsight/kinsight/internal/config"
)

// TestRealCloudWatchLogsClient drives the unmodified AWS SDK CloudWatch Logs
// client — its whole middleware stack, not just the signer — against a
// server that calls Verify, and checks the SDK reads our errors as the AWS
// error types they name.
func TestRealCloudWatchLogsClient(t *testing.T) {
	v := NewVerifier(testKeys, Options{}) // the real clock: the SDK signs with it
	var mu sync.Mutex
	var seen []Identity
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			t.Errorf("read body: %v", err)
		}
		id, err := v.Verify(r, body)
		if err == nil {
			op := strings.TrimPrefix(r.Header.Get("X-Amz-Target"), "Logs_20140328.")
			action, _ := LogsOperationAction(op)
			if !Allowed(id.Role, action) {
				err = AccessDenied("000000000000", id, "logs:"+op, "")
			}
		}
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		if err != nil {
			var e *Error
			errors.As(err, &e)
			w.WriteHeader(e.HTTPStatus)
			json.NewEncoder(w).Encode(map[string]string{"__type": e.Code, "message": e.Message})
			return
		}
		mu.Lock()
		seen = append(seen, id)
		mu.Unlock()
		io.WriteString(w, `{"logGroups":[]}`)
	}))
	defer srv.Close()

	client := func(creds aws.CredentialsProvider, region string) *cloudwatchlogs.Client {
		return cloudwatchlogs.New(cloudwatchlogs.Options{
			BaseEndpoint:     aws.String(srv.URL),
			Region:           region,
			Credentials:      creds,
			RetryMaxAttempts: 1,
		})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	agent := credentials.NewStaticCredentialsProvider(agentID, agentSecret, "")

	if _, err := client(agent, "eu-west-1").DescribeLogGroups(ctx, &cloudwatchlogs.DescribeLogGroupsInput{
		LogGroupNamePrefix: aws.String("/aws/containerinsights/"),
	}); err != nil {
		t.Fatalf("DescribeLogGroups as agent: %v", err)
	}
	_, err := client(agent, "us-east-1").PutLogEvents(ctx, &cloudwatchlogs.PutLogEventsInput{
		LogGroupName:  aws.String("/aws/containerinsights/demo/application"),
		LogStreamName: aws.String("ip-10-0-0-1.ec2.internal-application.var.log.containers.x"),
		LogEvents:     []types.InputLogEvent{{Timestamp: aws.Int64(time.Now().UnixMilli()), Message: aws.String("héllo   world\t{}")}},
	})
	if err != nil {
		t.Fatalf("PutLogEvents as agent: %v", err)
	}
	withToken := credentials.NewStaticCredentialsProvider(agentID, agentSecret, "session-token/with+chars==")
	if _, err := client(withToken, "ap-northeast-2").DescribeLogGroups(ctx, &cloudwatchlogs.DescribeLogGroupsInput{}); err != nil {
		t.Fatalf("DescribeLogGroups with a session token: %v", err)
	}
	mu.Lock()
	if len(seen) != 3 || seen[0].Region != "eu-west-1" || seen[0].Service != "logs" || seen[1].Role != config.RoleAgent {
		t.Errorf("identities = %+v", seen)
	}
	mu.Unlock()

	wantAPIError := func(name string, err error, code string) {
		t.Helper()
		var ae smithy.APIError
		if !errors.As(err, &ae) {
			t.Fatalf("%s: error %v is not an API error", name, err)
		}
		if ae.ErrorCode() != code {
			t.Fatalf("%s: SDK error code = %q (%v), want %q", name, ae.ErrorCode(), err, code)
		}
	}
	_, err = client(agent, "us-east-1").DeleteLogGroup(ctx, &cloudwatchlogs.DeleteLogGroupInput{LogGroupName: aws.String("g")})
	wantAPIError("DeleteLogGroup as agent", err, CodeAccessDenied)
	bad := credentials.NewStaticCredentialsProvider(agentID, "not-the-secret", "")
	_, err = client(bad, "us-east-1").DescribeLogGroups(ctx, &cloudwatchlogs.DescribeLogGroupsInput{})
	wantAPIError("wrong secret", err, CodeInvalidSignature)
	unknown := credentials.NewStaticCredentialsProvider("AKIAUNKNOWN", "x", "")
	_, err = client(unknown, "us-east-1").DescribeLogGroups(ctx, &cloudwatchlogs.DescribeLogGroupsInput{})
	wantAPIError("unknown key", err, CodeUnrecognizedClient)
	_, err = client(aws.AnonymousCredentials{}, "us-east-1").DescribeLogGroups(ctx, &cloudwatchlogs.DescribeLogGroupsInput{})
	wantAPIError("anonymous", err, CodeMissingAuthenticationToken)
}
