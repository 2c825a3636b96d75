package tail

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
)

// errMoved says a path no longer holds the inode the scan stat'ed: the
// rotator moved it in between. Not a problem; the next scan sees it settled.
var errMoved = errors.New("file moved during scan")

// openAs opens path and checks it is still the inode want.
func (t *Tailer) openAs(path string, want fileKey) (File, error) {
	f, err := t.fs.Open(path)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil || (fileKey{fi.Dev, fi.Ino}) != want {
		f.Close()
		return nil, errMoved
	}
	return f, nil
}

// readHead returns the first FingerprintBytes of the file (of the
// decompressed stream for a .gz) at path, if it is still inode want.
func (t *Tailer) readHead(path string, gz bool, want fileKey) (string, error) {
	f, err := t.openAs(path, want)
	if err != nil {
		return "", err
	}
	defer f.Close()
	if gz {
		return gzipHead(f, t.cfg.FingerprintBytes)
	}
	return fileHead(f, t.cfg.FingerprintBytes)
}

func fileHead(f File, n int) (string, error) {
	b := make([]byte, n)
	m, err := f.ReadAt(b, 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("read head: %w", err)
	}
	return string(b[:m]), nil
}

func gzipHead(f File, n int) (string, error) {
	zr, err := gzip.NewReader(io.NewSectionReader(f, 0, 1<<62))
	if err != nil {
		return "", fmt.Errorf("gzip header: %w", err)
	}
	b := make([]byte, n)
	m, err := io.ReadFull(zr, b)
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
		return "", fmt.Errorf("gzip head: %w", err)
	}
	return string(b[:m]), nil
}

// readAll gives every file its turn: rotated (non-live) files first, so
// the end of a renamed file goes out before the start of its successor
// whatever their inode numbers; then in inode order so tests are
// deterministic. A file is not read in a poll in which an earlier file with
// the same Line.Path was left unfinished (the per-poll budget ran out, or
// its last line is still unterminated): its lines would overtake older ones.
func (t *Tailer) readAll(ctx context.Context, out chan<- Line) error {
	keys := make([]fileKey, 0, len(t.files))
	for k := range t.files {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		a, b := t.files[keys[i]], t.files[keys[j]]
		if a.live != b.live {
			return !a.live
		}
		return keys[i].dev < keys[j].dev || keys[i].dev == keys[j].dev && keys[i].ino < keys[j].ino
	})
	var unfinished map[string]bool // paths with an older file not read to its end in this poll
	for _, k := range keys {
		tr := t.files[k]
		if tr.done || unfinished[tr.path] {
			continue
		}
		if tr.gz {
			if err := t.readGzip(ctx, tr, out); err != nil {
				return err
			}
			continue
		}
		n, more, err := t.readFile(ctx, tr, out)
		if err != nil {
			return err
		}
		if !tr.live && (more || n > 0 && len(tr.partial) > 0) {
			// Its writer may still finish the line through its old
			// descriptor; if not, the next quiet poll flushes it.
			if unfinished == nil {
				unfinished = map[string]bool{}
			}
			unfinished[tr.path] = true
		}
		switch {
		case n == 0 && !tr.seen && tr.f != nil:
			// Deleted or renamed out of sight, drained through the open
			// descriptor and quiet for a poll: the writer is done with it.
			if err := t.flushPartial(ctx, tr, out); err != nil {
				return err
			}
			tr.f.Close()
			tr.f = nil
			t.addGhost(&ghost{id: tr.id, origin: tr.origin, path: tr.path, off: tr.off, size: tr.off, reason: reasonGone, born: t.now()})
			delete(t.files, k)
		case n == 0 && !tr.live && tr.f != nil:
			// A rotated file still on disk, read to its end: close it so
			// rotated files do not pin descriptors; it is reopened if it grows.
			// Its unterminated tail goes out now: a rotated file is final.
			if err := t.flushPartial(ctx, tr, out); err != nil {
				return err
			}
			tr.f.Close()
			tr.f = nil
		}
	}
	return nil
}

