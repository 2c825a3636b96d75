package e2e

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
)

const (
	diskSize = 48 << 20
	// guardBytes is min_free_disk_bytes in the guard phase.
	guardBytes = 2 << 20
)

// diskPhase is one way of running out of space.
type diskPhase struct {
	name string
	yaml string
	// leave is the free space the filler file leaves.
	leave int64
	// reason is the write_errors_total reason that must have refused.
	reason string
	// orReason, when set, may refuse first instead: a race the phase
	// cannot steer (see flush-enospc).
	orReason string
	// immediate: a write right after freeing space must succeed; otherwise
	// a flush in retry backoff (up to 10 s) may refuse for a while.
	immediate bool
}

var diskPhases = []diskPhase{{
	// Everything stays in the WAL (no flush), so the space used grows with
	// every write and the free-space guard is what refuses.
	name: "guard", leave: 10 << 20, reason: "disk_full", immediate: true,
	yaml: "  logs:\n    head_max_bytes: 64MiB\n    flush_interval: 1h\n    wal_segment_bytes: 4MiB\n" +
		fmt.Sprintf("    min_free_disk_bytes: %d\n", guardBytes),
}, {
	// The guard is off (1 byte): the WAL write itself fails with ENOSPC.
	name: "wal-enospc", leave: 8 << 20, reason: "wal", immediate: true,
	yaml: "  logs:\n    head_max_bytes: 64MiB\n    flush_interval: 1h\n    wal_segment_bytes: 1MiB\n    min_free_disk_bytes: 1\n",
}, {
	// Small heads flushed every second: a part write fails with ENOSPC, the
	// flush retries, the WAL cannot be trimmed and the next full head makes
	// writes wait and then refuses them as a backlog.
	//
	// Whether a part write or the WAL's next 1 MiB segment meets ENOSPC
	// first depends on when the flush runs against the writes (on a busy CI
	// machine the WAL sometimes does, with ~1 MB free and no failed flush
	// yet), so a WAL refusal is accepted too; the guarantees checked after
	// the refusal (acknowledged batches once, refused ones absent, recovery)
	// are the same either way.
	name: "flush-enospc", leave: 8 << 20, reason: "backlog", orReason: "wal",
	yaml: "  logs:\n    head_max_bytes: 2MiB\n    flush_interval: 1s\n    wal_segment_bytes: 1MiB\n    min_free_disk_bytes: 1\n",
}}

