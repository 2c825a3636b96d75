package cloudwatch

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/kinsight/kinsight/internal/agent/buffer"
)

// Output sends log events to CloudWatch Logs or a kinsight server. It is
// safe for concurrent use; calls for the same stream should not overlap, or
// their batches interleave.
type Output struct {
	cfg    Config
	log    *slog.Logger
	client *cloudwatchlogs.Client
	m      *metrics
	// comp compresses request bodies (nil: none).
	comp *compressor
	// bodies recycles request bodies (fastbody.go).
	bodies buffer.BytePool
	// multi sends PutLogEventsBatch requests (multi.go); nil when the
	// destination is not a kinsight server.
	multi *multi
	// sleep waits d or until ctx ends (tests keep the real one).
	sleep func(ctx context.Context, d time.Duration) error
}

// SendError is returned by Send when a batch could not be delivered.
// Acked input events (a prefix of the slice given to Send) were
// acknowledged and need not be sent again.
type SendError struct {
	Acked int
	Err   error
}

func (e *SendError) Error() string {
	return fmt.Sprintf("cloudwatch output: %d events acknowledged before failure: %v", e.Acked, e.Err)
}

func (e *SendError) Unwrap() error { return e.Err }

// New builds an Output. ctx bounds loading the AWS configuration
// (credential chain set-up); logger may be nil; reg may be nil.
func New(ctx context.Context, cfg Config, logger *slog.Logger, reg prometheus.Registerer) (*Output, error) {
	if err := cfg.Validate("cloudwatch"); err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.Default()
	}
	m, err := newMetrics(reg)
	if err != nil {
		return nil, err
	}
	var opts []func(*awsconfig.LoadOptions) error
	if cfg.Region != "" {
		opts = append(opts, awsconfig.WithRegion(cfg.Region))
	}
	if cfg.AccessKeyID != "" {
		opts = append(opts, awsconfig.WithCredentialsProvider(
			credentials.NewStaticCredentialsProvider(cfg.AccessKeyID, cfg.SecretAccessKey, "")))
	}
	// Retries are ours (metrics, backoff settings, ctx); the SDK's retryer
	// and its retry quota are switched off.
	opts = append(opts, awsconfig.WithRetryer(func() aws.Retryer { return aws.NopRetryer{} }))
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("load AWS configuration: %w", err)
	}
	if awsCfg.Region == "" {
		if cfg.Endpoint == "" {
			return nil, errors.New("cloudwatch.region is not set and the AWS configuration names none (set AWS_REGION)")
		}
		awsCfg.Region = "us-east-1"
	}
	o := &Output{cfg: cfg, log: logger, m: m, sleep: sleepCtx}
	onWire := func(_, wire int) { m.requestBytes.Add(float64(wire)) }
	var bodyMW middleware.BuildMiddleware = countingMiddleware{onWire: onWire}
	if enc := cfg.encoding(); enc != "" {
		c, err := newCompressor(enc, cfg.Compression == CompressionAuto, onWire)
		if err != nil {
			return nil, err
		}
		bodyMW, o.comp = c, c
	}
	o.client = cloudwatchlogs.NewFromConfig(awsCfg, func(co *cloudwatchlogs.Options) {
		if cfg.Endpoint != "" {
			co.BaseEndpoint = aws.String(cfg.Endpoint)
		}
		co.APIOptions = append(co.APIOptions, func(s *middleware.Stack) error {
			// First in Build: before content length, payload hash and signing.
			return s.Build.Add(bodyMW, middleware.Before)
		}, func(s *middleware.Stack) error {
			if _, ok := s.Serialize.Get("OperationSerializer"); !ok {
				return nil
			}
			return s.Serialize.Insert(fastBody{}, "OperationSerializer", middleware.After)
		})
	})
	if o.SkipsRepeats() && !cfg.NoBatchRequests {
		hc := awsCfg.HTTPClient
		if hc == nil {
			hc = awshttp.NewBuildableClient()
		}
		o.multi = &multi{
			url:    strings.TrimRight(cfg.Endpoint, "/") + "/",
			region: awsCfg.Region,
			creds:  awsCfg.Credentials,
			client: hc,
			signer: v4.NewSigner(),
		}
	}
	return o, nil
}

