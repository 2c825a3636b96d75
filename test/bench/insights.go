package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/kinsight/kinsight/internal/insights/value"
)

// The Logs Insights benchmark (issue 4): the issue-2 corpus with a "level"
// field, ingested into a real server, then each of the queries run
// through StartQuery and GetQueryResults polling, timed from sending
// StartQuery to reading the answer that says Complete.

// Targets from issue 4's benchmark section.
const (
	targetRareMs      = 100
	targetBinMs       = 500
	targetPaymentsMs  = 500
	targetStreamMs    = 50
	targetScanGBPerCS = 1.0 // GB of raw message text per server CPU-second
	insightsSummary   = "insights-corpus.json"
)

// insightsCorpus is what the query phase needs to know about the ingested
// corpus, beyond the log server benchmark's summary.
type insightsCorpus struct {
	corpusSummary
	// PaymentsErrors counts records of namespace payments with level error,
	// PaymentsPods the payments pods that have at least one.
	PaymentsErrors int
	PaymentsPods   int
	// Pods is the number of distinct kubernetes.pod_name values (one per stream).
	Pods int
}

func summarizeInsights(c *Corpus) insightsCorpus {
	s := insightsCorpus{corpusSummary: summarize(c), Pods: len(c.Streams)}
	for _, st := range c.Streams {
		if st.Namespace == "payments" && st.ErrorEvents > 0 {
			s.PaymentsErrors += st.ErrorEvents
			s.PaymentsPods++
		}
	}
	return s
}

// insightsQuery is one of the queries and how to check its answer.
type insightsQuery struct {
	Name     string
	Query    string
	TargetMs int     // 0: no latency target
	FullScan bool    // must read every event: the scan-speed figure
	check    checker `json:"-"`
}

// checker validates the final rows and statistics of a query.
type checker func(rows [][]resultField, st queryStats) error

type resultField struct {
	Field string `json:"field"`
	Value string `json:"value"`
}

type queryStats struct {
	RecordsMatched float64 `json:"recordsMatched"`
	RecordsScanned float64 `json:"recordsScanned"`
	BytesScanned   float64 `json:"bytesScanned"`
}

type queryAnswer struct {
	Results    [][]resultField `json:"results"`
	Statistics queryStats      `json:"statistics"`
	Status     string          `json:"status"`
}

// insightsRun is one query's measurements.
type insightsRun struct {
	insightsQuery
	Runs    int
	Cold    time.Duration // the first run, not in Latency
	Latency latencyStats  // the other runs
	Polls   int           // GetQueryResults calls, all runs
	Rows    int
	Stats   queryStats // of the last run
	// CPUSeconds is the server's utime+stime over the measured runs,
	// OthersCPU what the rest of the machine (the benchmark excluded)
	// used meanwhile, and Wall the measured runs' elapsed time.
	CPUSeconds float64
	OthersCPU  float64
	BenchCPU   float64 // the benchmark's own CPU (polling, decoding answers)
	Wall       time.Duration
	CheckErr   string
}

// insightsResult is the whole insights benchmark.
type insightsResult struct {
	Date         time.Time
	Machine      machineInfo
	Commit       string
	GoVer        string
	Command      string
	Corpus       insightsCorpus
	GenTook      time.Duration
	Ingest       *ingestResult
	Settle       *settleResult
	IdleCPU      float64 // server cores busy while idle before the queries
	PollInterval time.Duration
	Queries      []*insightsRun
	Profiles     []string
}

func fieldOf(row []resultField, name string) (string, bool) {
	for _, f := range row {
		if f.Field == name {
			return f.Value, true
		}
	}
	return "", false
}

// sumCounts sums the count(*) column of stats answers.
func sumCounts(rows [][]resultField) (int, error) {
	total := 0
	for _, r := range rows {
		v, ok := fieldOf(r, "count(*)")
		if !ok {
			return 0, fmt.Errorf("row without count(*): %v", r)
		}
		n, err := strconv.Atoi(v)
		if err != nil {
			return 0, fmt.Errorf("count(*) %q: %w", v, err)
		}
		total += n
	}
	return total, nil
}

