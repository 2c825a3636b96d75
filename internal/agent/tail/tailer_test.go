package tail

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

type harness struct {
	t    testing.TB
	fs   *memFS
	cp   *Checkpoints
	tl   *Tailer
	now  time.Time
	logs *bytes.Buffer
}

func newHarness(t testing.TB, fsys *memFS, cp *Checkpoints, cfg Config) *harness {
	t.Helper()
	if fsys == nil {
		fsys = newMemFS()
	}
	if cp == nil {
		cp, _ = OpenCheckpoints("")
	}
	if cfg.Include == nil {
		cfg.Include = []string{"/var/log/containers/*.log", "/var/log/syslog"}
	}
	h := &harness{t: t, fs: fsys, cp: cp, now: time.Unix(1_700_000_000, 0), logs: &bytes.Buffer{}}
	tl, err := New(cfg, fsys, cp, slog.New(slog.NewTextHandler(h.logs, nil)), prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	tl.now = func() time.Time { return h.now }
	cp.now = tl.now
	h.tl = tl
	return h
}

// poll runs one scan+read round and returns what it emitted.
func (h *harness) poll() []Line {
	h.t.Helper()
	out := make(chan Line, 100000)
	if err := h.tl.poll(context.Background(), out); err != nil {
		h.t.Fatal(err)
	}
	close(out)
	var ls []Line
	for l := range out {
		ls = append(ls, l)
	}
	h.now = h.now.Add(250 * time.Millisecond)
	return ls
}

func (h *harness) pollText() string { return lines(h.poll()) }

func (h *harness) expect(want string) {
	h.t.Helper()
	if got := h.pollText(); got != want {
		h.t.Fatalf("poll emitted %q, want %q\nlogs:\n%s", got, want, h.logs)
	}
}

func (h *harness) counter(c prometheus.Collector) float64 { return testutil.ToFloat64(c) }

const (
	link = "/var/log/containers/p_ns_c-abc.log"
	pod  = "/var/log/pods/ns_p_uid/c/0.log"
)

func kubeletFile(fsys *memFS) {
	fsys.symlink(pod, link)
	fsys.create(pod)
}

func TestGlobSymlinksAndProblems(t *testing.T) {
	h := newHarness(t, nil, nil, Config{})
	kubeletFile(h.fs)
	h.fs.append(pod, "a\nb\n")
	h.fs.symlink("/var/log/pods/gone/0.log", "/var/log/containers/dangling.log")
	h.fs.append("/var/log/syslog", "s1\n")
	h.fs.setUnreadable("/var/log/syslog", true)

	ls := h.poll()
	if lines(ls) != "a\nb\n" {
		t.Fatalf("got %q", lines(ls))
	}
	st, _ := h.fs.Stat(pod)
	if ls[0].Path != link || ls[0].File.Ino != st.Ino || ls[1].Offset != 4 {
		t.Fatalf("line = %+v, want path %s ino %d, second offset 4", ls[0], link, st.Ino)
	}
	h.expect("")
	h.expect("")
	if got := h.counter(h.tl.m.errors.WithLabelValues(reasonDanglingSymlink)); got != 1 {
		t.Errorf("dangling symlink counted %v times, want 1", got)
	}
	if got := h.counter(h.tl.m.errors.WithLabelValues(reasonUnreadable)); got != 1 {
		t.Errorf("unreadable counted %v times, want 1", got)
	}
	// Fixed permissions and a file created after start: both read from 0.
	h.fs.setUnreadable("/var/log/syslog", false)
	h.fs.symlink("/var/log/pods/ns_q_uid/c/0.log", "/var/log/containers/q_ns_c-def.log")
	h.fs.append("/var/log/pods/ns_q_uid/c/0.log", "q1\n")
	if got := h.pollText(); got != "q1\ns1\n" && got != "s1\nq1\n" {
		t.Fatalf("got %q", got)
	}
	if got := h.counter(h.tl.m.lines); got != 4 {
		t.Errorf("lines_total = %v, want 4", got)
	}
}

func TestStartAtEnd(t *testing.T) {
	h := newHarness(t, nil, nil, Config{StartAt: StartEnd})
	kubeletFile(h.fs)
	h.fs.append(pod, "old\n")
	h.expect("")
	h.fs.append(pod, "new\n")
	h.fs.append("/var/log/syslog", "born later\n")
	h.expect("new\nborn later\n")
}

func TestKubeletRotation(t *testing.T) {
	h := newHarness(t, nil, nil, Config{})
	kubeletFile(h.fs)
	h.fs.append(pod, "a\nb\n")
	h.expect("a\nb\n")
	h.fs.append(pod, "c\nd-start")
	h.fs.rename(pod, pod+".20240101-000000")
	h.fs.append(pod+".20240101-000000", "-end\n") // the writer's old descriptor
	h.fs.create(pod)
	h.fs.append(pod, "e\n")
	got := h.pollText()
	if got != "c\nd-start-end\ne\n" {
		t.Fatalf("after rotation got %q", got)
	}
	h.expect("")
	// kubelet compresses the rotated file at its next rotation: no repeats.
	h.fs.gzip(pod+".20240101-000000", pod+".20240101-000000.gz")
	h.fs.append(pod, "f\n")
	h.expect("f\n")
	h.expect("")
	h.expect("")
	if got := h.counter(h.tl.m.rotations); got != 1 {
		t.Errorf("rotations = %v, want 1", got)
	}
	if got := h.counter(h.tl.m.openFiles); got != 1 {
		t.Errorf("open files = %v, want 1 (the live one)", got)
	}
}

func TestRotatedTwiceWhileBehind(t *testing.T) {
	for _, gz := range []bool{false, true} {
		t.Run(fmt.Sprintf("gzip=%v", gz), func(t *testing.T) {
			h := newHarness(t, nil, nil, Config{})
			kubeletFile(h.fs)
			h.fs.append(pod, "a1\n")
			h.expect("a1\n")
			h.fs.append(pod, "a2\n")
			h.fs.rename(pod, pod+".1")
			h.fs.create(pod)
			h.fs.append(pod, "b1\nb2\n")
			h.fs.rename(pod, pod+".2")
			if gz {
				h.fs.gzip(pod+".2", pod+".2.gz")
			}
			h.fs.create(pod)
			h.fs.append(pod, "c1\n")
			got := h.pollText()
			for _, want := range []string{"a2\n", "b1\nb2\n", "c1\n"} {
				if strings.Count(got, want) != 1 {
					t.Fatalf("got %q, want %q exactly once", got, want)
				}
			}
			if len(got) != len("a2\nb1\nb2\nc1\n") {
				t.Fatalf("got %q: extra lines", got)
			}
			h.fs.gzip(pod+".1", pod+".1.gz")
			if !gz {
				h.fs.gzip(pod+".2", pod+".2.gz")
			}
			h.expect("")
			h.expect("")
		})
	}
}

func TestDeletedWhileReading(t *testing.T) {
	h := newHarness(t, nil, nil, Config{MaxBytesPerPoll: 4, ReadBufferBytes: 4})
	h.fs.append("/var/log/syslog", "l1\nl2\nl3\nl4\nl5")
	h.expect("l1\n")
	h.fs.remove("/var/log/syslog")
	var got string
	for range 6 {
		got += h.pollText()
	}
	if got != "l2\nl3\nl4\nl5\n" {
		t.Fatalf("drained %q", got)
	}
	if len(h.tl.files) != 0 || h.counter(h.tl.m.openFiles) != 0 {
		t.Fatalf("file not released: %d tracked, %v open", len(h.tl.files), h.counter(h.tl.m.openFiles))
	}
}

func TestCopyTruncate(t *testing.T) {
	h := newHarness(t, nil, nil, Config{})
	const syslog = "/var/log/syslog"
	h.fs.append(syslog, "old1\n")
	h.expect("old1\n")
	h.fs.append(syslog, "old2\n")
	h.fs.copyFile(syslog, syslog+".1")
	h.expect("old2\n") // the copy is recognised by its first bytes, not read again
	h.fs.append(syslog, "old3\n")
	h.fs.copyFile(syslog, syslog+".2") // a copy that the truncation will orphan
	h.fs.remove(syslog + ".1")
	h.fs.truncate(syslog)
	h.fs.append(syslog, "new1\n")
	got := h.pollText()
	if got != "new1\nold3\n" && got != "old3\nnew1\n" {
		t.Fatalf("after copytruncate got %q", got)
	}
	h.expect("")
	if got := h.counter(h.tl.m.truncations); got != 1 {
		t.Errorf("truncations = %v, want 1", got)
	}
}

func TestTruncationLossCounted(t *testing.T) {
	h := newHarness(t, nil, nil, Config{MaxBytesPerPoll: 3, ReadBufferBytes: 3, ForgetAfter: time.Minute})
	const syslog = "/var/log/syslog"
	h.fs.append(syslog, "aa\nbb\ncc\n")
	h.expect("aa\n")
	h.fs.truncate(syslog) // no copy kept: bb, cc are gone
	h.fs.append(syslog, "n\n")
	h.expect("n\n")
	h.now = h.now.Add(2 * time.Minute)
	h.expect("")
	if got := h.counter(h.tl.m.lost.WithLabelValues(reasonTruncated)); got != 6 {
		t.Errorf("lost truncated bytes = %v, want 6", got)
	}
}

func TestPartialAndLongLines(t *testing.T) {
	tests := []struct {
		name    string
		max     int
		writes  []string
		want    []string // emitted per poll, lines joined by "|"
		offsets []int64
	}{
		{"partial waits", 100, []string{"abc", "def\n"}, []string{"", "abcdef"}, []int64{7}},
		{"long split", 4, []string{"0123456789\n"}, []string{"0123|4567|89"}, []int64{4, 8, 11}},
		{"long partial split", 4, []string{"012345", "67\n"}, []string{"0123", "4567"}, []int64{4, 9}},
		{"empty lines", 100, []string{"\n\nx\n"}, []string{"||x"}, []int64{1, 2, 4}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, nil, nil, Config{MaxLineBytes: tc.max})
			var offs []int64
			for i, w := range tc.writes {
				h.fs.append("/var/log/syslog", w)
				ls := h.poll()
				var parts []string
				for _, l := range ls {
					parts = append(parts, string(l.Data))
					offs = append(offs, l.Offset)
				}
				if got := strings.Join(parts, "|"); got != tc.want[i] {
					t.Fatalf("poll %d: got %q, want %q", i, got, tc.want[i])
				}
			}
			if fmt.Sprint(offs) != fmt.Sprint(tc.offsets) {
				t.Fatalf("offsets %v, want %v", offs, tc.offsets)
			}
		})
	}
}

