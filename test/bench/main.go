// Command bench is the log server's benchmark (issue 2): it generates a
// Container Insights–shaped corpus from the loghub samples, starts a real
// kinsight server, ingests the corpus through PutLogEvents from concurrent
// clients while sampling the server's memory and CPU, waits for merging to
// settle, measures the disk, then times FilterLogEvents and GetLogEvents.
// It prints a markdown table of every figure against the target.
//
//	go run ./test/bench all --events 2000000 --streams 200
//	go run ./test/bench gen --events 100000 --out corpus.ndjson
//	go run ./test/bench ingest [--sigv4] --work DIR
//	go run ./test/bench query --work DIR
//	go run ./test/bench agent [--lines 1000000 --pods 200 --rate 10000 --steady 60s]
//	go run ./test/bench insights [--work DIR [--reuse]] [--profile-dir DIR]
//	go run ./test/bench agentmetrics [--duration 3m --pods 110 --interval 10s]
//	go run ./test/bench metrics [--series 1000000 --query-series 100000 --hours 24 --targets kinsight,prometheus]
//
// See docs/benchmarks.md for results and method.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func numCPU() int { return runtime.NumCPU() }

// flags are the options every subcommand accepts.
type flags struct {
	corpus        CorpusOptions
	end           string
	work          string
	binary        string
	clients       int
	runs          int
	settleStable  time.Duration
	settleTimeout time.Duration
	profileDir    string
	profileSecs   int
	sigv4         bool
	skipSigV4     bool
	keep          bool
	flushInterval string
	out           string
	jsonOut       string
	zstdBound     bool
	// agent subcommand
	agentLines      int
	agentPods       int
	agentJSONShare  float64
	agentRate       float64
	agentSteady     time.Duration
	agentLinksFirst bool
	agentShareBin   bool
	// insights subcommand
	reuse        bool
	pollInterval time.Duration
	// metrics subcommand
	metrics metricsFlags
}

