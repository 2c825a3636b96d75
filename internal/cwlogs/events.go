package cwlogs

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/kinsight/kinsight/internal/logquery"
	"github.com/kinsight/kinsight/internal/logstore"
)

// maxShownViolations bounds the validation message of a batch in which
// thousands of events are bad; the count still covers all of them.
const maxShownViolations = 10

type inputEvent struct {
	Timestamp *int64  `json:"timestamp"`
	Message   *string `json:"message"`
}

type putLogEventsInput struct {
	LogGroupName  string       `json:"logGroupName"`
	LogStreamName string       `json:"logStreamName"`
	LogEvents     []inputEvent `json:"logEvents"`
	// SequenceToken is accepted and ignored, as AWS now does.
	SequenceToken string `json:"sequenceToken"`
}

type rejectedInfo struct {
	TooNewLogEventStartIndex *int `json:"tooNewLogEventStartIndex,omitempty"`
	TooOldLogEventEndIndex   *int `json:"tooOldLogEventEndIndex,omitempty"`
	ExpiredLogEventEndIndex  *int `json:"expiredLogEventEndIndex,omitempty"`
}

type putLogEventsOutput struct {
	NextSequenceToken     string        `json:"nextSequenceToken"`
	RejectedLogEventsInfo *rejectedInfo `json:"rejectedLogEventsInfo,omitempty"`
}

// validatePutLogEvents applies AWS's batch rules in AWS's terms. It returns
// the events to store, or an error and the metric reason for refusing the
// whole batch.
func (h *Handler) validatePutLogEvents(in *putLogEventsInput) ([]logstore.InputEvent, string, error) {
	var v validationErrors
	v.checkGroupName("logGroupName", in.LogGroupName, true)
	v.checkStreamName("logStreamName", in.LogStreamName, true)
	switch {
	case in.LogEvents == nil:
		v.add("logEvents", nil, "Member must not be null")
	case len(in.LogEvents) == 0:
		v.add("logEvents", "[]", "Member must have length greater than or equal to 1")
	case len(in.LogEvents) > maxBatchEvents:
		v.add("logEvents", fmt.Sprintf("list of %d events", len(in.LogEvents)),
			fmt.Sprintf("Member must have length less than or equal to %d", maxBatchEvents))
		return nil, rejectBatchTooLarge, v.err()
	}
	bad := 0
	for i, e := range in.LogEvents {
		if e.Timestamp != nil && *e.Timestamp >= 0 && e.Message != nil && *e.Message != "" {
			continue
		}
		var ev validationErrors
		field := fmt.Sprintf("logEvents.%d.member", i+1)
		switch {
		case e.Timestamp == nil:
			ev.add(field+".timestamp", nil, "Member must not be null")
		case *e.Timestamp < 0:
			ev.add(field+".timestamp", *e.Timestamp, "Member must have value greater than or equal to 0")
		}
		switch {
		case e.Message == nil:
			ev.add(field+".message", nil, "Member must not be null")
		case *e.Message == "":
			ev.add(field+".message", "", "Member must have length greater than or equal to 1")
		}
		for _, m := range ev.msgs {
			if bad < maxShownViolations {
				v.msgs = append(v.msgs, m)
			} else {
				v.hidden++
			}
			bad++
		}
	}
	if err := v.err(); err != nil {
		return nil, rejectInvalid, err
	}
	events := make([]logstore.InputEvent, len(in.LogEvents))
	total := 0
	for i, e := range in.LogEvents {
		size := len(*e.Message) + eventOverhead
		if size > maxEventBytes {
			return nil, rejectEventTooLarge, invalidParam("Log event too large: %d bytes exceeds limit of %d", size, maxEventBytes)
		}
		total += size
		events[i] = logstore.InputEvent{Timestamp: *e.Timestamp, Message: *e.Message}
	}
	if total > maxBatchBytes {
		return nil, rejectBatchTooLarge, invalidParam("Upload too large: %d bytes exceeds limit of %d", total, maxBatchBytes)
	}
	for i := 1; i < len(events); i++ {
		if events[i].Timestamp < events[i-1].Timestamp {
			return nil, rejectUnordered, invalidParam(msgUnorderedEvents)
		}
	}
	// The 24-hour span counts only events the store would accept (not more
	// than 14 days old nor 2 hours ahead), as AWS documents.
	now := h.now().UnixMilli()
	first, last := int64(-1), int64(-1)
	for _, e := range events {
		if e.Timestamp < now-tooOldMs || e.Timestamp > now+tooNewMs {
			continue
		}
		if first < 0 {
			first = e.Timestamp
		}
		last = e.Timestamp
	}
	if first >= 0 && last-first > maxBatchSpanMs {
		return nil, rejectSpanTooLong, invalidParam(msgBatchSpanTooLarge)
	}
	return events, "", nil
}

