package main

import (
	"fmt"
	"io"
	"os/exec"
	"runtime"
	"strings"
	"time"
)

// Targets from the benchmark section.
const (
	targetMBps      = 100.0
	targetRSSBytes  = 400e6 // "400 MB", read as 10^6 bytes (stricter than MiB)
	targetDiskRatio = 20.0
	targetFilterMs  = 100
	targetGetMs     = 30
)

// report is everything a run measured, printed as markdown.
type report struct {
	Date    time.Time
	Machine machineInfo
	Command string
	Commit  string
	GoVer   string
	Corpus  corpusSummary
	GenTook time.Duration
	NoKeys  *ingestResult
	SigV4   *ingestResult
	Settle  *settleResult
	Query   *queryResult
	// SubCmd maps a figure family to the subcommand that measures it alone.
	SubIngest, SubIngestSig, SubQuery string
}

func mb(b int64) string         { return fmt.Sprintf("%.1f MB", float64(b)/1e6) }
func kbMB(kb int64) string      { return fmt.Sprintf("%.0f MB", float64(kb)*1024/1e6) }
func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000) }

func verdict(ok bool) string {
	if ok {
		return "**pass**"
	}
	return "**FAIL**"
}

func gitCommit() string {
	out, err := exec.Command("git", "rev-parse", "--short", "HEAD").Output()
	if err != nil {
		return "?"
	}
	c := strings.TrimSpace(string(out))
	if st, err := exec.Command("git", "status", "--porcelain", "--untracked-files=no").Output(); err == nil && len(st) > 0 {
		c += " (working tree has uncommitted changes)"
	}
	return c
}

func newReport(command string) *report {
	return &report{
		Date: time.Now().UTC(), Machine: readMachineInfo(), Command: command,
		Commit: gitCommit(), GoVer: runtime.Version(),
	}
}

