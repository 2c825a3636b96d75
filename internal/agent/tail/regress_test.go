package tail

import (
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// Regression tests for bugs found by the agent's end-to-end test
// (test/e2e/agent_zeroloss_test.go).

// The include-matched path is kept with each checkpoint entry: noted by the
// tailer, recorded by an Ack that carries only the FileID, written and read
// back; files written before the field existed still load.
func TestCheckpointPathPersisted(t *testing.T) {
	path := filepath.Join(t.TempDir(), "offsets.json")
	cp, err := OpenCheckpoints(path)
	if err != nil {
		t.Fatal(err)
	}
	a := FileID{Dev: 1, Ino: 2, Head: "abc"}
	b := FileID{Dev: 1, Ino: 3, Head: "xyz"}
	cp.notePath(FileID{Dev: 1, Ino: 2, Head: "ab"}, link, cp.now()) // noted while the head was shorter
	cp.Ack(a, 10)
	cp.Ack(b, 5) // never noted: no path, no error
	if err := cp.Flush(); err != nil {
		t.Fatal(err)
	}
	re, err := OpenCheckpoints(path)
	if err != nil {
		t.Fatal(err)
	}
	got := map[uint64]ckpt{}
	for _, e := range re.all() {
		got[e.id.Ino] = e
	}
	if got[2].path != link || got[2].off != 10 || got[3].path != "" || got[3].off != 5 {
		t.Fatalf("reloaded entries = %+v", got)
	}
	raw, _ := os.ReadFile(path)
	if strings.Count(string(raw), `"path"`) != 1 {
		t.Fatalf("path not omitted when empty: %s", raw)
	}
	// An old file (no path) loads; a later note fills the path in.
	old := `{"version":1,"files":[{"dev":1,"ino":7,"head":"YWJj","offset":3,"seen_unix":1700000000}]}`
	if err := os.WriteFile(path, []byte(old), 0o600); err != nil {
		t.Fatal(err)
	}
	re, err = OpenCheckpoints(path)
	if err != nil {
		t.Fatal(err)
	}
	if all := re.all(); len(all) != 1 || all[0].path != "" || all[0].off != 3 {
		t.Fatalf("old file loaded as %+v", all)
	}
	re.notePath(FileID{Dev: 1, Ino: 7, Head: "abc"}, pod, re.now())
	if all := re.all(); all[0].path != pod {
		t.Fatalf("note did not reach the entry: %+v", all)
	}
}

// A rotated file compressed while the agent was stopped is resumed from its
// .gz under the name it was read under, not "" (which the pipeline would
// route as a host log).
func TestRestartGzipKeepsPath(t *testing.T) {
	for _, oldFormat := range []bool{false, true} {
		t.Run(map[bool]string{false: "path saved", true: "old checkpoint file"}[oldFormat], func(t *testing.T) {
			cpPath := filepath.Join(t.TempDir(), "offsets.json")
			fsys := newMemFS()
			cp, _ := OpenCheckpoints(cpPath)
			h := newHarness(t, fsys, cp, Config{})
			kubeletFile(fsys)
			fsys.append(pod, "1\n2\n3\n")
			ls := h.poll()
			cp.Ack(ls[0].File, ls[0].Offset)
			if err := cp.Flush(); err != nil {
				t.Fatal(err)
			}
			if oldFormat {
				raw, _ := os.ReadFile(cpPath)
				stripped := strings.Replace(string(raw), `,"path":"`+link+`"`, "", 1)
				if stripped == string(raw) {
					t.Fatalf("no path in %s", raw)
				}
				os.WriteFile(cpPath, []byte(stripped), 0o600)
			}
			// While stopped: rotated, compressed, original removed.
			fsys.rename(pod, pod+".1")
			fsys.create(pod)
			fsys.append(pod, "4\n")
			fsys.gzip(pod+".1", pod+".1.gz")

			cp2, err := OpenCheckpoints(cpPath)
			if err != nil {
				t.Fatal(err)
			}
			h2 := newHarness(t, fsys, cp2, Config{})
			if !oldFormat {
				if all := cp2.all(); len(all) != 1 || all[0].path != link {
					t.Fatalf("checkpoint entries %+v, want one with path %s", all, link)
				}
			}
			ls = h2.poll()
			if lines(ls) != "2\n3\n4\n" {
				t.Fatalf("after restart got %q", lines(ls))
			}
			for _, l := range ls {
				if l.Path != link {
					t.Fatalf("line %q has path %q, want %q", l.Data, l.Path, link)
				}
			}
		})
	}
}

// ext4 hands a freed inode to the next new file at once: a tracked, closed
// file's inode turning up as another file is that other file, read from
// its own beginning, and the old content is a ghost (its .gz is not re-read).
func TestInodeReuseOfClosedFile(t *testing.T) {
	const rotated = pod + ".20240101-000000"
	setup := func(t *testing.T) (*harness, uint64) {
		h := newHarness(t, nil, nil, Config{})
		kubeletFile(h.fs)
		h.fs.append(pod, "a1 first file, long enough to be recognised by its head\na2\n")
		h.expect("a1 first file, long enough to be recognised by its head\na2\n")
		st, _ := h.fs.Stat(pod)
		h.fs.rename(pod, rotated)
		h.fs.create(pod)
		h.fs.append(pod, "b1\n")
		h.expect("b1\n")
		h.expect("") // the rotated file is closed after a quiet poll
		if tr := h.tl.files[fileKey{1, st.Ino}]; tr == nil || tr.f != nil {
			t.Fatalf("rotated file not tracked and closed: %+v", tr)
		}
		return h, st.Ino
	}
	t.Run("new live file", func(t *testing.T) {
		h, ino := setup(t)
		// Rotated file deleted, the live one rotated, the new live file
		// created on the freed inode: its lines are new, from 0.
		h.fs.remove(rotated)
		h.fs.rename(pod, rotated+"-2")
		h.fs.createIno(pod, ino)
		h.fs.append(pod, "c1 the second file\nc2\nc3 and a few more bytes than the first\n")
		got := h.pollText() + h.pollText()
		if got != "c1 the second file\nc2\nc3 and a few more bytes than the first\n" {
			t.Fatalf("got %q", got)
		}
		if n := h.counter(h.tl.m.truncations); n != 0 {
			t.Errorf("truncations = %v, want 0 (inode reuse is no copy-truncate)", n)
		}
	})
	t.Run("gz of another file", func(t *testing.T) {
		h, ino := setup(t)
		// The live file rotates and is drained; then, between two polls,
		// the first rotated file is deleted and the second is compressed
		// onto its freed inode.
		h.fs.append(pod, "b2\n")
		h.fs.rename(pod, rotated+"-2")
		h.fs.create(pod)
		h.expect("b2\n")
		h.expect("")
		h.fs.remove(rotated)
		h.fs.gzipIno(rotated+"-2", rotated+"-2.gz", ino)
		h.fs.append(pod, "d1\n")
		var got string
		for range 4 {
			got += h.pollText()
		}
		if got != "d1\n" {
			t.Fatalf("got %q, want only the new line (no gzip bytes, no re-read)", got)
		}
	})
	t.Run("gz of itself", func(t *testing.T) {
		h, ino := setup(t)
		// Compressed onto its own inode (the plain file removed first).
		content := h.fs.content(rotated)
		h.fs.remove(rotated)
		h.fs.append(rotated+".tmp", content)
		h.fs.gzipIno(rotated+".tmp", rotated+".gz", ino)
		h.fs.append(pod, "b2\n")
		got := h.pollText() + h.pollText()
		if got != "b2\n" {
			t.Fatalf("got %q", got)
		}
	})
}

// The last lines of a renamed file come before the first lines of the new
// one, even when the new file has the lower inode and the per-poll budget
// leaves the rotated file unfinished, or its last line is unterminated.
func TestRotationOrder(t *testing.T) {
	for _, tc := range []struct {
		name   string
		budget int64
	}{{"tiny budget", 3}, {"unterminated last line", 0}} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, nil, nil, Config{MaxBytesPerPoll: tc.budget, ReadBufferBytes: 3})
			h.fs.symlink(pod, link)
			h.fs.createIno(pod, 500)
			h.fs.append(pod, "a1\na2\n")
			got := h.pollText()
			h.fs.append(pod, "a3\na4\na5\na6-st")
			h.fs.rename(pod, pod+".1")
			h.fs.createIno(pod, 50) // lower than the rotated file's
			h.fs.append(pod, "b1\nb2\n")
			got += h.pollText()
			h.fs.append(pod+".1", "art\n") // the writer's old descriptor
			h.fs.append(pod, "b3\n")
			for range 12 {
				got += h.pollText()
			}
			if want := "a1\na2\na3\na4\na5\na6-start\nb1\nb2\nb3\n"; got != want {
				t.Fatalf("got %q, want %q", got, want)
			}
		})
	}
}

