package nodemetrics

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/procfs"
	"github.com/prometheus/procfs/blockdevice"
)

// Defaults. The exclude patterns are node-exporter's (upstream, not Debian's
// patched ones, which also drop /run, /mnt, /media and lo).
const (
	DefaultProcPath     = "/proc"
	DefaultSysPath      = "/sys"
	DefaultRootPath     = "/"
	DefaultUdevDataPath = "/run/udev/data"

	DefaultMountPointsExclude = `^/(dev|proc|run/credentials/.+|sys|var/lib/docker/.+|var/lib/containers/storage/.+)($|/)`
	DefaultFSTypesExclude     = `^(autofs|binfmt_misc|bpf|cgroup2?|configfs|debugfs|devpts|devtmpfs|fusectl|hugetlbfs|iso9660|mqueue|nsfs|overlay|proc|procfs|pstore|rpc_pipefs|securityfs|selinuxfs|squashfs|sysfs|tracefs)$`
	DefaultDiskDevicesExclude = `^(z?ram|loop|fd|(h|s|v|xv)d[a-z]|nvme\d+n\d+p)\d+$`
	// DefaultNetDevicesExclude excludes nothing, as node-exporter.
	DefaultNetDevicesExclude = ``

	DefaultStatfsTimeout = 5 * time.Second
)

// Options configures a Collector. The zero value of every field means its
// default.
type Options struct {
	// ProcPath is where procfs is mounted (node-exporter's --path.procfs).
	// Default "/proc"; "/host/proc" in a DaemonSet that mounts the host's.
	ProcPath string
	// SysPath is where sysfs is mounted (--path.sysfs). Default "/sys".
	SysPath string
	// RootPath is where the host's root filesystem is mounted
	// (--path.rootfs); filesystem statistics are taken at
	// RootPath+mountpoint and the prefix is stripped from the mountpoint
	// label. Default "/".
	RootPath string
	// UdevDataPath is the udev database that names disks in node_disk_info
	// (--path.udev.data). Default "/run/udev/data"; a missing directory
	// leaves those labels empty.
	UdevDataPath string

	// MountPointsExclude, FSTypesExclude, DiskDevicesExclude and
	// NetDevicesExclude are regular expressions of what not to report, as
	// node-exporter's flags of the same names; empty means the Default*
	// constant above. "^$" excludes nothing.
	MountPointsExclude string
	FSTypesExclude     string
	DiskDevicesExclude string
	NetDevicesExclude  string

	// StatfsTimeout bounds one statfs(2) call; a mount whose call takes
	// longer is reported as a device error until the call returns. Default
	// 5 s.
	StatfsTimeout time.Duration

	// Logger receives one line when a source starts failing and one when it
	// recovers. Default: discard.
	Logger *slog.Logger
}

// Collector names, the values of the collector label of
// kinsight_agent_nodemetrics_errors_total.
const (
	srcStat       = "stat"
	srcMeminfo    = "meminfo"
	srcFilesystem = "filesystem"
	srcDiskstats  = "diskstats"
	srcNetdev     = "netdev"
	srcLoadavg    = "loadavg"
)

var sources = [...]string{srcStat, srcMeminfo, srcFilesystem, srcDiskstats, srcNetdev, srcLoadavg}

// Collector is a prometheus.Collector of the node's metrics. Create it with
// New.
type Collector struct {
	opts   Options
	logger *slog.Logger
	proc   procfs.FS
	block  blockdevice.FS

	mountExclude, fsTypeExclude, diskExclude, netExclude *regexp.Regexp

	errorsDesc *prometheus.Desc

	// mu serialises Collect: the fields below are per-collection scratch
	// and state carried from one collection to the next.
	mu       sync.Mutex
	errs     map[string]float64
	failing  map[string]bool
	buf      []byte // reused read buffer for the files parsed here
	key      []byte // reused meminfo key scratch
	cpu      cpuState
	throttle throttleState
	mem      map[string]*prometheus.Desc // by node_memory_ suffix
	fs       fsState
	udev     map[string]string
}

var _ prometheus.Collector = (*Collector)(nil)