func parseFlags(name string, args []string, stderr io.Writer) (*flags, error) {
	f := &flags{corpus: DefaultCorpusOptions()}
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntVar(&f.corpus.Events, "events", f.corpus.Events, "events in the corpus")
	fs.IntVar(&f.corpus.Streams, "streams", f.corpus.Streams, "log streams (containers)")
	fs.Uint64Var(&f.corpus.Seed, "seed", f.corpus.Seed, "random seed; the rare token is RareToken<seed>")
	fs.IntVar(&f.corpus.RareEvents, "rare", f.corpus.RareEvents, "events carrying the rare token")
	fs.StringVar(&f.corpus.LoghubDir, "loghub", f.corpus.LoghubDir, "directory of loghub *_2k.log samples")
	fs.StringVar(&f.end, "end", "", "newest timestamp, RFC 3339 (default: now); with --seed it fixes the corpus byte for byte")
	fs.StringVar(&f.work, "work", "", "working directory for the binary, data and logs (default: a new temporary directory)")
	fs.StringVar(&f.binary, "binary", "", "kinsight binary to run (default: build ./cmd/kinsight)")
	fs.IntVar(&f.clients, "clients", 4, "concurrent PutLogEvents clients")
	fs.IntVar(&f.runs, "runs", 20, "repetitions of each query")
	fs.DurationVar(&f.settleStable, "settle-stable", 5*time.Second, "how long the part count must stay still to count as merged")
	fs.DurationVar(&f.settleTimeout, "settle-timeout", 5*time.Minute, "give up waiting for merges after this")
	fs.StringVar(&f.profileDir, "profile-dir", "", "save a server CPU profile (taken during ingestion) and heap profile here")
	fs.IntVar(&f.profileSecs, "profile-seconds", 10, "length of the CPU profile")
	fs.BoolVar(&f.sigv4, "sigv4", false, "ingest: configure access keys and sign every request")
	fs.BoolVar(&f.skipSigV4, "skip-sigv4", false, "all: skip the second, SigV4-signed ingest run")
	fs.BoolVar(&f.keep, "keep", false, "all: keep the working directory (data, logs)")
	fs.StringVar(&f.flushInterval, "flush-interval", "", "override the server's logs.flush_interval (default: the server's)")
	fs.StringVar(&f.out, "out", "", "gen: write the corpus as NDJSON {group,stream,timestamp,message} here")
	fs.StringVar(&f.jsonOut, "json", "", "also write every measurement as JSON here")
	fs.BoolVar(&f.zstdBound, "zstd-bound", false, "gen: also compress each stream's messages with zstd in 1 MiB blocks, as a reference ratio")
	fs.IntVar(&f.agentLines, "lines", 1_000_000, "agent: lines in the CRI tree")
	fs.IntVar(&f.agentPods, "pods", 200, "agent: pods (container log files) on the node")
	fs.Float64Var(&f.agentJSONShare, "json-share", 0.3, "agent: share of lines that are JSON objects")
	fs.Float64Var(&f.agentRate, "rate", 10_000, "agent: lines/s of the steady phase")
	fs.DurationVar(&f.agentSteady, "steady", time.Minute, "agent: length of the steady phase")
	fs.BoolVar(&f.agentLinksFirst, "links-first", false, "agent: link the logs before the agent starts (its pod list still loading)")
	fs.BoolVar(&f.agentShareBin, "share-binary", false, "agent: run the agent from the server's binary file instead of its own copy (as on the node that also runs the server: the two share the file's pages)")
	fs.BoolVar(&f.reuse, "reuse", false, "insights: query the data an earlier insights run left in --work instead of ingesting")
	fs.DurationVar(&f.pollInterval, "poll", 2*time.Millisecond, "insights: GetQueryResults polling interval")
	fs.IntVar(&f.metrics.series, "series", 1_000_000, "metrics: series of the ingestion load (0 skips it)")
	fs.IntVar(&f.metrics.timestamps, "timestamps", 10, "metrics: timestamps (15 s apart) of each ingested series")
	fs.IntVar(&f.metrics.querySeries, "query-series", 100_000, "metrics: series of the query data (0 skips the query and disk phases)")
	fs.Float64Var(&f.metrics.hours, "hours", 24, "metrics: hours of query data")
	fs.DurationVar(&f.metrics.interval, "interval", 150*time.Second, "metrics: sample interval of the query data (at most 150s: rate(x[5m]) needs two samples)")
	fs.IntVar(&f.metrics.senders, "senders", 4, "metrics: concurrent remote-write connections")
	fs.IntVar(&f.metrics.perRequest, "per-request", 2000, "metrics: series per remote-write request")
	fs.StringVar(&f.metrics.targets, "targets", "kinsight,prometheus,victoria-metrics", "metrics: systems to measure, in order")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	if f.end != "" {
		t, err := time.Parse(time.RFC3339, f.end)
		if err != nil {
			return nil, fmt.Errorf("--end: %w", err)
		}
		f.corpus.End = t
	}
	if f.pollInterval <= 0 {
		return nil, errors.New("--poll must be > 0")
	}
	if f.clients < 1 || f.runs < 1 {
		return nil, errors.New("--clients and --runs must be >= 1")
	}
	return f, nil
}

const usage = `usage: go run ./test/bench <command> [flags]

commands:
  all     generate, ingest (no keys, then SigV4), settle, measure disk, query; print the table
  gen     generate the corpus and print its size (--out writes it as NDJSON)
  ingest  generate and ingest into a fresh server in --work, settle, measure disk
  query   start a server on the data an earlier ingest left in --work and time the queries
  agent   the node agent (issue 3): catch up on a 1M-line CRI tree with metadata from a real
          kube-apiserver, then a steady 10,000 lines/s; CPU, RSS and write-to-queryable latency
  metrics  metric store (issue 5): kinsight vs Debian's prometheus and victoria-metrics, same
          remote-write load: ingestion rate, memory per series, bytes per sample, a 24 h query
  agentmetrics  agent metrics (issue 6): the agent with and without node and 110 pods' metrics
          every 10 s (kubelet stand-in, real kube-apiserver), same log load; added CPU and RSS,
          beside node-exporter in the same window; checks the server got every pod's series
  insights  Logs Insights (issue 4): ingest the corpus with a "level" field, then time the
          issue's queries through StartQuery/GetQueryResults; server CPU per query, scan speed

Run "go run ./test/bench <command> -h" for flags.
`

