package nodemetrics

import (
	"bytes"
	"os"
	"strings"
	"testing"
)

func FuzzParseMeminfo(f *testing.F) {
	if data, err := os.ReadFile(fixture + "/proc/meminfo"); err == nil {
		f.Add(data)
	}
	f.Add([]byte("MemTotal: 1 kB\nActive(anon): 2 kB\nHugePages_Total: 3\n"))
	f.Add([]byte("A((b)): 1e308 kB\n:\n\n x:NaN"))
	f.Fuzz(func(t *testing.T, data []byte) {
		var scratch []byte
		_ = parseMeminfo(data, &scratch, func(name []byte, v float64) {
			if len(name) == 0 {
				t.Fatalf("empty name from %q", data)
			}
			if bytes.ContainsAny(name, ": \t\n") {
				t.Fatalf("name %q holds a separator", name)
			}
		})
	})
}

func FuzzParseMounts(f *testing.F) {
	if data, err := os.ReadFile(fixture + "/proc/1/mounts"); err == nil {
		f.Add(data)
	}
	f.Add([]byte("/dev/a /x\\040y ext4 rw 0 0\n/dev/b /\\1 xfs ro\n"))
	f.Add([]byte("a b c\n\\\\\\ \\777 \\000 d"))
	f.Fuzz(func(t *testing.T, data []byte) {
		ms, err := parseMounts(data, nil)
		if err == nil && len(ms) > bytes.Count(data, []byte("\n"))+1 {
			t.Fatalf("%d mounts from %d lines", len(ms), bytes.Count(data, []byte("\n"))+1)
		}
		for _, m := range ms {
			if m.device == "" || m.fsType == "" || m.options == "" {
				t.Fatalf("empty field in %+v", m)
			}
			if len(m.mountPoint) > 0 && strings.Contains(m.device, " ") {
				t.Fatalf("device with a space: %q", m.device)
			}
		}
	})
}

func FuzzParseUdev(f *testing.F) {
	if data, err := os.ReadFile(fixture + "/udev/b254:0"); err == nil {
		f.Add(data)
	}
	f.Add([]byte("E:A=B=C\nE:\nE:=x\nS:y\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		m := map[string]string{}
		parseUdev(data, m)
		if len(m) > bytes.Count(data, []byte("E:")) {
			t.Fatalf("%d properties from %q", len(m), data)
		}
	})
}
