package buffer

import (
	"errors"
	"fmt"
	"time"
)

// Sync policies for Config.Sync.
const (
	// SyncAlways fsyncs the segment after every Push that spilled and every
	// Ack that wrote an ack frame: a spilled item is released to the
	// checkpointer only once it is on stable storage.
	SyncAlways = "always"
	// SyncInterval fsyncs at most once per SyncInterval (checked on Push and
	// Ack, and on demand through Buffer.Sync). Spilled items are released
	// later, and a crash may redeliver items acknowledged in the last interval.
	SyncInterval = "interval"
)

// Config bounds the buffer. The zero value means every default.
type Config struct {
	// MemoryBytes bounds the payload bytes held in memory. Default 16 MiB.
	MemoryBytes int64
	// DiskBytes bounds the bytes of segment files on disk (headers, frames
	// and ack frames). When a spill would exceed it, the oldest segment is
	// dropped and its items counted with reason "disk_full". Default 1 GiB.
	DiskBytes int64
	// SegmentBytes is the size at which the active segment is closed and a
	// new one started; space is reclaimed a segment at a time. Default 16 MiB,
	// or DiskBytes/4 when that is smaller.
	SegmentBytes int64
	// Sync is SyncAlways (default) or SyncInterval.
	Sync string
	// SyncInterval is the fsync period under SyncInterval. Default 1s.
	SyncInterval time.Duration
	// OnDrop, when set, is called for every item dropped with its ID,
	// token and reason ("disk_full", …), and whether it was in flight (then
	// its delivery may still succeed: its Ack returns ErrNotInFlight), under
	// the buffer's lock: it must be quick and must not call the buffer. An
	// item already released as Persisted is not released again when
	// dropped, so this is where drops are seen.
	OnDrop func(id uint64, token []byte, reason string, inFlight bool)
	// MaxInFlight is how many items Next hands out before an Ack or Nack is
	// needed. Default 1, which keeps delivery strictly in push order even
	// across retries.
	MaxInFlight int
}

// DefaultConfig returns the defaults documented on Config's fields.
func DefaultConfig() Config {
	c := Config{}
	c.fillDefaults()
	return c
}

func (c *Config) fillDefaults() {
	if c.MemoryBytes == 0 {
		c.MemoryBytes = 16 << 20
	}
	if c.DiskBytes == 0 {
		c.DiskBytes = 1 << 30
	}
	if c.SegmentBytes == 0 {
		c.SegmentBytes = min(16<<20, c.DiskBytes/4)
	}
	if c.Sync == "" {
		c.Sync = SyncAlways
	}
	if c.SyncInterval == 0 {
		c.SyncInterval = time.Second
	}
	if c.MaxInFlight == 0 {
		c.MaxInFlight = 1
	}
}

// Validate reports every invalid field, each named by its YAML key under
// agent.buffer.
func (c Config) Validate() error {
	var errs []error
	if c.MemoryBytes < 0 {
		errs = append(errs, errors.New("agent.buffer.memory_bytes must be >= 0"))
	}
	if c.DiskBytes < 0 {
		errs = append(errs, errors.New("agent.buffer.disk_bytes must be >= 0"))
	}
	if c.SegmentBytes < 0 {
		errs = append(errs, errors.New("agent.buffer.segment_bytes must be >= 0"))
	}
	if c.SegmentBytes > 0 && c.DiskBytes > 0 && c.SegmentBytes > c.DiskBytes {
		errs = append(errs, fmt.Errorf("agent.buffer.segment_bytes (%d) must be <= agent.buffer.disk_bytes (%d)", c.SegmentBytes, c.DiskBytes))
	}
	if c.Sync != "" && c.Sync != SyncAlways && c.Sync != SyncInterval {
		errs = append(errs, fmt.Errorf("agent.buffer.sync must be %q or %q, got %q", SyncAlways, SyncInterval, c.Sync))
	}
	if c.SyncInterval < 0 {
		errs = append(errs, errors.New("agent.buffer.sync_interval must be >= 0"))
	}
	if c.MaxInFlight < 0 {
		errs = append(errs, errors.New("agent.buffer.max_in_flight must be >= 0"))
	}
	return errors.Join(errs...)
}
