package logstore

import (
	"os"
	"path/filepath"
	"time"
)

// Retention is exact at read time (reads never return events older than
// their group's retention) and lazy on disk: a daily partition is deleted
// whole once every group in it has expired or been deleted, and a partition
// that still holds other groups is rewritten by a merge that leaves the
// expired ones out.

func (s *Store) runRetention() {
	defer s.wg.Done()
	tick := time.NewTicker(time.Duration(s.opts.RetentionCheckInterval))
	defer tick.Stop()
	for {
		s.enforceRetention()
		select {
		case <-tick.C:
		case <-s.quit:
			return
		}
	}
}

// EnforceRetention runs one retention pass now (the background loop runs it
// every RetentionCheckInterval).
func (s *Store) EnforceRetention() { s.enforceRetention() }

func (s *Store) enforceRetention() {
	s.mergeMu.Lock()
	defer s.mergeMu.Unlock()
	now := s.now().UnixMilli()
	expired := func(groupID uint64, dayEnd int64) bool {
		g := s.cat.byID[groupID]
		return g == nil || g.rec.RetentionDays > 0 && dayEnd <= now-int64(g.rec.RetentionDays)*dayMillis
	}
	type action struct {
		day     int32
		parts   []*part
		dropAll bool
	}
	var todo []action
	s.stateMu.RLock()
	s.cat.mu.RLock()
	for day, ps := range s.partitions {
		dayEnd := int64(day+1) * dayMillis
		all, some := true, false
		for _, p := range ps {
			for _, g := range p.meta.GroupIDs {
				if expired(g, dayEnd) {
					some = true
				} else {
					all = false
				}
			}
		}
		if some {
			for _, p := range ps {
				p.acquire()
			}
			todo = append(todo, action{day: day, parts: append([]*part(nil), ps...), dropAll: all})
		}
	}
	s.cat.mu.RUnlock()
	s.stateMu.RUnlock()
	for _, a := range todo {
		if !a.dropAll {
			// The merge takes over our references.
			if err := s.mergeParts(a.day, a.parts); err != nil {
				s.log.Error("retention rewrite failed", "day", dayDirName(a.day), "err", err)
			}
			continue
		}
		s.replaceParts(a.day, a.parts, nil)
		var events float64
		s.cat.mu.Lock()
		for _, p := range a.parts {
			for _, b := range p.blocks {
				if st := s.cat.streamID[b.streamID]; st != nil {
					st.stats.storedBytes -= int64(b.rawBytes)
				}
			}
		}
		s.cat.mu.Unlock()
		for _, p := range a.parts {
			events += float64(p.meta.Events)
			s.cache.forget(p)
			p.release()
			if err := p.drop(true); err != nil {
				s.log.Error("deleting expired part", "path", p.path, "err", err)
			}
		}
		s.m.droppedEvents.WithLabelValues("retention").Add(events)
		dir := filepath.Join(s.partsDir(), dayDirName(a.day))
		if err := os.Remove(dir); err != nil && !os.IsNotExist(err) {
			s.log.Warn("removing partition directory", "dir", dir, "err", err)
		}
		s.log.Info("deleted expired partition", "day", dayDirName(a.day), "parts", len(a.parts))
	}
}