// SkipsRepeats reports whether the destination is a kinsight server, which
// stores an event it already holds (by its position) only once.
func (o *Output) SkipsRepeats() bool { return o.cfg.Endpoint != "" }

// Client is the SDK client the output uses (for reading back in tests and
// tools).
func (o *Output) Client() *cloudwatchlogs.Client { return o.client }

// Send delivers events (in chronological order) to group/stream in as many
// compliant batches as needed. It returns nil only when every batch was
// acknowledged; otherwise a *SendError (or, for unordered input, an error
// wrapping ErrUnordered before anything is sent).
func (o *Output) Send(ctx context.Context, group, stream string, events []Event) error {
	if len(events) == 0 {
		return nil
	}
	p, err := prepare(events)
	if err != nil {
		return fmt.Errorf("cloudwatch output %s/%s: %w", group, stream, err)
	}
	if p.invalid > 0 {
		o.m.dropped.WithLabelValues(reasonInvalid).Add(float64(p.invalid))
	}
	if p.truncated > 0 {
		o.m.truncated.Add(float64(p.truncated))
		o.log.Warn("cloudwatch output: truncated oversized events", "group", group, "stream", stream, "count", p.truncated)
	}
	// Positions go only to a kinsight server, and only when every event
	// has one and each channel's ends grow in body order (the batch was
	// sorted by time; a runtime clock going back can reorder a channel).
	positions := o.SkipsRepeats()
	if positions {
		_, positions = appendPositions(nil, p.events, map[chanKey]int64{})
	}
	for done := 0; done < len(p.events); {
		n, size := nextBatch(p.events[done:])
		if err := o.sendBatch(ctx, group, stream, p.events[done:done+n], size, positions); err != nil {
			return &SendError{Acked: p.orig(done, len(events)), Err: err}
		}
		done += n
	}
	return nil
}

// sendBatch puts one compliant batch, creating the stream (and group) when
// missing and retrying retryable failures.
func (o *Output) sendBatch(ctx context.Context, group, stream string, batch []Event, size int, positions bool) error {
	start := time.Now()
	var hdr string
	if positions {
		if b, ok := appendPositions(make([]byte, 0, 16+8*len(batch)), batch, map[chanKey]int64{}); ok {
			hdr = string(b)
		}
	}
	// The events go in the context, written by fastBody; the SDK sees an
	// empty (but present, as validation wants) list.
	in := &cloudwatchlogs.PutLogEventsInput{
		LogGroupName:  aws.String(group),
		LogStreamName: aws.String(stream),
		LogEvents:     []types.InputLogEvent{},
	}
	// Only the put gets the events: CreateLogStream and the others, sent
	// with ctx, keep their own bodies.
	putCtx, fe := withFastEvents(ctx, &o.bodies, group, stream, batch, hdr)
	for attempt := 0; ; attempt++ {
		out, err := o.put(putCtx, in)
		if err == nil {
			fe.putBufs() // answered 200: the whole body was read
			o.acknowledged(group, stream, out, len(batch), size)
			o.m.batchSeconds.Observe(time.Since(start).Seconds())
			return nil
		}
		fe.bufs = nil // maybe still being written: left to the collector
		if o.comp.useFallback(err) {
			o.log.Warn("cloudwatch output: the server does not accept S2 request bodies (older kinsight server?); using zstd",
				"endpoint", o.cfg.Endpoint, "err", err)
			attempt-- // not a failure of the batch
			continue
		}
		var notFound *types.ResourceNotFoundException
		if errors.As(err, &notFound) {
			// Creating is part of this attempt; a retryable failure while
			// creating is retried like a failed put.
			if err = o.ensureStream(ctx, group, stream); err == nil {
				continue
			}
		}
		if ctx.Err() != nil {
			return fmt.Errorf("put log events: %w", errors.Join(ctx.Err(), err))
		}
		if !retryable(err) || attempt >= o.cfg.MaxRetries {
			return fmt.Errorf("put log events (attempt %d): %w", attempt+1, err)
		}
		o.m.retries.Inc()
		d := backoff(o.cfg.RetryBase, o.cfg.RetryMax, attempt)
		o.log.Debug("cloudwatch output: retrying", "group", group, "stream", stream, "attempt", attempt+1, "wait", d, "err", err)
		if serr := o.sleep(ctx, d); serr != nil {
			return fmt.Errorf("put log events: %w", errors.Join(serr, err))
		}
	}
}

