package cwlogs

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/kinsight/kinsight/internal/insights"
	"github.com/kinsight/kinsight/internal/insights/syntax"
	"github.com/kinsight/kinsight/internal/logstore"
)

// Logs Insights operations: StartQuery, GetQueryResults, StopQuery,
// DescribeQueries, GetLogRecord and GetLogGroupFields. Shapes and limits
// follow the botocore model (service-2.json 2014-03-28).

const (
	maxQueryString      = 10000 // QueryString
	maxQueryGroups      = 50    // log groups per query
	maxDescribeQueries  = 1000  // DescribeQueriesMaxResults
	maxQueryResultItems = 10000 // GetQueryResultsMaxItems
	queryLanguageCWLI   = "CWLI"
	kindResultsPage     = 'r'
	kindQueriesPage     = 'q'
	// fieldsWindow is GetLogGroupFields' window around its time, and
	// fieldsSample the newest events of it that are looked at.
	fieldsWindow = 8 * time.Minute
	fieldsSample = 1000
)

// queryCompileError is MalformedQueryException's detail.
type queryCompileError struct {
	Location struct {
		StartCharOffset int `json:"startCharOffset"`
		EndCharOffset   int `json:"endCharOffset"`
	} `json:"location"`
	Message string `json:"message"`
}

// malformedQuery maps a compile error to MalformedQueryException with the
// location as character (not byte) offsets, the end at the end of the
// offending word.
func malformedQuery(query string, err error) error {
	var se *syntax.Error
	if !errors.As(err, &se) {
		return invalidParam("Invalid query: %v", err)
	}
	start := min(max(int(se.Pos), 0), len(query))
	end := start
	for end < len(query) {
		r, n := utf8.DecodeRuneInString(query[end:])
		if unicode.IsSpace(r) || r == '|' && end > start {
			break
		}
		end += n
	}
	if end == start && end < len(query) {
		end++
	}
	ce := &queryCompileError{Message: se.Msg}
	ce.Location.StartCharOffset = utf8.RuneCountInString(query[:start])
	ce.Location.EndCharOffset = ce.Location.StartCharOffset + utf8.RuneCountInString(query[start:end])
	ae := newError(http.StatusBadRequest, errMalformedQuery, "%s", se.Error())
	ae.compile = ce
	return ae
}

type startQueryInput struct {
	QueryLanguage       string   `json:"queryLanguage"`
	LogGroupName        string   `json:"logGroupName"`
	LogGroupNames       []string `json:"logGroupNames"`
	LogGroupIdentifiers []string `json:"logGroupIdentifiers"`
	StartTime           *int64   `json:"startTime"`
	EndTime             *int64   `json:"endTime"`
	QueryString         *string  `json:"queryString"`
	Limit               *int     `json:"limit"`
}

type startQueryOutput struct {
	QueryID string `json:"queryId"`
}

// secondsToMs converts StartQuery's epoch seconds, saturating.
func secondsToMs(s int64) int64 {
	if s > math.MaxInt64/1000-1 {
		return math.MaxInt64 / 1000 * 1000
	}
	return s * 1000
}