// write prints the context lines and the table of figures.
func (r *report) write(w io.Writer) {
	m := r.Machine
	fmt.Fprintf(w, "- Date: %s\n", r.Date.Format("2006-01-02 15:04 MST"))
	fmt.Fprintf(w, "- Machine: %d CPUs (nproc), %s, %.1f GiB RAM, Linux %s; %s\n", m.CPUs, m.Model, float64(m.MemBytes)/(1<<30), m.Kernel, r.GoVer)
	fmt.Fprintf(w, "- Commit: %s\n", r.Commit)
	fmt.Fprintf(w, "- Command: `%s`\n", r.Command)
	c := r.Corpus
	fmt.Fprintf(w, "- Corpus: %d events in %d streams of `%s` over 24 h (biggest stream %d events, smallest %d); raw message bytes %s (%d); request payload %s; seed %d; generated in %s\n",
		c.Events, c.Streams, c.Group, c.BiggestCount, c.Smallest, mb(c.MsgBytes), c.MsgBytes, mb(c.BodyBytes), c.Seed, r.GenTook.Round(time.Millisecond))
	for _, in := range []*ingestResult{r.NoKeys, r.SigV4} {
		if in == nil {
			continue
		}
		others := in.MachineBusy - in.ServerCPU - in.BenchCPU
		fmt.Fprintf(w, "- Load during ingest (%s): server used %.2f cores, the benchmark client %.2f, other processes %.2f (of %d); load average %s before, %s after\n",
			label(in), in.ServerCPU/in.Elapsed.Seconds(), in.BenchCPU/in.Elapsed.Seconds(), max(others, 0)/in.Elapsed.Seconds(), m.CPUs, in.LoadBefore, in.LoadAfter)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| figure | target | measured | result | measured by |")
	fmt.Fprintln(w, "|---|---|---|---|---|")
	row := func(fig, target, meas, res, by string) {
		fmt.Fprintf(w, "| %s | %s | %s | %s | `%s` |\n", fig, target, meas, res, by)
	}
	for _, in := range []*ingestResult{r.NoKeys, r.SigV4} {
		if in == nil {
			continue
		}
		by := r.SubIngest
		if in.SigV4 {
			by = r.SubIngestSig
		}
		row(fmt.Sprintf("PutLogEvents ingest, %d clients, 1 MB batches, %s", in.Clients, label(in)),
			"≥ 100 MB/s",
			fmt.Sprintf("%.1f MB/s of request payload (%.0f events/s, %.1f MB/s of messages; %s in %.1f s, %d requests, p50 %s p95 %s, %d retries, %d rejected)",
				in.MBps(), in.EventsPerSec(), float64(in.MsgBytes)/1e6/in.Elapsed.Seconds(), mb(in.BodyBytes), in.Elapsed.Seconds(), in.Requests,
				ms(in.PutLatency.P50), ms(in.PutLatency.P95), in.Retries, in.Rejected),
			verdict(in.MBps() >= targetMBps && in.Rejected == 0), by)
		row(fmt.Sprintf("server CPU efficiency while ingesting, %s", label(in)), "—",
			fmt.Sprintf("%.1f MB of payload per server CPU-second (server busy %.2f of %d cores on average)",
				float64(in.BodyBytes)/1e6/in.ServerCPU, in.ServerCPU/in.Elapsed.Seconds(), m.CPUs),
			"info", by)
		row(fmt.Sprintf("server RSS while ingesting, %s", label(in)), "< 400 MB",
			fmt.Sprintf("VmHWM %s; peak sampled VmRSS %s (%d samples, 100 ms)", kbMB(in.HWMKB), kbMB(in.PeakRSSKB), in.RSSSamples),
			verdict(max(in.HWMKB, in.PeakRSSKB)*1024 < targetRSSBytes), by)
	}
	if s := r.Settle; s != nil {
		ratio := float64(c.MsgBytes) / float64(s.PartsDU.Allocated)
		note := ""
		if s.TimedOut {
			note = " — merging had NOT settled when measured"
		}
		row("on-disk size after merging (`du` of logs/parts)", "≤ 1/20 of raw message bytes",
			fmt.Sprintf("%s = 1/%.1f of %s raw (%d parts in %d daily partitions, settled %.0f s after the last batch%s)",
				mb(s.PartsDU.Allocated), ratio, mb(c.MsgBytes), s.Parts, s.Days, s.Took.Seconds(), note),
			verdict(ratio >= targetDiskRatio && !s.TimedOut), r.SubIngest)
		row("whole data directory (`du`)", "—",
			fmt.Sprintf("%s = 1/%.1f of raw; WAL %s", mb(s.DataDU.Allocated), float64(c.MsgBytes)/float64(s.DataDU.Allocated), mb(s.WALDU.Allocated)),
			"info", r.SubIngest)
	}
	if q := r.Query; q != nil {
		found := fmt.Sprintf("found %d of %d planted events", q.FilterFound, c.RareCount)
		if !q.FilterFoundOK {
			found = fmt.Sprintf("found %d of %d planted events in some run: WRONG", q.FilterFound, c.RareCount)
		}
		row(fmt.Sprintf("FilterLogEvents `%s`, whole 24 h, first page", c.RareToken), "< 100 ms",
			fmt.Sprintf("p50 %s, p95 %s over %d runs (first run %s; first page held %d events); all pages: p50 %s, %d pages; %s",
				ms(q.FilterFirst.P50), ms(q.FilterFirst.P95), q.Runs, ms(q.FilterCold), q.FilterFirstEvents, ms(q.FilterAll.P50), q.FilterPages, found),
			verdict(q.FilterFirst.P95 < targetFilterMs*time.Millisecond && q.FilterFoundOK), r.SubQuery)
		row("GetLogEvents newest, biggest stream, one call (startFromHead=false, limit 10000)", "< 30 ms",
			fmt.Sprintf("p50 %s, p95 %s over %d runs (first run %s); returns %d events, as many as fit AWS's 1 MB response cap",
				ms(q.GetOne.P50), ms(q.GetOne.P95), q.Runs, ms(q.GetCold), q.GetOneEvents),
			verdict(q.GetOne.P95 < targetGetMs*time.Millisecond && q.GetNewestOK), r.SubQuery)
		row("GetLogEvents newest 10,000 events, biggest stream, following nextBackwardToken until 10,000", "< 30 ms",
			fmt.Sprintf("p50 %s, p95 %s over %d runs; %d calls, %d events", ms(q.GetAll.P50), ms(q.GetAll.P95), q.Runs, q.GetAllPages, q.GetAllEvents),
			verdict(q.GetAll.P95 < targetGetMs*time.Millisecond && q.GetNewestOK), r.SubQuery)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "MB = 10^6 bytes. Query latencies are measured by the client over loopback from sending the request to reading the last byte of the answer (the client's JSON encoding and decoding are not counted; for several pages, the sum of the calls). Verdicts use p95.")
}

func label(in *ingestResult) string {
	if in.SigV4 {
		return "SigV4-signed, access keys configured"
	}
	return "no access keys (SigV4 not verified)"
}
