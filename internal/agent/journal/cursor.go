package journal

import (
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// loadCursor reads the saved cursor. A missing file is no cursor; a file
// that does not hold a plausible cursor is an error the caller counts and
// then ignores (starting over beats not starting).
func loadCursor(path string) (string, error) {
	if path == "" {
		return "", nil
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read cursor file: %w", err)
	}
	c := strings.TrimSpace(string(b))
	if !validCursor(c) {
		return "", fmt.Errorf("cursor file %s: not a journal cursor: %.64q", path, c)
	}
	return c, nil
}

// validCursor checks the shape journald gives cursors
// (s=…;i=…;b=…;m=…;t=…;x=…): one line of key=value pairs.
func validCursor(c string) bool {
	if c == "" || len(c) > 4096 || strings.ContainsAny(c, "\n\r\x00") {
		return false
	}
	for _, kv := range strings.Split(c, ";") {
		if k, _, ok := strings.Cut(kv, "="); !ok || k == "" {
			return false
		}
	}
	return true
}

// cursorTime is the realtime timestamp (t=, hex microseconds) inside a
// cursor, used to resume near it when journalctl rejects the cursor itself.
func cursorTime(c string) (time.Time, bool) {
	for _, kv := range strings.Split(c, ";") {
		if v, ok := strings.CutPrefix(kv, "t="); ok {
			us, err := strconv.ParseUint(v, 16, 63)
			if err != nil || us == 0 {
				return time.Time{}, false
			}
			return time.UnixMicro(int64(us)), true
		}
	}
	return time.Time{}, false
}

// saveCursor writes the cursor so that a crash at any point leaves either
// the old or the new cursor on disk: temporary file, fsync, rename, fsync
// of the directory (without it the rename itself may be lost).
func saveCursor(path, cursor string) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("save cursor: %w", err)
	}
	defer os.Remove(tmp.Name()) // no-op after a successful rename
	if _, err := tmp.WriteString(cursor + "\n"); err != nil {
		tmp.Close()
		return fmt.Errorf("save cursor: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("save cursor: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("save cursor: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("save cursor: %w", err)
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("save cursor: open dir: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("save cursor: fsync dir: %w", err)
	}
	return nil
}

// CursorPosition returns where a cursor's entry sits for exactly-once
// delivery: source, a hash of the seqnum id (the s= field, which names one
// journal file sequence), and seq, the seqnum (i=). ok is false when the
// cursor has no usable s= and i= (then the entry goes without a position).
func CursorPosition(cursor string) (source uint64, seq int64, ok bool) {
	var sid string
	found := false
	for f := range strings.SplitSeq(cursor, ";") {
		k, v, _ := strings.Cut(f, "=")
		switch k {
		case "s":
			sid = v
		case "i":
			n, err := strconv.ParseUint(v, 16, 63)
			if err != nil {
				return 0, 0, false
			}
			seq, found = int64(n), true
		}
	}
	if sid == "" || !found || seq <= 0 {
		return 0, 0, false
	}
	h := fnv.New64a()
	h.Write([]byte(sid))
	if source = h.Sum64(); source == 0 {
		source = 1
	}
	return source, seq, true
}
