package auth

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/kinsight/kinsight/internal/config"
)

const (
	algorithm       = "AWS4-HMAC-SHA256"
	scopeTerminator = "aws4_request"
	amzDateLayout   = "20060102T150405Z"
	unsignedPayload = "UNSIGNED-PAYLOAD"

	paramAlgorithm     = "X-Amz-Algorithm"
	paramCredential    = "X-Amz-Credential"
	paramDate          = "X-Amz-Date"
	paramExpires       = "X-Amz-Expires"
	paramSignedHeaders = "X-Amz-SignedHeaders"
	paramSignature     = "X-Amz-Signature"

	// maxPresignExpires is SigV4's limit on X-Amz-Expires: one week.
	maxPresignExpires = 7 * 24 * time.Hour
	// maxSignedHeaders bounds the work an unauthenticated request can ask
	// for. SDKs sign 3–8 headers and signing proxies in front of browsers
	// about a dozen; AWS documents no limit, so this is generous.
	maxSignedHeaders = 128
	// maxEcho bounds any client text copied into an error message.
	maxEcho = 64
)

// Identity is who a verified request comes from.
type Identity struct {
	// AccessKeyID is the key that signed the request.
	AccessKeyID string
	// Role is the key's role: config.RoleAgent, RoleReader or RoleAdmin.
	Role string
	// Region and Service are the credential scope the client signed for
	// (e.g. "us-east-1", "logs"); informational, for logs and ARNs.
	Region  string
	Service string
}

// Options tunes a Verifier. The zero value means the defaults.
type Options struct {
	// Now is the clock requests are checked against. Default: time.Now.
	Now func() time.Time
	// MaxSkew is how far a request's X-Amz-Date may be from Now, either
	// way, as AWS allows. Default: 15m.
	MaxSkew time.Duration
	// Region, when set, rejects credentials scoped to another region. Default:
	// "" (any): clients point their SDK at kinsight with whatever region they
	// have configured, and the region adds nothing secret to the signature.
	Region string
	// Services, when set, lists the credential-scope services accepted
	// (e.g. "logs", "monitoring", "aps"). Default: any.
	Services []string
	// AllowUnsignedPayload accepts "X-Amz-Content-Sha256: UNSIGNED-PAYLOAD"
	// on a request with a body. Default: false — the body of a write must be
	// covered by the signature, since kinsight may be reached over plain
	// HTTP; bodyless requests (GETs, presigned URLs) may always use it.
	AllowUnsignedPayload bool
	// KeyCacheSize bounds the derived signing keys kept. Default: 64.
	KeyCacheSize int
}

// DefaultOptions returns the defaults spelled out.
func DefaultOptions() Options {
	return Options{Now: time.Now, MaxSkew: 15 * time.Minute, KeyCacheSize: 64}
}

// Verifier checks SigV4 signatures against a fixed set of access keys. It is
// safe for concurrent use.
type Verifier struct {
	keys          map[string]config.AccessKey
	now           func() time.Time
	maxSkew       time.Duration
	region        string
	services      []string
	allowUnsigned bool
	cache         *keyCache
}

// NewVerifier returns a Verifier for keys, whose secrets must already be
// resolved (config.Auth.ResolveSecrets). A key with an empty ID or secret
// is left out — it could never be verified honestly — and a repeated ID
// keeps its first entry, as config validation rejects both anyway.
func NewVerifier(keys []config.AccessKey, opts Options) *Verifier {
	d := DefaultOptions()
	if opts.Now == nil {
		opts.Now = d.Now
	}
	if opts.MaxSkew <= 0 {
		opts.MaxSkew = d.MaxSkew
	}
	if opts.KeyCacheSize <= 0 {
		opts.KeyCacheSize = d.KeyCacheSize
	}
	m := make(map[string]config.AccessKey, len(keys))
	for _, k := range keys {
		if k.ID == "" || k.Secret == "" {
			continue
		}
		if _, dup := m[k.ID]; !dup {
			m[k.ID] = k
		}
	}
	return &Verifier{
		keys:          m,
		now:           opts.Now,
		maxSkew:       opts.MaxSkew,
		region:        opts.Region,
		services:      append([]string(nil), opts.Services...),
		allowUnsigned: opts.AllowUnsignedPayload,
		cache:         newKeyCache(opts.KeyCacheSize),
	}
}

