package insights

import (
	"context"
	"errors"
	"fmt"
	"math"
	"runtime"
	"sort"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/kinsight/kinsight/internal/insights/value"
	"github.com/kinsight/kinsight/internal/logstore/elide"
)

// sinkKind is how the workers hold the rows that leave the streaming head
// of the pipeline.
type sinkKind uint8

const (
	sinkCollect sinkKind = iota // keep every row (order-dependent plans)
	sinkStats                   // per-worker groups, merged at the end
	sinkTopK                    // per-worker top-k heaps of sort … | limit
	sinkPattern                 // per-worker counts of masked lines
)

// plan is a query's pipeline for one run (Options.Limit added).
type plan struct {
	head  []stage // streaming stages the workers run
	sink  sinkKind
	stats *statsStage
	pat   *patternStage
	sort  *sortStage
	k     int
	tail  []stage // run in order on the merged rows
}

func (q *Query) plan(o Options) plan {
	stages := q.stages
	if !q.hasLimit {
		stages = append(append([]stage(nil), stages...), &limitStage{n: o.Limit})
	}
	var p plan
	i := 0
	for i < len(stages) && streaming(stages[i]) {
		i++
	}
	p.head = stages[:i]
	if i < len(stages) {
		switch s := stages[i].(type) {
		case *statsStage:
			p.sink, p.stats = sinkStats, s
			i++
		case *patternStage:
			p.sink, p.pat = sinkPattern, s
			i++
		case *sortStage:
			if i+1 < len(stages) {
				if l, ok := stages[i+1].(*limitStage); ok {
					p.sink, p.sort, p.k = sinkTopK, s, l.n
					i += 2
				}
			}
		}
	}
	p.tail = stages[i:]
	return p
}

// budget is a run's memory bound, shared by its workers.
type budget struct {
	max  int64
	used atomic.Int64
}

func (b *budget) grow(n int64, what string) error {
	if n == 0 {
		return nil
	}
	if b.used.Add(n) > b.max {
		return fmt.Errorf("query needs more than %d bytes of memory: %s", b.max, what)
	}
	return nil
}

// worker runs the head of the pipeline over batches and fills its sink.
// mu guards its state against the partial-result snapshots.
type worker struct {
	mu      sync.Mutex
	r       *row
	stats   *statsState
	top     *topK
	pat     *patternState
	rows    []*row
	matched int64
	scanned int64
	bytes   int64
}

type run struct {
	q   *Query
	p   plan
	o   Options
	mem budget

	errMu  sync.Mutex
	err    error
	cancel context.CancelFunc
}

// fail records the run's first error and stops the scan.
func (x *run) fail(err error) {
	x.errMu.Lock()
	if x.err == nil {
		x.err = err
	}
	x.errMu.Unlock()
	x.cancel()
}

func (x *run) firstErr() error {
	x.errMu.Lock()
	defer x.errMu.Unlock()
	return x.err
}

func normalize(o Options) Options {
	if o.Limit <= 0 {
		o.Limit = DefaultLimit
	}
	if o.Limit > MaxLimit {
		o.Limit = MaxLimit
	}
	if o.End <= 0 {
		o.End = math.MaxInt64 // no end given: everything from Start on
	}
	if o.MaxMemoryBytes <= 0 {
		o.MaxMemoryBytes = DefaultMaxMemoryBytes
	}
	return o
}

