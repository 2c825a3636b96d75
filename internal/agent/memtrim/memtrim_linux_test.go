//go:build linux

package memtrim

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/sys/unix"
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

// TestRun trims repeatedly while other goroutines run code and read
// constants, and stops with ctx.
func TestRun(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, time.Millisecond) }()
	deadline := time.Now().Add(50 * time.Millisecond)
	for time.Now().Before(deadline) {
		if _, err := os.ReadFile("/proc/self/status"); err != nil {
			t.Fatal(err)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
}

// TestTrimAndEvict checks that the executable's read-only mappings carry
// the no-huge-pages and random-read advice (VmFlags "nh", "rr") after
// TrimAndEvict, and that the program keeps running.
func TestTrimAndEvict(t *testing.T) {
	if _, err := TrimAndEvict(); err != nil {
		t.Fatal(err)
	}
	exe, err := os.Readlink("/proc/self/exe")
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile("/proc/self/smaps")
	if err != nil {
		t.Skipf("no smaps: %v", err)
	}
	var inExe bool
	checked := 0
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 6 && strings.Contains(f[0], "-") {
			inExe = strings.Join(f[5:], " ") == exe && strings.HasPrefix(f[1], "r-") && strings.HasSuffix(f[1], "p")
			continue
		}
		if inExe && strings.HasPrefix(line, "VmFlags:") {
			checked++
			if !strings.Contains(line, " nh") || !strings.Contains(line, " rr") {
				t.Errorf("read-only mapping of the executable without nh and rr after TrimAndEvict: %s", line)
			}
		}
	}
	if checked == 0 {
		t.Fatal("no read-only mapping of the executable found in smaps")
	}
}

// TestMappedElsewhere finds another process's mapping of the same file in
// a /proc-like tree, by device and inode, and ignores this process's own.
func TestMappedElsewhere(t *testing.T) {
	proc := t.TempDir()
	exe := filepath.Join(proc, "exe-file")
	if err := os.WriteFile(exe, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	var st syscall.Stat_t
	if err := syscall.Stat(exe, &st); err != nil {
		t.Fatal(err)
	}
	line := fmt.Sprintf("00400000-01e17000 r-xp 00000000 %02x:%02x %d   /some/path\n",
		unix.Major(st.Dev), unix.Minor(st.Dev), st.Ino)
	write := func(pid, maps string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Join(proc, pid), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(proc, pid, "maps"), []byte(maps), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(filepath.Join(proc, "self"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(exe, filepath.Join(proc, "self", "exe")); err != nil {
		t.Fatal(err)
	}
	write(strconv.Itoa(os.Getpid()), line) // this process: not another
	write("1", "7f00-7f10 r--p 00000000 00:00 0\n")
	if got, err := mappedElsewhere(proc); err != nil || got {
		t.Fatalf("only this process maps it: got %v, %v", got, err)
	}
	write("2", "7f00-7f10 r--p 00000000 00:00 0\n"+line)
	if got, err := mappedElsewhere(proc); err != nil || !got {
		t.Fatalf("process 2 maps it: got %v, %v", got, err)
	}
}

// FuzzMapsFile checks that mapsFile never panics and finds a line that
// names the device and inode in the right fields whatever surrounds it.
func FuzzMapsFile(f *testing.F) {
	f.Add([]byte("00400000-01e17000 r-xp 00000000 fe:00 1234   /usr/bin/kinsight\n"), "fe:00", "1234")
	f.Add([]byte("7f00-7f10 r--p 00000000 00:00 0\n\n  \n"), "00:00", "0")
	f.Add([]byte("a b c fe:00"), "fe:00", "1")
	f.Fuzz(func(t *testing.T, maps []byte, dev, ino string) {
		_ = mapsFile(maps, dev, ino)
		if dev == "" || ino == "" || strings.ContainsFunc(dev+ino, unicode.IsSpace) || !utf8.ValidString(dev+ino) {
			return
		}
		line := append(append([]byte{}, maps...), []byte("\n1-2 r--p 0 "+dev+" "+ino+" /x\n")...)
		if !mapsFile(line, dev, ino) {
			t.Fatalf("did not find %s %s in a line naming them", dev, ino)
		}
	})
}