// authParams is what the Authorization header or the presigned query says.
type authParams struct {
	presigned bool
	keyID     string
	date      string // scope date, YYYYMMDD
	region    string
	service   string
	// signedHeaders are the lower-cased names, in the client's order, and
	// signedHeadersLine their ';'-joined form for the canonical request.
	signedHeaders     []string
	signedHeadersLine string
	signature         []byte
	amzDate           string // request time, ISO 8601 basic, as signed
	t                 time.Time
	expires           time.Duration // presigned X-Amz-Expires; 0 if absent
}

func (a *authParams) scope() string {
	return a.date + "/" + a.region + "/" + a.service + "/" + scopeTerminator
}

// Verify authenticates r. body is the raw request body as received — before
// any Content-Encoding is undone — because SigV4 signs the bytes on the
// wire; the caller reads it (bounded) and passes it here. On failure the
// error is always an *Error.
//
// Checks run cheapest first: the request's form, the key, the scope and
// the clock, and only then the body hash and the HMAC, so a request that
// cannot succeed costs no hashing of its body.
func (v *Verifier) Verify(r *http.Request, body []byte) (Identity, error) {
	query, _ := url.ParseQuery(r.URL.RawQuery) // see canonicalQuery on the error
	a, aerr := parseAuth(r, query)
	if aerr != nil {
		return Identity{}, aerr
	}
	key, ok := v.keys[a.keyID]
	if !ok {
		return Identity{}, errUnrecognized()
	}
	if err := v.checkScope(a); err != nil {
		return Identity{}, err
	}
	if err := v.checkTime(a); err != nil {
		return Identity{}, err
	}
	hashes, herr := v.payloadHashes(r, body)
	if herr != nil {
		return Identity{}, herr
	}
	sk := v.cache.get(key.Secret, a.date, a.region, a.service)
	cq := canonicalQuery(query, a.presigned)
	ch := canonicalHeaders(r, a.signedHeaders)
	uris := canonicalURIs(wirePath(r), a.service)
	var firstCanonical, firstSTS string
	for _, ph := range hashes {
		for _, uri := range uris {
			creq := r.Method + "\n" + uri + "\n" + cq + "\n" + ch + "\n" + a.signedHeadersLine + "\n" + ph
			sum := sha256.Sum256([]byte(creq))
			sts := algorithm + "\n" + a.amzDate + "\n" + a.scope() + "\n" + hex.EncodeToString(sum[:])
			if hmac.Equal(hmacSHA256(sk, sts), a.signature) {
				return Identity{AccessKeyID: key.ID, Role: key.Role, Region: a.region, Service: a.service}, nil
			}
			if firstCanonical == "" {
				firstCanonical, firstSTS = creq, sts
			}
		}
	}
	e := errInvalid(msgSignatureMismatch)
	e.Detail = "The Canonical String for this request should have been\n'" + firstCanonical +
		"'\n\nThe String-to-Sign should have been\n'" + firstSTS + "'\n"
	return Identity{}, e
}

// parseAuth finds the one SigV4 mechanism the request uses and parses it.
func parseAuth(r *http.Request, query url.Values) (*authParams, *Error) {
	authz := r.Header.Values("Authorization")
	hasHeader := false
	for _, h := range authz {
		if strings.TrimSpace(h) != "" {
			hasHeader = true
		}
	}
	hasQuery := query.Has(paramAlgorithm) || query.Has(paramCredential) || query.Has(paramSignature)
	switch {
	case hasHeader && hasQuery:
		return nil, errIncomplete("Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, " +
			"Signature query string parameter or the Authorization header should be specified")
	case hasHeader && len(authz) > 1:
		return nil, errIncomplete("Only one Authorization header is allowed.")
	case hasHeader:
		return parseHeaderAuth(authz[0], r.Header)
	case hasQuery:
		return parseQueryAuth(query)
	}
	return nil, errMissing()
}