// Run executes the query over st. partial, when not nil, is called now and
// then (every 500 ms) with the result so far while the scan runs; it is
// never called after Run returns.
func (q *Query) Run(ctx context.Context, st Store, o Options, partial func(Result)) (Result, error) {
	o = normalize(o)
	x := &run{q: q, p: q.plan(o), o: o}
	x.mem.max = o.MaxMemoryBytes
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	x.cancel = cancel

	n := runtime.GOMAXPROCS(0)
	if n > 8 {
		n = 8
	}
	ws := make([]*worker, n)
	for i := range ws {
		w := &worker{r: newRow(q)}
		switch x.p.sink {
		case sinkStats:
			w.stats = newStatsState(x.p.stats)
		case sinkTopK:
			w.top = &topK{s: x.p.sort, k: x.p.k}
		case sinkPattern:
			w.pat = newPatternState()
		}
		ws[i] = w
	}
	ch := make(chan []Event, 2*n)
	// free recycles batch copies: the store may reuse its slices, and
	// rows keep copies of events, never the batch.
	free := make(chan []Event, 3*n)
	var wg sync.WaitGroup
	for _, w := range ws {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range ch {
				if ctx.Err() != nil {
					continue // drain
				}
				if err := x.batch(w, b); err != nil {
					x.fail(err)
				}
				select {
				case free <- b[:0]:
				default:
				}
			}
		}()
	}

	var tickerDone chan struct{}
	stopTicker := func() {}
	if partial != nil {
		tickerDone = make(chan struct{})
		stop := make(chan struct{})
		go func() {
			defer close(tickerDone)
			t := time.NewTicker(500 * time.Millisecond)
			defer t.Stop()
			for {
				select {
				case <-stop:
					return
				case <-t.C:
					if res, err := x.result(ws, true, ScanStats{}); err == nil {
						partial(res)
					}
				}
			}
		}()
		stopTicker = func() { close(stop); <-tickerDone }
	}

	req := q.scanRequest(o, x.p)
	ss, scanErr := st.Scan(ctx, req, func(batch []Event) error {
		if err := x.firstErr(); err != nil {
			return err
		}
		var b []Event
		select {
		case b = <-free:
		default:
		}
		b = append(b, batch...)
		select {
		case ch <- b:
			return nil
		case <-ctx.Done():
			if err := x.firstErr(); err != nil {
				return err
			}
			return ctx.Err()
		}
	})
	close(ch)
	wg.Wait()
	stopTicker()
	if err := x.firstErr(); err != nil {
		return Result{}, err
	}
	if scanErr != nil {
		return Result{}, fmt.Errorf("scan: %w", scanErr)
	}
	if err := ctx.Err(); err != nil {
		return Result{}, err
	}
	return x.result(ws, false, ss)
}

// scanRequest is what the store may skip for this run.
func (q *Query) scanRequest(o Options, p plan) ScanRequest {
	req := ScanRequest{Groups: o.Groups, Start: o.Start, End: o.End, MayMatch: q.prune.mayMatch, Streams: q.prune.streams,
		PlanBlock: q.planBlock}
	// Rows kept in order (sort, top-k, collect) break timestamp ties by
	// @ptr; only a stats sink never looks at it unless the query does.
	req.NeedPtr = q.eventMode || q.readsPtr || p.sink != sinkStats
	if p.sink == sinkTopK && p.sort.newestFirst {
		filtered := false
		for _, s := range p.head {
			if f, ok := s.(*filterStage); ok && !f.streamOnly {
				filtered = true
			}
		}
		if !filtered {
			req.Newest = p.k
		}
	}
	return req
}

// flushEvery is how many bytes a worker may hold uncharged.
const flushEvery = 64 << 10

func (x *run) batch(w *worker, batch []Event) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	r := w.r
	var grew int64
	// restored holds this batch's messages restored from elided blocks,
	// which kept rows may point into: appends never rewrite bytes
	// already handed out, and each batch starts a new buffer.
	var restored []byte
	var full Event
	for i := range batch {
		ev := &batch[i]
		if ev.Block != r.block {
			if err := r.useBlock(ev.Block, x.p.sink != sinkStats); err != nil {
				return err
			}
		}
		w.scanned++
		if len(r.members) > 0 {
			w.bytes += int64(len(ev.Message) + r.elidedLen)
		} else {
			w.bytes += int64(len(ev.Message))
		}
		if ev.Timestamp < x.o.Start || ev.Timestamp >= x.o.End {
			continue
		}
		if r.restore && len(r.members) > 0 {
			if restored == nil {
				restored = make([]byte, 0, restoredSize(batch[i:], r.elidedLen))
			}
			n := len(restored)
			var err error
			if restored, err = elide.Restore(restored, ev.Message, r.members); err != nil {
				return fmt.Errorf("restore an elided message: %w", err)
			}
			full = *ev
			full.Message = unsafe.String(&restored[n], len(restored)-n)
			ev = &full
		}
		r.reset(ev)
		ok := true
		for _, s := range x.p.head {
			if !apply(s, r) {
				ok = false
				break
			}
		}
		if !ok {
			continue
		}
		w.matched++
		switch x.p.sink {
		case sinkStats:
			grew += w.stats.add(r)
		case sinkTopK:
			grew += w.top.offer(r)
		case sinkPattern:
			grew += w.pat.add(x.p.pat.src(r))
		default:
			c := r.clone()
			w.rows = append(w.rows, c)
			grew += c.size()
		}
		if grew > flushEvery {
			if err := x.mem.grow(grew, x.what()); err != nil {
				return err
			}
			grew = 0
		}
	}
	return x.mem.grow(grew, x.what())
}