func (h *Handler) startQuery(_ context.Context, in *startQueryInput) (any, error) {
	var v validationErrors
	if in.QueryLanguage != "" && in.QueryLanguage != queryLanguageCWLI {
		v.add("queryLanguage", in.QueryLanguage, "Member must satisfy enum value set: [CWLI] (kinsight runs Logs Insights QL only)")
	}
	v.checkGroupName("logGroupName", in.LogGroupName, false)
	for i, g := range in.LogGroupNames {
		v.checkGroupName(fmt.Sprintf("logGroupNames.%d.member", i+1), g, true)
	}
	v.checkTime("startTime", in.StartTime)
	v.checkTime("endTime", in.EndTime)
	if in.StartTime == nil {
		v.add("startTime", nil, "Member must not be null")
	}
	if in.EndTime == nil {
		v.add("endTime", nil, "Member must not be null")
	}
	if in.QueryString == nil {
		v.add("queryString", nil, "Member must not be null")
	} else if strLen(*in.QueryString) > maxQueryString {
		v.add("queryString", *in.QueryString, fmt.Sprintf("Member must have length less than or equal to %d", maxQueryString))
	}
	v.checkLimit("limit", in.Limit, insights.MaxLimit)
	if err := v.err(); err != nil {
		return nil, err
	}
	if *in.EndTime < *in.StartTime {
		return nil, invalidParam("endTime must be greater than or equal to startTime.")
	}
	query := *in.QueryString
	compiled, err := insights.Compile(query)
	if err != nil {
		return nil, malformedQuery(query, err)
	}
	groups, err := h.queryGroups(in, compiled.SourcePrefixes())
	if err != nil {
		return nil, err
	}
	sp := startSpec{
		query: query, compiled: compiled, groups: groups,
		start: secondsToMs(*in.StartTime), end: secondsToMs(*in.EndTime) + 1000,
	}
	if in.Limit != nil {
		sp.limit = *in.Limit
	}
	id, err := h.queries.start(sp)
	if err != nil {
		return nil, err
	}
	return startQueryOutput{QueryID: id}, nil
}

