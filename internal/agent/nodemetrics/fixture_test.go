package nodemetrics

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

var (
	record = flag.Bool("record", false, "re-record testdata/fixture/{proc,sys} from this machine's /proc and /sys")
	update = flag.Bool("update", false, "rewrite testdata/fixture.golden")
)

const fixture = "testdata/fixture"

// fixtureExtraMounts are appended to the recorded mounts: a duplicate of
// "/", a read-only mount that exists under the fixture's root, and one
// whose mount point does not exist there (and has an escaped space).
const fixtureExtraMounts = `/dev/vda / ext4 rw,relatime 0 0
/dev/vdc /srv ext4 ro,relatime 0 0
/dev/vdb /mnt/with\040space xfs rw,relatime 0 0
`

// TestRecordFixture copies the files the collector reads from this
// machine into testdata/fixture (go test -run TestRecordFixture -record).
// Mounts of test runs and of the sandbox (/tmp, /mnt) are left out: they
// come and go.
func TestRecordFixture(t *testing.T) {
	if !*record {
		t.Skip("-record not set")
	}
	cp := func(src, dst string, filter func([]byte) []byte) {
		data, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		if filter != nil {
			data = filter(data)
		}
		dst = filepath.Join(fixture, dst)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{"stat", "meminfo", "loadavg", "diskstats", "net/dev"} {
		cp("/proc/"+f, "proc/"+f, nil)
	}
	cp("/proc/1/mounts", "proc/1/mounts", func(b []byte) []byte {
		var out []byte
		for _, line := range strings.SplitAfter(string(b), "\n") {
			if f := strings.Fields(line); len(f) > 1 && (strings.HasPrefix(f[1], "/tmp/") || strings.HasPrefix(f[1], "/mnt/")) {
				continue
			}
			out = append(out, line...)
		}
		return append(out, fixtureExtraMounts...)
	})
	blocks, _ := filepath.Glob("/sys/block/*/queue/rotational")
	for _, b := range blocks {
		cp(b, strings.TrimPrefix(b, "/"), nil)
	}
}

// fixtureCollector is a Collector over the recorded tree.
func fixtureCollector(t *testing.T, root string) *Collector {
	t.Helper()
	c, err := New(Options{
		ProcPath:     filepath.Join(root, "proc"),
		SysPath:      filepath.Join(root, "sys"),
		RootPath:     filepath.Join(root, "root"),
		UdevDataPath: filepath.Join(root, "udev"),
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// exposition renders families as sorted "name{labels} value" lines, with
// the values that depend on the filesystem the test runs on replaced by
// "<host>".
func exposition(mfs []*dto.MetricFamily) string {
	var lines []string
	for _, mf := range mfs {
		name := mf.GetName()
		for _, m := range mf.GetMetric() {
			var ls []string
			for _, l := range m.GetLabel() {
				ls = append(ls, fmt.Sprintf("%s=%q", l.GetName(), l.GetValue()))
			}
			var v float64
			switch mf.GetType() {
			case dto.MetricType_COUNTER:
				v = m.GetCounter().GetValue()
			default:
				v = m.GetGauge().GetValue()
			}
			val := fmt.Sprint(v)
			if strings.HasPrefix(name, "node_filesystem_") && name != "node_filesystem_readonly" &&
				name != "node_filesystem_device_error" {
				val = "<host>"
			}
			lines = append(lines, fmt.Sprintf("%s{%s} %s %s", name, strings.Join(ls, ","), strings.ToLower(mf.GetType().String()), val))
		}
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n") + "\n"
}

func gather(t *testing.T, c *Collector) []*dto.MetricFamily {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(c)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	return mfs
}

// TestFixtureGolden collects the recorded tree and compares every series
// with testdata/fixture.golden (go test -run TestFixtureGolden -update
// rewrites it).
func TestFixtureGolden(t *testing.T) {
	got := exposition(gather(t, fixtureCollector(t, fixture)))
	golden := "testdata/fixture.golden"
	if *update {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("collected series differ from %s (-update rewrites it):\n%s", golden, lineDiff(string(want), got))
	}
	// Spot checks that the golden file cannot drift from by an -update.
	for _, want := range []string{
		`node_filesystem_device_error{device="/dev/vda",fstype="ext4",mountpoint="/"} gauge 0`,
		`node_filesystem_readonly{device="/dev/vdc",fstype="ext4",mountpoint="/srv"} gauge 1`,
		`node_filesystem_device_error{device="/dev/vdb",fstype="xfs",mountpoint="/mnt/with space"} gauge 1`,
		`node_disk_info{device="vda",major="254",minor="0",model="",path="virtio-pci-0000:00:05.0",revision="",rotational="1",serial="kinsight-fixture",wwn=""} gauge 1`,
		`node_disk_filesystem_info{device="vda",type="ext4",usage="filesystem",uuid="00000000-0000-4000-8000-000000000000",version="1.0"} gauge 1`,
		`kinsight_agent_nodemetrics_errors_total{collector="filesystem"} counter 1`, // the missing /mnt/with space
		`kinsight_agent_nodemetrics_errors_total{collector="meminfo"} counter 0`,
	} {
		if !strings.Contains(got, want+"\n") {
			t.Errorf("missing %s", want)
		}
	}
	if strings.Contains(got, `mountpoint="/mnt/with space"} <`) || strings.Contains(got, "node_filesystem_size_bytes{device=\"/dev/vdb\"") {
		t.Errorf("a mount whose statfs failed has size series")
	}
	if n := strings.Count(got, `node_filesystem_size_bytes{device="/dev/vda",fstype="ext4",mountpoint="/"}`); n != 1 {
		t.Errorf("duplicate mount of / reported %d times", n)
	}
	for _, name := range []string{"node_memory_MemTotal_bytes", "node_memory_Active_anon_bytes", "node_memory_HugePages_Total",
		"node_cpu_seconds_total", "node_cpu_guest_seconds_total", "node_disk_reads_completed_total",
		"node_network_receive_bytes_total", "node_load1", "node_boot_time_seconds", "node_procs_running"} {
		if !strings.Contains(got, name+"{") {
			t.Errorf("no %s", name)
		}
	}
	if strings.Contains(got, "node_memory_HugePages_Total_bytes") {
		t.Error("HugePages_Total is a count, not bytes")
	}
}

func lineDiff(want, got string) string {
	w := map[string]bool{}
	for _, l := range strings.Split(want, "\n") {
		w[l] = true
	}
	g := map[string]bool{}
	var b bytes.Buffer
	for _, l := range strings.Split(got, "\n") {
		g[l] = true
		if !w[l] {
			fmt.Fprintf(&b, "+ %s\n", l)
		}
	}
	for _, l := range strings.Split(want, "\n") {
		if !g[l] {
			fmt.Fprintf(&b, "- %s\n", l)
		}
	}
	return b.String()
}