func TestResumeFromCheckpoint(t *testing.T) {
	fsys := newMemFS()
	cp, _ := OpenCheckpoints("")
	h := newHarness(t, fsys, cp, Config{})
	kubeletFile(fsys)
	fsys.append(pod, "1\n2\n3\n4\n")
	ls := h.poll()
	cp.Ack(ls[1].File, ls[1].Offset) // 1 and 2 delivered, 3 and 4 in flight

	h2 := newHarness(t, fsys, cp, Config{StartAt: StartEnd})
	fsys.append(pod, "5\n")
	h2.expect("3\n4\n5\n")
}

func TestResumeFromGzipAfterRestart(t *testing.T) {
	fsys := newMemFS()
	cp, _ := OpenCheckpoints("")
	h := newHarness(t, fsys, cp, Config{})
	kubeletFile(fsys)
	fsys.append(pod, "1\n2\n3\n")
	ls := h.poll()
	cp.Ack(ls[0].File, ls[0].Offset)

	// While stopped: rotated, then compressed, original removed.
	fsys.rename(pod, pod+".1")
	fsys.create(pod)
	fsys.append(pod, "4\n")
	fsys.gzip(pod+".1", pod+".1.gz")

	h2 := newHarness(t, fsys, cp, Config{StartAt: StartEnd})
	got := h2.pollText()
	// The rotated file's rest first (file order), then 4, written while
	// stopped: read from 0 despite start_at: end.
	if got != "2\n3\n4\n" {
		t.Fatalf("after restart got %q, want the rest of the rotated file from its .gz", got)
	}
	if h2.counter(h2.tl.m.gzResumes) != 1 {
		t.Errorf("gzip resumes = %v", h2.counter(h2.tl.m.gzResumes))
	}
	fsys.append(pod, "5\n")
	h2.expect("5\n")
}

