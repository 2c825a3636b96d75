package cwlogs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
)

// Saved queries (PutQueryDefinition, DescribeQueryDefinitions,
// DeleteQueryDefinition) live in one small JSON file beside the log store,
// rewritten whole (temp file, fsync, rename) on every change: there are at
// most maxQueryDefinitions of a few KB each, changed by hand, so a
// database would buy nothing.

const (
	maxQueryDefinitions  = 1000 // AWS's quota per account and region
	maxQueryDefName      = 255
	maxQueryDefParams    = 20
	kindQueryDefsPage    = 'd'
	queryDefsFileVersion = 1
)

type queryParameter struct {
	Name         string `json:"name"`
	DefaultValue string `json:"defaultValue,omitempty"`
	Description  string `json:"description,omitempty"`
}

type queryDefinition struct {
	QueryLanguage     string           `json:"queryLanguage"`
	QueryDefinitionID string           `json:"queryDefinitionId"`
	Name              string           `json:"name"`
	QueryString       string           `json:"queryString"`
	LastModified      int64            `json:"lastModified"`
	LogGroupNames     []string         `json:"logGroupNames,omitempty"`
	Parameters        []queryParameter `json:"parameters,omitempty"`
}

// queryDefs is the saved-query table. path "" keeps it in memory only.
type queryDefs struct {
	path string
	mu   sync.Mutex
	byID map[string]queryDefinition
}

type queryDefsFile struct {
	Version     int               `json:"version"`
	Definitions []queryDefinition `json:"definitions"`
}

func openQueryDefs(path string) (*queryDefs, error) {
	d := &queryDefs{path: path, byID: map[string]queryDefinition{}}
	if path == "" {
		return d, nil
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return d, nil
	}
	if err != nil {
		return nil, fmt.Errorf("query definitions: %w", err)
	}
	var f queryDefsFile
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("query definitions %s: %w", path, err)
	}
	if f.Version != queryDefsFileVersion {
		return nil, fmt.Errorf("query definitions %s: version %d, want %d", path, f.Version, queryDefsFileVersion)
	}
	for _, qd := range f.Definitions {
		d.byID[qd.QueryDefinitionID] = qd
	}
	return d, nil
}

// sortedLocked lists definitions by name, then id.
func (d *queryDefs) sortedLocked() []queryDefinition {
	out := make([]queryDefinition, 0, len(d.byID))
	for _, qd := range d.byID {
		out = append(out, qd)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Name != out[j].Name {
			return out[i].Name < out[j].Name
		}
		return out[i].QueryDefinitionID < out[j].QueryDefinitionID
	})
	return out
}

// saveLocked writes the table durably; on failure the caller restores the
// previous entry so memory and disk agree.
func (d *queryDefs) saveLocked() error {
	if d.path == "" {
		return nil
	}
	b, err := json.MarshalIndent(queryDefsFile{Version: queryDefsFileVersion, Definitions: d.sortedLocked()}, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(d.path), 0o755); err != nil {
		return err
	}
	tmp := d.path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, d.path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("save query definitions: %w", err)
	}
	if dir, err := os.Open(filepath.Dir(d.path)); err == nil {
		dir.Sync()
		dir.Close()
	}
	return nil
}

// change applies fn under the lock and saves; it restores the old entry of
// id if saving fails.
func (d *queryDefs) change(id string, fn func() error) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	old, had := d.byID[id]
	if err := fn(); err != nil {
		return err
	}
	if err := d.saveLocked(); err != nil {
		if had {
			d.byID[id] = old
		} else {
			delete(d.byID, id)
		}
		return err // ServiceUnavailableException, logged once by the handler
	}
	return nil
}

type putQueryDefinitionInput struct {
	QueryLanguage     string           `json:"queryLanguage"`
	Name              string           `json:"name"`
	QueryDefinitionID string           `json:"queryDefinitionId"`
	LogGroupNames     []string         `json:"logGroupNames"`
	QueryString       string           `json:"queryString"`
	ClientToken       string           `json:"clientToken"`
	Parameters        []queryParameter `json:"parameters"`
}

type putQueryDefinitionOutput struct {
	QueryDefinitionID string `json:"queryDefinitionId"`
}

