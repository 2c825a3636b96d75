package tail

import (
	"os"
	"path/filepath"
	"testing"
)

func TestCheckpointsAckFlushReload(t *testing.T) {
	path := filepath.Join(t.TempDir(), "offsets.json")
	cp, err := OpenCheckpoints(path)
	if err != nil {
		t.Fatal(err)
	}
	a := FileID{Dev: 1, Ino: 2, Head: "abc"}
	steps := []struct {
		id   FileID
		off  int64
		want int64
		head string
	}{
		{a, 10, 10, "abc"},
		{a, 5, 10, "abc"}, // out of order: highest wins
		{FileID{Dev: 1, Ino: 2, Head: "abcdef"}, 20, 20, "abcdef"}, // head grew
		{FileID{Dev: 1, Ino: 2, Head: "zzz"}, 3, 3, "zzz"},         // other content on the inode
	}
	for i, s := range steps {
		cp.Ack(s.id, s.off)
		got, ok := cp.Lookup(FileID{Dev: 1, Ino: 2, Head: s.head})
		if !ok || got != s.want {
			t.Fatalf("step %d: Lookup = %d %v, want %d", i, got, ok, s.want)
		}
	}
	if _, ok := cp.Lookup(a); ok {
		t.Fatal("old content still matches after replacement")
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatal("checkpoint file written before Flush")
	}
	if err := cp.Flush(); err != nil {
		t.Fatal(err)
	}
	re, err := OpenCheckpoints(path)
	if err != nil {
		t.Fatal(err)
	}
	if got, ok := re.Lookup(FileID{Dev: 1, Ino: 2, Head: "zzz"}); !ok || got != 3 {
		t.Fatalf("reloaded = %d %v", got, ok)
	}
	ents, _ := os.ReadDir(filepath.Dir(path))
	if len(ents) != 1 {
		t.Fatalf("temp files left behind: %v", ents)
	}
	if err := os.WriteFile(path, []byte("{garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenCheckpoints(path); err == nil {
		t.Fatal("corrupt checkpoint file accepted")
	}
}

func FuzzDecodeCheckpoints(f *testing.F) {
	b, _ := encodeCheckpoints(map[fileKey]*cpEntry{{1, 2}: {Head: "x\n", Offset: 7}})
	f.Add(b)
	f.Add([]byte(`{"version":1,"files":[{"dev":1,"ino":2,"head":"AAE=","offset":-1}]}`))
	f.Add([]byte(`{"version":1,"files":[{"dev":1,"ino":2,"head":"AAE=","offset":3,"path":"/var/log/containers/a.log"}]}`))
	f.Add([]byte(`{"version":2}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := decodeCheckpoints(data)
		if err != nil {
			return
		}
		// What decodes re-encodes and decodes to the same offsets.
		enc, err := encodeCheckpoints(m)
		if err != nil {
			t.Fatal(err)
		}
		m2, err := decodeCheckpoints(enc)
		if err != nil {
			t.Fatalf("re-decode: %v", err)
		}
		if len(m2) != len(m) {
			t.Fatalf("entries %d != %d", len(m2), len(m))
		}
		for k, e := range m {
			if e.Offset < 0 || m2[k] == nil || m2[k].Offset != e.Offset || m2[k].Head != e.Head || m2[k].Path != e.Path {
				t.Fatalf("entry %v changed: %+v vs %+v", k, e, m2[k])
			}
		}
	})
}
