package auth

import (
	"fmt"
	"net/http"
)

// AWS error types ("__type" in a JSON 1.1 error body) that Verify and
// AccessDenied return. They are spelled as the Coral-based JSON services
// (CloudWatch Logs, DynamoDB, Kinesis) spell them, with the "Exception"
// suffix, because the SDKs map the __type to an exception class by name.
const (
	// CodeMissingAuthenticationToken: the request carries no SigV4
	// authentication at all (no Authorization header, no X-Amz-Algorithm /
	// X-Amz-Credential / X-Amz-Signature query parameter).
	CodeMissingAuthenticationToken = "MissingAuthenticationTokenException"
	// CodeUnrecognizedClient: the access key id in the credential scope is
	// not one the server knows.
	CodeUnrecognizedClient = "UnrecognizedClientException"
	// CodeInvalidSignature: the request is well-formed but the signature,
	// its time window, its scope or the payload hash does not check out.
	CodeInvalidSignature = "InvalidSignatureException"
	// CodeIncompleteSignature: the Authorization header or the presigned
	// query parameters are malformed or missing parts.
	CodeIncompleteSignature = "IncompleteSignatureException"
	// CodeAccessDenied: the signature is good but the key's role does not
	// allow the action.
	CodeAccessDenied = "AccessDeniedException"
)

// Messages AWS returns verbatim for these errors. Clients and people search
// for them, so they are kept word for word.
const (
	// msgMissingToken is the text of AWS's CommonErrors page and of API
	// Gateway; DynamoDB's Coral front end words it "Request is missing
	// Authentication Token". Both mean the same and no client parses it.
	msgMissingToken = "Missing Authentication Token"
	// msgUnrecognizedClient has the trailing period CloudWatch Logs sends.
	msgUnrecognizedClient = "The security token included in the request is invalid."
	msgSignatureMismatch  = "The request signature we calculated does not match the signature you provided. " +
		"Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
)

// Error is an authentication or authorization failure in the shape the API
// layer writes back: Code is the AWS error type (__type), Message the text,
// HTTPStatus the status AWS uses for it.
//
// Status codes follow what the JSON-protocol services return, not the
// generic CommonErrors table: every signature problem is 400 (the SDKs and
// the CLI treat it as a non-retryable client error), and only a request with
// no authentication at all is 403, as the CommonErrors page lists
// MissingAuthenticationToken. AccessDeniedException is 400 in CloudWatch Logs
// (see "Status Code: 400; Error Code: AccessDeniedException" in SDK logs).
type Error struct {
	Code       string
	Message    string
	HTTPStatus int
	// Detail, for InvalidSignatureException from a signature mismatch, holds
	// the canonical request and string to sign the server computed, in the
	// words AWS appends to its message ("The Canonical String for this request
	// should have been …"). It names nothing secret — only what the client
	// sent — so the API layer may log it or append it to Message as AWS does.
	Detail string
}

// Error returns "Code: Message".
func (e *Error) Error() string { return e.Code + ": " + e.Message }

func newErr(status int, code, format string, a ...any) *Error {
	msg := format
	if len(a) > 0 {
		msg = fmt.Sprintf(format, a...)
	}
	return &Error{Code: code, Message: msg, HTTPStatus: status}
}

func errMissing() *Error {
	return newErr(http.StatusForbidden, CodeMissingAuthenticationToken, msgMissingToken)
}

func errUnrecognized() *Error {
	return newErr(http.StatusBadRequest, CodeUnrecognizedClient, msgUnrecognizedClient)
}

func errIncomplete(format string, a ...any) *Error {
	return newErr(http.StatusBadRequest, CodeIncompleteSignature, format, a...)
}

func errInvalid(format string, a ...any) *Error {
	return newErr(http.StatusBadRequest, CodeInvalidSignature, format, a...)
}

// AccessDenied is the error for a verified identity whose role does not
// allow permission (an IAM-style action name such as "logs:DeleteLogGroup")
// on resource (an ARN, or "" when the operation has none). The text follows
// AWS's "User: … is not authorized to perform: … on resource: … because no
// identity-based policy allows the … action"; the access key id stands in
// for the IAM user name, which is what an operator needs to find the key.
func AccessDenied(accountID string, id Identity, permission, resource string) *Error {
	user := fmt.Sprintf("arn:aws:iam::%s:user/%s", accountID, id.AccessKeyID)
	on := ""
	if resource != "" {
		on = " on resource: " + resource
	}
	return newErr(http.StatusBadRequest, CodeAccessDenied,
		"User: %s is not authorized to perform: %s%s because no identity-based policy allows the %s action",
		user, permission, on, permission)
}
