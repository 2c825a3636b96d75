package logstore

import (
	"context"
	"fmt"
	"math/rand"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// Every substring of every message added must be reported as possibly
// contained; substrings of nothing added should mostly not be.
func TestBloomNoFalseNegatives(t *testing.T) {
	rng := rand.New(rand.NewSource(7))
	b := newBloomBuilder()
	var msgs []string
	for i := 0; i < 2000; i++ {
		m := fmt.Sprintf("req=%d user_%x path=/api/v%d/items ümlaut %s", rng.Int63(), rng.Int31(), rng.Intn(9), strings.Repeat("z", rng.Intn(5)))
		msgs = append(msgs, m)
		b.addMessage(m)
	}
	bits := b.build()
	for _, m := range msgs {
		for i := 0; i < len(m); i++ {
			for j := i + 1; j <= len(m) && j <= i+12; j++ {
				if !bloomMayContain(bits, m[i:j]) {
					t.Fatalf("false negative for %q of %q", m[i:j], m)
				}
			}
		}
	}
	fp := 0
	for i := 0; i < 1000; i++ {
		if bloomMayContain(bits, fmt.Sprintf("QXJ%dWVK", rng.Int63())) {
			fp++
		}
	}
	if fp > 20 {
		t.Fatalf("%d/1000 false positives for absent 6+ byte terms", fp)
	}
	b.reset()
	if len(b.keys) != 0 || b.seen[0] != 0 {
		t.Fatal("reset left state")
	}
}

// A filter for a rare term reads only the blocks that hold it.
func TestFilterSkipsBlocksByBloom(t *testing.T) {
	c := &clock{t: time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)}
	o := testOptions(c)
	o.HeadMaxBytes = 64 << 20
	s := mustOpen(t, t.TempDir(), o)
	defer s.Close()
	s.CreateGroup("g", Group{})
	s.CreateStream("g", "s")
	now := c.now().UnixMilli()
	var evs []InputEvent
	for i := 0; i < 20000; i++ {
		msg := fmt.Sprintf("GET /api/items/%d 200 %dms", i, i%97)
		if i == 12345 {
			msg += " RareToken42"
		}
		evs = append(evs, InputEvent{Timestamp: now - 3600_000 + int64(i), Message: msg})
	}
	for i := 0; i < len(evs); i += 5000 {
		if _, err := s.Append(context.Background(), "g", "s", evs[i:i+5000]); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	res, err := s.FilterEvents(context.Background(), "g", FilterQuery{Filter: substringFilter("RareToken42")})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Records) != 1 || !strings.HasSuffix(res.Records[0].Message, "RareToken42") {
		t.Fatalf("found %v", res.Records)
	}
	read := testutil.ToFloat64(s.m.blocksRead.WithLabelValues("read"))
	skipped := testutil.ToFloat64(s.m.blocksRead.WithLabelValues("skipped_bloom"))
	if read != 1 || skipped < 20 {
		t.Fatalf("read %v blocks, skipped %v by bloom; want 1 read and the rest skipped", read, skipped)
	}
}

type substringFilter string

func (f substringFilter) Match(m string) bool { return strings.Contains(m, string(f)) }
func (f substringFilter) MayMatch(mayContain func(string) bool) bool {
	return mayContain(string(f))
}
