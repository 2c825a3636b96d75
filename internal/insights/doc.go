// Package insights compiles and runs CloudWatch Logs Insights queries over
// kinsight's log store.
//
// Compile turns the AST of package syntax into a plan of stages: the
// streaming commands at the head of the query (filter, fields, parse,
// display, unmask) run on every event in a small worker pool; the first
// blocking command (stats, sort … | limit, or anything that needs every
// row) is a sink that each worker fills on its own and that is merged at
// the end; the rest of the query runs on the merged rows in order.
//
// The plan also says what the store may skip: the time range, the log
// groups, the streams of `filter @logStream = "x"`, the newest N events of
// `sort @timestamp desc | limit N`, and a MayMatch predicate over each
// block's substring oracle derived from the filters that must hold
// (`like`, `=~` literals, `field = "str"` on JSON fields). The same
// substrings are checked on each event's raw message before any field is
// read, so most events a filter rejects are never parsed.
//
// Block constants: the store may say which JSON fields hold the same value
// in every event of a block (Block.Constants; the log store records them
// for kubernetes.* and any other scalar that does not vary). PlanBlock
// decides once per block the head filters' conjuncts that read only such
// fields (`kubernetes.namespace_name = "payments"` skips a block of another
// namespace unread), and when every JSON field the query reads is constant
// and it reads no @message, the store hands over the events without their
// messages, which it then need not decompress; the fields are set from the
// constants instead of parsing each message. The store guarantees a
// constant is exactly what parsing any of the block's messages gives, so
// answers are the per-event answers (blockstore_test.go checks this over a
// real store). A query that also reads a non-constant field parses each
// message as before.
//
// Elided members: a block may also come with its messages cut short, the
// value of a large top-level object that every message holds (the
// kubernetes object) replaced by {} and listed once as an object-valued
// constant (Constant.Elided). Such a block promises no path occurs twice
// in a message, so the executor sets the fields the constants give and
// parses the stored message for the rest only, stopping once it has them
// (the scan-speed query reads `log` and never walks the object). It
// restores the original text (elide.Restore) when the query reads
// @message, keeps event rows (sort, limit, dedup, pattern, plain
// listing), or names a field under the member that is not a constant; a
// substring prefilter also looks in the members' text.
//
// Memory: stats groups, top-k heaps, kept rows, dedup keys and pattern
// lines are charged to Options.MaxMemoryBytes as they grow; going past it
// fails the query rather than the process.
//
// Statistics: RecordsMatched counts the events that passed the filters at
// the head of the query (before the first stats, sort or pattern), as AWS
// counts matches; RecordsScanned and BytesScanned are the store's.
// Partial results (every 500 ms) carry rows for stats, pattern and
// sort … | limit plans, and only statistics for plans that keep every row.
//
// Semantics chosen where AWS does not say, summarised (details beside the
// code):
//   - a query without fields, display, stats or pattern returns @timestamp
//     and @message; every row that comes from an event (not from stats or
//     pattern) also carries @ptr, as GetQueryResults does, so GetLogRecord
//     can follow it;
//   - rows are sorted by @timestamp descending unless the query sorts, and
//     limit and dedup before any sort see that order; stats rows without a
//     sort come in ascending order of their by-values;
//   - comparisons with a missing field are false (`x != "a"` drops events
//     without x); `x = null` and `x != null` test presence;
//   - JSON messages are flattened with dots (arrays by index); a JSON
//     string holding JSON is not parsed again; only the keys the query names
//     are extracted, and only when it names one;
//   - `pattern` tokenises on white space, replaces tokens holding a digit by
//     <*>, then clusters similar lines of the same length, turning into <*>
//     the positions where they differ (see pattern.go);
//   - `dedup` keeps rows whose key has a null (AWS: nulls are not
//     duplicates), and only limit may follow it;
//   - a stats without by over no events gives one row (count 0);
//   - `unmask` is a no-op: kinsight does not mask data, so the unmasked
//     value is the value.
package insights
