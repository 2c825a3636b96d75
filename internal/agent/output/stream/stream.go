// Package stream is the agent's debugging output: every event written as
// one JSON line, {"group":…,"stream":…,"timestamp":…,"message":…}, to
// standard output or to a file.
//
// A Send returns only after its lines were written (and, for a file,
// fsynced), so the pipeline's checkpoints keep the same meaning as with the
// CloudWatch output: a line is acknowledged once it is durably somewhere.
package stream

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sync"

	"github.com/kinsight/kinsight/internal/agent/output/cloudwatch"
)

// Output writes events as JSON lines to one writer.
type Output struct {
	mu   sync.Mutex
	w    io.Writer
	file *os.File // set for file outputs: synced after every Send
	buf  []byte
}

// NewWriter writes to w (standard output, typically).
func NewWriter(w io.Writer) *Output { return &Output{w: w} }

// OpenFile appends to the file at path, creating it.
func OpenFile(path string) (*Output, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("file output: %w", err)
	}
	return &Output{w: f, file: f}, nil
}

type line struct {
	Group     string `json:"group"`
	Stream    string `json:"stream"`
	Timestamp int64  `json:"timestamp"`
	Message   string `json:"message"`
}

// Send writes events as one JSON line each.
func (o *Output) Send(ctx context.Context, group, stream string, events []cloudwatch.Event) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	o.buf = o.buf[:0]
	for _, e := range events {
		b, err := json.Marshal(line{Group: group, Stream: stream, Timestamp: e.Timestamp, Message: e.Text()})
		if err != nil { // strings and ints always marshal
			return fmt.Errorf("stream output: %w", err)
		}
		o.buf = append(append(o.buf, b...), '\n')
	}
	if _, err := o.w.Write(o.buf); err != nil {
		return fmt.Errorf("stream output: %w", err)
	}
	if o.file != nil {
		if err := o.file.Sync(); err != nil {
			return fmt.Errorf("file output: %w", err)
		}
	}
	return nil
}

// Close closes a file output.
func (o *Output) Close() error {
	if o.file != nil {
		return o.file.Close()
	}
	return nil
}
