package cli

import (
	"bufio"
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// runConfig runs `kinsight config ARGS`.
func runConfig(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errOut bytes.Buffer
	cmd := newConfigCmd(&Env{Getenv: func(string) string { return "" }, Stdout: &out, Stderr: &errOut})
	cmd.SetArgs(args)
	cmd.SetOut(&errOut)
	cmd.SetErr(&errOut)
	cmd.SilenceErrors, cmd.SilenceUsage = true, true
	err = cmd.Execute()
	return out.String(), errOut.String(), err
}

// TestConfigCheckFixtures runs the command over the config package's
// fixtures: good files print "FILE: ok", bad ones print one line per
// problem, each naming a key, and every key the fixture lists is named.
func TestConfigCheckFixtures(t *testing.T) {
	good, _ := filepath.Glob("../config/testdata/*.good.yaml")
	bad, _ := filepath.Glob("../config/testdata/*.bad.yaml")
	if len(good) == 0 || len(bad) == 0 {
		t.Fatalf("found %d good and %d bad fixtures", len(good), len(bad))
	}
	for _, path := range good {
		out, errOut, err := runConfig(t, "check", path)
		if err != nil || out != path+": ok\n" || errOut != "" {
			t.Errorf("%s: err %v, stdout %q, stderr %q", path, err, out, errOut)
		}
	}
	for _, path := range bad {
		t.Run(filepath.Base(path), func(t *testing.T) {
			keys := firstLineKeys(t, path)
			out, errOut, err := runConfig(t, "check", path)
			if !errors.Is(err, errSilent) || out != "" {
				t.Fatalf("err %v, stdout %q; want errSilent and nothing on stdout", err, out)
			}
			lines := strings.Split(strings.TrimSuffix(errOut, "\n"), "\n")
			if len(lines) < len(keys) {
				t.Fatalf("%d lines for %d keys:\n%s", len(lines), len(keys), errOut)
			}
			for _, line := range lines {
				if !strings.HasPrefix(line, path+": ") || !containsAny(line, keys) {
					t.Errorf("line %q does not start with the file or name a key of %v", line, keys)
				}
			}
			for _, k := range keys {
				if !strings.Contains(errOut, k) {
					t.Errorf("no line names %s:\n%s", k, errOut)
				}
			}
		})
	}
}

func firstLineKeys(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Scan()
	rest, ok := strings.CutPrefix(sc.Text(), "# key:")
	if !ok {
		t.Fatalf("first line %q is not '# key: …'", sc.Text())
	}
	var keys []string
	for _, k := range strings.Split(rest, ",") {
		if k = strings.TrimSpace(k); k != "" {
			keys = append(keys, k)
		}
	}
	return keys
}

func containsAny(s string, subs []string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

// TestConfigCheckNamesKeysOfLineErrors covers errors config reports by line
// only (bad values, wrong types, unknown keys): the command names the key
// found at that line.
func TestConfigCheckNamesKeysOfLineErrors(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want []string
	}{
		{name: "byte size", yaml: "server:\n  max_request_bytes: lots\n",
			want: []string{`server.max_request_bytes: line 2: invalid byte size "lots"`}},
		{name: "duration", yaml: "server:\n  logs:\n    flush_interval: 5x\n",
			want: []string{`server.logs.flush_interval: line 3: invalid duration "5x"`}},
		{name: "every bad value", yaml: "server:\n  shutdown_timeout: 5x\n  max_request_bytes: lots\n  listn: a\n",
			want: []string{`server.shutdown_timeout: line 2: invalid duration "5x"`, `server.max_request_bytes: line 3: invalid byte size "lots"`, "server.listn: line 4: field listn not found"}},
		{name: "types", yaml: "server:\n  insecure: maybe\n  region: [a, b]\n",
			want: []string{"server.insecure: line 2: cannot unmarshal", "server.region: line 3: cannot unmarshal !!seq"}},
		{name: "unknown nested key", yaml: "server:\n  auth:\n    access_keys:\n      - id: a\n        secret: s\n        rol: admin\n",
			want: []string{"server.auth.access_keys[0].rol: line 6: field rol not found"}},
		{name: "syntax", yaml: "server:\n  listen: [a\n",
			want: []string{"yaml: line"}},
	}
	dir := t.TempDir()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "_")+".yaml")
			if err := os.WriteFile(path, []byte(tc.yaml), 0o644); err != nil {
				t.Fatal(err)
			}
			_, errOut, err := runConfig(t, "check", path)
			if !errors.Is(err, errSilent) {
				t.Fatalf("err = %v", err)
			}
			lines := strings.Split(strings.TrimSuffix(errOut, "\n"), "\n")
			if len(lines) != len(tc.want) {
				t.Fatalf("got %d lines, want %d:\n%s", len(lines), len(tc.want), errOut)
			}
			for i, w := range tc.want {
				if !strings.HasPrefix(lines[i], path+": "+w) {
					t.Errorf("line %d = %q\nwant prefix %q", i, lines[i], path+": "+w)
				}
			}
		})
	}
}

