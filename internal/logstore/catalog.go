package logstore

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"sync"

	bolt "go.etcd.io/bbolt"
)

// The catalog keeps groups and streams in bbolt (the source of truth for
// what exists) and mirrors them in memory for lookups on the write path.
// Event statistics (first/last event, stored bytes) are not written to bbolt:
// they change with every append and are rebuilt at open from the parts'
// block indexes and the WAL replay.

var (
	bucketGroups  = []byte("groups")
	bucketStreams = []byte("streams")
)

type groupRecord struct {
	ID            uint64            `json:"id"`
	Created       int64             `json:"created"`
	RetentionDays int32             `json:"retention_days,omitempty"`
	Class         string            `json:"class,omitempty"`
	KMSKeyID      string            `json:"kms_key_id,omitempty"`
	Tags          map[string]string `json:"tags,omitempty"`
}

type streamRecord struct {
	ID      uint64 `json:"id"`
	Created int64  `json:"created"`
}

type groupState struct {
	name    string
	rec     groupRecord
	streams map[string]*streamState
}

// streamState is a stream's catalog entry plus its live statistics, which
// are guarded by catalog.mu like everything else here.
type streamState struct {
	name  string
	group *groupState
	rec   streamRecord
	stats streamStats
	// marks are the deduplication marks (marks.go). Unlike the rest they are
	// owned by the committer goroutine, which alone reads and writes them;
	// they go away with the stream.
	marks *streamMarks
}

type streamStats struct {
	firstEvent, lastEvent, lastIngestion int64
	storedBytes                          int64
}

func (st *streamStats) add(minTs, maxTs, maxIngest, bytes int64) {
	if st.firstEvent == 0 || minTs < st.firstEvent {
		st.firstEvent = minTs
	}
	if maxTs > st.lastEvent {
		st.lastEvent = maxTs
	}
	if maxIngest > st.lastIngestion {
		st.lastIngestion = maxIngest
	}
	st.storedBytes += bytes
}

type catalog struct {
	db *bolt.DB

	mu       sync.RWMutex
	byName   map[string]*groupState
	byID     map[uint64]*groupState
	streamID map[uint64]*streamState
}

func openCatalog(path string) (*catalog, error) {
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		return nil, fmt.Errorf("open catalog: %w", err)
	}
	c := &catalog{db: db, byName: map[string]*groupState{}, byID: map[uint64]*groupState{}, streamID: map[uint64]*streamState{}}
	err = db.Update(func(tx *bolt.Tx) error {
		gb, err := tx.CreateBucketIfNotExists(bucketGroups)
		if err != nil {
			return err
		}
		sb, err := tx.CreateBucketIfNotExists(bucketStreams)
		if err != nil {
			return err
		}
		if err := gb.ForEach(func(k, v []byte) error {
			g := &groupState{name: string(k), streams: map[string]*streamState{}}
			if err := json.Unmarshal(v, &g.rec); err != nil {
				return fmt.Errorf("group %q: %w", k, err)
			}
			c.byName[g.name] = g
			c.byID[g.rec.ID] = g
			return nil
		}); err != nil {
			return err
		}
		return sb.ForEach(func(k, v []byte) error {
			if len(k) < 8 {
				return fmt.Errorf("bad stream key %x", k)
			}
			g := c.byID[binary.BigEndian.Uint64(k)]
			if g == nil {
				return nil // left behind by a crash during DeleteGroup; dropped below
			}
			s := &streamState{name: string(k[8:]), group: g}
			if err := json.Unmarshal(v, &s.rec); err != nil {
				return fmt.Errorf("stream %q: %w", k[8:], err)
			}
			g.streams[s.name] = s
			c.streamID[s.rec.ID] = s
			return nil
		})
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("load catalog: %w", err)
	}
	return c, nil
}

func (c *catalog) close() error { return c.db.Close() }

func streamKey(groupID uint64, name string) []byte {
	k := make([]byte, 8+len(name))
	binary.BigEndian.PutUint64(k, groupID)
	copy(k[8:], name)
	return k
}

// nextID hands out IDs shared by groups and streams; they are never reused,
// so data of a deleted stream can be recognised by its ID alone.
func nextID(tx *bolt.Tx) (uint64, error) { return tx.Bucket(bucketGroups).NextSequence() }

func (c *catalog) createGroup(name string, rec groupRecord) (*groupState, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.byName[name] != nil {
		return nil, ErrGroupExists
	}
	err := c.db.Update(func(tx *bolt.Tx) error {
		id, err := nextID(tx)
		if err != nil {
			return err
		}
		rec.ID = id
		v, _ := json.Marshal(rec)
		return tx.Bucket(bucketGroups).Put([]byte(name), v)
	})
	if err != nil {
		return nil, fmt.Errorf("%w: catalog: %v", ErrUnavailable, err)
	}
	g := &groupState{name: name, rec: rec, streams: map[string]*streamState{}}
	c.byName[name] = g
	c.byID[rec.ID] = g
	return g, nil
}

// updateGroup applies fn to a copy of the group's record and stores it.
func (c *catalog) updateGroup(name string, fn func(*groupRecord)) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	g := c.byName[name]
	if g == nil {
		return ErrGroupNotFound
	}
	rec := g.rec
	rec.Tags = cloneTags(g.rec.Tags)
	fn(&rec)
	err := c.db.Update(func(tx *bolt.Tx) error {
		v, _ := json.Marshal(rec)
		return tx.Bucket(bucketGroups).Put([]byte(name), v)
	})
	if err != nil {
		return fmt.Errorf("%w: catalog: %v", ErrUnavailable, err)
	}
	g.rec = rec
	return nil
}

