package metricstore

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"sync"
)

// maxMetadataNames bounds the metric names whose metadata is kept, so a
// sender with unbounded metric names cannot grow the server's memory.
const maxMetadataNames = 100_000

// maxMetadataPerName bounds the distinct metadata kept per metric name.
const maxMetadataPerName = 8

// Metadata is a metric family's type, help and unit, as remote write
// senders and pushes report it and /api/v1/metadata returns it.
type Metadata struct {
	Type string `json:"type"`
	Help string `json:"help"`
	Unit string `json:"unit"`
}

// metadataStore keeps the latest distinct metadata per metric name. It
// lives in memory and is saved to a JSON file when it changed, every
// PushInterval and on Close (Prometheus keeps it only in memory, from its
// scrape targets; a restart of kinsight should not empty Grafana's metric
// browser until every sender resent it).
type metadataStore struct {
	path  string
	mu    sync.Mutex
	m     map[string][]Metadata
	dirty bool
}

func openMetadata(path string) (*metadataStore, error) {
	s := &metadataStore{path: path, m: map[string][]Metadata{}}
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return s, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read metadata: %w", err)
	}
	if err := json.Unmarshal(b, &s.m); err != nil {
		return nil, fmt.Errorf("parse metadata %s: %w", path, err)
	}
	return s, nil
}

func (s *metadataStore) put(name string, md Metadata) {
	if name == "" {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, ok := s.m[name]
	if !ok && len(s.m) >= maxMetadataNames {
		return
	}
	if i := slices.Index(cur, md); i >= 0 {
		// Most recent first, so a changed help text wins after a restart
		// of the sender while the old one ages out.
		if i > 0 {
			copy(cur[1:i+1], cur[:i])
			cur[0] = md
			s.dirty = true
		}
		return
	}
	cur = append([]Metadata{md}, cur...)
	if len(cur) > maxMetadataPerName {
		cur = cur[:maxMetadataPerName]
	}
	s.m[name] = cur
	s.dirty = true
}

// get returns metadata for metric (all metrics if ""), at most limit names
// and perMetric entries per name when those are > 0.
func (s *metadataStore) get(metric string, limit, perMetric int) map[string][]Metadata {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string][]Metadata{}
	add := func(name string, mds []Metadata) {
		if perMetric > 0 && len(mds) > perMetric {
			mds = mds[:perMetric]
		}
		out[name] = slices.Clone(mds)
	}
	if metric != "" {
		if mds, ok := s.m[metric]; ok {
			add(metric, mds)
		}
		return out
	}
	names := make([]string, 0, len(s.m))
	for n := range s.m {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		if limit > 0 && len(out) >= limit {
			break
		}
		add(n, s.m[n])
	}
	return out
}

// save writes the metadata if it changed since the last save.
func (s *metadataStore) save() error {
	s.mu.Lock()
	if !s.dirty {
		s.mu.Unlock()
		return nil
	}
	b, err := json.Marshal(s.m)
	s.dirty = false
	s.mu.Unlock()
	if err != nil {
		return fmt.Errorf("encode metadata: %w", err)
	}
	if err := writeFileAtomic(s.path, b); err != nil {
		s.mu.Lock()
		s.dirty = true // try again next time
		s.mu.Unlock()
		return err
	}
	return nil
}

// writeFileAtomic replaces path with data durably: write a temporary file,
// fsync it, rename it over path, fsync the directory.
func writeFileAtomic(path string, data []byte) error {
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("sync %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("close %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("rename %s: %w", path, err)
	}
	d, err := os.Open(dirOf(path))
	if err != nil {
		return nil
	}
	defer d.Close()
	d.Sync()
	return nil
}

func dirOf(path string) string {
	for i := len(path) - 1; i >= 0; i-- {
		if path[i] == '/' {
			return path[:i+1]
		}
	}
	return "."
}
