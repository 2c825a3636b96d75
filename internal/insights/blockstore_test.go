package insights

import (
	"context"
	"fmt"
	"math/rand"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/kinsight/kinsight/internal/logstore"
)

// logStore is the executor's Store over a real logstore, adapted as
// cwlogs adapts it: each block's constants and whether its messages were
// read reach the executor through Event.Block.
type logStore struct {
	s       *logstore.Store
	noPlan  bool // do not pass PlanBlock: every block read whole
	skipped int  // blocks PlanBlock skipped
	lean    int  // blocks handed over without messages
	elided  int  // blocks handed over with elided members
}

func (a *logStore) Scan(ctx context.Context, req ScanRequest, fn func([]Event) error) (ScanStats, error) {
	var total ScanStats
	q := logstore.ScanQuery{Start: req.Start, End: req.End, Streams: req.Streams, MayMatch: req.MayMatch, Newest: req.Newest}
	if req.PlanBlock != nil && !a.noPlan {
		q.PlanBlock = func(consts []logstore.Constant) (bool, bool) {
			skip, need := req.PlanBlock(toConstants(consts))
			if skip {
				a.skipped++
			}
			return skip, need
		}
	}
	for _, g := range req.Groups {
		var evs []Event
		st, err := a.s.ScanBlocks(ctx, g, q, func(b *logstore.ScanBatch) error {
			blk := &Block{Constants: toConstants(b.Constants), NoMessage: b.NoMessages}
			if b.NoMessages {
				a.lean++
			}
			if slices.ContainsFunc(b.Constants, func(c logstore.Constant) bool { return strings.HasPrefix(c.JSON, "{") }) {
				a.elided++
			}
			evs = evs[:0]
			for _, r := range b.Records {
				ev := Event{Timestamp: r.Timestamp, IngestionTime: r.IngestionTime, Message: r.Message, Group: g, Stream: r.Stream, Block: blk}
				if req.NeedPtr {
					ev.Ptr = logstore.PtrOf(r).String()
				}
				evs = append(evs, ev)
			}
			return fn(evs)
		})
		total.RecordsScanned += st.RecordsScanned
		total.BytesScanned += st.BytesScanned
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

func toConstants(cs []logstore.Constant) []Constant {
	out := make([]Constant, len(cs))
	for i, c := range cs {
		out[i] = Constant(c)
	}
	return out
}

// loadStore writes evs into a fresh logstore with tiny blocks (so streams
// span several blocks) and flushes them into parts; it returns the store
// and the events as read back, with their real @ptr and ingestion times,
// for a memStore (which has no blocks) to give the per-event answer.
func loadStore(t testing.TB, evs []Event) (*logstore.Store, []Event) {
	t.Helper()
	var maxTs int64
	byStream := map[string][]logstore.InputEvent{}
	for _, e := range evs {
		maxTs = max(maxTs, e.Timestamp)
		byStream[e.Stream] = append(byStream[e.Stream], logstore.InputEvent{Timestamp: e.Timestamp, Message: e.Message})
	}
	now := time.UnixMilli(maxTs + 60_000)
	o := logstore.Options{Now: func() time.Time { return now }}
	o.BlockMaxBytes, o.HeadMaxBytes, o.MaxPartsPerPartition = 300, 1<<20, 4
	o.MinFreeDiskBytes, o.WALSegmentBytes = 1, 1<<20
	dir := filepath.Join(t.TempDir(), "logs")
	s, err := logstore.Open(dir, o)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := s.CreateGroup("app", logstore.Group{}); err != nil {
		t.Fatal(err)
	}
	streams := make([]string, 0, len(byStream))
	for n := range byStream {
		streams = append(streams, n)
	}
	sort.Strings(streams)
	for _, n := range streams {
		if _, err := s.CreateStream("app", n); err != nil {
			t.Fatal(err)
		}
		in := byStream[n]
		sort.SliceStable(in, func(i, j int) bool { return in[i].Timestamp < in[j].Timestamp })
		if res, err := s.Append(ctx, "app", n, in); err != nil || res.Accepted != len(in) {
			t.Fatalf("append %s: %+v %v", n, res, err)
		}
	}
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	var back []Event
	if _, err := s.Scan(ctx, "app", logstore.ScanQuery{}, func(rs []logstore.Record) error {
		for _, r := range rs {
			back = append(back, Event{Timestamp: r.Timestamp, IngestionTime: r.IngestionTime, Message: r.Message,
				Group: "app", Stream: r.Stream, Ptr: logstore.PtrOf(r).String()})
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(back) != len(evs) {
		t.Fatalf("store holds %d events, want %d", len(back), len(evs))
	}
	// Reopened, so no block read above is cached whole: the queries get
	// the blocks as stored, elided members and all.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if s, err = logstore.Open(dir, o); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, back
}

// runOn runs query on st and formats the rows (with @ptr) or the error.
func runOn(t testing.TB, st Store, query string, o Options) []string {
	q, err := Compile(query)
	if err != nil {
		return []string{"error: " + err.Error()}
	}
	res, err := q.Run(context.Background(), st, o, nil)
	if err != nil {
		return []string{"error: " + err.Error()}
	}
	return formatRows(res, true)
}

// TestBlockConstantsMatchPerEvent runs every data-driven query over a real
// store, whose blocks carry constant fields, and checks the answer is the
// per-event answer of the same events without blocks.
func TestBlockConstantsMatchPerEvent(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.test")
	for _, path := range files {
		t.Run(filepath.Base(path), func(t *testing.T) {
			var ls *logStore
			var mem *memStore
			for _, bl := range readBlocks(t, path) {
				switch strings.Fields(bl.directive)[0] {
				case "events":
					s, back := loadStore(t, parseEvents(t, bl.input))
					ls, mem = &logStore{s: s}, &memStore{events: back}
				case "query":
					o := Options{Start: 0, End: 1 << 62, Groups: []string{"app"}}
					text := strings.Join(bl.input, "\n")
					want := runOn(t, mem, text, o)
					if got := runOn(t, ls, text, o); !slices.Equal(got, want) {
						t.Errorf("%s\nblocks:\n%s\nper event:\n%s", text, strings.Join(got, "\n"), strings.Join(want, "\n"))
					}
				}
			}
		})
	}
}

// TestBlockConstantsRandom checks block-level answers against per-event
// ones on generated JSON events whose fields are constant in some blocks
// and not in others, including the shapes that must give no constant
// (duplicate keys, dotted keys that collide, arrays, escapes, bad JSON).
func TestBlockConstantsRandom(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	pods := []string{"api-1", "api-2", "db-0"}
	nss := []string{"payments", "default"}
	var evs []Event
	base := int64(1_700_000_000_000)
	for i := range 600 {
		p := rng.Intn(len(pods))
		stream := pods[p]
		ns := nss[p%2]
		if rng.Intn(40) == 0 {
			ns = nss[rng.Intn(2)] // now and then a block whose namespace varies
		}
		level := []string{"info", "warn", "error"}[rng.Intn(3)]
		msg := fmt.Sprintf(`{"log":"line %d %s","level":%q,"kubernetes":{"pod_name":%q,"namespace_name":%q,"labels":{"app":"x"}},"n":%d}`,
			i, strings.Repeat("y", rng.Intn(60)), level, stream, ns, rng.Intn(3))
		if i%7 == 0 {
			// The object last, and white space around it.
			msg = fmt.Sprintf(`{"log":"line %d","n":%d, "level" : %q , "kubernetes" : {"pod_name":%q,"namespace_name":%q,"labels":{"app":"x"}} }`,
				i, rng.Intn(3), level, stream, ns)
		}
		switch rng.Intn(30) {
		case 0:
			msg = `{"kubernetes":{"pod_name":"dup"},` + msg[1:] // duplicate key
		case 1:
			msg = `{"kubernetes.pod_name":"dotted",` + msg[1:]
		case 2:
			msg = "not json " + stream
		case 3:
			msg = strings.Replace(msg, `"pod_name"`, `"pod\u005fname"`, 1)
		case 4:
			msg = strings.Replace(msg, `"n":`, `"arr":[{"k":1}],"n":`, 1)
		case 5:
			msg = msg[:len(msg)-1] // truncated
		case 6:
			msg = strings.Replace(msg, `"level":`, `"level": `, 1)
		}
		evs = append(evs, Event{Timestamp: base + int64(i)*1000, Message: msg, Stream: stream})
	}
	s, back := loadStore(t, evs)
	queries := []string{
		`stats count(*) by kubernetes.pod_name`,
		`stats count(*) by kubernetes.namespace_name, kubernetes.pod_name`,
		`filter kubernetes.namespace_name = "payments" | stats count(*) by kubernetes.pod_name`,
		`filter kubernetes.namespace_name = "payments" and level = "error" | stats count(*) by kubernetes.pod_name`,
		`filter kubernetes.namespace_name != "payments" | stats count(*) as c by bin(1m)`,
		`filter kubernetes.labels.app = "x" | stats count(*)`,
		`filter kubernetes.pod_name in ["api-1", "dup"] | fields @timestamp, kubernetes.pod_name | limit 50`,
		`filter strlen(kubernetes.pod_name) > 4 or n = 2 | stats count(*) by n`,
		`stats count(*) by bin(5m)`,
		`filter ispresent(kubernetes.pod_name) | stats count_distinct(kubernetes.namespace_name)`,
		`fields kubernetes.pod_name as p | filter p = "db-0" | stats count(*)`,
		`filter kubernetes.namespace_name like /pay/ | stats count(*) by kubernetes.pod_name`,
		`fields @timestamp, @message | sort @timestamp desc | limit 20`,
		`filter @logStream = "db-0" | stats count(*) by kubernetes.pod_name, level`,
		// Elided members: a field under one that is no constant (an
		// object) restores; @message in stats restores; a prefilter
		// literal only the member holds; constants beside parsed fields.
		`stats count(*) by kubernetes.labels`,
		`filter ispresent(kubernetes) | stats count(*) by level`,
		`stats count(*), max(strlen(@message)) by kubernetes.pod_name`,
		`filter kubernetes.labels.app = "x" and level = "error" | stats count(*), sum(n) by kubernetes.pod_name`,
		`stats count(*), max(strlen(log)) by kubernetes.pod_name`,
		`filter @message like /payments/ | stats count(*) by n`,
		`fields kubernetes.namespace_name, log | filter n = 1 | limit 30`,
		`filter level = "warn" | dedup kubernetes.pod_name | fields kubernetes.pod_name, @message`,
	}
	o := Options{Start: 0, End: 1 << 62, Groups: []string{"app"}}
	ls := &logStore{s: s}
	for _, qt := range queries {
		want := runOn(t, &memStore{events: back}, qt, o)
		if got := runOn(t, ls, qt, o); !slices.Equal(got, want) {
			t.Errorf("%s\nblocks:\n%s\nper event:\n%s", qt, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		if got := runOn(t, &logStore{s: s, noPlan: true}, qt, o); !slices.Equal(got, want) {
			t.Errorf("%s (no PlanBlock)\nblocks:\n%s\nper event:\n%s", qt, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	}
	if ls.skipped == 0 || ls.lean == 0 || ls.elided == 0 {
		t.Errorf("constants never used: %d blocks skipped, %d read without messages, %d with elided members", ls.skipped, ls.lean, ls.elided)
	}
}