// readFile reads what is new in a regular file, up to MaxBytesPerPoll;
// more says the budget ran out before the end of the file.
func (t *Tailer) readFile(ctx context.Context, tr *tracked, out chan<- Line) (read int64, more bool, err error) {
	if tr.f == nil {
		if !tr.seen || tr.size <= tr.readPos() {
			return 0, false, nil
		}
		f, err := t.openAs(tr.real, tr.id.key())
		if errors.Is(err, errMoved) || isNotExist(err) {
			return 0, false, nil // renamed under us: the next scan sorts it out
		}
		if err != nil {
			t.log.Warn("cannot reopen file", "path", tr.real, "err", err)
			t.m.errors.WithLabelValues(reasonUnreadable).Inc()
			return 0, false, nil
		}
		tr.f = f
	}
	fi, err := tr.f.Stat()
	if err != nil {
		return 0, false, nil
	}
	if fi.Size < tr.readPos() {
		t.truncated(tr, fi.Size)
	}
	tr.size = fi.Size
	changed := !fi.ModTime.Equal(tr.mtime)
	tr.mtime = fi.ModTime
	if fi.Size <= tr.readPos() && !changed {
		return 0, false, nil
	}
	// Check the head before reading on: content replaced in place (truncated
	// and rewritten past our offset between two polls) shows as other
	// first bytes; a head still short of FingerprintBytes grows here.
	// This runs for every file that grew, every poll: the head is read
	// into scratch space and only copied when it grew.
	{
		if cap(t.headBuf) < t.cfg.FingerprintBytes {
			t.headBuf = make([]byte, t.cfg.FingerprintBytes)
		}
		m, err := tr.f.ReadAt(t.headBuf[:t.cfg.FingerprintBytes], 0)
		if err == nil || errors.Is(err, io.EOF) {
			head := t.headBuf[:m]
			if !headBytesMatch(head, tr.id.Head) {
				t.truncated(tr, fi.Size)
			}
			if len(head) > len(tr.id.Head) {
				tr.id.Head = string(head)
			}
		}
	}
	for {
		if read >= t.cfg.MaxBytesPerPoll {
			if fi, err := tr.f.Stat(); err == nil && fi.Size > tr.readPos() {
				more = true
			}
			break
		}
		n, err := tr.f.ReadAt(t.buf, tr.readPos())
		if n > 0 {
			read += int64(n)
			t.m.bytes.Add(float64(n))
			if err := t.consume(ctx, tr, t.buf[:n], out); err != nil {
				return read, false, err
			}
		}
		if n == 0 || errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.log.Warn("read failed", "path", tr.real, "err", err)
			t.m.errors.WithLabelValues(reasonUnreadable).Inc()
			break
		}
	}
	return read, more, nil
}

// readGzip reads a compressed rotated file from tr.off (in decompressed
// bytes) to its end, once: a .gz is never appended to.
func (t *Tailer) readGzip(ctx context.Context, tr *tracked, out chan<- Line) error {
	if !tr.seen {
		return nil // gone before we read it: it becomes a ghost a renamed copy may match
	}
	f, err := t.openAs(tr.real, tr.key)
	if errors.Is(err, errMoved) || isNotExist(err) {
		return nil // renamed (syslog.2.gz -> syslog.3.gz): retried at its new name
	}
	tr.done = true
	if err != nil {
		t.m.errors.WithLabelValues(reasonGzip).Inc()
		t.log.Warn("cannot open .gz", "path", tr.real, "err", err)
		return nil
	}
	defer f.Close()
	zr, err := gzip.NewReader(io.NewSectionReader(f, 0, 1<<62))
	if err != nil {
		t.m.errors.WithLabelValues(reasonGzip).Inc()
		t.log.Warn("bad .gz", "path", tr.real, "err", err)
		return nil
	}
	if skipped, err := io.CopyN(io.Discard, zr, tr.off); err != nil {
		if !errors.Is(err, io.EOF) {
			t.m.errors.WithLabelValues(reasonGzip).Inc()
			t.log.Warn("bad .gz", "path", tr.real, "err", err)
		}
		if tr.off > skipped {
			t.log.Warn(".gz shorter than the saved offset", "path", tr.real, "offset", tr.off, "length", skipped)
		}
		return nil
	}
	for {
		n, err := zr.Read(t.buf)
		if n > 0 {
			t.m.bytes.Add(float64(n))
			if err := t.consume(ctx, tr, t.buf[:n], out); err != nil {
				return err
			}
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			// The rest of the stream cannot be read: count the file; its
			// size is unknown so no byte count is possible.
			t.m.errors.WithLabelValues(reasonGzip).Inc()
			t.log.Warn("corrupt .gz: rest of the file lost", "path", tr.real, "offset", tr.readPos(), "err", err)
			break
		}
	}
	return t.flushPartial(ctx, tr, out)
}

