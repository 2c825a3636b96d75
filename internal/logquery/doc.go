// Package logquery holds CloudWatch Logs filter patterns (used by
// FilterLogEvents, metric and subscription filters and live tail). The
// other query language, Logs Insights, has packages of its own because it
// is a compiler and an executor rather than a matcher: its grammar in
// internal/insights/syntax, its values and functions in
// internal/insights/value, and its execution over the log store in
// internal/insights.
//
// Filter patterns live in the filterpattern*.go files; FILTERPATTERNS.md
// beside them says exactly which syntax is accepted and where kinsight had
// to choose a meaning the AWS documentation leaves open. A parsed
// *FilterPattern is a logstore.Filter, so reads can both match messages and
// skip whole blocks through their trigram bloom filters.
package logquery