func TestConfigCheckSeveralFiles(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	os.WriteFile(good, []byte("log:\n  level: warn\n"), 0o644)
	missing := filepath.Join(dir, "missing.yaml")
	out, errOut, err := runConfig(t, "check", good, missing, good)
	if !errors.Is(err, errSilent) {
		t.Fatalf("err = %v; one bad file must fail the command", err)
	}
	if out != good+": ok\n"+good+": ok\n" {
		t.Fatalf("stdout = %q; every good file is reported, also after a bad one", out)
	}
	if errOut != missing+": no such file or directory\n" {
		t.Fatalf("stderr = %q", errOut)
	}
	if _, _, err := runConfig(t, "check"); err == nil {
		t.Fatal("check without a file succeeded")
	}
}

func TestKeysByLine(t *testing.T) {
	doc := `server:
  listen: 127.0.0.1:8470
  auth:
    access_keys:
      - id: a
        role: admin
      -
        id: b
  logs: {flush_interval: 1m}
log:
  level: info
`
	want := map[int]string{
		1: "server", 2: "server.listen", 3: "server.auth", 4: "server.auth.access_keys",
		5: "server.auth.access_keys[0].id", 6: "server.auth.access_keys[0].role",
		8: "server.auth.access_keys[1].id", // the bare "-" line holds no node
		9: "server.logs", 10: "log", 11: "log.level",
	}
	got := keysByLine([]byte(doc))
	for line, w := range want {
		if got[line] != w {
			t.Errorf("line %d = %q, want %q", line, got[line], w)
		}
	}
	if len(keysByLine([]byte("a: [b"))) != 0 {
		t.Error("unparsable YAML gave keys")
	}
}

func FuzzConfigErrorLines(f *testing.F) {
	f.Add([]byte("server:\n  listen: x\n"), "yaml: unmarshal errors:\n  line 2: cannot unmarshal")
	f.Add([]byte("a:\n  - b: {c: [d]}\n"), "line 2: bad\nx.y must be > 0")
	f.Add([]byte("&a x: *a\n"), "line 1: alias")
	f.Add([]byte(""), "")
	f.Fuzz(func(t *testing.T, data []byte, msg string) {
		lines := configErrorLines("f.yaml", errors.New(msg), data)
		if len(lines) == 0 {
			t.Fatal("no lines for an error")
		}
		for _, l := range lines {
			if strings.Contains(l, "\n") {
				t.Fatalf("line %q holds a newline", l)
			}
		}
	})
}

func TestRunConfigCheckExitCodes(t *testing.T) {
	getenv := func(string) string { return "" }
	var out, errOut bytes.Buffer
	if code := Run(t.Context(), []string{"config", "check", "../config/testdata/full.good.yaml"}, getenv, nil, &out, &errOut); code != 0 {
		t.Fatalf("good file: exit %d, stderr %q", code, errOut.String())
	}
	out.Reset()
	code := Run(t.Context(), []string{"config", "check", "../config/testdata/log_level.bad.yaml"}, getenv, nil, &out, &errOut)
	if code != 1 {
		t.Fatalf("bad file: exit %d", code)
	}
	if strings.Contains(errOut.String(), "kinsight:") || strings.Count(errOut.String(), "\n") != 1 {
		t.Fatalf("stderr = %q; want only the problem, printed once", errOut.String())
	}
}
