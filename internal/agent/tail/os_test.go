package tail

import (
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

func gzipFileOS(t *testing.T, from string) {
	in, err := os.Open(from)
	if err != nil {
		t.Error(err)
		return
	}
	defer in.Close()
	tmp := from + ".gz.tmp"
	out, err := os.Create(tmp)
	if err != nil {
		t.Error(err)
		return
	}
	zw := gzip.NewWriter(out)
	if _, err := io.Copy(zw, in); err != nil {
		t.Error(err)
	}
	zw.Close()
	out.Close()
	if err := os.Rename(tmp, from+".gz"); err != nil {
		t.Error(err)
	}
	if err := os.Remove(from); err != nil {
		t.Error(err)
	}
}

func startOS(t *testing.T, ctx context.Context, include string, cp *Checkpoints, startAt string) (chan Line, chan error) {
	t.Helper()
	tl, err := New(Config{Include: []string{include}, PollInterval: 2 * time.Millisecond, StartAt: startAt},
		OSFS{}, cp, slog.New(slog.NewTextHandler(t.Output(), nil)), prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	out := make(chan Line, 256)
	errc := make(chan error, 1)
	go func() { errc <- tl.Run(ctx, out) }()
	return out, errc
}

// A kubelet-style writer rotates (rename, reopen, gzip the previous
// rotation through a .tmp) while the tailer polls: every line arrives once.
func TestOSRotationGzipWhileWriting(t *testing.T) {
	dir := t.TempDir()
	podDir := filepath.Join(dir, "pods", "ns_p_uid", "c")
	ctrDir := filepath.Join(dir, "containers")
	for _, d := range []string{podDir, ctrDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	live := filepath.Join(podDir, "0.log")
	if err := os.Symlink(live, filepath.Join(ctrDir, "p_ns_c.log")); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(live)
	if err != nil {
		t.Fatal(err)
	}
	cp, _ := OpenCheckpoints("")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out, errc := startOS(t, ctx, filepath.Join(ctrDir, "*.log"), cp, StartBeginning)

	const n, perFile = 20000, 1500
	go func() {
		rot := 0
		for i := range n {
			fmt.Fprintf(f, "line %06d %s\n", i, strings.Repeat("x", 40))
			if i%100 == 99 {
				time.Sleep(time.Millisecond)
			}
			if i%perFile == perFile-1 {
				rot++
				rotated := fmt.Sprintf("%s.%04d", live, rot)
				if err := os.Rename(live, rotated); err != nil {
					t.Error(err)
					return
				}
				f.Close()
				if f, err = os.Create(live); err != nil {
					t.Error(err)
					return
				}
				if rot > 1 {
					gzipFileOS(t, fmt.Sprintf("%s.%04d", live, rot-1))
				}
			}
		}
		f.Close()
	}()

	seen := make([]int, n)
	got := 0
	timeout := time.After(30 * time.Second)
	for got < n {
		select {
		case l := <-out:
			var i int
			if _, err := fmt.Sscanf(string(l.Data), "line %d", &i); err != nil || i < 0 || i >= n {
				t.Fatalf("bad line %q", l.Data)
			}
			if seen[i]++; seen[i] > 1 {
				t.Fatalf("line %d delivered twice", i)
			}
			got++
		case <-timeout:
			missing := 0
			for _, c := range seen {
				if c == 0 {
					missing++
				}
			}
			t.Fatalf("timed out: %d lines of %d, %d missing", got, n, missing)
		}
	}
	// Nothing more (no duplicates from .gz copies) within a few polls.
	select {
	case l := <-out:
		t.Fatalf("extra line %q", l.Data)
	case <-time.After(100 * time.Millisecond):
	}
	cancel()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
}

// Lines acknowledged before a stop are not read again; unacknowledged ones
// are, and nothing is skipped — even with start_at: end.
func TestOSRestartFromCheckpoint(t *testing.T) {
	dir := t.TempDir()
	logf := filepath.Join(dir, "app.log")
	cpPath := filepath.Join(dir, "state", "offsets.json")
	if err := os.MkdirAll(filepath.Dir(cpPath), 0o755); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for i := 1; i <= 100; i++ {
		fmt.Fprintf(&b, "%d\n", i)
	}
	if err := os.WriteFile(logf, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	cp, err := OpenCheckpoints(cpPath)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	out, errc := startOS(t, ctx, filepath.Join(dir, "*.log"), cp, StartBeginning)
	for i := 1; i <= 50; i++ {
		l := <-out
		if string(l.Data) != strconv.Itoa(i) {
			t.Fatalf("line %d = %q", i, l.Data)
		}
		if i == 50 {
			cp.Ack(l.File, l.Offset)
		}
	}
	cancel()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	if err := cp.Flush(); err != nil {
		t.Fatal(err)
	}

	fa, err := os.OpenFile(logf, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	for i := 101; i <= 110; i++ {
		fmt.Fprintf(fa, "%d\n", i)
	}
	fa.Close()

	cp2, err := OpenCheckpoints(cpPath)
	if err != nil {
		t.Fatal(err)
	}
	ctx2, cancel2 := context.WithCancel(context.Background())
	defer cancel2()
	out2, errc2 := startOS(t, ctx2, filepath.Join(dir, "*.log"), cp2, StartEnd)
	for i := 51; i <= 110; i++ {
		select {
		case l := <-out2:
			if string(l.Data) != strconv.Itoa(i) {
				t.Fatalf("after restart got %q, want %d", l.Data, i)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("after restart: line %d never came", i)
		}
	}
	cancel2()
	if err := <-errc2; err != nil {
		t.Fatal(err)
	}
}

// logrotate copytruncate on the real filesystem: copy, truncate, keep
// writing. Every line arrives once, whether the tail was read before the
// truncation or is recovered from the copy.
func TestOSCopyTruncate(t *testing.T) {
	dir := t.TempDir()
	logf := filepath.Join(dir, "syslog")
	f, err := os.OpenFile(logf, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	write := func(from, to int) {
		for i := from; i < to; i++ {
			fmt.Fprintf(f, "line %06d of a host log long enough for a fingerprint\n", i)
		}
	}
	cp, _ := OpenCheckpoints("")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out, errc := startOS(t, ctx, logf, cp, StartBeginning)
	const total = 300
	seen := make([]int, total)
	recv := func(n int) {
		for range n {
			select {
			case l := <-out:
				var i int
				if _, err := fmt.Sscanf(string(l.Data), "line %d", &i); err != nil || i < 0 || i >= total {
					t.Fatalf("bad line %q", l.Data)
				}
				if seen[i]++; seen[i] > 1 {
					t.Fatalf("line %d twice", i)
				}
			case <-time.After(10 * time.Second):
				missing := []int{}
				for i, c := range seen {
					if c == 0 {
						missing = append(missing, i)
					}
				}
				t.Fatalf("timed out; missing %v", missing)
			}
		}
	}
	write(0, 100)
	recv(100)
	write(100, 200)
	b, err := os.ReadFile(logf)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(logf+".1", b, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(0); err != nil {
		t.Fatal(err)
	}
	write(200, total)
	recv(200)
	select {
	case l := <-out:
		t.Fatalf("extra line %q", l.Data)
	case <-time.After(50 * time.Millisecond):
	}
	cancel()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
}

// The per-file lag gauge has a series per followed path, zero once read,
// removed when the file is gone.
func TestOSFileLagGauge(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	if err := os.WriteFile(path, []byte("a\nb\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cp, _ := OpenCheckpoints("")
	reg := prometheus.NewRegistry()
	tl, err := New(Config{Include: []string{filepath.Join(dir, "*.log")}, PollInterval: 2 * time.Millisecond},
		OSFS{}, cp, slog.New(slog.NewTextHandler(t.Output(), nil)), reg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := make(chan Line, 16)
	go func() { _ = tl.Run(ctx, out) }()
	for range 2 {
		<-out
	}
	lagOf := func() (float64, bool) {
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, mf := range mfs {
			if mf.GetName() != "kinsight_agent_tail_file_lag_bytes" {
				continue
			}
			for _, m := range mf.GetMetric() {
				if m.GetLabel()[0].GetValue() == path {
					return m.GetGauge().GetValue(), true
				}
			}
		}
		return 0, false
	}
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for !ok() {
			if time.Now().After(deadline) {
				t.Fatal(what)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	waitFor("no zero lag series for a drained file", func() bool { v, ok := lagOf(); return ok && v == 0 })
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	waitFor("lag series kept for a deleted file", func() bool { _, ok := lagOf(); return !ok })
}
