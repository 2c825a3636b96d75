package e2e

import (
	"context"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Zero-loss settings: 120 containers writing 3,000 lines/s in total,
// kubelet rotating at 256 KiB and keeping 5 files (the hot containers
// rotate every few seconds), for about a minute and a half.
const (
	zlContainers = 120
	zlRate       = 3000
	zlMaxSize    = 256 << 10
	zlMaxFiles   = 5
)

// TestAgentZeroLoss runs a real server and a real `kinsight agent` while the
// node simulator writes and rotates: the agent is SIGKILLed and restarted
// at random moments (also while the server is down), the server is stopped
// for a minute and restarted on the same address. Afterwards every line
// written must be on the server exactly once, in order within its stream,
// with the right metadata.
func TestAgentZeroLoss(t *testing.T) {
	if testing.Short() {
		t.Skip("takes about a minute and a half")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	srv := startServer(t, "", withKeys())
	sim := newNodeSim(t, "", zlContainers, zlMaxSize, zlMaxFiles)
	sim.Start(zlRate)
	agent := startAgent(t, srv, agentOpts{glob: sim.glob()})
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 3))
	jitter := func(lo, hi time.Duration) time.Duration { return lo + time.Duration(rng.Int64N(int64(hi-lo))) }

	kills := 0
	keep := zlKeeper(t, sim, agent)
	killAndRestart := func(when string) {
		agent.kill()
		kills++
		keep(fmt.Sprintf("kill%d", kills))
		time.Sleep(jitter(0, 800*time.Millisecond))
		agent.start()
		lines, rot := sim.Written()
		t.Logf("agent SIGKILLed and restarted (%s): %d lines written, %d rotations so far; hot c=0 at seq %d", when, lines, rot, sim.conts[0].seqNow())
	}
	// Kills while the server is up.
	for range 3 {
		time.Sleep(jitter(2*time.Second, 6*time.Second))
		killAndRestart("server up")
	}
	time.Sleep(jitter(time.Second, 3*time.Second))

	// A minute without a server: the agent keeps reading into its buffer
	// (and spills to disk); one more kill in the middle of it.
	srv.stop()
	outage := time.Now()
	t.Log("server stopped")
	time.Sleep(jitter(15*time.Second, 40*time.Second))
	killAndRestart("server down")
	time.Sleep(time.Until(outage.Add(60 * time.Second)))
	srv.restart()
	t.Logf("server restarted after %v", time.Since(outage).Round(time.Second))

	time.Sleep(jitter(2*time.Second, 5*time.Second))
	killAndRestart("after the outage")
	time.Sleep(3 * time.Second)
	sim.Stop()
	if err := sim.Err(); err != nil {
		t.Fatalf("simulator: %v", err)
	}
	lines, rot := sim.Written()
	t.Logf("simulator stopped: %d lines in %d containers, %d rotations; %d agent kills", lines, zlContainers, rot, kills)
	if rot < 20 {
		t.Errorf("only %d rotations: the test did not exercise rotation", rot)
	}

	start := time.Now()
	m := waitShipped(t, agent, 2*time.Minute)
	keep("end")
	t.Logf("agent idle %v after the simulator stopped; buffer drops %v, output drops %v, tail errors %v, lost bytes %v, duplicates the server skipped (since the last restart) %v",
		time.Since(start).Round(time.Second), sumMetric(m, "kinsight_agent_buffer_dropped_total"),
		sumMetric(m, "kinsight_agent_output_dropped_events_total"), sumMetric(m, "kinsight_agent_tail_errors_total"),
		sumMetric(m, "kinsight_agent_tail_lost_bytes_total"), sumMetric(m, "kinsight_agent_output_duplicate_events_total"))

	start = time.Now()
	got := readApplication(ctx, t, sdkReadClient(srv, readerKey, readerSecret))
	r := checkSim(sim, got)
	misrouted := hostGroupEvents(ctx, srv)
	t.Logf("read back in %v: %s", time.Since(start).Round(100*time.Millisecond), r)
	if r.badMeta > 0 {
		t.Errorf("lines with wrong metadata: %s", r)
	}
	if r.missing+r.disorder+r.foreign > 0 || r.got-r.dups != r.written || misrouted != "" {
		t.Logf("agent output: %s", saveOutput(t, agent))
		t.Errorf("lines lost, reordered, foreign or misrouted: %s%s", misrouted, r)
	}
	// Exactly once: the agent re-sends what was in flight at a SIGKILL
	// with its positions (X-Kinsight-Positions) and the server skips what
	// it already stored.
	if r.dups > 0 {
		t.Logf("agent output: %s", saveOutput(t, agent))
		t.Errorf("%d lines repeated after %d SIGKILLs (exactly once is violated): %s", r.dups, kills, r)
	}
}

