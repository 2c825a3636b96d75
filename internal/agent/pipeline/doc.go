// Package pipeline wires the agent's parts into one log pipeline:
//
//	tail.Tailer → per-file cri.Parser → route (+ pod metadata) → batch per (group, stream)
//	journal.Reader ─────────────────────────────────────────────┘
//	  → buffer.Buffer → senders (one stream's batches in order) → Sender.Send → Ack
//	  → buffer.Released → tail.Checkpoints.Ack / Journal.Ack → saved after acks
//
// # Routing
//
// Container logs (files named <pod>_<namespace>_<container>-<64 hex>.log, as
// kubelet links them in /var/log/containers) go to the group
// /aws/containerinsights/{cluster}/application, one stream per file name
// without ".log", each message the Fluent Bit-style JSON record Container
// Insights stores: {"log", "stream", "time", "kubernetes": {…}} and, for
// JSON lines with MergeLog, the parsed line under MergeLogKey. The
// kubernetes object starts with what the file name tells (pod, namespace,
// container, docker id, host); with Pods it gets the pod's id, labels,
// annotations, image and owner, looked up once per file by the UID of the
// pod directory the link points into (else by name). Records of a pod not
// known yet are held for PodWait, then go out with the file name's
// metadata. Pod annotations kinsight.io/exclude and kinsight.io/parser
// (also per container) and the Filter's namespace, container and label
// rules decide what is shipped. The kube-system pods named in
// Filter.DataplanePods and the journal's entries go to the dataplane group;
// host logs (/var/log/messages, syslog …) go to
// /aws/containerinsights/{cluster}/host, stream {host}.{file base name},
// the message being the raw line. Every name is a template in Routes.
//
// # Cost per record
//
// A record is encoded once: appendQuotedContainerRecord writes it straight
// as the JSON string the PutLogEvents body carries (cloudwatch.Event.Quoted;
// the kubernetes object, most of a record, is escaped once per file), into
// its batch, which is built as its buffer payload (codec.go) and pushed
// without a copy; the delivery decodes it without copying either, and the
// request body is a concatenation. The kubernetes object is not in the
// record at all: a batch's payload holds it once (cloudwatch.Event.Shared,
// payload version 4) and it is spliced in only while the request body is
// written, so a batch held in memory or spilled to disk lacks most of its
// records' bytes (steady benchmark: in-use heap 29 → 20 MB, GC cycles
// 178 → 65 over its minute). Lines come from the tailer in shared
// slabs. So a record's bytes are copied a fixed few times and allocate no
// objects of their own; the garbage collector sees large pointer-free
// blocks.
//
// # No loss, repeats bounded by the batches in flight
//
// Each payload pushed to the buffer carries a token: the (file, offset)
// positions its records cover, an offset being the parser's Record.Offset,
// which never passes a line still held in a join, plus the journal cursor
// and its event count. The buffer releases tokens in push order once their
// payload is acknowledged by the destination, persisted in the disk buffer,
// or dropped and counted (in events, as the buffer drops them); only then
// are the positions acknowledged to the checkpoints (Checkpoints keeps the
// highest per file) and the cursor to the journal, and both are saved
// right after acknowledgements (at most every 100 ms; every second to a
// kinsight server, which drops what a crash re-sends) and at shutdown. So a checkpoint
// never passes a line that is neither delivered, durably buffered nor
// counted as dropped, and a restart re-reads only what was not — plus,
// after a crash, the batches that were in flight or acknowledged since
// the last save. Lines of
// excluded containers are acknowledged as soon as they are read.
//
// Those repeats are made harmless against a kinsight server: every event
// carries its position (cloudwatch.Event's Source, Channel, End) through
// the batch and the disk buffer to the X-Kinsight-Positions header. Source
// is tail.Line.Source (device, inode and first bytes of the file, or of
// the file whose rest a .gz holds), Channel 1/2 for CRI or Docker stdout
// and stderr and 0 for host files and the journal, End the parser's
// Record.End or the journal seqnum (the source then hashes the cursor's
// s=). Re-reading a file gives its records the same positions, so the
// server skips the ones it stored before the crash.
//
// Every record of one file lands in one (group, stream) batch, and one
// stream's batches are delivered by one sender, in push order, each retried
// after a jittered backoff until acknowledged; a *cloudwatch.SendError's
// acknowledged prefix is not sent again. To a kinsight server a sender
// takes the ready batches of up to 64 idle streams at once (those ready
// within 20 ms of the first, or while every sender was busy) and delivers
// them in one PutLogEventsBatch request (cloudwatch.Output.SendMany); each
// is still acknowledged on its own, and one that failed goes on by itself
// through Send, so a missing or refused stream never holds back the others'
// acknowledgements, and two batches of one stream are never in flight at
// once. While the destination keeps
// acknowledging, a full memory buffer holds the reader back (backpressure)
// for up to two seconds before spilling to disk.
package pipeline