// TestDiskFullRefusesThenRecovers runs the server on a small tmpfs and fills
// it, once per diskPhase: writes must be refused with AWS's
// ServiceUnavailableException while the server stays up and serves reads,
// and succeed again once space is freed, without a restart. Between phases
// and at the end the server restarts (SIGTERM, start): every acknowledged
// event must be there exactly once and no refused one at all. Last, a
// SIGTERM while the disk is full must still stop the server.
func TestDiskFullRefusesThenRecovers(t *testing.T) {
	dir := mountTmpfs(t, diskSize)
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(7, 7))
	ledgers := make([]*ledger, len(diskPhases))
	for i, ph := range diskPhases {
		ledgers[i] = newLedger(i, ph.name)
	}
	const group = "/e2e/diskfull"
	ts := time.Now().Add(-time.Hour).UnixMilli()
	var p *serverProc
	// send writes one batch of n events to l's stream; it returns whether
	// the server acknowledged it and fails the test on any answer but
	// success or ServiceUnavailableException.
	send := func(agent *cloudwatchlogs.Client, l *ledger, n int) bool {
		t.Helper()
		seq := len(l.attempts)
		a, evs := l.newAttempt(rng, seq, 0, n, ts, 300)
		ts += int64(n)
		rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		_, err := agent.PutLogEvents(rctx, &cloudwatchlogs.PutLogEventsInput{
			LogGroupName: aws.String(group), LogStreamName: aws.String(l.stream), LogEvents: evs,
		})
		if err == nil {
			l.settle(a, true, false)
			return true
		}
		code, status := apiErrorCode(err)
		if code != "ServiceUnavailableException" || status < 500 || status > 599 {
			t.Fatalf("PutLogEvents %s batch %d: want ServiceUnavailableException with HTTP 5xx, got code %q HTTP %d: %v\nserver output:\n%s",
				l.stream, seq, code, status, err, p.stderr)
		}
		l.settle(a, false, true)
		return false
	}

	for i, ph := range diskPhases {
		if p != nil {
			p.stop()
		}
		p = startServer(t, dir, withKeys(), withYAML(ph.yaml))
		agent := sdkClient(p, agentKey, agentSecret)
		reader := sdkReadClient(p, readerKey, readerSecret)
		if i == 0 {
			// The catalog needs space too: create everything before filling.
			createStreams(ctx, t, sdkClient(p, adminKey, adminSecret), group, ledgers)
		}
		verifyLedgers(ctx, t, reader, group, ledgers, ph.name+": after restart")
		l := ledgers[i]
		filler := filepath.Join(dir, "filler-"+ph.name)
		fill(t, dir, filler, ph.leave)
		writes := 0
		for {
			if writes++; writes > 5000 {
				t.Fatalf("%s: no write refused after %d batches; %d bytes free", ph.name, writes, freeBytes(t, dir))
			}
			if ph.reason == "disk_full" && freeBytes(t, dir) < guardBytes+1<<20 {
				// The store looks at the free space at most every 100 ms;
				// close to the limit, give it a fresh look at each batch so
				// the guard, not ENOSPC, is what refuses.
				time.Sleep(150 * time.Millisecond)
			}
			if !send(agent, l, 300) {
				break
			}
		}
		free := freeBytes(t, dir)
		reasons := writeErrors(t, p)
		t.Logf("%s: first refusal after %d batches with %d bytes free; write errors by reason %v; flush errors %g",
			ph.name, writes, free, reasons, storeMetric(t, p, "kinsight_logstore_flush_errors_total"))
		if reasons[ph.reason] < 1 && (ph.orReason == "" || reasons[ph.orReason] < 1) {
			t.Errorf("%s: write_errors_total{reason=%q} = 0, want >= 1 (all: %v)", ph.name, ph.reason, reasons)
		}
		switch ph.reason {
		case "disk_full":
			if free <= 0 || free >= guardBytes {
				t.Errorf("%s: refused with %d bytes free; want between 0 and min_free_disk_bytes (%d)", ph.name, free, guardBytes)
			}
			if reasons["wal"] != 0 {
				t.Errorf("%s: the WAL hit ENOSPC before the guard refused", ph.name)
			}
			for j := range 3 {
				if send(agent, l, 1) {
					t.Errorf("%s: write %d after the first refusal was accepted with %d bytes free", ph.name, j, freeBytes(t, dir))
				}
			}
		case "wal":
			if !strings.Contains(p.stderr.String(), "no space left on device") {
				t.Errorf("%s: server did not log ENOSPC:\n%s", ph.name, p.stderr)
			}
		}
		checkServing(ctx, t, p, reader, group, ledgers, ph.name+": disk full")

		if err := os.Remove(filler); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		for !send(agent, l, 300) {
			if ph.immediate {
				t.Fatalf("%s: write refused after freeing space (%d bytes free)\nserver output:\n%s", ph.name, freeBytes(t, dir), p.stderr)
			}
			if time.Since(start) > 30*time.Second {
				t.Fatalf("%s: writes still refused 30 s after freeing space (%d bytes free)\nserver output:\n%s", ph.name, freeBytes(t, dir), p.stderr)
			}
			time.Sleep(200 * time.Millisecond)
		}
		t.Logf("%s: writes accepted again %v after freeing space", ph.name, time.Since(start).Round(time.Millisecond))
		for j := range 5 {
			if !send(agent, l, 300) {
				t.Errorf("%s: write %d after recovering refused", ph.name, j)
			}
		}
		checkServing(ctx, t, p, reader, group, ledgers, ph.name+": space freed")
	}

	// The head is flushed to parts at shutdown. With the disk full that
	// flush cannot succeed, and SIGTERM must still stop the server in time
	// (the WAL holds the data): the harness's stop fails the test if it does
	// not exit within its timeout.
	p.stop()
	p = startServer(t, dir, withKeys(), withYAML(diskPhases[1].yaml))
	filler := filepath.Join(dir, "filler-shutdown")
	fill(t, dir, filler, 1<<20)
	l := ledgers[len(ledgers)-1]
	agent := sdkClient(p, agentKey, agentSecret)
	for send(agent, l, 300) {
	}
	t.Logf("SIGTERM with %d bytes free and %g bytes in the head", freeBytes(t, dir), storeMetric(t, p, "kinsight_logstore_head_bytes"))
	start := time.Now()
	p.stop()
	t.Logf("stopped in %v", time.Since(start).Round(time.Millisecond))
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	p.start()
	verifyLedgers(ctx, t, sdkReadClient(p, readerKey, readerSecret), group, ledgers, "after the last restart")
}