// TestAgentZeroLossSmallBuffer is the same set-up with a buffer far too
// small for the outage (64 KiB in memory, 16 MiB on disk: the agent refuses
// a disk_bytes below its 16 MiB segment size): the agent must
// drop the oldest data, and what the server lacks afterwards must be
// exactly what the agent's /metrics says it dropped, with nothing
// duplicated or reordered.
func TestAgentZeroLossSmallBuffer(t *testing.T) {
	if testing.Short() {
		t.Skip("takes about a minute")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	srv := startServer(t, "", withKeys())
	sim := newNodeSim(t, "", zlContainers, zlMaxSize, zlMaxFiles)
	sim.Start(zlRate)
	agent := startAgent(t, srv, agentOpts{glob: sim.glob(), memoryBytes: 64 << 10, diskBytes: 16 << 20})
	time.Sleep(5 * time.Second)
	srv.stop()
	t.Log("server stopped")
	// About 1 MB/s of records: the disk budget is spent after ~17 s.
	time.Sleep(35 * time.Second)
	srv.restart()
	t.Log("server restarted")
	time.Sleep(3 * time.Second)
	sim.Stop()
	if err := sim.Err(); err != nil {
		t.Fatalf("simulator: %v", err)
	}
	m := waitShipped(t, agent, 2*time.Minute)
	got := readApplication(ctx, t, sdkReadClient(srv, readerKey, readerSecret))
	r := checkSim(sim, got)
	misrouted := hostGroupEvents(ctx, srv)
	items := sumMetric(m, "kinsight_agent_buffer_dropped_total")
	outDropped := sumMetric(m, "kinsight_agent_output_dropped_events_total")
	t.Logf("%s; agent dropped %v buffer items, output dropped %v events", r, items, outDropped)
	if r.badMeta > 0 {
		t.Errorf("lines with wrong metadata: %s", r)
	}
	if r.dups+r.disorder+r.foreign > 0 || misrouted != "" {
		t.Logf("agent output: %s", saveOutput(t, agent))
		t.Errorf("duplicated, reordered, foreign or misrouted lines: %s%s", misrouted, r)
	}
	if r.missing == 0 || items == 0 {
		t.Errorf("the outage did not overflow the buffer (%d lines missing, %v items dropped)", r.missing, items)
	}
	// What the server lacks is exactly what the agent says it dropped.
	if ev := sumMetric(m, "kinsight_agent_dropped_events_total") + outDropped; int(ev) != r.missing {
		t.Errorf("%d lines missing on the server, but the agent counts %v dropped events (buffer + output)", r.missing, ev)
	}
}

// zlKeepEnv names a directory where TestAgentZeroLoss keeps, at every
// SIGKILL and at the end, the agent's checkpoint file and a listing (with
// inodes and sizes) of the simulated node's log files: what a repeat or a
// gap is looked into with. Unset: nothing is kept.
const zlKeepEnv = "KINSIGHT_E2E_KEEP"

// zlKeeper returns the function that snapshots under name (a no-op
// unless zlKeepEnv is set).
func zlKeeper(t *testing.T, sim *nodeSim, agent *agentProc) func(name string) {
	dir := os.Getenv(zlKeepEnv)
	if dir == "" {
		return func(string) {}
	}
	dir = filepath.Join(dir, time.Now().UTC().Format("20060102T150405"))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Logf("keeping checkpoints and listings in %s", dir)
	return func(name string) {
		if b, err := os.ReadFile(filepath.Join(agent.dataDir, "checkpoints")); err == nil {
			os.WriteFile(filepath.Join(dir, name+".checkpoints"), b, 0o644)
		}
		var ls strings.Builder
		filepath.WalkDir(filepath.Join(sim.root, "pods"), func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return nil
			}
			if info, err := d.Info(); err == nil {
				if st, ok := info.Sys().(*syscall.Stat_t); ok {
					fmt.Fprintf(&ls, "%d %d %d %s\n", st.Ino, info.Size(), info.ModTime().UnixNano(), p)
				}
			}
			return nil
		})
		os.WriteFile(filepath.Join(dir, name+".ls"), []byte(ls.String()), 0o644)
		os.WriteFile(filepath.Join(dir, "agent.log"), []byte(agent.output()), 0o644)
	}
}