func TestForgetCheckpoints(t *testing.T) {
	cp, _ := OpenCheckpoints("")
	h := newHarness(t, nil, cp, Config{ForgetAfter: time.Minute})
	cp.Ack(FileID{Dev: 1, Ino: 999, Head: "gone"}, 10)
	h.fs.append("/var/log/syslog", "x\n")
	ls := h.poll()
	cp.Ack(ls[0].File, ls[0].Offset)
	h.now = h.now.Add(10 * time.Minute)
	h.poll()
	if cp.Len() != 1 {
		t.Fatalf("checkpoints = %d, want only the file still on disk", cp.Len())
	}
	if off, ok := cp.Lookup(ls[0].File); !ok || off != 2 {
		t.Fatalf("live checkpoint = %d %v", off, ok)
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		cfg  Config
		want string
	}{
		{Config{Include: []string{"/a/*.log"}}, ""},
		{Config{}, "include"},
		{Config{Include: []string{"["}}, "bad glob"},
		{Config{Include: []string{"/a"}, StartAt: "middle"}, "start_at"},
		{Config{Include: []string{"/a"}, MaxLineBytes: -1}, ">= 0"},
	}
	for _, tc := range tests {
		err := tc.cfg.Validate()
		if (err == nil) != (tc.want == "") || err != nil && !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Validate(%+v) = %v, want %q", tc.cfg, err, tc.want)
		}
	}
}

