package tail

import (
	"errors"
	"fmt"
	"path/filepath"
	"time"
)

// Config says what to follow and how.
type Config struct {
	// Include lists globs of files to follow (e.g. /var/log/containers/*.log).
	// Matches may be symlinks; the identity is their target's. Required.
	Include []string
	// Exclude lists globs (matched against the include-matched name and
	// against rotated siblings' names) to leave alone.
	Exclude []string
	// PollInterval is how often globs are re-scanned and files stat'ed.
	// Default 250ms.
	PollInterval time.Duration
	// MaxLineBytes caps a line: a longer line is emitted in pieces of this
	// size (never truncated; each split line counts once in
	// kinsight_agent_tail_lines_split_total). Default 256 KiB.
	MaxLineBytes int
	// StartAt is "beginning" or "end": where a file already there at the
	// first scan starts when there are no checkpoints at all (a first run).
	// With checkpoints, a file without one appeared while the agent was
	// stopped and is read from the beginning; files appearing later always
	// are. Default "beginning".
	StartAt string
	// ReadBufferBytes is the size of one read. Default 64 KiB.
	ReadBufferBytes int
	// FingerprintBytes is how many first bytes identify a file's content
	// beside its inode. Default 1024.
	FingerprintBytes int
	// MaxBytesPerPoll bounds what one file may read per poll so one busy
	// file does not starve the others or delay rotation checks. Default 4 MiB.
	MaxBytesPerPoll int64
	// ForgetAfter is how long an identity no longer on disk is remembered
	// (checkpoint entries, drained rotated files a .gz may match). Default 10m.
	ForgetAfter time.Duration
}

// Start positions for Config.StartAt.
const (
	StartBeginning = "beginning"
	StartEnd       = "end"
)

// withDefaults fills zero fields.
func (c Config) withDefaults() Config {
	if c.PollInterval == 0 {
		c.PollInterval = 250 * time.Millisecond
	}
	if c.MaxLineBytes == 0 {
		c.MaxLineBytes = 256 << 10
	}
	if c.StartAt == "" {
		c.StartAt = StartBeginning
	}
	if c.ReadBufferBytes == 0 {
		c.ReadBufferBytes = 64 << 10
	}
	if c.FingerprintBytes == 0 {
		c.FingerprintBytes = 1024
	}
	if c.MaxBytesPerPoll == 0 {
		c.MaxBytesPerPoll = 4 << 20
	}
	if c.ForgetAfter == 0 {
		c.ForgetAfter = 10 * time.Minute
	}
	return c
}

// Validate reports every problem, each naming its field.
func (c Config) Validate() error {
	var errs []error
	if len(c.Include) == 0 {
		errs = append(errs, errors.New("include must not be empty"))
	}
	for _, p := range append(append([]string(nil), c.Include...), c.Exclude...) {
		if _, err := filepath.Match(p, ""); err != nil {
			errs = append(errs, fmt.Errorf("bad glob %q: %w", p, err))
		}
	}
	if c.StartAt != "" && c.StartAt != StartBeginning && c.StartAt != StartEnd {
		errs = append(errs, fmt.Errorf("start_at must be %q or %q, got %q", StartBeginning, StartEnd, c.StartAt))
	}
	if c.PollInterval < 0 || c.MaxLineBytes < 0 || c.ReadBufferBytes < 0 || c.FingerprintBytes < 0 || c.MaxBytesPerPoll < 0 || c.ForgetAfter < 0 {
		errs = append(errs, errors.New("poll_interval, max_line_bytes, read_buffer_bytes, fingerprint_bytes, max_bytes_per_poll and forget_after must be >= 0"))
	}
	return errors.Join(errs...)
}
