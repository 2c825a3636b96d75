package pipeline

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// requestsByOp sums kinsight_agent_output_requests_total per operation.
func requestsByOp(t *testing.T, reg *prometheus.Registry) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != "kinsight_agent_output_requests_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if lp.GetName() == "operation" {
					out[lp.GetValue()] += m.GetCounter().GetValue()
				}
			}
		}
	}
	return out
}

// TestGatheredDelivery: to a kinsight server the senders deliver the ready
// batches of many streams in PutLogEventsBatch requests — fewer requests
// than batches — and every stream still gets all its lines, once and in
// order, across several rounds (the first creates the streams: those
// parts fail and go on their own).
func TestGatheredDelivery(t *testing.T) {
	addr := startServer(t)
	logDir, dataDir := t.TempDir(), t.TempDir()
	hostDir := filepath.Join(logDir, "host")
	if err := os.MkdirAll(hostDir, 0o755); err != nil {
		t.Fatal(err)
	}
	const files, rounds, perRound = 24, 3, 5
	reg := prometheus.NewRegistry()
	r := startWith(t, addr, logDir, dataDir, func(c *Config) {
		c.HostLogs = []string{filepath.Join(hostDir, "*.log")}
		c.Registerer = reg
		c.Senders = 2
	})
	client := r.p.Output().Client()
	want := map[string][]string{}
	for round := range rounds {
		for f := range files {
			name := fmt.Sprintf("f%02d.log", f)
			var lines []string
			for i := range perRound {
				lines = append(lines, fmt.Sprintf("%s round %d line %d", name, round, i))
			}
			appendFile(t, filepath.Join(hostDir, name), lines...)
			want[name] = append(want[name], lines...)
		}
		for name, w := range want {
			got := waitEvents(t, client, "/aws/containerinsights/test/host", "node-1."+name, len(w))
			if strings.Join(got, "\n") != strings.Join(w, "\n") {
				t.Fatalf("round %d, %s:\ngot  %q\nwant %q", round, name, got, w)
			}
		}
	}
	if err := r.stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	ops := requestsByOp(t, reg)
	t.Logf("requests: %v", ops)
	if ops["PutLogEventsBatch"] == 0 {
		t.Fatalf("no PutLogEventsBatch requests: %v", ops)
	}
	// Each round is at least one batch per file; the batch requests carry
	// most of them.
	if total := ops["PutLogEventsBatch"] + ops["PutLogEvents"]; total >= files*rounds {
		t.Errorf("%v requests for at least %d batches: %v", total, files*rounds, ops)
	}
}

// TestGatherWaitsForBusyStream: a group never holds two items of one
// stream; the second waits behind the first (dispatch), and what queued
// behind the group's streams comes out in push order.
func TestGatherWaitsForBusyStream(t *testing.T) {
	d := &dispatch{busy: map[string][]sendItem{}}
	it := func(id uint64, key string) sendItem {
		s := sendItem{key: key}
		s.ID = id
		return s
	}
	var group []sendItem
	for _, x := range []sendItem{it(1, "a"), it(2, "b"), it(3, "a"), it(4, "c"), it(5, "a"), it(6, "b")} {
		if !d.queue(x) {
			group = append(group, x)
		}
	}
	if len(group) != 3 || group[0].ID != 1 || group[1].ID != 2 || group[2].ID != 4 {
		t.Fatalf("group %v, want items 1, 2, 4", group)
	}
	var next []uint64
	for _, g := range group {
		if n, ok := d.next(g.key); ok {
			next = append(next, n.ID)
		}
	}
	if fmt.Sprint(next) != "[3 6]" {
		t.Fatalf("next group %v, want [3 6]", next)
	}
	if n, ok := d.next("a"); !ok || n.ID != 5 {
		t.Fatalf("a's last item: %v %v", n.ID, ok)
	}
}
