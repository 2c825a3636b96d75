// Package agentwal is the agent's side of metric shipping: a write-ahead
// log that collectors append samples to, and one sender per remote_write
// endpoint that ships the log's samples in order, so that an outage of the
// endpoint, or a restart or crash of the agent, does not lose samples. It
// lives in the metricstore tree because it is built from Prometheus's own
// code, which only that tree may import.
//
// # What is Prometheus's and what is not
//
// The log is Prometheus's agent-mode storage (tsdb/agent): its WAL of
// series and sample records, its series garbage collection and its
// checkpoints. Requests are sent by Prometheus's remote write client
// (storage/remote.Client: snappy protobuf, remote write 1.0, SigV4, basic
// auth, bearer tokens, extra headers, 5xx and 429 retryable, other 4xx
// not). The sending loop is ours, because Prometheus's queue (QueueManager
// with its WAL watcher) resumes by time, not by position: after a restart
// its watcher skips every sample older than the moment it started and every
// segment but the newest, so samples that were in the WAL but unsent when
// the agent stopped are never sent. Here each endpoint's reader keeps its
// position in the WAL (segment, byte offset of the end of the last record
// whose samples were all acknowledged) in <dir>/positions/<name>.json,
// written after every acknowledged request, and resumes from it. The
// positions are removed when the WAL directory is missing at Open (a new
// WAL starts at segment 0 again and would otherwise be skipped).
//
// # Guarantees
//
//   - A Commit writes its records to the WAL and flushes them to the
//     operating system before returning (Prometheus's WAL flushes its page
//     at the end of each batch of records); the WAL fsyncs a segment when
//     it is complete and on Close. So a SIGKILL of the agent loses nothing
//     committed, and a power loss or kernel crash loses at most the samples
//     committed since the last segment was completed — the WAL's fsync
//     point. Close fsyncs everything.
//   - While the endpoint is unreachable or answers 5xx/429, the same
//     request is retried with exponential backoff (MinBackoff doubled up to
//     MaxBackoff) forever; samples keep being appended to the WAL meanwhile
//     and are sent after the outage, in order.
//   - Delivery is at least once: after a crash, requests sent after the last
//     saved position are sent again. kinsight server and Prometheus (both
//     tested) take a resent sample at a series' newest timestamp as a
//     duplicate of the same value, and refuse an older one as out of order
//     while storing the rest of the request; that answer (400) is then
//     counted in samples_failed_total although nothing was lost.
//   - A request the endpoint refuses with another 4xx (bad auth, invalid
//     labels) is dropped and counted in samples_failed_total, so one bad
//     batch cannot stop shipping.
//   - The WAL is bounded in time, not in size: every TruncateFrequency
//     (2h) the agent storage drops series without samples for MaxWALTime
//     (4h) and folds all but its newest segments into a checkpoint, which
//     keeps the samples younger than MaxWALTime. A reader whose segments
//     were folded away sends the checkpoint's samples from the newest
//     timestamp it had shipped on, so an outage of up to MaxWALTime loses
//     nothing; older samples are lost and counted in
//     wal_segments_lost_total.
//
// Samples are sent in WAL order by one request at a time per endpoint (one
// "shard"): that is what makes the saved position exact. One sender moves
// 2,000 samples per request, plenty for a node agent's tens of thousands
// of samples per collection interval.
//
// # Metrics
//
// Prometheus's remote storage metric names with kinsight_agent_ in place
// of prometheus_ (kinsight_agent_remote_storage_samples_total,
// _samples_failed_total, _samples_retried_total, _samples_pending,
// _bytes_total, _queue_highest_sent_timestamp_seconds, _shards,
// _sent_batch_duration_seconds, _wal_watcher_current_segment, _series,
// _wal_segments_lost_total, labelled remote_name and url), plus
// kinsight_agent_wal_size_bytes and the agent storage's own metrics
// prefixed kinsight_agent_ (kinsight_agent_prometheus_agent_*,
// kinsight_agent_prometheus_tsdb_wal_*), so none collides with the
// agent's other collectors.
package agentwal