func (c *catalog) deleteGroup(name string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	g := c.byName[name]
	if g == nil {
		return ErrGroupNotFound
	}
	err := c.db.Update(func(tx *bolt.Tx) error {
		sb := tx.Bucket(bucketStreams)
		for sname := range g.streams {
			if err := sb.Delete(streamKey(g.rec.ID, sname)); err != nil {
				return err
			}
		}
		return tx.Bucket(bucketGroups).Delete([]byte(name))
	})
	if err != nil {
		return fmt.Errorf("%w: catalog: %v", ErrUnavailable, err)
	}
	for _, s := range g.streams {
		delete(c.streamID, s.rec.ID)
	}
	delete(c.byName, name)
	delete(c.byID, g.rec.ID)
	return nil
}

func (c *catalog) createStream(group, name string, now int64) (*streamState, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	g := c.byName[group]
	if g == nil {
		return nil, ErrGroupNotFound
	}
	if g.streams[name] != nil {
		return nil, ErrStreamExists
	}
	rec := streamRecord{Created: now}
	err := c.db.Update(func(tx *bolt.Tx) error {
		id, err := nextID(tx)
		if err != nil {
			return err
		}
		rec.ID = id
		v, _ := json.Marshal(rec)
		return tx.Bucket(bucketStreams).Put(streamKey(g.rec.ID, name), v)
	})
	if err != nil {
		return nil, fmt.Errorf("%w: catalog: %v", ErrUnavailable, err)
	}
	s := &streamState{name: name, group: g, rec: rec}
	g.streams[name] = s
	c.streamID[rec.ID] = s
	return s, nil
}

func (c *catalog) deleteStream(group, name string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	g := c.byName[group]
	if g == nil {
		return ErrGroupNotFound
	}
	s := g.streams[name]
	if s == nil {
		return ErrStreamNotFound
	}
	err := c.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketStreams).Delete(streamKey(g.rec.ID, name))
	})
	if err != nil {
		return fmt.Errorf("%w: catalog: %v", ErrUnavailable, err)
	}
	delete(g.streams, name)
	delete(c.streamID, s.rec.ID)
	return nil
}

// lookupStream returns the live stream state.
func (c *catalog) lookupStream(group, name string) (*streamState, error) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	g := c.byName[group]
	if g == nil {
		return nil, ErrGroupNotFound
	}
	s := g.streams[name]
	if s == nil {
		return nil, ErrStreamNotFound
	}
	return s, nil
}

func (g *groupState) snapshot() Group {
	out := Group{
		ID: g.rec.ID, Name: g.name, Created: g.rec.Created, RetentionDays: g.rec.RetentionDays,
		Class: g.rec.Class, KMSKeyID: g.rec.KMSKeyID, Tags: cloneTags(g.rec.Tags),
	}
	for _, s := range g.streams {
		out.StoredBytes += s.stats.storedBytes
	}
	return out
}

func (s *streamState) snapshot() Stream {
	return Stream{
		ID: s.rec.ID, GroupID: s.group.rec.ID, Name: s.name, Created: s.rec.Created,
		FirstEvent: s.stats.firstEvent, LastEvent: s.stats.lastEvent,
		LastIngestion: s.stats.lastIngestion, StoredBytes: s.stats.storedBytes,
	}
}

func (c *catalog) group(name string) (Group, error) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	g := c.byName[name]
	if g == nil {
		return Group{}, ErrGroupNotFound
	}
	return g.snapshot(), nil
}

func (c *catalog) listGroups(q ListGroupsQuery) ([]Group, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	names := make([]string, 0, len(c.byName))
	for n := range c.byName {
		if !strings.HasPrefix(n, q.Prefix) || n <= q.After && q.After != "" {
			continue
		}
		if !strings.Contains(n, q.Contains) {
			continue
		}
		names = append(names, n)
	}
	sort.Strings(names)
	more := q.Limit > 0 && len(names) > q.Limit
	if more {
		names = names[:q.Limit]
	}
	out := make([]Group, len(names))
	for i, n := range names {
		out[i] = c.byName[n].snapshot()
	}
	return out, more
}

func (c *catalog) listStreams(group string, q ListStreamsQuery) ([]Stream, bool, error) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	g := c.byName[group]
	if g == nil {
		return nil, false, ErrGroupNotFound
	}
	all := make([]Stream, 0, len(g.streams))
	for _, s := range g.streams {
		if strings.HasPrefix(s.name, q.Prefix) {
			all = append(all, s.snapshot())
		}
	}
	less := func(a, b Stream) bool { return a.Name < b.Name }
	if q.ByLastEvent {
		less = func(a, b Stream) bool {
			if a.LastEvent != b.LastEvent {
				return a.LastEvent < b.LastEvent
			}
			return a.Name < b.Name
		}
	}
	if q.Descending {
		asc := less
		less = func(a, b Stream) bool { return asc(b, a) }
	}
	sort.Slice(all, func(i, j int) bool { return less(all[i], all[j]) })
	if q.After != nil {
		i := sort.Search(len(all), func(i int) bool { return less(*q.After, all[i]) })
		all = all[i:]
	}
	more := q.Limit > 0 && len(all) > q.Limit
	if more {
		all = all[:q.Limit]
	}
	return all, more, nil
}

func cloneTags(t map[string]string) map[string]string {
	if len(t) == 0 {
		return nil
	}
	out := make(map[string]string, len(t))
	for k, v := range t {
		out[k] = v
	}
	return out
}
