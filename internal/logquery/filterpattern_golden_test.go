package logquery

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

var fpUpdate = flag.Bool("update", false, "rewrite the expectations in testdata/filterpatterns from the current results")

// The golden files hold blocks of lines:
//
//	# comment
//	pattern: <pattern, the rest of the line>     (pattern.q: a Go-quoted string)
//	match: <message that must match>            (match.q: Go-quoted)
//	nomatch: <message that must not match>      (nomatch.q: Go-quoted)
//	error: <the exact parse error>
//	maymatch: <text>        MayMatch over a block holding just this text is true
//	nomaymatch: <text>      MayMatch over a block holding just this text is false
//
// Every matching message is also checked for MayMatch soundness. With
// -update, match/nomatch and error lines are rewritten to what the code
// does now, so a change in behaviour shows up as a diff to review.
func TestFilterPatternGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/filterpatterns/*.txt")
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden files: %v", err)
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			out, n := fpRunGolden(t, file, string(data))
			if n == 0 {
				t.Fatalf("%s: no cases", file)
			}
			if *fpUpdate && out != string(data) {
				if err := os.WriteFile(file, []byte(out), 0o644); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

func fpGoldenArg(t *testing.T, where, key, rest string) string {
	if !strings.HasSuffix(key, ".q") {
		return rest
	}
	s, err := strconv.Unquote(rest)
	if err != nil {
		t.Fatalf("%s: bad quoted string %s: %v", where, rest, err)
	}
	return s
}

func fpGoldenLine(key, arg string, quoted bool) string {
	if quoted {
		return key + ".q: " + strconv.Quote(arg)
	}
	return key + ": " + arg
}

func fpRunGolden(t *testing.T, file, data string) (string, int) {
	var out []string
	var pat *FilterPattern
	var patErr error
	patText, havePattern, errorSeen := "", false, false
	ncases := 0
	// finish handles a block whose pattern failed to parse and had no
	// error line.
	finish := func(where string) {
		if havePattern && patErr != nil && !errorSeen {
			if *fpUpdate {
				out = append(out, "error: "+patErr.Error())
				return
			}
			t.Errorf("%s: pattern %q: unexpected error: %v", where, patText, patErr)
		}
	}
	lines := strings.Split(strings.TrimSuffix(data, "\n"), "\n")
	for i, line := range lines {
		where := file + ":" + strconv.Itoa(i+1)
		if strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#") {
			out = append(out, line)
			continue
		}
		key, rest, ok := strings.Cut(line, ": ")
		if !ok {
			key, rest, ok = strings.Cut(line, ":")
		}
		if !ok {
			t.Fatalf("%s: no directive in %q", where, line)
		}
		arg := fpGoldenArg(t, where, key, rest)
		quoted := strings.HasSuffix(key, ".q")
		base := strings.TrimSuffix(key, ".q")
		switch base {
		case "pattern":
			finish(where)
			patText, havePattern, errorSeen = arg, true, false
			pat, patErr = ParseFilterPattern(arg)
			ncases++
			if patErr == nil && pat.String() != arg {
				t.Errorf("%s: String() = %q, want %q", where, pat.String(), arg)
			}
			out = append(out, line)
			continue
		}
		if !havePattern {
			t.Fatalf("%s: %s before any pattern", where, base)
		}
		switch base {
		case "error":
			errorSeen = true
			ncases++
			if patErr == nil {
				if *fpUpdate {
					continue // drop the stale error line
				}
				t.Errorf("%s: pattern %q parsed, want error %q", where, patText, arg)
				out = append(out, line)
				continue
			}
			var fe *FilterPatternError
			if !errors.As(patErr, &fe) {
				t.Errorf("%s: error %T is not a *FilterPatternError", where, patErr)
			}
			if patErr.Error() != arg {
				if *fpUpdate {
					out = append(out, "error: "+patErr.Error())
					continue
				}
				t.Errorf("%s: pattern %q: error\n  got  %s\n  want %s", where, patText, patErr, arg)
			}
			out = append(out, line)
		case "match", "nomatch":
			ncases++
			if patErr != nil {
				out = append(out, line)
				continue
			}
			got := pat.Match(arg)
			if got {
				fpCheckSound(t, where, pat, arg)
			}
			if got != (base == "match") {
				if *fpUpdate {
					nk := "nomatch"
					if got {
						nk = "match"
					}
					out = append(out, fpGoldenLine(nk, arg, quoted))
					continue
				}
				t.Errorf("%s: pattern %q, message %q: Match = %v, want %v", where, patText, arg, got, !got)
			}
			out = append(out, line)
		case "maymatch", "nomaymatch":
			ncases++
			out = append(out, line)
			if patErr != nil {
				t.Errorf("%s: %s after a pattern that does not parse", where, base)
				continue
			}
			got := pat.MayMatch(func(sub string) bool { return strings.Contains(arg, sub) })
			if got != (base == "maymatch") {
				t.Errorf("%s: pattern %q, block %q: MayMatch = %v, want %v", where, patText, arg, got, !got)
			}
		default:
			t.Fatalf("%s: unknown directive %q", where, key)
		}
	}
	finish(file + ":end")
	return strings.Join(out, "\n") + "\n", ncases
}

// fpCheckSound checks the MayMatch contract on a message that matches: over
// a block holding just that message, with an exact substring oracle,
// MayMatch must say yes.
func fpCheckSound(t testing.TB, where string, p *FilterPattern, msg string) {
	t.Helper()
	if !p.MayMatch(func(sub string) bool { return strings.Contains(msg, sub) }) {
		t.Errorf("%s: pattern %q matches %q but MayMatch over it is false", where, p.String(), msg)
	}
}
