package pipeline

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kinsight/kinsight/internal/agent/output/cloudwatch"
)

// recorder is a Sender that keeps every event it is given.
type recorder struct {
	mu     sync.Mutex
	events []cloudwatch.Event
}

func (r *recorder) Send(_ context.Context, _, _ string, events []cloudwatch.Event) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, e := range events {
		e.Message = strings.Clone(e.Message)
		r.events = append(r.events, e)
	}
	return nil
}

func (r *recorder) wait(t *testing.T, n int) []cloudwatch.Event {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		r.mu.Lock()
		got := len(r.events)
		r.mu.Unlock()
		if got >= n {
			r.mu.Lock()
			defer r.mu.Unlock()
			return append([]cloudwatch.Event(nil), r.events...)
		}
		if time.Now().After(deadline) {
			t.Fatalf("got %d events, want %d", got, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestPositionsRepeatAfterRestart: reading the same files again (an agent
// that lost its checkpoint, the worst case of a restart) gives every record
// the same (source, channel, end) as the first time, which is what lets
// the server skip what it already has. Ends grow per channel and the
// channels are what the contract says.
func TestPositionsRepeatAfterRestart(t *testing.T) {
	logDir := t.TempDir()
	for _, d := range []string{"host", "containers"} {
		if err := os.MkdirAll(filepath.Join(logDir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	ctr := filepath.Join(logDir, "containers", "web-1_shop_app-"+strings.Repeat("ab", 32)+".log")
	base := time.Now().Add(-time.Minute).UTC()
	var lines []string
	for i := range 200 {
		ts := base.Add(time.Duration(i) * time.Millisecond).Format(time.RFC3339Nano)
		switch {
		case i%5 == 1:
			lines = append(lines, fmt.Sprintf("%s stderr F error %d", ts, i))
		case i%7 == 3:
			lines = append(lines, fmt.Sprintf("%s stdout P line %d part-a ", ts, i), ts+" stdout F part-b")
		case i == 50: // runtime-split parts joined past the 1 MiB record cap: cut in pieces
			for range 9 {
				lines = append(lines, ts+" stdout P "+strings.Repeat("x", 250<<10))
			}
			lines = append(lines, ts+" stdout F end")
		default:
			lines = append(lines, fmt.Sprintf("%s stdout F line %d", ts, i))
		}
	}
	appendFile(t, ctr, lines...)
	appendFile(t, filepath.Join(logDir, "host", "syslog"), "Nov 22 02:40:00 node-1 kernel: one", "Nov 22 02:40:01 node-1 kernel: two")
	const want = 200 + 2 + 2 // two more pieces of the 2.2 MiB line, two host lines

	run := func() []cloudwatch.Event {
		rec := &recorder{}
		r := startWith(t, "127.0.0.1:1", logDir, t.TempDir(), func(c *Config) { c.Sender = rec })
		got := rec.wait(t, want)
		if err := r.stop(); err != nil {
			t.Fatalf("Run: %v", err)
		}
		return got
	}
	first, again := run(), run()
	type pos struct {
		source  uint64
		channel uint8
		end     int64
	}
	byPos := map[pos]string{}
	last := map[[2]uint64]int64{}
	for _, e := range first {
		if e.End <= 0 || e.Source == 0 {
			t.Fatalf("event without a position: %+v", e)
		}
		wantCh := uint8(1)
		switch {
		case strings.Contains(e.Message, `"stream":"stderr"`):
			wantCh = 2
		case !strings.HasPrefix(e.Message, "{"):
			wantCh = 0
		}
		if e.Channel != wantCh {
			t.Fatalf("channel %d, want %d: %.80s", e.Channel, wantCh, e.Message)
		}
		k := [2]uint64{e.Source, uint64(e.Channel)}
		if e.End <= last[k] {
			t.Fatalf("end %d after %d in one channel: %.80s", e.End, last[k], e.Message)
		}
		last[k] = e.End
		byPos[pos{e.Source, e.Channel, e.End}] = e.Message
	}
	if len(byPos) != want || len(again) != want {
		t.Fatalf("%d distinct positions, %d events re-read; want %d", len(byPos), len(again), want)
	}
	for _, e := range again {
		p := pos{e.Source, e.Channel, e.End}
		if msg, ok := byPos[p]; !ok || msg != e.Message {
			t.Fatalf("re-read gives %+v to %.80s, first read to %.80s", p, e.Message, msg)
		}
	}
}
