package cwlogs

import (
	"strconv"
	"unicode/utf8"
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

const hexDigits = "0123456789abcdef"

// jsonSafe marks the ASCII bytes that need no escape.
var jsonSafe = func() (t [utf8.RuneSelf]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// appendJSONString appends s as a JSON string the way encoding/json does
// without HTML escaping: control characters escaped, invalid UTF-8 as
// \ufffd, U+2028 and U+2029 escaped.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if jsonSafe[c] {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

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
			b = appendJSONString(b, e.Message)
			b = append(b, `,"ingestionTime":`...)
			b = strconv.AppendInt(b, e.IngestionTime, 10)
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	b = append(b, `,"nextForwardToken":`...)
	b = appendJSONString(b, o.NextForwardToken)
	b = append(b, `,"nextBackwardToken":`...)
	b = appendJSONString(b, o.NextBackwardToken)
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
			b = appendJSONString(b, e.LogStreamName)
			b = append(b, `,"timestamp":`...)
			b = strconv.AppendInt(b, e.Timestamp, 10)
			b = append(b, `,"message":`...)
			b = appendJSONString(b, e.Message)
			b = append(b, `,"ingestionTime":`...)
			b = strconv.AppendInt(b, e.IngestionTime, 10)
			b = append(b, `,"eventId":`...)
			b = appendJSONString(b, e.EventID)
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
			b = appendJSONString(b, s.LogStreamName)
			b = append(b, `,"searchedCompletely":`...)
			b = strconv.AppendBool(b, s.SearchedCompletely)
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	if o.NextToken != "" {
		b = append(b, `,"nextToken":`...)
		b = appendJSONString(b, o.NextToken)
	}
	return append(b, '}')
}
