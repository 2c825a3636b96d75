package nodemetrics

import (
	"bytes"
	"fmt"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/model"
)

// collectMeminfo reports every field of /proc/meminfo as node-exporter
// does: node_memory_<Field>_bytes for fields in kB (times 1024),
// node_memory_<Field> for counts (HugePages_*), "(x)" in a field name
// becoming "_x". It parses the file itself rather than through procfs's
// Meminfo struct so that fields a newer kernel adds are reported too, as
// node-exporter's own parser does.
func (c *Collector) collectMeminfo(ch chan<- prometheus.Metric) error {
	data, err := c.readFile(c.procPath("meminfo"))
	if err != nil {
		return fmt.Errorf("meminfo: %w", err)
	}
	var bad error
	err = parseMeminfo(data, &c.key, func(name []byte, v float64) {
		desc, ok := c.mem[string(name)] // no allocation for the lookup
		if !ok {
			s := string(name)
			// A garbled file must not make series that a classic
			// Prometheus receiver rejects: such a field is an error (and
			// remembered as nil so that it is not checked again).
			if model.LegacyValidation.IsValidMetricName("node_memory_" + s) {
				desc = prometheus.NewDesc("node_memory_"+s, "Memory information field "+s+".", nil, nil)
			}
			if len(c.mem) < 1024 { // the kernel has ~60 fields; bound a garbled file
				c.mem[s] = desc
			}
		}
		if desc == nil {
			if bad == nil {
				bad = fmt.Errorf("meminfo field %q: not a valid metric name", name)
			}
			return
		}
		typ := prometheus.GaugeValue
		if bytes.HasSuffix(name, []byte("_total")) {
			typ = prometheus.CounterValue
		}
		if err := emit(ch, desc, typ, v); err != nil && bad == nil {
			bad = fmt.Errorf("meminfo field %q: %w", name, err)
		}
	})
	if err != nil {
		return fmt.Errorf("meminfo: %w", err)
	}
	return bad
}

// parseMeminfo calls fn with the metric-name suffix and value of each line
// of a /proc/meminfo file ("MemTotal:  16316736 kB" gives "MemTotal_bytes"
// and 16316736*1024). name is only valid during the call; scratch is reused
// to build it. A malformed line stops the parse with an error after the
// lines before it were reported.
func parseMeminfo(data []byte, scratch *[]byte, fn func(name []byte, v float64)) error {
	for len(data) > 0 {
		var line []byte
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i], data[i+1:]
		} else {
			line, data = data, nil
		}
		key, rest, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			if len(bytes.TrimSpace(line)) == 0 {
				continue // some kernels print empty lines
			}
			return fmt.Errorf("line without a colon: %q", line)
		}
		f1, rest := nextField(rest)
		unit, rest := nextField(rest)
		key = bytes.TrimSpace(key)
		if extra, _ := nextField(rest); len(f1) == 0 || len(extra) > 0 || len(key) == 0 ||
			bytes.ContainsAny(key, " \t") {
			return fmt.Errorf("malformed line %q", line)
		}
		v, err := strconv.ParseFloat(string(f1), 64)
		if err != nil {
			return fmt.Errorf("line %q: %w", line, err)
		}
		name := append((*scratch)[:0], key...)
		// Active(anon) -> Active_anon, as node-exporter's \((.*)\) -> _$1.
		if i := bytes.IndexByte(name, '('); i >= 0 {
			if j := bytes.LastIndexByte(name, ')'); j > i {
				name = append(append(append(name[:i], '_'), key[i+1:j]...), key[j+1:]...)
			}
		}
		if len(unit) > 0 {
			// The kernel prints only kB; node-exporter presumes it.
			v *= 1024
			name = append(name, "_bytes"...)
		}
		*scratch = name
		fn(name, v)
	}
	return nil
}

// nextField splits off the first space-separated field of b.
func nextField(b []byte) (field, rest []byte) {
	b = bytes.TrimLeft(b, " \t")
	i := bytes.IndexAny(b, " \t")
	if i < 0 {
		return b, nil
	}
	return b[:i], b[i:]
}