// run is the whole program; tests call it too.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stderr, usage)
		if len(args) == 0 {
			return errors.New("no command")
		}
		return nil
	}
	cmd := args[0]
	if cmd == "agentmetrics" { // its own flags: --interval and --pods mean other things here
		return cmdAgentMetrics(ctx, args[1:], "go run ./test/bench "+strings.Join(args, " "), stdout, stderr)
	}
	f, err := parseFlags(cmd, args[1:], stderr)
	if err != nil {
		return err
	}
	logf := func(format string, a ...any) {
		fmt.Fprintf(stderr, "bench: "+format+"\n", a...)
	}
	command := "go run ./test/bench " + strings.Join(args, " ")
	switch cmd {
	case "gen":
		return cmdGen(f, stdout, logf)
	case "ingest":
		return cmdIngest(ctx, f, command, stdout, logf)
	case "query":
		return cmdQuery(ctx, f, command, stdout, logf)
	case "all":
		return cmdAll(ctx, f, command, stdout, logf)
	case "agent":
		return cmdAgent(ctx, f, command, stdout, logf)
	case "insights":
		return cmdInsights(ctx, f, command, stdout, logf)
	case "metrics":
		if f.metrics.senders < 1 || f.metrics.perRequest < 1 || f.metrics.timestamps < 2 || f.metrics.interval <= 0 || f.metrics.interval > 150*time.Second {
			return errors.New("metrics: --senders, --per-request >= 1, --timestamps >= 2, 0 < --interval <= 150s")
		}
		return cmdMetrics(ctx, f, command, stdout, logf)
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("unknown command %q", cmd)
}

type logFunc func(format string, a ...any)

func generate(f *flags, logf logFunc) (*Corpus, time.Duration, error) {
	start := time.Now()
	logf("generating %d events in %d streams (seed %d)…", f.corpus.Events, f.corpus.Streams, f.corpus.Seed)
	c, err := Generate(f.corpus)
	if err != nil {
		return nil, 0, err
	}
	took := time.Since(start)
	logf("generated %d events, %d batches, %.1f MB of messages, %.1f MB of request bodies in %s",
		c.Events, len(c.Batches), float64(c.MsgBytes)/1e6, float64(c.BodyBytes)/1e6, took.Round(time.Millisecond))
	return c, took, nil
}

func cmdGen(f *flags, stdout io.Writer, logf logFunc) error {
	c, _, err := generate(f, logf)
	if err != nil {
		return err
	}
	if f.out != "" {
		if err := writeNDJSON(c, f.out); err != nil {
			return err
		}
		logf("wrote %s", f.out)
	}
	if f.zstdBound {
		n, err := zstdBound(c, 1<<20)
		if err != nil {
			return err
		}
		logf("zstd (default level) of each stream's messages in 1 MiB blocks: %.1f MB = 1/%.1f of raw", float64(n)/1e6, float64(c.MsgBytes)/float64(n))
	}
	sum := summarize(c)
	return json.NewEncoder(stdout).Encode(sum)
}

// writeNDJSON writes every event, streams one after another, so other
// systems (VictoriaLogs, Loki…) can be fed the same corpus.
func writeNDJSON(c *Corpus, path string) error {
	file, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(file, 1<<20)
	for _, b := range c.Batches {
		var body struct {
			LogEvents []struct {
				Timestamp int64  `json:"timestamp"`
				Message   string `json:"message"`
			} `json:"logEvents"`
		}
		if err := json.Unmarshal(b.Body, &body); err != nil {
			file.Close()
			return fmt.Errorf("batch of %s: %w", c.Streams[b.Stream].Name, err)
		}
		for _, e := range body.LogEvents {
			line := appendJSONString([]byte(`{"group":`), c.Group)
			line = append(line, `,"stream":`...)
			line = appendJSONString(line, c.Streams[b.Stream].Name)
			line = fmt.Appendf(line, `,"timestamp":%d,"message":`, e.Timestamp)
			line = appendJSONString(line, e.Message)
			line = append(line, "}\n"...)
			w.Write(line)
		}
	}
	if err := w.Flush(); err != nil {
		file.Close()
		return err
	}
	return file.Close()
}

