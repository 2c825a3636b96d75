package cloudwatch

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/kinsight/kinsight/internal/jsonx"
)

// PutLogEventsBatch is a kinsight server's extension action (docs/api.md):
// several streams' PutLogEvents in one request, each part applied and
// answered on its own. At 10,000 lines/s over 200 container files the agent
// made 200 PutLogEvents a second of 50 events each, and the per-request
// cost (the SDK's middleware stack, SigV4, HTTP, the server's per-request
// work) was most of its steady CPU; one request now carries the batches
// that are ready together. It goes only to a kinsight server and is sent
// without the SDK (it is not an AWS operation): the same endpoint,
// credentials, SigV4 signature (the SDK's v4 signer) and body compression.
// An older kinsight server answers UnknownOperationException: the output
// then goes back to one PutLogEvents per batch for good.
const (
	// BatchTarget is the action's X-Amz-Target.
	BatchTarget = "Logs_20140328.PutLogEventsBatch"
	// MaxBatchParts is the most parts one request carries (the server
	// takes 256).
	MaxBatchParts = 64
	// maxMultiBytes bounds one request's parts by the batch limits'
	// counting (the JSON is about a fifth larger): well inside a kinsight
	// server's default 8 MiB request limit.
	maxMultiBytes = 3 << 20
)

// ErrNotBatched is SendMany's answer for a part it did not deliver in a
// batch request (a part larger than one PutLogEvents, or batching is off):
// deliver it with Send.
var ErrNotBatched = errors.New("cloudwatch output: part not sent in a batch request")

// Part is one stream's events for SendMany.
type Part struct {
	Group, Stream string
	Events        []Event
}

// multi is what SendMany needs besides the SDK client.
type multi struct {
	url    string
	region string
	creds  aws.CredentialsProvider // nil: requests go unsigned
	client aws.HTTPClient
	signer *v4.Signer
	// off is set once the server refused the action (an older server).
	off atomic.Bool
}

// Batches reports whether SendMany may deliver parts together: the
// destination is a kinsight server that has not refused the action.
func (o *Output) Batches() bool { return o.multi != nil && !o.multi.off.Load() }

// multiPart is a part prepared for a batch request.
type multiPart struct {
	idx       int
	group     string
	stream    string
	events    []Event
	size      int
	positions string
	p         prepared
}

// SendMany delivers several streams' events, in as few PutLogEventsBatch
// requests as the limits allow; the result has one error per part, nil
// for a part fully acknowledged. It makes a single attempt per part
// beyond the whole request's retries: a part that failed on its own (its
// stream is missing, the server refused it) gets its error, and a part
// it did not send gets ErrNotBatched; the caller delivers those with Send
// (which creates streams and retries), so one failing stream never holds
// back the others' acknowledgements. Parts must be of distinct streams,
// or the caller must not care about their order.
func (o *Output) SendMany(ctx context.Context, parts []Part) []error {
	errs := make([]error, len(parts))
	if !o.Batches() {
		for i := range errs {
			errs[i] = ErrNotBatched
		}
		return errs
	}
	var ready []*multiPart
	for i := range parts {
		pt := &parts[i]
		if len(pt.Events) == 0 {
			continue
		}
		p, err := prepare(pt.Events)
		if err != nil {
			errs[i] = fmt.Errorf("cloudwatch output %s/%s: %w", pt.Group, pt.Stream, err)
			continue
		}
		if len(p.events) == 0 {
			errs[i] = ErrNotBatched // Send accounts for the invalid ones
			continue
		}
		n, size := nextBatch(p.events)
		if n < len(p.events) {
			errs[i] = ErrNotBatched // more than one PutLogEvents: Send splits it
			continue
		}
		mp := &multiPart{idx: i, group: pt.Group, stream: pt.Stream, events: p.events, size: size, p: p}
		if b, ok := appendPositions(make([]byte, 0, 16+8*len(p.events)), p.events, map[chanKey]int64{}); ok {
			mp.positions = string(b)
		}
		ready = append(ready, mp)
	}
	for len(ready) > 0 {
		n, size := 0, 0
		for n < len(ready) && n < MaxBatchParts && (n == 0 || size+ready[n].size <= maxMultiBytes) {
			size += ready[n].size
			n++
		}
		o.sendMulti(ctx, ready[:n], errs)
		ready = ready[n:]
	}
	return errs
}

