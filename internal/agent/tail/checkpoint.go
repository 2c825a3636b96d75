package tail

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"
)

// Checkpoints holds, per file identity, the offset the consumer has
// acknowledged (everything before it was delivered). Only acknowledged
// positions are ever persisted — plus the tailer's deliberate skips
// (start_at: end, rotations older than the first run) — never the tailer's
// read position.
// Safe for concurrent use: the tailer looks offsets up and touches
// identities, the delivery side calls Ack and Flush.
type Checkpoints struct {
	path string
	now  func() time.Time

	mu      sync.Mutex
	entries map[fileKey]*cpEntry
	paths   map[fileKey]*pathNote // include-matched names of tracked identities, for Ack to record
	links   map[fileKey]*cpLink   // content now read from another inode (its .gz or copy)
	dirty   bool
	// epoch numbers the encodes of Flush (the next one is epoch), saved
	// is the last one written; an entry whose pending epoch is above saved
	// is not on disk yet (see Persisted).
	epoch, saved uint64

	flushMu sync.Mutex // one Flush at a time: a late rename must not put back an older file
}

type cpEntry struct {
	Head   string
	Offset int64
	Seen   time.Time // last time the identity was on disk (or in a .gz)
	// Path is the include-matched name the content was read under, so a
	// rotated file (or its .gz) found after a restart keeps its Line.Path.
	Path string
	// Source is the Line.Source the content is read under when it is not
	// the identity's own (a .gz or copy promoted from a ghost continues
	// its origin's source), 0 otherwise. Kept so that after a restart the
	// lines in flight re-read from the .gz name the same source and the
	// server drops them as repeats.
	Source uint64
	// pending is the Flush epoch that first writes the entry's identity
	// (or its new source): the entry is on disk once saved reaches it;
	// 0 for an entry loaded from disk. See Persisted.
	pending uint64
	// registered says the entry only records where this process started
	// reading (register) and no ack came yet: lookups ignore it, since the
	// tailer's own state knows better while it runs; after a restart it
	// is an entry like any other.
	registered bool
}

// pathNote is the tailer's word on which include-matched name an identity
// is read under. It is kept apart from the entries because the tailer
// tracks a file before any of its lines is acknowledged, and the consumer
// acknowledges by FileID alone.
type pathNote struct {
	head, path string
	src        uint64 // see cpEntry.Source
	seen       time.Time
}

// cpLink says the content of an identity (head) is now read from another
// one (to) at the same offsets: acks under the old identity, of lines in
// flight, count for the new one too, so a restart after the old inode was
// freed (or reused) does not take the .gz for unread.
type cpLink struct {
	head string
	to   FileID
	seen time.Time
}

// ckpt is one checkpoint entry as the tailer sees it at start.
type ckpt struct {
	id   FileID
	off  int64
	path string
	src  uint64
}

// checkpointFile is the on-disk JSON shape; version guards future changes.
type checkpointFile struct {
	Version int            `json:"version"`
	Files   []checkpointKV `json:"files"`
}

type checkpointKV struct {
	Dev    uint64 `json:"dev"`
	Ino    uint64 `json:"ino"`
	Head   []byte `json:"head"` // base64 in JSON
	Offset int64  `json:"offset"`
	Seen   int64  `json:"seen_unix"`
	// Path is absent in files written before it existed: such entries
	// resume without a name and take the name of the live file beside them.
	Path string `json:"path,omitempty"`
	// Source is cpEntry.Source (absent when the identity's own).
	Source uint64 `json:"source,omitempty"`
}

const checkpointVersion = 1

// OpenCheckpoints loads the checkpoint file at path (a missing file is an
// empty set). path "" keeps checkpoints in memory only. A corrupt file is an
// error: the caller decides whether to start afresh (and re-read or skip).
func OpenCheckpoints(path string) (*Checkpoints, error) {
	c := &Checkpoints{path: path, now: time.Now, entries: map[fileKey]*cpEntry{}, paths: map[fileKey]*pathNote{}, links: map[fileKey]*cpLink{}, epoch: 1}
	if path == "" {
		return c, nil
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return c, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read checkpoints: %w", err)
	}
	entries, err := decodeCheckpoints(b)
	if err != nil {
		return nil, fmt.Errorf("checkpoints %s: %w", path, err)
	}
	c.entries = entries
	return c, nil
}

func decodeCheckpoints(b []byte) (map[fileKey]*cpEntry, error) {
	var f checkpointFile
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("decode: %w", err)
	}
	if f.Version != checkpointVersion {
		return nil, fmt.Errorf("unsupported version %d", f.Version)
	}
	m := make(map[fileKey]*cpEntry, len(f.Files))
	for _, kv := range f.Files {
		if kv.Offset < 0 {
			return nil, fmt.Errorf("negative offset %d for %d:%d", kv.Offset, kv.Dev, kv.Ino)
		}
		m[fileKey{kv.Dev, kv.Ino}] = &cpEntry{Head: string(kv.Head), Offset: kv.Offset, Seen: time.Unix(kv.Seen, 0), Path: kv.Path, Source: kv.Source}
	}
	return m, nil
}

