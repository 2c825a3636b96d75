package journal

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

const journalRemote = "/lib/systemd/systemd-journal-remote"

// jentry is one entry to write: fields in order (repeats allowed).
type jentry [][2]string

// journalWriter appends entries to a real journal file through
// systemd-journal-remote, with increasing timestamps.
type journalWriter struct {
	t    *testing.T
	path string
	seq  int
}

func newJournal(t *testing.T) *journalWriter {
	t.Helper()
	if _, err := os.Stat(journalRemote); err != nil {
		t.Fatalf("%s missing: apt-get install systemd-journal-remote", journalRemote)
	}
	if _, err := exec.LookPath("journalctl"); err != nil {
		t.Fatalf("journalctl missing: %v", err)
	}
	dir := t.TempDir()
	return &journalWriter{t: t, path: filepath.Join(dir, "remote.journal")}
}

func (w *journalWriter) dir() string { return filepath.Dir(w.path) }

// write appends entries in journal export format; a value that is not
// plain text is written in the binary form (KEY\n<le64 size><bytes>\n).
func (w *journalWriter) write(entries ...jentry) {
	w.t.Helper()
	var buf bytes.Buffer
	for _, e := range entries {
		w.seq++
		fmt.Fprintf(&buf, "__REALTIME_TIMESTAMP=%d\n", int64(1700000000000000)+int64(w.seq)*1000)
		fmt.Fprintf(&buf, "__MONOTONIC_TIMESTAMP=%d\n", w.seq*1000)
		buf.WriteString("_BOOT_ID=0123456789abcdef0123456789abcdef\n")
		for _, kv := range e {
			if strings.ContainsAny(kv[1], "\n\x00") || !isText(kv[1]) {
				buf.WriteString(kv[0] + "\n")
				binary.Write(&buf, binary.LittleEndian, uint64(len(kv[1])))
				buf.WriteString(kv[1] + "\n")
			} else {
				buf.WriteString(kv[0] + "=" + kv[1] + "\n")
			}
		}
		buf.WriteString("\n")
	}
	cmd := exec.Command(journalRemote, "-o", w.path, "-")
	cmd.Stdin = &buf
	if out, err := cmd.CombinedOutput(); err != nil {
		w.t.Fatalf("systemd-journal-remote: %v: %s", err, out)
	}
}

func isText(s string) bool {
	for _, c := range []byte(s) {
		if c < 0x20 || c >= 0x7f {
			return false
		}
	}
	return true
}

func unitEntry(unit, msg string) jentry {
	return jentry{{"_SYSTEMD_UNIT", unit}, {"MESSAGE", msg}, {"PRIORITY", "6"}, {"_HOSTNAME", "node-1"}, {"_PID", "42"}}
}

// run starts r.Run and returns its channel and a stop func that waits for it.
func run(t *testing.T, r *Reader) (<-chan Entry, func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ch := make(chan Entry)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := r.Run(ctx, ch); err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	stop := func() { cancel(); wg.Wait() }
	t.Cleanup(stop)
	return ch, stop
}

func recv(t *testing.T, ch <-chan Entry, n int) []Entry {
	t.Helper()
	var got []Entry
	deadline := time.After(15 * time.Second)
	for len(got) < n {
		select {
		case e := <-ch:
			got = append(got, e)
		case <-deadline:
			t.Fatalf("got %d entries, want %d: %v", len(got), n, msgs(got))
		}
	}
	return got
}

func msgs(es []Entry) []string {
	var s []string
	for _, e := range es {
		s = append(s, string(e.Message))
	}
	return s
}

func newReader(t *testing.T, cfg Config) (*Reader, *prometheus.Registry) {
	t.Helper()
	cfg.minBackoff, cfg.maxBackoff = 20*time.Millisecond, 200*time.Millisecond
	reg := prometheus.NewRegistry()
	r, err := New(cfg, nil, reg)
	if err != nil {
		t.Fatal(err)
	}
	return r, reg
}

