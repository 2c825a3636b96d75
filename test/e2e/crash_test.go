package e2e

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// The crash test's shape. Kills are spaced 50–700 ms after the server is
// ready, so with a 1 MiB head, 1 MiB WAL segments and at most two parts per
// partition they land in group commits, head flushes, WAL rotations and
// merges alike.
const (
	crashWriters = 4
	crashKills   = 24
	crashMinWait = 50 * time.Millisecond
	crashMaxWait = 700 * time.Millisecond
	// Every crashLongEvery-th run lasts 1.5–4 s instead: a flush of a head
	// rebuilt from a long WAL takes seconds on a busy machine, and without
	// runs that let it finish every kill would land in the same flush and
	// merges would never start.
	crashLongEvery = 4
	crashLongMin   = 1500 * time.Millisecond
	crashLongMax   = 4 * time.Second
	// crashSeedEnv overrides the fixed seed to explore other schedules.
	crashSeedEnv = "KINSIGHT_E2E_CRASH_SEED"
)

const crashYAML = "  logs:\n" +
	"    head_max_bytes: 1MiB\n" +
	"    wal_segment_bytes: 1MiB\n" +
	"    max_parts_per_partition: 2\n" +
	"    flush_interval: 1s\n" +
	"    min_free_disk_bytes: 16MiB\n"

// TestCrashLosesNothingAcknowledged kills the server with SIGKILL at random
// moments while writers stream PutLogEvents through the AWS SDK, and checks
// afterwards that every acknowledged event is stored exactly once, in order,
// and that nothing appears that was never sent.
func TestCrashLosesNothingAcknowledged(t *testing.T) {
	if testing.Short() {
		t.Skip("kills and restarts the server 24 times")
	}
	seed := uint64(20240611)
	if s := os.Getenv(crashSeedEnv); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("%s=%q: %v", crashSeedEnv, s, err)
		}
		seed = v
	}
	t.Logf("seed %d (rerun with %s=%d)", seed, crashSeedEnv, seed)
	rng := rand.New(rand.NewPCG(seed, 1))

	p := startServer(t, "", withKeys(), withYAML(crashYAML))
	ctx := context.Background()
	admin := sdkClient(p, adminKey, adminSecret)
	const group = "/e2e/crash"
	ledgers := make([]*ledger, crashWriters)
	for w := range ledgers {
		ledgers[w] = newLedger(w, fmt.Sprintf("writer-%d", w))
	}
	createStreams(ctx, t, admin, group, ledgers)

	// Timestamps start a minute before the last UTC midnight, so every
	// stream crosses into the next daily partition during the test.
	midnight := time.Now().UTC().Truncate(24 * time.Hour)
	ts0 := midnight.Add(-time.Minute).UnixMilli()

	stopWriters := make(chan struct{})
	var wg sync.WaitGroup
	werrs := make([]error, crashWriters)
	stats := make([]writerStats, crashWriters)
	agent := sdkClient(p, agentKey, agentSecret)
	for w, l := range ledgers {
		wg.Add(1)
		wrng := rand.New(rand.NewPCG(seed, uint64(w)+100))
		go func() {
			defer wg.Done()
			werrs[w] = l.writeUntilStopped(stopWriters, agent, group, wrng, ts0, &stats[w])
		}()
	}
	// A Fatal below must not leave writers running past the test.
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			close(stopWriters)
			wg.Wait()
		}
	}
	defer stop()

	var runs serverRuns
	start := time.Now()
	for i := range crashKills {
		wait := crashMinWait + time.Duration(rng.Int64N(int64(crashMaxWait-crashMinWait)))
		if i%crashLongEvery == crashLongEvery-1 {
			wait = crashLongMin + time.Duration(rng.Int64N(int64(crashLongMax-crashLongMin)))
		}
		time.Sleep(wait)
		runs.scrape(p)
		p.kill()
		runs.record(p)
		p.restart()
		if i%8 == 7 {
			t.Logf("kill %d/%d after %v; %d batches acknowledged so far", i+1, crashKills, wait, ackedBatches(ledgers))
		}
	}
	// Let the last restart take some writes before stopping the writers.
	time.Sleep(300 * time.Millisecond)
	stop()
	t.Logf("%d kills in %v; server runs: %s", crashKills, time.Since(start).Round(time.Millisecond), runs.summary())
	for w, err := range werrs {
		if err != nil {
			t.Errorf("writer %d: %v", w, err)
		}
	}
	for w := range stats {
		t.Logf("writer %d: %s", w, stats[w].String())
	}
	if n := ackedBatches(ledgers); n < 10*crashKills {
		t.Errorf("only %d batches were acknowledged; the test exercised too little", n)
	}

	reader := sdkReadClient(p, readerKey, readerSecret)
	// First against the server as it came back from the last SIGKILL (events
	// in the replayed head and in parts), then after a clean restart (the
	// head flushed to parts at shutdown).
	verifyAll(ctx, t, reader, group, ledgers, "after crash recovery")
	runs.scrape(p)
	p.stop()
	runs.record(p)
	p.start()
	verifyAll(ctx, t, reader, group, ledgers, "after clean restart")
	if t.Failed() {
		t.Logf("server output of the last runs:\n%s", runs.tail(3))
	}
}

