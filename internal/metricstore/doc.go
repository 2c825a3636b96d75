// Package metricstore is kinsight's metric store: the Prometheus TSDB and
// PromQL engine used as a library, with Prometheus remote write and a
// Pushgateway-compatible push API in front and the Prometheus HTTP query
// API behind. The metricstore tree (this package and agentwal, the agent's
// WAL-backed remote_write shipping) is the only code that imports
// github.com/prometheus/prometheus, so the rest of kinsight never sees that
// module's API churn.
//
// # Storage
//
// Open opens a tsdb.DB under <dir>/tsdb with the WAL on, retention by time
// and optionally size, compaction into blocks of up to a tenth of the
// retention (at most 31 days, as Prometheus sizes them), and an optional
// out-of-order window. Durability is Prometheus's: when a write is
// acknowledged its WAL records have been written to the operating system
// (the WAL flushes its page at the end of every commit) but not fsync'd, so
// a SIGKILL of the server loses nothing acknowledged, while a power loss or
// kernel crash can lose the samples since the last segment sync — the same
// as a Prometheus server.
//
// # Remote write
//
// POST /api/v1/write takes remote write 1.0 (snappy block format,
// prometheus.WriteRequest). Bodies are bounded twice: as received
// (MaxWriteCompressedBytes) and decoded, checked from snappy's header
// before decoding (MaxWriteBytes); larger bodies get 413. A corrupt body is
// 400. A request is one TSDB transaction; a series with invalid labels
// (legacy Prometheus name rules, a missing metric name, a duplicate label
// name) and samples the TSDB refuses (out of order, duplicate timestamp
// with another value, too old, more than 10 minutes in the future) are left
// out, the rest is committed, and the answer is 400 naming the first
// refusal of each kind and the count — Prometheus's behaviour, so senders
// drop the batch instead of retrying it forever. NaN, ±Inf and the staleness
// marker are stored as sent. Metadata in the request is kept for
// /api/v1/metadata (in memory, saved on Close). Other failures roll the
// request back and answer 500 so the sender retries.
//
// # Push API
//
// PUT, POST and DELETE /metrics/job/<job>{/<label>/<value>} behave as the
// Pushgateway's: @base64 label names, text or delimited protobuf bodies,
// PUT replacing the group and POST the pushed families, DELETE removing the
// group, timestamps refused, type conflicts across groups refused. Groups
// persist in push-groups.json until deleted. A Pushgateway does nothing
// until scraped; here the store plays the scraper with honor_labels: true,
// writing every group (grouping labels overriding pushed ones) plus
// push_time_seconds and push_failure_time_seconds into the TSDB at once
// after each change and every PushInterval, and staleness markers for the
// series of a deleted or replaced group, so they vanish from queries at
// once.
//
// # Query API
//
// The Prometheus HTTP API endpoints Grafana and promtool use, GET and form
// POST, answer in Prometheus's JSON envelope with its error types and
// status codes (bad_data 400, execution 422, timeout 503, canceled 499,
// internal 500), time and duration parsing and result encoding byte for
// byte as web/api/v1 does (that package is not imported: it registers
// global encoders and pulls in the scrape and rule managers). Queries are
// bounded by a timeout, a sample limit and a concurrency limit (the
// engine's active query tracker, which also logs the queries that were
// running if the server crashed).
//
// # Authentication
//
// The server's access keys: SigV4, basic auth (key id and secret) or a
// bearer token (the secret); writes need a role allowed WriteMetrics
// (agent, admin), reads ReadMetrics (reader, admin). With no keys the
// server only listens on loopback and everything is allowed.
package metricstore
