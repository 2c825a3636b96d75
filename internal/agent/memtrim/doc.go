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
// only leaves the pages where they were.
//
// Large folios: the page cache may hold the executable in folios of up
// to 2 MiB (mmap readahead grows them), and Linux maps a whole large
// folio on a fault (fault-around of the entire folio, 6.18; a PMD mapping
// for a 2 MiB one). One touch of a table then makes hundreds of KiB
// resident: in the agent benchmark ~22 MB of the 36 MB read-only data
// segment (pclntab, type descriptors) stayed resident a few seconds after
// each trim, because every collection's stack scans and type lookups touch
// a few bytes in dozens of places. Measured with 50 reads spread over
// pclntab: 16.5 MB resident from large folios, 200 KB from small ones.
// So Trim advises MADV_NOHUGEPAGE, and TrimAndEvict also MADV_RANDOM (no
// readahead: a fault reads one small folio) and drops the file's page
// cache that nothing maps (POSIX_FADV_DONTNEED). What the agent touches
// afterwards is read back, once, in small folios. It does not evict when
// another process it can see maps the same file (the benchmark's server,
// or a server on the same host): that process's faults would read the
// evicted pages back in large folios, which the agent then maps whole, and
// the file RSS grew (20 → 27–30 MB) instead of shrinking.
//
// Run trims periodically, evicting on its first trim only: start-up is not
// the only source of pages the agent never needs again (a rare path, a
// pprof profile), and evicting each time would re-read the working set
// from disk. Between two trims only the working set of that interval is
// resident; what a trim costs is the minor faults mapping it back.
package memtrim
