package podmetrics

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
)

// unlimitedV1 is where cgroup v1 limits mean "none": the kernel reports
// PAGE_COUNTER_MAX rounded to the page size (9223372036854771712 on 4 KiB
// pages), so anything at or above 2^62 is treated as no limit.
const unlimitedV1 = 1 << 62

// parseKeyed parses a flat keyed cgroup file (memory.stat, cpu.stat of v1 and
// v2): one "key value" pair per line, values unsigned decimal. It keeps only
// the keys in want (nil keeps all) so the per-collection cost stays small.
// A line that is not "key value" is an error: the files are written by the
// kernel, and a bad line means the file is not what it is named.
func parseKeyed(data []byte, want map[string]bool) (map[string]uint64, error) {
	out := make(map[string]uint64, len(want))
	for len(data) > 0 {
		var line []byte
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i], data[i+1:]
		} else {
			line, data = data, nil
		}
		if len(line) == 0 {
			continue
		}
		sp := bytes.IndexByte(line, ' ')
		if sp <= 0 || sp == len(line)-1 {
			return nil, fmt.Errorf("cgroup keyed file: line %q is not \"key value\"", truncate(line))
		}
		key, val := line[:sp], line[sp+1:]
		if want != nil && !want[string(key)] {
			continue
		}
		v, err := strconv.ParseUint(string(val), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("cgroup keyed file: key %q: %w", key, err)
		}
		out[string(key)] = v
	}
	return out, nil
}

// parseValue parses a single-value cgroup file (memory.current,
// memory.usage_in_bytes, cpuacct.usage, memory.max, memory.limit_in_bytes).
// "max" (cgroup v2's no-limit) returns unlimited true.
func parseValue(data []byte) (v uint64, unlimited bool, err error) {
	s := bytes.TrimSpace(data)
	if string(s) == "max" {
		return 0, true, nil
	}
	if len(s) == 0 {
		return 0, false, errors.New("cgroup value file: empty")
	}
	v, err = strconv.ParseUint(string(s), 10, 64)
	if err != nil {
		return 0, false, fmt.Errorf("cgroup value file: %w", err)
	}
	return v, false, nil
}

func truncate(b []byte) []byte {
	if len(b) > 64 {
		return b[:64]
	}
	return b
}
