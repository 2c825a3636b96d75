package cwlogs

import (
	"strconv"

	"github.com/kinsight/kinsight/internal/jsonx"
)

// The answers that carry events (GetLogEvents, FilterLogEvents) are most
// of what a reader moves, and their messages are often JSON themselves, full
// of quotes to escape: encoding/json took half the server's time there. These
// encoders write the same bytes as encoding/json with SetEscapeHTML(false)
// (TestAppendJSONMatchesEncodingJSON holds them to it), copying unescaped runs
// whole.

// jsonAppender is a response that encodes itself.
type jsonAppender interface {
	appendJSON(b []byte) []byte
}

var (
	_ jsonAppender = getLogEventsOutput{}
	_ jsonAppender = filterLogEventsOutput{}
)

func (o getLogEventsOutput) appendJSON(b []byte) []byte {
	b = append(b, `{"events":`...)
	if o.Events == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i, e := range o.Events {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"timestamp":`...)
			b = strconv.AppendInt(b, e.Timestamp, 10)
			b = append(b, `,"message":`...)
			b = jsonx.AppendString(b, e.Message)
			b = append(b, `,"ingestionTime":`...)
			b = strconv.AppendInt(b, e.IngestionTime, 10)
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	b = append(b, `,"nextForwardToken":`...)
	b = jsonx.AppendString(b, o.NextForwardToken)
	b = append(b, `,"nextBackwardToken":`...)
	b = jsonx.AppendString(b, o.NextBackwardToken)
	return append(b, '}')
}

func (o filterLogEventsOutput) appendJSON(b []byte) []byte {
	b = append(b, `{"events":`...)
	if o.Events == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i, e := range o.Events {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"logStreamName":`...)
			b = jsonx.AppendString(b, e.LogStreamName)
			b = append(b, `,"timestamp":`...)
			b = strconv.AppendInt(b, e.Timestamp, 10)
			b = append(b, `,"message":`...)
			b = jsonx.AppendString(b, e.Message)
			b = append(b, `,"ingestionTime":`...)
			b = strconv.AppendInt(b, e.IngestionTime, 10)
			b = append(b, `,"eventId":`...)
			b = jsonx.AppendString(b, e.EventID)
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	b = append(b, `,"searchedLogStreams":`...)
	if o.SearchedLogStreams == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i, s := range o.SearchedLogStreams {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"logStreamName":`...)
			b = jsonx.AppendString(b, s.LogStreamName)
			b = append(b, `,"searchedCompletely":`...)
			b = strconv.AppendBool(b, s.SearchedCompletely)
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	if o.NextToken != "" {
		b = append(b, `,"nextToken":`...)
		b = jsonx.AppendString(b, o.NextToken)
	}
	return append(b, '}')
}