// verifyAll reads every stream back with GetLogEvents, checks it against
// the ledgers, then checks that FilterLogEvents (all events, and a term)
// agrees.
func verifyAll(ctx context.Context, t *testing.T, c *cloudwatchlogs.Client, group string, ledgers []*ledger, when string) {
	t.Helper()
	start := time.Now()
	got := map[string][]readEvent{}
	var sum checkResult
	for _, l := range ledgers {
		evs, err := readStream(ctx, c, group, l.stream)
		if err != nil {
			t.Errorf("%s: GetLogEvents %s: %v", when, l.stream, err)
			continue
		}
		got[l.stream] = evs
		r := l.check(evs)
		for _, p := range r.problems {
			t.Errorf("%s: %s: %s", when, l.stream, p)
		}
		sum.add(r)
	}
	t.Logf("%s: read %d events in %v: %d acknowledged batches (%d events) all present once; "+
		"%d refused attempts absent; %d of %d unacknowledged attempts landed anyway (allowed)",
		when, sum.present, time.Since(start).Round(time.Millisecond), sum.ackedBatches, sum.ackedEvents,
		sum.refused, sum.unackedLanded, sum.unacked)

	all, err := filterGroup(ctx, c, group, "")
	if err != nil {
		t.Errorf("%s: FilterLogEvents: %v", when, err)
		return
	}
	even, err := filterGroup(ctx, c, group, "even")
	if err != nil {
		t.Errorf("%s: FilterLogEvents even: %v", when, err)
		return
	}
	for _, l := range ledgers {
		want := got[l.stream]
		if d := diffEvents(want, all[l.stream]); d != "" {
			t.Errorf("%s: FilterLogEvents disagrees with GetLogEvents on %s: %s", when, l.stream, d)
		}
		var wantEven []readEvent
		for _, e := range want {
			if strings.Contains(e.msg, " even ") {
				wantEven = append(wantEven, e)
			}
		}
		if len(wantEven) == 0 || len(wantEven) == len(want) {
			t.Errorf("%s: %s: %d of %d events are even; the pattern check would prove nothing", when, l.stream, len(wantEven), len(want))
		}
		if d := diffEvents(wantEven, even[l.stream]); d != "" {
			t.Errorf("%s: FilterLogEvents(filterPattern \"even\") disagrees with GetLogEvents on %s: %s", when, l.stream, d)
		}
	}
}

// ledger records every PutLogEvents attempt of one writer to its own stream,
// and whether the server acknowledged it.
type ledger struct {
	writer int
	stream string

	mu       sync.Mutex
	attempts map[attemptKey]*attempt
}

type attemptKey struct{ seq, attempt int }

type attempt struct {
	ts   int64 // timestamp of event 0; event i has ts+i
	msgs []string
	// acked: the server answered 200. refused: it answered with an error,
	// so the batch must not be stored. Neither: unknown (connection lost).
	acked, refused bool
}

func newLedger(writer int, stream string) *ledger {
	return &ledger{writer: writer, stream: stream, attempts: map[attemptKey]*attempt{}}
}

// messagePrefix parses what eventMessage writes.
var messagePrefix = regexp.MustCompile(`^w=(\d+) b=(\d+) a=(\d+) i=(\d+) n=(\d+) (even|odd) [0-9a-f]*$`)

