package tail

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Line is one line of a followed file, without its newline.
type Line struct {
	// File is the identity to acknowledge the line under.
	File FileID
	// Source names the content for exactly-once delivery (the
	// X-Kinsight-Positions header): FileID.SourceID of the file, or of the
	// file whose rest this one holds (a .gz or a copy-truncate copy), so
	// offsets re-read from either map to the same source.
	Source uint64
	// Path is the include-matched name the file was found under (for a
	// rotated file, the name it had before rotation), e.g. the
	// /var/log/containers symlink whose name tells pod and container.
	Path string
	// Offset is the offset just after this line (and its newline): pass it to
	// Checkpoints.Ack once the line is delivered. For a .gz it counts bytes of
	// the decompressed stream.
	Offset int64
	// Data is the line's bytes, owned by the receiver.
	Data []byte
}

// Tailer follows the files matched by Config.Include. It is driven by Run;
// one Tailer runs once.
type Tailer struct {
	cfg Config
	fs  FS
	cp  *Checkpoints
	log *slog.Logger
	m   *metrics
	now func() time.Time

	// slab is where emit copies lines (see lineSlab).
	slab []byte

	files    map[fileKey]*tracked
	shadows  map[fileKey]*shadow // rotated files whose content is (or was) read under another inode
	ghosts   []*ghost            // content no longer on disk under its inode, which a copy or .gz may still hold
	ghostGen int
	problems map[string]string // path -> reason, as of the last scan: log and count once per appearance
	lagPaths map[string]int64  // paths with a file_lag_bytes series, as of the last bookkeeping
	reported map[string]string // path -> reason counted and logged (a problem seen by two scans in a row)
	started  bool
	fresh    bool                 // no checkpoints at start: start_at applies
	scanN    int                  // scans so far, to let go of cache entries a scan did not use
	links    map[string]*resolved // include match -> its target, as last resolved (see collect.go)
	dirs     map[string]*siblings // live target -> its siblings, as last listed (see collect.go)
	buf      []byte
	headBuf  []byte // scratch for the head check of a file that grew (read.go)
	// debug says the logger takes debug records: then every file taken up
	// and every change of a file's Line.Source is logged, which is what a
	// repeated line is traced with (test/e2e's zero-loss test).
	debug bool
}

// tracked is a file being (or having been) read, keyed by its inode.
type tracked struct {
	key     fileKey // the inode it is read from (a promoted .gz: not id's)
	id      FileID
	path    string // include-matched name, for Line.Path
	real    string // where it is on disk now
	gz      bool
	f       File
	off     int64  // offset just after the last emitted byte
	partial []byte // bytes after off with no newline yet
	size    int64  // last known size (unused for gz)
	mtime   time.Time
	// The scan's last stat of the inode: a closed file whose stat is
	// unchanged needs no identity check (see scan).
	scanSize  int64
	scanMtime time.Time
	live      bool // at an include-matched name in this scan
	wasLive   bool
	seen      bool // on disk in this scan
	done      bool // a .gz read to its end
	// origin is the source of the content this file continues (the file a
	// .gz or a copy-truncate copy was found to hold the rest of, kept in
	// the checkpoints across restarts), 0 for the file itself: Line.Source
	// names the content, not the inode.
	origin uint64
	src    uint64 // source() cached for a head of srcLen bytes
	srcLen int
	logSrc uint64 // the source last logged (debug logging only)
}

// source is Line.Source: the origin's source, else the SourceID of the
// file's identity, cached while the head it hashes does not grow.
func (tr *tracked) source() uint64 {
	if tr.origin != 0 {
		return tr.origin
	}
	if n := min(len(tr.id.Head), SourceHeadBytes); tr.src == 0 || n != tr.srcLen {
		tr.src, tr.srcLen = tr.id.SourceID(), n
	}
	return tr.src
}

func (tr *tracked) readPos() int64 { return tr.off + int64(len(tr.partial)) }

type shadow struct {
	skip bool // a rotation older than the first run, not a copy of a tracked file
	head string
	gen  int // ghostGen when last compared
	seen bool
}

type ghost struct {
	id     FileID
	origin uint64 // the tracked file's origin source, if it had one
	path   string
	off    int64
	size   int64 // -1 when unknown (from a checkpoint)
	reason string
	born   time.Time
}

