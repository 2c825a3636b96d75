package nodemetrics

import (
	"bytes"
	"fmt"
	"path/filepath"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
)

const (
	// secondsPerTick converts /proc/diskstats' milliseconds.
	secondsPerTick = 1.0 / 1000.0
	// unixSectorSize: diskstats counts "standard UNIX 512-byte sectors",
	// whatever the device's block size.
	unixSectorSize = 512.0
)

func diskDesc(name, help string) *prometheus.Desc {
	return prometheus.NewDesc("node_disk_"+name, help, []string{"device"}, nil)
}

// diskDescs are in the order of the fields of a /proc/diskstats line after
// the device name; a kernel that prints fewer fields (before 4.18 no
// discards, before 5.5 no flushes) gets fewer metrics, as node-exporter.
var diskDescs = [...]struct {
	desc  *prometheus.Desc
	typ   prometheus.ValueType
	scale float64
}{
	{diskDesc("reads_completed_total", "The total number of reads completed successfully."), prometheus.CounterValue, 1},
	{diskDesc("reads_merged_total", "The total number of reads merged."), prometheus.CounterValue, 1},
	{diskDesc("read_bytes_total", "The total number of bytes read successfully."), prometheus.CounterValue, unixSectorSize},
	{diskDesc("read_time_seconds_total", "The total number of seconds spent by all reads."), prometheus.CounterValue, secondsPerTick},
	{diskDesc("writes_completed_total", "The total number of writes completed successfully."), prometheus.CounterValue, 1},
	{diskDesc("writes_merged_total", "The number of writes merged."), prometheus.CounterValue, 1},
	{diskDesc("written_bytes_total", "The total number of bytes written successfully."), prometheus.CounterValue, unixSectorSize},
	{diskDesc("write_time_seconds_total", "This is the total number of seconds spent by all writes."), prometheus.CounterValue, secondsPerTick},
	{diskDesc("io_now", "The number of I/Os currently in progress."), prometheus.GaugeValue, 1},
	{diskDesc("io_time_seconds_total", "Total seconds spent doing I/Os."), prometheus.CounterValue, secondsPerTick},
	{diskDesc("io_time_weighted_seconds_total", "The weighted # of seconds spent doing I/Os."), prometheus.CounterValue, secondsPerTick},
	{diskDesc("discards_completed_total", "The total number of discards completed successfully."), prometheus.CounterValue, 1},
	{diskDesc("discards_merged_total", "The total number of discards merged."), prometheus.CounterValue, 1},
	{diskDesc("discarded_sectors_total", "The total number of sectors discarded successfully."), prometheus.CounterValue, 1},
	{diskDesc("discard_time_seconds_total", "This is the total number of seconds spent by all discards."), prometheus.CounterValue, secondsPerTick},
	{diskDesc("flush_requests_total", "The total number of flush requests completed successfully"), prometheus.CounterValue, 1},
	{diskDesc("flush_requests_time_seconds_total", "This is the total number of seconds spent by all flush requests."), prometheus.CounterValue, secondsPerTick},
}

var (
	diskInfoDesc = prometheus.NewDesc("node_disk_info", "Info of /sys/block/<block_device>.",
		[]string{"device", "major", "minor", "path", "wwn", "model", "serial", "revision", "rotational"}, nil)
	diskFilesystemInfoDesc = prometheus.NewDesc("node_disk_filesystem_info", "Info about disk filesystem.",
		[]string{"device", "type", "usage", "uuid", "version"}, nil)
	diskDeviceMapperInfoDesc = prometheus.NewDesc("node_disk_device_mapper_info", "Info about disk device mapper.",
		[]string{"device", "name", "uuid", "vg_name", "lv_name", "lv_layer"}, nil)
)

