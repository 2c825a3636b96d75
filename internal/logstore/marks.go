package logstore

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"sort"
)

// Deduplication by source position (the X-Kinsight-Positions contract of
// docs/api.md). A client that re-sends records after a crash tags every
// event with the position just past its end in its source; per stream and
// per (source, channel) the store keeps a high-water mark, the greatest end
// stored, and skips events at or below it.
//
// Marks are read and advanced only by the committer goroutine (and by the
// replay before it starts), so check-and-advance is atomic per stream
// without a lock of its own. An advance travels in the same WAL record as
// the events that caused it and reaches memory only after the fsync, so a
// crash can never keep an event and forget its mark, or the reverse. When a
// flushed head's WAL segments are about to be deleted, the marks as of the
// end of those segments are first written to the marks file; Open reads the
// file and replays the later WAL records on top of it.

// Position is where an event ends in its source, for deduplication.
type Position struct {
	// Source names the source (a file's identity, a journal); Channel a
	// sub-sequence of it (CRI stdout and stderr) whose ends grow on their own.
	Source  uint64
	Channel uint8
	// End is the offset just past the event's last byte, ≥ 0.
	End int64
}

// maxMarksPerStream bounds the marks of one stream: the least recently
// advanced one is evicted, so rotated-away files do not grow state forever.
const maxMarksPerStream = 64

type markKey struct {
	source  uint64
	channel uint8
}

// mark is a high-water mark; lsn is the WAL record that last advanced it,
// which orders marks for eviction identically at commit and at replay.
type mark struct {
	markKey
	end int64
	lsn uint64
}

// walMark is one advance carried by a WAL record.
type walMark struct {
	markKey
	end int64
}

// streamMarks are one stream's marks, at most maxMarksPerStream, in the
// order they were added. A slice: 64 entries are searched faster than
// hashed, and the order makes eviction deterministic.
type streamMarks struct {
	m []mark
}

func (sm *streamMarks) get(k markKey) (int64, bool) {
	if sm == nil {
		return 0, false
	}
	for i := range sm.m {
		if sm.m[i].markKey == k {
			return sm.m[i].end, true
		}
	}
	return 0, false
}

// advance applies one WAL record's advance. It is the only way marks
// change, both when committing and when replaying, so both reach the same
// state (including which mark is evicted).
func (sm *streamMarks) advance(k markKey, end int64, lsn uint64) {
	for i := range sm.m {
		if sm.m[i].markKey == k {
			sm.m[i].end = max(sm.m[i].end, end)
			sm.m[i].lsn = max(sm.m[i].lsn, lsn)
			return
		}
	}
	if len(sm.m) >= maxMarksPerStream {
		old := 0
		for i := range sm.m {
			if sm.m[i].lsn < sm.m[old].lsn {
				old = i
			}
		}
		sm.m = append(sm.m[:old], sm.m[old+1:]...)
	}
	sm.m = append(sm.m, mark{markKey: k, end: end, lsn: lsn})
}

// dedup decides which of events are new. pending holds the advances
// decided earlier in the same group commit for the same stream (not yet
// durable) and is updated; a slice, as a stream has few channels. It
// returns the events and the advances to write, and the number and
// message bytes of the duplicates. positions is aligned with events.
func dedup(sm *streamMarks, pending *[]walMark, events []InputEvent, positions []Position) (keep []InputEvent, adv []walMark, dups, dupBytes int) {
	// Runs of one (source, channel) are the common case: the key's mark is
	// looked up when the key changes, not per event.
	var (
		k      markKey
		cur    int64
		have   bool // cur is a mark
		ai     = -1 // index of k in adv
		pi     = -1 // index of k in pending
		loaded bool
	)
	for i, e := range events {
		p := positions[i]
		if nk := (markKey{p.Source, p.Channel}); !loaded || nk != k {
			k, loaded = nk, true
			pi = -1
			for j := range *pending {
				if (*pending)[j].markKey == k {
					pi = j
					break
				}
			}
			if pi >= 0 {
				cur, have = (*pending)[pi].end, true
			} else {
				cur, have = sm.get(k)
			}
			ai = -1
			for j := range adv {
				if adv[j].markKey == k {
					ai = j
					break
				}
			}
		}
		if have && p.End <= cur {
			if keep == nil {
				keep = append(make([]InputEvent, 0, len(events)-1), events[:i]...)
			}
			dups++
			dupBytes += len(e.Message)
			continue
		}
		if keep != nil {
			keep = append(keep, e)
		}
		cur, have = p.End, true
		if pi < 0 {
			*pending = append(*pending, walMark{markKey: k})
			pi = len(*pending) - 1
		}
		(*pending)[pi].end = cur
		if ai < 0 {
			adv = append(adv, walMark{markKey: k})
			ai = len(adv) - 1
		}
		adv[ai].end = cur
	}
	if keep == nil {
		keep = events
	}
	return keep, adv, dups, dupBytes
}