// New returns a Collector reading below opts' roots. It checks that the
// procfs root exists and that the patterns compile; every other failure is
// reported per collection.
func New(opts Options) (*Collector, error) {
	if opts.ProcPath == "" {
		opts.ProcPath = DefaultProcPath
	}
	if opts.SysPath == "" {
		opts.SysPath = DefaultSysPath
	}
	if opts.RootPath == "" {
		opts.RootPath = DefaultRootPath
	}
	if opts.UdevDataPath == "" {
		opts.UdevDataPath = DefaultUdevDataPath
	}
	if opts.StatfsTimeout <= 0 {
		opts.StatfsTimeout = DefaultStatfsTimeout
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if st, err := os.Stat(opts.ProcPath); err != nil {
		return nil, fmt.Errorf("nodemetrics: procfs path: %w", err)
	} else if !st.IsDir() {
		return nil, fmt.Errorf("nodemetrics: procfs path %s is not a directory", opts.ProcPath)
	}
	proc, err := procfs.NewFS(opts.ProcPath)
	if err != nil {
		return nil, fmt.Errorf("nodemetrics: procfs: %w", err)
	}
	block, err := blockdevice.NewFS(opts.ProcPath, opts.SysPath)
	if err != nil {
		return nil, fmt.Errorf("nodemetrics: sysfs: %w", err)
	}
	c := &Collector{
		opts:    opts,
		logger:  logger,
		proc:    proc,
		block:   block,
		errs:    make(map[string]float64, len(sources)),
		failing: make(map[string]bool, len(sources)),
		mem:     make(map[string]*prometheus.Desc),
		errorsDesc: prometheus.NewDesc("kinsight_agent_nodemetrics_errors_total",
			"Failed reads of a node metric source (a file, a parse, a statfs); the other sources are still collected.",
			[]string{"collector"}, nil),
	}
	for _, p := range []struct {
		dst      **regexp.Regexp
		val, def string
		name     string
	}{
		{&c.mountExclude, opts.MountPointsExclude, DefaultMountPointsExclude, "MountPointsExclude"},
		{&c.fsTypeExclude, opts.FSTypesExclude, DefaultFSTypesExclude, "FSTypesExclude"},
		{&c.diskExclude, opts.DiskDevicesExclude, DefaultDiskDevicesExclude, "DiskDevicesExclude"},
		{&c.netExclude, opts.NetDevicesExclude, DefaultNetDevicesExclude, "NetDevicesExclude"},
	} {
		v := p.val
		if v == "" {
			v = p.def
		}
		if v == "" {
			continue // excludes nothing
		}
		re, err := regexp.Compile(v)
		if err != nil {
			return nil, fmt.Errorf("nodemetrics: %s: %w", p.name, err)
		}
		*p.dst = re
	}
	for _, s := range sources {
		c.errs[s] = 0
	}
	c.cpu.init()
	c.fs.init(opts.StatfsTimeout)
	return c, nil
}

// Describe sends nothing: the collector is unchecked because the meminfo
// fields, and so the metric names, depend on the kernel.
func (c *Collector) Describe(chan<- *prometheus.Desc) {}

// Collect reads every source once and sends its metrics.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.result(srcStat, c.collectStat(ch))
	c.result(srcMeminfo, c.collectMeminfo(ch))
	c.result(srcFilesystem, c.collectFilesystems(ch))
	c.result(srcDiskstats, c.collectDiskstats(ch))
	c.result(srcNetdev, c.collectNetdev(ch))
	c.result(srcLoadavg, c.collectLoadavg(ch))
	for _, s := range sources {
		ch <- prometheus.MustNewConstMetric(c.errorsDesc, prometheus.CounterValue, c.errs[s], s)
	}
}

// result counts err against source and logs the transitions between
// failing and working, not every failure: at a 10 s interval a missing file
// would otherwise log 8,640 lines a day.
func (c *Collector) result(source string, err error) {
	if err != nil {
		c.errs[source]++
		if !c.failing[source] {
			c.failing[source] = true
			c.logger.Warn("node metrics source failing", "collector", source, "err", err)
		}
		return
	}
	if c.failing[source] {
		c.failing[source] = false
		c.logger.Info("node metrics source recovered", "collector", source)
	}
}

// emit sends one constant metric. Label values come from the kernel and a
// bad one (not UTF-8) must cost that series, not a panic.
func emit(ch chan<- prometheus.Metric, desc *prometheus.Desc, typ prometheus.ValueType, v float64, labels ...string) error {
	m, err := prometheus.NewConstMetric(desc, typ, v, labels...)
	if err != nil {
		return err
	}
	ch <- m
	return nil
}

// procPath is a path below the procfs root.
func (c *Collector) procPath(elem ...string) string {
	return filepath.Join(append([]string{c.opts.ProcPath}, elem...)...)
}

// readFile reads a whole file into the collector's reused buffer; the
// result is valid until the next call.
func (c *Collector) readFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if cap(c.buf) == 0 {
		c.buf = make([]byte, 0, 16<<10)
	}
	b := c.buf[:0]
	for {
		n, err := f.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", path, err)
		}
		if len(b) == cap(b) {
			if len(b) >= 64<<20 {
				return nil, fmt.Errorf("read %s: larger than 64 MiB", path)
			}
			b = append(b, 0)[:len(b)]
		}
	}
	c.buf = b
	return b, nil
}
