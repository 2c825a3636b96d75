package cli

import (
	"context"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"
	"github.com/spf13/cobra"
)

// maxEventsPerCall is the API's own cap on GetLogEvents and FilterLogEvents
// limits.
const maxEventsPerCall = 10000

func (l *logsCmd) groupsCmd() *cobra.Command {
	var prefix string
	cmd := &cobra.Command{
		Use:   "groups",
		Short: "List log groups",
		Long: `List every log group (DescribeLogGroups, all pages).

Table columns: NAME CREATED RETENTION STORED. --output json prints one JSON
array with CloudWatch Logs field names (logGroupName, creationTime,
retentionInDays, storedBytes, arn).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			conn, err := l.dial(ctx)
			if err != nil {
				return err
			}
			groups, err := listGroups(ctx, conn.api, prefix)
			if err != nil {
				return err
			}
			return l.printer().groups(groups)
		},
	}
	cmd.Flags().StringVar(&prefix, "prefix", "", "only groups whose name starts with this")
	return cmd
}

// listGroups pages through DescribeLogGroups until there is no next token.
func listGroups(ctx context.Context, api logsAPI, prefix string) ([]types.LogGroup, error) {
	in := &cloudwatchlogs.DescribeLogGroupsInput{}
	if prefix != "" {
		in.LogGroupNamePrefix = aws.String(prefix)
	}
	var groups []types.LogGroup
	for {
		out, err := api.DescribeLogGroups(ctx, in)
		if err != nil {
			return nil, apiError(err)
		}
		groups = append(groups, out.LogGroups...)
		if aws.ToString(out.NextToken) == "" || aws.ToString(out.NextToken) == aws.ToString(in.NextToken) {
			return groups, nil
		}
		in.NextToken = out.NextToken
	}
}

type streamsArgs struct {
	prefix     string
	orderBy    string
	descending bool
	limit      int
}

func (l *logsCmd) streamsCmd() *cobra.Command {
	var a streamsArgs
	cmd := &cobra.Command{
		Use:   "streams GROUP",
		Short: "List the log streams of a group",
		Long: `List the log streams of GROUP (DescribeLogStreams, all pages up to --limit).

Table columns: NAME CREATED FIRST_EVENT LAST_EVENT STORED. --output json prints
one JSON array (logStreamName, creationTime, firstEventTimestamp,
lastEventTimestamp, lastIngestionTime, storedBytes, arn).

--order-by last-event lists the most recently written streams with
--descending; it cannot be combined with --prefix (an API rule).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			in, err := a.input(args[0])
			if err != nil {
				return err
			}
			conn, err := l.dial(ctx)
			if err != nil {
				return err
			}
			streams, err := listStreams(ctx, conn.api, in, a.limit)
			if err != nil {
				return err
			}
			return l.printer().streams(streams)
		},
	}
	f := cmd.Flags()
	f.StringVar(&a.prefix, "prefix", "", "only streams whose name starts with this")
	f.StringVar(&a.orderBy, "order-by", "name", "sort by name or last-event")
	f.BoolVar(&a.descending, "descending", false, "sort in descending order")
	f.IntVar(&a.limit, "limit", 0, "print at most this many streams (0: all)")
	return cmd
}

// input checks the flags and builds the first request.
func (a *streamsArgs) input(group string) (*cloudwatchlogs.DescribeLogStreamsInput, error) {
	in := &cloudwatchlogs.DescribeLogStreamsInput{LogGroupName: aws.String(group)}
	switch a.orderBy {
	case "name":
		in.OrderBy = types.OrderByLogStreamName
	case "last-event":
		in.OrderBy = types.OrderByLastEventTime
		if a.prefix != "" {
			return nil, fmt.Errorf("--prefix cannot be used with --order-by last-event")
		}
	default:
		return nil, fmt.Errorf("--order-by must be name or last-event (got %q)", a.orderBy)
	}
	if a.limit < 0 {
		return nil, fmt.Errorf("--limit must be >= 0 (got %d)", a.limit)
	}
	if a.prefix != "" {
		in.LogStreamNamePrefix = aws.String(a.prefix)
	}
	if a.descending {
		in.Descending = aws.Bool(true)
	}
	if a.limit > 0 && a.limit < 50 {
		// 50 is the API's page size cap; asking for less saves a big page.
		in.Limit = aws.Int32(int32(a.limit))
	}
	return in, nil
}