// workDir returns --work, creating it (or a temporary one).
func workDir(f *flags) (string, bool, error) {
	if f.work != "" {
		return f.work, false, os.MkdirAll(f.work, 0o755)
	}
	d, err := os.MkdirTemp("", "kinsight-bench-")
	return d, true, err
}

func binaryFor(ctx context.Context, f *flags, work string, logf logFunc) (string, error) {
	if f.binary != "" {
		return f.binary, nil
	}
	logf("building ./cmd/kinsight…")
	return buildServer(ctx, work)
}

// ingestRun starts a fresh server in work/<label>, ingests and, when
// settle is set, waits for merges and measures the disk. The server is
// returned still running when keepRunning is set.
func ingestRun(ctx context.Context, f *flags, bin, work string, corp *Corpus, sigv4, settle, keepRunning bool, logf logFunc) (*ingestResult, *settleResult, *serverProc, error) {
	lbl := runLabel(sigv4)
	dataDir := filepath.Join(work, lbl)
	if err := os.RemoveAll(dataDir); err != nil {
		return nil, nil, nil, err
	}
	srv, err := startServer(ctx, serverOptions{
		Binary: bin, DataDir: dataDir, LogFile: filepath.Join(work, lbl+".log"),
		Keys: sigv4, FlushInterval: f.flushInterval,
	})
	if err != nil {
		return nil, nil, nil, err
	}
	fail := func(err error) (*ingestResult, *settleResult, *serverProc, error) {
		srv.stop()
		return nil, nil, nil, err
	}
	if f.profileDir != "" {
		if err := os.MkdirAll(f.profileDir, 0o755); err != nil {
			return fail(err)
		}
	}
	logf("[%s] server pid %d on %s; ingesting with %d clients…", lbl, srv.pid(), srv.addr, f.clients)
	in, err := runIngest(ctx, srv, corp, ingestOptions{Clients: f.clients, SigV4: sigv4, ProfileDir: f.profileDir, ProfileSeconds: f.profileSecs})
	if err != nil {
		return fail(err)
	}
	logf("[%s] %.1f MB/s, %.0f events/s, %.1f s; server VmHWM %d MB, peak VmRSS %d MB",
		lbl, in.MBps(), in.EventsPerSec(), in.Elapsed.Seconds(), in.HWMKB*1024/1e6, in.PeakRSSKB*1024/1e6)
	var st *settleResult
	if settle {
		logf("[%s] waiting for flush and merges to settle…", lbl)
		if st, err = waitSettled(ctx, srv, dataDir, f.settleStable, f.settleTimeout); err != nil {
			return fail(err)
		}
		logf("[%s] settled after %.0f s: %d parts, logs/parts %.1f MB", lbl, st.Took.Seconds(), st.Parts, float64(st.PartsDU.Allocated)/1e6)
		if got := st.Metrics["kinsight_logs_ingested_events_total"]; int(got) != corp.Events {
			return fail(fmt.Errorf("server counted %.0f ingested events, sent %d (%d reported rejected)", got, corp.Events, in.Rejected))
		}
	}
	if keepRunning {
		return in, st, srv, nil
	}
	if err := srv.stop(); err != nil {
		return nil, nil, nil, err
	}
	return in, st, nil, nil
}

func saveSummary(work string, s corpusSummary) error {
	data, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(work, "corpus.json"), data, 0o644)
}