func BenchmarkConsume(b *testing.B) {
	h := newHarness(b, nil, nil, Config{})
	chunk := bytes.Repeat([]byte("2024-01-01T00:00:00.000000000Z stdout F some log line of moderate length\n"), 800)
	out := make(chan Line, 1024)
	done := make(chan struct{})
	go func() {
		for range out {
		}
		close(done)
	}()
	tr := &tracked{}
	b.ReportAllocs()
	b.SetBytes(int64(len(chunk)))
	for b.Loop() {
		if err := h.tl.consume(context.Background(), tr, chunk, out); err != nil {
			b.Fatal(err)
		}
	}
	close(out)
	<-done
}

func TestExcludeAndOldRotationsAtStart(t *testing.T) {
	fsys := newMemFS()
	kubeletFile(fsys)
	fsys.append(pod+".1", "rotated before start\n")
	fsys.gzip(pod+".1", pod+".1.gz")
	fsys.append(pod+".2", "also before start\n")
	fsys.append(pod, "live\n")
	fsys.symlink("/var/log/pods/kube-system_x_uid/c/0.log", "/var/log/containers/x_kube-system_c.log")
	fsys.append("/var/log/pods/kube-system_x_uid/c/0.log", "excluded\n")
	h := newHarness(t, fsys, nil, Config{Exclude: []string{"/var/log/containers/*_kube-system_*"}})
	h.expect("live\n")
	// A corrupt .gz appearing later is counted, not fatal.
	fsys.append(pod+".3.gz", "\x1f\x8bnot really gzip")
	h.expect("")
	h.expect("") // a problem counts once two scans in a row see it
	if got := h.counter(h.tl.m.errors.WithLabelValues(reasonGzip)); got != 1 {
		t.Errorf("gzip errors = %v, want 1", got)
	}
}

func TestInodeReuseAfterRestart(t *testing.T) {
	fsys := newMemFS()
	cp, _ := OpenCheckpoints("")
	h := newHarness(t, fsys, cp, Config{})
	fsys.append("/var/log/syslog", "first file, fully read\n")
	ls := h.poll()
	cp.Ack(ls[0].File, ls[0].Offset)
	fsys.remove("/var/log/syslog")
	fsys.createIno("/var/log/syslog", ls[0].File.Ino) // the filesystem hands the inode out again
	fsys.append("/var/log/syslog", "second\nfile\nlonger than the first one's offset\n")

	h2 := newHarness(t, fsys, cp, Config{StartAt: StartEnd})
	h2.expect("second\nfile\nlonger than the first one's offset\n")
}

// Truncated and rewritten to the very size we had read, between two polls:
// only the first bytes (checked when the mtime moves) tell.
func TestTruncatedToSameSize(t *testing.T) {
	h := newHarness(t, nil, nil, Config{})
	const syslog = "/var/log/syslog"
	a, b, c := strings.Repeat("a", 70)+"\n", strings.Repeat("b", 70)+"\n", strings.Repeat("c", 70)+"\n"
	h.fs.append(syslog, a)
	h.expect(a)
	h.fs.append(syslog, b)
	h.fs.copyFile(syslog, syslog+".1")
	h.fs.truncate(syslog)
	h.fs.append(syslog, c)
	got := h.pollText() + h.pollText() // the copy is promoted once the truncation is seen
	if got != c+b {
		t.Fatalf("got %q", got)
	}
	h.expect("")
	if n := h.counter(h.tl.m.truncations); n != 1 {
		t.Errorf("truncations = %v", n)
	}
}

