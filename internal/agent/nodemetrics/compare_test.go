package nodemetrics

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

const nodeExporterBin = "/usr/bin/prometheus-node-exporter"

// sample is one series of a scrape.
type sample struct {
	typ dto.MetricType
	v   float64
}

// inScope is true for the node-exporter metrics this package promises.
func inScope(name string) bool {
	for _, p := range []string{"node_cpu_seconds_total", "node_cpu_guest_seconds_total", "node_cpu_core_throttles_total",
		"node_cpu_package_throttles_total", "node_memory_",
		"node_filesystem_", "node_disk_", "node_network_", "node_load", "node_boot_time_seconds",
		"node_context_switches_total", "node_forks_total", "node_intr_total", "node_procs_"} {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

// seriesKey is name{sorted labels}. node_disk_info's rotational label is
// left out: node-exporter 1.8 added it, Debian's 1.5 lacks it.
func seriesKey(name string, m *dto.Metric) string {
	var ls []string
	for _, l := range m.GetLabel() {
		if name == "node_disk_info" && l.GetName() == "rotational" {
			continue
		}
		ls = append(ls, fmt.Sprintf("%s=%q", l.GetName(), l.GetValue()))
	}
	sort.Strings(ls)
	return name + "{" + strings.Join(ls, ",") + "}"
}

func flatten(mfs []*dto.MetricFamily) map[string]sample {
	out := make(map[string]sample)
	for _, mf := range mfs {
		name := mf.GetName()
		if !inScope(name) {
			continue
		}
		for _, m := range mf.GetMetric() {
			var v float64
			switch mf.GetType() {
			case dto.MetricType_COUNTER:
				v = m.GetCounter().GetValue()
			case dto.MetricType_GAUGE:
				v = m.GetGauge().GetValue()
			default:
				v = m.GetUntyped().GetValue()
			}
			out[seriesKey(name, m)] = sample{mf.GetType(), v}
		}
	}
	return out
}

// outOfScope lists the metric names node-exporter exposes that this
// package does not promise (its own scrape and build metrics, Go runtime).
func outOfScope(t testing.TB, url string) []string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("scrape node-exporter: %v", err)
	}
	defer resp.Body.Close()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse node-exporter's output: %v", err)
	}
	var out []string
	for name := range fams {
		if !inScope(name) {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}

func scrape(t testing.TB, url string) map[string]sample {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("scrape node-exporter: %v", err)
	}
	defer resp.Body.Close()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse node-exporter's output: %v", err)
	}
	mfs := make([]*dto.MetricFamily, 0, len(fams))
	for _, mf := range fams {
		mfs = append(mfs, mf)
	}
	return flatten(mfs)
}