func encodeCheckpoints(m map[fileKey]*cpEntry) ([]byte, error) {
	f := checkpointFile{Version: checkpointVersion, Files: make([]checkpointKV, 0, len(m))}
	for k, e := range m {
		f.Files = append(f.Files, checkpointKV{Dev: k.dev, Ino: k.ino, Head: []byte(e.Head), Offset: e.Offset, Seen: e.Seen.Unix(), Path: e.Path, Source: e.Source})
	}
	sort.Slice(f.Files, func(i, j int) bool {
		a, b := f.Files[i], f.Files[j]
		return a.Dev < b.Dev || a.Dev == b.Dev && a.Ino < b.Ino
	})
	return json.Marshal(f)
}

// Ack records that every byte of file before offset was delivered. Acks
// may come in any order; the highest offset wins. An ack whose head does not
// match the stored one (the inode now holds other content: copy-truncate or
// inode reuse) replaces the entry.
func (c *Checkpoints) Ack(file FileID, offset int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ack(file, offset)
	if l := c.links[file.key()]; l != nil && headsMatch(l.head, file.Head) {
		c.ack(l.to, offset)
	}
}

// follow links from to to (see cpLink), gives to what from has already,
// and records src as the source to's content is read under.
func (c *Checkpoints) follow(from, to FileID, src uint64, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.links[from.key()] = &cpLink{head: from.Head, to: to, seen: now}
	off := int64(0) // from unknown (forgotten): read all of to again rather than skip any
	if e := c.entries[from.key()]; e != nil && headsMatch(e.Head, from.Head) {
		off = e.Offset
	}
	c.ack(to, off)
	c.setSource(to, src, now)
	if e := c.entries[to.key()]; e != nil {
		// The new identity and its source must be on disk before lines
		// read from it are sent (Persisted).
		e.pending = c.epoch
	}
}

// ack is Ack without the links; c.mu must be held.
func (c *Checkpoints) ack(file FileID, offset int64) {
	e := c.entries[file.key()]
	if e == nil || !headsMatch(e.Head, file.Head) {
		if n := c.paths[file.key()]; n != nil && n.head != "" && !headsMatch(n.head, file.Head) {
			// A late ack (of lines in flight) for content that has left
			// the inode: the tailer now reads other content there (ext4
			// reuses a freed inode at once, e.g. for a .gz). Replacing that
			// content's entry would lose its identity and source across a
			// crash, and the restart would read it all again under another
			// source. Where the old content went, its link carries the ack.
			return
		}
		e = &cpEntry{Head: file.Head, Offset: offset, Seen: c.now()}
		if n := c.note(file); n != nil {
			e.Path, e.Source = n.path, n.src
		}
		c.entries[file.key()] = e
		c.dirty = true
		return
	}
	if e.registered {
		e.registered = false
		c.dirty = true
	}
	if e.Path == "" {
		if p := c.notedPath(file); p != "" {
			e.Path = p
			c.dirty = true
		}
	}
	if offset > e.Offset {
		e.Offset = offset
		c.dirty = true
	}
	if len(file.Head) > len(e.Head) {
		e.Head = file.Head
		c.dirty = true
	}
}

// notedPath is the path the tailer noted for the identity ("" if none).
// c.mu must be held.
func (c *Checkpoints) notedPath(file FileID) string {
	if n := c.note(file); n != nil {
		return n.path
	}
	return ""
}

// note is the tailer's note on the identity, nil if none. c.mu must be held.
func (c *Checkpoints) note(file FileID) *pathNote {
	if n := c.paths[file.key()]; n != nil && headsMatch(n.head, file.Head) {
		return n
	}
	return nil
}