// Rotations older than the first run are skipped, and stay skipped after a
// restart; a rotation made while the agent was stopped is read.
func TestRotationsAcrossRestart(t *testing.T) {
	fsys := newMemFS()
	cp, _ := OpenCheckpoints("")
	kubeletFile(fsys)
	fsys.append(pod+".1", "before the first run\n")
	fsys.append(pod+".2", "also before\n")
	fsys.gzip(pod+".2", pod+".2.gz")
	fsys.append(pod, "live\n")
	h := newHarness(t, fsys, cp, Config{})
	ls := h.poll()
	if lines(ls) != "live\n" {
		t.Fatalf("first run got %q", lines(ls))
	}
	cp.Ack(ls[0].File, ls[0].Offset)
	fsys.gzip(pod+".1", pod+".1.gz") // a pre-first-run rotation compressed later: still skipped
	h.expect("")
	h.expect("")

	fsys.append(pod, "while stopped\n")
	fsys.rename(pod, pod+".3")
	fsys.append(pod+".4", "rotated while stopped\n")
	fsys.append(pod, "new live\n")
	h2 := newHarness(t, fsys, cp, Config{})
	var got []string
	for _, l := range h2.poll() {
		got = append(got, string(l.Data))
	}
	sort.Strings(got)
	if want := "[new live rotated while stopped while stopped]"; fmt.Sprint(got) != want {
		t.Fatalf("after restart got %v, want %s (old rotations not re-read)", got, want)
	}
}

// A link left dangling for one scan (kubelet renamed 0.log and the runtime
// has not reopened it yet) is no problem; one dangling for two is.
func TestTransientDanglingLinkNotCounted(t *testing.T) {
	fsys := newMemFS()
	kubeletFile(fsys)
	fsys.append(pod, "a\n")
	h := newHarness(t, fsys, nil, Config{})
	h.expect("a\n")
	fsys.rename(pod, pod+".20261122-000000")
	h.expect("")
	fsys.append(pod, "b\n")
	h.expect("b\n")
	dangling := h.tl.m.errors.WithLabelValues(reasonDanglingSymlink)
	if n := h.counter(dangling); n != 0 {
		t.Fatalf("dangling_symlink = %v for a link dangling during one scan", n)
	}
	fsys.remove(pod)
	h.expect("")
	h.expect("")
	if n := h.counter(dangling); n != 1 {
		t.Fatalf("dangling_symlink = %v for a link dangling two scans in a row, want 1", n)
	}
}

// A rotated file drained (its lines in flight), compressed and removed while
// the agent runs: the .gz takes over its offsets. After a crash the lines
// not yet acknowledged are read again from the .gz, and they must carry the
// source they were first sent under, so the server can drop the repeats. It
// takes the checkpoint file's round trip to keep it.
func TestGzipKeepsSourceAcrossRestarts(t *testing.T) {
	fsys := newMemFS()
	path := filepath.Join(t.TempDir(), "checkpoints.json")
	h, cp := harnessAt(t, fsys, path)
	kubeletFile(fsys)
	fsys.append(pod, "line one, long enough that the head alone names the file: 0123456789\n2\n3\n4\n")
	ls := h.poll()
	if len(ls) != 4 {
		t.Fatalf("read %d lines, want 4", len(ls))
	}
	src := ls[0].Source
	cp.Ack(ls[0].File, ls[0].Offset) // the rest is in flight

	fsys.rename(pod, pod+".1")
	fsys.create(pod)
	h.expect("")
	h.expect("") // quiet: the rotated file is closed
	fsys.gzip(pod+".1", pod+".1.gz")
	h.expect("")                     // the .gz holds nothing unread
	cp.Ack(ls[1].File, ls[1].Offset) // a late ack under the old identity
	if err := cp.Flush(); err != nil {
		t.Fatal(err)
	}

	for restart := 1; restart <= 2; restart++ {
		h, cp := harnessAt(t, fsys, path)
		ls := h.poll()
		want := "3\n4\n"
		if restart == 2 {
			want = "4\n"
		}
		if got := lines(ls); got != want {
			t.Fatalf("restart %d: got %q, want %q\nlogs:\n%s", restart, got, want, h.logs)
		}
		for _, l := range ls {
			if l.Source != src {
				t.Fatalf("restart %d: line %q from the .gz has source %x, want its first source %x", restart, l.Data, l.Source, src)
			}
		}
		cp.Ack(ls[0].File, ls[0].Offset)
		if err := cp.Flush(); err != nil {
			t.Fatal(err)
		}
	}
}

