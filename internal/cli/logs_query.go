package cli

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"
	"github.com/spf13/cobra"
)

// queryAPI is the part of the CloudWatch Logs client `logs query` calls.
// It is separate from logsAPI so fakes of the other commands need not grow.
type queryAPI interface {
	StartQuery(ctx context.Context, in *cloudwatchlogs.StartQueryInput, optFns ...func(*cloudwatchlogs.Options)) (*cloudwatchlogs.StartQueryOutput, error)
	GetQueryResults(ctx context.Context, in *cloudwatchlogs.GetQueryResultsInput, optFns ...func(*cloudwatchlogs.Options)) (*cloudwatchlogs.GetQueryResultsOutput, error)
	StopQuery(ctx context.Context, in *cloudwatchlogs.StopQueryInput, optFns ...func(*cloudwatchlogs.Options)) (*cloudwatchlogs.StopQueryOutput, error)
}

var _ queryAPI = (*cloudwatchlogs.Client)(nil)

// Poll intervals: quick at first so small queries answer at once, then
// backing off so a long query costs few requests.
const (
	queryPollFirst = 100 * time.Millisecond
	queryPollMax   = time.Second
)

func (l *logsCmd) queryCmd() *cobra.Command {
	var (
		groups            []string
		start, end, since string
		limit             int
	)
	cmd := &cobra.Command{
		Use:   "query -g GROUP [-g GROUP2] QUERY",
		Short: "Run a Logs Insights query and print its result",
		Long: `Run QUERY (Logs Insights query language) over the groups given with -g
(or over the groups of a SOURCE command in the query), wait until it completes
and print the result rows. While it runs, the rows found so far are counted on
stderr. Ctrl-C stops the query on the server (StopQuery).

The time range defaults to the last hour (--since 1h); the API counts in whole
seconds, so --start is rounded down and --end up to the second.

--output table (default) prints one column per result field (without @ptr);
json prints one JSON array of objects {field: value}; csv prints a header
row and the rows. A query that does not compile is reported with a caret under
the offending character.`,
		Example: `  kinsight logs query -g /aws/containerinsights/dev/application --since 1h \
    'filter kubernetes.namespace_name = "payments" | stats count(*) by kubernetes.pod_name'
  kinsight logs query -g app -g api 'fields @timestamp, @message | filter @message like /ERROR/ | limit 20' -o json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if limit < 0 || limit > 10000 {
				return fmt.Errorf("--limit must be 0..10000 (got %d)", limit)
			}
			if start == "" && since == "" {
				since = "1h"
			}
			startMs, endMs, err := timeRange(start, end, since, l.now(), l.location())
			if err != nil {
				return err
			}
			endSec := l.now().Unix()
			if endMs != nil {
				endSec = (*endMs + 999) / 1000
			}
			in := &cloudwatchlogs.StartQueryInput{
				QueryString: aws.String(args[0]),
				StartTime:   aws.Int64(*startMs / 1000),
				EndTime:     aws.Int64(endSec),
			}
			if len(groups) > 0 {
				in.LogGroupNames = groups
			}
			if limit > 0 {
				in.Limit = aws.Int32(int32(limit))
			}
			conn, err := l.dial(ctx)
			if err != nil {
				return err
			}
			api, ok := conn.api.(queryAPI)
			if !ok {
				return errors.New("this client cannot run Logs Insights queries")
			}
			res, err := runQuery(ctx, api, in, l.env.Stderr)
			if err != nil {
				return queryError(args[0], err)
			}
			return printQueryResults(l.env.Stdout, l.flags.output, res)
		},
	}
	f := cmd.Flags()
	f.StringArrayVarP(&groups, "group", "g", nil, "log group to query (repeat for several, up to 50)")
	f.StringVar(&start, "start", "", "start time: RFC3339, epoch ms, or a duration ago (1h)")
	f.StringVar(&end, "end", "", "end time, same forms as --start (default now)")
	f.StringVar(&since, "since", "", "start this long ago (15m, 2h, 1d); default 1h")
	f.IntVar(&limit, "limit", 0, "rows to return when the query has no limit command (server default 1000, max 10000)")
	return cmd
}

// runQuery starts the query and polls until it ends, reporting progress
// on progress. If ctx ends first, the query is stopped on the server.
func runQuery(ctx context.Context, api queryAPI, in *cloudwatchlogs.StartQueryInput, progress io.Writer) (*cloudwatchlogs.GetQueryResultsOutput, error) {
	started, err := api.StartQuery(ctx, in)
	if err != nil {
		return nil, err
	}
	id := started.QueryId
	wait := queryPollFirst
	shown := false
	for {
		out, err := api.GetQueryResults(ctx, &cloudwatchlogs.GetQueryResultsInput{QueryId: id})
		if err != nil {
			if ctx.Err() != nil {
				stopQuery(api, id)
			}
			return nil, err
		}
		switch out.Status {
		case types.QueryStatusComplete:
			if shown {
				fmt.Fprint(progress, "\r\033[K")
			}
			return out, nil
		case types.QueryStatusFailed, types.QueryStatusCancelled, types.QueryStatusTimeout, types.QueryStatusUnknown:
			if shown {
				fmt.Fprintln(progress)
			}
			return nil, fmt.Errorf("query %s ended with status %s", aws.ToString(id), out.Status)
		}
		scanned := 0.0
		if out.Statistics != nil {
			scanned = out.Statistics.RecordsScanned
		}
		fmt.Fprintf(progress, "\r%s: %d rows so far, %.0f records scanned", out.Status, len(out.Results), scanned)
		shown = true
		select {
		case <-ctx.Done():
			fmt.Fprintln(progress)
			stopQuery(api, id)
			return nil, ctx.Err()
		case <-time.After(wait):
		}
		wait = min(wait*2, queryPollMax)
	}
}

// stopQuery tells the server to stop, on a context of its own: the
// command's has ended.
func stopQuery(api queryAPI, id *string) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, _ = api.StopQuery(ctx, &cloudwatchlogs.StopQueryInput{QueryId: id})
}

// queryError explains a MalformedQueryException with the query and a
// caret under the offending character; other errors as the API said them.
func queryError(query string, err error) error {
	var mq *types.MalformedQueryException
	if !errors.As(err, &mq) || mq.QueryCompileError == nil || mq.QueryCompileError.Location == nil {
		return apiError(err)
	}
	ce := mq.QueryCompileError
	off := int(aws.ToInt32(ce.Location.StartCharOffset))
	return fmt.Errorf("MalformedQueryException: %s\n%s", aws.ToString(ce.Message), caretAt(query, off))
}

// caretAt prints the query line holding character offset off with a caret
// under that character.
func caretAt(query string, off int) string {
	runes := []rune(query)
	off = min(max(off, 0), len(runes))
	lineStart := off
	for lineStart > 0 && runes[lineStart-1] != '\n' {
		lineStart--
	}
	lineEnd := off
	for lineEnd < len(runes) && runes[lineEnd] != '\n' {
		lineEnd++
	}
	pad := make([]rune, 0, off-lineStart)
	for _, r := range runes[lineStart:off] {
		if r == '\t' {
			pad = append(pad, '\t')
		} else {
			pad = append(pad, ' ')
		}
	}
	return "  " + string(runes[lineStart:lineEnd]) + "\n  " + string(pad) + "^"
}

// queryColumns lists the fields of the rows in order of first appearance,
// @ptr left out: it is for GetLogRecord, not for reading.
func queryColumns(rows [][]types.ResultField, withPtr bool) []string {
	var cols []string
	seen := map[string]bool{}
	for _, r := range rows {
		for _, f := range r {
			n := aws.ToString(f.Field)
			if seen[n] || n == "@ptr" && !withPtr {
				continue
			}
			seen[n] = true
			cols = append(cols, n)
		}
	}
	return cols
}

func rowMap(r []types.ResultField) map[string]string {
	m := make(map[string]string, len(r))
	for _, f := range r {
		m[aws.ToString(f.Field)] = aws.ToString(f.Value)
	}
	return m
}

// printQueryResults writes the rows as a table, JSON or CSV.
func printQueryResults(w io.Writer, format string, out *cloudwatchlogs.GetQueryResultsOutput) error {
	switch format {
	case "json":
		rows := make([]map[string]string, 0, len(out.Results))
		for _, r := range out.Results {
			rows = append(rows, rowMap(r))
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(rows)
	case "csv":
		cols := queryColumns(out.Results, false)
		cw := csv.NewWriter(w)
		if err := cw.Write(cols); err != nil {
			return err
		}
		for _, r := range out.Results {
			m := rowMap(r)
			rec := make([]string, len(cols))
			for i, c := range cols {
				rec[i] = m[c]
			}
			if err := cw.Write(rec); err != nil {
				return err
			}
		}
		cw.Flush()
		return cw.Error()
	}
	cols := queryColumns(out.Results, false)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	if len(cols) > 0 {
		fmt.Fprintln(tw, strings.Join(cols, "\t"))
	}
	for _, r := range out.Results {
		m := rowMap(r)
		cells := make([]string, len(cols))
		for i, c := range cols {
			cells[i] = tableCell(m[c], i < len(cols)-1)
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t"))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if out.Statistics != nil {
		s := out.Statistics
		_, err := fmt.Fprintf(w, "%d rows; %.0f records matched, %.0f scanned, %s scanned\n",
			len(out.Results), s.RecordsMatched, s.RecordsScanned, humanBytes(aws.Int64(int64(s.BytesScanned))))
		return err
	}
	return nil
}

// tableCell keeps a value on one line, since tabs and newlines would break
// the columns, and shortens it unless it is the last column (the message,
// usually), which may run as long as it is.
func tableCell(v string, shorten bool) string {
	v = strings.TrimRight(v, "\r\n")
	if strings.ContainsAny(v, "\t\r\n") {
		v = strings.NewReplacer("\t", " ", "\r\n", "⏎", "\n", "⏎", "\r", "⏎").Replace(v)
	}
	const maxCell = 200
	if shorten && utf8.RuneCountInString(v) > maxCell {
		v = string([]rune(v)[:maxCell-1]) + "…"
	}
	return v
}