// insightsQueries are the queries, with checks against what the
// generator planted.
func insightsQueries(c insightsCorpus) []insightsQuery {
	return []insightsQuery{
		{
			Name: "rare token", TargetMs: targetRareMs,
			Query: fmt.Sprintf("filter @message like /%s/ | limit 20", c.RareToken),
			check: func(rows [][]resultField, _ queryStats) error {
				if len(rows) != min(c.RareCount, 20) {
					return fmt.Errorf("%d rows, want the %d planted events", len(rows), c.RareCount)
				}
				for _, r := range rows {
					if m, ok := fieldOf(r, "@message"); ok && !strings.Contains(m, c.RareToken) {
						return fmt.Errorf("row without the token: %.200s", m)
					}
				}
				return nil
			},
		},
		{
			Name: "count by 5 minutes", TargetMs: targetBinMs,
			Query: "stats count(*) by bin(5m)",
			check: func(rows [][]resultField, _ queryStats) error {
				n, err := sumCounts(rows)
				if err != nil {
					return err
				}
				if n != c.Events || len(rows) < 288 || len(rows) > 290 {
					return fmt.Errorf("%d bins counting %d events, want 288–290 bins counting %d", len(rows), n, c.Events)
				}
				return nil
			},
		},
		{
			Name: "payments errors by pod", TargetMs: targetPaymentsMs,
			Query: `filter kubernetes.namespace_name = "payments" and level = "error" | stats count(*) by kubernetes.pod_name`,
			check: func(rows [][]resultField, _ queryStats) error {
				n, err := sumCounts(rows)
				if err != nil {
					return err
				}
				if n != c.PaymentsErrors || len(rows) != c.PaymentsPods {
					return fmt.Errorf("%d pods counting %d events, want %d pods counting %d", len(rows), n, c.PaymentsPods, c.PaymentsErrors)
				}
				return nil
			},
		},
		{
			Name: "newest 1000 of one stream", TargetMs: targetStreamMs,
			Query: fmt.Sprintf("filter @logStream = %q | fields @timestamp, @message | sort @timestamp desc | limit 1000", c.Biggest),
			check: func(rows [][]resultField, _ queryStats) error {
				if len(rows) != min(1000, c.BiggestCount) {
					return fmt.Errorf("%d rows, want 1000", len(rows))
				}
				want := time.UnixMilli(c.BiggestLast).UTC().Format(value.TimeLayout)
				prev := ""
				for i, r := range rows {
					ts, ok := fieldOf(r, "@timestamp")
					if !ok {
						return fmt.Errorf("row %d without @timestamp", i)
					}
					if i == 0 && ts != want {
						return fmt.Errorf("newest row at %s, the stream's newest event is at %s", ts, want)
					}
					if prev != "" && ts > prev {
						return fmt.Errorf("row %d at %s after %s: not newest first", i, ts, prev)
					}
					prev = ts
				}
				return nil
			},
		},
		{
			// Not in the issue: the same over the whole group, without the
			// stream filter, to show what reading newest first gives.
			Name:  "newest 1000 of the group",
			Query: "fields @timestamp, @message | sort @timestamp desc | limit 1000",
			check: func(rows [][]resultField, _ queryStats) error {
				if len(rows) != min(1000, c.Events) {
					return fmt.Errorf("%d rows, want 1000", len(rows))
				}
				prev := ""
				for i, r := range rows {
					ts, _ := fieldOf(r, "@timestamp")
					if prev != "" && ts > prev {
						return fmt.Errorf("row %d at %s after %s: not newest first", i, ts, prev)
					}
					prev = ts
				}
				return nil
			},
		},
		{
			// Not a target since the part format records constant fields:
			// the pod is the same in every event of a block, so this reads
			// no message. It was the scan-speed query before that.
			Name:  "count by pod (block constants)",
			Query: "stats count(*) by kubernetes.pod_name",
			check: func(rows [][]resultField, st queryStats) error {
				n, err := sumCounts(rows)
				if err != nil {
					return err
				}
				if n != c.Events || len(rows) != c.Pods {
					return fmt.Errorf("%d pods counting %d events, want %d pods counting %d", len(rows), n, c.Pods, c.Events)
				}
				return nil
			},
		},
		{
			// The log line differs from event to event, so every message
			// is decompressed and parsed; and since not every field the
			// query reads is constant, each is parsed up to
			// kubernetes.pod_name at the end of the record.
			Name: "full scan: count and longest line by pod", FullScan: true,
			Query: "stats count(*), max(strlen(log)) by kubernetes.pod_name",
			check: func(rows [][]resultField, st queryStats) error {
				n, err := sumCounts(rows)
				if err != nil {
					return err
				}
				if n != c.Events || len(rows) != c.Pods {
					return fmt.Errorf("%d pods counting %d events, want %d pods counting %d", len(rows), n, c.Pods, c.Events)
				}
				// A block whose events all have the same line (often a block
				// of one event) holds log as a constant and is read without
				// its messages: allow for a few.
				if int(st.RecordsScanned) != c.Events || st.BytesScanned < 0.999*float64(c.MsgBytes) {
					return fmt.Errorf("recordsScanned %.0f, bytesScanned %.0f, want every event (%d) and (nearly) every message byte (%d)", st.RecordsScanned, st.BytesScanned, c.Events, c.MsgBytes)
				}
				return nil
			},
		}}
}