func (h *Handler) putLogEvents(ctx context.Context, in *putLogEventsInput) (any, error) {
	x := exchangeFrom(ctx)
	out, dups, err := h.putPart(ctx, in, x.req.Values(positionsHeader))
	if err != nil {
		return nil, err
	}
	if dups >= 0 {
		// Duplicates were stored before: the client sees them accepted, and
		// only this header (and the metric) tells them apart.
		x.resp.Set(duplicatesHeader, strconv.Itoa(dups))
	}
	return out, nil
}

// putPart applies one PutLogEvents — a request's, or one part of a
// PutLogEventsBatch — with hv the positions values given for it (the
// header's, at most one). dups is how many events the positions found
// stored already, -1 without positions.
func (h *Handler) putPart(ctx context.Context, in *putLogEventsInput, hv []string) (_ putLogEventsOutput, dups int, _ error) {
	events, reason, err := h.validatePutLogEvents(in)
	if err != nil {
		h.m.rejectedEvents.WithLabelValues(reason).Add(float64(len(in.LogEvents)))
		return putLogEventsOutput{}, -1, err
	}
	var positions []logstore.Position
	if len(hv) > 0 {
		if len(hv) > 1 {
			err = invalidParam("Invalid %s header: sent %d times; send it once.", positionsHeader, len(hv))
		} else {
			positions, err = parsePositions(hv[0], len(events))
		}
		if err != nil {
			h.m.rejectedEvents.WithLabelValues(rejectInvalid).Add(float64(len(events)))
			return putLogEventsOutput{}, -1, err
		}
	}
	res, err := h.store.AppendPositioned(ctx, in.LogGroupName, in.LogStreamName, events, positions)
	if err != nil {
		reason := rejectUnavailable
		if errors.Is(err, logstore.ErrGroupNotFound) || errors.Is(err, logstore.ErrStreamNotFound) {
			reason = rejectNotFound
		}
		h.m.rejectedEvents.WithLabelValues(reason).Add(float64(len(events)))
		return putLogEventsOutput{}, -1, err
	}
	out := putLogEventsOutput{NextSequenceToken: formatPos(logstore.Pos{Timestamp: h.now().UnixMilli(), Seq: uint64(len(events))})}
	// Rejected events are a prefix (too old, expired) and a suffix (too new)
	// of the time-ordered batch; the accepted bytes lie between.
	lo, hi := 0, len(events)
	var info rejectedInfo
	if res.TooOldEnd >= 0 {
		n := res.TooOldEnd
		info.TooOldLogEventEndIndex = &n
		lo = max(lo, n)
		h.m.rejectedEvents.WithLabelValues(rejectTooOld).Add(float64(n))
	}
	if res.ExpiredEnd >= 0 {
		n := res.ExpiredEnd
		info.ExpiredLogEventEndIndex = &n
		h.m.rejectedEvents.WithLabelValues(rejectExpired).Add(float64(max(0, n-lo)))
		lo = max(lo, n)
	}
	if res.TooNewStart >= 0 {
		n := res.TooNewStart
		info.TooNewLogEventStartIndex = &n
		hi = min(hi, n)
		h.m.rejectedEvents.WithLabelValues(rejectTooNew).Add(float64(len(events) - n))
	}
	if info != (rejectedInfo{}) {
		out.RejectedLogEventsInfo = &info
	}
	var bytes int
	for i := lo; i < hi; i++ {
		bytes += len(events[i].Message)
	}
	dups = -1
	if positions != nil {
		dups = res.Duplicates
		h.m.duplicates.Add(float64(res.Duplicates))
		bytes -= res.DuplicateBytes
	}
	h.m.ingestedEvents.Add(float64(res.Accepted))
	h.m.ingestedBytes.Add(float64(bytes))
	return out, dups, nil
}

type getLogEventsInput struct {
	LogGroupName       string `json:"logGroupName"`
	LogGroupIdentifier string `json:"logGroupIdentifier"`
	LogStreamName      string `json:"logStreamName"`
	StartTime          *int64 `json:"startTime"`
	EndTime            *int64 `json:"endTime"`
	NextToken          string `json:"nextToken"`
	Limit              *int   `json:"limit"`
	StartFromHead      bool   `json:"startFromHead"`
	// Unmask has nothing to unmask here (no data protection policies).
	Unmask bool `json:"unmask"`
}

