package nodemetrics

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

func netDesc(name string) *prometheus.Desc {
	return prometheus.NewDesc("node_network_"+name+"_total",
		"Network device statistic "+name+".", []string{"device"}, nil)
}

// netDescs are the columns of /proc/net/dev in the kernel's order, named as
// node-exporter names them when it reads that file.
var netDescs = [...]*prometheus.Desc{
	netDesc("receive_bytes"), netDesc("receive_packets"), netDesc("receive_errs"), netDesc("receive_drop"),
	netDesc("receive_fifo"), netDesc("receive_frame"), netDesc("receive_compressed"), netDesc("receive_multicast"),
	netDesc("transmit_bytes"), netDesc("transmit_packets"), netDesc("transmit_errs"), netDesc("transmit_drop"),
	netDesc("transmit_fifo"), netDesc("transmit_colls"), netDesc("transmit_carrier"), netDesc("transmit_compressed"),
}

// collectNetdev reports /proc/net/dev. That file shows the reading
// process's network namespace whatever the procfs root, so the agent must
// run with hostNetwork to see the node's interfaces (node-exporter has the
// same requirement).
func (c *Collector) collectNetdev(ch chan<- prometheus.Metric) error {
	devs, err := c.proc.NetDev()
	if err != nil {
		return fmt.Errorf("net/dev: %w", err)
	}
	var firstErr error
	for name, d := range devs {
		if c.netExclude != nil && c.netExclude.MatchString(name) {
			continue
		}
		for i, v := range [...]uint64{
			d.RxBytes, d.RxPackets, d.RxErrors, d.RxDropped, d.RxFIFO, d.RxFrame, d.RxCompressed, d.RxMulticast,
			d.TxBytes, d.TxPackets, d.TxErrors, d.TxDropped, d.TxFIFO, d.TxCollisions, d.TxCarrier, d.TxCompressed,
		} {
			if err := emit(ch, netDescs[i], prometheus.CounterValue, float64(v), name); err != nil {
				if firstErr == nil {
					firstErr = fmt.Errorf("net device %q: %w", name, err)
				}
				break
			}
		}
	}
	return firstErr
}