// restoredSize is the bytes evs' messages take restored (each adds
// elidedLen), to size the buffer once.
func restoredSize(evs []Event, elidedLen int) int {
	n := 0
	for _, e := range evs {
		n += len(e.Message) + elidedLen
	}
	return n
}

func (x *run) what() string {
	switch x.p.sink {
	case sinkStats:
		return "too many stats groups; narrow the time range or group by fewer distinct values"
	case sinkTopK:
		return "the rows kept for sort … | limit"
	case sinkPattern:
		return "the lines kept by pattern"
	}
	return "the rows kept for sort, dedup or pattern; add a limit or a filter"
}

// result merges the workers' sinks, runs the tail of the pipeline and
// prints the rows. A snapshot leaves the workers' state untouched.
func (x *run) result(ws []*worker, snapshot bool, ss ScanStats) (Result, error) {
	var res Result
	var rows []*row
	var matched, scanned, bytes int64
	for _, w := range ws {
		w.mu.Lock()
	}
	for _, w := range ws {
		matched += w.matched
		scanned += w.scanned
		bytes += w.bytes
	}
	sink := x.p.sink
	if snapshot && x.mem.used.Load() > x.mem.max/2 {
		// A snapshot copies the groups; not when that could double the
		// memory past the bound.
		sink = sinkCollect
	}
	switch sink {
	case sinkStats:
		var merged *statsState
		if snapshot {
			merged = newStatsState(x.p.stats)
			for _, w := range ws {
				merged.merge(w.stats, true)
			}
		} else {
			merged = ws[0].stats
			for _, w := range ws[1:] {
				merged.merge(w.stats, false)
			}
		}
		rows = merged.rows(x.q)
	case sinkPattern:
		merged := newPatternState()
		for _, w := range ws {
			merged.merge(w.pat) // copies counts: workers' maps stay theirs
		}
		rows = merged.rows(x.q, x.p.pat)
	case sinkTopK:
		all := &topK{s: x.p.sort, k: x.p.k}
		for _, w := range ws {
			for _, r := range w.top.rows {
				if snapshot {
					r = r.clone()
				}
				all.rows = append(all.rows, r)
			}
		}
		rows = all.sorted()
		if len(rows) > x.p.k {
			rows = rows[:x.p.k]
		}
	default:
		if snapshot {
			// Every row so far may be many: a partial result of such a
			// plan carries the statistics only.
			break
		}
		for _, w := range ws {
			rows = append(rows, w.rows...)
		}
		// Batches arrive in any order: fix one before order-dependent
		// commands.
		sort.Slice(rows, func(i, j int) bool { return tieLess(rows[i], rows[j]) })
	}
	for _, w := range ws {
		w.mu.Unlock()
	}
	var err error
	for _, s := range x.p.tail {
		if rows, err = x.tail(s, rows); err != nil {
			return Result{}, err
		}
	}
	res.Rows = x.q.print(rows)
	res.Stats.RecordsMatched = float64(matched)
	res.Stats.RecordsScanned = float64(scanned)
	res.Stats.BytesScanned = float64(bytes)
	if !snapshot && (ss.RecordsScanned > 0 || ss.BytesScanned > 0) {
		// The store knows what it read, including what it read only to
		// prune; a store that counts nothing gets the executor's counts.
		res.Stats.RecordsScanned = float64(ss.RecordsScanned)
		res.Stats.BytesScanned = float64(ss.BytesScanned)
	}
	return res, nil
}