// multiResult is one part's answer (cwlogs.putBatchResult).
type multiResult struct {
	NextSequenceToken     string `json:"nextSequenceToken"`
	RejectedLogEventsInfo *struct {
		TooNewLogEventStartIndex *int32 `json:"tooNewLogEventStartIndex"`
		TooOldLogEventEndIndex   *int32 `json:"tooOldLogEventEndIndex"`
		ExpiredLogEventEndIndex  *int32 `json:"expiredLogEventEndIndex"`
	} `json:"rejectedLogEventsInfo"`
	Duplicates *int `json:"duplicates"`
	Error      *struct {
		Type    string `json:"__type"`
		Message string `json:"message"`
	} `json:"error"`
}

// sendMulti sends parts in one request, retrying what fails the request as
// a whole, and sets each part's error in errs.
func (o *Output) sendMulti(ctx context.Context, parts []*multiPart, errs []error) {
	start := time.Now()
	fail := func(err error) {
		for _, p := range parts {
			errs[p.idx] = err
		}
	}
	fe := &fastEvents{pool: &o.bodies}
	n := 16
	for _, p := range parts {
		n += 96 + len(p.group) + len(p.stream) + len(p.positions) + eventsBodyLen(p.events)
	}
	raw := appendMultiBody(fe.getBuf(n), parts)
	fe.bufs = append(fe.bufs, raw)
	// Only a 200 means the server read the whole body: after anything else
	// the transport may still be reading it, so the buffers are left to
	// the collector (raw stays referenced here for the next attempt).
	ok := false
	defer func() {
		if ok {
			fe.putBufs()
		}
	}()
	for attempt := 0; ; attempt++ {
		results, err := o.postMulti(ctx, raw, fe)
		o.count("PutLogEventsBatch", err)
		if err == nil && len(results) != len(parts) {
			err = fmt.Errorf("put log events batch: %d results for %d parts", len(results), len(parts))
			fail(err)
			return
		}
		if err == nil {
			ok = true
			o.m.batchSeconds.Observe(time.Since(start).Seconds())
			for i, p := range parts {
				errs[p.idx] = o.multiAcknowledged(p, &results[i])
			}
			return
		}
		fe.bufs = nil
		if o.comp.useFallback(err) {
			o.log.Warn("cloudwatch output: the server does not accept S2 request bodies (older kinsight server?); using zstd",
				"endpoint", o.cfg.Endpoint, "err", err)
			attempt--
			continue
		}
		var apiErr smithy.APIError
		if errors.As(err, &apiErr) && apiErr.ErrorCode() == "UnknownOperationException" {
			o.multi.off.Store(true)
			o.log.Warn("cloudwatch output: the server does not know PutLogEventsBatch (older kinsight server?); sending one PutLogEvents per batch",
				"endpoint", o.cfg.Endpoint, "err", err)
			fail(ErrNotBatched)
			return
		}
		if ctx.Err() != nil {
			fail(fmt.Errorf("put log events batch: %w", errors.Join(ctx.Err(), err)))
			return
		}
		if !retryable(err) || attempt >= o.cfg.MaxRetries {
			fail(fmt.Errorf("put log events batch (attempt %d): %w", attempt+1, err))
			return
		}
		o.m.retries.Inc()
		d := backoff(o.cfg.RetryBase, o.cfg.RetryMax, attempt)
		o.log.Debug("cloudwatch output: retrying batch request", "parts", len(parts), "attempt", attempt+1, "wait", d, "err", err)
		if serr := o.sleep(ctx, d); serr != nil {
			fail(fmt.Errorf("put log events batch: %w", errors.Join(serr, err)))
			return
		}
	}
}