// queryGroups resolves the groups a query reads: exactly one of
// logGroupName, logGroupNames and logGroupIdentifiers, or a SOURCE command
// in the query; each must exist.
func (h *Handler) queryGroups(in *startQueryInput, prefixes []string) ([]string, error) {
	given := 0
	for _, set := range []bool{in.LogGroupName != "", len(in.LogGroupNames) > 0, len(in.LogGroupIdentifiers) > 0} {
		if set {
			given++
		}
	}
	switch {
	case given > 1:
		return nil, invalidParam("LogGroupName, LogGroupNames and LogGroupIdentifiers are mutually exclusive parameters.")
	case given == 0 && len(prefixes) == 0:
		return nil, invalidParam("Log group names or identifiers are required (logGroupName, logGroupNames, logGroupIdentifiers or SOURCE in the query).")
	case given > 0 && len(prefixes) > 0:
		return nil, invalidParam("A query with SOURCE must not also name log groups in the request.")
	}
	var names []string
	switch {
	case in.LogGroupName != "":
		names = []string{in.LogGroupName}
	case len(in.LogGroupNames) > 0:
		names = in.LogGroupNames
	case len(in.LogGroupIdentifiers) > 0:
		for _, id := range in.LogGroupIdentifiers {
			n, err := h.groupRef("", id)
			if err != nil {
				return nil, err
			}
			names = append(names, n)
		}
	default:
		for _, p := range prefixes {
			gs, _, err := h.store.ListGroups(logstore.ListGroupsQuery{Prefix: p, Limit: maxQueryGroups + 1})
			if err != nil {
				return nil, err
			}
			for _, g := range gs {
				names = append(names, g.Name)
			}
		}
	}
	seen := map[string]bool{}
	out := names[:0:0]
	for _, n := range names {
		if !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	if len(out) > maxQueryGroups {
		return nil, invalidParam("A query can read at most %d log groups (got %d).", maxQueryGroups, len(out))
	}
	if len(out) == 0 {
		return nil, newError(http.StatusBadRequest, errResourceNotFound, "No log group matches the SOURCE prefixes.")
	}
	for _, n := range out {
		if _, err := h.store.Group(n); err != nil {
			if errors.Is(err, logstore.ErrGroupNotFound) {
				return nil, newError(http.StatusBadRequest, errResourceNotFound, "Log group '%s' does not exist for account ID '%s'", truncate(n, 512), h.accountID)
			}
			return nil, err
		}
	}
	return out, nil
}

type queryIDInput struct {
	QueryID string `json:"queryId"`
}

func (in *queryIDInput) validate() error {
	var v validationErrors
	switch {
	case in.QueryID == "":
		v.add("queryId", nil, "Member must not be null")
	case strLen(in.QueryID) > 256:
		v.add("queryId", in.QueryID, "Member must have length less than or equal to 256")
	}
	return v.err()
}

type getQueryResultsInput struct {
	QueryID   string `json:"queryId"`
	NextToken string `json:"nextToken"`
	MaxItems  *int   `json:"maxItems"`
}

type resultField struct {
	Field string `json:"field"`
	Value string `json:"value"`
}

type queryStatistics struct {
	RecordsMatched          float64 `json:"recordsMatched"`
	RecordsScanned          float64 `json:"recordsScanned"`
	EstimatedRecordsSkipped float64 `json:"estimatedRecordsSkipped"`
	BytesScanned            float64 `json:"bytesScanned"`
	EstimatedBytesSkipped   float64 `json:"estimatedBytesSkipped"`
	LogGroupsScanned        float64 `json:"logGroupsScanned"`
}

type getQueryResultsOutput struct {
	QueryLanguage string          `json:"queryLanguage"`
	Results       [][]resultField `json:"results"`
	Statistics    queryStatistics `json:"statistics"`
	Status        string          `json:"status"`
	NextToken     string          `json:"nextToken,omitempty"`
}

func pageToken(kind byte, off int) string {
	return encodeOpaque(kind, binary.BigEndian.AppendUint32(nil, uint32(off)))
}

func parsePageToken(kind byte, s string) (int, error) {
	p, err := decodeOpaque(kind, s)
	if err != nil || len(p) != 4 {
		return 0, invalidParam(msgInvalidNextToken)
	}
	return int(binary.BigEndian.Uint32(p)), nil
}

func (h *Handler) getQueryResults(_ context.Context, in *getQueryResultsInput) (any, error) {
	if err := (&queryIDInput{QueryID: in.QueryID}).validate(); err != nil {
		return nil, err
	}
	var v validationErrors
	if in.MaxItems != nil && (*in.MaxItems < 0 || *in.MaxItems > maxQueryResultItems) {
		v.add("maxItems", *in.MaxItems, fmt.Sprintf("Member must have value between 0 and %d", maxQueryResultItems))
	}
	if err := v.err(); err != nil {
		return nil, err
	}
	q, err := h.queries.get(in.QueryID)
	if err != nil {
		return nil, err
	}
	status, res, _ := q.snapshot()
	off := 0
	if in.NextToken != "" {
		if off, err = parsePageToken(kindResultsPage, in.NextToken); err != nil {
			return nil, err
		}
	}
	rows := res.Rows
	off = min(off, len(rows))
	rows = rows[off:]
	out := getQueryResultsOutput{
		QueryLanguage: queryLanguageCWLI, Status: status, Results: make([][]resultField, 0, len(rows)),
		Statistics: queryStatistics{
			RecordsMatched: res.Stats.RecordsMatched, RecordsScanned: res.Stats.RecordsScanned,
			BytesScanned: res.Stats.BytesScanned, LogGroupsScanned: float64(len(q.groups)),
		},
	}
	if in.MaxItems != nil && *in.MaxItems > 0 && len(rows) > *in.MaxItems {
		rows = rows[:*in.MaxItems]
		out.NextToken = pageToken(kindResultsPage, off+len(rows))
	}
	for _, r := range rows {
		fs := make([]resultField, len(r))
		for i, f := range r {
			fs[i] = resultField{Field: f.Name, Value: f.Value}
		}
		out.Results = append(out.Results, fs)
	}
	return out, nil
}

type stopQueryOutput struct {
	Success bool `json:"success"`
}

func (h *Handler) stopQuery(_ context.Context, in *queryIDInput) (any, error) {
	if err := in.validate(); err != nil {
		return nil, err
	}
	ok, err := h.queries.stopQuery(in.QueryID)
	if err != nil {
		return nil, err
	}
	return stopQueryOutput{Success: ok}, nil
}

type describeQueriesInput struct {
	LogGroupName  string `json:"logGroupName"`
	Status        string `json:"status"`
	MaxResults    *int   `json:"maxResults"`
	NextToken     string `json:"nextToken"`
	QueryLanguage string `json:"queryLanguage"`
}

type queryInfo struct {
	QueryLanguage string  `json:"queryLanguage"`
	QueryID       string  `json:"queryId"`
	QueryString   string  `json:"queryString"`
	Status        string  `json:"status"`
	CreateTime    int64   `json:"createTime"`
	LogGroupName  string  `json:"logGroupName,omitempty"`
	QueryDuration int64   `json:"queryDuration"`
	BytesScanned  float64 `json:"bytesScanned"`
}

type describeQueriesOutput struct {
	Queries   []queryInfo `json:"queries"`
	NextToken string      `json:"nextToken,omitempty"`
}

var queryStatuses = []string{statusScheduled, statusRunning, statusComplete, statusFailed, statusCancelled, statusTimeout, "Unknown"}

func (h *Handler) describeQueries(_ context.Context, in *describeQueriesInput) (any, error) {
	var v validationErrors
	v.checkGroupName("logGroupName", in.LogGroupName, false)
	if in.Status != "" && !contains(queryStatuses, in.Status) {
		v.add("status", in.Status, "Member must satisfy enum value set: ["+strings.Join(queryStatuses, ", ")+"]")
	}
	v.checkLimit("maxResults", in.MaxResults, maxDescribeQueries)
	if err := v.err(); err != nil {
		return nil, err
	}
	if in.LogGroupName != "" {
		if _, err := h.store.Group(in.LogGroupName); err != nil {
			return nil, err
		}
	}
	off := 0
	if in.NextToken != "" {
		var err error
		if off, err = parsePageToken(kindQueriesPage, in.NextToken); err != nil {
			return nil, err
		}
	}
	limit := maxDescribeQueries
	if in.MaxResults != nil {
		limit = *in.MaxResults
	}
	out := describeQueriesOutput{Queries: []queryInfo{}}
	n := 0
	now := h.now()
	for _, q := range h.queries.list() {
		status, res, finished := q.snapshot()
		if in.Status != "" && status != in.Status || in.LogGroupName != "" && !contains(q.groups, in.LogGroupName) {
			continue
		}
		if n++; n <= off {
			continue
		}
		if len(out.Queries) == limit {
			out.NextToken = pageToken(kindQueriesPage, off+limit)
			break
		}
		end := finished
		if !ended(status) {
			end = now
		}
		out.Queries = append(out.Queries, queryInfo{
			QueryLanguage: queryLanguageCWLI, QueryID: q.id, QueryString: q.query, Status: status,
			CreateTime: q.created.UnixMilli(), LogGroupName: q.groups[0],
			QueryDuration: max(end.Sub(q.created).Milliseconds(), 0), BytesScanned: res.Stats.BytesScanned,
		})
	}
	return out, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

type getLogRecordInput struct {
	LogRecordPointer *string `json:"logRecordPointer"`
	Unmask           bool    `json:"unmask"`
}

type getLogRecordOutput struct {
	LogRecord map[string]string `json:"logRecord"`
}

// getLogRecord returns every field of one event: the @ fields, with times
// as epoch milliseconds as AWS gives them here, and a JSON message's keys
// flattened with dots. unmask is accepted; kinsight masks nothing.
func (h *Handler) getLogRecord(ctx context.Context, in *getLogRecordInput) (any, error) {
	if in.LogRecordPointer == nil {
		var v validationErrors
		v.add("logRecordPointer", nil, "Member must not be null")
		return nil, v.err()
	}
	p, err := logstore.ParsePtr(*in.LogRecordPointer)
	if err != nil {
		return nil, invalidParam("Invalid logRecordPointer: %s", truncate(*in.LogRecordPointer, 64))
	}
	group, r, err := h.store.Get(ctx, p)
	if errors.Is(err, logstore.ErrRecordNotFound) {
		return nil, newError(http.StatusBadRequest, errResourceNotFound, "Log record does not exist: %s", truncate(*in.LogRecordPointer, 64))
	}
	if err != nil {
		return nil, err
	}
	rec := map[string]string{}
	flattenJSON(r.Message, rec)
	rec["@timestamp"] = strconv.FormatInt(r.Timestamp, 10)
	rec["@ingestionTime"] = strconv.FormatInt(r.IngestionTime, 10)
	rec["@message"] = r.Message
	rec["@logStream"] = r.Stream
	rec["@log"] = h.accountID + ":" + group
	return getLogRecordOutput{LogRecord: rec}, nil
}

// flattenJSON adds the keys of a JSON object message to out, nested keys
// joined with dots and array elements by index (a.b.0.c), values as
// Insights prints them: strings bare, numbers and booleans as written,
// null as "null". A message that is not a JSON object adds nothing.
func flattenJSON(msg string, out map[string]string) {
	s := strings.TrimSpace(msg)
	if len(s) < 2 || s[0] != '{' {
		return
	}
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	var v map[string]any
	if err := dec.Decode(&v); err != nil {
		return
	}
	var walk func(prefix string, v any)
	walk = func(prefix string, v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, e := range x {
				walk(joinKey(prefix, k), e)
			}
		case []any:
			for i, e := range x {
				walk(joinKey(prefix, strconv.Itoa(i)), e)
			}
		case string:
			out[prefix] = x
		case json.Number:
			out[prefix] = x.String()
		case bool:
			out[prefix] = strconv.FormatBool(x)
		case nil:
			out[prefix] = "null"
		}
	}
	walk("", v)
}

func joinKey(prefix, k string) string {
	if prefix == "" {
		return k
	}
	return prefix + "." + k
}

type getLogGroupFieldsInput struct {
	LogGroupName       string `json:"logGroupName"`
	LogGroupIdentifier string `json:"logGroupIdentifier"`
	Time               *int64 `json:"time"`
}

type logGroupField struct {
	Name    string `json:"name"`
	Percent int    `json:"percent"`
}

type getLogGroupFieldsOutput struct {
	LogGroupFields []logGroupField `json:"logGroupFields"`
}

// getLogGroupFields samples the newest events (up to 1000) of the 8
// minutes either side of time (or the last 15 minutes without it), as AWS
// describes, and reports each field with the share of events that have it.
func (h *Handler) getLogGroupFields(ctx context.Context, in *getLogGroupFieldsInput) (any, error) {
	group, err := h.groupRef(in.LogGroupName, in.LogGroupIdentifier)
	if err != nil {
		return nil, err
	}
	var v validationErrors
	v.checkTime("time", in.Time)
	if err := v.err(); err != nil {
		return nil, err
	}
	end := h.now()
	start := end.Add(-15 * time.Minute)
	if in.Time != nil {
		t := time.UnixMilli(secondsToMs(*in.Time))
		start, end = t.Add(-fieldsWindow), t.Add(fieldsWindow)
	}
	var sample []logstore.Record
	_, err = h.store.Scan(ctx, group, logstore.ScanQuery{Start: start.UnixMilli(), End: end.UnixMilli() + 1, Newest: fieldsSample},
		func(recs []logstore.Record) error {
			sample = append(sample, recs...)
			return nil
		})
	if err != nil {
		return nil, err
	}
	sort.Slice(sample, func(i, j int) bool { return sample[i].Timestamp > sample[j].Timestamp })
	sample = sample[:min(len(sample), fieldsSample)]
	counts := map[string]int{}
	for _, r := range sample {
		fs := map[string]string{}
		flattenJSON(r.Message, fs)
		for k := range fs {
			counts[k]++
		}
	}
	out := getLogGroupFieldsOutput{LogGroupFields: []logGroupField{}}
	if len(sample) > 0 {
		for _, f := range []string{"@timestamp", "@message", "@logStream", "@log", "@ingestionTime"} {
			out.LogGroupFields = append(out.LogGroupFields, logGroupField{Name: f, Percent: 100})
		}
	}
	names := make([]string, 0, len(counts))
	for k := range counts {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		out.LogGroupFields = append(out.LogGroupFields, logGroupField{Name: k, Percent: counts[k] * 100 / len(sample)})
	}
	return out, nil
}
