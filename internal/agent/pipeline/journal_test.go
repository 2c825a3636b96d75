package pipeline

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/kinsight/kinsight/internal/agent/journal"
)

const journalRemote = "/lib/systemd/systemd-journal-remote"

// writeJournal appends entries (unit, message) to a real journal file
// through systemd-journal-remote, which reads journal export format.
func writeJournal(t *testing.T, path string, seq *int, entries ...[2]string) {
	t.Helper()
	if _, err := os.Stat(journalRemote); err != nil {
		t.Fatalf("%s missing: apt-get install systemd-journal-remote (make test-deps does)", journalRemote)
	}
	var buf bytes.Buffer
	for _, e := range entries {
		*seq++
		fmt.Fprintf(&buf, "__REALTIME_TIMESTAMP=%d\n__MONOTONIC_TIMESTAMP=%d\n_BOOT_ID=0123456789abcdef0123456789abcdef\n",
			time.Now().UnixMicro(), *seq*1000)
		fmt.Fprintf(&buf, "_SYSTEMD_UNIT=%s\nMESSAGE=%s\nPRIORITY=6\n_HOSTNAME=node-1\n_PID=42\n\n", e[0], e[1])
	}
	cmd := exec.Command(journalRemote, "-o", path, "-")
	cmd.Stdin = &buf
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("systemd-journal-remote: %v: %s", err, out)
	}
}

// TestJournalToDataplane follows a real journal through journalctl: the
// configured units' entries land in the dataplane group, a stream per unit,
// and a restart resumes after the acknowledged cursor without repeats.
func TestJournalToDataplane(t *testing.T) {
	addr := startServer(t)
	logDir, dataDir := t.TempDir(), t.TempDir()
	jdir := t.TempDir()
	jpath := filepath.Join(jdir, "remote.journal")
	seq := 0
	writeJournal(t, jpath, &seq, [2]string{"kubelet.service", "k1"}, [2]string{"sshd.service", "ignored"},
		[2]string{"containerd.service", "c1"}, [2]string{"kubelet.service", "k2"})

	startJournal := func() running {
		j, err := journal.New(journal.Config{
			Units: []string{"kubelet.service", "containerd.service"}, Directory: jdir,
			CursorFile: filepath.Join(dataDir, "journal.cursor"),
		}, quiet, prometheus.NewRegistry())
		if err != nil {
			t.Fatal(err)
		}
		return startWith(t, addr, logDir, dataDir, func(c *Config) {
			c.ContainerLogs, c.HostLogs = nil, nil
			c.Journal = j
		})
	}
	r := startJournal()
	c := r.p.Output().Client()
	const group = "/aws/containerinsights/test/dataplane"
	kubelet := waitEvents(t, c, group, "node-1.kubelet.service", 2)
	if len(kubelet) != 2 {
		t.Fatalf("kubelet stream: %q", kubelet)
	}
	var rec map[string]string
	if err := json.Unmarshal([]byte(kubelet[1]), &rec); err != nil || rec["MESSAGE"] != "k2" || rec["_SYSTEMD_UNIT"] != "kubelet.service" || rec["_HOSTNAME"] != "node-1" || rec["PRIORITY"] != "6" {
		t.Fatalf("record %s: %v", kubelet[1], err)
	}
	if got := waitEvents(t, c, group, "node-1.containerd.service", 1); len(got) != 1 {
		t.Fatalf("containerd stream: %q", got)
	}
	// Followed: a new entry arrives without a restart.
	writeJournal(t, jpath, &seq, [2]string{"kubelet.service", "k3"})
	if got := waitEvents(t, c, group, "node-1.kubelet.service", 3); len(got) != 3 {
		t.Fatalf("after follow: %q", got)
	}
	if err := r.stop(); err != nil {
		t.Fatal(err)
	}
	// Written while the agent is down, read after the saved cursor.
	writeJournal(t, jpath, &seq, [2]string{"kubelet.service", "k4"}, [2]string{"containerd.service", "c2"})
	r = startJournal()
	c = r.p.Output().Client()
	got := waitEvents(t, c, group, "node-1.kubelet.service", 4)
	if len(got) != 4 {
		t.Fatalf("after restart: %q", got)
	}
	if got := waitEvents(t, c, group, "node-1.containerd.service", 2); len(got) != 2 {
		t.Fatalf("containerd after restart: %q", got)
	}
	if events(t, c, group, "node-1.sshd.service") != nil {
		t.Fatal("an unconfigured unit was shipped")
	}
	// Nothing repeats: give a repeat time to show up, then count again.
	_ = r.stop()
	if got := events(t, c, group, "node-1.kubelet.service"); len(got) != 4 {
		t.Fatalf("kubelet stream after stop: %d events", len(got))
	}
}