// multiAcknowledged accounts for one part's answer: nil when the server
// took it, else its error in the SDK's shape (so retryable and not-found
// checks work as for PutLogEvents).
func (o *Output) multiAcknowledged(p *multiPart, r *multiResult) error {
	if r.Error != nil {
		err := &smithy.GenericAPIError{Code: r.Error.Type, Message: r.Error.Message}
		if r.Error.Type == "ResourceNotFoundException" {
			return fmt.Errorf("put log events batch part %s/%s: %w", p.group, p.stream,
				&types.ResourceNotFoundException{Message: aws.String(r.Error.Message)})
		}
		return fmt.Errorf("put log events batch part %s/%s: %w", p.group, p.stream, err)
	}
	if p.p.invalid > 0 {
		o.m.dropped.WithLabelValues(reasonInvalid).Add(float64(p.p.invalid))
	}
	if p.p.truncated > 0 {
		o.m.truncated.Add(float64(p.p.truncated))
		o.log.Warn("cloudwatch output: truncated oversized events", "group", p.group, "stream", p.stream, "count", p.p.truncated)
	}
	var info *types.RejectedLogEventsInfo
	if ri := r.RejectedLogEventsInfo; ri != nil {
		info = &types.RejectedLogEventsInfo{
			TooNewLogEventStartIndex: ri.TooNewLogEventStartIndex,
			TooOldLogEventEndIndex:   ri.TooOldLogEventEndIndex,
			ExpiredLogEventEndIndex:  ri.ExpiredLogEventEndIndex,
		}
	}
	dups := 0
	if r.Duplicates != nil {
		dups = *r.Duplicates
	}
	o.account(p.group, p.stream, len(p.events), p.size, dups, info)
	return nil
}

// appendMultiBody writes PutLogEventsBatch's JSON body.
func appendMultiBody(b []byte, parts []*multiPart) []byte {
	b = append(b, `{"parts":[`...)
	for i, p := range parts {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendPutLogEventsBody(b, &fastEvents{group: p.group, stream: p.stream, events: p.events})
		if p.positions != "" {
			b = b[:len(b)-1] // the part's closing brace
			b = append(b, `,"positions":`...)
			b = jsonx.AppendString(b, p.positions)
			b = append(b, '}')
		}
	}
	return append(b, "]}"...)
}

// postMulti sends one signed PutLogEventsBatch request and decodes the
// answer's results; a non-200 answer is an error in the SDK's shapes
// (smithy.APIError inside a smithyhttp.ResponseError).
func (o *Output) postMulti(ctx context.Context, raw []byte, fe *fastEvents) ([]multiResult, error) {
	actx, cancel := context.WithTimeout(ctx, o.cfg.RequestTimeout)
	defer cancel()
	body, enc := raw, ""
	if o.comp != nil && len(raw) >= minCompressBytes {
		enc = o.comp.encoding()
		var err error
		if body, err = o.comp.compress(enc, raw, fe); err != nil {
			return nil, err
		}
	}
	o.m.requestBytes.Add(float64(len(body)))
	req, err := http.NewRequestWithContext(actx, http.MethodPost, o.multi.url, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("put log events batch: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	req.Header.Set("X-Amz-Target", BatchTarget)
	if enc != "" {
		req.Header.Set("Content-Encoding", enc)
	}
	if o.multi.creds != nil {
		creds, err := o.multi.creds.Retrieve(actx)
		if err != nil {
			return nil, fmt.Errorf("put log events batch: credentials: %w", err)
		}
		sum := sha256.Sum256(body)
		if err := o.multi.signer.SignHTTP(actx, creds, req, hex.EncodeToString(sum[:]), "logs", o.multi.region, time.Now()); err != nil {
			return nil, fmt.Errorf("put log events batch: sign: %w", err)
		}
	}
	resp, err := o.multi.client.Do(req)
	if err != nil {
		err = &smithyhttp.RequestSendError{Err: err}
		if ctx.Err() == nil && actx.Err() != nil {
			err = &timeoutError{err}
		}
		return nil, err
	}
	defer resp.Body.Close()
	rb, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return nil, &smithy.DeserializationError{Err: fmt.Errorf("put log events batch: read answer: %w", err)}
	}
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Type    string `json:"__type"`
			Message string `json:"message"`
		}
		_ = json.Unmarshal(rb, &e)
		if i := strings.LastIndexByte(e.Type, '#'); i >= 0 {
			e.Type = e.Type[i+1:]
		}
		if e.Type == "" {
			e.Type = "HTTP" + strconv.Itoa(resp.StatusCode)
		}
		return nil, &smithyhttp.ResponseError{
			Response: &smithyhttp.Response{Response: resp},
			Err:      &smithy.GenericAPIError{Code: e.Type, Message: e.Message},
		}
	}
	var out struct {
		Results []multiResult `json:"results"`
	}
	if err := json.Unmarshal(rb, &out); err != nil {
		return nil, &smithy.DeserializationError{Err: fmt.Errorf("put log events batch: decode answer: %w", err)}
	}
	return out.Results, nil
}