// startNodeExporter runs the real node-exporter with the collectors and
// exclude patterns this package mirrors, on a free loopback port, and
// returns its metrics URL.
func startNodeExporter(t testing.TB, opts Options) (url string, pid int) {
	t.Helper()
	if _, err := os.Stat(nodeExporterBin); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s missing: make test-deps installs it (Debian prometheus-node-exporter)", nodeExporterBin)
		}
		t.Skipf("%s missing: run make test-deps", nodeExporterBin)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	ctx, cancel := context.WithCancel(context.Background())
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, nodeExporterBin,
		"--web.listen-address="+addr,
		"--collector.disable-defaults",
		"--collector.cpu", "--collector.stat", "--collector.meminfo", "--collector.filesystem",
		"--collector.diskstats", "--collector.netdev", "--collector.loadavg",
		// Read /proc/net/dev as we do, not netlink.
		"--no-collector.netdev.netlink",
		"--collector.filesystem.mount-points-exclude="+DefaultMountPointsExclude,
		"--collector.filesystem.fs-types-exclude="+DefaultFSTypesExclude,
		"--collector.diskstats.device-exclude="+DefaultDiskDevicesExclude,
		"--collector.netdev.device-exclude="+DefaultNetDevicesExclude,
		"--path.procfs="+opts.ProcPath, "--path.sysfs="+opts.SysPath, "--path.rootfs="+opts.RootPath,
		"--path.udev.data="+DefaultUdevDataPath,
	)
	cmd.Stdout = io.Discard
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("start node-exporter: %v", err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cancel()
		<-exited
		if t.Failed() {
			t.Logf("node-exporter stderr:\n%s", stderr.String())
		}
	})
	url = "http://" + addr + "/metrics"
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return url, cmd.Process.Pid
			}
		}
		select {
		case <-exited:
			t.Fatalf("node-exporter exited: %s", stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("node-exporter not ready at %s: %v", url, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// tolerance is how far outside [node-exporter before, node-exporter after]
// our value may be, or -1 when the value is not compared: an instantaneous
// count (runnable processes, I/Os in flight) is a different number a
// millisecond later on a busy machine, however right the reading.
func tolerance(key string, s sample, memTotal float64) float64 {
	name := key[:strings.IndexByte(key, '{')]
	switch {
	case name == "node_procs_running", name == "node_procs_blocked", name == "node_disk_io_now":
		return -1
	case strings.HasPrefix(name, "node_memory_") && strings.HasSuffix(name, "_bytes"):
		// Other processes allocate and free between the reads; the
		// bracket catches most of it, this the rest.
		return 0.01 * memTotal
	case name == "node_filesystem_free_bytes", name == "node_filesystem_avail_bytes",
		name == "node_filesystem_files_free":
		return 0.005*math.Abs(s.v) + 4096*16
	case strings.HasPrefix(name, "node_load"):
		return 0.01
	}
	// Counters, sizes, info and error flags: exactly within the bracket
	// (up to float formatting).
	return 1e-9 * math.Abs(s.v)
}

// TestCompareNodeExporter runs the real node-exporter beside the collector
// on this machine: every series node-exporter has in this package's scope
// (and still has a moment later) must be here with the same labels and
// type, and a value within the bracket of node-exporter's two scrapes taken
// before and after ours, within tolerance. It runs twice: with the default
// roots, and with /proc, /sys and / reached through other paths as in a
// DaemonSet that mounts them at /host/... (symlinks here), given to both.
func TestCompareNodeExporter(t *testing.T) {
	t.Run("default roots", func(t *testing.T) {
		compareNodeExporter(t, Options{ProcPath: DefaultProcPath, SysPath: DefaultSysPath, RootPath: DefaultRootPath})
	})
	t.Run("host roots", func(t *testing.T) {
		host := filepath.Join(t.TempDir(), "host")
		if err := os.Mkdir(host, 0o755); err != nil {
			t.Fatal(err)
		}
		for link, target := range map[string]string{"proc": "/proc", "sys": "/sys", "root": "/"} {
			if err := os.Symlink(target, filepath.Join(host, link)); err != nil {
				t.Fatal(err)
			}
		}
		compareNodeExporter(t, Options{ProcPath: host + "/proc", SysPath: host + "/sys", RootPath: host + "/root"})
	})
}

func compareNodeExporter(t *testing.T, opts Options) {
	url, _ := startNodeExporter(t, opts)
	c, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(c)
	t.Logf("node-exporter metrics out of scope (not compared): %s", strings.Join(outOfScope(t, url), " "))

	var problems []string
	for attempt := 1; attempt <= 3; attempt++ {
		ne1 := scrape(t, url)
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatalf("gather: %v", err)
		}
		ours := flatten(mfs)
		ne2 := scrape(t, url)

		var missing, extra []string
		problems = problems[:0]
		memTotal := ne1["node_memory_MemTotal_bytes{}"].v
		compared := 0
		for key, a := range ne1 {
			b, stable := ne2[key]
			if !stable {
				continue // a mount or device that came or went between scrapes
			}
			o, ok := ours[key]
			if !ok {
				missing = append(missing, key)
				continue
			}
			if o.typ != a.typ {
				problems = append(problems, fmt.Sprintf("%s: type %v, node-exporter %v", key, o.typ, a.typ))
				continue
			}
			tol := tolerance(key, a, memTotal)
			if tol < 0 {
				continue
			}
			lo, hi := min(a.v, b.v)-tol, max(a.v, b.v)+tol
			if o.v < lo || o.v > hi {
				problems = append(problems, fmt.Sprintf("%s = %g, node-exporter %g then %g (tolerance %g)", key, o.v, a.v, b.v, tol))
			}
			compared++
		}
		for key := range ours {
			_, in1 := ne1[key]
			_, in2 := ne2[key]
			if !in1 && !in2 {
				extra = append(extra, key)
			}
		}
		sort.Strings(missing)
		sort.Strings(extra)
		if len(missing) > 0 {
			t.Fatalf("%d series node-exporter has and we do not:\n%s", len(missing), strings.Join(missing, "\n"))
		}
		for _, k := range extra {
			// Only a mount or device that came and went between the two
			// node-exporter scrapes can do this; a name or label bug
			// would show as missing above too.
			name := k[:strings.IndexByte(k, '{')]
			if !strings.HasPrefix(name, "node_filesystem_") && !strings.HasPrefix(name, "node_network_") &&
				!strings.HasPrefix(name, "node_disk_") {
				t.Errorf("series we have and node-exporter does not: %s", k)
			} else {
				t.Logf("series we have and node-exporter did not in either scrape (came and went?): %s", k)
			}
		}
		t.Logf("attempt %d: %d node-exporter series in scope, %d values compared, %d ours, %d problems",
			attempt, len(ne1), compared, len(ours), len(problems))
		if len(problems) == 0 {
			return
		}
		// A value off on a loaded machine (other processes allocate
		// between the reads) is retried; the same problem three times is a
		// bug.
		t.Logf("attempt %d value problems:\n%s", attempt, strings.Join(problems, "\n"))
	}
	t.Fatalf("values disagree with node-exporter in 3 attempts:\n%s", strings.Join(problems, "\n"))
}
