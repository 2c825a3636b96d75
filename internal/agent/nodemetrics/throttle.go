package nodemetrics

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/procfs"
)

var (
	cpuCoreThrottlesDesc = prometheus.NewDesc("node_cpu_core_throttles_total",
		"Number of times this CPU core has been throttled.", []string{"package", "core"}, nil)
	cpuPackageThrottlesDesc = prometheus.NewDesc("node_cpu_package_throttles_total",
		"Number of times this CPU package has been throttled.", []string{"package"}, nil)
)

// cpuTopo is where a CPU sits; ok is false when sysfs has no topology for
// it (then it is skipped, as node-exporter skips it).
type cpuTopo struct {
	pkg, core uint64
	ok        bool
}

// throttleState caches CPU topology, which does not change while a CPU
// stays online, so that a collection reads only the throttle counters.
type throttleState struct {
	topo  map[int64]cpuTopo
	cores map[[2]uint64]struct{}
	pkgs  map[uint64]struct{}
	ids   []int64
}

// collectThrottles reports the thermal-throttle counters of node-exporter's
// cpu collector, from <sys>/devices/system/cpu/cpu<N>/thermal_throttle:
// one core counter per (package, core) and one package counter per
// package, read from the first CPU of each. Most virtual machines have no
// such directory: then nothing is reported and nothing is counted as an
// error, at the cost of one stat per collection.
func (c *Collector) collectThrottles(ch chan<- prometheus.Metric, cpus map[int64]procfs.CPUStat) {
	s := &c.throttle
	if s.topo == nil {
		s.topo = make(map[int64]cpuTopo)
		s.cores = make(map[[2]uint64]struct{})
		s.pkgs = make(map[uint64]struct{})
	}
	base := filepath.Join(c.opts.SysPath, "devices", "system", "cpu")
	if _, err := os.Stat(filepath.Join(base, "cpu0", "thermal_throttle")); err != nil {
		return
	}
	for id := range s.topo {
		if _, ok := cpus[id]; !ok {
			delete(s.topo, id) // offline: its topology may differ when it returns
		}
	}
	clear(s.cores)
	clear(s.pkgs)
	// Lowest CPU first, so that a package's counter is always read from
	// the same CPU.
	s.ids = s.ids[:0]
	for id := range cpus {
		s.ids = append(s.ids, id)
	}
	slices.Sort(s.ids)
	for _, id := range s.ids {
		dir := filepath.Join(base, "cpu"+strconv.FormatInt(id, 10))
		t, ok := s.topo[id]
		if !ok {
			pkg, err1 := c.readUint(filepath.Join(dir, "topology", "physical_package_id"))
			core, err2 := c.readUint(filepath.Join(dir, "topology", "core_id"))
			t = cpuTopo{pkg: pkg, core: core, ok: err1 == nil && err2 == nil}
			s.topo[id] = t
		}
		if !t.ok {
			continue
		}
		pkg := strconv.FormatUint(t.pkg, 10)
		if _, seen := s.cores[[2]uint64{t.pkg, t.core}]; !seen {
			s.cores[[2]uint64{t.pkg, t.core}] = struct{}{}
			if n, err := c.readUint(filepath.Join(dir, "thermal_throttle", "core_throttle_count")); err == nil {
				ch <- prometheus.MustNewConstMetric(cpuCoreThrottlesDesc, prometheus.CounterValue, float64(n),
					pkg, strconv.FormatUint(t.core, 10))
			}
		}
		if _, seen := s.pkgs[t.pkg]; !seen {
			s.pkgs[t.pkg] = struct{}{}
			if n, err := c.readUint(filepath.Join(dir, "thermal_throttle", "package_throttle_count")); err == nil {
				ch <- prometheus.MustNewConstMetric(cpuPackageThrottlesDesc, prometheus.CounterValue, float64(n), pkg)
			}
		}
	}
}

// readUint reads a sysfs file holding one unsigned decimal number.
func (c *Collector) readUint(path string) (uint64, error) {
	data, err := c.readFile(path)
	if err != nil {
		return 0, err
	}
	return strconv.ParseUint(string(bytes.TrimSpace(data)), 10, 64)
}