// A file whose lines were sent but never acknowledged before a crash, and
// compressed under another inode while the agent was down: because its
// identity was saved before its first batch went out (Persisted), the
// restart reads the .gz as that file, under the source its lines were
// sent with, so the server can drop what it already has.
func TestRegisteredFileFoundAsGzipAfterCrash(t *testing.T) {
	fsys := newMemFS()
	path := filepath.Join(t.TempDir(), "checkpoints.json")
	h, cp := harnessAt(t, fsys, path)
	kubeletFile(fsys)
	fsys.append(pod, "line one, long enough that the head alone names the file: 0123456789\n2\n")
	ls := h.poll()
	if len(ls) != 2 {
		t.Fatalf("read %d lines, want 2", len(ls))
	}
	if cp.Persisted(ls[0].File) {
		t.Fatal("a new file's identity reported saved before any Flush")
	}
	if err := cp.Flush(); err != nil {
		t.Fatal(err)
	}
	if !cp.Persisted(ls[0].File) {
		t.Fatal("identity not reported saved after Flush")
	}
	if off, ok := cp.Lookup(ls[0].File); ok {
		t.Fatalf("a registration is not an acknowledgement, but Lookup = %d", off)
	}

	// Crash; while down the file rotates and is compressed.
	fsys.rename(pod, pod+".1")
	fsys.create(pod)
	fsys.gzip(pod+".1", pod+".1.gz")
	h2, _ := harnessAt(t, fsys, path)
	got := h2.poll()
	if lines(got) != lines(ls) {
		t.Fatalf("after restart got %q, want %q again from the .gz", lines(got), lines(ls))
	}
	for _, l := range got {
		if l.Source != ls[0].Source {
			t.Fatalf("line %q re-read under source %x, want %x", l.Data, l.Source, ls[0].Source)
		}
	}
}

// The .gz of a file whose lines are all in flight takes over the file's
// acknowledged offset, never the read position: a crash then re-reads
// every line not acknowledged.
func TestGzipOfUnacknowledgedFileAfterCrash(t *testing.T) {
	fsys := newMemFS()
	path := filepath.Join(t.TempDir(), "checkpoints.json")
	h, cp := harnessAt(t, fsys, path)
	kubeletFile(fsys)
	fsys.append(pod, "line one, long enough that the head alone names the file: 0123456789\n2\n3\n")
	ls := h.poll()
	cp.Ack(ls[0].File, ls[0].Offset)
	fsys.rename(pod, pod+".1")
	fsys.create(pod)
	h.expect("")
	h.expect("")
	fsys.gzip(pod+".1", pod+".1.gz")
	h.expect("")
	h.expect("")
	promoted := false
	for _, tr := range h.tl.files {
		promoted = promoted || tr.gz
	}
	if !promoted {
		t.Fatal("the .gz was not taken for the rotated file's content")
	}
	if err := cp.Flush(); err != nil {
		t.Fatal(err)
	}
	h2, _ := harnessAt(t, fsys, path)
	got := h2.poll()
	if lines(got) != "2\n3\n" {
		t.Fatalf("after the crash got %q, want the unacknowledged lines again", lines(got))
	}
	for _, l := range got {
		if l.Source != ls[0].Source {
			t.Fatalf("line %q re-read under source %x, want %x", l.Data, l.Source, ls[0].Source)
		}
	}
}

// A .gz read under its origin's source is removed and the filesystem hands
// its inode to the next new file (ext4 does), which is still empty when the
// scan finds it. The new file's lines go out under its own source, so its
// checkpoint entry must not keep the .gz's: after a crash, the lines not
// yet acknowledged are re-read and must carry the source they were sent
// with, or the server cannot drop them as repeats (the zero-loss e2e
// test's "repeated lines").
func TestReusedInodeDoesNotInheritSource(t *testing.T) {
	fsys := newMemFS()
	path := filepath.Join(t.TempDir(), "checkpoints.json")
	h, cp := harnessAt(t, fsys, path)
	kubeletFile(fsys)
	fsys.append(pod, "container one, first line, long enough to name the file: 0123456789\n2\n")
	first := h.poll()
	cp.Ack(first[1].File, first[1].Offset)
	fsys.rename(pod, pod+".1")
	fsys.create(pod)
	h.expect("")
	h.expect("")
	const gzIno = 900
	fsys.gzipIno(pod+".1", pod+".1.gz", gzIno)
	h.expect("")
	h.expect("")
	fsys.remove(pod + ".1.gz") // the oldest rotation goes
	h.expect("")

	// Another container's new log gets the freed inode, empty at first.
	const link2, pod2 = "/var/log/containers/q_ns_d-def.log", "/var/log/pods/ns_q_uid2/d/0.log"
	fsys.createIno(pod2, gzIno)
	fsys.symlink(pod2, link2)
	h.expect("")
	fsys.append(pod2, "container two, first line, long enough to name the file: 0123456789\nb\nc\n")
	ls := h.poll()
	if lines(ls) != "container two, first line, long enough to name the file: 0123456789\nb\nc\n" {
		t.Fatalf("read %q", lines(ls))
	}
	cp.Ack(ls[0].File, ls[0].Offset) // b and c are in flight
	if err := cp.Flush(); err != nil {
		t.Fatal(err)
	}

	h2, _ := harnessAt(t, fsys, path)
	got := h2.poll()
	var again []Line
	for _, l := range got {
		if l.Path == link2 {
			again = append(again, l)
		}
	}
	if lines(again) != "b\nc\n" {
		t.Fatalf("after the crash got %q, want the unacknowledged lines again\nlogs:\n%s", lines(again), h2.logs)
	}
	for _, l := range again {
		if l.Source != ls[1].Source {
			t.Fatalf("line %q re-read under source %x, but it was sent under %x (the removed .gz's origin is %x)", l.Data, l.Source, ls[1].Source, first[0].Source)
		}
	}
}