// listStreams pages through DescribeLogStreams until there is no next token
// or limit (when > 0) streams are collected.
func listStreams(ctx context.Context, api logsAPI, in *cloudwatchlogs.DescribeLogStreamsInput, limit int) ([]types.LogStream, error) {
	var streams []types.LogStream
	for {
		out, err := api.DescribeLogStreams(ctx, in)
		if err != nil {
			return nil, apiError(err)
		}
		streams = append(streams, out.LogStreams...)
		if limit > 0 && len(streams) >= limit {
			return streams[:limit], nil
		}
		if aws.ToString(out.NextToken) == "" || aws.ToString(out.NextToken) == aws.ToString(in.NextToken) {
			return streams, nil
		}
		in.NextToken = out.NextToken
	}
}

type getArgs struct {
	start, end, since string
	limit             int
	fromHead          bool
}

func (l *logsCmd) getCmd() *cobra.Command {
	var a getArgs
	cmd := &cobra.Command{
		Use:   "get GROUP STREAM",
		Short: "Print the events of one log stream",
		Long: `Print the events of one stream (GetLogEvents), following nextForwardToken
until it repeats.

Without --from-head the server starts with the newest page, so --limit N
prints the last N events; with --from-head it reads the range from its start.
--start and --end take RFC3339 (2024-05-01T12:00:00Z), a date, epoch
milliseconds, "now" or a duration ago (15m, 2h, 1d); --since D is --start D.

Table rows: TIME STREAM MESSAGE. --output json prints one JSON object per line
(NDJSON): {"logStreamName","timestamp","message","ingestionTime"}.`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			startMs, endMs, err := timeRange(a.start, a.end, a.since, l.now(), l.location())
			if err != nil {
				return err
			}
			if a.limit < 0 {
				return fmt.Errorf("--limit must be >= 0 (got %d)", a.limit)
			}
			conn, err := l.dial(ctx)
			if err != nil {
				return err
			}
			in := &cloudwatchlogs.GetLogEventsInput{
				LogGroupName:  aws.String(args[0]),
				LogStreamName: aws.String(args[1]),
				StartTime:     startMs,
				EndTime:       endMs,
				StartFromHead: aws.Bool(a.fromHead),
			}
			return getEvents(ctx, conn.api, in, a.limit, l.printer())
		},
	}
	f := cmd.Flags()
	f.StringVar(&a.start, "start", "", "first event time: RFC3339, epoch ms, or a duration ago (1h)")
	f.StringVar(&a.end, "end", "", "end time (exclusive), same forms as --start")
	f.StringVar(&a.since, "since", "", "start this long ago (15m, 2h, 1d); shorthand for --start")
	f.IntVar(&a.limit, "limit", 0, "print at most this many events (0: all)")
	f.BoolVar(&a.fromHead, "from-head", false, "read from the oldest event instead of the newest page")
	return cmd
}

// getEvents calls GetLogEvents, printing each page, until nextForwardToken
// comes back unchanged (the API's end-of-stream signal) or limit events are
// printed.
func getEvents(ctx context.Context, api logsAPI, in *cloudwatchlogs.GetLogEventsInput, limit int, p *printer) error {
	stream := aws.ToString(in.LogStreamName)
	printed := 0
	for {
		if limit > 0 {
			in.Limit = aws.Int32(int32(min(limit-printed, maxEventsPerCall)))
		}
		out, err := api.GetLogEvents(ctx, in)
		if err != nil {
			return apiError(err)
		}
		for _, e := range out.Events {
			if err := p.event(fromOutput(stream, e)); err != nil {
				return err
			}
			printed++
			if limit > 0 && printed >= limit {
				return p.flush()
			}
		}
		if err := p.flush(); err != nil {
			return err
		}
		next := aws.ToString(out.NextForwardToken)
		if next == "" || next == aws.ToString(in.NextToken) {
			return nil
		}
		in.NextToken = out.NextForwardToken
	}
}

// eventSelector is the stream and pattern selection filter and tail share.
type eventSelector struct {
	streams      []string
	streamPrefix string
	pattern      string
}

func (s *eventSelector) addFlags(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringSliceVar(&s.streams, "streams", nil, "only these streams (comma-separated)")
	f.StringVar(&s.streamPrefix, "stream-prefix", "", "only streams whose name starts with this")
}

