package cli

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/spf13/cobra"

	"github.com/kinsight/kinsight/internal/config"
)

// metricsCmd is `kinsight metrics`: a client of the server's Prometheus
// HTTP API. It signs with SigV4 from the same credentials as `kinsight
// logs`, so one key pair serves both.
type metricsCmd struct {
	logs  *logsCmd // the shared endpoint/credential flags and chain
	rng   time.Duration
	step  time.Duration
	at    string
	end   string
	limit int
}

func newMetricsCmd(env *Env) *cobra.Command {
	m := &metricsCmd{logs: &logsCmd{env: env, loadChain: loadSDKChain, now: time.Now}}
	l := m.logs
	getenv := env.Getenv
	cmd := &cobra.Command{
		Use:   "metrics",
		Short: "Query the metric store with PromQL",
		Long: `Query the server's metrics through its Prometheus HTTP API (/api/v1/query
and /api/v1/query_range), the API Grafana and promtool use.

Endpoint and credentials are those of 'kinsight logs': --endpoint (default
$KINSIGHT_ENDPOINT, else ` + defaultEndpoint + `), requests SigV4-signed with
$AWS_ACCESS_KEY_ID/$AWS_SECRET_ACCESS_KEY or the AWS credential chain.`,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			if l.flags.output != "table" && l.flags.output != "json" {
				return fmt.Errorf("--output must be table or json (got %q)", l.flags.output)
			}
			l.profileSet = l.flags.profile != ""
			return nil
		},
	}
	pf := cmd.PersistentFlags()
	pf.StringVar(&l.flags.endpoint, "endpoint", firstNonEmpty(getenv("KINSIGHT_ENDPOINT"), defaultEndpoint),
		"server URL (env KINSIGHT_ENDPOINT)")
	pf.StringVar(&l.flags.region, "region", firstNonEmpty(getenv("AWS_REGION"), getenv("AWS_DEFAULT_REGION"), "us-east-1"),
		"region used to sign requests (env AWS_REGION, AWS_DEFAULT_REGION)")
	pf.StringVar(&l.flags.profile, "profile", getenv("AWS_PROFILE"), "shared credentials profile (env AWS_PROFILE)")
	pf.StringVarP(&l.flags.output, "output", "o", "table", "output format: table, or json (the API's data object)")
	pf.BoolVar(&l.flags.local, "local", false, "print times in the local time zone instead of UTC")

	q := &cobra.Command{
		Use:   "query 'EXPR'",
		Short: "Evaluate a PromQL expression at one time, or over a range with --range",
		Example: `  kinsight metrics query 'up'
  kinsight metrics query 'sum by (Namespace) (rate(container_cpu_usage_seconds_total[5m]))' --range 1h --step 1m
  kinsight metrics query 'node_memory_MemAvailable_bytes' --time 2024-05-01T12:00:00Z -o json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return m.query(cmd.Context(), args[0]) },
	}
	f := q.Flags()
	f.DurationVar(&m.rng, "range", 0, "evaluate over this long a range ending at --end (a range query)")
	f.DurationVar(&m.step, "step", 0, "resolution of a range query (default: range/250, at least 1s)")
	f.StringVar(&m.at, "time", "", "evaluation time of an instant query: RFC3339, epoch ms, now, or a duration ago (default now)")
	f.StringVar(&m.end, "end", "", "end of a range query, same forms as --time (default now)")
	f.IntVar(&m.limit, "limit", 0, "at most this many series (0: no limit)")
	cmd.AddCommand(q)
	return cmd
}

func (m *metricsCmd) query(ctx context.Context, expr string) error {
	l := m.logs
	now := l.now()
	params := url.Values{"query": {expr}}
	if m.limit > 0 {
		params.Set("limit", strconv.Itoa(m.limit))
	}
	path := "/api/v1/query"
	if m.rng > 0 {
		if m.at != "" {
			return errors.New("--time is for instant queries; use --end with --range")
		}
		end := now
		if m.end != "" {
			var err error
			if end, err = parseTimeArg(m.end, now, l.location()); err != nil {
				return fmt.Errorf("--end: %w", err)
			}
		}
		step := m.step
		if step <= 0 {
			step = max(m.rng/250, time.Second)
		}
		path = "/api/v1/query_range"
		params.Set("start", apiTime(end.Add(-m.rng)))
		params.Set("end", apiTime(end))
		params.Set("step", strconv.FormatFloat(step.Seconds(), 'f', -1, 64))
	} else {
		if m.step > 0 || m.end != "" {
			return errors.New("--step and --end need --range")
		}
		at := now
		if m.at != "" {
			var err error
			if at, err = parseTimeArg(m.at, now, l.location()); err != nil {
				return fmt.Errorf("--time: %w", err)
			}
		}
		params.Set("time", apiTime(at))
	}
	data, err := m.post(ctx, path, params)
	if err != nil {
		return err
	}
	if l.flags.output == "json" {
		_, err := fmt.Fprintf(l.env.Stdout, "%s\n", data)
		return err
	}
	return printQueryTable(l.env.Stdout, data, l.location())
}

func apiTime(t time.Time) string {
	return strconv.FormatFloat(float64(t.UnixMilli())/1000, 'f', -1, 64)
}

// promResponse is the Prometheus API envelope.
type promResponse struct {
	Status    string          `json:"status"`
	Data      json.RawMessage `json:"data"`
	ErrorType string          `json:"errorType"`
	Error     string          `json:"error"`
	Warnings  []string        `json:"warnings"`
}

// post sends a form-encoded, signed POST and returns the envelope's data.
func (m *metricsCmd) post(ctx context.Context, path string, params url.Values) (json.RawMessage, error) {
	l := m.logs
	u, err := url.Parse(l.flags.endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("--endpoint must be an http:// or https:// URL (got %q)", l.flags.endpoint)
	}
	creds, err := l.credentials(ctx, config.IsLoopback(u.Hostname()))
	if err != nil {
		return nil, err
	}
	body := []byte(params.Encode())
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(l.flags.endpoint, "/")+path, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	c, err := creds.Retrieve(ctx)
	if err != nil {
		return nil, fmt.Errorf("credentials: %w", err)
	}
	sum := sha256.Sum256(body)
	if err := v4.NewSigner().SignHTTP(ctx, c, req, hex.EncodeToString(sum[:]), "aps", l.flags.region, l.now()); err != nil {
		return nil, fmt.Errorf("sign request: %w", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, apiError(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<30))
	if err != nil {
		return nil, fmt.Errorf("read response: %w", err)
	}
	var pr promResponse
	if err := json.Unmarshal(raw, &pr); err != nil {
		return nil, fmt.Errorf("server answered %s: %s", resp.Status, strings.TrimSpace(string(raw)))
	}
	for _, w := range pr.Warnings {
		fmt.Fprintln(l.env.Stderr, "warning:", w)
	}
	if pr.Status != "success" {
		return nil, fmt.Errorf("%s: %s", pr.ErrorType, pr.Error)
	}
	return pr.Data, nil
}

// printQueryTable prints a query's data: one row per series (instant) or
// per point (range), the series written as in PromQL.
func printQueryTable(w io.Writer, data json.RawMessage, loc *time.Location) error {
	var d struct {
		ResultType string          `json:"resultType"`
		Result     json.RawMessage `json:"result"`
	}
	if err := json.Unmarshal(data, &d); err != nil {
		return fmt.Errorf("decode result: %w", err)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	defer tw.Flush()
	switch d.ResultType {
	case "scalar", "string":
		var p [2]any
		if err := json.Unmarshal(d.Result, &p); err != nil {
			return fmt.Errorf("decode %s: %w", d.ResultType, err)
		}
		fmt.Fprintf(tw, "TIME\tVALUE\n%s\t%v\n", pointTime(p[0], loc), p[1])
	case "vector":
		var rows []struct {
			Metric map[string]string `json:"metric"`
			Value  [2]any            `json:"value"`
		}
		if err := json.Unmarshal(d.Result, &rows); err != nil {
			return fmt.Errorf("decode vector: %w", err)
		}
		fmt.Fprintln(tw, "SERIES\tTIME\tVALUE")
		for _, r := range rows {
			fmt.Fprintf(tw, "%s\t%s\t%v\n", seriesString(r.Metric), pointTime(r.Value[0], loc), r.Value[1])
		}
	case "matrix":
		var rows []struct {
			Metric map[string]string `json:"metric"`
			Values [][2]any          `json:"values"`
		}
		if err := json.Unmarshal(d.Result, &rows); err != nil {
			return fmt.Errorf("decode matrix: %w", err)
		}
		fmt.Fprintln(tw, "SERIES\tTIME\tVALUE")
		for _, r := range rows {
			s := seriesString(r.Metric)
			for _, p := range r.Values {
				fmt.Fprintf(tw, "%s\t%s\t%v\n", s, pointTime(p[0], loc), p[1])
			}
		}
	default:
		return fmt.Errorf("unknown result type %q", d.ResultType)
	}
	return nil
}

func pointTime(v any, loc *time.Location) string {
	f, ok := v.(float64)
	if !ok {
		return fmt.Sprint(v)
	}
	return time.UnixMilli(int64(f*1000 + 0.5)).In(loc).Format(time.RFC3339Nano)
}

// seriesString writes labels as PromQL does: name{a="1", b="2"}.
func seriesString(m map[string]string) string {
	names := make([]string, 0, len(m))
	for k := range m {
		if k != "__name__" {
			names = append(names, k)
		}
	}
	slices.Sort(names)
	var b strings.Builder
	b.WriteString(m["__name__"])
	b.WriteByte('{')
	for i, k := range names {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s=%q", k, m[k])
	}
	b.WriteByte('}')
	return b.String()
}