// parseHeaderAuth parses
// "AWS4-HMAC-SHA256 Credential=…/scope, SignedHeaders=a;b, Signature=hex"
// and the request time from X-Amz-Date, or Date when that is absent.
func parseHeaderAuth(h string, hdr http.Header) (*authParams, *Error) {
	alg, rest, _ := strings.Cut(strings.TrimSpace(h), " ")
	amzDate := hdr.Get("X-Amz-Date")
	httpDate := hdr.Get("Date")
	if alg != algorithm {
		if strings.HasPrefix(alg, "AWS4-") {
			return nil, errIncomplete("Unsupported AWS 'algorithm': '%s'. The only supported algorithm is %s.", echo(alg), algorithm)
		}
		// Not SigV4 at all (SigV2's "AWS id:sig", "Bearer …"): answer as
		// AWS does, listing everything missing, but echo only the scheme,
		// never a token.
		return nil, errIncomplete("%sAuthorization=%s", missingHeaderParts(true, true, true, amzDate == "" && httpDate == ""), echo(alg))
	}
	var cred, signed, sig string
	var haveCred, haveSigned, haveSig bool
	for _, part := range strings.Split(rest, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		k, val, ok := strings.Cut(part, "=")
		if !ok {
			// AWS hashes the offending pair rather than echoing it, since it
			// may hold a secret pasted in the wrong place.
			sum := sha256.Sum256([]byte(part))
			return nil, errIncomplete("Invalid key=value pair (missing equal-sign) in Authorization header "+
				"(hashed with SHA-256 and encoded with Base64): '%s'.", base64.StdEncoding.EncodeToString(sum[:]))
		}
		var dst *string
		var have *bool
		switch strings.TrimSpace(k) {
		case "Credential":
			dst, have = &cred, &haveCred
		case "SignedHeaders":
			dst, have = &signed, &haveSigned
		case "Signature":
			dst, have = &sig, &haveSig
		default:
			continue // unknown parameters are ignored, as AWS does
		}
		if *have {
			return nil, errIncomplete("Authorization header has a repeated '%s' parameter.", strings.TrimSpace(k))
		}
		*dst, *have = strings.TrimSpace(val), true
	}
	if !haveCred || !haveSigned || !haveSig || (amzDate == "" && httpDate == "") {
		return nil, errIncomplete("%sAuthorization=%s", missingHeaderParts(!haveCred, !haveSig, !haveSigned, amzDate == "" && httpDate == ""), algorithm)
	}
	a := &authParams{}
	var err *Error
	if amzDate != "" {
		a.amzDate, a.t, err = parseAmzDate(amzDate)
	} else {
		t, perr := http.ParseTime(httpDate)
		if perr != nil {
			return nil, errIncomplete("Date must be an HTTP date or X-Amz-Date must be set (got Date '%s').", echo(httpDate))
		}
		a.t = t.UTC()
		a.amzDate = a.t.Format(amzDateLayout)
	}
	if err != nil {
		return nil, err
	}
	if err := a.parseCommon(cred, signed, sig); err != nil {
		return nil, err
	}
	return a, nil
}

// missingHeaderParts words what an Authorization header lacks as AWS does.
func missingHeaderParts(cred, sig, signed, date bool) string {
	var b strings.Builder
	if cred {
		b.WriteString("Authorization header requires 'Credential' parameter. ")
	}
	if sig {
		b.WriteString("Authorization header requires 'Signature' parameter. ")
	}
	if signed {
		b.WriteString("Authorization header requires 'SignedHeaders' parameter. ")
	}
	if date {
		b.WriteString("Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. ")
	}
	return b.String()
}