// kubelet renames 0.log and creates the new one a moment later: a scan in
// between finds the link dangling, so the renamed file, drained and quiet,
// is let go (a ghost at its read position). The next scan finds it again as
// a rotated sibling. It must resume where this process stopped reading, not
// at the older acknowledged offset: the lines in between were already sent,
// and sent again in the same batch they go without positions (their ends
// do not grow), so the server cannot drop them (the zero-loss e2e test's
// "repeated lines" at the end of a slow container's first file).
func TestRenamedFileRefoundAfterDanglingLink(t *testing.T) {
	h := newHarness(t, nil, nil, Config{})
	kubeletFile(h.fs)
	h.fs.append(pod, "container one, first line, long enough to name the file: 0123456789\nb\nc\n")
	ls := h.poll()
	if len(ls) != 3 {
		t.Fatalf("read %d lines, want 3", len(ls))
	}
	h.cp.Ack(ls[0].File, ls[0].Offset) // b and c are in flight
	h.expect("")
	h.fs.rename(pod, pod+".20261122-103800")
	h.expect("") // the link dangles: the renamed file is let go
	h.fs.create(pod)
	h.fs.append(pod, "container one, second file, long enough to name the file: 0123\n")
	h.expect("container one, second file, long enough to name the file: 0123\n")
	h.expect("")
}

// The .gz of a file with lines in flight lands on an inode another file
// just left (ext4 reuses it at once), and an acknowledgement of that other
// file's lines arrives late. The ack must not replace the .gz's entry: the
// tailer's note says which content the inode holds now. Otherwise a crash
// loses the .gz's identity and source, and the restart reads the whole
// .gz again under its own source (the zero-loss e2e test: a whole rotated
// file of a hot container repeated).
func TestLateAckOfReusedInodeKeepsGzipEntry(t *testing.T) {
	fsys := newMemFS()
	path := filepath.Join(t.TempDir(), "checkpoints.json")
	h, cp := harnessAt(t, fsys, path)
	kubeletFile(fsys)
	fsys.append(pod, "container one, first line, long enough to name the file: 0123456789\n2\n3\n")
	const link2, pod2 = "/var/log/containers/q_ns_d-def.log", "/var/log/pods/ns_q_uid2/d/0.log"
	const reused = 900
	fsys.createIno(pod2, reused)
	fsys.symlink(pod2, link2)
	fsys.append(pod2, "container two, first line, long enough to name the file: 0123456789\nb\n")
	var one, two []Line
	for _, l := range h.poll() {
		if l.Path == link2 {
			two = append(two, l)
		} else {
			one = append(one, l)
		}
	}
	if len(one) != 3 || len(two) != 2 {
		t.Fatalf("read %d and %d lines, want 3 and 2", len(one), len(two))
	}
	cp.Ack(one[0].File, one[0].Offset) // 2 and 3 are in flight
	cp.Ack(two[0].File, two[0].Offset) // b is in flight

	// Container two goes; container one rotates and its rotated file is
	// compressed onto the inode container two's file left.
	fsys.remove(link2)
	fsys.remove(pod2)
	h.expect("")
	fsys.rename(pod, pod+".1")
	fsys.create(pod)
	h.expect("")
	h.expect("")
	fsys.gzipIno(pod+".1", pod+".1.gz", reused)
	h.expect("")
	h.expect("")
	// The next rotation: the new live file gets the inode the first one
	// left when it was compressed.
	fsys.rename(pod, pod+".2")
	fsys.createIno(pod, one[0].File.Ino)
	fsys.append(pod, "container one, third file, long enough to name the file: 0123456789\n")
	if got := h.pollText(); got != "container one, third file, long enough to name the file: 0123456789\n" {
		t.Fatalf("read %q", got)
	}
	cp.Ack(two[1].File, two[1].Offset) // the late ack of b
	if err := cp.Flush(); err != nil {
		t.Fatal(err)
	}

	h2, _ := harnessAt(t, fsys, path)
	var got []Line
	for _, l := range h2.poll() {
		if l.File.Ino == reused {
			got = append(got, l)
		}
	}
	if lines(got) != "2\n3\n" {
		t.Fatalf("after the crash got %q from the .gz, want the unacknowledged lines again\nlogs:\n%s", lines(got), h2.logs)
	}
	for _, l := range got {
		if l.Source != one[0].Source {
			t.Fatalf("line %q re-read under source %x, but it was sent under %x", l.Data, l.Source, one[0].Source)
		}
	}
}

