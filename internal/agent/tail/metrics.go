package tail

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// Reasons for kinsight_agent_tail_errors_total and lost_bytes_total.
const (
	reasonDanglingSymlink = "dangling_symlink"
	reasonUnreadable      = "unreadable"
	reasonGlob            = "glob"
	reasonTruncated       = "truncated"
	reasonGone            = "gone"
	reasonGzip            = "gzip"
	reasonNotRegular      = "not_regular" // a directory (or device, fifo…) where a log file is expected
)

type metrics struct {
	lines       prometheus.Counter
	bytes       prometheus.Counter
	rotations   prometheus.Counter
	truncations prometheus.Counter
	split       prometheus.Counter
	gzResumes   prometheus.Counter
	forgotten   prometheus.Counter
	openFiles   prometheus.Gauge
	lag         prometheus.Gauge
	fileLag     *prometheus.GaugeVec
	errors      *prometheus.CounterVec
	lost        *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	c := func(name, help string) prometheus.Counter {
		return prometheus.NewCounter(prometheus.CounterOpts{Name: "kinsight_agent_tail_" + name, Help: help})
	}
	m := &metrics{
		lines:       c("lines_total", "Lines emitted (a split line counts once per piece)."),
		bytes:       c("bytes_total", "Bytes read from files, newlines included."),
		rotations:   c("rotations_total", "Files seen leaving their followed name (renamed or deleted)."),
		truncations: c("truncations_total", "Files that shrank below the read offset (copy-truncate); reading restarted at 0."),
		split:       c("lines_split_total", "Lines longer than max_line_bytes, emitted in pieces."),
		gzResumes:   c("gzip_resumes_total", "Files whose remainder was read from a .gz with the same first bytes."),
		forgotten:   c("checkpoints_forgotten_total", "Checkpoint identities forgotten after forget_after off disk."),
		openFiles: prometheus.NewGauge(prometheus.GaugeOpts{Name: "kinsight_agent_tail_open_files",
			Help: "Files held open."}),
		lag: prometheus.NewGauge(prometheus.GaugeOpts{Name: "kinsight_agent_tail_lag_bytes",
			Help: "Bytes on disk not yet read, summed over followed files."}),
		fileLag: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "kinsight_agent_tail_file_lag_bytes",
			Help: "Bytes on disk not yet read, per followed path (a rotated file still draining counts under the name it was found by)."}, []string{"path"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "kinsight_agent_tail_errors_total",
			Help: "Files that could not be followed, by reason (dangling_symlink, unreadable, glob, gzip, not_regular)."}, []string{"reason"}),
		lost: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "kinsight_agent_tail_lost_bytes_total",
			Help: "Bytes known to be written but never read, by reason (truncated, gone, gzip)."}, []string{"reason"}),
	}
	for _, col := range []prometheus.Collector{m.lines, m.bytes, m.rotations, m.truncations, m.split,
		m.gzResumes, m.forgotten, m.openFiles, m.lag, m.fileLag, m.errors, m.lost} {
		if err := reg.Register(col); err != nil {
			return nil, fmt.Errorf("register tail metrics: %w", err)
		}
	}
	for _, r := range []string{reasonDanglingSymlink, reasonUnreadable, reasonGlob, reasonGzip, reasonNotRegular} {
		m.errors.WithLabelValues(r)
	}
	for _, r := range []string{reasonTruncated, reasonGone, reasonGzip} {
		m.lost.WithLabelValues(r)
	}
	return m, nil
}
