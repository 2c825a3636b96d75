// Package pipeline wires the agent's parts into one log pipeline:
//
//	tail.Tailer → per-file cri.Parser → route → batch per (group, stream)
//	  → buffer.Buffer → sender: cloudwatch.Output.Send → Ack
//	  → buffer.Released → tail.Checkpoints.Ack → Checkpoints.Flush
//
// # Routing
//
// Container logs (files named <pod>_<namespace>_<container>-<64 hex>.log, as
// kubelet links them in /var/log/containers) go to the group
// /aws/containerinsights/{cluster}/application, one stream per file name
// without ".log", each message the Fluent Bit-style JSON record Container
// Insights stores: {"log", "stream", "time", "kubernetes": {pod_name,
// namespace_name, container_name, docker_id, host}}. The kubernetes fields
// come from the file name only; labels, annotations and pod ids from the API
// server are a later session's work. Host logs (/var/log/messages, syslog …)
// go to /aws/containerinsights/{cluster}/host, stream {host}.{file base name},
// the message being the raw line. Both names are templates in Routes.
//
// # No loss, no duplicates beyond the batch in flight
//
// Each payload pushed to the buffer carries a token: the (file, offset)
// positions its records cover, an offset being the parser's Record.Offset,
// which never passes a line still held in a join. The buffer releases tokens
// in push order once their payload is acknowledged by the server, persisted
// in the disk buffer, or dropped and counted; only then are the positions
// acknowledged to the checkpoints (Checkpoints keeps the highest per file) and
// flushed to disk periodically and at shutdown. So a checkpoint never passes a
// line that is neither delivered, durably buffered nor counted as dropped,
// and a restart re-reads only what was not. Lines of excluded containers are
// acknowledged as soon as they are read: nothing will ever deliver them.
//
// Every record of one file lands in one (group, stream) batch, so a file's
// positions reach the buffer in order. Send failures are Nacked and retried
// after a jittered backoff; a *cloudwatch.SendError's acknowledged prefix is
// not sent again.
package pipeline
