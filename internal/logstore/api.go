package logstore

import (
	"errors"
	"time"
)

// Errors returned by the Store. The API layer maps them to AWS error types.
var (
	// ErrGroupExists: CreateGroup of a name already in use.
	ErrGroupExists = errors.New("log group already exists")
	// ErrStreamExists: CreateStream of a name already in use in its group.
	ErrStreamExists = errors.New("log stream already exists")
	// ErrGroupNotFound: the named log group does not exist.
	ErrGroupNotFound = errors.New("log group does not exist")
	// ErrStreamNotFound: the named log stream does not exist.
	ErrStreamNotFound = errors.New("log stream does not exist")
	// ErrUnavailable wraps failures to make a write durable (disk full, I/O
	// error). Nothing of the failed write was acknowledged; retrying later is
	// safe.
	ErrUnavailable = errors.New("log store unavailable")
	// ErrClosed: the store is closed.
	ErrClosed = errors.New("log store closed")
)

// Group is a log group as the catalog knows it.
type Group struct {
	ID      uint64
	Name    string
	Created int64 // ms since the epoch
	// RetentionDays is 0 for "never expire".
	RetentionDays int32
	Class         string // STANDARD or INFREQUENT_ACCESS
	KMSKeyID      string
	Tags          map[string]string
	// StoredBytes is the raw message bytes stored (not the compressed size).
	StoredBytes int64
}

// Stream is a log stream with its event statistics.
type Stream struct {
	ID      uint64
	GroupID uint64
	Name    string
	Created int64 // ms
	// FirstEvent, LastEvent and LastIngestion are 0 until an event arrives.
	FirstEvent    int64
	LastEvent     int64
	LastIngestion int64
	StoredBytes   int64
}

// InputEvent is one event of an Append.
type InputEvent struct {
	Timestamp int64 // ms since the epoch
	Message   string
}

// AppendResult tells which events of an Append were rejected, as
// PutLogEvents' rejectedLogEventsInfo does. Indexes are -1 when unset.
type AppendResult struct {
	// TooOldEnd is the index after the last event older than the 14-day limit.
	TooOldEnd int
	// ExpiredEnd is the index after the last event older than the group's
	// retention.
	ExpiredEnd int
	// TooNewStart is the index of the first event more than 2 hours ahead.
	TooNewStart int
	// Accepted is the number of events stored.
	Accepted int
	// Duplicates is the number of events skipped by AppendPositioned because
	// their position was at or below the mark; the client counts them as
	// accepted (they were stored before). DuplicateBytes are their message
	// bytes.
	Duplicates     int
	DuplicateBytes int
}

// Record is one stored event as read back.
type Record struct {
	StreamID      uint64
	Stream        string // stream name, filled by reads
	Timestamp     int64  // ms
	IngestionTime int64  // ms
	// Seq orders events that share a timestamp, and is unique in the store;
	// (Timestamp, Seq) is a record's position.
	Seq     uint64
	Message string
}

// Pos is a position in time order: (Timestamp, Seq). The zero Pos is before
// everything.
type Pos struct {
	Timestamp int64
	Seq       uint64
}

// Less orders positions.
func (p Pos) Less(q Pos) bool {
	return p.Timestamp < q.Timestamp || p.Timestamp == q.Timestamp && p.Seq < q.Seq
}

// PosOf is the position of r.
func PosOf(r Record) Pos { return Pos{r.Timestamp, r.Seq} }

// Filter selects messages. Before a block is read, MayMatch is asked with
// the block's substring oracle: mayContain(s) is false only when no message
// of the block contains s (the oracle is a bloom filter over the trigrams of
// the block's tokens, so it answers for substrings of at least three token
// bytes and says "maybe" for anything shorter). MayMatch must return true
// whenever some message of the block could match; returning true is always
// safe, it only costs the read.
type Filter interface {
	Match(message string) bool
	MayMatch(mayContain func(substr string) bool) bool
}

// ListGroupsQuery pages through groups in name order.
type ListGroupsQuery struct {
	Prefix string
	// Contains keeps groups whose name contains it, case-sensitively, as
	// AWS's logGroupNamePattern does.
	Contains string
	// After is the last name of the previous page.
	After string
	Limit int
}

// ListStreamsQuery pages through the streams of a group.
type ListStreamsQuery struct {
	Prefix string
	// ByLastEvent orders by LastEvent instead of by name.
	ByLastEvent bool
	Descending  bool
	// After is the last stream of the previous page (its Name, and LastEvent
	// when ByLastEvent).
	After *Stream
	Limit int
}

// ReadQuery reads one stream in time order, for GetLogEvents.
type ReadQuery struct {
	// Start and End bound timestamps: Start <= ts < End. End 0 means no bound.
	Start, End int64
	// From is an exclusive position to continue from; nil means from the
	// start (forward) or the end (backward) of the range.
	From *Pos
	// Backward reads towards older events; records are still returned
	// oldest first.
	Backward bool
	Limit    int
	// MaxBytes stops the page once the messages plus 26 bytes each would
	// exceed it.
	MaxBytes int
}

// FilterQuery reads events of many streams of one group interleaved in
// (Timestamp, Seq) order, for FilterLogEvents and tail.
type FilterQuery struct {
	// Streams names the streams to read; empty means all (or StreamPrefix).
	Streams      []string
	StreamPrefix string
	Start, End   int64 // End 0 means no bound
	Filter       Filter
	// After is an exclusive position to continue from.
	After    *Pos
	Limit    int
	MaxBytes int
	// Deadline stops a scan that takes too long, even one that found
	// nothing yet: the result then has More set and Next at how far the scan
	// got, so the client continues with a token, as CloudWatch does.
	Deadline time.Time
}

// FilterResult is one page of a FilterQuery.
type FilterResult struct {
	Records []Record
	// More is true when the scan stopped before the end of the range; Next
	// is where to continue.
	More bool
	Next Pos
	// SearchedStreams are the names of the streams considered.
	SearchedStreams []string
	// Scanned counts records and message bytes read to produce the page.
	ScannedRecords int64
	ScannedBytes   int64
}
