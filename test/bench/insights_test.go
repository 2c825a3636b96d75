package main

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestGenerateLevels checks that Levels adds a "level" to every record,
// that ErrorEvents counts the errors, that the payments namespace has some,
// and that without Levels the corpus has no "level" (the log server
// benchmark's corpus is unchanged).
func TestGenerateLevels(t *testing.T) {
	for _, levels := range []bool{false, true} {
		o := smallCorpusOptions()
		o.Levels = levels
		c, err := Generate(o)
		if err != nil {
			t.Fatal(err)
		}
		errs := make([]int, len(c.Streams))
		seen := map[string]int{}
		for _, b := range c.Batches {
			var body struct {
				LogEvents []struct {
					Message string `json:"message"`
				} `json:"logEvents"`
			}
			if err := json.Unmarshal(b.Body, &body); err != nil {
				t.Fatal(err)
			}
			batchErrs := 0
			for _, e := range body.LogEvents {
				var rec struct {
					Level *string `json:"level"`
					Log   string  `json:"log"`
				}
				if err := json.Unmarshal([]byte(e.Message), &rec); err != nil {
					t.Fatal(err)
				}
				if !levels {
					if rec.Level != nil {
						t.Fatalf("level without Levels: %.200s", e.Message)
					}
					continue
				}
				if rec.Level == nil {
					t.Fatalf("no level: %.200s", e.Message)
				}
				if want := lineLevel([]byte(rec.Log)); *rec.Level != want {
					t.Fatalf("level %q, want %q for %q", *rec.Level, want, rec.Log)
				}
				seen[*rec.Level]++
				if *rec.Level == "error" {
					batchErrs++
				}
			}
			if batchErrs != b.Errors {
				t.Fatalf("batch counts %d errors, holds %d", b.Errors, batchErrs)
			}
			errs[b.Stream] += batchErrs
		}
		for i, s := range c.Streams {
			if s.ErrorEvents != errs[i] {
				t.Errorf("levels=%v stream %s: ErrorEvents %d, counted %d", levels, s.Name, s.ErrorEvents, errs[i])
			}
			if !strings.Contains(s.Name, "_"+s.Namespace+"_") {
				t.Errorf("stream %s: namespace %q", s.Name, s.Namespace)
			}
		}
		if !levels {
			continue
		}
		for _, l := range []string{"error", "warn", "info"} {
			if seen[l] == 0 {
				t.Errorf("no record at level %s: %v", l, seen)
			}
		}
		if sum := summarizeInsights(c); sum.PaymentsErrors == 0 || sum.PaymentsPods == 0 {
			t.Errorf("no payments errors: %+v", sum)
		}
	}
}

func TestLineLevel(t *testing.T) {
	for _, tc := range []struct{ line, want string }{
		{"081109 203615 148 INFO dfs.DataNode$PacketResponder: ok", "info"},
		{"2015-10-18 18:01:47,978 ERROR [main] failed", "error"},
		{"[Sun Dec 04 04:47:44 2005] [error] mod_jk child", "error"},
		{"2015-07-29 17:41:44,747 - WARN  [QuorumPeer] - oops", "warn"},
		{"17/06/09 20:10:40 FATAL executor lost", "error"},
		{"[notice] workerEnv.init() ok", "info"},
	} {
		if got := lineLevel([]byte(tc.line)); got != tc.want {
			t.Errorf("lineLevel(%q) = %q, want %q", tc.line, got, tc.want)
		}
	}
}