type outputEvent struct {
	Timestamp     int64  `json:"timestamp"`
	Message       string `json:"message"`
	IngestionTime int64  `json:"ingestionTime"`
}

type getLogEventsOutput struct {
	Events            []outputEvent `json:"events"`
	NextForwardToken  string        `json:"nextForwardToken"`
	NextBackwardToken string        `json:"nextBackwardToken"`
}

// timeRange validates startTime/endTime and returns the store's range
// [start, end), end 0 meaning unbounded. inclusiveEnd converts an AWS end
// that includes its own millisecond (FilterLogEvents). An empty range is
// returned as [1, 1), since the store reads End 0 as "no bound".
func timeRange(start, end *int64, inclusiveEnd bool) (int64, int64, error) {
	var v validationErrors
	v.checkTime("startTime", start)
	v.checkTime("endTime", end)
	if err := v.err(); err != nil {
		return 0, 0, err
	}
	var s, e int64
	if start != nil {
		s = *start
	}
	if end != nil {
		if *end < s {
			return 0, 0, invalidParam("startTime must be less than or equal to endTime.")
		}
		e = *end
		switch {
		case inclusiveEnd && e == math.MaxInt64:
			e = 0
		case inclusiveEnd:
			e++
		case e == s:
			return 1, 1, nil
		}
	}
	return s, e, nil
}

func (h *Handler) getLogEvents(ctx context.Context, in *getLogEventsInput) (any, error) {
	var v validationErrors
	v.checkStreamName("logStreamName", in.LogStreamName, true)
	v.checkLimit("limit", in.Limit, maxEventsLimit)
	if err := v.err(); err != nil {
		return nil, err
	}
	group, err := h.groupRef(in.LogGroupName, in.LogGroupIdentifier)
	if err != nil {
		return nil, err
	}
	start, end, err := timeRange(in.StartTime, in.EndTime, false)
	if err != nil {
		return nil, err
	}
	q := logstore.ReadQuery{Start: start, End: end, Limit: maxEventsLimit, MaxBytes: maxPageBytes, Backward: !in.StartFromHead}
	if in.Limit != nil {
		q.Limit = *in.Limit
	}
	if in.NextToken != "" {
		backward, p, err := parseReadToken(in.NextToken)
		if err != nil {
			return nil, invalidParam(msgInvalidNextToken)
		}
		q.Backward, q.From = backward, &p
	}
	recs, err := h.store.Read(ctx, group, in.LogStreamName, q)
	if err != nil {
		return nil, err
	}
	out := getLogEventsOutput{Events: make([]outputEvent, len(recs))}
	for i, r := range recs {
		out.Events[i] = outputEvent{Timestamp: r.Timestamp, Message: r.Message, IngestionTime: r.IngestionTime}
	}
	switch {
	case len(recs) > 0:
		out.NextForwardToken = formatReadToken(false, logstore.PosOf(recs[len(recs)-1]))
		out.NextBackwardToken = formatReadToken(true, logstore.PosOf(recs[0]))
	case q.From == nil:
		// Nothing in range yet: both tokens restart at the range's start, so
		// following forward picks up events as they arrive.
		out.NextForwardToken = formatReadToken(false, beforeTime(start))
		out.NextBackwardToken = formatReadToken(true, beforeTime(start))
	case q.Backward:
		// The beginning: the same backward token, as AWS answers, and a
		// forward token that includes the position it stopped at.
		out.NextBackwardToken = in.NextToken
		out.NextForwardToken = formatReadToken(false, prevPos(*q.From))
	default:
		// The end: the same forward token, so `get-log-events` paginators
		// stop, as with AWS.
		out.NextForwardToken = in.NextToken
		out.NextBackwardToken = formatReadToken(true, *q.From)
	}
	return out, nil
}

type filterLogEventsInput struct {
	LogGroupName        string   `json:"logGroupName"`
	LogGroupIdentifier  string   `json:"logGroupIdentifier"`
	LogStreamNames      []string `json:"logStreamNames"`
	LogStreamNamePrefix string   `json:"logStreamNamePrefix"`
	StartTime           *int64   `json:"startTime"`
	EndTime             *int64   `json:"endTime"`
	FilterPattern       string   `json:"filterPattern"`
	NextToken           string   `json:"nextToken"`
	Limit               *int     `json:"limit"`
	// Interleaved is ignored by AWS since 2019 (always interleaved); here too.
	Interleaved bool `json:"interleaved"`
	Unmask      bool `json:"unmask"`
}

