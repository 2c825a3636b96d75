package journal

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Reader follows the journal through journalctl. Run it once; Ack and
// Flush may be called from other goroutines while it runs.
type Reader struct {
	cfg Config
	log *slog.Logger
	m   metrics

	mu        sync.Mutex
	acked     string // last cursor the pipeline acknowledged
	saved     string // cursor on disk
	badCursor bool   // journalctl rejected the resume cursor: use --since
}

type metrics struct {
	entries  prometheus.Counter
	restarts prometheus.Counter
	errors   *prometheus.CounterVec
}

// New checks cfg, loads the saved cursor and registers the metrics on reg
// (nil: not registered).
func New(cfg Config, log *slog.Logger, reg prometheus.Registerer) (*Reader, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	r := &Reader{cfg: cfg, log: log.With("input", "journal")}
	r.m = metrics{
		entries: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "kinsight_agent_journal_entries_total",
			Help: "Journal entries read from journalctl and emitted.",
		}),
		restarts: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "kinsight_agent_journal_restarts_total",
			Help: "Times journalctl was restarted after it exited or failed to start.",
		}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kinsight_agent_journal_errors_total",
			Help: "Journal input problems by reason (decode, truncated, line_too_long, exit, start, bad_cursor, cursor_file).",
		}, []string{"reason"}),
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{r.m.entries, r.m.restarts, r.m.errors} {
			if err := reg.Register(c); err != nil {
				return nil, fmt.Errorf("journal: register metrics: %w", err)
			}
		}
	}
	c, err := loadCursor(cfg.CursorFile)
	if err != nil {
		// Refusing to start would stop the dataplane logs for good; reading
		// from the start repeats entries but loses none.
		r.m.errors.WithLabelValues("cursor_file").Inc()
		r.log.Error("ignoring unreadable cursor file, reading the journal from its start", "err", err)
	}
	r.acked, r.saved = c, c
	return r, nil
}

// Ack records that the entry with this cursor, and every entry before it,
// was delivered. The pipeline acks in the order entries were emitted, so
// the last ack is the highest.
func (r *Reader) Ack(cursor string) {
	if cursor == "" {
		return
	}
	r.mu.Lock()
	r.acked = cursor
	r.mu.Unlock()
}

// Flush saves the last acknowledged cursor to CursorFile if it changed.
func (r *Reader) Flush() error {
	if r.cfg.CursorFile == "" {
		return nil
	}
	r.mu.Lock()
	c, saved := r.acked, r.saved
	r.mu.Unlock()
	if c == "" || c == saved {
		return nil
	}
	if err := saveCursor(r.cfg.CursorFile, c); err != nil {
		r.m.errors.WithLabelValues("cursor_file").Inc()
		return fmt.Errorf("journal: %w", err)
	}
	r.mu.Lock()
	r.saved = c
	r.mu.Unlock()
	return nil
}

// Run follows the journal and sends entries to out, in journal order, until
// ctx is done (then it returns nil). It starts after the saved cursor, or at
// the start of the journal when there is none. journalctl is restarted with
// backoff whenever it exits; Run returns an error only if journalctl cannot
// be found at all.
func (r *Reader) Run(ctx context.Context, out chan<- Entry) error {
	if _, err := exec.LookPath(r.cfg.Journalctl); err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	r.mu.Lock()
	cursor := r.acked
	r.mu.Unlock()
	backoff := r.cfg.minBackoff
	for first := true; ; first = false {
		if !first {
			r.m.restarts.Inc()
		}
		last, n, err := r.runOnce(ctx, out, cursor)
		if last != "" {
			cursor = last
		}
		if ctx.Err() != nil {
			return nil
		}
		if n > 0 {
			backoff = r.cfg.minBackoff
		}
		r.log.Warn("journalctl exited, restarting", "err", err, "entries", n, "backoff", backoff)
		// Full jitter keeps a fleet of agents from restarting in step.
		wait := backoff/2 + rand.N(backoff/2+1)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		backoff = min(2*backoff, r.cfg.maxBackoff)
	}
}

// args builds journalctl's command line to resume after cursor.
func (r *Reader) args(cursor string) []string {
	a := []string{"-o", "json", "--follow", "--no-pager", "--no-tail", "--all",
		"--output-fields=" + outputFields}
	if d := r.cfg.Directory; d != "" {
		if fi, err := os.Stat(d); err == nil && fi.Mode().IsRegular() {
			a = append(a, "--file", d)
		} else {
			a = append(a, "--directory", d)
		}
	}
	r.mu.Lock()
	bad := r.badCursor
	r.mu.Unlock()
	if cursor != "" {
		if t, ok := cursorTime(cursor); bad && ok {
			// --since is inclusive: the cursor's own entry (and any of the
			// same microsecond) comes again, nothing is skipped.
			us := t.UnixMicro()
			a = append(a, "--since", fmt.Sprintf("@%d.%06d", us/1e6, us%1e6))
		} else if !bad {
			a = append(a, "--after-cursor", cursor)
		}
	}
	for _, u := range r.cfg.Units {
		a = append(a, unitMatch(u)...)
	}
	return a
}

