// Package buffer is the agent's delivery buffer: a bounded in-memory queue
// that spills to a bounded on-disk buffer when the destination is slow or
// down, and that tells the checkpointer which source positions are safe to
// commit.
//
// # Model
//
// The caller pushes opaque items: a payload (an encoded batch) and a token
// (the source position(s) the batch covers, opaque to this package). Items
// get increasing IDs and are delivered in push order: Next hands out the
// oldest item that is not in flight, Ack removes it, Nack hands it back to be
// delivered again before any later item. At most Config.MaxInFlight items are
// out at once; the default of 1 keeps delivery strictly ordered even across
// retries, which CloudWatch's per-stream order needs. With a larger window
// acks may come in any order, but a Nack'd item then goes out after later
// ones already sent.
//
// # Memory, disk and order
//
// Payloads stay in memory up to Config.MemoryBytes. Past that, the OLDEST
// in-memory items (in flight or not) are written to the active disk segment,
// so the queue is always "disk part, then memory part" in push order. Push
// never waits for the consumer. When a spill would pass Config.DiskBytes the
// oldest segment is dropped whole: its unacknowledged items are counted in
// kinsight_agent_buffer_dropped_total{reason="disk_full"} (an item dropped
// while in flight makes its Ack fail with ErrNotInFlight, so the caller never
// counts it twice). A buffer opened with an empty dir is memory-only and
// drops its oldest item (reason memory_full) instead. An item larger than
// the whole budget is dropped with reason too_large. Nothing is dropped
// without a count and a release.
//
// # Releases: what the checkpointer may commit
//
// Released returns tokens in push order, each exactly once, the moment the
// item stops depending on the source:
//
//   - Acked: the destination acknowledged it;
//   - Persisted: it is in a segment on stable storage (fsynced), so the disk
//     buffer will deliver it even after a crash;
//   - Dropped: it was dropped and counted; re-reading it would not help;
//   - Recovered: Open found it on disk (the commit of its position may not
//     have happened before the crash).
//
// A token is released only after every token pushed before it, so applying
// them in order never commits a position whose data could still be lost.
// Releasing at persistence (not only at ack) is what avoids duplicates:
// after a crash the disk part is replayed, and the tailer resumes right after
// it. Because spilling takes the oldest items first, the disk part is always
// a prefix of what was pushed, so "replay the disk, then re-read the source
// from the last released position" covers every item once. Items held only
// in memory need no durability: they were never released, so the tailer
// reads them again from its committed offsets. The tailer should apply a
// token only when it is ahead of the position it holds (Recovered tokens may
// be behind a position committed from later acks).
//
// # Durability
//
// Segments are append-only files of length+CRC-32C frames (FORMAT.md): item
// frames, and ack frames written when a spilled item is acknowledged while its
// segment lives on, so a restart does not redeliver it. Segments are deleted
// oldest first once every item in them is resolved; the last one is truncated
// back to its header and reused instead. With Sync "always" each
// Push that spilled and each Ack that wrote an ack frame ends with an fsync;
// with "interval" fsyncs happen at most every SyncInterval (or on Sync), so
// spilled items are released later and a crash may redeliver items acked in
// the last interval. At Open a torn or corrupt tail is truncated and its bytes
// counted in kinsight_agent_buffer_truncated_bytes_total; an item whose
// frame fails its checksum when read back is dropped with reason corrupt.
//
// # Bounds
//
// Memory: payloads ≤ MemoryBytes, plus per queued item its token and a small
// index entry (disk items keep only their place, not their payload). Disk:
// segment bytes ≤ DiskBytes before each spill; ack frames (17 bytes each)
// written since the last spill may pass it by that much. All methods are safe
// for concurrent use; Next blocks until an item, ctx's end or Close. No
// goroutine is started.
//
// # BytePool
//
// BytePool (bytepool.go) recycles byte slices by size class; the pipeline
// builds payloads in them and hands them back once acknowledged, and the
// CloudWatch output builds request bodies in them.
package buffer
