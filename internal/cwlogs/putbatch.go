package cwlogs

import (
	"context"
	"sync"

	"github.com/kinsight/kinsight/internal/auth"
)

// PutLogEventsBatch (X-Amz-Target Logs_20140328.PutLogEventsBatch) is a
// kinsight extension, not an AWS operation: several PutLogEvents in one
// request, so that an agent shipping hundreds of streams pays the
// per-request costs (signing, HTTP, middleware) once for many streams'
// batches instead of once per batch. docs/api.md describes it.
//
// Each part is applied exactly as a PutLogEvents of its own: the same
// validation and limits per part, the same duplicate skipping (its
// "positions" member is the X-Kinsight-Positions value for its events).
// Parts of one stream are applied in body order; parts of different
// streams run concurrently, so the store's committer writes them in one
// commit. The answer has one result per part, in order: what
// PutLogEvents would have answered, or the error it would have returned.
// Only what fails the request as a whole (body limit, JSON, auth, too many
// parts) is an HTTP error; a part's failure never touches the others.
const (
	putBatchOp = "PutLogEventsBatch"
	// maxBatchParts bounds the parts of one request (the agent sends at
	// most 64); the request body limit (Options.MaxRequestBytes) bounds
	// their bytes together.
	maxBatchParts = 256
)

type putBatchInput struct {
	Parts []putBatchPart `json:"parts"`
}

type putBatchPart struct {
	putLogEventsInput
	// Positions is the part's X-Kinsight-Positions value (nil: none).
	Positions *string `json:"positions"`
}

type putBatchOutput struct {
	Results []putBatchResult `json:"results"`
}

// putBatchResult is one part's answer: PutLogEvents' output, or its error
// in AWS's shape.
type putBatchResult struct {
	NextSequenceToken     string        `json:"nextSequenceToken,omitempty"`
	RejectedLogEventsInfo *rejectedInfo `json:"rejectedLogEventsInfo,omitempty"`
	// Duplicates is X-Kinsight-Duplicates' value for a part with positions.
	Duplicates *int       `json:"duplicates,omitempty"`
	Error      *errorBody `json:"error,omitempty"`
}

// putBatchOperation is the routing entry: a part is a PutLogEvents, so the
// request needs exactly PutLogEvents' permission.
func putBatchOperation() operation {
	o := op(putBatchOp, (*Handler).putLogEventsBatch)
	o.action, _ = auth.LogsOperationAction("PutLogEvents")
	return o
}

// decodePutBatchFast parses {"parts":[{PutLogEvents object with
// "positions"}, …]} with the PutLogEvents fast decoder; like decodePutFast
// it returns false, having decided nothing, for anything unusual, and the
// caller then decodes with encoding/json. FuzzDecodePutBatch holds it to
// encoding/json's results.
func decodePutBatchFast(body []byte, in *putBatchInput) bool {
	d := fastDec{b: body}
	if !d.byte('{') {
		return false
	}
	if d.peek() == '}' {
		d.i++
		return d.end()
	}
	seen := false
	for {
		key, ok := d.str()
		if !ok || !d.byte(':') {
			return false
		}
		switch {
		case key == "parts":
			if seen || !d.parts(in) {
				return false
			}
			seen = true
		case !d.skipKnownCaseSafe(key) || !d.skip(0):
			return false
		}
		switch d.peek() {
		case ',':
			d.i++
		case '}':
			d.i++
			return d.end()
		default:
			return false
		}
	}
}

func (d *fastDec) parts(in *putBatchInput) bool {
	if !d.byte('[') {
		return false
	}
	in.Parts = []putBatchPart{}
	if d.byte(']') {
		return true
	}
	for {
		var p putBatchPart
		if !d.putObject(&p.putLogEventsInput, &p.Positions) {
			return false
		}
		in.Parts = append(in.Parts, p)
		if d.byte(',') {
			continue
		}
		return d.byte(']')
	}
}

// putLogEventsBatch applies every part and answers each.
func (h *Handler) putLogEventsBatch(ctx context.Context, in *putBatchInput) (any, error) {
	switch n := len(in.Parts); {
	case in.Parts == nil:
		return nil, invalidParam("1 validation error detected: Value null at 'parts' failed to satisfy constraint: Member must not be null")
	case n == 0:
		return nil, invalidParam("1 validation error detected: Value '[]' at 'parts' failed to satisfy constraint: Member must have length greater than or equal to 1")
	case n > maxBatchParts:
		return nil, invalidParam("1 validation error detected: Value 'list of %d parts' at 'parts' failed to satisfy constraint: Member must have length less than or equal to %d", n, maxBatchParts)
	}
	// One goroutine per stream: its parts in body order, the streams side
	// by side so that their appends meet in the store's committer.
	type key struct{ group, stream string }
	order := map[key][]int{}
	var keys []key
	for i := range in.Parts {
		k := key{in.Parts[i].LogGroupName, in.Parts[i].LogStreamName}
		if _, ok := order[k]; !ok {
			keys = append(keys, k)
		}
		order[k] = append(order[k], i)
	}
	results := make([]putBatchResult, len(in.Parts))
	run := func(idx []int) {
		for _, i := range idx {
			results[i] = h.putBatchPart(ctx, &in.Parts[i])
		}
	}
	if len(keys) == 1 {
		run(order[keys[0]])
		return putBatchOutput{Results: results}, nil
	}
	var wg sync.WaitGroup
	for _, k := range keys {
		idx := order[k]
		wg.Go(func() { run(idx) })
	}
	wg.Wait()
	return putBatchOutput{Results: results}, nil
}

// putBatchPart applies one part as a PutLogEvents.
func (h *Handler) putBatchPart(ctx context.Context, p *putBatchPart) putBatchResult {
	var hv []string
	if p.Positions != nil {
		hv = []string{*p.Positions}
	}
	out, dups, err := h.putPart(ctx, &p.putLogEventsInput, hv)
	if err != nil {
		ae, internal := toAPIError(err)
		if internal {
			h.log.Error("cwlogs: request failed", "operation", putBatchOp, "group", p.LogGroupName, "stream", p.LogStreamName, "err", err)
		}
		h.m.requests.WithLabelValues(putBatchOp+".part", ae.Type).Inc()
		return putBatchResult{Error: &errorBody{Type: ae.Type, Message: ae.Message}}
	}
	h.m.requests.WithLabelValues(putBatchOp+".part", "OK").Inc()
	r := putBatchResult{NextSequenceToken: out.NextSequenceToken, RejectedLogEventsInfo: out.RejectedLogEventsInfo}
	if dups >= 0 {
		r.Duplicates = &dups
	}
	return r
}