// tail runs one stage over the whole row set.
func (x *run) tail(s stage, rows []*row) ([]*row, error) {
	switch s := s.(type) {
	case *filterStage, *assignStage, *parseStage:
		out := rows[:0]
		for _, r := range rows {
			if apply(s, r) {
				out = append(out, r)
			}
		}
		return out, nil
	case *statsStage:
		st := newStatsState(s)
		for _, r := range rows {
			if err := x.mem.grow(st.add(r), x.what()); err != nil {
				return nil, err
			}
		}
		return st.rows(x.q), nil
	case *sortStage:
		for _, r := range rows {
			s.computeKeys(r)
		}
		sort.SliceStable(rows, func(i, j int) bool { return s.less(rows[i], rows[j]) })
		return rows, nil
	case *limitStage:
		if len(rows) > s.n {
			rows = rows[:s.n]
		}
		return rows, nil
	case *dedupStage:
		seen := map[string]bool{}
		out := rows[:0]
		var key []byte
		var by []value.Value
		for _, r := range rows {
			by = by[:0]
			hasNull := false
			for _, sl := range s.slots {
				v := r.get(sl)
				hasNull = hasNull || v.IsNull()
				by = append(by, v)
			}
			if hasNull {
				// AWS: null values are not duplicates; such rows stay.
				out = append(out, r)
				continue
			}
			key = groupKey(key[:0], by)
			if seen[string(key)] {
				continue
			}
			if err := x.mem.grow(int64(64+len(key)), "the keys kept by dedup"); err != nil {
				return nil, err
			}
			seen[string(key)] = true
			out = append(out, r)
		}
		return out, nil
	case *patternStage:
		return x.pattern(s, rows)
	}
	return nil, errors.New("insights: unknown stage") // a compiler bug
}

// print renders rows in the query's columns, nulls omitted; rows from
// events end with @ptr.
func (q *Query) print(rows []*row) [][]Field {
	out := make([][]Field, 0, len(rows))
	ptr := q.slotOf["@ptr"]
	hasPtr := false
	for _, c := range q.columns {
		hasPtr = hasPtr || c == "@ptr"
	}
	for _, r := range rows {
		fs := make([]Field, 0, len(q.columns)+1)
		for _, c := range q.columns {
			v := r.get(q.slotOf[c])
			if v.IsNull() {
				continue
			}
			fs = append(fs, Field{Name: c, Value: v.String()})
		}
		if r.isEvent && !hasPtr {
			if v := r.get(ptr); !v.IsNull() && v.String() != "" {
				fs = append(fs, Field{Name: "@ptr", Value: v.String()})
			}
		}
		out = append(out, fs)
	}
	return out
}

// planBlock is ScanRequest.PlanBlock: a block whose constants decide a
// head filter conjunct to false is skipped, and one whose constants hold
// every JSON field the query reads needs no message unless the query
// reads @message itself.
func (q *Query) planBlock(consts []Constant) (skip, needMessages bool) {
	find := func(name string) (string, bool) {
		for _, c := range consts {
			if c.Name == name {
				return c.JSON, true
			}
		}
		return "", false
	}
	needMessages = q.readsMessage
	for name := range q.json.wanted {
		if _, ok := find(name); !ok {
			needMessages = true
			break
		}
	}
	var r *row
	for _, bc := range q.blockConds {
		ok := true
		for _, n := range bc.names {
			if _, found := find(n); !found {
				ok = false
				break
			}
		}
		if !ok {
			continue
		}
		if r == nil {
			// A row whose only values are the block's constants: the
			// conjunct reads nothing else.
			r = newRow(q)
			r.isEvent, r.jsonLoaded = true, true
			for _, c := range consts {
				if s, ok := q.slotOf[c.Name]; ok && q.kinds[s] == slotJSON {
					r.set(s, jsonValue(c.JSON))
				}
			}
		}
		if !bc.fn(r).Truthy() {
			return true, false
		}
	}
	return false, needMessages
}