// put sends one PutLogEvents within the per-attempt timeout.
func (o *Output) put(ctx context.Context, in *cloudwatchlogs.PutLogEventsInput) (*cloudwatchlogs.PutLogEventsOutput, error) {
	actx, cancel := context.WithTimeout(ctx, o.cfg.RequestTimeout)
	defer cancel()
	out, err := o.client.PutLogEvents(actx, in)
	o.count("PutLogEvents", err)
	if err != nil && ctx.Err() == nil && actx.Err() != nil {
		// The attempt timed out, not the caller: retryable.
		err = &timeoutError{err}
	}
	return out, err
}

// acknowledged accounts for a batch the destination took.
func (o *Output) acknowledged(group, stream string, out *cloudwatchlogs.PutLogEventsOutput, n, size int) {
	dups := 0
	var info *types.RejectedLogEventsInfo
	if out != nil {
		if resp, ok := awsmiddleware.GetRawResponse(out.ResultMetadata).(*smithyhttp.Response); ok {
			if d, err := strconv.Atoi(resp.Header.Get(DuplicatesHeader)); err == nil && d > 0 {
				dups = d
			}
		}
		info = out.RejectedLogEventsInfo
	}
	o.account(group, stream, n, size, dups, info)
}

// account counts n events of size bytes (the limits' counting) the
// destination took, dups of them skipped as already stored and those info
// names refused by timestamp.
func (o *Output) account(group, stream string, n, size, dups int, info *types.RejectedLogEventsInfo) {
	o.m.events.Add(float64(n))
	o.m.bytes.Add(float64(size - n*EventOverhead))
	if dups > 0 {
		o.m.duplicates.Add(float64(dups))
	}
	if info == nil {
		return
	}
	tooOld, expired, tooNew := rejectedCounts(info, n)
	o.m.dropped.WithLabelValues(reasonTooOld).Add(float64(tooOld))
	o.m.dropped.WithLabelValues(reasonExpired).Add(float64(expired))
	o.m.dropped.WithLabelValues(reasonTooNew).Add(float64(tooNew))
	o.log.Warn("cloudwatch output: destination refused events by timestamp",
		"group", group, "stream", stream, "too_old", tooOld, "expired", expired, "too_new", tooNew)
}

// rejectedCounts turns rejectedLogEventsInfo's indexes into counts: too
// old and expired are overlapping prefixes [0,end), too new a suffix.
func rejectedCounts(info *types.RejectedLogEventsInfo, n int) (tooOld, expired, tooNew int) {
	clamp := func(v int) int { return min(max(v, 0), n) }
	if info.TooOldLogEventEndIndex != nil {
		tooOld = clamp(int(*info.TooOldLogEventEndIndex))
	}
	if info.ExpiredLogEventEndIndex != nil {
		expired = max(0, clamp(int(*info.ExpiredLogEventEndIndex))-tooOld)
	}
	if info.TooNewLogEventStartIndex != nil {
		tooNew = n - max(clamp(int(*info.TooNewLogEventStartIndex)), tooOld+expired)
	}
	return tooOld, expired, tooNew
}

// ensureStream creates the stream, and its group first if that is missing.
// Already-exists answers mean another writer won the race: fine.
func (o *Output) ensureStream(ctx context.Context, group, stream string) error {
	err := o.createStream(ctx, group, stream)
	var notFound *types.ResourceNotFoundException
	if !errors.As(err, &notFound) {
		return err
	}
	if err := o.createGroup(ctx, group); err != nil {
		return err
	}
	return o.createStream(ctx, group, stream)
}

