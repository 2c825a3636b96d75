//go:build !linux

package memtrim

// Trim does nothing outside Linux.
func Trim() (int64, error) { return 0, nil }

// TrimAndEvict does nothing outside Linux.
func TrimAndEvict() (int64, error) { return 0, nil }
