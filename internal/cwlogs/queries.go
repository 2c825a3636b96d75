package cwlogs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"
	"unsafe"

	"github.com/kinsight/kinsight/internal/config"
	"github.com/kinsight/kinsight/internal/insights"
	"github.com/kinsight/kinsight/internal/logstore"
)

// The query manager runs Logs Insights queries in the background, as AWS
// does: StartQuery returns an id at once, GetQueryResults polls. A query
// owns a goroutine until it ends (Complete, Failed, Cancelled by StopQuery,
// or Timeout); its rows stay for results_ttl after that, then go. Finished
// queries are swept on every call rather than by a timer goroutine, so the
// manager needs no lifecycle beyond Close.

// Query statuses, spelled as AWS's QueryStatus enum.
const (
	statusScheduled = "Scheduled"
	statusRunning   = "Running"
	statusComplete  = "Complete"
	statusFailed    = "Failed"
	statusCancelled = "Cancelled"
	statusTimeout   = "Timeout"
)

var errStopped = errors.New("query stopped")

// queryState is one query. Fields below mu change while it runs.
type queryState struct {
	id      string
	query   string
	groups  []string
	created time.Time
	cancel  context.CancelCauseFunc
	done    chan struct{}

	mu       sync.Mutex
	status   string
	result   insights.Result
	err      error
	finished time.Time
}

func (q *queryState) snapshot() (status string, res insights.Result, finished time.Time) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.status, q.result, q.finished
}

func ended(status string) bool {
	return status != statusScheduled && status != statusRunning
}

// queryManager owns the running and recently finished queries.
type queryManager struct {
	store     *logstore.Store
	cfg       config.Insights
	log       *slog.Logger
	now       func() time.Time
	accountID string
	// source is what queries read: the store, or a stand-in in tests.
	source insights.Store

	base   context.Context
	stop   context.CancelFunc
	wg     sync.WaitGroup
	mu     sync.Mutex
	byID   map[string]*queryState
	active int
	closed bool
}

func newQueryManager(store *logstore.Store, cfg config.Insights, log *slog.Logger, now func() time.Time, accountID string) *queryManager {
	def := config.DefaultInsights()
	if cfg.MaxConcurrentQueries <= 0 {
		cfg.MaxConcurrentQueries = def.MaxConcurrentQueries
	}
	if cfg.QueryTimeout <= 0 {
		cfg.QueryTimeout = def.QueryTimeout
	}
	if cfg.MaxMemoryBytes <= 0 {
		cfg.MaxMemoryBytes = def.MaxMemoryBytes
	}
	if cfg.ResultsTTL <= 0 {
		cfg.ResultsTTL = def.ResultsTTL
	}
	base, stop := context.WithCancel(context.Background())
	return &queryManager{
		store: store, cfg: cfg, log: log, now: now, accountID: accountID,
		source: &storeAdapter{store: store, account: accountID},
		base:   base, stop: stop, byID: map[string]*queryState{},
	}
}

// startSpec is a validated StartQuery.
type startSpec struct {
	query      string
	compiled   *insights.Query
	groups     []string
	start, end int64 // ms, end exclusive
	limit      int
}

// start registers and launches a query, or refuses it past the limit.
func (m *queryManager) start(sp startSpec) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sweepLocked()
	if m.closed {
		return "", logstore.ErrClosed
	}
	if m.active >= m.cfg.MaxConcurrentQueries {
		return "", newError(400, errLimitExceeded, "Account maximum query concurrency limit of [%d] reached.", m.cfg.MaxConcurrentQueries)
	}
	ctx, cancel := context.WithCancelCause(m.base)
	ctx, cancelT := context.WithTimeoutCause(ctx, time.Duration(m.cfg.QueryTimeout), context.DeadlineExceeded)
	q := &queryState{
		id: newRequestID(), query: sp.query, groups: sp.groups, created: m.now(),
		cancel: cancel, done: make(chan struct{}), status: statusScheduled,
	}
	m.byID[q.id] = q
	m.active++
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		defer cancelT()
		m.run(ctx, q, sp)
	}()
	return q.id, nil
}

// run executes q and records how it ended.
func (m *queryManager) run(ctx context.Context, q *queryState, sp startSpec) {
	defer close(q.done)
	q.mu.Lock()
	if q.status == statusScheduled {
		q.status = statusRunning
	}
	q.mu.Unlock()
	res, err := sp.compiled.Run(ctx, m.source, insights.Options{
		Start: sp.start, End: sp.end, Groups: sp.groups, Limit: sp.limit, MaxMemoryBytes: int64(m.cfg.MaxMemoryBytes),
	}, func(r insights.Result) {
		q.mu.Lock()
		if q.status == statusRunning {
			q.result = r
		}
		q.mu.Unlock()
	})
	status := statusComplete
	switch cause := context.Cause(ctx); {
	case err == nil:
	case errors.Is(cause, errStopped):
		status = statusCancelled
	case errors.Is(cause, context.DeadlineExceeded):
		status = statusTimeout
	default:
		status = statusFailed
		m.log.Warn("insights query failed", "query_id", q.id, "err", err)
	}
	q.mu.Lock()
	if err == nil || len(res.Rows) > 0 || res.Stats != (insights.Stats{}) {
		q.result = res
	}
	q.status, q.err, q.finished = status, err, m.now()
	q.mu.Unlock()
	m.mu.Lock()
	m.active--
	m.mu.Unlock()
}