type filteredEvent struct {
	LogStreamName string `json:"logStreamName"`
	Timestamp     int64  `json:"timestamp"`
	Message       string `json:"message"`
	IngestionTime int64  `json:"ingestionTime"`
	EventID       string `json:"eventId"`
}

type searchedStream struct {
	LogStreamName      string `json:"logStreamName"`
	SearchedCompletely bool   `json:"searchedCompletely"`
}

type filterLogEventsOutput struct {
	Events             []filteredEvent  `json:"events"`
	SearchedLogStreams []searchedStream `json:"searchedLogStreams"`
	NextToken          string           `json:"nextToken,omitempty"`
}

// streamSelection validates logStreamNames / logStreamNamePrefix, which
// FilterLogEvents and the tail endpoint share.
func streamSelection(names []string, prefix string) error {
	var v validationErrors
	if names != nil {
		switch {
		case len(names) == 0:
			v.add("logStreamNames", "[]", "Member must have length greater than or equal to 1")
		case len(names) > maxStreamNames:
			v.add("logStreamNames", fmt.Sprintf("list of %d names", len(names)),
				fmt.Sprintf("Member must have length less than or equal to %d", maxStreamNames))
		}
		for i, n := range names {
			if i >= maxStreamNames {
				break
			}
			v.checkStreamName(fmt.Sprintf("logStreamNames.%d.member", i+1), n, true)
		}
	}
	v.checkStreamName("logStreamNamePrefix", prefix, false)
	if err := v.err(); err != nil {
		return err
	}
	if len(names) > 0 && prefix != "" {
		return invalidParam("logStreamNames and logStreamNamePrefix are mutually exclusive parameters.")
	}
	return nil
}

// parseFilter turns a filterPattern into a store filter; an empty (or
// blank) pattern matches everything and needs none.
func parseFilter(pattern string) (logstore.Filter, error) {
	if strLen(pattern) > maxFilterPattern {
		var v validationErrors
		v.add("filterPattern", pattern, fmt.Sprintf("Member must have length less than or equal to %d", maxFilterPattern))
		return nil, v.err()
	}
	if strings.TrimSpace(pattern) == "" {
		return nil, nil
	}
	fp, err := logquery.ParseFilterPattern(pattern)
	if err != nil || fp == nil {
		return nil, invalidParam(msgInvalidFilter)
	}
	return fp, nil
}

func (h *Handler) filterLogEvents(ctx context.Context, in *filterLogEventsInput) (any, error) {
	var v validationErrors
	v.checkLimit("limit", in.Limit, maxEventsLimit)
	if err := v.err(); err != nil {
		return nil, err
	}
	group, err := h.groupRef(in.LogGroupName, in.LogGroupIdentifier)
	if err != nil {
		return nil, err
	}
	if err := streamSelection(in.LogStreamNames, in.LogStreamNamePrefix); err != nil {
		return nil, err
	}
	// FilterLogEvents' endTime includes its own millisecond.
	start, end, err := timeRange(in.StartTime, in.EndTime, true)
	if err != nil {
		return nil, err
	}
	filter, err := parseFilter(in.FilterPattern)
	if err != nil {
		return nil, err
	}
	q := logstore.FilterQuery{
		Streams:      in.LogStreamNames,
		StreamPrefix: in.LogStreamNamePrefix,
		Start:        start,
		End:          end,
		Filter:       filter,
		Limit:        maxEventsLimit,
		MaxBytes:     maxPageBytes,
		Deadline:     time.Now().Add(h.budget),
	}
	if in.Limit != nil {
		q.Limit = *in.Limit
	}
	var page uint32
	if in.NextToken != "" {
		p, n, err := parseFilterPageToken(in.NextToken)
		if err != nil {
			return nil, invalidParam(msgInvalidNextToken)
		}
		q.After, page = &p, n
	}
	res, err := h.store.FilterEvents(ctx, group, q)
	if err != nil {
		return nil, err
	}
	out := filterLogEventsOutput{
		Events:             make([]filteredEvent, len(res.Records)),
		SearchedLogStreams: make([]searchedStream, len(res.SearchedStreams)),
	}
	for i, r := range res.Records {
		out.Events[i] = filteredEvent{
			LogStreamName: r.Stream,
			Timestamp:     r.Timestamp,
			Message:       r.Message,
			IngestionTime: r.IngestionTime,
			EventID:       eventID(r),
		}
	}
	for i, s := range res.SearchedStreams {
		out.SearchedLogStreams[i] = searchedStream{LogStreamName: s, SearchedCompletely: !res.More}
	}
	if res.More {
		out.NextToken = filterPageToken(res.Next, page+1)
	}
	return out, nil
}