func TestUnitsBinaryMultiline(t *testing.T) {
	binMsg := "bin\x00\xff\xfe tail"
	write := func(j *journalWriter) {
		j.write(
			unitEntry("kubelet.service", "kubelet started"),
			unitEntry("sshd.service", "not wanted"),
			unitEntry("containerd.service", binMsg),
			unitEntry("kubelet.service", "line one\nline two\n\tat frame"),
			jentry{{"SYSLOG_IDENTIFIER", "kernel"}, {"MESSAGE", "no unit"}},
			jentry{{"_SYSTEMD_UNIT", "kubelet.service"}, {"MESSAGE", "first"}, {"MESSAGE", "second"}},
		)
	}
	tests := []struct {
		name      string
		units     []string
		want      []string
		wantUnits []string
	}{
		{"filtered", []string{"kubelet.service", "containerd.service"},
			[]string{"kubelet started", binMsg, "line one\nline two\n\tat frame", "first"}, []string{"kubelet.service", "containerd.service", "kubelet.service", "kubelet.service"}},
		{"all", nil,
			[]string{"kubelet started", "not wanted", binMsg, "line one\nline two\n\tat frame", "no unit", "first"},
			[]string{"kubelet.service", "sshd.service", "containerd.service", "kubelet.service", "kernel", "kubelet.service"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			j := newJournal(t)
			write(j)
			r, reg := newReader(t, Config{Units: tt.units, Directory: j.dir()})
			ch, stop := run(t, r)
			got := recv(t, ch, len(tt.want))
			// A sentinel written after shows nothing else was pending.
			j2 := jentry{{"_SYSTEMD_UNIT", "kubelet.service"}, {"MESSAGE", "sentinel-" + tt.name}}
			j.write(j2)
			if s := recv(t, ch, 1); string(s[0].Message) != "sentinel-"+tt.name {
				t.Fatalf("after the expected entries got %q, want the sentinel", s[0].Message)
			}
			stop()
			for i, e := range got {
				if string(e.Message) != tt.want[i] {
					t.Errorf("entry %d message %q, want %q", i, e.Message, tt.want[i])
				}
				if e.Unit != tt.wantUnits[i] {
					t.Errorf("entry %d unit %q, want %q", i, e.Unit, tt.wantUnits[i])
				}
				if e.Cursor == "" || e.Time.IsZero() {
					t.Errorf("entry %d has no cursor or time: %+v", i, e)
				}
			}
			if got[0].Priority != 6 || got[0].Host != "node-1" || got[0].PID != "42" {
				t.Errorf("first entry fields: %+v", got[0])
			}
			if want := time.UnixMicro(1700000000000000 + 1000); !got[0].Time.Equal(want) {
				t.Errorf("time %v, want %v", got[0].Time, want)
			}
			if n := testutil.ToFloat64(r.m.entries); n != float64(len(tt.want)+1) {
				t.Errorf("entries metric %v", n)
			}
			_ = reg
		})
	}
}

