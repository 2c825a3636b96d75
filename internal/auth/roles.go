package auth

import "github.com/kinsight/kinsight/internal/config"

// Action is a class of calls a role may be allowed to make. Permissions are
// per class, not per operation, because kinsight has three fixed roles, not
// IAM policies: the classes are the lines along which the roles differ.
type Action int

const (
	// ActionWriteLogs: CreateLogGroup, CreateLogStream, PutLogEvents, and
	// the Kubernetes audit webhook (control-plane logs).
	ActionWriteLogs Action = iota + 1
	// ActionDescribeLogs: DescribeLogGroups and DescribeLogStreams — names
	// and metadata, no events. A class of its own because both agents and
	// readers need it: Fluent Bit's cloudwatch_logs output and the AWS
	// CloudWatch agent describe streams before writing (to find a stream or,
	// formerly, its sequence token), and the kinsight agent does the same.
	ActionDescribeLogs
	// ActionReadLogs: GetLogEvents, FilterLogEvents, Logs Insights queries,
	// live tail, and reading tags, metric and subscription filters.
	ActionReadLogs
	// ActionAdmin: deleting groups and streams, retention, tags, metric and
	// subscription filters, saved queries, policies, exports.
	// PutRetentionPolicy is here too, so Fluent Bit's log_retention_days
	// needs an admin key (or retention set once by an admin).
	ActionAdmin
	// ActionWriteMetrics: Prometheus remote_write.
	ActionWriteMetrics
	// ActionReadMetrics: the Prometheus HTTP query API.
	ActionReadMetrics
)

// String names the action for logs and errors.
func (a Action) String() string {
	switch a {
	case ActionWriteLogs:
		return "WriteLogs"
	case ActionDescribeLogs:
		return "DescribeLogs"
	case ActionReadLogs:
		return "ReadLogs"
	case ActionAdmin:
		return "Admin"
	case ActionWriteMetrics:
		return "WriteMetrics"
	case ActionReadMetrics:
		return "ReadMetrics"
	}
	return "Action(?)"
}

// Allowed reports whether role may perform action. admin may do
// everything; reader reads logs and metrics; agent writes logs and metrics
// and describes groups and streams. Unknown roles and actions are denied.
func Allowed(role string, action Action) bool {
	switch role {
	case config.RoleAdmin:
		return action >= ActionWriteLogs && action <= ActionReadMetrics
	case config.RoleReader:
		return action == ActionDescribeLogs || action == ActionReadLogs || action == ActionReadMetrics
	case config.RoleAgent:
		return action == ActionWriteLogs || action == ActionDescribeLogs || action == ActionWriteMetrics
	}
	return false
}

// logsOperations classes every CloudWatch Logs operation (the part of
// X-Amz-Target after "Logs_20140328.") that kinsight may serve. An operation
// missing here is classed ActionAdmin by LogsOperationAction, so a new
// handler cannot become reachable by a weaker role by accident.
var logsOperations = map[string]Action{
	"CreateLogGroup":  ActionWriteLogs,
	"CreateLogStream": ActionWriteLogs,
	"PutLogEvents":    ActionWriteLogs,

	"DescribeLogGroups":  ActionDescribeLogs,
	"DescribeLogStreams": ActionDescribeLogs,

	"GetLogEvents":                ActionReadLogs,
	"FilterLogEvents":             ActionReadLogs,
	"StartQuery":                  ActionReadLogs,
	"StopQuery":                   ActionReadLogs,
	"GetQueryResults":             ActionReadLogs,
	"DescribeQueries":             ActionReadLogs,
	"DescribeQueryDefinitions":    ActionReadLogs,
	"GetLogGroupFields":           ActionReadLogs,
	"GetLogRecord":                ActionReadLogs,
	"StartLiveTail":               ActionReadLogs,
	"ListTagsLogGroup":            ActionReadLogs,
	"ListTagsForResource":         ActionReadLogs,
	"DescribeMetricFilters":       ActionReadLogs,
	"DescribeSubscriptionFilters": ActionReadLogs,
	"TestMetricFilter":            ActionReadLogs,
	"DescribeExportTasks":         ActionReadLogs,
	"DescribeDestinations":        ActionReadLogs,
	"DescribeResourcePolicies":    ActionReadLogs,
	"ListLogGroups":               ActionReadLogs,

	"DeleteLogGroup":             ActionAdmin,
	"DeleteLogStream":            ActionAdmin,
	"PutRetentionPolicy":         ActionAdmin,
	"DeleteRetentionPolicy":      ActionAdmin,
	"TagLogGroup":                ActionAdmin,
	"UntagLogGroup":              ActionAdmin,
	"TagResource":                ActionAdmin,
	"UntagResource":              ActionAdmin,
	"PutMetricFilter":            ActionAdmin,
	"DeleteMetricFilter":         ActionAdmin,
	"PutSubscriptionFilter":      ActionAdmin,
	"DeleteSubscriptionFilter":   ActionAdmin,
	"PutQueryDefinition":         ActionAdmin,
	"DeleteQueryDefinition":      ActionAdmin,
	"PutResourcePolicy":          ActionAdmin,
	"DeleteResourcePolicy":       ActionAdmin,
	"CreateExportTask":           ActionAdmin,
	"CancelExportTask":           ActionAdmin,
	"AssociateKmsKey":            ActionAdmin,
	"DisassociateKmsKey":         ActionAdmin,
	"PutDataProtectionPolicy":    ActionAdmin,
	"DeleteDataProtectionPolicy": ActionAdmin,
}

// LogsOperationAction returns the action class of a CloudWatch Logs
// operation name ("PutLogEvents", without the "Logs_20140328." prefix).
// For an operation it does not know it returns ActionAdmin and false: the
// API layer answers UnknownOperationException for those anyway, and if it
// ever serves one, only admin reaches it until it is classed here.
func LogsOperationAction(op string) (Action, bool) {
	a, ok := logsOperations[op]
	if !ok {
		return ActionAdmin, false
	}
	return a, true
}