// consume splits chunk into lines. A line longer than MaxLineBytes is
// emitted in pieces of MaxLineBytes; the last, unterminated bytes wait in
// tr.partial for their newline.
func (t *Tailer) consume(ctx context.Context, tr *tracked, chunk []byte, out chan<- Line) error {
	if len(tr.partial) > 0 {
		// Complete the held line with the chunk's first line only: joining
		// the whole chunk to it copied every byte read once more.
		if i := bytes.IndexByte(chunk, '\n'); i >= 0 {
			line := append(tr.partial, chunk[:i]...)
			tr.partial = nil
			if err := t.emitLong(ctx, tr, line, 1, out); err != nil {
				return err
			}
			chunk = chunk[i+1:]
		} else {
			chunk = append(tr.partial, chunk...)
			tr.partial = nil
		}
	}
	data := chunk
	for {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			break
		}
		if err := t.emitLong(ctx, tr, data[:i], 1, out); err != nil {
			return err
		}
		data = data[i+1:]
	}
	if len(data) >= t.cfg.MaxLineBytes {
		t.m.split.Inc()
		for len(data) >= t.cfg.MaxLineBytes {
			if err := t.emit(ctx, tr, data[:t.cfg.MaxLineBytes], 0, out); err != nil {
				return err
			}
			data = data[t.cfg.MaxLineBytes:]
		}
	}
	if len(data) > 0 {
		tr.partial = append([]byte(nil), data...)
	}
	return nil
}

// flushPartial emits unterminated bytes of a file that will not grow again.
func (t *Tailer) flushPartial(ctx context.Context, tr *tracked, out chan<- Line) error {
	if len(tr.partial) == 0 {
		return nil
	}
	p := tr.partial
	tr.partial = nil
	return t.emitLong(ctx, tr, p, 0, out)
}

func (t *Tailer) emitLong(ctx context.Context, tr *tracked, line []byte, nl int64, out chan<- Line) error {
	if len(line) > t.cfg.MaxLineBytes {
		t.m.split.Inc()
		for len(line) > t.cfg.MaxLineBytes {
			if err := t.emit(ctx, tr, line[:t.cfg.MaxLineBytes], 0, out); err != nil {
				return err
			}
			line = line[t.cfg.MaxLineBytes:]
		}
	}
	return t.emit(ctx, tr, line, nl, out)
}

// lineSlab is the size of the blocks lines are copied into.
const lineSlab = 32 << 10

func (t *Tailer) emit(ctx context.Context, tr *tracked, data []byte, nl int64, out chan<- Line) error {
	// Lines are carved from a shared slab: one allocation per lineSlab
	// bytes instead of one per line. Each Data is capped at its own end,
	// so a receiver appending to it cannot touch the next line.
	if cap(t.slab)-len(t.slab) < len(data) {
		t.slab = make([]byte, 0, max(lineSlab, len(data)))
	}
	n := len(t.slab)
	t.slab = append(t.slab, data...)
	l := Line{File: tr.id, Source: tr.source(), Path: tr.path, Offset: tr.off + int64(len(data)) + nl, Data: t.slab[n:len(t.slab):len(t.slab)]}
	if t.debug && l.Source != tr.logSrc {
		tr.logSrc = l.Source
		t.log.Debug("tail: source", "path", tr.path, "real", tr.real, "file", tr.id.String(), "source", fmt.Sprintf("%x", l.Source), "origin", tr.origin != 0, "start", tr.off, "head", tr.id.Head[:min(len(tr.id.Head), SourceHeadBytes)])
	}
	select {
	case out <- l:
	case <-ctx.Done():
		return ctx.Err()
	}
	tr.off = l.Offset
	t.m.lines.Inc()
	return nil
}
