// Package logquery holds kinsight's two log query languages: CloudWatch Logs
// filter patterns (used by FilterLogEvents, metric and subscription filters
// and live tail) and, later, the Logs Insights query language.
//
// Filter patterns live in the filterpattern*.go files; FILTERPATTERNS.md
// beside them says exactly which syntax is accepted and where kinsight had
// to choose a meaning the AWS documentation leaves open. A parsed
// *FilterPattern is a logstore.Filter, so reads can both match messages and
// skip whole blocks through their trigram bloom filters.
package logquery
