// Package cloudwatch is the agent's CloudWatch Logs output: it ships
// batches of log events with PutLogEvents through aws-sdk-go-v2, either to a
// kinsight server (Config.Endpoint and an access key) or to AWS itself (no
// endpoint; credentials from the standard chain, which includes IRSA's web
// identity token, EC2/ECS roles, environment and shared files).
//
// # What Send guarantees
//
// Send(ctx, group, stream, events) takes events already in chronological
// order (the caller owns ordering; Send refuses unordered input before
// sending anything) and splits them into batches that AWS accepts:
//
//   - at most 1,048,576 bytes, counted as the UTF-8 message bytes plus 26
//     per event (AWS's documented rule);
//   - at most 10,000 events;
//   - a span of at most 24 hours between the first and last timestamp.
//
// A message longer than 1,048,550 bytes (the 1 MB per-event limit less the
// 26-byte overhead) cannot be sent whole: it is cut at a UTF-8 boundary,
// ends with TruncationMarker and is counted. Invalid UTF-8 is replaced by
// U+FFFD before sizing, because the JSON encoder would do so anyway and the
// batch size must be computed on the bytes that travel. Empty messages and
// negative timestamps, which the API rejects for the whole batch, are
// dropped and counted instead.
//
// Batches go out one at a time, in order. A batch is retried on throttling,
// 5xx answers, transport errors and per-attempt timeouts, with full-jitter
// exponential backoff (RetryBase·2^n capped at RetryMax) up to MaxRetries
// times; other errors (bad credentials, access denied, invalid parameters)
// end Send at once. A ResourceNotFoundException makes the output create the
// stream, and the group if that is missing too (ResourceAlreadyExists from a
// concurrent creator is success), then send again.
//
// Send returns nil only when every batch was acknowledged; then the caller
// may commit its offsets. Events the server acknowledged but refused by
// timestamp (rejectedLogEventsInfo: too old, too new, expired) are lost
// for good and counted in kinsight_agent_output_dropped_events_total{reason}.
// When Send fails part-way, the error is a *SendError whose Acked field
// says how many leading events were acknowledged, so the caller can commit
// that prefix and resend only the rest.
//
// # Delivery semantics
//
// To AWS: at least once, with the batch in flight as the duplication
// boundary: if a response is lost after the server made a batch durable
// (connection cut, timeout), the retry sends the same batch again and the
// server stores it twice. AWS has no idempotency token for PutLogEvents, so
// no client can do better; nothing outside the batch in flight is ever sent
// twice by Send.
//
// To a kinsight server: exactly once. Each Event may carry its position in
// its source (Source, Channel, End: a file offset or a journal seqnum);
// when every event of a Send has one and each (Source, Channel)'s ends grow
// in order, every request carries the X-Kinsight-Positions header
// (positions.go), set in Serialize so SigV4 signs it. The server keeps the
// highest end stored per stream and (source, channel) and skips an event at
// or below it, so a retried batch, or lines the agent re-reads after a
// crash from its conservative checkpoint, are stored once; it answers with
// X-Kinsight-Duplicates, counted in duplicate_events_total. A Send whose
// ends do not grow (a batch sorted by time whose runtime clock went back)
// goes without the header, at least once as to AWS, rather than let the
// server take a later event of a channel for a repeat.
//
// # Several streams per request (kinsight servers)
//
// SendMany(ctx, parts) delivers several streams' events in
// PutLogEventsBatch requests (multi.go; docs/api.md), a kinsight server's
// extension: one request for up to MaxBatchParts parts, each part one
// stream's batch with its own positions, which the server applies as a
// PutLogEvents and answers on its own. At the benchmark's steady load (200
// streams, a batch each per second) that is about 8 requests a second
// instead of 200, and the per-request costs were most of the agent's steady
// CPU. The request is built and signed without the SDK (the SDK's v4
// signer, the same credentials, endpoint, HTTP client and compression);
// failures of the whole request are retried like a PutLogEvents. SendMany
// makes one attempt per part: a part the server refused (a missing stream,
// say) gets its error and a part it could not batch (larger than one
// PutLogEvents, or batching is off) gets ErrNotBatched, and the caller
// delivers those with Send — creating streams and retrying — while the
// other parts are acknowledged already. A server that answers
// UnknownOperationException (older than the action) turns batching off for
// good (Batches() false). To AWS, nothing changes: Batches() is false
// without an Endpoint.
//
// # Compression
//
// Against a kinsight server the request body is compressed by a
// Build-step middleware, before the Finalize step hashes the payload and
// signs it. By default ("auto") that is an S2 block (Content-Encoding
// x-kinsight-s2): about five times cheaper to write than zstd's fastest
// level, for a body about 1.5 times zstd's (still a tenth of the JSON). A
// server that answers 400 "Unsupported Content-Encoding" (a kinsight
// server from before S2) gets the same request again in zstd, and every
// later one. zstd or gzip can be chosen instead; they never fall back. The kinsight server verifies SigV4 on the
// raw, compressed bytes and only then decodes Content-Encoding, so the
// signature must cover the compressed body, which this order ensures. AWS's
// CloudWatch Logs does not accept compressed PutLogEvents bodies, hence
// "auto" means none there.
//
// # Metrics
//
// All under kinsight_agent_output_: requests_total{operation,result},
// events_total, bytes_total (message bytes acknowledged),
// request_bytes_total (bytes on the wire, after compression), retries_total,
// batch_duration_seconds (one batch, retries included),
// dropped_events_total{reason}, truncated_events_total,
// resources_created_total{kind} and duplicate_events_total (events a
// kinsight server skipped as already stored). Several outputs sharing one registry
// should each get prometheus.WrapRegistererWith(labels, reg).
package cloudwatch
