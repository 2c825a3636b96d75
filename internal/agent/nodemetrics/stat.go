package nodemetrics

import (
	"fmt"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/procfs"
)

// jumpBackSeconds is how far a CPU's idle time may go back before the CPU
// is taken as hot-plugged (node-exporter's value).
const jumpBackSeconds = 3.0

var (
	cpuSecondsDesc = prometheus.NewDesc("node_cpu_seconds_total",
		"Seconds the CPUs spent in each mode.", []string{"cpu", "mode"}, nil)
	cpuGuestDesc = prometheus.NewDesc("node_cpu_guest_seconds_total",
		"Seconds the CPUs spent in guests (VMs) for each mode.", []string{"cpu", "mode"}, nil)
	bootTimeDesc = prometheus.NewDesc("node_boot_time_seconds",
		"Node boot time, in unixtime.", nil, nil)
	contextSwitchesDesc = prometheus.NewDesc("node_context_switches_total",
		"Total number of context switches.", nil, nil)
	forksDesc = prometheus.NewDesc("node_forks_total",
		"Total number of forks.", nil, nil)
	intrDesc = prometheus.NewDesc("node_intr_total",
		"Total number of interrupts serviced.", nil, nil)
	procsRunningDesc = prometheus.NewDesc("node_procs_running",
		"Number of processes in runnable state.", nil, nil)
	procsBlockedDesc = prometheus.NewDesc("node_procs_blocked",
		"Number of processes blocked waiting for I/O to complete.", nil, nil)
)

// cpuState is what the CPU counters carry from one collection to the next
// so that they never go backwards.
type cpuState struct {
	last  map[int64]procfs.CPUStat
	names map[int64]string // cpu label values, formatted once
}

func (s *cpuState) init() {
	s.last = make(map[int64]procfs.CPUStat)
	s.names = make(map[int64]string)
}

// update folds a new reading into the state and returns the values to
// report: each field is the larger of the old and the new, unless idle went
// back by more than jumpBackSeconds (a hot-plugged CPU), which restarts the
// CPU from its new values. CPUs gone offline are forgotten.
func (s *cpuState) update(cur map[int64]procfs.CPUStat) {
	for id, n := range cur {
		o, ok := s.last[id]
		if !ok || o.Idle-n.Idle >= jumpBackSeconds {
			s.last[id] = n
			continue
		}
		o.User = max(o.User, n.User)
		o.Nice = max(o.Nice, n.Nice)
		o.System = max(o.System, n.System)
		o.Idle = max(o.Idle, n.Idle)
		o.Iowait = max(o.Iowait, n.Iowait)
		o.IRQ = max(o.IRQ, n.IRQ)
		o.SoftIRQ = max(o.SoftIRQ, n.SoftIRQ)
		o.Steal = max(o.Steal, n.Steal)
		o.Guest = max(o.Guest, n.Guest)
		o.GuestNice = max(o.GuestNice, n.GuestNice)
		s.last[id] = o
	}
	if len(s.last) != len(cur) {
		for id := range s.last {
			if _, ok := cur[id]; !ok {
				delete(s.last, id)
			}
		}
	}
}

func (s *cpuState) name(id int64) string {
	n, ok := s.names[id]
	if !ok {
		n = strconv.FormatInt(id, 10)
		s.names[id] = n
	}
	return n
}

// collectStat reports /proc/stat: the cpu and stat collectors of
// node-exporter, from one read of the file.
func (c *Collector) collectStat(ch chan<- prometheus.Metric) error {
	st, err := c.proc.Stat()
	if err != nil {
		return fmt.Errorf("stat: %w", err)
	}
	c.cpu.update(st.CPU)
	const counter = prometheus.CounterValue
	for id, v := range c.cpu.last {
		cpu := c.cpu.name(id)
		for _, m := range [...]struct {
			mode string
			v    float64
		}{
			{"user", v.User}, {"nice", v.Nice}, {"system", v.System}, {"idle", v.Idle},
			{"iowait", v.Iowait}, {"irq", v.IRQ}, {"softirq", v.SoftIRQ}, {"steal", v.Steal},
		} {
			ch <- prometheus.MustNewConstMetric(cpuSecondsDesc, counter, m.v, cpu, m.mode)
		}
		// Guest time is also counted in user and nice: node-exporter
		// reports it apart rather than subtracting it.
		ch <- prometheus.MustNewConstMetric(cpuGuestDesc, counter, v.Guest, cpu, "user")
		ch <- prometheus.MustNewConstMetric(cpuGuestDesc, counter, v.GuestNice, cpu, "nice")
	}
	c.collectThrottles(ch, st.CPU)
	ch <- prometheus.MustNewConstMetric(bootTimeDesc, prometheus.GaugeValue, float64(st.BootTime))
	ch <- prometheus.MustNewConstMetric(contextSwitchesDesc, counter, float64(st.ContextSwitches))
	ch <- prometheus.MustNewConstMetric(forksDesc, counter, float64(st.ProcessCreated))
	ch <- prometheus.MustNewConstMetric(intrDesc, counter, float64(st.IRQTotal))
	ch <- prometheus.MustNewConstMetric(procsRunningDesc, prometheus.GaugeValue, float64(st.ProcessesRunning))
	ch <- prometheus.MustNewConstMetric(procsBlockedDesc, prometheus.GaugeValue, float64(st.ProcessesBlocked))
	return nil
}