// kubelet compresses the older rotated file (its inode is freed) and
// renames the live one; the new live file, created a moment later, gets the
// freed inode and is still empty when the scan finds it. An empty head
// matches any: it must neither take the old content's acknowledged entry
// for its own nor drop the old content's ghost, which the .gz has to match,
// or the .gz is read from 0 under its own source (the zero-loss e2e test: a
// whole rotated file repeated).
func TestEmptyFileOnFreedInodeKeepsGhost(t *testing.T) {
	h := newHarness(t, nil, nil, Config{})
	kubeletFile(h.fs)
	h.fs.append(pod, "container one, first line, long enough to name the file: 0123456789\nb\nc\n")
	ls := h.poll()
	if len(ls) != 3 {
		t.Fatalf("read %d lines, want 3", len(ls))
	}
	h.cp.Ack(ls[0].File, ls[0].Offset) // b and c are in flight
	freed := ls[0].File.Ino
	h.fs.rename(pod, pod+".1")
	h.fs.create(pod)
	h.fs.append(pod, "container one, second file, long enough to name the file: 0123\n")
	h.expect("container one, second file, long enough to name the file: 0123\n")
	h.expect("")
	h.fs.gzip(pod+".1", pod+".1.gz")
	h.fs.rename(pod, pod+".2")
	h.expect("") // the link dangles for a moment
	h.fs.createIno(pod, freed)
	h.expect("")
	h.fs.append(pod, "container one, third file, long enough to name the file: 0123456\n")
	h.expect("container one, third file, long enough to name the file: 0123456\n")
}

// As TestEmptyFileOnFreedInodeKeepsGhost, but the scan sees the rotated
// file (closed, drained) and then, on its inode, the new empty live file:
// that is inode reuse, not a truncation, and the new file is registered so
// its identity is saved before its first batch (Persisted).
func TestEmptyFileOnTrackedClosedInode(t *testing.T) {
	path := filepath.Join(t.TempDir(), "checkpoints.json")
	h, cp := harnessAt(t, nil, path)
	kubeletFile(h.fs)
	h.fs.append(pod, "container one, first line, long enough to name the file: 0123456789\nb\nc\n")
	ls := h.poll()
	h.cp.Ack(ls[0].File, ls[0].Offset)
	freed := ls[0].File.Ino
	h.fs.rename(pod, pod+".1")
	h.fs.create(pod)
	h.fs.append(pod, "container one, second file, long enough to name the file: 0123\n")
	h.expect("container one, second file, long enough to name the file: 0123\n")
	h.expect("")
	h.fs.gzip(pod+".1", pod+".1.gz")
	h.fs.rename(pod, pod+".2")
	h.fs.createIno(pod, freed)
	h.expect("")
	if n := h.counter(h.tl.m.truncations); n != 0 {
		t.Errorf("inode reuse counted as %v truncations", n)
	}
	h.fs.append(pod, "container one, third file, long enough to name the file: 0123456\n")
	ls = h.poll()
	if lines(ls) != "container one, third file, long enough to name the file: 0123456\n" {
		t.Fatalf("read %q", lines(ls))
	}
	if cp.Persisted(ls[0].File) {
		t.Fatal("the new file's identity reported saved before any Flush")
	}
}

// harnessAt starts a tailer (a new run of the agent) on checkpoints kept
// in the file at path, as after a restart.
func harnessAt(t *testing.T, fsys *memFS, path string) (*harness, *Checkpoints) {
	t.Helper()
	cp, err := OpenCheckpoints(path)
	if err != nil {
		t.Fatal(err)
	}
	return newHarness(t, fsys, cp, Config{}), cp
}
