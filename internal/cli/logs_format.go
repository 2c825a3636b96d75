package cli

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"
)

// logEvent is one log event as the logs commands print it with --output json
// and as kinsight's tail stream sends it: the field names are CloudWatch
// Logs' own, so `jq` filters written for `aws logs` output carry over.
type logEvent struct {
	LogStreamName string `json:"logStreamName"`
	Timestamp     int64  `json:"timestamp"`
	Message       string `json:"message"`
	IngestionTime int64  `json:"ingestionTime,omitempty"`
	EventID       string `json:"eventId,omitempty"`
}

func fromFiltered(e types.FilteredLogEvent) logEvent {
	return logEvent{
		LogStreamName: aws.ToString(e.LogStreamName),
		Timestamp:     aws.ToInt64(e.Timestamp),
		Message:       aws.ToString(e.Message),
		IngestionTime: aws.ToInt64(e.IngestionTime),
		EventID:       aws.ToString(e.EventId),
	}
}

func fromOutput(stream string, e types.OutputLogEvent) logEvent {
	return logEvent{
		LogStreamName: stream,
		Timestamp:     aws.ToInt64(e.Timestamp),
		Message:       aws.ToString(e.Message),
		IngestionTime: aws.ToInt64(e.IngestionTime),
	}
}

// groupJSON and streamJSON carry the CloudWatch Logs field names for the
// same reason as logEvent; absent fields are left out, not printed as zero.
type groupJSON struct {
	LogGroupName      string `json:"logGroupName"`
	Arn               string `json:"arn,omitempty"`
	CreationTime      *int64 `json:"creationTime,omitempty"`
	RetentionInDays   *int32 `json:"retentionInDays,omitempty"`
	StoredBytes       *int64 `json:"storedBytes,omitempty"`
	MetricFilterCount *int32 `json:"metricFilterCount,omitempty"`
	LogGroupClass     string `json:"logGroupClass,omitempty"`
}

type streamJSON struct {
	LogStreamName       string `json:"logStreamName"`
	Arn                 string `json:"arn,omitempty"`
	CreationTime        *int64 `json:"creationTime,omitempty"`
	FirstEventTimestamp *int64 `json:"firstEventTimestamp,omitempty"`
	LastEventTimestamp  *int64 `json:"lastEventTimestamp,omitempty"`
	LastIngestionTime   *int64 `json:"lastIngestionTime,omitempty"`
	StoredBytes         *int64 `json:"storedBytes,omitempty"`
}

// printer writes groups, streams and events as a table or JSON. Writes are
// buffered; callers flush after each page, or after each event when
// following, so output appears as it arrives.
type printer struct {
	w    *bufio.Writer
	json bool
	loc  *time.Location
	// streamWidth is the widest stream name printed so far. Event rows pad
	// to it instead of going through tabwriter, which would have to hold
	// every row of an unbounded `get` or `tail -f` to align them.
	streamWidth int
}

func newPrinter(w io.Writer, jsonOut bool, loc *time.Location) *printer {
	return &printer{w: bufio.NewWriterSize(w, 64<<10), json: jsonOut, loc: loc}
}

func (p *printer) flush() error { return p.w.Flush() }

