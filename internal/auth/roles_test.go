package auth

import (
	"testing"

	"github.com/kinsight/kinsight/internal/config"
)

func TestAllowed(t *testing.T) {
	actions := []Action{ActionWriteLogs, ActionDescribeLogs, ActionReadLogs, ActionAdmin, ActionWriteMetrics, ActionReadMetrics}
	want := map[string]map[Action]bool{
		config.RoleAdmin:  {ActionWriteLogs: true, ActionDescribeLogs: true, ActionReadLogs: true, ActionAdmin: true, ActionWriteMetrics: true, ActionReadMetrics: true},
		config.RoleReader: {ActionDescribeLogs: true, ActionReadLogs: true, ActionReadMetrics: true},
		config.RoleAgent:  {ActionWriteLogs: true, ActionDescribeLogs: true, ActionWriteMetrics: true},
		"":                {},
		"Admin":           {}, // roles are exact strings; config validation lower-cases nothing
		"root":            {},
	}
	for role, allowed := range want {
		for _, a := range actions {
			if got := Allowed(role, a); got != allowed[a] {
				t.Errorf("Allowed(%q, %v) = %v, want %v", role, a, got, allowed[a])
			}
		}
		for _, bogus := range []Action{0, -1, ActionReadMetrics + 1} {
			if Allowed(role, bogus) {
				t.Errorf("Allowed(%q, %v) = true for an unknown action", role, bogus)
			}
		}
	}
}

func TestLogsOperationAction(t *testing.T) {
	tests := []struct {
		op    string
		want  Action
		known bool
	}{
		{"PutLogEvents", ActionWriteLogs, true},
		{"CreateLogGroup", ActionWriteLogs, true},
		{"CreateLogStream", ActionWriteLogs, true},
		{"DescribeLogGroups", ActionDescribeLogs, true},
		{"DescribeLogStreams", ActionDescribeLogs, true},
		{"GetLogEvents", ActionReadLogs, true},
		{"FilterLogEvents", ActionReadLogs, true},
		{"StartQuery", ActionReadLogs, true},
		{"GetQueryResults", ActionReadLogs, true},
		{"StartLiveTail", ActionReadLogs, true},
		{"ListTagsForResource", ActionReadLogs, true},
		{"DeleteLogGroup", ActionAdmin, true},
		{"DeleteLogStream", ActionAdmin, true},
		{"PutRetentionPolicy", ActionAdmin, true},
		{"TagResource", ActionAdmin, true},
		{"UntagLogGroup", ActionAdmin, true},
		{"PutMetricFilter", ActionAdmin, true},
		{"SomethingNew", ActionAdmin, false},
		{"putlogevents", ActionAdmin, false}, // operation names are case-sensitive, as in AWS
	}
	for _, tt := range tests {
		got, known := LogsOperationAction(tt.op)
		if got != tt.want || known != tt.known {
			t.Errorf("LogsOperationAction(%q) = %v, %v; want %v, %v", tt.op, got, known, tt.want, tt.known)
		}
	}
	// What Fluent Bit's cloudwatch_logs output calls must all be open to an
	// agent key, or log shipping breaks.
	for _, op := range []string{"CreateLogGroup", "CreateLogStream", "DescribeLogStreams", "DescribeLogGroups", "PutLogEvents"} {
		a, _ := LogsOperationAction(op)
		if !Allowed(config.RoleAgent, a) {
			t.Errorf("agent may not call %s", op)
		}
	}
	// And an agent key must not read events or delete anything.
	for _, op := range []string{"GetLogEvents", "FilterLogEvents", "StartQuery", "DeleteLogGroup", "PutRetentionPolicy"} {
		a, _ := LogsOperationAction(op)
		if Allowed(config.RoleAgent, a) {
			t.Errorf("agent may call %s", op)
		}
	}
	for _, op := range []string{"PutLogEvents", "CreateLogGroup", "DeleteLogStream", "TagResource"} {
		a, _ := LogsOperationAction(op)
		if Allowed(config.RoleReader, a) {
			t.Errorf("reader may call %s", op)
		}
	}
}

func TestAccessDenied(t *testing.T) {
	id := Identity{AccessKeyID: "AKIAREADER", Role: config.RoleReader}
	e := AccessDenied("000000000000", id, "logs:DeleteLogGroup", "arn:aws:logs:us-east-1:000000000000:log-group:/aws/eks/demo/cluster")
	if e.Code != "AccessDeniedException" || e.HTTPStatus != 400 {
		t.Fatalf("got %s %d", e.Code, e.HTTPStatus)
	}
	const want = "User: arn:aws:iam::000000000000:user/AKIAREADER is not authorized to perform: logs:DeleteLogGroup " +
		"on resource: arn:aws:logs:us-east-1:000000000000:log-group:/aws/eks/demo/cluster " +
		"because no identity-based policy allows the logs:DeleteLogGroup action"
	if e.Message != want {
		t.Fatalf("message =\n%s\nwant\n%s", e.Message, want)
	}
	e = AccessDenied("123456789012", id, "aps:RemoteWrite", "")
	if e.Message != "User: arn:aws:iam::123456789012:user/AKIAREADER is not authorized to perform: aps:RemoteWrite "+
		"because no identity-based policy allows the aps:RemoteWrite action" {
		t.Fatalf("message = %s", e.Message)
	}
	if e.Error() != "AccessDeniedException: "+e.Message {
		t.Fatalf("Error() = %s", e.Error())
	}
}

func TestActionString(t *testing.T) {
	for a, want := range map[Action]string{ActionWriteLogs: "WriteLogs", ActionDescribeLogs: "DescribeLogs", ActionReadLogs: "ReadLogs",
		ActionAdmin: "Admin", ActionWriteMetrics: "WriteMetrics", ActionReadMetrics: "ReadMetrics", 42: "Action(?)"} {
		if a.String() != want {
			t.Errorf("%d.String() = %q, want %q", int(a), a.String(), want)
		}
	}
}