// TestFollowAckResume: entries appended while Run runs arrive; a new Reader
// started from the flushed cursor neither loses nor repeats entries.
func TestFollowAckResume(t *testing.T) {
	j := newJournal(t)
	cursorFile := filepath.Join(t.TempDir(), "journal.cursor")
	j.write(unitEntry("kubelet.service", "m1"), unitEntry("kubelet.service", "m2"))
	r, _ := newReader(t, Config{Directory: j.dir(), CursorFile: cursorFile})
	ch, stop := run(t, r)
	got := recv(t, ch, 2)
	j.write(unitEntry("kubelet.service", "m3"), unitEntry("kubelet.service", "m4"))
	got = append(got, recv(t, ch, 2)...)
	if g := strings.Join(msgs(got), ","); g != "m1,m2,m3,m4" {
		t.Fatalf("got %s", g)
	}
	// Delivered up to m3 only; m4 was in flight when the agent stopped.
	r.Ack(got[0].Cursor)
	r.Ack(got[2].Cursor)
	if err := r.Flush(); err != nil {
		t.Fatal(err)
	}
	stop()
	b, err := os.ReadFile(cursorFile)
	if err != nil || strings.TrimSpace(string(b)) != got[2].Cursor {
		t.Fatalf("cursor file %q (%v), want %q", b, err, got[2].Cursor)
	}
	j.write(unitEntry("kubelet.service", "m5"))

	r2, _ := newReader(t, Config{Directory: j.dir(), CursorFile: cursorFile})
	ch2, _ := run(t, r2)
	got2 := recv(t, ch2, 2)
	j.write(unitEntry("kubelet.service", "m6"))
	got2 = append(got2, recv(t, ch2, 1)...)
	if g := strings.Join(msgs(got2), ","); g != "m4,m5,m6" {
		t.Fatalf("after restart got %s, want m4,m5,m6", g)
	}
}

