package cri

import (
	"fmt"
	"regexp"
)

// Multiline joins the lines of one application record (a stack trace) into
// one log record. A line starts a new record when it matches one of Start and
// none of Continue; every other line is appended to the record being built,
// with "\n" between lines. Continue exists because RE2 has no negative
// look-ahead: "starts with a non-blank, except Caused by:" is Start ^\S plus
// Continue ^Caused by:.
type Multiline struct {
	// Start matches the first line of a record.
	Start []*regexp.Regexp
	// Continue matches lines that never start a record even when they match Start.
	Continue []*regexp.Regexp
	// MaxLines caps the lines in one record; the next line starts a new one
	// (and the cut record is marked Partial). Default 1000.
	MaxLines int
	// MaxBytes caps the bytes of one record in the same way. Default: the
	// parser's MaxRecordBytes.
	MaxBytes int
}

// Preset names accepted by MultilinePreset.
const (
	PresetJava   = "java"
	PresetPython = "python"
	PresetGo     = "go"
)

// Every preset starts a record at a line that begins with a non-blank; they
// differ in the unindented lines that still belong to the record before.
var presetContinue = map[string][]string{
	// "Caused by: …" and "Suppressed: …" chain exceptions; "... 12 more" is
	// indented already. Logback and log4j print the exception's class on its
	// own unindented line after the message, so a qualified class name
	// ending in Exception/Error/Throwable continues the record too.
	PresetJava: {
		`^\s`,
		`^Caused by: `,
		`^Suppressed: `,
		`^(?:[a-zA-Z_$][\w$]*\.)+[A-Z][\w$]*(?:Exception|Error|Throwable)(?::|$)`,
	},
	// logging.exception prints the message line then the traceback, whose last
	// line is the unindented "module.SomeError: text".
	PresetPython: {
		`^\s`,
		`^Traceback \(most recent call last\):`,
		`^During handling of the above exception, another exception occurred:`,
		`^The above exception was the direct cause of the following exception:`,
		`^(?:[A-Za-z_][\w]*\.)*[A-Za-z_]\w*(?:Error|Exception|Exit|Interrupt|Warning|Iteration|Fault)(?::|$)`,
	},
	// A panic: "goroutine N [state]:", unindented "pkg.Func(args)" frames,
	// "created by …", "[signal …]" and "exit status 2".
	PresetGo: {
		`^\s`,
		`^goroutine \d+ \[`,
		`^[^\s(]+\(.*\)$`,
		`^created by `,
		`^\[signal `,
		`^\.\.\.additional frames elided\.\.\.`,
		`^exit status \d+$`,
	},
}

// MultilinePreset returns the rule for one or more presets ("java", "python",
// "go"); several presets are merged (their Continue patterns are unioned).
func MultilinePreset(names ...string) (*Multiline, error) {
	if len(names) == 0 {
		return nil, fmt.Errorf("multiline preset: no name given")
	}
	m := &Multiline{Start: []*regexp.Regexp{regexp.MustCompile(`^\S`)}}
	seen := map[string]bool{}
	for _, n := range names {
		pats, ok := presetContinue[n]
		if !ok {
			return nil, fmt.Errorf("multiline preset %q: unknown (want java, python or go)", n)
		}
		for _, p := range pats {
			if !seen[p] {
				seen[p] = true
				m.Continue = append(m.Continue, regexp.MustCompile(p))
			}
		}
	}
	return m, nil
}

func (m *Multiline) isStart(line []byte) bool {
	start := false
	for _, re := range m.Start {
		if re.Match(line) {
			start = true
			break
		}
	}
	if !start {
		return false
	}
	for _, re := range m.Continue {
		if re.Match(line) {
			return false
		}
	}
	return true
}
