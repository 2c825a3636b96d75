package memtrim

import (
	"context"
	"time"
)

// Run trims every interval until ctx ends, and returns the first error a
// trim gave (nil once ctx ends without one; a refused eviction is not
// one). The first trim, one interval after the call, also evicts
// (TrimAndEvict), so what the process faults back from then on is read
// into small folios. Later trims only drop this process's mappings: pages
// it uses fault back from the page cache (minor faults), so what stays
// resident between trims is the working set of the interval, not
// everything ever touched.
func Run(ctx context.Context, interval time.Duration) error {
	t := time.NewTicker(interval)
	defer t.Stop()
	for first := true; ; first = false {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		if first {
			if _, err := TrimAndEvict(); err == nil {
				continue
			}
			// Eviction refused (a filesystem without fadvise): plain
			// trims still give most of it back.
		}
		if _, err := Trim(); err != nil {
			return err
		}
	}
}
