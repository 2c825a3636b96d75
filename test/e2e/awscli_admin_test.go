package e2e

import (
	"context"
	"fmt"
	"maps"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestAWSCLIRetentionTags sets and removes retention and tags with the
// AWS CLI, through both tagging APIs.
func TestAWSCLIRetentionTags(t *testing.T) {
	t.Parallel()
	p := startServer(t, "", withKeys())
	s := newACSeed(t, p)
	const g = "/e2e/admin"
	s.group(g)
	retention := func(c acli) *int {
		c.t.Helper()
		var out acGroupsOut
		c.ok(&out, "logs", "describe-log-groups", "--log-group-name-prefix", g)
		if len(out.LogGroups) != 1 || out.LogGroups[0].LogGroupName != g {
			c.t.Fatalf("describe-log-groups --log-group-name-prefix %s: %+v", g, out.LogGroups)
		}
		return out.LogGroups[0].RetentionInDays
	}

	t.Run("Retention", func(t *testing.T) {
		c := newACLI(t, p, adminKey, adminSecret)
		// The Days values AWS accepts include 1 and 3653; 8 and 4000 are
		// between and beyond them.
		for _, days := range []int{1, 3653} {
			c.ok(nil, "logs", "put-retention-policy", "--log-group-name", g, "--retention-in-days", fmt.Sprint(days))
			if got := retention(c); got == nil || *got != days {
				t.Errorf("retentionInDays after putting %d: %v", days, intp(got))
			}
		}
		for _, days := range []int{8, 4000} {
			c.fails("InvalidParameterException", "logs", "put-retention-policy", "--log-group-name", g, "--retention-in-days", fmt.Sprint(days))
		}
		c.ok(nil, "logs", "delete-retention-policy", "--log-group-name", g)
		if got := retention(c); got != nil {
			t.Errorf("retentionInDays %d after delete-retention-policy, want absent", *got)
		}
		c.fails("ResourceNotFoundException", "logs", "put-retention-policy", "--log-group-name", "/e2e/missing", "--retention-in-days", "7")
	})

	t.Run("Tags", func(t *testing.T) {
		c := newACLI(t, p, adminKey, adminSecret)
		var groups acGroupsOut
		c.ok(&groups, "logs", "describe-log-groups", "--log-group-name-prefix", g)
		if len(groups.LogGroups) != 1 {
			t.Fatalf("describe-log-groups: %+v", groups)
		}
		// The tagging APIs take the group's ARN without the ":*" that
		// describe-log-groups' arn carries (its logGroupArn, which this CLI
		// version does not print).
		arn := groups.LogGroups[0].LogGroupArn
		if arn == "" {
			arn = strings.TrimSuffix(groups.LogGroups[0].Arn, ":*")
		}
		if want := "arn:aws:logs:us-east-1:000000000000:log-group:" + g; arn != want {
			t.Fatalf("group ARN %q, want %q", arn, want)
		}
		tags := func(args ...string) map[string]string {
			t.Helper()
			var out struct {
				Tags map[string]string `json:"tags"`
			}
			c.ok(&out, args...)
			return out.Tags
		}
		expect := func(what string, got, want map[string]string) {
			t.Helper()
			if !maps.Equal(got, want) {
				t.Errorf("%s: tags %v, want %v", what, got, want)
			}
		}
		c.ok(nil, "logs", "tag-resource", "--resource-arn", arn, "--tags", "team=core,env=dev")
		expect("after tag-resource", tags("logs", "list-tags-for-resource", "--resource-arn", arn), map[string]string{"team": "core", "env": "dev"})
		c.ok(nil, "logs", "untag-resource", "--resource-arn", arn, "--tag-keys", "env")
		expect("after untag-resource", tags("logs", "list-tags-for-resource", "--resource-arn", arn), map[string]string{"team": "core"})

		// The legacy API sees and changes the same tags.
		c.ok(nil, "logs", "tag-log-group", "--log-group-name", g, "--tags", "owner=ops")
		expect("after tag-log-group", tags("logs", "list-tags-log-group", "--log-group-name", g), map[string]string{"team": "core", "owner": "ops"})
		c.ok(nil, "logs", "untag-log-group", "--log-group-name", g, "--tags", "team")
		expect("after untag-log-group", tags("logs", "list-tags-for-resource", "--resource-arn", arn), map[string]string{"owner": "ops"})

		c.fails("ResourceNotFoundException", "logs", "list-tags-for-resource", "--resource-arn", "arn:aws:logs:us-east-1:000000000000:log-group:/e2e/missing")
	})
}

// TestAWSCLITail runs `aws logs tail`, once to print and once following.
func TestAWSCLITail(t *testing.T) {
	t.Parallel()
	p := startServer(t, "", withKeys())
	s := newACSeed(t, p)
	const g = "/e2e/tail"
	s.group(g)
	s.stream(g, "app-1")
	s.put(g, "app-1", acEvent{Timestamp: time.Now().Add(-time.Minute).UnixMilli(), Message: "before the tail started"})

	t.Run("Print", func(t *testing.T) {
		c := newACLI(t, p, readerKey, readerSecret)
		out, err := c.run("logs", "tail", g)
		if err != nil {
			t.Fatal(err)
		}
		// Lines are "<time> <stream> <message>".
		if !strings.Contains(out, "app-1 before the tail started") {
			t.Errorf("aws logs tail printed:\n%s", out)
		}
	})

	t.Run("Follow", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, awsCLI(t), "logs", "tail", g, "--follow", "--endpoint-url", p.url())
		cmd.Env = acAWSEnv(readerKey, readerSecret)
		lines, stop := acStartBackground(t, cmd)
		// The first line means the follower has started and made its
		// first request.
		if _, ok := lines.waitFor("before the tail started", 90*time.Second); !ok {
			t.Fatalf("the follower printed no event within 90s; stdout %q stderr %s", lines.all(), stop())
		}
		s.put(g, "app-1", acEvent{Timestamp: time.Now().UnixMilli(), Message: "after the tail started"})
		put := time.Now()
		// The CLI polls every 5 s.
		l, ok := lines.waitFor("after the tail started", 10*time.Second)
		if !ok {
			t.Fatalf("the follower did not print the new event within 10s; stdout %q stderr %s", lines.all(), stop())
		}
		t.Logf("aws logs tail --follow printed the new event %v after it was put", l.at.Sub(put).Round(time.Millisecond))
		stop()
		if got := lines.all(); len(got) != 2 {
			t.Errorf("the follower printed %d lines, want 2 (each event once): %q", len(got), got)
		}
	})
}