// New builds a Tailer. cp holds the acknowledged offsets to resume from
// (OpenCheckpoints("") for none); metrics are registered on reg.
func New(cfg Config, fsys FS, cp *Checkpoints, logger *slog.Logger, reg prometheus.Registerer) (*Tailer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("tail config: %w", err)
	}
	m, err := newMetrics(reg)
	if err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	return &Tailer{
		cfg: cfg, fs: fsys, cp: cp, log: logger, m: m, now: time.Now,
		files: map[fileKey]*tracked{}, shadows: map[fileKey]*shadow{}, problems: map[string]string{}, reported: map[string]string{},
		links: map[string]*resolved{}, dirs: map[string]*siblings{},
		buf:   make([]byte, cfg.ReadBufferBytes),
		debug: logger.Enabled(context.Background(), slog.LevelDebug),
	}, nil
}

// Run polls every Config.PollInterval, sending lines to out (blocking when
// out is full: backpressure, nothing is dropped). It returns nil when ctx is
// done, after closing every file.
func (t *Tailer) Run(ctx context.Context, out chan<- Line) error {
	defer t.closeAll()
	tick := time.NewTicker(t.cfg.PollInterval)
	defer tick.Stop()
	for {
		if err := t.poll(ctx, out); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

func (t *Tailer) closeAll() {
	for _, tr := range t.files {
		if tr.f != nil {
			tr.f.Close()
			tr.f = nil
		}
	}
	t.m.openFiles.Set(0)
}

// poll is one scan and one round of reads.
func (t *Tailer) poll(ctx context.Context, out chan<- Line) error {
	first := !t.started
	if first {
		t.started = true
		all := t.cp.all()
		t.fresh = len(all) == 0
		for _, e := range all {
			t.addGhost(&ghost{id: e.id, origin: e.src, path: e.path, off: e.off, size: -1, reason: reasonGone, born: t.now()})
		}
	}
	t.scan(first)
	if err := t.readAll(ctx, out); err != nil {
		return err
	}
	t.bookkeep()
	return nil
}

// skipAll is the checkpoint offset of a file deliberately skipped whole
// (a rotation older than the agent's first run).
const skipAll = int64(1) << 62

type candidate struct {
	path, real string
	info       FileInfo
	live, gz   bool
}

func (t *Tailer) excluded(p string) bool {
	for _, x := range t.cfg.Exclude {
		if ok, _ := filepath.Match(x, p); ok {
			return true
		}
	}
	return false
}

// scan decides, for every file on disk, whether it is known, resumed from a
// checkpoint, a copy of content already known, or new. See design.md.
func (t *Tailer) scan(first bool) {
	for _, tr := range t.files {
		tr.wasLive, tr.live, tr.seen = tr.live, false, false
	}
	for _, sh := range t.shadows {
		sh.seen = false
	}
	problems := map[string]string{}
	cands := t.collect(problems)
	defer func() {
		t.problems = problems
		for p, r := range t.reported {
			if problems[p] != r {
				delete(t.reported, p) // gone: a new appearance counts again
			}
		}
	}()

	// Known inodes and checkpoints first, so a truncation is seen before a
	// sibling copy is compared with it.
	type unknownCand struct {
		c    candidate
		head string
	}
	var unknown []unknownCand
	for _, c := range cands {
		k := fileKey{c.info.Dev, c.info.Ino}
		var head string
		var err error
		haveHead := false
		if tr := t.files[k]; tr != nil {
			if head, haveHead = t.reused(tr, c); !haveHead {
				t.update(tr, c)
				continue
			}
			// Handled below as the new file it is.
		} else if sh := t.shadows[k]; !c.live && sh != nil {
			sh.seen = true
			unknown = append(unknown, unknownCand{c: c})
			continue
		}
		if !haveHead {
			head, err = t.readHead(c.real, c.gz, k)
		}
		if errors.Is(err, errMoved) {
			continue
		}
		if err != nil {
			reason := reasonUnreadable
			if c.gz {
				reason = reasonGzip
			}
			t.problem(problems, c.real, reason, err)
			continue
		}
		id := FileID{Dev: c.info.Dev, Ino: c.info.Ino, Head: head}
		// An empty file is new content whatever its inode held: an empty
		// head matches every head, so a lookup would take the entry of the
		// content that left the inode (kubelet's new 0.log on the inode its
		// compressed predecessor freed) and drop that content's ghost, which
		// the .gz must match.
		if off, src, ok := t.cp.lookup(id); head != "" && ok {
			if g := t.ghostOf(id); g != nil && g.off > off && g.off != skipAll {
				// Let go earlier in this run (a scan found its link dangling
				// while kubelet renamed it) and found again: resume where
				// this run stopped reading, not at the acknowledged offset.
				// What lies between was sent; sent again in the same batch
				// its ends would not grow, the batch would go without
				// positions, and the server would store the lines twice.
				off, src = g.off, g.origin
			}
			t.dropGhost(id)
			if off == skipAll {
				t.shadows[k] = &shadow{skip: true, head: head, gen: t.ghostGen, seen: true}
				continue
			}
			if !c.gz && off > c.info.Size {
				t.m.truncations.Inc()
				t.log.Warn("file shorter than its checkpoint: truncated while stopped, reading from 0", "path", c.real, "offset", off, "size", c.info.Size)
				off, src = 0, 0
				t.cp.noteSource(id, 0) // other content: its own source
			}
			t.track(c, c.path, id, off)
			// A .gz promoted before the restart keeps reading under its
			// origin's source, so the lines in flight then are known repeats.
			t.files[k].origin = src
			t.cp.noteSource(id, src)
			continue
		}
		if !c.live {
			unknown = append(unknown, unknownCand{c: c, head: head})
			continue
		}
		var start int64
		if first && t.fresh && t.cfg.StartAt == StartEnd {
			start = c.info.Size
			t.cp.Ack(id, start) // the skip survives a restart before the first delivery
		}
		t.track(c, c.path, id, start)
		t.cp.register(id, start)
	}

	// A skipped rotation that left (compressed under a new inode) leaves a
	// ghost now, before its .gz is looked at.
	for k, sh := range t.shadows {
		if !sh.seen && sh.skip {
			delete(t.shadows, k)
			t.addGhost(&ghost{id: FileID{Dev: k.dev, Ino: k.ino, Head: sh.head}, off: skipAll, size: -1, reason: reasonGone, born: t.now()})
		}
	}
	for _, u := range unknown {
		c := u.c
		k := fileKey{c.info.Dev, c.info.Ino}
		sh := t.shadows[k]
		if sh != nil {
			if sh.gen == t.ghostGen {
				continue
			}
			u.head = sh.head
		}
		id := FileID{Dev: c.info.Dev, Ino: c.info.Ino, Head: u.head}
		if g := t.matchGhost(u.head); g != nil {
			delete(t.shadows, k)
			t.dropGhost(g.id)
			if c.gz && g.size != g.off && g.off != skipAll {
				t.m.gzResumes.Inc()
				t.log.Info("reading the remainder of a rotated file from its .gz", "path", c.real, "offset", g.off)
			}
			if g.off == skipAll {
				t.shadows[k] = &shadow{skip: true, head: u.head, gen: t.ghostGen, seen: true}
				t.cp.notePath(id, c.path, t.now()) // the inode holds this content now (see Ack)
				t.cp.Ack(id, skipAll)
				continue
			}
			path := g.path
			if path == "" {
				// A checkpoint written before paths were kept: the live
				// file it was found beside is the best name there is.
				path = c.path
			}
			t.track(c, path, id, g.off)
			origin := g.origin
			if origin == 0 {
				origin = g.id.SourceID()
			}
			t.files[id.key()].origin = origin
			t.cp.follow(g.id, id, origin, t.now())
			if c.gz && g.size >= 0 && g.off >= g.size {
				// Drained through its descriptor before it was compressed:
				// no need to decompress it just to skip all of it.
				t.files[id.key()].done = true
			}
			continue
		}
		if sh != nil {
			sh.gen = t.ghostGen
			continue
		}
		if t.matchTracked(u.head, k) {
			t.shadows[k] = &shadow{head: u.head, gen: t.ghostGen, seen: true}
			continue
		}
		if first && t.fresh {
			// A rotation from before the agent's first run: skipped, and the
			// skip is recorded so a restart does not take it for new.
			t.shadows[k] = &shadow{skip: true, head: u.head, gen: t.ghostGen, seen: true}
			t.cp.notePath(id, c.path, t.now()) // the inode holds this content now (see Ack)
			t.cp.Ack(id, skipAll)
			continue
		}
		// Rotated (maybe twice, maybe gzipped) before we ever saw it, or
		// while the agent was stopped.
		t.track(c, c.path, id, 0)
		t.cp.register(id, 0)
	}
}

// reused reports whether the inode of tracked file tr now holds other
// content (inode reuse: ext4 hands a freed inode to the next new file at
// once), and if so lets go of tr, leaving its content a ghost, and returns
// the candidate's head. Only a closed file (or a .gz-ness change) can be
// replaced: an open descriptor pins its inode. A closed file whose stat has
// not changed since the last scan is not read again.
func (t *Tailer) reused(tr *tracked, c candidate) (string, bool) {
	if tr.gz == c.gz && (tr.f != nil || c.info.Size == tr.scanSize && c.info.ModTime.Equal(tr.scanMtime)) {
		return "", false
	}
	head, err := t.readHead(c.real, c.gz, tr.key)
	if err != nil {
		return "", false // moved or unreadable: update as before, the next scan looks again
	}
	if tr.gz == c.gz && headsMatch(head, tr.id.Head) && (head != "" || tr.id.Head == "" || tr.wasLive) {
		return "", false // same content (grown, or truncated: update sees it)
	}
	// An empty file on the inode of a closed rotated file that had content
	// is a new file (kubelet's next 0.log on the inode its compressed
	// predecessor freed), not a truncation: registered as new, its identity
	// is saved before its first batch. (A live file truncated to nothing
	// while closed is copy-truncate, above.)
	t.log.Info("inode reused: the file read from it is gone, another file holds it", "path", tr.path, "old", tr.real, "new", c.real, "offset", tr.off)
	if tr.f != nil {
		tr.f.Close()
		tr.f = nil
	}
	size := max(tr.size, tr.off)
	if tr.gz {
		size = -1 // decompressed size unknown unless read to its end
		if tr.done {
			size = tr.off
		}
	}
	t.addGhost(&ghost{id: tr.id, origin: tr.origin, path: tr.path, off: tr.off, size: size, reason: reasonGone, born: t.now()})
	if tr.wasLive {
		t.m.rotations.Inc()
	}
	delete(t.files, tr.key)
	return head, true
}

// update refreshes a known file from this scan's stat.
func (t *Tailer) update(tr *tracked, c candidate) {
	tr.seen = true
	tr.real = c.real
	tr.scanSize, tr.scanMtime = c.info.Size, c.info.ModTime
	if c.live {
		tr.live = true
		if tr.path != c.path {
			tr.path = c.path
			t.cp.notePath(tr.id, tr.path, t.now())
		}
	}
	if tr.gz {
		return
	}
	if c.info.Size < tr.readPos() {
		t.truncated(tr, c.info.Size)
	}
	tr.size = c.info.Size
	if len(tr.id.Head) < t.cfg.FingerprintBytes && tr.size > int64(len(tr.id.Head)) {
		// Grow a short head now, before siblings are compared with it: a
		// copy (copytruncate's <name>.1) holds the longer head.
		if head, err := t.readHead(c.real, false, tr.key); err == nil {
			if !headsMatch(head, tr.id.Head) {
				t.truncated(tr, c.info.Size)
			}
			if len(head) > len(tr.id.Head) {
				tr.id.Head = head
			}
		}
	}
}

// truncated handles copy-truncate: the bytes after our offset that were
// written before the truncation are lost unless a copy (logrotate's
// <name>.1) turns up with the same first bytes; the ghost keeps them findable.
func (t *Tailer) truncated(tr *tracked, newSize int64) {
	t.m.truncations.Inc()
	t.log.Info("file truncated (copy-truncate): reading from 0", "path", tr.real, "offset", tr.readPos(), "size", newSize)
	t.addGhost(&ghost{id: tr.id, origin: tr.origin, path: tr.path, off: tr.off, size: max(tr.size, tr.readPos()), reason: reasonTruncated, born: t.now()})
	tr.off, tr.partial = 0, nil
	tr.id.Head = ""
	tr.origin, tr.src = 0, 0 // other content: another source
}

func (t *Tailer) track(c candidate, path string, id FileID, off int64) {
	tr := &tracked{key: fileKey{c.info.Dev, c.info.Ino}, id: id, path: path, real: c.real, gz: c.gz, off: off, size: c.info.Size, live: c.live, seen: true,
		scanSize: c.info.Size, scanMtime: c.info.ModTime}
	t.files[tr.key] = tr
	t.cp.notePath(id, path, t.now())
	if t.debug {
		t.log.Debug("tail: following file", "path", path, "real", c.real, "file", id.String(), "offset", off, "head", id.Head[:min(len(id.Head), SourceHeadBytes)])
	}
}

func (t *Tailer) addGhost(g *ghost) {
	t.ghosts = append(t.ghosts, g)
	t.ghostGen++
}

// ghostOf is the ghost of id's content on id's inode, if any.
func (t *Tailer) ghostOf(id FileID) *ghost {
	for _, g := range t.ghosts {
		if g.id.SameContent(id) {
			return g
		}
	}
	return nil
}

func (t *Tailer) dropGhost(id FileID) {
	gs := t.ghosts[:0]
	for _, g := range t.ghosts {
		if !g.id.SameContent(id) {
			gs = append(gs, g)
		}
	}
	t.ghosts = gs
}

// sameHeads is stricter than headsMatch: a short head (a few bytes, maybe
// just a timestamp) only matches an equal one, so an unrelated file is not
// taken for a copy and skipped. A miss costs duplicates, never loss.
func sameHeads(a, b string) bool {
	if a == "" || b == "" {
		return false
	}
	if a == b {
		return true
	}
	return min(len(a), len(b)) >= 64 && headsMatch(a, b)
}

// matchGhost finds the ghost whose content head starts. Beside sameHeads, a
// short common prefix is enough when it covers every byte read from the
// ghost: resuming at its offset then skips only bytes known to be equal.
func (t *Tailer) matchGhost(head string) *ghost {
	for _, g := range t.ghosts {
		n := min(len(g.id.Head), len(head))
		if sameHeads(g.id.Head, head) || n > 0 && int64(n) >= g.off && headsMatch(g.id.Head, head) {
			return g
		}
	}
	return nil
}

func (t *Tailer) matchTracked(head string, not fileKey) bool {
	for k, tr := range t.files {
		if k != not && sameHeads(tr.id.Head, head) {
			return true
		}
	}
	return false
}

// bookkeep lets go of files no longer on disk (once drained), expires
// ghosts and checkpoints, and sets the gauges.
func (t *Tailer) bookkeep() {
	now := t.now()
	var open int
	var lag int64
	fileLag := make(map[string]int64, len(t.lagPaths))
	for k, tr := range t.files {
		if tr.wasLive && !tr.live {
			t.m.rotations.Inc()
			tr.wasLive = false
		}
		if !tr.seen && tr.f == nil {
			t.addGhost(&ghost{id: tr.id, origin: tr.origin, path: tr.path, off: tr.off, size: tr.size, reason: reasonGone, born: now})
			delete(t.files, k)
			continue
		}
		if tr.f != nil {
			open++
		}
		if !tr.gz && tr.size > tr.readPos() {
			lag += tr.size - tr.readPos()
			fileLag[tr.path] += tr.size - tr.readPos()
		} else if _, ok := fileLag[tr.path]; !ok {
			fileLag[tr.path] = 0
		}
		t.cp.touch(tr.id, now, t.touchEvery())
		t.cp.notePath(tr.id, tr.path, now) // the head may have grown (or been reset) since track
	}
	for k, sh := range t.shadows {
		if !sh.seen {
			delete(t.shadows, k)
			continue
		}
		t.cp.touch(FileID{Dev: k.dev, Ino: k.ino, Head: sh.head}, now, t.touchEvery()) // keeps skip marks alive
	}
	gs := t.ghosts[:0]
	for _, g := range t.ghosts {
		if now.Sub(g.born) < t.cfg.ForgetAfter {
			gs = append(gs, g)
			continue
		}
		if g.size > g.off {
			t.m.lost.WithLabelValues(g.reason).Add(float64(g.size - g.off))
			t.log.Warn("bytes never read: file gone", "id", g.id.String(), "path", g.path, "lost_bytes", g.size-g.off, "reason", g.reason)
		}
	}
	t.ghosts = gs
	if n := t.cp.sweep(now.Add(-t.cfg.ForgetAfter)); n > 0 {
		t.m.forgotten.Add(float64(n))
	}
	t.m.openFiles.Set(float64(open))
	t.m.lag.Set(float64(lag))
	for path, n := range fileLag {
		t.m.fileLag.WithLabelValues(path).Set(float64(n))
	}
	for path := range t.lagPaths {
		if _, ok := fileLag[path]; !ok {
			t.m.fileLag.DeleteLabelValues(path)
		}
	}
	t.lagPaths = fileLag
}

func (t *Tailer) touchEvery() time.Duration { return min(time.Minute, t.cfg.ForgetAfter/4) }

// problem logs and counts a path that cannot be followed, once per
// appearance (not once per poll).
//
// A problem counts only once it is seen by two scans in a row: a rotation
// leaves a link dangling, or a sibling gone between glob and open, for an
// instant, and that is no problem.
func (t *Tailer) problem(now map[string]string, path, reason string, err error) {
	now[path] = reason
	if t.problems[path] != reason || t.reported[path] == reason {
		return
	}
	t.reported[path] = reason
	t.m.errors.WithLabelValues(reason).Inc()
	t.log.Warn("cannot follow file", "path", path, "reason", reason, "err", err)
}