// TestKilledJournalctlRestarts kills journalctl with SIGKILL and checks that
// the restarted one resumes exactly after the last emitted entry.
func TestKilledJournalctlRestarts(t *testing.T) {
	j := newJournal(t)
	pidFile := filepath.Join(t.TempDir(), "pids")
	wrapper := filepath.Join(t.TempDir(), "journalctl-wrapper")
	script := "#!/bin/sh\necho $$ >> " + pidFile + "\nexec journalctl \"$@\"\n"
	if err := os.WriteFile(wrapper, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	j.write(unitEntry("kubelet.service", "k1"), unitEntry("kubelet.service", "k2"))
	r, _ := newReader(t, Config{Directory: j.dir(), Journalctl: wrapper})
	ch, _ := run(t, r)
	got := recv(t, ch, 2)
	for round := 0; round < 2; round++ {
		pids := readPIDs(t, pidFile)
		if err := syscall.Kill(pids[len(pids)-1], syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		msg := fmt.Sprintf("after-kill-%d", round)
		j.write(unitEntry("kubelet.service", msg))
		got = append(got, recv(t, ch, 1)...)
		for deadline := time.Now().Add(10 * time.Second); len(readPIDs(t, pidFile)) < round+2; {
			if time.Now().After(deadline) {
				t.Fatal("journalctl was not restarted")
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	if g := strings.Join(msgs(got), ","); g != "k1,k2,after-kill-0,after-kill-1" {
		t.Fatalf("got %s", g)
	}
	if n := testutil.ToFloat64(r.m.restarts); n < 2 {
		t.Errorf("restarts metric %v, want >= 2", n)
	}
	if n := testutil.ToFloat64(r.m.errors.WithLabelValues("exit")); n < 2 {
		t.Errorf("exit errors %v, want >= 2", n)
	}
}

func readPIDs(t *testing.T, path string) []int {
	t.Helper()
	b, _ := os.ReadFile(path)
	var pids []int
	for _, f := range strings.Fields(string(b)) {
		p, err := strconv.Atoi(f)
		if err != nil {
			t.Fatal(err)
		}
		pids = append(pids, p)
	}
	return pids
}

func TestBadCursors(t *testing.T) {
	j := newJournal(t)
	j.write(unitEntry("kubelet.service", "c1"), unitEntry("kubelet.service", "c2"), unitEntry("kubelet.service", "c3"))
	// Learn c2's real cursor, then damage its boot id so journalctl rejects it.
	r0, _ := newReader(t, Config{Directory: j.dir()})
	ch0, stop0 := run(t, r0)
	all := recv(t, ch0, 3)
	stop0()
	broken := strings.Replace(all[1].Cursor, "b=0123456789abcdef0123456789abcdef", "b=zz", 1)
	if broken == all[1].Cursor {
		t.Fatalf("cursor %q has no boot id to damage", all[1].Cursor)
	}
	tests := []struct {
		name, file string
		want       string // messages, in order
		reason     string
	}{
		{"garbage file", "not a cursor\x00\n", "c1,c2,c3", "cursor_file"},
		{"rejected by journalctl", broken + "\n", "c2,c3", "bad_cursor"}, // resumes at c2's time: repeats c2, skips nothing
		{"good", all[0].Cursor + "\n", "c2,c3", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cf := filepath.Join(t.TempDir(), "cursor")
			if err := os.WriteFile(cf, []byte(tt.file), 0o600); err != nil {
				t.Fatal(err)
			}
			r, _ := newReader(t, Config{Directory: j.dir(), CursorFile: cf})
			ch, stop := run(t, r)
			want := strings.Split(tt.want, ",")
			got := recv(t, ch, len(want))
			stop()
			if g := strings.Join(msgs(got), ","); g != tt.want {
				t.Errorf("got %s, want %s", g, tt.want)
			}
			if tt.reason != "" {
				if n := testutil.ToFloat64(r.m.errors.WithLabelValues(tt.reason)); n < 1 {
					t.Errorf("errors{reason=%s} = %v", tt.reason, n)
				}
			}
		})
	}
}

func TestTruncateAndSingleFile(t *testing.T) {
	j := newJournal(t)
	long := strings.Repeat("x", 5000) // over journalctl's 4 KiB null-ing without --all
	j.write(unitEntry("kubelet.service", long), unitEntry("kubelet.service", "short"))
	// Directory naming a single journal file reads it with --file.
	r, _ := newReader(t, Config{Directory: j.path, MaxMessageBytes: 4500})
	ch, stop := run(t, r)
	got := recv(t, ch, 2)
	stop()
	if len(got[0].Message) != 4500 || string(got[1].Message) != "short" {
		t.Fatalf("messages of length %d, %q", len(got[0].Message), got[1].Message)
	}
	if n := testutil.ToFloat64(r.m.errors.WithLabelValues("truncated")); n != 1 {
		t.Errorf("truncated = %v, want 1", n)
	}
}

func TestAckFlush(t *testing.T) {
	dir := t.TempDir()
	cf := filepath.Join(dir, "cursor")
	r, _ := newReader(t, Config{CursorFile: cf})
	if err := r.Flush(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(cf); !os.IsNotExist(err) {
		t.Fatalf("Flush without acks wrote a file: %v", err)
	}
	r.Ack("s=a;i=1")
	r.Ack("")
	r.Ack("s=a;i=2")
	if err := r.Flush(); err != nil {
		t.Fatal(err)
	}
	if c, err := loadCursor(cf); err != nil || c != "s=a;i=2" {
		t.Fatalf("saved %q, %v", c, err)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Errorf("temporary files left: %v", ents)
	}
	if _, err := New(Config{MaxMessageBytes: -1}, nil, nil); err == nil {
		t.Error("negative MaxMessageBytes accepted")
	}
}

// TestLineTooLong: an entry too long to decode is skipped and counted, and
// the input carries on with the next one.
func TestLineTooLong(t *testing.T) {
	j := newJournal(t)
	j.write(unitEntry("kubelet.service", strings.Repeat("y", 1<<20+64)), unitEntry("kubelet.service", "after"))
	r, _ := newReader(t, Config{Directory: j.dir(), MaxMessageBytes: 1}) // line limit 1 MiB + 5
	ch, stop := run(t, r)
	got := recv(t, ch, 1)
	stop()
	if string(got[0].Message) != "a" {
		t.Fatalf("got %q, want the entry after the long one, truncated to 1 byte", got[0].Message)
	}
	if n := testutil.ToFloat64(r.m.errors.WithLabelValues("line_too_long")); n != 1 {
		t.Errorf("line_too_long = %v, want 1", n)
	}
}