func (s *eventSelector) check() error {
	s.streams = splitStreams(s.streams)
	if len(s.streams) > 0 && s.streamPrefix != "" {
		return fmt.Errorf("--streams and --stream-prefix cannot be used together")
	}
	return nil
}

// filterInput builds a FilterLogEvents request for the selection.
func (s *eventSelector) filterInput(group string, startMs, endMs *int64) *cloudwatchlogs.FilterLogEventsInput {
	in := &cloudwatchlogs.FilterLogEventsInput{
		LogGroupName: aws.String(group),
		StartTime:    startMs,
		EndTime:      endMs,
	}
	if len(s.streams) > 0 {
		in.LogStreamNames = s.streams
	}
	if s.streamPrefix != "" {
		in.LogStreamNamePrefix = aws.String(s.streamPrefix)
	}
	if s.pattern != "" {
		in.FilterPattern = aws.String(s.pattern)
	}
	return in
}

func (l *logsCmd) filterCmd() *cobra.Command {
	var (
		sel               eventSelector
		start, end, since string
		limit             int
	)
	cmd := &cobra.Command{
		Use:   "filter GROUP [PATTERN]",
		Short: "Search the events of a group with a filter pattern",
		Long: `Print the events of GROUP that match PATTERN (FilterLogEvents, all pages),
in time order. PATTERN is CloudWatch Logs filter pattern syntax: terms
("ERROR timeout"), ?alternatives, -exclusions, JSON selectors
('{ $.level = "error" }') or space-delimited fields. Without PATTERN every
event matches.

Table rows: TIME STREAM MESSAGE. --output json prints one JSON object per line
(NDJSON): {"logStreamName","timestamp","message","ingestionTime","eventId"}.`,
		Example: `  kinsight logs filter /aws/containerinsights/dev/application ERROR --since 1h
  kinsight logs filter app '{ $.status >= 500 }' --streams web-1,web-2 -o json | jq .message`,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if len(args) == 2 {
				sel.pattern = args[1]
			}
			if err := sel.check(); err != nil {
				return err
			}
			if limit < 0 {
				return fmt.Errorf("--limit must be >= 0 (got %d)", limit)
			}
			startMs, endMs, err := timeRange(start, end, since, l.now(), l.location())
			if err != nil {
				return err
			}
			conn, err := l.dial(ctx)
			if err != nil {
				return err
			}
			p := l.printer()
			printed := 0
			err = filterPages(ctx, conn.api, sel.filterInput(args[0], startMs, endMs), limit, func(e logEvent) (bool, error) {
				printed++
				return limit > 0 && printed >= limit, p.event(e)
			}, p.flush)
			if err != nil {
				return err
			}
			return p.flush()
		},
	}
	sel.addFlags(cmd)
	f := cmd.Flags()
	f.StringVar(&start, "start", "", "first event time: RFC3339, epoch ms, or a duration ago (1h)")
	f.StringVar(&end, "end", "", "end time (exclusive), same forms as --start")
	f.StringVar(&since, "since", "", "start this long ago (15m, 2h, 1d); shorthand for --start")
	f.IntVar(&limit, "limit", 0, "print at most this many events (0: all)")
	return cmd
}

// filterPages calls FilterLogEvents until there is no next token, handing
// each event to emit (which returns true to stop early) and calling
// pageDone after each page. limit > 0 also caps each request.
func filterPages(ctx context.Context, api logsAPI, in *cloudwatchlogs.FilterLogEventsInput, limit int,
	emit func(logEvent) (stop bool, err error), pageDone func() error) error {
	if limit > 0 {
		in.Limit = aws.Int32(int32(min(limit, maxEventsPerCall)))
	}
	for {
		out, err := api.FilterLogEvents(ctx, in)
		if err != nil {
			return apiError(err)
		}
		for _, e := range out.Events {
			stop, err := emit(fromFiltered(e))
			if err != nil || stop {
				return err
			}
		}
		if err := pageDone(); err != nil {
			return err
		}
		next := aws.ToString(out.NextToken)
		if next == "" || next == aws.ToString(in.NextToken) {
			return nil
		}
		in.NextToken = out.NextToken
	}
}

// splitStreams is the --streams value as the tail query parameters want
// it: trimmed, without empty names.
func splitStreams(ss []string) []string {
	var out []string
	for _, s := range ss {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}