// runQuery starts q over the corpus's span and polls until it completes,
// returning the latency (StartQuery sent → Complete answer read), the
// number of polls and the final answer.
func runQuery(ctx context.Context, c *logsClient, sum insightsCorpus, q string, poll time.Duration) (time.Duration, int, *queryAnswer, error) {
	in := map[string]any{
		"logGroupName": sum.Group,
		"startTime":    sum.StartMs / 1000,
		"endTime":      sum.EndMs / 1000,
		"queryString":  q,
	}
	var started struct {
		QueryID string `json:"queryId"`
	}
	t0 := time.Now()
	if _, err := c.timedCall(ctx, "StartQuery", in, &started); err != nil {
		return 0, 0, nil, err
	}
	polls := 0
	for {
		var ans queryAnswer
		if _, err := c.timedCall(ctx, "GetQueryResults", map[string]any{"queryId": started.QueryID}, &ans); err != nil {
			return 0, polls, nil, err
		}
		polls++
		switch ans.Status {
		case "Complete":
			return time.Since(t0), polls, &ans, nil
		case "Scheduled", "Running":
		default:
			return 0, polls, nil, fmt.Errorf("query %s ended %s", started.QueryID, ans.Status)
		}
		select {
		case <-ctx.Done():
			return 0, polls, nil, ctx.Err()
		case <-time.After(poll):
		}
	}
}

