// Package tail follows log files without losing or repeating lines across
// rotation, truncation, deletion and agent restarts: the agent's input for
// /var/log/containers/*.log (kubelet's symlinks into /var/log/pods) and host
// logs such as /var/log/syslog.
//
// A file is identified by its content, never its name: device+inode plus its
// first bytes (FileID). Every PollInterval the Tailer re-expands its globs,
// resolves symlinks, and looks beside every followed file for its rotated
// siblings (<name>.<suffix>, <name>.<suffix>.gz). It reads through an open
// descriptor, so a renamed or deleted file is drained to its end before it is
// let go; a file rotated (even twice, even gzipped) before it was ever seen is
// still read; a .gz holding the rest of a file read before a restart is read
// from the saved offset of its decompressed stream; copy-truncate restarts
// at 0 and finds the lost tail in the copy when there is one.
//
// Lines are emitted only once their newline arrives (lines longer than
// MaxLineBytes go out in pieces). Each Line carries the identity and offset to
// acknowledge: Checkpoints stores only acknowledged offsets and writes them
// atomically, so a restart resumes at the last delivered line. What can still
// be lost, and the metric that counts it, is in design.md beside this file.
//
// Run(ctx, out) owns every goroutine-free step: one loop, one scan and one
// read round per poll; out being full pauses it (backpressure, no drop).
package tail
