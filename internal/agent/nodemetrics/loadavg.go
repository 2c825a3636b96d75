package nodemetrics

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

var (
	load1Desc  = prometheus.NewDesc("node_load1", "1m load average.", nil, nil)
	load5Desc  = prometheus.NewDesc("node_load5", "5m load average.", nil, nil)
	load15Desc = prometheus.NewDesc("node_load15", "15m load average.", nil, nil)
)

// collectLoadavg reports /proc/loadavg.
func (c *Collector) collectLoadavg(ch chan<- prometheus.Metric) error {
	l, err := c.proc.LoadAvg()
	if err != nil {
		return fmt.Errorf("loadavg: %w", err)
	}
	ch <- prometheus.MustNewConstMetric(load1Desc, prometheus.GaugeValue, l.Load1)
	ch <- prometheus.MustNewConstMetric(load5Desc, prometheus.GaugeValue, l.Load5)
	ch <- prometheus.MustNewConstMetric(load15Desc, prometheus.GaugeValue, l.Load15)
	return nil
}