// measureQuery runs q once cold and then `runs` times, sampling the
// server's CPU around the measured runs.
func measureQuery(ctx context.Context, c *logsClient, srv *serverProc, sum insightsCorpus, q insightsQuery, runs int, poll time.Duration) (*insightsRun, error) {
	r := &insightsRun{insightsQuery: q, Runs: runs}
	cold, polls, ans, err := runQuery(ctx, c, sum, q.Query, poll)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", q.Name, err)
	}
	r.Cold, r.Polls = cold, polls
	if err := q.check(ans.Results, ans.Statistics); err != nil {
		r.CheckErr = err.Error()
	}
	var lat []time.Duration
	cpu0, err := procCPUSeconds(srv.pid())
	if err != nil {
		return nil, err
	}
	self0, err1 := procCPUSeconds(os.Getpid())
	busy0, err2 := machineCPUBusySeconds()
	if err := errors.Join(err1, err2); err != nil {
		return nil, err
	}
	t0 := time.Now()
	for range runs {
		d, polls, a, err := runQuery(ctx, c, sum, q.Query, poll)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", q.Name, err)
		}
		lat = append(lat, d)
		r.Polls += polls
		ans = a
	}
	cpu1, err := procCPUSeconds(srv.pid())
	if err != nil {
		return nil, err
	}
	r.Wall = time.Since(t0)
	self1, err1 := procCPUSeconds(os.Getpid())
	busy1, err2 := machineCPUBusySeconds()
	if err := errors.Join(err1, err2); err != nil {
		return nil, err
	}
	r.BenchCPU = self1 - self0
	r.OthersCPU = max(0, busy1-busy0-(cpu1-cpu0)-(self1-self0))
	if err := q.check(ans.Results, ans.Statistics); err != nil && r.CheckErr == "" {
		r.CheckErr = err.Error()
	}
	r.CPUSeconds = cpu1 - cpu0
	r.Latency = stats(lat)
	r.Rows, r.Stats = len(ans.Results), ans.Statistics
	return r, nil
}

// profileQuery saves a server CPU profile of secs seconds taken while q
// runs over and over.
func profileQuery(ctx context.Context, c *logsClient, srv *serverProc, sum insightsCorpus, q insightsQuery, secs int, poll time.Duration, path string) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		for ctx.Err() == nil {
			if _, _, _, err := runQuery(ctx, c, sum, q.Query, poll); err != nil && ctx.Err() == nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("%s/debug/pprof/profile?seconds=%d", srv.url(), secs), nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("CPU profile: %w", err)
	}
	data, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return fmt.Errorf("CPU profile: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("CPU profile: %s", resp.Status)
	}
	cancel()
	if err := <-done; err != nil {
		return err
	}
	return os.WriteFile(path, data, 0o644)
}

func cmdInsights(ctx context.Context, f *flags, command string, stdout io.Writer, logf logFunc) error {
	work, temp, err := workDir(f)
	if err != nil {
		return err
	}
	if temp && !f.keep {
		defer os.RemoveAll(work)
	}
	bin, err := binaryFor(ctx, f, work, logf)
	if err != nil {
		return err
	}
	res := &insightsResult{
		Date: time.Now().UTC(), Machine: readMachineInfo(), Commit: gitCommit(), GoVer: runtime.Version(),
		Command: command, PollInterval: f.pollInterval,
	}
	var srv *serverProc
	dataDir := filepath.Join(work, runLabel(false))
	if f.reuse {
		data, err := os.ReadFile(filepath.Join(work, insightsSummary))
		if err != nil {
			return fmt.Errorf("--reuse: %w (run insights with --work first)", err)
		}
		if err := json.Unmarshal(data, &res.Corpus); err != nil {
			return err
		}
		if srv, err = startServer(ctx, serverOptions{
			Binary: bin, DataDir: dataDir, LogFile: filepath.Join(work, "insights-query.log"), FlushInterval: f.flushInterval,
		}); err != nil {
			return err
		}
		logf("server pid %d on %s restarted on the ingested data; waiting for it to settle…", srv.pid(), srv.addr)
		if res.Settle, err = waitSettled(ctx, srv, dataDir, f.settleStable, f.settleTimeout); err != nil {
			srv.stop()
			return err
		}
	} else {
		opts := *f
		opts.corpus.Levels = true
		corp, took, err := generate(&opts, logf)
		if err != nil {
			return err
		}
		res.Corpus, res.GenTook = summarizeInsights(corp), took
		if res.Corpus.PaymentsErrors == 0 {
			return errors.New("the corpus has no payments events at level error: the payments query would measure nothing")
		}
		data, err := json.MarshalIndent(res.Corpus, "", "  ")
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(work, insightsSummary), data, 0o644); err != nil {
			return err
		}
		res.Ingest, res.Settle, srv, err = ingestRun(ctx, &opts, bin, work, corp, false, true, true, logf)
		if err != nil {
			return err
		}
	}
	err = runInsights(ctx, f, srv, res, logf)
	if serr := srv.stop(); err == nil {
		err = serr
	}
	if err != nil {
		return err
	}
	if f.keep || !temp {
		logf("working directory kept: %s (rerun the queries with `go run ./test/bench insights --reuse --work %s`)", work, work)
	}
	res.write(stdout)
	if f.jsonOut != "" {
		res.Settle.dropNonFinite()
		data, err := json.MarshalIndent(res, "", "  ")
		if err != nil {
			return err
		}
		return os.WriteFile(f.jsonOut, data, 0o644)
	}
	return nil
}

