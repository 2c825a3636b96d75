package agentwal_test

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/kinsight/kinsight/internal/metricstore/agentwal"
)

// TestKillChild is the appender run as a child process by TestSIGKILL: it
// appends rounds until killed, printing each round's number once its
// Commit has returned.
func TestKillChild(t *testing.T) {
	dir, url := os.Getenv("AGENTWAL_CHILD_DIR"), os.Getenv("AGENTWAL_CHILD_URL")
	if dir == "" {
		t.Skip("run by TestSIGKILL")
	}
	base, _ := strconv.ParseInt(os.Getenv("AGENTWAL_CHILD_BASE"), 10, 64)
	s := openStore(t, dir, prometheus.NewRegistry(), agentwal.Endpoint{Name: "kinsight", URL: url, Queue: fastQueue()})
	for n := 0; ; n++ {
		appendRound(t, s, time.UnixMilli(base), n)
		fmt.Printf("committed %d\n", n)
		time.Sleep(2 * time.Millisecond)
	}
}

// TestSIGKILL ships half of an appending agent's samples, stops the server
// and kills the agent with SIGKILL while its WAL holds unsent samples, then
// restarts the agent on the same WAL and
// brings the server back: every sample whose Commit returned must arrive.
func TestSIGKILL(t *testing.T) {
	k := startKinsight(t)
	dir := t.TempDir()
	base := time.Now().Add(-time.Minute).Truncate(time.Second)
	cmd := exec.Command(os.Args[0], "-test.run=^TestKillChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), "AGENTWAL_CHILD_DIR="+dir, "AGENTWAL_CHILD_URL="+k.writeURL(),
		"AGENTWAL_CHILD_BASE="+strconv.FormatInt(base.UnixMilli(), 10))
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(out)
	last := -1
	stopped := false
	for sc.Scan() {
		if _, err := fmt.Sscanf(sc.Text(), "committed %d", &last); err != nil {
			continue
		}
		if last >= 150 && !stopped {
			// Partly shipped: the position file is mid-WAL when the
			// server goes away and the child is killed.
			waitFor(t, "some samples shipped", 10*time.Second, func() bool {
				got := query(t, k.baseURL(), fmt.Sprintf("count(test_seq @ %d)", time.Now().Unix()), nil)
				return got[""] > 0
			})
			k.stop()
			stopped = true
		}
		if last >= 300 {
			break
		}
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	for sc.Scan() { // rounds committed before the kill landed
		_, _ = fmt.Sscanf(sc.Text(), "committed %d", &last)
	}
	_ = cmd.Wait()
	if last < 300 {
		t.Fatalf("child committed only %d rounds", last)
	}

	k.start(nil)
	reg := prometheus.NewRegistry()
	s := openStore(t, dir, reg, agentwal.Endpoint{Name: "kinsight", URL: k.writeURL(), Queue: fastQueue()})
	defer s.Close()
	at := base.Add(time.Duration(last+10) * 100 * time.Millisecond).Unix()
	var got map[string]float64
	waitFor(t, "committed samples queryable", 20*time.Second, func() bool {
		got = query(t, k.baseURL(), fmt.Sprintf("min(count_over_time(test_seq[30m] @ %d))", at), nil)
		return got[""] >= float64(last+1)
	})
	// Samples may exceed what the child reported (committed, killed before
	// printing) but each must be there once: the values 0..c-1.
	c := query(t, k.baseURL(), fmt.Sprintf("count_over_time(test_seq[30m] @ %d)", at), nil)
	sum := query(t, k.baseURL(), fmt.Sprintf("sum_over_time(test_seq[30m] @ %d)", at), nil)
	for key, n := range c {
		if want := n * (n - 1) / 2; sum[key] != want {
			t.Errorf("%s: %v samples summing to %v, want %v", key, n, sum[key], want)
		}
	}
	t.Logf("child killed after %d reported rounds; server has %v per series", last+1, got[""])
}
