package nodemetrics

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/prometheus/procfs"
)

// copyTree copies the recorded fixture into a temporary directory that a
// test may break.
func copyTree(t *testing.T) string {
	t.Helper()
	dst := t.TempDir()
	err := filepath.Walk(fixture, func(path string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(fixture, path)
		if info.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), data, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

// TestSourceFailuresAreCountedAndIsolated breaks one source at a time:
// each failure is counted against that source only, and the others are
// still collected.
func TestSourceFailuresAreCountedAndIsolated(t *testing.T) {
	for _, tc := range []struct {
		source  string
		breakIt func(root string) error
		gone    string // a metric that must be absent
		kept    string // a metric of the source that must still be there, if any
	}{
		{srcStat, func(r string) error { return os.Remove(filepath.Join(r, "proc/stat")) }, "node_cpu_seconds_total{", ""},
		{srcMeminfo, func(r string) error { return os.Remove(filepath.Join(r, "proc/meminfo")) }, "node_memory_", ""},
		{srcMeminfo, func(r string) error {
			// Lines before a garbled one are still reported.
			return os.WriteFile(filepath.Join(r, "proc/meminfo"), []byte("MemTotal: 100 kB\nMemFree: x kB\nBuffers: 1 kB\n"), 0o644)
		}, "node_memory_Buffers_bytes", "node_memory_MemTotal_bytes{} gauge 102400\n"},
		{srcMeminfo, func(r string) error {
			return os.WriteFile(filepath.Join(r, "proc/meminfo"), []byte("Bad-Name: 1 kB\nMemFree: 2 kB\n"), 0o644)
		}, "Bad-Name", "node_memory_MemFree_bytes{} gauge 2048\n"},
		{srcFilesystem, func(r string) error {
			if err := os.Remove(filepath.Join(r, "proc/1/mounts")); err != nil {
				return err
			}
			return os.WriteFile(filepath.Join(r, "proc/mounts"), []byte("/dev/vda / ext4 rw 0 0\nshort line\n"), 0o644)
		}, "/srv", `node_filesystem_device_error{device="/dev/vda",fstype="ext4",mountpoint="/"} gauge 0`},
		{srcDiskstats, func(r string) error { return os.Remove(filepath.Join(r, "proc/diskstats")) }, "node_disk_", ""},
		{srcNetdev, func(r string) error { return os.Remove(filepath.Join(r, "proc/net/dev")) }, "node_network_", ""},
		{srcLoadavg, func(r string) error {
			return os.WriteFile(filepath.Join(r, "proc/loadavg"), []byte("garbage\n"), 0o644)
		}, "node_load1", ""},
	} {
		t.Run(tc.source, func(t *testing.T) {
			root := copyTree(t)
			if err := tc.breakIt(root); err != nil {
				t.Fatal(err)
			}
			c := fixtureCollector(t, root)
			gather(t, c)
			got := exposition(gather(t, c))
			for _, s := range sources {
				want := `kinsight_agent_nodemetrics_errors_total{collector="` + s + `"} counter 0`
				if s == tc.source {
					want = `kinsight_agent_nodemetrics_errors_total{collector="` + s + `"} counter 2`
				}
				if s == srcFilesystem && tc.source != srcFilesystem {
					// The fixture's /mnt/with space fails statfs every time.
					want = `kinsight_agent_nodemetrics_errors_total{collector="` + s + `"} counter 2`
				}
				if !strings.Contains(got, want+"\n") {
					t.Errorf("want %s", want)
				}
			}
			if strings.Contains(got, tc.gone) {
				t.Errorf("%s still reported", tc.gone)
			}
			if tc.kept != "" && !strings.Contains(got, tc.kept) {
				t.Errorf("missing %s", tc.kept)
			}
			// Every other source still reports.
			for src, m := range map[string]string{srcStat: "node_context_switches_total{", srcMeminfo: "node_memory_",
				srcFilesystem: "node_filesystem_", srcDiskstats: "node_disk_", srcNetdev: "node_network_", srcLoadavg: "node_load1{"} {
				if src != tc.source && !strings.Contains(got, m) {
					t.Errorf("%s not reported when %s fails", m, tc.source)
				}
			}
		})
	}
}

func TestNewErrors(t *testing.T) {
	if _, err := New(Options{ProcPath: filepath.Join(t.TempDir(), "none")}); err == nil {
		t.Error("missing procfs root accepted")
	}
	if _, err := New(Options{ProcPath: fixture + "/proc", DiskDevicesExclude: "("}); err == nil || !strings.Contains(err.Error(), "DiskDevicesExclude") {
		t.Errorf("bad pattern: %v", err)
	}
	// "^$" excludes nothing: the loop devices of the fixture appear.
	c, err := New(Options{ProcPath: fixture + "/proc", SysPath: fixture + "/sys", DiskDevicesExclude: "^$"})
	if err != nil {
		t.Fatal(err)
	}
	if got := exposition(gather(t, c)); !strings.Contains(got, `node_disk_reads_completed_total{device="loop0"}`) {
		t.Error(`DiskDevicesExclude "^$" still excludes loop0`)
	}
}

// TestStuckMountSkipped: a mount whose statfs is still in flight from an
// earlier collection is reported as a device error without a new call.
func TestStuckMountSkipped(t *testing.T) {
	c := fixtureCollector(t, fixture)
	c.fs.stuck[filepath.Join(c.opts.RootPath, "/srv")] = struct{}{}
	got := exposition(gather(t, c))
	if !strings.Contains(got, `node_filesystem_device_error{device="/dev/vdc",fstype="ext4",mountpoint="/srv"} gauge 1`) {
		t.Error("stuck /srv not reported as a device error")
	}
	if strings.Contains(got, `node_filesystem_size_bytes{device="/dev/vdc"`) {
		t.Error("stuck /srv has a size")
	}
	if !strings.Contains(got, `node_filesystem_device_error{device="/dev/vda",fstype="ext4",mountpoint="/"} gauge 0`) {
		t.Error("/ affected by the stuck /srv")
	}
}

func TestCPUNeverGoesBack(t *testing.T) {
	var s cpuState
	s.init()
	s.update(map[int64]procfs.CPUStat{0: {User: 10, Idle: 100, Iowait: 5}, 1: {User: 1, Idle: 1}})
	s.update(map[int64]procfs.CPUStat{0: {User: 11, Idle: 99, Iowait: 4}, 1: {User: 2, Idle: 2}})
	if got := s.last[0]; got.User != 11 || got.Idle != 100 || got.Iowait != 5 {
		t.Errorf("cpu0 after a small step back: %+v", got)
	}
	// Idle back by 3 s or more: hot-plugged, restart from the new values.
	s.update(map[int64]procfs.CPUStat{0: {User: 1, Idle: 50, Iowait: 0}})
	if got := s.last[0]; got.User != 1 || got.Idle != 50 {
		t.Errorf("cpu0 after hot-plug: %+v", got)
	}
	if _, ok := s.last[1]; ok {
		t.Error("offline cpu1 still reported")
	}
}

func TestParseMeminfo(t *testing.T) {
	in := "MemTotal:       16316736 kB\nActive(anon):     1 kB\nHugePages_Total:       3\n\nDirectMap4k: 2 kB\nX(a)b(c)y: 1\n"
	var got []string
	var scratch []byte
	err := parseMeminfo([]byte(in), &scratch, func(n []byte, v float64) {
		got = append(got, string(n)+"="+strconv.FormatFloat(v, 'f', -1, 64))
	})
	if err != nil {
		t.Fatal(err)
	}
	want := "MemTotal_bytes=16708337664 Active_anon_bytes=1024 HugePages_Total=3 DirectMap4k_bytes=2048 X_a)b(cy=1"
	if strings.Join(got, " ") != want {
		t.Errorf("got  %s\nwant %s", strings.Join(got, " "), want)
	}
	for _, bad := range []string{"MemTotal\n", "MemTotal: 1 kB extra\n", "MemTotal: kB\n", ": 1\n"} {
		if err := parseMeminfo([]byte(bad), &scratch, func([]byte, float64) {}); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestParseMounts(t *testing.T) {
	in := "/dev/a /mnt/x\\040y ext4 rw,ro 0 0\n\n/dev/b /a\\134b\\011c xfs rw 0 0\n/dev/c /bad\\04 tmpfs rw 0 0\n"
	ms, err := parseMounts([]byte(in), nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []mount{{"/dev/a", "/mnt/x y", "ext4", "rw,ro"}, {"/dev/b", "/a\\b\tc", "xfs", "rw"}, {"/dev/c", "/bad\\04", "tmpfs", "rw"}}
	if len(ms) != len(want) {
		t.Fatalf("got %q", ms)
	}
	for i := range want {
		if ms[i] != want[i] {
			t.Errorf("mount %d: got %q want %q", i, ms[i], want[i])
		}
	}
	if !hasOption(ms[0].options, "ro") || hasOption("rw,rootcontext=x", "ro") {
		t.Error("hasOption")
	}
	if _, err := parseMounts([]byte("/dev/a /x ext4\n"), nil); err == nil {
		t.Error("three fields accepted")
	}
	if got := stripRoot("/host/root", "/host/root"); got != "/" {
		t.Errorf("stripRoot of the root: %q", got)
	}
	if got := stripRoot("/host/root", "/host/root/var"); got != "/var" {
		t.Errorf("stripRoot: %q", got)
	}
}

// TestConcurrentCollect: registries may gather from several goroutines at
// once (two scrapers); Collect serialises them (run with -race).
func TestConcurrentCollect(t *testing.T) {
	c := fixtureCollector(t, fixture)
	want := exposition(gather(t, c))
	errs := make(chan string, 4)
	for range 4 {
		go func() {
			var bad string
			for range 20 {
				if got := exposition(gather(t, c)); got != strings.ReplaceAll(want, `collector="filesystem"} counter 1`, `collector="filesystem"} counter `+extractFSErrors(got)) {
					bad = lineDiff(want, got)
				}
			}
			errs <- bad
		}()
	}
	for range 4 {
		if bad := <-errs; bad != "" {
			t.Errorf("concurrent collections differ:\n%s", bad)
		}
	}
}

// extractFSErrors is the filesystem error count in an exposition: it grows
// with every collection of the fixture (its /mnt/with space never exists).
func extractFSErrors(exp string) string {
	const k = `kinsight_agent_nodemetrics_errors_total{collector="filesystem"} counter `
	i := strings.Index(exp, k)
	if i < 0 {
		return ""
	}
	rest := exp[i+len(k):]
	return rest[:strings.IndexByte(rest, '\n')]
}

// TestThermalThrottles: sysfs of a host with thermal_throttle (the
// fixture's machine, a VM, has none): one core series per (package, core),
// hyperthread siblings counted once, one package series per package.
func TestThermalThrottles(t *testing.T) {
	for _, tc := range []struct {
		name     string
		core1    string // cpu1's core_id; cpu0 is package 0 core 0
		want     []string
		wantNone string
	}{
		{"two cores", "1", []string{
			`node_cpu_core_throttles_total{core="0",package="0"} counter 7`,
			`node_cpu_core_throttles_total{core="1",package="0"} counter 9`,
			`node_cpu_package_throttles_total{package="0"} counter 3`,
		}, ""},
		{"siblings", "0", []string{
			`node_cpu_core_throttles_total{core="0",package="0"} counter 7`,
			`node_cpu_package_throttles_total{package="0"} counter 3`,
		}, `core="1"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := copyTree(t)
			for cpu, files := range map[string]map[string]string{
				"cpu0": {"topology/physical_package_id": "0", "topology/core_id": "0",
					"thermal_throttle/core_throttle_count": "7", "thermal_throttle/package_throttle_count": "3"},
				"cpu1": {"topology/physical_package_id": "0", "topology/core_id": tc.core1,
					"thermal_throttle/core_throttle_count": "9", "thermal_throttle/package_throttle_count": "3"},
			} {
				for f, v := range files {
					p := filepath.Join(root, "sys/devices/system/cpu", cpu, f)
					if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
						t.Fatal(err)
					}
					if err := os.WriteFile(p, []byte(v+"\n"), 0o644); err != nil {
						t.Fatal(err)
					}
				}
			}
			got := exposition(gather(t, fixtureCollector(t, root)))
			for _, w := range tc.want {
				if !strings.Contains(got, w+"\n") {
					t.Errorf("missing %s", w)
				}
			}
			if n := strings.Count(got, "node_cpu_core_throttles_total{") + strings.Count(got, "node_cpu_package_throttles_total{"); n != len(tc.want) {
				t.Errorf("%d throttle series, want %d", n, len(tc.want))
			}
			if tc.wantNone != "" && strings.Contains(got, tc.wantNone) {
				t.Errorf("unexpected %s", tc.wantNone)
			}
		})
	}
	// The fixture itself has no thermal_throttle: no series, no error.
	got := exposition(gather(t, fixtureCollector(t, fixture)))
	if strings.Contains(got, "throttles_total") || !strings.Contains(got, `collector="stat"} counter 0`) {
		t.Error("throttle series or errors without thermal_throttle")
	}
}
