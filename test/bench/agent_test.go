package main

import (
	"bufio"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/kinsight/kinsight/internal/agent/cri"
)

// TestCRITree checks the generator against the agent's own CRI parser: the
// files hold exactly the planned lines once partials are joined, links
// point at the pods' files, and the JSON and partial shares are near the
// asked ones.
func TestCRITree(t *testing.T) {
	pods, err := planPods(7, 12, 6000)
	if err != nil {
		t.Fatal(err)
	}
	sum := 0
	for i, p := range pods {
		p.UID = "uid-" + string(rune('a'+i))
		sum += p.Lines
		if len(p.ContainerID) != 64 {
			t.Errorf("%s: container id %q", p.Name, p.ContainerID)
		}
	}
	if sum != 6000 {
		t.Fatalf("planned %d lines, want 6000", sum)
	}
	loghub, err := loadLoghub(defaultLoghubDir())
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	end := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	tree, err := writeCRITree(pods, criTreeOptions{Root: root, Seed: 7, JSONShare: 0.3, PartialShare: 0.05,
		End: end, Span: time.Hour, Loghub: loghub})
	if err != nil {
		t.Fatal(err)
	}
	if err := linkPods(pods); err != nil {
		t.Fatal(err)
	}
	if tree.Lines != 6000 || tree.CRILines <= tree.Lines || tree.Partials == 0 {
		t.Errorf("tree = %+v", tree)
	}
	if share := float64(tree.JSON) / float64(tree.Lines); share < 0.25 || share > 0.35 {
		t.Errorf("JSON share %.3f, want about 0.3", share)
	}
	records, jsonRecs := 0, 0
	for _, p := range pods {
		target, err := os.Readlink(p.LinkPath)
		if err != nil || target != p.LogPath {
			t.Errorf("%s → %q (%v), want %s", p.LinkPath, target, err, p.LogPath)
		}
		if !strings.Contains(p.LogPath, p.Namespace+"_"+p.Name+"_"+p.UID) {
			t.Errorf("log path %s lacks the pod directory", p.LogPath)
		}
		parser, err := cri.NewParser(cri.DefaultOptions(), 0)
		if err != nil {
			t.Fatal(err)
		}
		f, err := os.Open(p.LinkPath)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		var off int64
		n := 0
		var last time.Time
		for sc.Scan() {
			off += int64(len(sc.Bytes()) + 1)
			for _, r := range parser.Feed(sc.Bytes(), off, end) {
				n++
				if r.Time.Before(last) || !r.Time.Before(end) || r.Time.Before(end.Add(-time.Hour)) {
					t.Fatalf("%s: record %d at %s (previous %s)", p.Name, n, r.Time, last)
				}
				last = r.Time
				if r.Message[0] == '{' {
					jsonRecs++
				}
			}
		}
		f.Close()
		n += len(parser.Flush(end, true))
		if st := parser.Stats(); st.InvalidLines != 0 {
			t.Errorf("%s: %d invalid CRI lines", p.Name, st.InvalidLines)
		}
		if n != p.Lines {
			t.Errorf("%s: parser made %d records, planned %d", p.Name, n, p.Lines)
		}
		records += n
	}
	if records != tree.Lines || jsonRecs != tree.JSON {
		t.Errorf("records %d (JSON %d), tree %+v", records, jsonRecs, tree)
	}
}

func TestAppendCRI(t *testing.T) {
	ts := time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)
	tests := []struct {
		msg   string
		parts int
		want  string
	}{
		{"hello", 1, "2026-01-02T03:04:05.000000006Z stdout F hello\n"},
		{"abcdef", 2, "2026-01-02T03:04:05.000000006Z stdout P abc\n2026-01-02T03:04:05.000000006Z stdout F def\n"},
		{"abcde", 3, "2026-01-02T03:04:05.000000006Z stdout P ab\n2026-01-02T03:04:05.000000006Z stdout P cd\n2026-01-02T03:04:05.000000006Z stdout F e\n"},
		{"ab", 3, "2026-01-02T03:04:05.000000006Z stdout P a\n2026-01-02T03:04:05.000000006Z stdout F b\n"},
	}
	for _, tt := range tests {
		if got := string(appendCRI(nil, ts, "stdout", []byte(tt.msg), tt.parts)); got != tt.want {
			t.Errorf("appendCRI(%q, %d) =\n%q\nwant\n%q", tt.msg, tt.parts, got, tt.want)
		}
	}
}

func TestParseWriteTime(t *testing.T) {
	ns := time.Date(2026, 11, 22, 3, 0, 0, 123456789, time.UTC).UnixNano()
	tok := writeToken(ns)
	tests := []struct {
		in   string
		want int64
		ok   bool
	}{
		{tok + " GET /index.html", ns, true},
		// As the tail endpoint sends it: inside an escaped JSON record, twice with Merge_Log.
		{`{"message":"{\"log\":\"{\\\"msg\\\":\\\"` + tok + ` x\\\"}\",\"log_processed\":{\"msg\":\"` + tok + ` x\"}}"}`, ns, true},
		{"WT12Z WTxxxxxxxxxxxxxxxxxxxZ " + tok, ns, true},
		{"no token", 0, false},
		{"WT123", 0, false},
	}
	for _, tt := range tests {
		got, ok := parseWriteTime([]byte(tt.in))
		if got != tt.want || ok != tt.ok {
			t.Errorf("parseWriteTime(%q) = %d, %v; want %d, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func FuzzParseWriteTime(f *testing.F) {
	f.Add([]byte(writeToken(1)))
	f.Add([]byte("WT000000000000000000Z"))
	f.Fuzz(func(t *testing.T, b []byte) {
		n, ok := parseWriteTime(b)
		if ok && !strings.Contains(string(b), writeToken(n)) {
			t.Fatalf("parsed %d from %q, which lacks its token", n, b)
		}
	})
}

func TestDueLinesAndPercentile(t *testing.T) {
	for _, tt := range []struct {
		rate    float64
		elapsed time.Duration
		total   int
		want    int
	}{
		{10000, 10 * time.Millisecond, 600000, 100},
		{10000, 1500 * time.Millisecond, 600000, 15000},
		{10000, 2 * time.Minute, 600000, 600000},
		{10000, 0, 10, 0},
	} {
		if got := dueLines(tt.rate, tt.elapsed, tt.total); got != tt.want {
			t.Errorf("dueLines(%v, %v, %d) = %d, want %d", tt.rate, tt.elapsed, tt.total, got, tt.want)
		}
	}
	var d []time.Duration
	for i := 1; i <= 100; i++ {
		d = append(d, time.Duration(i)*time.Millisecond)
	}
	for _, tt := range []struct {
		p    float64
		want time.Duration
	}{{0.5, 50 * time.Millisecond}, {0.99, 99 * time.Millisecond}, {1, 100 * time.Millisecond}, {0, time.Millisecond}} {
		if got := percentile(d, tt.p); got != tt.want {
			t.Errorf("percentile(%v) = %v, want %v", tt.p, got, tt.want)
		}
	}
	if percentile(nil, 0.99) != 0 {
		t.Error("percentile of nothing is not 0")
	}
}