// eventMessage names the writer, batch sequence number, attempt and index,
// so a retried batch is distinguishable from the original. The padding is
// hex, so it never contains the words even or odd.
func eventMessage(w, seq, att, i, n int, pad []byte) string {
	parity := "odd"
	if seq%2 == 0 {
		parity = "even"
	}
	return fmt.Sprintf("w=%d b=%d a=%d i=%d n=%d %s %s", w, seq, att, i, n, parity, hex.EncodeToString(pad))
}

// newAttempt builds and records batch seq's attempt att: n events with
// timestamps from ts and messages of random length around avgPad bytes.
func (l *ledger) newAttempt(rng *rand.Rand, seq, att, n int, ts int64, maxPad int) (*attempt, []types.InputLogEvent) {
	a := &attempt{ts: ts, msgs: make([]string, n)}
	evs := make([]types.InputLogEvent, n)
	pad := make([]byte, maxPad)
	for i := range n {
		p := pad[:rng.IntN(maxPad+1)]
		for j := range p {
			p[j] = byte(rng.Uint32())
		}
		a.msgs[i] = eventMessage(l.writer, seq, att, i, n, p)
		evs[i] = types.InputLogEvent{Timestamp: aws.Int64(ts + int64(i)), Message: aws.String(a.msgs[i])}
	}
	l.mu.Lock()
	l.attempts[attemptKey{seq, att}] = a
	l.mu.Unlock()
	return a, evs
}

func (l *ledger) settle(a *attempt, acked, refused bool) {
	l.mu.Lock()
	a.acked, a.refused = acked, refused
	l.mu.Unlock()
}

type writerStats struct {
	acked, attempts, refused, connErrors, timeouts atomic.Int64
}

func (s *writerStats) String() string {
	return fmt.Sprintf("%d attempts, %d acknowledged, %d refused by the server (5xx), %d connection errors, %d timeouts",
		s.attempts.Load(), s.acked.Load(), s.refused.Load(), s.connErrors.Load(), s.timeouts.Load())
}

// writeUntilStopped sends batches of 1–500 events with strictly increasing
// timestamps, retrying a failed batch as a new attempt with new timestamps,
// until stop is closed. Errors that a server restart explains (connection
// failures, ServiceUnavailableException) are retried; any other error is
// returned.
//
// stop is checked between requests and never cancels one: the store decides
// a queued write even if its client went away, so a cancelled request could
// land after the writer returned, while the test reads.
func (l *ledger) writeUntilStopped(stop <-chan struct{}, c *cloudwatchlogs.Client, group string, rng *rand.Rand, ts int64, st *writerStats) error {
	stopped := func() bool {
		select {
		case <-stop:
			return true
		default:
			return false
		}
	}
	for seq := 0; ; seq++ {
		n := 1 + rng.IntN(500)
		for att := 0; ; att++ {
			if stopped() {
				return nil
			}
			a, evs := l.newAttempt(rng, seq, att, n, ts, 160)
			ts += int64(n)
			st.attempts.Add(1)
			rctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			_, err := c.PutLogEvents(rctx, &cloudwatchlogs.PutLogEventsInput{
				LogGroupName: aws.String(group), LogStreamName: aws.String(l.stream), LogEvents: evs,
			})
			cancel()
			if err == nil {
				l.settle(a, true, false)
				st.acked.Add(1)
				break
			}
			code, status := apiErrorCode(err)
			switch {
			case code == "ServiceUnavailableException" && status >= 500:
				// Answered, so refused for sure: the store was closing.
				l.settle(a, false, true)
				st.refused.Add(1)
			case code != "":
				return fmt.Errorf("batch %d attempt %d: unexpected error %s (HTTP %d): %w", seq, att, code, status, err)
			case errors.Is(err, context.DeadlineExceeded):
				st.timeouts.Add(1)
			default:
				st.connErrors.Add(1)
			}
			time.Sleep(time.Duration(5+rng.IntN(30)) * time.Millisecond)
		}
	}
}

func ackedBatches(ls []*ledger) int {
	n := 0
	for _, l := range ls {
		l.mu.Lock()
		for _, a := range l.attempts {
			if a.acked {
				n++
			}
		}
		l.mu.Unlock()
	}
	return n
}

// readEvent is an event as read back.
type readEvent struct {
	ts  int64
	msg string
}

type checkResult struct {
	present, ackedBatches, ackedEvents, refused, unacked, unackedLanded int
	problems                                                            []string
}