// runInsights measures every query on the settled server.
func runInsights(ctx context.Context, f *flags, srv *serverProc, res *insightsResult, logf logFunc) error {
	// The server should be idle now: measure it, since its background work
	// would count in every query's CPU.
	cpu0, err := procCPUSeconds(srv.pid())
	if err != nil {
		return err
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(3 * time.Second):
	}
	cpu1, err := procCPUSeconds(srv.pid())
	if err != nil {
		return err
	}
	res.IdleCPU = (cpu1 - cpu0) / 3
	c := newLogsClient(srv.url(), 1, "", "")
	for _, q := range insightsQueries(res.Corpus) {
		logf("query %q: %d runs…", q.Query, f.runs+1)
		r, err := measureQuery(ctx, c, srv, res.Corpus, q, f.runs, f.pollInterval)
		if err != nil {
			return err
		}
		logf("  p50 %s max %s, %d rows, recordsScanned %.0f, bytesScanned %.0f, server CPU %.2f s, others %.2f cores%s",
			ms(r.Latency.P50), ms(r.Latency.Max), r.Rows, r.Stats.RecordsScanned, r.Stats.BytesScanned, r.CPUSeconds,
			r.OthersCPU/r.Wall.Seconds(), map[bool]string{true: "", false: "; CHECK FAILED: " + r.CheckErr}[r.CheckErr == ""])
		res.Queries = append(res.Queries, r)
	}
	if f.profileDir == "" {
		return nil
	}
	if err := os.MkdirAll(f.profileDir, 0o755); err != nil {
		return err
	}
	for i, q := range insightsQueries(res.Corpus) {
		path := filepath.Join(f.profileDir, fmt.Sprintf("insights-q%d.cpu.pprof", i+1))
		logf("profiling %q for %d s → %s", q.Query, f.profileSecs, path)
		if err := profileQuery(ctx, c, srv, res.Corpus, q, f.profileSecs, f.pollInterval, path); err != nil {
			return err
		}
		res.Profiles = append(res.Profiles, path)
	}
	return nil
}

// scanGBPerCPUSecond is GB of raw message text per server CPU-second over
// the measured runs of a full-scan query.
func (r *insightsRun) scanGBPerCPUSecond(msgBytes int64) float64 {
	if r.CPUSeconds <= 0 {
		return 0
	}
	return float64(msgBytes) * float64(r.Runs) / 1e9 / r.CPUSeconds
}

func (r *insightsRun) pass() bool {
	return r.CheckErr == "" && (r.TargetMs == 0 || r.Latency.P95 < time.Duration(r.TargetMs)*time.Millisecond)
}

