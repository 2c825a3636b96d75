package logstore

// CreateGroup creates a group. g supplies RetentionDays, Class, KMSKeyID and
// Tags; the rest is filled in. ErrGroupExists if the name is taken.
func (s *Store) CreateGroup(name string, g Group) (Group, error) {
	gs, err := s.cat.createGroup(name, groupRecord{
		Created: s.now().UnixMilli(), RetentionDays: g.RetentionDays,
		Class: g.Class, KMSKeyID: g.KMSKeyID, Tags: cloneTags(g.Tags),
	})
	if err != nil {
		return Group{}, err
	}
	s.cat.mu.RLock()
	defer s.cat.mu.RUnlock()
	return gs.snapshot(), nil
}

// DeleteGroup deletes a group and its streams at once; their events become
// invisible immediately and leave the disk with the next merge or retention
// pass.
func (s *Store) DeleteGroup(name string) error { return s.cat.deleteGroup(name) }

// Group returns one group.
func (s *Store) Group(name string) (Group, error) { return s.cat.group(name) }

// ListGroups returns up to q.Limit groups in name order and whether more follow.
func (s *Store) ListGroups(q ListGroupsQuery) ([]Group, bool, error) {
	gs, more := s.cat.listGroups(q)
	return gs, more, nil
}

// PutRetention sets a group's retention in days; 0 removes it.
func (s *Store) PutRetention(name string, days int32) error {
	return s.cat.updateGroup(name, func(r *groupRecord) { r.RetentionDays = days })
}

// TagGroup adds or replaces tags.
func (s *Store) TagGroup(name string, tags map[string]string) error {
	return s.cat.updateGroup(name, func(r *groupRecord) {
		if r.Tags == nil {
			r.Tags = map[string]string{}
		}
		for k, v := range tags {
			r.Tags[k] = v
		}
	})
}

// UntagGroup removes tags by key.
func (s *Store) UntagGroup(name string, keys []string) error {
	return s.cat.updateGroup(name, func(r *groupRecord) {
		for _, k := range keys {
			delete(r.Tags, k)
		}
	})
}

// CreateStream creates a stream in a group.
func (s *Store) CreateStream(group, name string) (Stream, error) {
	st, err := s.cat.createStream(group, name, s.now().UnixMilli())
	if err != nil {
		return Stream{}, err
	}
	s.cat.mu.RLock()
	defer s.cat.mu.RUnlock()
	return st.snapshot(), nil
}

// DeleteStream deletes a stream; its events become invisible at once and
// leave the disk with the next merge.
func (s *Store) DeleteStream(group, name string) error { return s.cat.deleteStream(group, name) }

// ListStreams pages through a group's streams.
func (s *Store) ListStreams(group string, q ListStreamsQuery) ([]Stream, bool, error) {
	return s.cat.listStreams(group, q)
}