// get returns a query by id, or ResourceNotFoundException.
func (m *queryManager) get(id string) (*queryState, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sweepLocked()
	q := m.byID[id]
	if q == nil {
		return nil, newError(400, errResourceNotFound, "Query does not exist: %s", truncate(id, 256))
	}
	return q, nil
}

// stopQuery cancels a running query; false if it had already ended.
func (m *queryManager) stopQuery(id string) (bool, error) {
	q, err := m.get(id)
	if err != nil {
		return false, err
	}
	q.mu.Lock()
	if ended(q.status) {
		q.mu.Unlock()
		return false, nil
	}
	q.mu.Unlock()
	q.cancel(errStopped)
	<-q.done
	return true, nil
}

// list returns the queries newest first.
func (m *queryManager) list() []*queryState {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sweepLocked()
	out := make([]*queryState, 0, len(m.byID))
	for _, q := range m.byID {
		out = append(out, q)
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].created.Equal(out[j].created) {
			return out[i].created.After(out[j].created)
		}
		return out[i].id < out[j].id
	})
	return out
}

// maxKeptQueries bounds the ended queries kept for GetQueryResults, so
// memory does not grow with the query rate within results_ttl: past it the
// oldest ended ones go first.
const maxKeptQueries = 1000

// sweepLocked forgets queries that ended more than results_ttl ago, and
// the oldest ended ones beyond maxKeptQueries.
func (m *queryManager) sweepLocked() {
	cut := m.now().Add(-time.Duration(m.cfg.ResultsTTL))
	var done []*queryState
	for id, q := range m.byID {
		q.mu.Lock()
		isEnded, finished := ended(q.status), q.finished
		q.mu.Unlock()
		switch {
		case isEnded && finished.Before(cut):
			delete(m.byID, id)
		case isEnded:
			done = append(done, q)
		}
	}
	if extra := len(done) - maxKeptQueries; extra > 0 {
		sort.Slice(done, func(i, j int) bool { return done[i].finishedAt().Before(done[j].finishedAt()) })
		for _, q := range done[:extra] {
			delete(m.byID, q.id)
		}
	}
}

func (q *queryState) finishedAt() time.Time {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.finished
}

// close cancels every running query and waits for them.
func (m *queryManager) close() {
	m.mu.Lock()
	m.closed = true
	m.mu.Unlock()
	m.stop()
	m.wg.Wait()
}

// storeAdapter is the log store as the executor sees it: it scans each
// group in turn and turns records into events with their @ptr.
type storeAdapter struct {
	store   *logstore.Store
	account string
}

var _ insights.Store = (*storeAdapter)(nil)

func (a *storeAdapter) Scan(ctx context.Context, req insights.ScanRequest, fn func([]insights.Event) error) (insights.ScanStats, error) {
	var total insights.ScanStats
	var evs []insights.Event
	var ptrs []byte
	q := logstore.ScanQuery{Start: req.Start, End: req.End, Streams: req.Streams, MayMatch: req.MayMatch, Newest: req.Newest}
	if req.PlanBlock != nil {
		q.PlanBlock = func(consts []logstore.Constant) (bool, bool) { return req.PlanBlock(insightsConstants(consts)) }
	}
	for _, g := range req.Groups {
		logName := a.account + ":" + g
		st, err := a.store.ScanBlocks(ctx, g, q, func(b *logstore.ScanBatch) error {
			recs := b.Records
			// The executor copies what it keeps of a batch, so the slice is
			// reused; one fresh buffer per batch holds the @ptr strings,
			// which it may keep.
			if cap(evs) < len(recs) {
				evs = make([]insights.Event, len(recs))
			}
			evs = evs[:len(recs)]
			var blk *insights.Block
			if b.Constants != nil || b.NoMessages {
				blk = &insights.Block{Constants: insightsConstants(b.Constants), NoMessage: b.NoMessages}
			}
			if req.NeedPtr {
				ptrs = make([]byte, 0, len(recs)*32)
			}
			for i, r := range recs {
				evs[i] = insights.Event{
					Timestamp: r.Timestamp, IngestionTime: r.IngestionTime, Message: r.Message,
					Group: logName, Stream: r.Stream, Block: blk,
				}
				if req.NeedPtr {
					off := len(ptrs)
					ptrs = logstore.PtrOf(r).AppendText(ptrs)
					evs[i].Ptr = unsafe.String(&ptrs[off], len(ptrs)-off)
				}
			}
			return fn(evs)
		})
		total.RecordsScanned += st.RecordsScanned
		total.BytesScanned += st.BytesScanned
		if err != nil {
			if errors.Is(err, logstore.ErrGroupNotFound) {
				continue // deleted while the query ran
			}
			return total, fmt.Errorf("scan %s: %w", g, err)
		}
	}
	return total, nil
}

// insightsConstants converts a block's constants (the same fields).
func insightsConstants(cs []logstore.Constant) []insights.Constant {
	if cs == nil {
		return nil
	}
	out := make([]insights.Constant, len(cs))
	for i, c := range cs {
		out[i] = insights.Constant(c)
	}
	return out
}
