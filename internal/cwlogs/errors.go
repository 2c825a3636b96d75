package cwlogs

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/kinsight/kinsight/internal/auth"
	"github.com/kinsight/kinsight/internal/logstore"
)

// AWS error types (the "__type" of a JSON 1.1 error body) that this package
// returns. Clients switch on these names, so they are spelled exactly as in
// the botocore model.
const (
	errSerialization     = "SerializationException"
	errUnknownOperation  = "UnknownOperationException"
	errInvalidParameter  = "InvalidParameterException"
	errResourceNotFound  = "ResourceNotFoundException"
	errResourceExists    = "ResourceAlreadyExistsException"
	errServiceUnavail    = "ServiceUnavailableException"
	errTooManyTags       = "TooManyTagsException"
	errThrottling        = "ThrottlingException"
	errMalformedQuery    = "MalformedQueryException"
	errLimitExceeded     = "LimitExceededException"
	msgGroupNotFound     = "The specified log group does not exist."
	msgStreamNotFound    = "The specified log stream does not exist."
	msgGroupExists       = "The specified log group already exists"
	msgStreamExists      = "The specified log stream already exists"
	msgServiceUnavail    = "The service cannot complete the request."
	msgInvalidNextToken  = "The specified nextToken is invalid."
	msgInvalidFilter     = "Invalid filter pattern"
	msgUnorderedEvents   = "Log events in a single PutLogEvents request must be in chronological order."
	msgBatchSpanTooLarge = "The batch of log events in a single PutLogEvents request cannot span more than 24 hours."
)

// apiError is the one error type the handler writes: an AWS error type, a
// message and the HTTP status AWS uses for it. Every other error is mapped
// to one by toAPIError, in one place.
type apiError struct {
	Type    string
	Message string
	Status  int
	// compile is MalformedQueryException's queryCompileError.
	compile *queryCompileError
}

func (e *apiError) Error() string { return e.Type + ": " + e.Message }

func newError(status int, typ, format string, a ...any) *apiError {
	return &apiError{Type: typ, Message: fmt.Sprintf(format, a...), Status: status}
}

// invalidParam is InvalidParameterException, the error CloudWatch Logs uses
// for every bad input it can name, validation failures included.
func invalidParam(format string, a ...any) *apiError {
	return newError(http.StatusBadRequest, errInvalidParameter, format, a...)
}

func serializationError(format string, a ...any) *apiError {
	return newError(http.StatusBadRequest, errSerialization, format, a...)
}

// toAPIError maps any error from decoding, auth or the store to the AWS
// shape. Unknown errors become ServiceUnavailableException (a 500 "fault"),
// which SDKs retry; internal reports whether the caller should log it.
func toAPIError(err error) (e *apiError, internal bool) {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae, false
	}
	var authErr *auth.Error
	if errors.As(err, &authErr) {
		status := authErr.HTTPStatus
		if status == 0 {
			status = http.StatusBadRequest
		}
		return &apiError{Type: authErr.Code, Message: authErr.Message, Status: status}, false
	}
	switch {
	case errors.Is(err, logstore.ErrGroupNotFound):
		return newError(http.StatusBadRequest, errResourceNotFound, msgGroupNotFound), false
	case errors.Is(err, logstore.ErrStreamNotFound):
		return newError(http.StatusBadRequest, errResourceNotFound, msgStreamNotFound), false
	case errors.Is(err, logstore.ErrGroupExists):
		return newError(http.StatusBadRequest, errResourceExists, msgGroupExists), false
	case errors.Is(err, logstore.ErrStreamExists):
		return newError(http.StatusBadRequest, errResourceExists, msgStreamExists), false
	case errors.Is(err, logstore.ErrUnavailable), errors.Is(err, logstore.ErrClosed):
		return newError(http.StatusInternalServerError, errServiceUnavail, msgServiceUnavail), true
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		// The client went away or the server is stopping; nobody reads this.
		return newError(http.StatusServiceUnavailable, errServiceUnavail, msgServiceUnavail), false
	}
	return newError(http.StatusInternalServerError, errServiceUnavail, msgServiceUnavail), true
}

// validationErrors collects constraint violations the way AWS's request
// validation reports them: "1 validation error detected: Value 'x' at
// 'logGroupName' failed to satisfy constraint: Member must …".
type validationErrors struct {
	msgs []string
	// hidden counts violations left out of msgs to bound the message.
	hidden int
}

// add records a violation of field with the value shown (truncated so a
// megabyte message is never echoed back).
func (v *validationErrors) add(field string, value any, constraint string) {
	var shown string
	switch x := value.(type) {
	case nil:
		v.msgs = append(v.msgs, fmt.Sprintf("Value null at '%s' failed to satisfy constraint: %s", field, constraint))
		return
	case string:
		shown = x
	default:
		shown = fmt.Sprint(x)
	}
	if r := []rune(shown); len(r) > 64 {
		shown = string(r[:64]) + "..."
	}
	v.msgs = append(v.msgs, fmt.Sprintf("Value '%s' at '%s' failed to satisfy constraint: %s", shown, field, constraint))
}

// err is nil without violations, else an InvalidParameterException.
func (v *validationErrors) err() error {
	n := len(v.msgs) + v.hidden
	switch {
	case n == 0:
		return nil
	case n == 1:
		return invalidParam("1 validation error detected: %s", v.msgs[0])
	case v.hidden > 0:
		return invalidParam("%d validation errors detected: %s; and %d more", n, strings.Join(v.msgs, "; "), v.hidden)
	}
	return invalidParam("%d validation errors detected: %s", n, strings.Join(v.msgs, "; "))
}