func cmdIngest(ctx context.Context, f *flags, command string, stdout io.Writer, logf logFunc) error {
	work, _, err := workDir(f)
	if err != nil {
		return err
	}
	bin, err := binaryFor(ctx, f, work, logf)
	if err != nil {
		return err
	}
	corp, took, err := generate(f, logf)
	if err != nil {
		return err
	}
	rep := newReport(command)
	rep.Corpus, rep.GenTook = summarize(corp), took
	rep.SubIngest, rep.SubIngestSig = command, command
	in, st, _, err := ingestRun(ctx, f, bin, work, corp, f.sigv4, true, false, logf)
	if err != nil {
		return err
	}
	if f.sigv4 {
		rep.SigV4 = in
	} else {
		rep.NoKeys = in
	}
	rep.Settle = st
	if err := saveSummary(work, rep.Corpus); err != nil {
		return err
	}
	logf("data left in %s (run `go run ./test/bench query --work %s`)", work, work)
	return finish(rep, f, stdout)
}

func cmdQuery(ctx context.Context, f *flags, command string, stdout io.Writer, logf logFunc) error {
	if f.work == "" {
		return errors.New("query needs --work, the directory an earlier ingest used")
	}
	data, err := os.ReadFile(filepath.Join(f.work, "corpus.json"))
	if err != nil {
		return fmt.Errorf("%w (run ingest first)", err)
	}
	var sum corpusSummary
	if err := json.Unmarshal(data, &sum); err != nil {
		return err
	}
	bin, err := binaryFor(ctx, f, f.work, logf)
	if err != nil {
		return err
	}
	lbl := runLabel(f.sigv4)
	srv, err := startServer(ctx, serverOptions{
		Binary: bin, DataDir: filepath.Join(f.work, lbl), LogFile: filepath.Join(f.work, lbl+"-query.log"),
		Keys: f.sigv4, FlushInterval: f.flushInterval,
	})
	if err != nil {
		return err
	}
	logf("[%s] server pid %d on %s restarted on the ingested data; querying…", lbl, srv.pid(), srv.addr)
	q, err := runQueries(ctx, srv, sum, f.runs, f.sigv4)
	if serr := srv.stop(); err == nil {
		err = serr
	}
	if err != nil {
		return err
	}
	rep := newReport(command)
	rep.Corpus, rep.Query, rep.SubQuery = sum, q, command
	return finish(rep, f, stdout)
}

func cmdAll(ctx context.Context, f *flags, command string, stdout io.Writer, logf logFunc) error {
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
	corp, took, err := generate(f, logf)
	if err != nil {
		return err
	}
	rep := newReport(command)
	rep.Corpus, rep.GenTook = summarize(corp), took
	size := fmt.Sprintf("--events %d --streams %d --seed %d", f.corpus.Events, f.corpus.Streams, f.corpus.Seed)
	rep.SubIngest = "go run ./test/bench ingest " + size + " --work W"
	rep.SubIngestSig = "go run ./test/bench ingest --sigv4 " + size + " --work W2"
	rep.SubQuery = "go run ./test/bench query --work W"
	if err := saveSummary(work, rep.Corpus); err != nil {
		return err
	}

	in, st, srv, err := ingestRun(ctx, f, bin, work, corp, false, true, true, logf)
	if err != nil {
		return err
	}
	rep.NoKeys, rep.Settle = in, st
	logf("[nokeys] querying…")
	q, err := runQueries(ctx, srv, rep.Corpus, f.runs, false)
	if serr := srv.stop(); err == nil {
		err = serr
	}
	if err != nil {
		return err
	}
	rep.Query = q
	if !f.skipSigV4 {
		if !f.keep {
			os.RemoveAll(filepath.Join(work, runLabel(false)))
		}
		in, _, _, err := ingestRun(ctx, f, bin, work, corp, true, false, false, logf)
		if err != nil {
			return err
		}
		rep.SigV4 = in
	}
	if f.keep || !temp {
		logf("working directory kept: %s", work)
	}
	return finish(rep, f, stdout)
}

func finish(rep *report, f *flags, stdout io.Writer) error {
	rep.write(stdout)
	if f.jsonOut == "" {
		return nil
	}
	rep.Settle.dropNonFinite()
	data, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(f.jsonOut, data, 0o644)
}