// notePath records that the identity is read under the include-matched
// name path, so its entry (now or when its first ack arrives) carries it.
// The note outlives the tracked file by forget_after (see sweep): acks of
// lines in flight still find it.
func (c *Checkpoints) notePath(file FileID, path string, now time.Time) {
	if path == "" {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	k := file.key()
	if n := c.paths[k]; n != nil {
		if !headsMatch(n.head, file.Head) || file.Head == "" && n.head != "" {
			// Other content on the inode (an empty head is new content:
			// the tailer's heads only grow, unless a truncation resets them).
			n.src = 0
		}
		n.head, n.path, n.seen = file.Head, path, now
	} else {
		c.paths[k] = &pathNote{head: file.Head, path: path, seen: now}
	}
	if e := c.entries[k]; e != nil && e.Path != path && headsMatch(e.Head, file.Head) {
		e.Path = path
		c.dirty = true
	}
}

// noteSource records src as the source file's content is read under (0:
// its own; see cpEntry.Source).
func (c *Checkpoints) noteSource(file FileID, src uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.setSource(file, src, c.now())
}

// setSource is noteSource; c.mu must be held.
func (c *Checkpoints) setSource(file FileID, src uint64, now time.Time) {
	k := file.key()
	if n := c.note(file); n != nil {
		n.src = src
	} else {
		c.paths[k] = &pathNote{head: file.Head, src: src, seen: now}
	}
	if e := c.entries[k]; e != nil && headsMatch(e.Head, file.Head) && e.Source != src {
		e.Source = src
		e.pending = c.epoch
		c.dirty = true
	}
}

// register records an identity the tailer starts reading at off, unless
// an entry for it exists. Its lines are sent under a source derived from
// it, and a crash may come before their first acknowledgement is saved:
// the identity must be on disk by then (Persisted), or a restart that
// finds the content compressed under another inode cannot tell it was
// sent, and sends it again under another source.
func (c *Checkpoints) register(file FileID, off int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e := c.entries[file.key()]; e != nil && headsMatch(e.Head, file.Head) && (file.Head != "" || e.Head == "") {
		return
	}
	// An empty file replaces whatever entry its inode has (the content
	// that left it): an empty head matches every head, but it is new.
	e := &cpEntry{Head: file.Head, Offset: off, Seen: c.now(), pending: c.epoch, registered: true}
	if n := c.note(file); n != nil {
		e.Path, e.Source = n.path, n.src
	}
	c.entries[file.key()] = e
	c.dirty = true
}

// Persisted reports whether what a restart needs to name file's lines as
// they were sent is on disk: its identity (with at least the head bytes
// its source hashes) and its source. false means Flush before sending
// lines of file. An identity the checkpoints do not hold (not registered,
// or already replaced) reports true: there is nothing to wait for.
func (c *Checkpoints) Persisted(file FileID) bool {
	if c.path == "" {
		return true
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.entries[file.key()]
	if e == nil || !headsMatch(e.Head, file.Head) {
		return true
	}
	if n := min(len(file.Head), SourceHeadBytes); len(e.Head) < n {
		e.Head = file.Head
		e.pending = c.epoch
		c.dirty = true
	}
	return e.pending == 0 || e.pending <= c.saved
}

// Lookup returns the acknowledged offset of the identity, if any.
func (c *Checkpoints) Lookup(file FileID) (int64, bool) {
	off, _, ok := c.lookup(file)
	return off, ok
}

// lookup is Lookup plus the entry's Source.
func (c *Checkpoints) lookup(file FileID) (int64, uint64, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.entries[file.key()]
	if e == nil || e.registered || !headsMatch(e.Head, file.Head) {
		return 0, 0, false
	}
	return e.Offset, e.Source, true
}

// all returns a copy of every identity, offset and path (for the tailer's
// start).
func (c *Checkpoints) all() []ckpt {
	c.mu.Lock()
	defer c.mu.Unlock()
	l := make([]ckpt, 0, len(c.entries))
	for k, e := range c.entries {
		l = append(l, ckpt{id: FileID{Dev: k.dev, Ino: k.ino, Head: e.Head}, off: e.Offset, path: e.Path, src: e.Source})
	}
	return l
}

// touch marks the identity as still present at now.
// Seen is only moved every `every` so touching does not rewrite the file at
// every flush.
func (c *Checkpoints) touch(file FileID, now time.Time, every time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e := c.entries[file.key()]; e != nil && headsMatch(e.Head, file.Head) && now.Sub(e.Seen) >= every {
		e.Seen = now
		c.dirty = true
	}
}

// sweep forgets identities not seen since before cutoff and returns how
// many it forgot.
func (c *Checkpoints) sweep(cutoff time.Time) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for k, e := range c.entries {
		if e.Seen.Before(cutoff) {
			delete(c.entries, k)
			n++
		}
	}
	if n > 0 {
		c.dirty = true
	}
	for k, p := range c.paths {
		if p.seen.Before(cutoff) {
			delete(c.paths, k)
		}
	}
	for k, l := range c.links {
		if l.seen.Before(cutoff) {
			delete(c.links, k)
		}
	}
	return n
}

// Len is the number of identities held.
func (c *Checkpoints) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}

// Flush persists the acknowledged offsets if they changed: write a temp
// file, fsync it, rename it over the old one, fsync the directory, so a
// crash leaves either the old or the new file, never a torn one.
func (c *Checkpoints) Flush() error {
	c.flushMu.Lock()
	defer c.flushMu.Unlock()
	c.mu.Lock()
	if !c.dirty || c.path == "" {
		c.mu.Unlock()
		return nil
	}
	b, err := encodeCheckpoints(c.entries)
	c.dirty = false
	epoch := c.epoch
	c.epoch++
	c.mu.Unlock()
	if err != nil {
		return fmt.Errorf("encode checkpoints: %w", err)
	}
	if err := writeAtomic(c.path, b); err != nil {
		c.mu.Lock()
		c.dirty = true
		c.mu.Unlock()
		return err
	}
	c.mu.Lock()
	c.saved = epoch
	c.mu.Unlock()
	return nil
}

func writeAtomic(path string, b []byte) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("checkpoint temp file: %w", err)
	}
	defer os.Remove(tmp.Name()) // no-op after a successful rename
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return fmt.Errorf("write checkpoints: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("fsync checkpoints: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("close checkpoints: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("rename checkpoints: %w", err)
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("open checkpoint dir: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("fsync checkpoint dir: %w", err)
	}
	return nil
}
