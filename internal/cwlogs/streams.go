package cwlogs

import (
	"context"

	"github.com/kinsight/kinsight/internal/logstore"
)

const (
	orderByName      = "LogStreamName"
	orderByLastEvent = "LastEventTime"
)

type streamInput struct {
	LogGroupName  string `json:"logGroupName"`
	LogStreamName string `json:"logStreamName"`
}

func (in *streamInput) validate() error {
	var v validationErrors
	v.checkGroupName("logGroupName", in.LogGroupName, true)
	v.checkStreamName("logStreamName", in.LogStreamName, true)
	return v.err()
}

func (h *Handler) createLogStream(_ context.Context, in *streamInput) (any, error) {
	if err := in.validate(); err != nil {
		return nil, err
	}
	_, err := h.store.CreateStream(in.LogGroupName, in.LogStreamName)
	return empty{}, err
}

func (h *Handler) deleteLogStream(_ context.Context, in *streamInput) (any, error) {
	if err := in.validate(); err != nil {
		return nil, err
	}
	return empty{}, h.store.DeleteStream(in.LogGroupName, in.LogStreamName)
}

type describeLogStreamsInput struct {
	LogGroupName        string `json:"logGroupName"`
	LogGroupIdentifier  string `json:"logGroupIdentifier"`
	LogStreamNamePrefix string `json:"logStreamNamePrefix"`
	OrderBy             string `json:"orderBy"`
	Descending          bool   `json:"descending"`
	NextToken           string `json:"nextToken"`
	Limit               *int   `json:"limit"`
}

type logStreamOut struct {
	LogStreamName       string `json:"logStreamName"`
	CreationTime        int64  `json:"creationTime"`
	FirstEventTimestamp int64  `json:"firstEventTimestamp,omitempty"`
	LastEventTimestamp  int64  `json:"lastEventTimestamp,omitempty"`
	LastIngestionTime   int64  `json:"lastIngestionTime,omitempty"`
	UploadSequenceToken string `json:"uploadSequenceToken"`
	Arn                 string `json:"arn"`
	StoredBytes         int64  `json:"storedBytes"`
}

type describeLogStreamsOutput struct {
	LogStreams []logStreamOut `json:"logStreams"`
	NextToken  string         `json:"nextToken,omitempty"`
}

func (h *Handler) describeLogStreams(_ context.Context, in *describeLogStreamsInput) (any, error) {
	var v validationErrors
	v.checkStreamName("logStreamNamePrefix", in.LogStreamNamePrefix, false)
	v.checkLimit("limit", in.Limit, maxDescribeLimit)
	switch in.OrderBy {
	case "", orderByName, orderByLastEvent:
	default:
		v.add("orderBy", in.OrderBy, "Member must satisfy enum value set: [LogStreamName, LastEventTime]")
	}
	if err := v.err(); err != nil {
		return nil, err
	}
	group, err := h.groupRef(in.LogGroupName, in.LogGroupIdentifier)
	if err != nil {
		return nil, err
	}
	byLastEvent := in.OrderBy == orderByLastEvent
	if byLastEvent && in.LogStreamNamePrefix != "" {
		return nil, invalidParam("Cannot order by LastEventTime with a logStreamNamePrefix.")
	}
	q := logstore.ListStreamsQuery{
		Prefix:      in.LogStreamNamePrefix,
		ByLastEvent: byLastEvent,
		Descending:  in.Descending,
		Limit:       maxDescribeLimit,
	}
	if in.Limit != nil {
		q.Limit = *in.Limit
	}
	if in.NextToken != "" {
		if q.After, err = parseStreamPageToken(in.NextToken, byLastEvent); err != nil {
			return nil, invalidParam(msgInvalidNextToken)
		}
	}
	streams, more, err := h.store.ListStreams(group, q)
	if err != nil {
		return nil, err
	}
	out := describeLogStreamsOutput{LogStreams: make([]logStreamOut, 0, len(streams))}
	for _, s := range streams {
		out.LogStreams = append(out.LogStreams, logStreamOut{
			LogStreamName:       s.Name,
			CreationTime:        s.Created,
			FirstEventTimestamp: s.FirstEvent,
			LastEventTimestamp:  s.LastEvent,
			LastIngestionTime:   s.LastIngestion,
			UploadSequenceToken: sequenceToken(s.ID, s.LastIngestion),
			Arn:                 h.streamARN(group, s.Name),
			StoredBytes:         s.StoredBytes,
		})
	}
	if more && len(streams) > 0 {
		out.NextToken = streamPageToken(byLastEvent, streams[len(streams)-1])
	}
	return out, nil
}

// sequenceToken is the (ignored) upload sequence token: AWS stopped
// checking it, but old clients still read and echo it, so it has AWS's
// shape, a long decimal string.
func sequenceToken(streamID uint64, lastIngestion int64) string {
	return formatPos(logstore.Pos{Timestamp: lastIngestion, Seq: streamID})
}
