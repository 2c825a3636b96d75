// Package auth authenticates requests signed with AWS Signature Version 4
// and decides what each access key's role may do.
//
// kinsight speaks the CloudWatch Logs JSON protocol, so the clients that
// call it — the AWS CLI and SDKs, Fluent Bit, Grafana, Prometheus's sigv4
// remote_write, our own agent and CLI — already sign every request with
// SigV4. Reusing that, instead of inventing a token scheme, means an
// operator configures a key pair as AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY
// and every tool works unchanged. The server keeps a fixed list of keys
// (config.Auth), each with one of three roles.
//
// # Verification
//
// Verifier.Verify recomputes the signature the way the SDKs compute it and
// compares it in constant time (hmac.Equal). Both forms are accepted: the
// Authorization header ("AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…,
// Signature=…") that every API call uses, and the presigned query string
// (X-Amz-Algorithm, X-Amz-Credential, X-Amz-Date, X-Amz-Expires,
// X-Amz-SignedHeaders, X-Amz-Signature) for GET endpoints that stream, where
// a browser or curl cannot add headers.
//
// The canonical request is rebuilt from what was on the wire, because that
// is what the client hashed: the path as sent (RequestURI, not the decoded
// URL), escaped once more for every service but S3 as the SDKs do; the
// query decoded and re-encoded with SigV4's rules and sorted; the signed
// headers trimmed with inner runs of spaces collapsed, Host from the
// request line; and the SHA-256 of the raw body, before any
// Content-Encoding is undone. Where real signers legitimately differ —
// botocore normalizes "//" and dot segments in the path, the Go SDK does
// not; a bodyless request may be signed with UNSIGNED-PAYLOAD or the empty
// hash — the few alternatives are all tried, so a mismatch costs at most
// four HMACs over short strings. X-Amz-Content-Sha256, when sent, must match
// the body; UNSIGNED-PAYLOAD with a body is refused unless
// Options.AllowUnsignedPayload. X-Amz-Security-Token is signed like any
// header and otherwise ignored: kinsight issues no session tokens, but
// clients running with temporary AWS credentials send one.
//
// Checks run cheapest first — form, key id, scope, clock — so a request
// that cannot succeed never costs a hash of its body. Derived signing keys
// are cached per (secret, day, region, service) in a small bounded cache,
// since the region and service are chosen by the client.
//
// # Errors
//
// Every failure is an *Error carrying the AWS error type, message and HTTP
// status that CloudWatch Logs would send (MissingAuthenticationToken…,
// UnrecognizedClient…, InvalidSignature…, IncompleteSignature…,
// AccessDeniedException), with AWS's wording — "Signature expired: … is now
// earlier than … (… - 15 min.)" among them — because operators search for
// those strings and SDKs switch on the types. The API layer writes them out
// unchanged.
//
// # Roles
//
// Allowed maps a role to the classes of calls (Action) it may make: admin
// everything; reader reads logs and metrics; agent writes logs and metrics
// and may describe log groups and streams, which log shippers do before
// writing. LogsOperationAction classes each CloudWatch Logs operation.
// This package has no HTTP middleware: the API layer reads the body, calls
// Verify, then Allowed, and writes the error.
package auth