// TestAWSCLIAuth checks the errors for bad credentials and each role's
// permissions, with the AWS CLI.
func TestAWSCLIAuth(t *testing.T) {
	t.Parallel()
	p := startServer(t, "", withKeys())
	s := newACSeed(t, p)
	const g = "/e2e/auth"
	s.group(g)
	s.stream(g, "s")
	s.put(g, "s", acEvent{Timestamp: time.Now().Add(-time.Minute).UnixMilli(), Message: "hello"})
	groupExists := func(t *testing.T, name string) bool {
		t.Helper()
		var out acGroupsOut
		newACLI(t, p, adminKey, adminSecret).ok(&out, "logs", "describe-log-groups", "--log-group-name-prefix", name)
		return slices.Contains(acGroupNames(out.LogGroups), name)
	}

	t.Run("BadCredentials", func(t *testing.T) {
		newACLI(t, p, adminKey, "not-the-secret").fails("InvalidSignatureException", "logs", "describe-log-groups")
		newACLI(t, p, "AKIDNOSUCHKEY", adminSecret).fails("UnrecognizedClientException", "logs", "describe-log-groups")
	})

	t.Run("Reader", func(t *testing.T) {
		c := newACLI(t, p, readerKey, readerSecret)
		var groups acGroupsOut
		c.ok(&groups, "logs", "describe-log-groups")
		acEqual(t, "reader's describe-log-groups", acGroupNames(groups.LogGroups), []string{g})
		var events acGetOut
		c.ok(&events, "logs", "get-log-events", "--log-group-name", g, "--log-stream-name", "s")
		acEqual(t, "reader's get-log-events", acMessages(events.Events), []string{"hello"})
		c.fails("AccessDeniedException", "logs", "create-log-group", "--log-group-name", "/e2e/by-reader")
		c.fails("AccessDeniedException", "logs", "delete-log-group", "--log-group-name", g)
		c.fails("AccessDeniedException", "logs", "put-log-events", "--log-group-name", g, "--log-stream-name", "s",
			"--log-events", fmt.Sprintf("timestamp=%d,message=by-reader", time.Now().UnixMilli()))
		if groupExists(t, "/e2e/by-reader") || !groupExists(t, g) {
			t.Errorf("a denied create or delete changed the groups")
		}
	})

	t.Run("Agent", func(t *testing.T) {
		c := newACLI(t, p, agentKey, agentSecret)
		var out acPutOut
		c.ok(&out, "logs", "put-log-events", "--log-group-name", g, "--log-stream-name", "s",
			"--log-events", fmt.Sprintf("timestamp=%d,message=by-agent", time.Now().UnixMilli()))
		if out.RejectedLogEventsInfo != nil {
			t.Errorf("agent's event rejected: %+v", out.RejectedLogEventsInfo)
		}
		msg := c.fails("AccessDeniedException", "logs", "delete-log-group", "--log-group-name", g)
		if !strings.Contains(msg, agentKey) || !strings.Contains(msg, "logs:DeleteLogGroup") {
			t.Errorf("AccessDenied message should name the key and the action: %s", msg)
		}
		if !groupExists(t, g) {
			t.Fatalf("the agent's denied delete-log-group deleted the group")
		}
		if n := s.count(g, "s"); n != 2 {
			t.Errorf("stream holds %d events, want 2 (hello, by-agent)", n)
		}
	})
}
