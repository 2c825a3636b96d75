// Package value is the data model of kinsight's Logs Insights engine: the
// typed values that fields and expressions produce, how they compare and
// print, the scalar functions, and the stats aggregates.
//
// It follows the CloudWatch Logs Insights documentation ("Boolean,
// comparison, numeric, datetime, and other functions" and "stats" /
// "Aggregation functions in the stats command"). Where AWS does not say,
// the choice made here is written next to the code and summarised in
// SEMANTICS.md beside this file, so the executor and the tests agree on
// one behaviour.
//
// The package is independent of the query parser: the executor maps call
// nodes to Lookup and NewAgg, and literals to the constructors.
package value
