package insights

import (
	"context"
)

// Event is one log event as the store hands it over.
type Event struct {
	Timestamp, IngestionTime int64 // ms
	Message                  string
	// Group is @log. In AWS it is "<account>:<group>"; the executor uses
	// Group as given, so the caller adds the account prefix if it wants.
	Group, Stream string
	Ptr           string // @ptr, opaque, given by the store
	// Block, when not nil, is what the store knows of the block the event
	// came from; the events of one batch share it.
	Block *Block
}

// Constant is a field of JSON messages with the same value in every event
// of a store block: its flattened name (kubernetes.pod_name) and the
// value's JSON text, exactly as it appears in each message.
//
// A constant whose JSON is an object is an elided member (Elided): the
// store cut that top-level member's value out of the block's messages,
// each of which holds {} there instead (package
// internal/logstore/elide). Every other path reads the same in the
// stored message; elide.Restore gives the original text. A block with
// elided members also promises that no flattened path occurs twice in any
// of its messages.
type Constant struct{ Name, JSON string }

// Elided reports whether c is an elided member.
func (c Constant) Elided() bool { return len(c.JSON) > 0 && c.JSON[0] == '{' }

// Block describes a batch's store block.
type Block struct {
	// Constants are fields that hold the same value in every event of the
	// block (the store guarantees parsing any of its messages gives it),
	// elided members last.
	Constants []Constant
	// NoMessage is set when the store skipped the messages because
	// ScanRequest.PlanBlock said they were not needed: Message is "".
	NoMessage bool
}

// ScanRequest is what the executor asks of the store; the store may prune
// with it but never has to.
type ScanRequest struct {
	Groups     []string
	Start, End int64 // ms, Start <= ts < End
	// MayMatch is true when a block might hold a matching event; the store
	// calls it with the block's substring oracle (bloom over trigrams:
	// mayContain(s) is false only if no message has s; "maybe" for len<3).
	// nil when every block may match: the store then need not read the
	// blocks' filters at all.
	MayMatch func(mayContain func(substr string) bool) bool
	// Streams, when set, limits the scan (e.g. filter @logStream = "x").
	Streams []string
	// Newest, when > 0, says only the newest N events (in time order) can
	// matter (sort @timestamp desc | limit N with no filter/stats before):
	// the store may stop early reading backwards.
	Newest int
	// PlanBlock, when not nil, may be asked by the store before it reads a
	// block, with the block's constant fields: skip says no event of the
	// block can match (the store may drop it unread), needMessages false
	// says the query can be answered without the block's messages (the
	// store may then hand over events with Block.NoMessage set). Safe for
	// concurrent use.
	PlanBlock func(consts []Constant) (skip, needMessages bool)
	// NeedPtr is false when no row will carry @ptr: the store may leave
	// Event.Ptr empty.
	NeedPtr bool
}

// Store is the log store as the executor sees it.
type Store interface {
	// Scan calls fn with batches of events (any order across batches
	// unless Newest is set); fn's error stops it and Scan returns it.
	// The executor copies what it keeps, so the store may reuse a batch's
	// slice once fn returns (not the strings in it).
	Scan(ctx context.Context, req ScanRequest, fn func(batch []Event) error) (ScanStats, error)
}

// ScanStats is what the store read.
type ScanStats struct{ RecordsScanned, BytesScanned int64 }

// Options are one run's parameters.
type Options struct {
	Start, End int64 // ms, Start <= ts < End; End 0 means no end
	Groups     []string
	// Limit is StartQuery's limit, applied when the query has no limit
	// command. Default DefaultLimit, at most MaxLimit.
	Limit int
	// MaxMemoryBytes bounds what the run holds: stats groups, sort and
	// top-k buffers, dedup sets and pattern clusters. Default
	// DefaultMaxMemoryBytes. Exceeding it fails the query with an error
	// that says "query needs more than N bytes of memory".
	MaxMemoryBytes int64
}

// Defaults of Options.
const (
	DefaultLimit          = 1000
	MaxLimit              = 10000
	DefaultMaxMemoryBytes = 256 << 20
)

// Result is a query's answer.
type Result struct {
	// Rows hold each row's fields in column order, nulls omitted (as AWS
	// does).
	Rows  [][]Field
	Stats Stats
}

// Field is one cell: Value as Insights prints it (value.Value.String()).
type Field struct{ Name, Value string }

// Stats are GetQueryResults' statistics.
type Stats struct{ RecordsMatched, RecordsScanned, BytesScanned float64 }