// parseQueryAuth parses the presigned-URL parameters.
func parseQueryAuth(q url.Values) (*authParams, *Error) {
	var missing strings.Builder
	for _, p := range []string{paramAlgorithm, paramCredential, paramSignature, paramDate, paramSignedHeaders} {
		if q.Get(p) == "" {
			fmt.Fprintf(&missing, "AWS query-string parameters must include '%s'. ", p)
		}
	}
	if missing.Len() > 0 {
		return nil, errIncomplete("%sRe-examine the query-string parameters.", missing.String())
	}
	for _, p := range []string{paramAlgorithm, paramCredential, paramSignature, paramDate, paramSignedHeaders, paramExpires} {
		if len(q[p]) > 1 {
			return nil, errIncomplete("AWS query-string parameter '%s' is repeated. Re-examine the query-string parameters.", p)
		}
	}
	if alg := q.Get(paramAlgorithm); alg != algorithm {
		return nil, errIncomplete("Unsupported AWS 'algorithm': '%s'. The only supported algorithm is %s.", echo(alg), algorithm)
	}
	a := &authParams{presigned: true}
	var err *Error
	if a.amzDate, a.t, err = parseAmzDate(q.Get(paramDate)); err != nil {
		return nil, err
	}
	if q.Has(paramExpires) {
		s := q.Get(paramExpires)
		n, perr := strconv.ParseInt(s, 10, 64)
		if perr != nil || n <= 0 {
			return nil, errIncomplete("X-Amz-Expires must be a positive number of seconds (got '%s').", echo(s))
		}
		if n > int64(maxPresignExpires/time.Second) {
			return nil, errIncomplete("X-Amz-Expires must be less than a week (in seconds) that is 604800 (got %d).", n)
		}
		a.expires = time.Duration(n) * time.Second
	}
	if err := a.parseCommon(q.Get(paramCredential), q.Get(paramSignedHeaders), q.Get(paramSignature)); err != nil {
		return nil, err
	}
	return a, nil
}

func parseAmzDate(s string) (string, time.Time, *Error) {
	t, err := time.Parse(amzDateLayout, s)
	if err != nil || len(s) != len(amzDateLayout) {
		return "", time.Time{}, errIncomplete("Date must be in ISO-8601 'basic format'. Got '%s'. See http://en.wikipedia.org/wiki/ISO_8601", echo(s))
	}
	return s, t, nil
}

// parseCommon parses what both forms carry: the credential, the signed
// header list and the signature.
func (a *authParams) parseCommon(cred, signed, sig string) *Error {
	parts := strings.Split(cred, "/")
	n := len(parts)
	if n < 5 || parts[n-4] == "" || parts[n-3] == "" || parts[n-2] == "" {
		return errIncomplete(`The Credential is malformed; expecting "<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request".`)
	}
	// Split from the right: the scope never holds '/', and an access key id
	// that did would still be found.
	a.keyID = strings.Join(parts[:n-4], "/")
	a.date, a.region, a.service = parts[n-4], parts[n-3], parts[n-2]
	if a.keyID == "" {
		return errIncomplete(`The Credential is malformed; expecting "<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request".`)
	}
	if t := parts[n-1]; t != scopeTerminator {
		return errIncomplete("Credential should be scoped with a valid terminator: '%s', not '%s'.", scopeTerminator, echo(t))
	}

	if signed == "" {
		return errIncomplete("SignedHeaders must not be empty; it must include 'host'.")
	}
	names := strings.Split(signed, ";")
	if len(names) > maxSignedHeaders {
		return errIncomplete("SignedHeaders lists %d headers; at most %d are accepted.", len(names), maxSignedHeaders)
	}
	seen := make(map[string]bool, len(names))
	for i, name := range names {
		name = strings.ToLower(name)
		if name == "" || strings.TrimSpace(name) != name {
			return errIncomplete("SignedHeaders has an empty or padded header name: '%s'.", echo(signed))
		}
		if seen[name] {
			return errIncomplete("SignedHeaders lists '%s' twice.", echo(name))
		}
		seen[name] = true
		names[i] = name
	}
	if !seen["host"] {
		return errIncomplete("'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.")
	}
	a.signedHeaders = names
	a.signedHeadersLine = strings.Join(names, ";")

	b, err := hex.DecodeString(sig)
	if err != nil || len(b) != sha256.Size {
		return errIncomplete("Signature must be %d hexadecimal characters.", 2*sha256.Size)
	}
	a.signature = b
	return nil
}