func (h *Handler) putQueryDefinition(_ context.Context, in *putQueryDefinitionInput) (any, error) {
	var v validationErrors
	if in.QueryLanguage != "" && in.QueryLanguage != queryLanguageCWLI {
		v.add("queryLanguage", in.QueryLanguage, "Member must satisfy enum value set: [CWLI] (kinsight runs Logs Insights QL only)")
	}
	switch {
	case in.Name == "":
		v.add("name", nil, "Member must not be null")
	case strLen(in.Name) > maxQueryDefName:
		v.add("name", in.Name, fmt.Sprintf("Member must have length less than or equal to %d", maxQueryDefName))
	}
	switch {
	case in.QueryString == "":
		v.add("queryString", nil, "Member must not be null")
	case strLen(in.QueryString) > maxQueryString:
		v.add("queryString", in.QueryString, fmt.Sprintf("Member must have length less than or equal to %d", maxQueryString))
	}
	if strLen(in.QueryDefinitionID) > 256 {
		v.add("queryDefinitionId", in.QueryDefinitionID, "Member must have length less than or equal to 256")
	}
	for i, g := range in.LogGroupNames {
		v.checkGroupName(fmt.Sprintf("logGroupNames.%d.member", i+1), g, true)
	}
	if len(in.Parameters) > maxQueryDefParams {
		v.add("parameters", fmt.Sprintf("list of %d", len(in.Parameters)), fmt.Sprintf("Member must have length less than or equal to %d", maxQueryDefParams))
	}
	for i, p := range in.Parameters {
		if p.Name == "" || strLen(p.Name) > 128 || strings.Trim(p.Name[:1], "0123456789") == "" {
			v.add(fmt.Sprintf("parameters.%d.member.name", i+1), p.Name, "Member must satisfy regular expression pattern: ^[a-zA-Z_][a-zA-Z0-9_]*")
		}
	}
	if err := v.err(); err != nil {
		return nil, err
	}
	d := h.queryDefs
	id := in.QueryDefinitionID
	err := d.change(id, func() error {
		if id != "" {
			if _, ok := d.byID[id]; !ok {
				return newError(http.StatusBadRequest, errResourceNotFound, "Query definition does not exist: %s", truncate(id, 256))
			}
		} else {
			if len(d.byID) >= maxQueryDefinitions {
				return newError(http.StatusBadRequest, errLimitExceeded, "The maximum number of query definitions (%d) has been reached.", maxQueryDefinitions)
			}
			id = newRequestID()
		}
		d.byID[id] = queryDefinition{
			QueryLanguage: queryLanguageCWLI, QueryDefinitionID: id, Name: in.Name, QueryString: in.QueryString,
			LastModified: h.now().UnixMilli(), LogGroupNames: in.LogGroupNames, Parameters: in.Parameters,
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return putQueryDefinitionOutput{QueryDefinitionID: id}, nil
}

type describeQueryDefinitionsInput struct {
	QueryLanguage             string `json:"queryLanguage"`
	QueryDefinitionNamePrefix string `json:"queryDefinitionNamePrefix"`
	MaxResults                *int   `json:"maxResults"`
	NextToken                 string `json:"nextToken"`
}

type describeQueryDefinitionsOutput struct {
	QueryDefinitions []queryDefinition `json:"queryDefinitions"`
	NextToken        string            `json:"nextToken,omitempty"`
}

func (h *Handler) describeQueryDefinitions(_ context.Context, in *describeQueryDefinitionsInput) (any, error) {
	var v validationErrors
	if strLen(in.QueryDefinitionNamePrefix) > maxQueryDefName {
		v.add("queryDefinitionNamePrefix", in.QueryDefinitionNamePrefix, fmt.Sprintf("Member must have length less than or equal to %d", maxQueryDefName))
	}
	v.checkLimit("maxResults", in.MaxResults, 1000)
	if err := v.err(); err != nil {
		return nil, err
	}
	off := 0
	if in.NextToken != "" {
		var err error
		if off, err = parsePageToken(kindQueryDefsPage, in.NextToken); err != nil {
			return nil, err
		}
	}
	limit := 1000
	if in.MaxResults != nil {
		limit = *in.MaxResults
	}
	h.queryDefs.mu.Lock()
	all := h.queryDefs.sortedLocked()
	h.queryDefs.mu.Unlock()
	out := describeQueryDefinitionsOutput{QueryDefinitions: []queryDefinition{}}
	n := 0
	for _, qd := range all {
		if !strings.HasPrefix(qd.Name, in.QueryDefinitionNamePrefix) {
			continue
		}
		if n++; n <= off {
			continue
		}
		if len(out.QueryDefinitions) == limit {
			out.NextToken = pageToken(kindQueryDefsPage, off+limit)
			break
		}
		out.QueryDefinitions = append(out.QueryDefinitions, qd)
	}
	return out, nil
}

func (h *Handler) deleteQueryDefinition(_ context.Context, in *struct {
	QueryDefinitionID string `json:"queryDefinitionId"`
}) (any, error) {
	var v validationErrors
	switch {
	case in.QueryDefinitionID == "":
		v.add("queryDefinitionId", nil, "Member must not be null")
	case strLen(in.QueryDefinitionID) > 256:
		v.add("queryDefinitionId", in.QueryDefinitionID, "Member must have length less than or equal to 256")
	}
	if err := v.err(); err != nil {
		return nil, err
	}
	d := h.queryDefs
	id := in.QueryDefinitionID
	err := d.change(id, func() error {
		if _, ok := d.byID[id]; !ok {
			return newError(http.StatusBadRequest, errResourceNotFound, "Query definition does not exist: %s", truncate(id, 256))
		}
		delete(d.byID, id)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return stopQueryOutput{Success: true}, nil
}