// unitMatch selects one unit's own entries. A plain name becomes the match
// _SYSTEMD_UNIT=name (".service" added when there is no suffix), as Fluent
// Bit's systemd input filters: -u would also select systemd's messages
// about the unit ("Started kubelet.service"), sent by init.scope. Globs
// keep journalctl's -u, which expands them.
func unitMatch(u string) []string {
	if strings.ContainsAny(u, "*?[") {
		return []string{"-u", u}
	}
	if !strings.Contains(u, ".") {
		u += ".service"
	}
	return []string{"_SYSTEMD_UNIT=" + u}
}

// runOnce runs journalctl until it exits or ctx is done, and returns the
// last cursor it emitted and how many entries it emitted.
func (r *Reader) runOnce(ctx context.Context, out chan<- Entry, cursor string) (last string, n int, err error) {
	args := r.args(cursor)
	cmd := exec.CommandContext(ctx, r.cfg.Journalctl, args...)
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 2 * time.Second
	stderr := &tailBuffer{max: 4096}
	cmd.Stderr = stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return "", 0, fmt.Errorf("journalctl stdout: %w", err)
	}
	if err := cmd.Start(); err != nil {
		r.m.errors.WithLabelValues("start").Inc()
		return "", 0, fmt.Errorf("start journalctl: %w", err)
	}
	r.log.Debug("journalctl started", "args", args, "pid", cmd.Process.Pid)
	readErr := r.consume(ctx, stdout, out, &last, &n)
	if readErr != nil {
		// Stop reading: make sure journalctl does not block on a full pipe.
		_ = cmd.Process.Signal(syscall.SIGTERM)
	}
	waitErr := cmd.Wait()
	if ctx.Err() != nil {
		return last, n, ctx.Err()
	}
	msg := strings.TrimSpace(stderr.String())
	if n == 0 && cursor != "" && strings.Contains(strings.ToLower(msg), "cursor") {
		// journalctl rejected the cursor itself; retrying it would fail forever.
		r.m.errors.WithLabelValues("bad_cursor").Inc()
		r.log.Error("journalctl rejected the cursor, resuming from its timestamp", "cursor", cursor, "stderr", msg)
		r.mu.Lock()
		r.badCursor = true
		r.mu.Unlock()
	} else if n > 0 {
		r.mu.Lock()
		r.badCursor = false
		r.mu.Unlock()
	}
	r.m.errors.WithLabelValues("exit").Inc()
	return last, n, fmt.Errorf("journalctl exited: %w (stderr: %q, read: %v)", waitErr, msg, readErr)
}

// consume reads journalctl's output line by line and emits entries.
func (r *Reader) consume(ctx context.Context, stdout io.Reader, out chan<- Entry, last *string, n *int) error {
	br := bufio.NewReaderSize(stdout, 64<<10)
	maxLine := r.cfg.maxLineBytes()
	var line []byte
	tooLong := false
	for {
		chunk, err := br.ReadSlice('\n')
		if len(line)+len(chunk) > maxLine {
			tooLong = true
			line = line[:0]
		} else if !tooLong {
			line = append(line, chunk...)
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if err != nil {
			// A partial last line means journalctl died mid-write: the
			// entry comes again after the restart, as its cursor was not emitted.
			return err
		}
		if tooLong {
			tooLong = false
			r.m.errors.WithLabelValues("line_too_long").Inc()
			r.log.Warn("skipped a journal entry longer than the line limit", "limit", maxLine)
			continue
		}
		l := bytes.TrimSpace(line)
		if len(l) > 0 {
			e, truncated, perr := parseEntry(l, r.cfg.MaxMessageBytes)
			if perr != nil {
				r.m.errors.WithLabelValues("decode").Inc()
				r.log.Warn("undecodable journalctl line", "err", perr, "line", truncate(l, 256))
			} else {
				if truncated {
					r.m.errors.WithLabelValues("truncated").Inc()
				}
				select {
				case out <- e:
				case <-ctx.Done():
					return ctx.Err()
				}
				r.m.entries.Inc()
				*last = e.Cursor
				*n++
			}
		}
		if cap(line) > 1<<20 {
			line = nil // do not keep a huge buffer after one huge entry
		} else {
			line = line[:0]
		}
	}
}

func truncate(b []byte, n int) string {
	if len(b) > n {
		b = b[:n]
	}
	return string(b)
}

// tailBuffer keeps the last max bytes written to it (journalctl's stderr,
// for the log line when it exits).
type tailBuffer struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if len(t.b) > t.max {
		t.b = append(t.b[:0], t.b[len(t.b)-t.max:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.b)
}
