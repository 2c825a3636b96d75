package cri

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestMultilinePresets joins real stack traces written by each runtime's
// logger, fed as CRI lines, and checks the records' first and last lines.
func TestMultilinePresets(t *testing.T) {
	for _, tc := range []struct {
		file, preset string
		want         [][2]string // first and last line of each record
	}{
		{"java.log", PresetJava, [][2]string{
			{"2024-01-02 03:04:05.123 INFO  [main] c.e.App - Started App in 2.3 seconds", ""},
			{"2024-01-02 03:04:06.456 ERROR [http-nio-8080-exec-1] c.e.OrderController - order failed", "\t\tat org.postgresql.core.PGStream.close(PGStream.java:10)"},
			{"2024-01-02 03:04:07.000 WARN  [main] c.e.App - slow request 1200ms", ""},
		}},
		{"python.log", PresetPython, [][2]string{
			{"2024-01-02 03:04:05,123 INFO worker started", ""},
			{"2024-01-02 03:04:06,456 ERROR job 7 failed", "app.errors.JobError: 7"},
			{"2024-01-02 03:04:07,000 INFO worker idle", ""},
		}},
		{"go.log", PresetGo, [][2]string{
			{"starting server on :8080", ""},
			{"panic: runtime error: invalid memory address or nil pointer dereference", "exit status 2"},
			{"server restarted", ""},
		}},
		{"go.log", "", nil}, // presets merged still join Go panics
	} {
		t.Run(tc.file+"/"+tc.preset, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("testdata", tc.file))
			if err != nil {
				t.Fatal(err)
			}
			names := []string{tc.preset}
			want := tc.want
			if tc.preset == "" {
				names = []string{PresetJava, PresetPython, PresetGo}
				want = [][2]string{{"starting server on :8080", ""}, {"panic: runtime error: invalid memory address or nil pointer dereference", "exit status 2"}, {"server restarted", ""}}
			}
			ml, err := MultilinePreset(names...)
			if err != nil {
				t.Fatal(err)
			}
			var steps []step
			lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
			for _, l := range lines {
				steps = append(steps, step{line: ts + " stderr F " + l})
			}
			steps = append(steps, step{force: true})
			got := run(t, Options{Multiline: ml}, steps)
			if len(got) != len(want) {
				t.Fatalf("%d records, want %d:\n%s", len(got), len(want), strings.Join(got, "\n---\n"))
			}
			total := 0
			for i, r := range got {
				msg := strings.TrimPrefix(r[:strings.LastIndexByte(r, '@')], "stderr|")
				rl := strings.Split(msg, "\n")
				total += len(rl)
				if rl[0] != want[i][0] || (want[i][1] != "" && rl[len(rl)-1] != want[i][1]) || (want[i][1] == "" && len(rl) != 1) {
					t.Errorf("record %d:\n%s\nwant first %q last %q", i, msg, want[i][0], want[i][1])
				}
			}
			if total != len(lines) {
				t.Errorf("records hold %d lines, the file %d", total, len(lines))
			}
		})
	}
}

func TestMultilineCapsAndTimeout(t *testing.T) {
	java, _ := MultilinePreset(PresetJava)
	capped := *java
	capped.MaxLines = 2
	bytesCapped := *java
	bytesCapped.MaxBytes = 8
	for _, tc := range []struct {
		name  string
		ml    *Multiline
		steps []step
		want  []string
	}{
		{"max lines", &capped, append(feed(ts+" stdout F A", ts+" stdout F  1", ts+" stdout F  2", ts+" stdout F B"), step{force: true}),
			[]string{"stdout|A\n 1|P@2", "stdout| 2@3", "stdout|B@4"}},
		{"max bytes", &bytesCapped, append(feed(ts+" stdout F Abc", ts+" stdout F  12", ts+" stdout F  34"), step{force: true}),
			[]string{"stdout|Abc\n 12|P@2", "stdout| 34@3"}},
		{"timeout", java, []step{{line: ts + " stdout F A"}, {line: ts + " stdout F  1"}, {flush: 999 * time.Millisecond}, {flush: time.Millisecond}, {line: ts + " stdout F  late"}, {force: true}},
			[]string{"stdout|A\n 1@2", "stdout| late@3"}},
		{"streams kept apart", java, append(feed(ts+" stdout F A", ts+" stderr F E", ts+" stdout F  a", ts+" stderr F  e", ts+" stdout F B"), step{force: true}),
			[]string{"stdout|A\n a@1", "stderr|E\n e@4", "stdout|B@5"}},
		{"partial lines joined before multi-line", java, append(feed(ts+" stdout P Ex", ts+" stdout F ception", ts+" stdout P \tat ", ts+" stdout F x.y()"), step{force: true}),
			[]string{"stdout|Exception\n\tat x.y()@4"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := run(t, Options{Multiline: tc.ml}, tc.steps)
			if strings.Join(got, "\n~\n") != strings.Join(tc.want, "\n~\n") {
				t.Errorf("got\n%q\nwant\n%q", got, tc.want)
			}
		})
	}
	if _, err := MultilinePreset("cobol"); err == nil {
		t.Error("unknown preset accepted")
	}
	if _, err := MultilinePreset(); err == nil {
		t.Error("no preset accepted")
	}
}