func (r *checkResult) add(o checkResult) {
	r.present += o.present
	r.ackedBatches += o.ackedBatches
	r.ackedEvents += o.ackedEvents
	r.refused += o.refused
	r.unacked += o.unacked
	r.unackedLanded += o.unackedLanded
}

// maxProblems bounds how many problems of one kind are listed.
const maxProblems = 8

// check compares a stream as read back with the ledger: every acknowledged
// batch present exactly once, timestamps strictly increasing, no event that
// was never sent or was refused, and no batch stored in part.
func (l *ledger) check(evs []readEvent) checkResult {
	l.mu.Lock()
	defer l.mu.Unlock()
	var r checkResult
	kinds := map[string]int{}
	problem := func(kind, format string, a ...any) {
		kinds[kind]++
		if kinds[kind] <= maxProblems {
			r.problems = append(r.problems, kind+": "+fmt.Sprintf(format, a...))
		}
	}
	seen := map[attemptKey][]int{}
	for k, e := range evs {
		if k > 0 && e.ts <= evs[k-1].ts {
			problem("out of order", "event %d (ts %d, %.40q) after ts %d (%.40q)", k, e.ts, e.msg, evs[k-1].ts, evs[k-1].msg)
		}
		m := messagePrefix.FindStringSubmatch(e.msg)
		if m == nil {
			problem("never sent", "event %d ts %d: %.80q", k, e.ts, e.msg)
			continue
		}
		w, _ := strconv.Atoi(m[1])
		seq, _ := strconv.Atoi(m[2])
		att, _ := strconv.Atoi(m[3])
		i, _ := strconv.Atoi(m[4])
		key := attemptKey{seq, att}
		a := l.attempts[key]
		if w != l.writer || a == nil || i >= len(a.msgs) || a.msgs[i] != e.msg || a.ts+int64(i) != e.ts {
			problem("never sent", "event %d ts %d: %.80q", k, e.ts, e.msg)
			continue
		}
		if seen[key] == nil {
			seen[key] = make([]int, len(a.msgs))
		}
		seen[key][i]++
		r.present++
	}
	keys := make([]attemptKey, 0, len(l.attempts))
	for k := range l.attempts {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		return keys[i].seq < keys[j].seq || keys[i].seq == keys[j].seq && keys[i].attempt < keys[j].attempt
	})
	for _, key := range keys {
		a := l.attempts[key]
		n := len(a.msgs)
		present, dups := 0, 0
		for _, c := range seen[key] {
			if c > 0 {
				present++
			}
			if c > 1 {
				dups += c - 1
			}
		}
		if dups > 0 {
			problem("duplicated", "batch %d attempt %d (ts %d..%d, acked=%v): %d extra copies", key.seq, key.attempt, a.ts, a.ts+int64(n)-1, a.acked, dups)
		}
		switch {
		case a.acked:
			r.ackedBatches++
			r.ackedEvents += n
			if present < n {
				problem("lost", "acknowledged batch %d attempt %d (ts %d..%d): %d of %d events missing",
					key.seq, key.attempt, a.ts, a.ts+int64(n)-1, n-present, n)
			}
		case a.refused:
			r.refused++
			if present > 0 {
				problem("refused but stored", "batch %d attempt %d (ts %d..%d): %d of %d events present",
					key.seq, key.attempt, a.ts, a.ts+int64(n)-1, present, n)
			}
		default:
			r.unacked++
			if present == n {
				r.unackedLanded++
			} else if present > 0 {
				// One Append is one WAL record: all of it or nothing.
				problem("partly stored", "unacknowledged batch %d attempt %d (ts %d..%d): %d of %d events present",
					key.seq, key.attempt, a.ts, a.ts+int64(n)-1, present, n)
			}
		}
	}
	for kind, n := range kinds {
		if n > maxProblems {
			r.problems = append(r.problems, fmt.Sprintf("%s: %d more not shown", kind, n-maxProblems))
		}
	}
	return r
}

