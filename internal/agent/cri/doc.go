// Package cri turns the raw lines of a container log file into log records.
//
// It reads the two formats kubelet's runtimes write: CRI
// ("<RFC3339Nano> <stdout|stderr> <P|F> <message>", containerd and CRI-O)
// and Docker's json-file ({"log":"…\n","stream":"stdout","time":"…"}), and
// raw lines for host logs. A Parser owns one file and is driven by its
// tailer: Feed for each line, Flush from a ticker; it starts no goroutines.
//
// Joining happens in two stages per stream (stdout and stderr never mix):
//
//  1. Runtime splits: CRI "P" lines, and Docker lines whose log lacks the
//     trailing "\n", are joined until the line that ends them. The joined
//     message is capped (Options.MaxRecordBytes): past it the line goes out
//     in pieces marked Partial, cut on UTF-8 boundaries and counted.
//  2. Application records (off by default): with Options.Multiline, lines
//     that do not start a record (per the Start/Continue patterns, see the
//     java, python and go presets) are appended to the record before them,
//     capped in lines and bytes.
//
// Anything held waits at most Options.FlushTimeout after its last line,
// measured on the caller's clock (Flush(now, false)); Flush(now, true)
// emits everything, e.g. before the file is let go.
//
// Guarantees:
//   - Nothing is dropped: a line in neither format is passed through as the
//     message (stamped with its read time) and counted in Stats.InvalidLines.
//   - Every Message is valid UTF-8 (CloudWatch rejects anything else):
//     invalid bytes become U+FFFD and the record is counted. No input panics
//     (fuzzed).
//   - Checkpointing: Record.Offset never decreases and never passes a line
//     that is still held in a join; Pending() tells the same for the parser
//     as a whole. A checkpoint at the Offset of the last delivered record
//     therefore loses nothing. It may repeat: a line of one stream emitted
//     while the other stream held an unfinished join lies past that
//     checkpoint and is read again after a restart.
//
// Speed: a CRI "F" line with no join in progress costs no allocation; its
// Message aliases the line given to Feed. Messages (and the returned slice)
// are therefore valid only until the next call on the Parser.
package cri