// The marks file (marks, beside catalog.db), written whole and atomically:
//
//	"KSMARK1\n"
//	uvarint through    newest WAL segment whose advances it contains
//	uvarint S          streams
//	S × { uvarint stream id, uvarint M, M × { uvarint source, u8 channel,
//	      varint end, uvarint lsn } }
//	u32 CRC-32C of everything before it
const (
	marksFile  = "marks"
	marksMagic = "KSMARK1\n"
)

var errCorruptMarks = errors.New("corrupt marks file")

func encodeMarks(through uint64, marks map[uint64][]mark) []byte {
	ids := make([]uint64, 0, len(marks))
	for id := range marks {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	buf := append([]byte(nil), marksMagic...)
	buf = binary.AppendUvarint(buf, through)
	buf = binary.AppendUvarint(buf, uint64(len(ids)))
	for _, id := range ids {
		ms := marks[id]
		buf = binary.AppendUvarint(buf, id)
		buf = binary.AppendUvarint(buf, uint64(len(ms)))
		for _, m := range ms {
			buf = binary.AppendUvarint(buf, m.source)
			buf = append(buf, m.channel)
			buf = binary.AppendVarint(buf, m.end)
			buf = binary.AppendUvarint(buf, m.lsn)
		}
	}
	return binary.LittleEndian.AppendUint32(buf, crc32.Checksum(buf, castagnoli))
}

func decodeMarks(b []byte) (uint64, map[uint64][]mark, error) {
	if len(b) < len(marksMagic)+4 || string(b[:len(marksMagic)]) != marksMagic {
		return 0, nil, errCorruptMarks
	}
	body := b[:len(b)-4]
	if crc32.Checksum(body, castagnoli) != binary.LittleEndian.Uint32(b[len(b)-4:]) {
		return 0, nil, errCorruptMarks
	}
	d := decoder{b: body[len(marksMagic):]}
	through := d.uvarint()
	n := d.uvarint()
	if d.err != nil || n > uint64(len(d.b)) {
		return 0, nil, errCorruptMarks
	}
	out := make(map[uint64][]mark, n)
	for i := uint64(0); i < n; i++ {
		id := d.uvarint()
		m := d.uvarint()
		if d.err != nil || m > maxMarksPerStream {
			return 0, nil, errCorruptMarks
		}
		ms := make([]mark, 0, m)
		for j := uint64(0); j < m; j++ {
			var mk mark
			mk.source = d.uvarint()
			ch := d.bytes(1)
			mk.end = d.varint()
			mk.lsn = d.uvarint()
			if d.err != nil {
				return 0, nil, errCorruptMarks
			}
			mk.channel = ch[0]
			ms = append(ms, mk)
		}
		out[id] = ms
	}
	if d.err != nil || len(d.b) != 0 {
		return 0, nil, errCorruptMarks
	}
	return through, out, nil
}

// snapshotMarks copies the marks of the live streams. Called by the
// committer (which owns the marks) when it freezes a head.
func (s *Store) snapshotMarks() map[uint64][]mark {
	s.cat.mu.RLock()
	defer s.cat.mu.RUnlock()
	out := map[uint64][]mark{}
	for id, st := range s.cat.streamID {
		if st.marks != nil && len(st.marks.m) > 0 {
			out[id] = append([]mark(nil), st.marks.m...)
		}
	}
	return out
}

// writeMarks stores a snapshot durably: write, fsync, rename, fsync dir.
func (s *Store) writeMarks(through uint64, marks map[uint64][]mark) error {
	path := filepath.Join(s.dir, marksFile)
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("write marks: %w", err)
	}
	_, err = f.Write(encodeMarks(through, marks))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err == nil {
		err = syncDir(s.dir)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write marks: %w", err)
	}
	return nil
}

// loadMarks reads the marks file into the streams (those deleted since are
// dropped) and returns the WAL segment it is current through; 0 without a
// file.
func (s *Store) loadMarks() (uint64, error) {
	b, err := os.ReadFile(filepath.Join(s.dir, marksFile))
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read marks: %w", err)
	}
	through, marks, err := decodeMarks(b)
	if err != nil {
		// Written atomically, so this is damage, not a torn write: refuse to
		// start rather than silently store duplicates.
		return 0, fmt.Errorf("%s: %w", filepath.Join(s.dir, marksFile), err)
	}
	s.cat.mu.Lock()
	defer s.cat.mu.Unlock()
	for id, ms := range marks {
		st := s.cat.streamID[id]
		if st == nil {
			continue
		}
		st.marks = &streamMarks{m: ms}
		for _, m := range ms {
			s.nextLSN = max(s.nextLSN, m.lsn+1)
		}
	}
	return through, nil
}