func (o *Output) createStream(ctx context.Context, group, stream string) error {
	actx, cancel := context.WithTimeout(ctx, o.cfg.RequestTimeout)
	defer cancel()
	_, err := o.client.CreateLogStream(actx, &cloudwatchlogs.CreateLogStreamInput{
		LogGroupName: aws.String(group), LogStreamName: aws.String(stream),
	})
	o.count("CreateLogStream", err)
	var exists *types.ResourceAlreadyExistsException
	switch {
	case err == nil:
		o.m.created.WithLabelValues("stream").Inc()
		o.log.Info("cloudwatch output: created log stream", "group", group, "stream", stream)
	case errors.As(err, &exists):
		return nil
	default:
		return fmt.Errorf("create log stream %s/%s: %w", group, stream, err)
	}
	return nil
}

func (o *Output) createGroup(ctx context.Context, group string) error {
	actx, cancel := context.WithTimeout(ctx, o.cfg.RequestTimeout)
	defer cancel()
	in := &cloudwatchlogs.CreateLogGroupInput{LogGroupName: aws.String(group)}
	if o.cfg.LogGroupClass != "" {
		in.LogGroupClass = types.LogGroupClass(o.cfg.LogGroupClass)
	}
	_, err := o.client.CreateLogGroup(actx, in)
	o.count("CreateLogGroup", err)
	var exists *types.ResourceAlreadyExistsException
	if errors.As(err, &exists) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("create log group %s: %w", group, err)
	}
	o.m.created.WithLabelValues("group").Inc()
	o.log.Info("cloudwatch output: created log group", "group", group)
	if o.cfg.RetentionDays > 0 {
		// Only the creator sets retention: an existing group's policy is
		// its owner's choice.
		_, err := o.client.PutRetentionPolicy(actx, &cloudwatchlogs.PutRetentionPolicyInput{
			LogGroupName: aws.String(group), RetentionInDays: aws.Int32(int32(o.cfg.RetentionDays)),
		})
		o.count("PutRetentionPolicy", err)
		if err != nil {
			// The group exists now; retention failing must not block delivery.
			o.log.Warn("cloudwatch output: could not set retention on created group", "group", group, "err", err)
		}
	}
	return nil
}

// count records one request's result.
func (o *Output) count(op string, err error) {
	var notFound *types.ResourceNotFoundException
	result := resultOK
	switch {
	case err == nil:
	case errors.As(err, &notFound):
		result = resultNotFound
	case retryable(err):
		result = resultRetry
	default:
		result = resultFatal
	}
	o.m.requests.WithLabelValues(op, result).Inc()
}

// timeoutError marks an attempt that hit RequestTimeout.
type timeoutError struct{ err error }

func (e *timeoutError) Error() string { return "request timed out: " + e.err.Error() }
func (e *timeoutError) Unwrap() error { return e.err }

// retryable reports whether err may succeed if the same request is sent
// again: throttling, 5xx, transport failures and timeouts.
func retryable(err error) bool {
	var te *timeoutError
	if errors.As(err, &te) {
		return true
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var sendErr *smithyhttp.RequestSendError
	if errors.As(err, &sendErr) {
		return true // never reached the server, or the connection broke
	}
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		switch apiErr.ErrorCode() {
		case "ServiceUnavailableException", "ThrottlingException", "Throttling", "TooManyRequestsException",
			"RequestTimeout", "RequestTimeoutException", "InternalFailure", "InternalServerError":
			return true
		}
	}
	var respErr *smithyhttp.ResponseError
	if errors.As(err, &respErr) {
		if s := respErr.HTTPStatusCode(); s >= 500 || s == 429 {
			return true
		}
	}
	var deser *smithy.DeserializationError
	if errors.As(err, &deser) {
		return true // a response cut short: the batch's fate is unknown, resend
	}
	return retry.IsErrorRetryables(retry.DefaultRetryables).IsErrorRetryable(err) == aws.TrueTernary
}

// backoff is full jitter: uniform in [0, min(max, base·2^attempt)).
func backoff(base, maxWait time.Duration, attempt int) time.Duration {
	ceiling := maxWait
	if attempt < 30 && base<<attempt < maxWait && base<<attempt > 0 {
		ceiling = base << attempt
	}
	return rand.N(ceiling) + time.Millisecond
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