// diffEvents describes how got differs from want (both in timestamp order,
// timestamps unique): events missing, extra, duplicated or out of order,
// with the first example of each. It returns "" if they are equal.
func diffEvents(want, got []readEvent) string {
	if slices.Equal(want, got) {
		return ""
	}
	wantSet := make(map[readEvent]bool, len(want))
	for _, e := range want {
		wantSet[e] = true
	}
	gotCount := make(map[readEvent]int, len(got))
	var b strings.Builder
	fmt.Fprintf(&b, "want %d events, got %d", len(want), len(got))
	var extra, dup, disorder int
	var firstExtra, firstDup, firstDisorder string
	for i, e := range got {
		gotCount[e]++
		switch {
		case !wantSet[e]:
			if extra++; extra == 1 {
				firstExtra = fmt.Sprintf("got[%d] ts %d %.50q", i, e.ts, e.msg)
			}
		case gotCount[e] == 2:
			if dup++; dup == 1 {
				firstDup = fmt.Sprintf("got[%d] ts %d %.50q", i, e.ts, e.msg)
			}
		}
		if i > 0 && e.ts < got[i-1].ts {
			if disorder++; disorder == 1 {
				firstDisorder = fmt.Sprintf("got[%d] ts %d after ts %d", i, e.ts, got[i-1].ts)
			}
		}
	}
	var missing int
	var firstMissing string
	for i, e := range want {
		if gotCount[e] == 0 {
			if missing++; missing == 1 {
				firstMissing = fmt.Sprintf("want[%d] ts %d %.50q", i, e.ts, e.msg)
			}
		}
	}
	for _, c := range []struct {
		n     int
		what  string
		first string
	}{{missing, "missing", firstMissing}, {extra, "not in GetLogEvents", firstExtra}, {dup, "duplicated", firstDup}, {disorder, "out of order", firstDisorder}} {
		if c.n > 0 {
			fmt.Fprintf(&b, "; %d %s (first: %s)", c.n, c.what, c.first)
		}
	}
	return b.String()
}

// readStream reads a whole stream from the start with GetLogEvents,
// following nextForwardToken until it comes back unchanged.
func readStream(ctx context.Context, c *cloudwatchlogs.Client, group, stream string) ([]readEvent, error) {
	var out []readEvent
	var token *string
	for page := 0; ; page++ {
		if page > 100000 {
			return out, errors.New("GetLogEvents did not reach the end after 100000 pages")
		}
		res, err := c.GetLogEvents(ctx, &cloudwatchlogs.GetLogEventsInput{
			LogGroupName: aws.String(group), LogStreamName: aws.String(stream),
			StartFromHead: aws.Bool(true), NextToken: token,
		})
		if err != nil {
			return out, fmt.Errorf("page %d: %w", page, err)
		}
		for _, e := range res.Events {
			out = append(out, readEvent{ts: aws.ToInt64(e.Timestamp), msg: aws.ToString(e.Message)})
		}
		if res.NextForwardToken == nil || token != nil && *token == *res.NextForwardToken {
			return out, nil
		}
		if len(res.Events) == 0 && token != nil {
			return out, fmt.Errorf("page %d: no events but a new nextForwardToken %q", page, *res.NextForwardToken)
		}
		token = res.NextForwardToken
	}
}

// filterGroup runs FilterLogEvents over the whole group, following
// nextToken, and returns the events by stream in the order returned.
func filterGroup(ctx context.Context, c *cloudwatchlogs.Client, group, pattern string) (map[string][]readEvent, error) {
	out := map[string][]readEvent{}
	in := &cloudwatchlogs.FilterLogEventsInput{LogGroupName: aws.String(group)}
	if pattern != "" {
		in.FilterPattern = aws.String(pattern)
	}
	for page := 0; ; page++ {
		if page > 100000 {
			return out, errors.New("FilterLogEvents did not end after 100000 pages")
		}
		res, err := c.FilterLogEvents(ctx, in)
		if err != nil {
			return out, fmt.Errorf("page %d: %w", page, err)
		}
		for _, e := range res.Events {
			s := aws.ToString(e.LogStreamName)
			out[s] = append(out[s], readEvent{ts: aws.ToInt64(e.Timestamp), msg: aws.ToString(e.Message)})
		}
		if res.NextToken == nil || *res.NextToken == "" {
			return out, nil
		}
		in.NextToken = res.NextToken
	}
}

// sdkClient is an AWS SDK client for p with the given key and no retries,
// so the caller knows exactly which requests the server acknowledged.
func sdkClient(p *serverProc, key, secret string) *cloudwatchlogs.Client {
	return cloudwatchlogs.New(cloudwatchlogs.Options{
		BaseEndpoint: aws.String(p.url()),
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider(key, secret, ""),
		Retryer:      aws.NopRetryer{},
		HTTPClient:   &http.Client{Timeout: time.Minute},
	})
}

