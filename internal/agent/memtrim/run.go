package memtrim

import (
	"context"
	"time"
)

// Run trims every interval until ctx ends, and returns the first error a
// trim gave (nil once ctx ends without one). The first trim also evicts
// (TrimAndEvict): by then start-up is over, and what the process faults
// back is its working set, read into small folios. Later trims only drop
// this process's mappings; pages it uses fault back from the page cache
// (minor faults), so what stays resident between trims is the working
// set of the interval, not everything ever touched.
func Run(ctx context.Context, interval time.Duration) error {
	t := time.NewTicker(interval)
	defer t.Stop()
	for first := true; ; first = false {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		trim := Trim
		if first {
			trim = TrimAndEvict
		}
		if _, err := trim(); err != nil {
			return err
		}
	}
}