// write prints the context lines and the table of figures.
func (r *insightsResult) write(w io.Writer) {
	m := r.Machine
	fmt.Fprintf(w, "- Date: %s\n", r.Date.Format("2006-01-02 15:04 MST"))
	fmt.Fprintf(w, "- Machine: %d CPUs (nproc), %s, %.1f GiB RAM, Linux %s; %s\n", m.CPUs, m.Model, float64(m.MemBytes)/(1<<30), m.Kernel, r.GoVer)
	fmt.Fprintf(w, "- Commit: %s\n", r.Commit)
	fmt.Fprintf(w, "- Command: `%s`\n", r.Command)
	c := r.Corpus
	fmt.Fprintf(w, "- Corpus: %d events in %d streams of `%s` over 24 h, with `level`; raw message bytes %s; %d planted `%s`; %d payments events at level error in %d pods; seed %d\n",
		c.Events, c.Streams, c.Group, mb(c.MsgBytes), c.RareCount, c.RareToken, c.PaymentsErrors, c.PaymentsPods, c.Seed)
	if in := r.Ingest; in != nil {
		fmt.Fprintf(w, "- Ingest: %.1f MB/s of payload, %.1f s\n", in.MBps(), in.Elapsed.Seconds())
	}
	if s := r.Settle; s != nil {
		fmt.Fprintf(w, "- Store: %d parts in %d daily partitions, %s on disk, settled %.0f s after the last batch\n", s.Parts, s.Days, mb(s.PartsDU.Allocated), s.Took.Seconds())
	}
	fmt.Fprintf(w, "- Server idle before the queries: %.3f cores; GetQueryResults polled every %s; load average %s at the end\n", r.IdleCPU, r.PollInterval, loadAvg())
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| query | target | measured | result |")
	fmt.Fprintln(w, "|---|---|---|---|")
	for _, q := range r.Queries {
		target := "—"
		if q.TargetMs > 0 {
			target = fmt.Sprintf("< %d ms", q.TargetMs)
		}
		check := fmt.Sprintf("%d rows, answer checked", q.Rows)
		if q.CheckErr != "" {
			check = "WRONG ANSWER: " + q.CheckErr
		}
		res := "info"
		if q.TargetMs > 0 || q.CheckErr != "" {
			res = verdict(q.pass())
		}
		fmt.Fprintf(w, "| `%s` | %s | p50 %s, p95 %s, max %s over %d runs (first run %s); %s; recordsScanned %.0f, bytesScanned %s; server CPU %.0f ms per run (%.2f cores busy); benchmark client %.2f cores, others %.2f | %s |\n",
			strings.ReplaceAll(q.Query, "|", `\|`), target, ms(q.Latency.P50), ms(q.Latency.P95), ms(q.Latency.Max), q.Runs, ms(q.Cold),
			check, q.Stats.RecordsScanned, mb(int64(q.Stats.BytesScanned)), q.CPUSeconds*1000/float64(q.Runs), q.CPUSeconds/q.Wall.Seconds(), q.BenchCPU/q.Wall.Seconds(), q.OthersCPU/q.Wall.Seconds(), res)
	}
	for _, q := range r.Queries {
		if !q.FullScan {
			continue
		}
		gb := q.scanGBPerCPUSecond(c.MsgBytes)
		fmt.Fprintf(w, "| scan speed, `%s` (reads and parses every event) | ≥ %.0f GB of message text per CPU-second | %.2f GB/CPU-s (%s × %d runs in %.1f server CPU-s; wall %.2f GB/s at p50) | %s |\n",
			strings.ReplaceAll(q.Query, "|", `\|`), targetScanGBPerCS, gb, mb(c.MsgBytes), q.Runs, q.CPUSeconds,
			float64(c.MsgBytes)/1e9/q.Latency.P50.Seconds(), verdict(gb >= targetScanGBPerCS && q.CheckErr == ""))
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "MB/GB = 10^6/10^9 bytes. Latency: from sending StartQuery to reading the GetQueryResults answer that says Complete (with every row), polling over loopback. Verdicts use p95. Server CPU is utime+stime of the server process over the measured runs (polling included).")
	if len(r.Profiles) > 0 {
		fmt.Fprintf(w, "\nCPU profiles: %s\n", strings.Join(r.Profiles, ", "))
	}
}
