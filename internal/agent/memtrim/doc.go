// Package memtrim gives back the resident pages of the agent's own
// executable that start-up touched and the agent never reads again.
//
// Design: kinsight is one binary (server, agent, `up`), and Go runs every
// linked package's initialisation at start-up, the server's included.
// Those init functions and the tables they read are spread over the whole
// executable, and the kernel maps file pages around each fault
// (fault-around, 64 KiB), so right after start the agent had ~40 MB of
// the executable resident (its text and read-only data segments) against
// a working set of a few MB. Those are clean, file-backed pages: Trim
// tells the kernel (madvise MADV_DONTNEED) that this process does not need
// them; the page cache keeps them, and a page the agent does use again is
// mapped back by an ordinary minor fault.
//
// Guarantees: only read-only mappings of /proc/self/exe are touched (the
// writable data segment would lose its contents); their contents never
// change, so dropping them is invisible to the program. Trim is a no-op
// on systems other than Linux, and any failure (no /proc, madvise refused)
// only leaves the pages where they were. It is meant to run once or twice
// after start-up, not periodically: pages in use would just fault back.
package memtrim