// checkScope checks the credential scope against the request date and the
// configured region and services.
func (v *Verifier) checkScope(a *authParams) *Error {
	if a.date != a.amzDate[:8] {
		return errInvalid("Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '%s' != '%s', from '%s'.",
			echo(a.date), a.amzDate[:8], a.amzDate)
	}
	if v.region != "" && a.region != v.region {
		return errInvalid("Credential should be scoped to a valid region, not '%s'.", echo(a.region))
	}
	if len(v.services) > 0 {
		for _, s := range v.services {
			if a.service == s {
				return nil
			}
		}
		return errInvalid("Credential should be scoped to correct service: '%s'.", v.services[0])
	}
	return nil
}

// checkTime enforces the clock window, with AWS's wording: a header-signed
// request must be within MaxSkew of now either way; a presigned one may
// not be from the future beyond MaxSkew and lives X-Amz-Expires (MaxSkew
// when absent — the Go SDK's PresignHTTP leaves it to the caller).
func (v *Verifier) checkTime(a *authParams) *Error {
	now := v.now().UTC()
	if a.t.Sub(now) > v.maxSkew {
		return errInvalid("Signature not yet current: %s is still later than %s (%s + %s.)",
			a.amzDate, now.Add(v.maxSkew).Format(amzDateLayout), now.Format(amzDateLayout), durText(v.maxSkew))
	}
	life := v.maxSkew
	if a.presigned && a.expires > 0 {
		life = a.expires
	}
	if now.Sub(a.t) > life {
		return errInvalid("Signature expired: %s is now earlier than %s (%s - %s.)",
			a.amzDate, now.Add(-life).Format(amzDateLayout), now.Format(amzDateLayout), durText(life))
	}
	return nil
}

// durText writes a window as AWS does in its expiry messages ("15 min").
func durText(d time.Duration) string {
	if d%time.Minute == 0 {
		return fmt.Sprintf("%d min", d/time.Minute)
	}
	return fmt.Sprintf("%d sec", d/time.Second)
}

// payloadHashes returns the payload hashes a correct client may have put in
// its canonical request. X-Amz-Content-Sha256, when sent, is what the client
// signed and must match the body (or be UNSIGNED-PAYLOAD). Without it the
// client signed the body's hash — or, for a request with no body (a GET, a
// presigned URL), possibly UNSIGNED-PAYLOAD, which S3-style presigners use.
func (v *Verifier) payloadHashes(r *http.Request, body []byte) ([]string, *Error) {
	h := r.Header.Get("X-Amz-Content-Sha256")
	switch {
	case h == unsignedPayload:
		if len(body) > 0 && !v.allowUnsigned {
			return nil, errInvalid("UNSIGNED-PAYLOAD is not accepted for a request with a body; sign the payload.")
		}
		return []string{h}, nil
	case strings.HasPrefix(h, "STREAMING-"):
		return nil, errIncomplete("Chunked payload signing ('%s') is not supported; sign the whole payload.", echo(h))
	case h != "":
		sum := sha256.Sum256(body)
		if !strings.EqualFold(h, hex.EncodeToString(sum[:])) {
			return nil, errInvalid("The provided 'x-amz-content-sha256' header does not match what was computed.")
		}
		return []string{h}, nil
	}
	sum := sha256.Sum256(body)
	hashes := []string{hex.EncodeToString(sum[:])}
	if len(body) == 0 || v.allowUnsigned {
		hashes = append(hashes, unsignedPayload)
	}
	return hashes, nil
}

// echo makes client text safe to copy into an error message: bounded, and
// without control characters that could forge log lines.
func echo(s string) string {
	if len(s) > maxEcho {
		s = s[:maxEcho] + "…"
	}
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return '?'
		}
		return r
	}, s)
}