// sdkReadClient is an AWS SDK client with the SDK's standard retries, for
// reads. They are idempotent, and without retries the SDK (smithy-go) fails
// now and then with "use of closed network connection" on a 200 answer: its
// transport closes the connection when closing the request body races the
// check for the body's end (aws/aws-sdk-go-v2#2737, which made the standard
// retryer retry it). Writes use sdkClient: a write that fails so was
// acknowledged by the server, which the ledger allows.
func sdkReadClient(p *serverProc, key, secret string) *cloudwatchlogs.Client {
	return cloudwatchlogs.New(cloudwatchlogs.Options{
		BaseEndpoint:     aws.String(p.url()),
		Region:           "us-east-1",
		Credentials:      credentials.NewStaticCredentialsProvider(key, secret, ""),
		RetryMaxAttempts: 5,
		HTTPClient:       &http.Client{Timeout: time.Minute},
	})
}

// apiErrorCode returns the AWS error code and HTTP status of err, or "" if
// the server did not answer with an error response.
func apiErrorCode(err error) (string, int) {
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		return "", 0
	}
	status := 0
	var re *smithyhttp.ResponseError
	if errors.As(err, &re) {
		status = re.HTTPStatusCode()
	}
	return ae.ErrorCode(), status
}

func createStreams(ctx context.Context, t *testing.T, c *cloudwatchlogs.Client, group string, ledgers []*ledger) {
	t.Helper()
	if _, err := c.CreateLogGroup(ctx, &cloudwatchlogs.CreateLogGroupInput{LogGroupName: aws.String(group)}); err != nil {
		t.Fatalf("CreateLogGroup: %v", err)
	}
	for _, l := range ledgers {
		if _, err := c.CreateLogStream(ctx, &cloudwatchlogs.CreateLogStreamInput{
			LogGroupName: aws.String(group), LogStreamName: aws.String(l.stream),
		}); err != nil {
			t.Fatalf("CreateLogStream %s: %v", l.stream, err)
		}
	}
}

// serverRuns keeps the output of the server's past runs (the harness
// replaces it at each start) and sums the store's counters they reported.
type serverRuns struct {
	outputs  []string
	counters map[string]float64
}

// storeCounters are the self-metrics that show what a kill interrupted.
var storeCounters = regexp.MustCompile(`(?m)^(kinsight_logstore_(?:parts_written_total\{reason="(?:flush|merge)"\}|flush_errors_total|write_errors_total\{reason="\w+"\})) (\S+)$`)

// scrape adds the running server's store counters to the totals.
func (r *serverRuns) scrape(p *serverProc) {
	resp, err := http.Get(p.url() + "/metrics")
	if err != nil {
		return
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if r.counters == nil {
		r.counters = map[string]float64{}
	}
	for _, m := range storeCounters.FindAllStringSubmatch(string(body), -1) {
		v, _ := strconv.ParseFloat(m[2], 64)
		r.counters[m[1]] += v
	}
}

// record keeps the output of the run that just ended.
func (r *serverRuns) record(p *serverProc) { r.outputs = append(r.outputs, p.stderr.String()) }

func (r *serverRuns) summary() string {
	var torn, corrupt, errs int
	for _, o := range r.outputs {
		torn += strings.Count(o, "incomplete record")
		corrupt += strings.Count(o, "corrupt part")
		errs += strings.Count(o, "level=ERROR")
	}
	names := make([]string, 0, len(r.counters))
	for n := range r.counters {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	for _, n := range names {
		fmt.Fprintf(&b, "%s=%g ", strings.TrimPrefix(n, "kinsight_logstore_"), r.counters[n])
	}
	fmt.Fprintf(&b, "(before each kill); torn WAL tails at replay: %d; corrupt parts set aside: %d; error log lines: %d", torn, corrupt, errs)
	return b.String()
}

// tail returns the output of the last n runs.
func (r *serverRuns) tail(n int) string {
	var b strings.Builder
	for i := max(0, len(r.outputs)-n); i < len(r.outputs); i++ {
		fmt.Fprintf(&b, "--- run %d ---\n%s\n", i+1, r.outputs[i])
	}
	return b.String()
}
