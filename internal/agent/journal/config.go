package journal

import (
	"errors"
	"fmt"
	"time"
)

// DefaultMaxMessageBytes is the default cap on Entry.Message.
const DefaultMaxMessageBytes = 256 << 10

// Config configures a Reader. The zero value follows the whole system
// journal from its start and keeps no cursor.
type Config struct {
	// Units restricts the input to these systemd units (journalctl -u, so
	// globs and names without a suffix work as they do there), e.g.
	// kubelet.service, containerd.service. Empty means every entry.
	Units []string
	// Directory is the journal directory (journalctl --directory). When it
	// names a regular file, that one journal file is read (--file). Empty
	// means the system journal.
	Directory string
	// Journalctl is the journalctl binary. Default "journalctl" (found in PATH).
	Journalctl string
	// CursorFile is where Flush saves the last acknowledged cursor, and
	// where Run finds it at start. Empty means no cursor is kept: every Run
	// starts from the beginning of the journal.
	CursorFile string
	// MaxMessageBytes caps Entry.Message; longer messages are truncated and
	// counted. Default DefaultMaxMessageBytes (256 KiB).
	MaxMessageBytes int

	// backoff bounds between journalctl restarts; tests shorten them.
	minBackoff, maxBackoff time.Duration
}

func (c Config) withDefaults() Config {
	if c.Journalctl == "" {
		c.Journalctl = "journalctl"
	}
	if c.MaxMessageBytes == 0 {
		c.MaxMessageBytes = DefaultMaxMessageBytes
	}
	if c.minBackoff == 0 {
		c.minBackoff = 200 * time.Millisecond
	}
	if c.maxBackoff == 0 {
		c.maxBackoff = 30 * time.Second
	}
	return c
}

// Validate reports a configuration that cannot work.
func (c Config) Validate() error {
	if c.MaxMessageBytes < 0 {
		return fmt.Errorf("journal: MaxMessageBytes %d is negative", c.MaxMessageBytes)
	}
	for _, u := range c.Units {
		if u == "" {
			return errors.New("journal: empty unit name")
		}
	}
	return nil
}

// maxLineBytes bounds one line of journalctl output. A binary MESSAGE is
// printed as an array of byte values, up to four characters per byte, so a
// message of MaxMessageBytes plus the other fields fits well within this;
// longer lines are skipped and counted rather than buffered without limit.
func (c Config) maxLineBytes() int {
	return 5*c.MaxMessageBytes + 1<<20
}