// writeErrors returns the store's write_errors_total by reason.
func writeErrors(t *testing.T, p *serverProc) map[string]float64 {
	t.Helper()
	out := map[string]float64{}
	for _, r := range []string{"disk_full", "wal", "backlog"} {
		out[r] = storeMetric(t, p, `kinsight_logstore_write_errors_total{reason="`+r+`"}`)
	}
	return out
}

// checkServing asserts that the server is up (/healthz) and that reads
// return exactly what the ledgers say so far.
func checkServing(ctx context.Context, t *testing.T, p *serverProc, reader *cloudwatchlogs.Client, group string, ledgers []*ledger, when string) {
	t.Helper()
	select {
	case <-p.exited:
		t.Fatalf("%s: server exited: %s", when, p.stderr)
	default:
	}
	resp, err := http.Get(p.url() + "/healthz")
	if err != nil {
		t.Fatalf("%s: /healthz: %v", when, err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("%s: /healthz answered %s", when, resp.Status)
	}
	verifyLedgers(ctx, t, reader, group, ledgers, when)
}

// verifyLedgers reads every stream back and checks it against its ledger;
// every attempt was answered, so none is allowed to land unacknowledged.
func verifyLedgers(ctx context.Context, t *testing.T, reader *cloudwatchlogs.Client, group string, ledgers []*ledger, when string) {
	t.Helper()
	for _, l := range ledgers {
		evs, err := readStream(ctx, reader, group, l.stream)
		if err != nil {
			t.Errorf("%s: GetLogEvents %s: %v", when, l.stream, err)
			continue
		}
		r := l.check(evs)
		for _, p := range r.problems {
			t.Errorf("%s: %s: %s", when, l.stream, p)
		}
		if r.unacked > 0 {
			t.Errorf("%s: %s: %d attempts neither acknowledged nor refused", when, l.stream, r.unacked)
		}
		t.Logf("%s: %s: %d events; %d acknowledged batches present once, %d refused batches absent",
			when, l.stream, r.present, r.ackedBatches, r.refused)
	}
}

// mountTmpfs mounts a tmpfs of size bytes on a fresh directory, unmounted
// when the test ends (after the servers it started have stopped).
func mountTmpfs(t *testing.T, size int) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "tmpfs")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("mount", "-t", "tmpfs", "-o", fmt.Sprintf("size=%d", size), "tmpfs", dir).CombinedOutput()
	if err != nil {
		t.Skipf("cannot mount a tmpfs (needs root or CAP_SYS_ADMIN; euid %d): %v: %s", os.Geteuid(), err, strings.TrimSpace(string(out)))
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
			exec.Command("umount", "-l", dir).Run()
		}
	})
	return dir
}

// freeBytes is the space the server's store sees as free (Bavail).
func freeBytes(t *testing.T, dir string) int64 {
	t.Helper()
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		t.Fatal(err)
	}
	return int64(st.Bavail) * int64(st.Bsize)
}

// fill writes a file of zeros at path until about leave bytes are free.
func fill(t *testing.T, dir, path string, leave int64) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 1<<20)
	for {
		n := min(freeBytes(t, dir)-leave, int64(len(buf)))
		if n < 4096 {
			return
		}
		if _, err := f.Write(buf[:n]); err != nil {
			t.Fatalf("filling %s: %v", path, err)
		}
	}
}

// storeMetric reads one sample of the server's /metrics; absent is 0.
func storeMetric(t *testing.T, p *serverProc, series string) float64 {
	t.Helper()
	resp, err := http.Get(p.url() + "/metrics")
	if err != nil {
		t.Fatalf("/metrics: %v", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("/metrics: %v", err)
	}
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + ` (\S+)$`).FindSubmatch(body)
	if m == nil {
		return 0
	}
	v, err := strconv.ParseFloat(string(m[1]), 64)
	if err != nil {
		t.Fatalf("/metrics %s: %v", series, err)
	}
	return v
}
