// Package journal is the agent's dataplane input: it follows the systemd
// journal (the units kubelet, containerd, docker and kube-proxy in the
// Container Insights set-up) and emits one Entry per journal entry, for the
// /aws/containerinsights/<cluster>/dataplane group.
//
// # Design
//
// The journal file format is owned by systemd and changes between versions
// (compact mode, new hash functions, zstd), so the Reader does not parse
// journal files itself: it runs `journalctl -o json --follow --all` and
// decodes its output. journalctl does the seeking, the interleaving of
// files, rotation and vacuuming; the Reader only has to keep a cursor.
//
// journalctl prints each field as a JSON string, as null (a field it could
// not or would not print), as an array of byte values (binary or
// invalid-UTF-8 data, such as a MESSAGE containing control characters), or
// as an array of any of these when the field is repeated in the entry. The
// decoder accepts all of these shapes; --all stops journalctl from turning
// fields over 4 KiB into null, and --output-fields keeps the lines short.
//
// # Guarantees
//
//   - Entries are emitted in journal order; each carries its __CURSOR.
//   - The cursor file holds the last cursor the pipeline acknowledged (Ack)
//     and is written only by Flush, atomically (temporary file, fsync,
//     rename, fsync of the directory). After a crash the Reader resumes
//     strictly after that cursor (--after-cursor), so entries delivered
//     before the last Flush are not repeated and nothing after it is lost.
//   - When journalctl dies, it is restarted with jittered exponential
//     backoff (counted in kinsight_agent_journal_restarts_total), after the
//     last cursor *emitted* in this process, so an in-process restart neither
//     loses nor repeats entries.
//   - A cursor that journalctl rejects (a journal from another machine, a
//     damaged cursor file) is not retried forever: the Reader falls back to
//     --since the cursor's own timestamp, which repeats the entry at that
//     cursor (and any of the same microsecond) but loses none, and counts it
//     (errors_total{reason="bad_cursor"}).
//   - Nothing crashes the input: undecodable lines (errors_total{reason="decode"}),
//     over-long messages (truncated to MaxMessageBytes, reason="truncated"),
//     lines too long to decode at all (reason="line_too_long", skipped) are
//     counted and logged.
//
// # Limits
//
// Units are matched as journalctl -u matches them: besides the unit's own
// entries (_SYSTEMD_UNIT) that includes systemd's messages about the unit
// ("Started kubelet.service"), whose Entry.Unit is the sender, init.scope.
// Lines too long to decode are skipped (counted), so a single message
// larger than about 5×MaxMessageBytes+1 MiB is lost, not truncated.
package journal
