package logstore

import (
	"errors"
	"path/filepath"
	"sort"
	"time"
)

// Merging rewrites several parts of one daily partition into one, stream by
// stream, with a k-way merge of their blocks, so the number of parts a read
// must consult stays bounded. The merge drops events of deleted streams and
// of groups whose retention has passed. The new part lists its sources; if
// the process dies after writing it but before deleting them, Open deletes
// them (loadParts).

// runMerger merges when kicked (after a flush) and on a slow timer.
func (s *Store) runMerger() {
	defer s.wg.Done()
	tick := time.NewTicker(30 * time.Second)
	defer tick.Stop()
	for {
		select {
		case <-s.mergeKick:
		case <-tick.C:
		case <-s.quit:
			return
		}
		for {
			s.mergeMu.Lock()
			day, parts := s.pickMerge()
			if parts == nil {
				s.mergeMu.Unlock()
				break
			}
			err := s.mergeParts(day, parts)
			s.mergeMu.Unlock()
			if err != nil {
				s.log.Error("merge failed", "day", dayDirName(day), "err", err)
				break
			}
			select {
			case <-s.quit:
				return
			default:
			}
		}
	}
}

// pickMerge chooses the smallest parts of the partition with the most parts
// over the limit. Merging the smallest first keeps write amplification
// logarithmic, as in a tiered LSM.
func (s *Store) pickMerge() (int32, []*part) {
	s.stateMu.RLock()
	defer s.stateMu.RUnlock()
	limit := s.opts.MaxPartsPerPartition
	var bestDay int32
	var best []*part
	for day, ps := range s.partitions {
		if len(ps) > limit && (best == nil || len(ps) > len(best)) {
			bestDay, best = day, ps
		}
	}
	if best == nil {
		return 0, nil
	}
	cand := append([]*part(nil), best...)
	sort.Slice(cand, func(i, j int) bool { return cand[i].size < cand[j].size })
	n := len(cand) - limit/2 + 1
	n = max(n, 2)
	cand = cand[:n]
	for _, p := range cand {
		p.acquire()
	}
	return bestDay, cand
}

// mergeParts merges sources (already acquired) into one part of day.
func (s *Store) mergeParts(day int32, sources []*part) error {
	defer func() {
		for _, p := range sources {
			p.release()
		}
	}()
	start := time.Now()
	w, err := newPartWriter(filepath.Join(s.partsDir(), dayDirName(day)), s.allocPartID(), day, s.codec)
	if err != nil {
		return err
	}
	for _, p := range sources {
		w.meta.Sources = append(w.meta.Sources, p.meta.ID)
		w.meta.WALSegment = max(w.meta.WALSegment, p.meta.WALSegment)
	}
	streams := map[uint64]bool{}
	for _, p := range sources {
		for _, b := range p.blocks {
			streams[b.streamID] = true
		}
	}
	ids := make([]uint64, 0, len(streams))
	for id := range streams {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	blockMax := int(s.opts.BlockMaxBytes)
	var pending []headEvent
	pendingBytes := 0
	for _, id := range ids {
		s.cat.mu.RLock()
		st := s.cat.streamID[id]
		var groupID uint64
		cut := int64(-1 << 63)
		if st != nil {
			groupID = st.group.rec.ID
			cut = s.retentionCutoff(st.group.rec.RetentionDays)
		}
		s.cat.mu.RUnlock()
		sc := &scan{start: -1 << 63, cutoff: map[uint64]int64{id: cut}}
		var runs []run
		for _, p := range sources {
			lo, hi := p.streamBlocks(id)
			for i := lo; i < hi; i++ {
				b := &p.blocks[i]
				if st == nil {
					s.m.droppedEvents.WithLabelValues("deleted").Add(float64(b.count))
					continue
				}
				runs = append(runs, run{streamID: id, minTs: b.minTs, maxTs: b.maxTs, p: p, block: i})
			}
		}
		if len(runs) == 0 {
			continue
		}
		// Runs that overlap nobody else in time and are big enough are copied
		// as they are; the rest are merged event by event and re-cut. In
		// time-ordered ingestion almost every block is copied, so a merge
		// costs I/O, not recompression.
		sort.Slice(runs, func(i, j int) bool { return runs[i].minTs < runs[j].minTs })
		pending, pendingBytes = pending[:0], 0
		flushPending := func() error {
			if len(pending) == 0 {
				return nil
			}
			err := w.addBlock(groupID, id, pending)
			pending, pendingBytes = pending[:0], 0
			return err
		}
		var kept, keptBytes int64
		for i := 0; i < len(runs); {
			j, hi := i+1, runs[i].maxTs
			for j < len(runs) && runs[j].minTs <= hi {
				hi = max(hi, runs[j].maxTs)
				j++
			}
			if b := &runs[i].p.blocks[runs[i].block]; j == i+1 && b.minTs >= cut && int(b.rawBytes) >= blockMax/2 {
				if err := flushPending(); err != nil {
					w.abort()
					return err
				}
				if err := w.copyBlock(groupID, runs[i].p, runs[i].block); err != nil {
					w.abort()
					return err
				}
				kept += int64(b.count)
				keptBytes += int64(b.rawBytes)
				i = j
				continue
			}
			m := newMerger(s, sc, runs[i:j])
			for {
				ev, _, ok := m.next()
				if !ok {
					break
				}
				if pendingBytes+len(ev.msg) > blockMax && len(pending) > 0 {
					if err := flushPending(); err != nil {
						w.abort()
						return err
					}
				}
				pending = append(pending, ev)
				pendingBytes += len(ev.msg) + 16
				kept++
				keptBytes += int64(len(ev.msg))
			}
			if m.err != nil {
				w.abort()
				return m.err
			}
			i = j
		}
		if err := flushPending(); err != nil {
			w.abort()
			return err
		}
		var total, bytesTotal int64
		for _, r := range runs {
			total += int64(r.p.blocks[r.block].count)
			bytesTotal += int64(r.p.blocks[r.block].rawBytes)
		}
		if dropped := total - kept; dropped > 0 {
			s.m.droppedEvents.WithLabelValues("retention").Add(float64(dropped))
			s.cat.mu.Lock()
			st.stats.storedBytes -= bytesTotal - keptBytes
			s.cat.mu.Unlock()
		}
	}
	var merged *part
	if !w.empty() {
		if err := w.finish(); err != nil {
			w.abort()
			return err
		}
		if merged, err = openPart(w.path); err != nil {
			return err
		}
		merged.meta.Day = day
		s.m.partsWritten.WithLabelValues("merge").Inc()
	} else {
		w.abort()
	}
	s.replaceParts(day, sources, merged)
	var errs []error
	for _, p := range sources {
		s.cache.forget(p)
		errs = append(errs, p.drop(true))
	}
	s.m.mergeDuration.Observe(time.Since(start).Seconds())
	s.log.Debug("merged parts", "day", dayDirName(day), "sources", len(sources), "took", time.Since(start))
	return errors.Join(errs...)
}

// replaceParts swaps sources for merged (which may be nil) in day's list.
func (s *Store) replaceParts(day int32, sources []*part, merged *part) {
	gone := map[*part]bool{}
	for _, p := range sources {
		gone[p] = true
	}
	s.stateMu.Lock()
	defer s.stateMu.Unlock()
	var out []*part
	for _, p := range s.partitions[day] {
		if !gone[p] {
			out = append(out, p)
		}
	}
	if merged != nil {
		out = append(out, merged)
	}
	if len(out) == 0 {
		delete(s.partitions, day)
		return
	}
	s.partitions[day] = out
}