// collectDiskstats reports /proc/diskstats for the devices the exclude
// pattern keeps (by default whole disks, not partitions, loop or ram
// devices), with node_disk_info from sysfs and the udev database.
func (c *Collector) collectDiskstats(ch chan<- prometheus.Metric) error {
	stats, err := c.block.ProcDiskstats()
	if err != nil {
		return fmt.Errorf("diskstats: %w", err)
	}
	var firstErr error
	for i := range stats {
		s := &stats[i]
		dev := s.DeviceName
		if c.diskExclude != nil && c.diskExclude.MatchString(dev) {
			continue
		}
		info := c.udevProperties(s.MajorNumber, s.MinorNumber)
		serial := info["SCSI_IDENT_SERIAL"]
		if serial == "" {
			serial = info["ID_SERIAL_SHORT"]
		}
		if serial == "" {
			serial = info["ID_SERIAL"] // virtio devices
		}
		// Not every device has a queue; node-exporter reports 0 then.
		rot, _ := c.block.SysBlockDeviceRotational(dev)
		err := emit(ch, diskInfoDesc, prometheus.GaugeValue, 1, dev,
			strconv.FormatUint(uint64(s.MajorNumber), 10), strconv.FormatUint(uint64(s.MinorNumber), 10),
			info["ID_PATH"], info["ID_WWN"], info["ID_MODEL"], serial, info["ID_REVISION"],
			strconv.FormatUint(rot, 2))
		if err != nil {
			if firstErr == nil {
				firstErr = fmt.Errorf("disk %q: %w", dev, err)
			}
			continue
		}
		n := s.IoStatsCount - 3 // less major, minor and name
		for j, v := range [...]uint64{
			s.ReadIOs, s.ReadMerges, s.ReadSectors, s.ReadTicks,
			s.WriteIOs, s.WriteMerges, s.WriteSectors, s.WriteTicks,
			s.IOsInProgress, s.IOsTotalTicks, s.WeightedIOTicks,
			s.DiscardIOs, s.DiscardMerges, s.DiscardSectors, s.DiscardTicks,
			s.FlushRequestsCompleted, s.TimeSpentFlushing,
		} {
			if j >= n {
				break
			}
			d := &diskDescs[j]
			ch <- prometheus.MustNewConstMetric(d.desc, d.typ, float64(v)*d.scale, dev)
		}
		if t := info["ID_FS_TYPE"]; t != "" {
			_ = emit(ch, diskFilesystemInfoDesc, prometheus.GaugeValue, 1, dev,
				t, info["ID_FS_USAGE"], info["ID_FS_UUID"], info["ID_FS_VERSION"])
		}
		if name := info["DM_NAME"]; name != "" {
			_ = emit(ch, diskDeviceMapperInfoDesc, prometheus.GaugeValue, 1, dev,
				name, info["DM_UUID"], info["DM_VG_NAME"], info["DM_LV_NAME"], info["DM_LV_LAYER"])
		}
	}
	return firstErr
}

// udevProperties returns the E: properties of a block device in the udev
// database (empty when there is none, as in most containers). The map is
// reused: it is valid until the next call.
func (c *Collector) udevProperties(major, minor uint32) map[string]string {
	if c.udev == nil {
		c.udev = make(map[string]string)
	}
	clear(c.udev)
	name := "b" + strconv.FormatUint(uint64(major), 10) + ":" + strconv.FormatUint(uint64(minor), 10)
	data, err := c.readFile(filepath.Join(c.opts.UdevDataPath, name))
	if err != nil {
		return c.udev
	}
	parseUdev(data, c.udev)
	return c.udev
}

// parseUdev adds the "E:KEY=VALUE" lines of a udev database file to dst.
func parseUdev(data []byte, dst map[string]string) {
	for len(data) > 0 {
		var line []byte
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i], data[i+1:]
		} else {
			line, data = data, nil
		}
		rest, ok := bytes.CutPrefix(line, []byte("E:"))
		if !ok {
			continue
		}
		if k, v, ok := bytes.Cut(rest, []byte("=")); ok {
			dst[string(k)] = string(v)
		}
	}
}