// groups prints log groups: one JSON array, or NAME CREATED RETENTION STORED.
func (p *printer) groups(gs []types.LogGroup) error {
	if p.json {
		out := make([]groupJSON, 0, len(gs))
		for _, g := range gs {
			out = append(out, groupJSON{
				LogGroupName:      aws.ToString(g.LogGroupName),
				Arn:               aws.ToString(g.Arn),
				CreationTime:      g.CreationTime,
				RetentionInDays:   g.RetentionInDays,
				StoredBytes:       g.StoredBytes,
				MetricFilterCount: g.MetricFilterCount,
				LogGroupClass:     string(g.LogGroupClass),
			})
		}
		return p.jsonDoc(out)
	}
	tw := tabwriter.NewWriter(p.w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tCREATED\tRETENTION\tSTORED")
	for _, g := range gs {
		retention := "never"
		if g.RetentionInDays != nil {
			retention = fmt.Sprintf("%dd", *g.RetentionInDays)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", aws.ToString(g.LogGroupName), p.secondsTime(g.CreationTime),
			retention, humanBytes(g.StoredBytes))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	return p.flush()
}

// streams prints log streams: one JSON array, or
// NAME CREATED FIRST_EVENT LAST_EVENT STORED.
func (p *printer) streams(ss []types.LogStream) error {
	// storedBytes of a stream is deprecated in the API and CloudWatch Logs
	// reports 0, but kinsight reports the real size, the first thing to
	// look at when a stream fills the disk.
	storedBytes := func(s types.LogStream) *int64 {
		return s.StoredBytes //lint:ignore SA1019 kinsight fills it, see above
	}
	if p.json {
		out := make([]streamJSON, 0, len(ss))
		for _, s := range ss {
			out = append(out, streamJSON{
				LogStreamName:       aws.ToString(s.LogStreamName),
				Arn:                 aws.ToString(s.Arn),
				CreationTime:        s.CreationTime,
				FirstEventTimestamp: s.FirstEventTimestamp,
				LastEventTimestamp:  s.LastEventTimestamp,
				LastIngestionTime:   s.LastIngestionTime,
				StoredBytes:         storedBytes(s),
			})
		}
		return p.jsonDoc(out)
	}
	tw := tabwriter.NewWriter(p.w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tCREATED\tFIRST_EVENT\tLAST_EVENT\tSTORED")
	for _, s := range ss {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", aws.ToString(s.LogStreamName), p.secondsTime(s.CreationTime),
			p.secondsTime(s.FirstEventTimestamp), p.secondsTime(s.LastEventTimestamp), humanBytes(storedBytes(s)))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	return p.flush()
}

// event prints one event: a JSON line, or TIME STREAM MESSAGE as
// `aws logs tail` does. It only buffers; the caller flushes.
func (p *printer) event(e logEvent) error {
	if p.json {
		b, err := json.Marshal(e)
		if err != nil {
			return err
		}
		b = append(b, '\n')
		_, err = p.w.Write(b)
		return err
	}
	if n := utf8.RuneCountInString(e.LogStreamName); n > p.streamWidth {
		p.streamWidth = n
	}
	p.w.WriteString(formatEventTime(e.Timestamp, p.loc))
	p.w.WriteString("  ")
	p.w.WriteString(e.LogStreamName)
	pad := p.streamWidth - utf8.RuneCountInString(e.LogStreamName) + 2
	p.w.WriteString(strings.Repeat(" ", pad))
	// Container runtimes keep the line's newline in the message; printing it
	// would double-space the output.
	msg := strings.TrimSuffix(strings.TrimSuffix(e.Message, "\n"), "\r")
	p.w.WriteString(msg)
	return p.w.WriteByte('\n')
}

func (p *printer) jsonDoc(v any) error {
	enc := json.NewEncoder(p.w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return err
	}
	return p.flush()
}

// secondsTime formats an optional epoch-milliseconds time to the second,
// enough for creation and last-event columns; "-" when absent.
func (p *printer) secondsTime(ms *int64) string {
	if ms == nil {
		return "-"
	}
	return time.UnixMilli(*ms).In(p.loc).Format(time.RFC3339)
}

// eventTimeLayout is RFC3339 with exactly three fractional digits, so the
// time column has one width and event rows line up.
const eventTimeLayout = "2006-01-02T15:04:05.000Z07:00"

func formatEventTime(ms int64, loc *time.Location) string {
	return time.UnixMilli(ms).In(loc).Format(eventTimeLayout)
}

// humanBytes formats an optional byte count with IEC units; "-" when absent.
func humanBytes(n *int64) string {
	if n == nil {
		return "-"
	}
	v := *n
	if v < 1024 {
		return fmt.Sprintf("%dB", v)
	}
	f := float64(v)
	for _, unit := range []string{"KiB", "MiB", "GiB", "TiB"} {
		f /= 1024
		if f < 1024 || unit == "TiB" {
			return fmt.Sprintf("%.1f%s", f, unit)
		}
	}
	return "" // unreachable: the loop returns at TiB
}