// A directory where a log file is expected is counted and logged once per
// appearance.
func TestNotRegular(t *testing.T) {
	reg := prometheus.NewRegistry()
	fsys := newMemFS()
	cp, _ := OpenCheckpoints("")
	if _, err := New(Config{Include: []string{"/x/*.log"}}, fsys, cp, slog.New(slog.DiscardHandler), reg); err != nil {
		t.Fatal(err)
	}
	if err := testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP kinsight_agent_tail_errors_total Files that could not be followed, by reason (dangling_symlink, unreadable, glob, gzip, not_regular).
# TYPE kinsight_agent_tail_errors_total counter
kinsight_agent_tail_errors_total{reason="dangling_symlink"} 0
kinsight_agent_tail_errors_total{reason="glob"} 0
kinsight_agent_tail_errors_total{reason="gzip"} 0
kinsight_agent_tail_errors_total{reason="not_regular"} 0
kinsight_agent_tail_errors_total{reason="unreadable"} 0
`), "kinsight_agent_tail_errors_total"); err != nil {
		t.Fatal(err)
	}

	h := newHarness(t, nil, nil, Config{})
	kubeletFile(h.fs)
	h.fs.append(pod, "a\n")
	h.fs.mkdir("/var/log/containers/dir_ns_c-abc.log")
	h.fs.mkdir(pod + ".old")
	h.expect("a\n")
	h.expect("")
	notReg := h.tl.m.errors.WithLabelValues(reasonNotRegular)
	if n := h.counter(notReg); n != 2 {
		t.Fatalf("not_regular = %v, want 2 (the include match and the sibling, once each)", n)
	}
	if n := strings.Count(h.logs.String(), "reason=not_regular"); n != 2 {
		t.Fatalf("logged %d times, want 2:\n%s", n, h.logs)
	}
	h.fs.remove("/var/log/containers/dir_ns_c-abc.log")
	h.expect("")
	h.fs.mkdir("/var/log/containers/dir_ns_c-abc.log")
	h.expect("")
	h.expect("") // a problem counts once two scans in a row see it
	if n := h.counter(notReg); n != 3 {
		t.Fatalf("not_regular = %v after it came back, want 3", n)
	}
}

// A .gz promoted from a ghost takes over the acknowledgements of the content
// it holds (also those of lines in flight), so a restart after the old inode
// was reused does not read the whole .gz again.
func TestGzipInheritsAcks(t *testing.T) {
	fsys := newMemFS()
	cp, _ := OpenCheckpoints("")
	h := newHarness(t, fsys, cp, Config{})
	kubeletFile(fsys)
	fsys.append(pod, "1\n2\n")
	ls := h.poll()
	fsys.rename(pod, pod+".1")
	fsys.create(pod)
	h.expect("")
	h.expect("")
	fsys.gzip(pod+".1", pod+".1.gz")
	h.expect("")
	h.expect("")
	cp.Ack(ls[1].File, ls[1].Offset) // delivered after the .gz took over
	// The old inode goes to another file, whose ack replaces the old entry.
	cp.Ack(FileID{Dev: 1, Ino: ls[1].File.Ino, Head: "other content"}, 3)
	h2 := newHarness(t, fsys, cp, Config{})
	fsys.append(pod, "3\n")
	h2.expect("3\n")
}
