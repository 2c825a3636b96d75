package e2e

import (
	"context"
	"fmt"
	"math"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
)

// simCheck is what the server holds compared with what the simulator wrote.
type simCheck struct {
	written    int // lines written
	got        int // events read back
	missing    int // lines written but not on the server
	missRuns   int // maximal runs of consecutive missing lines in a stream
	dups       int // extra copies of a line
	disorder   int // lines read before a line written earlier
	badMeta    int // wrong kubernetes fields, stream or text
	foreign    int // events or streams the simulator never wrote
	firstIssue []string
	gaps       []string // missing runs
	repeats    []string // repeated runs
}

func (r *simCheck) issue(format string, args ...any) {
	if len(r.firstIssue) < 30 {
		r.firstIssue = append(r.firstIssue, fmt.Sprintf(format, args...))
	}
}

func (r *simCheck) String() string {
	return fmt.Sprintf("written %d, read %d: %d missing (%d runs), %d duplicated, %d out of order, %d bad metadata, %d foreign; gaps: %s; repeats: %s; other: %s",
		r.written, r.got, r.missing, r.missRuns, r.dups, r.disorder, r.badMeta, r.foreign,
		strings.Join(r.gaps, ", "), strings.Join(r.repeats, ", "), strings.Join(r.firstIssue, "; "))
}

// checkSim compares the events of the application group, by stream, with
// every line the simulator wrote.
func checkSim(s *nodeSim, got map[string][]readEvent) *simCheck {
	r := &simCheck{}
	byStream := map[string]*simContainer{}
	for _, c := range s.conts {
		byStream[c.stream] = c
		r.written += c.seq
	}
	for name, evs := range got {
		r.got += len(evs)
		if byStream[name] == nil {
			r.foreign += len(evs)
			r.issue("stream %q was never written", name)
		}
	}
	for _, c := range s.conts {
		seen := make([]int, c.seq)
		last := -1
		for _, e := range got[c.stream] {
			rec, err := decodeRecord(e.msg)
			if err != nil {
				r.foreign++
				r.issue("%s: %v", c.stream, err)
				continue
			}
			var idx, seq int
			if _, err := fmt.Sscanf(rec.Log, "c=%d seq=%d ", &idx, &seq); err != nil || idx != c.idx || seq < 0 || seq >= c.seq {
				r.foreign++
				r.issue("%s: unexpected line %.120q", c.stream, rec.Log)
				continue
			}
			seen[seq]++
			if seen[seq] > 1 {
				r.dups++
			} else if seq < last {
				r.disorder++
				r.issue("c=%d: seq %d after %d", c.idx, seq, last)
			}
			last = max(last, seq)
			k := rec.Kubernetes
			want := simMessage(c.idx, seq)
			switch {
			case strings.TrimSuffix(rec.Log, "\n") != want:
				r.badMeta++
				r.issue("%s seq %d: log %.80q, want %.80q", c.stream, seq, rec.Log, want)
			case rec.Stream != c.simStream(seq):
				r.badMeta++
				r.issue("%s seq %d: stream %q, want %q", c.stream, seq, rec.Stream, c.simStream(seq))
			case k.PodName != c.pod || k.NamespaceName != c.ns || k.ContainerName != c.name || k.DockerID != c.id || k.Host != "node-1":
				r.badMeta++
				r.issue("%s seq %d: kubernetes %+v", c.stream, seq, k)
			}
		}
		// Report runs, not single lines, with the seqs the container was
		// rotated at, so a gap or repeat can be placed.
		for seq := 0; seq < len(seen); {
			n := seen[seq]
			end := seq
			for end+1 < len(seen) && (seen[end+1] == 0) == (n == 0) && (seen[end+1] > 1) == (n > 1) {
				end++
			}
			switch {
			case n == 0:
				r.missing += end - seq + 1
				r.missRuns++
				if len(r.gaps) < 20 {
					r.gaps = append(r.gaps, fmt.Sprintf("c=%d seq %d-%d (reopened at %v)", c.idx, seq, end, c.rotatedNear(seq)))
				}
			case n > 1:
				if len(r.repeats) < 20 {
					r.repeats = append(r.repeats, fmt.Sprintf("c=%d seq %d-%d (reopened at %v)", c.idx, seq, end, c.rotatedNear(seq)))
				}
			}
			seq = end + 1
		}
	}
	return r
}

// waitShipped waits until the agent has nothing left to ship: no unread
// bytes, an empty buffer, and no new events sent for three scrapes in a
// row. It returns the last scrape.
func waitShipped(t *testing.T, a *agentProc, timeout time.Duration) map[string]float64 {
	t.Helper()
	deadline := time.Now().Add(timeout)
	quiet := 0
	last := math.NaN()
	var m map[string]float64
	for {
		var err error
		m, err = a.metrics()
		if err != nil {
			t.Fatalf("%v; agent output: %s", err, tailOf(a.output(), 3000))
		}
		sent := sumMetric(m, "kinsight_agent_output_events_total")
		if m["kinsight_agent_tail_lag_bytes"] == 0 && m["kinsight_agent_buffer_items"] == 0 && sent == last {
			quiet++
		} else {
			quiet = 0
		}
		last = sent
		if quiet >= 3 {
			return m
		}
		if time.Now().After(deadline) {
			t.Fatalf("agent still shipping after %v: lag %v bytes, %v buffer items, %v events sent",
				timeout, m["kinsight_agent_tail_lag_bytes"], m["kinsight_agent_buffer_items"], sent)
		}
		time.Sleep(time.Second)
	}
}

// readApplication reads the whole application group.
func readApplication(ctx context.Context, t *testing.T, c *cloudwatchlogs.Client) map[string][]readEvent {
	t.Helper()
	got, err := readGroup(ctx, c, "/aws/containerinsights/e2e/application")
	if err != nil {
		t.Fatalf("reading back: %v", err)
	}
	return got
}

// saveOutput writes the agent's whole output next to the test's temp
// dirs, for a failure to be looked into, and returns the file name.
func saveOutput(t *testing.T, a *agentProc) string {
	f, err := os.CreateTemp("", "kinsight-"+t.Name()+"-*.log")
	if err != nil {
		return err.Error()
	}
	defer f.Close()
	f.WriteString(a.output())
	return f.Name()
}

// tailOf is the last n bytes of s.
func tailOf(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// hostGroupEvents describes what reached the host group: the tests follow
// container logs only, so whatever is there was misrouted. "" if nothing.
func hostGroupEvents(ctx context.Context, srv *serverProc) string {
	got, err := readGroup(ctx, sdkReadClient(srv, readerKey, readerSecret), "/aws/containerinsights/e2e/host")
	if err != nil {
		return "" // no such group: nothing misrouted
	}
	var b strings.Builder
	for s, evs := range got {
		if len(evs) > 0 {
			fmt.Fprintf(&b, "%d container log lines misrouted to the host group, stream %q (first: %.150q); ", len(evs), s, evs[0].msg)
		}
	}
	return b.String()
}
