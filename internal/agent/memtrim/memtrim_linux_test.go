//go:build linux

package memtrim

import (
	"os"
	"strings"
	"testing"
)

func TestReadOnlyMapping(t *testing.T) {
	const exe = "/usr/bin/kin sight"
	for _, c := range []struct {
		line string
		ok   bool
	}{
		{"00400000-01e17000 r-xp 00000000 fd:01 1234   /usr/bin/kin sight", true},
		{"01e17000-03955000 r--p 01a17000 fd:01 1234   /usr/bin/kin sight", true},
		{"03955000-03a00000 rw-p 03555000 fd:01 1234   /usr/bin/kin sight", false}, // data: never
		{"00400000-01e17000 r-xs 00000000 fd:01 1234   /usr/bin/kin sight", false},
		{"00400000-01e17000 r-xp 00000000 fd:01 1234   /usr/bin/other", false},
		{"7f00-7f10 r--p 00000000 00:00 0", false},
		{"zz-01 r--p 00000000 fd:01 1234 /usr/bin/kin sight", false},
	} {
		_, _, ok := readOnlyMapping(c.line, exe)
		if ok != c.ok {
			t.Errorf("%q: ok = %v, want %v", c.line, ok, c.ok)
		}
	}
}

// TestTrim drops the test binary's read-only pages and keeps running:
// code and constants fault back in.
func TestTrim(t *testing.T) {
	n, err := Trim()
	if err != nil {
		t.Fatal(err)
	}
	if n <= 0 {
		t.Fatalf("Trim advised %d bytes; the test binary has read-only mappings", n)
	}
	// Run code and read constants after the trim.
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "RssFile") {
		t.Fatalf("status has no RssFile: %.200s", b)
	}
	if _, err := Trim(); err != nil {
		t.Fatal(err)
	}
}
