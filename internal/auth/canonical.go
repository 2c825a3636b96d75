package auth

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// wirePath returns the request path exactly as the client sent it, still
// percent-encoded: the signer hashed the bytes it put on the wire, and
// r.URL.EscapedPath may re-encode a path Go considers oddly escaped.
// RequestURI is what the server read; a request built in-process (tests, a
// handler wrapping another) may not have it, and then the URL is the truth.
func wirePath(r *http.Request) string {
	p := ""
	switch u := r.RequestURI; {
	case strings.HasPrefix(u, "/"):
		p = u
	case strings.Contains(u, "://"): // absolute-form, as sent to a proxy
		rest := u[strings.Index(u, "://")+3:]
		if i := strings.IndexByte(rest, '/'); i >= 0 {
			p = rest[i:]
		}
	default:
		p = r.URL.EscapedPath()
	}
	if i := strings.IndexByte(p, '?'); i >= 0 {
		p = p[:i]
	}
	if p == "" {
		p = "/"
	}
	return p
}

// canonicalURIs lists the canonical URIs a correct signer may have used for
// the wire path p. The SDKs start from the already-escaped path, so for
// every service but S3 they escape it again (the "double encoding" of the
// SigV4 spec: "%2F" becomes "%252F"), and S3 signs the path as sent. botocore
// also removes dot segments and empty segments before escaping, as AWS's own
// spec says, while the Go and Java SDKs do not; when that normalization
// changes the path both forms are tried, as AWS accepts both. At most two
// entries, so a mismatch costs at most one more HMAC.
func canonicalURIs(p, service string) []string {
	if service == "s3" {
		return []string{p}
	}
	out := []string{escapePath(p)}
	if n := normalizePath(p); n != p {
		out = append(out, escapePath(n))
	}
	return out
}

// escapePath percent-encodes every byte outside RFC 3986's unreserved set,
// keeping '/', with upper-case hex: AWS's UriEncode(path, encodeSlash=false).
func escapePath(p string) string {
	n := 0
	for i := 0; i < len(p); i++ {
		if !unreserved(p[i]) && p[i] != '/' {
			n++
		}
	}
	if n == 0 {
		return p
	}
	const hexUpper = "0123456789ABCDEF"
	b := make([]byte, 0, len(p)+2*n)
	for i := 0; i < len(p); i++ {
		c := p[i]
		if unreserved(c) || c == '/' {
			b = append(b, c)
			continue
		}
		b = append(b, '%', hexUpper[c>>4], hexUpper[c&15])
	}
	return string(b)
}

func unreserved(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~'
}

// normalizePath removes "." and ".." segments (RFC 3986 §5.2.4) and empty
// segments, keeping a leading and a trailing slash, as botocore does.
func normalizePath(p string) string {
	if p == "" {
		return "/"
	}
	var segs []string
	for _, s := range strings.Split(p, "/") {
		switch s {
		case "", ".":
		case "..":
			if len(segs) > 0 {
				segs = segs[:len(segs)-1]
			}
		default:
			segs = append(segs, s)
		}
	}
	var b strings.Builder
	if p[0] == '/' {
		b.WriteByte('/')
	}
	b.WriteString(strings.Join(segs, "/"))
	if p[len(p)-1] == '/' && len(segs) > 0 {
		b.WriteByte('/')
	}
	return b.String()
}

// canonicalQuery builds the canonical query string from the parsed query:
// every name and value decoded, then re-encoded with SigV4's rules (space as
// %20, upper-case hex) and the pairs sorted by encoded name, then value. It
// is fed by url.ParseQuery whose error Verify ignores on purpose: the handler
// reads the query with the same parser, so what it drops (bad escapes, ';')
// the handler never sees either, and what the handler sees is all signed.
// The presigned form signs every parameter but X-Amz-Signature itself.
func canonicalQuery(vals url.Values, presigned bool) string {
	type pair struct{ k, v string }
	pairs := make([]pair, 0, len(vals))
	for k, vs := range vals {
		if presigned && k == paramSignature {
			continue
		}
		ek := escapeQuery(k)
		for _, v := range vs {
			pairs = append(pairs, pair{ek, escapeQuery(v)})
		}
	}
	slices.SortFunc(pairs, func(a, b pair) int {
		if c := strings.Compare(a.k, b.k); c != 0 {
			return c
		}
		return strings.Compare(a.v, b.v)
	})
	var b strings.Builder
	for i, p := range pairs {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(p.k)
		b.WriteByte('=')
		b.WriteString(p.v)
	}
	return b.String()
}

// escapeQuery is AWS's UriEncode(s, encodeSlash=true). url.QueryEscape keeps
// exactly the unreserved set and writes a space as "+", and a literal '+'
// as "%2B", so swapping '+' for "%20" is exact.
func escapeQuery(s string) string {
	return strings.ReplaceAll(url.QueryEscape(s), "+", "%20")
}

// canonicalHeaders writes "name:value\n" for every signed header, in the
// order the client listed them (SignedHeaders is part of the canonical
// request verbatim, so its order is the client's to choose; correct
// signers sort). Values of a repeated header are joined by ',' and each is
// trimmed with runs of spaces collapsed, as the SDKs do. A signed header
// the request lacks contributes an empty value, so the mismatch surfaces
// as a wrong signature rather than being silently skipped.
func canonicalHeaders(r *http.Request, names []string) string {
	var b strings.Builder
	for _, name := range names {
		b.WriteString(name)
		b.WriteByte(':')
		for i, v := range headerValues(r, name) {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(trimHeaderValue(v))
		}
		b.WriteByte('\n')
	}
	return b.String()
}

// headerValues returns the values a client saw for a (lower-case) header
// name. net/http lifts Host and Transfer-Encoding out of the header map, and
// a client signs the Content-Length it sent, so those come from the request.
func headerValues(r *http.Request, name string) []string {
	switch name {
	case "host":
		if r.Host != "" {
			return []string{r.Host}
		}
		return []string{r.URL.Host}
	case "content-length":
		if vs := r.Header.Values("Content-Length"); len(vs) > 0 {
			return vs
		}
		if r.ContentLength >= 0 {
			return []string{strconv.FormatInt(r.ContentLength, 10)}
		}
		return nil
	case "transfer-encoding":
		if vs := r.Header.Values("Transfer-Encoding"); len(vs) > 0 {
			return vs
		}
		return r.TransferEncoding
	}
	// net/http stores header keys in canonical form, so this one lookup
	// finds every spelling the client used.
	return r.Header.Values(name)
}

// trimHeaderValue trims a value and collapses runs of spaces to one.
func trimHeaderValue(v string) string {
	v = strings.TrimSpace(v)
	if !strings.Contains(v, "  ") {
		return v
	}
	b := make([]byte, 0, len(v))
	for i := 0; i < len(v); i++ {
		if v[i] == ' ' && i > 0 && v[i-1] == ' ' {
			continue
		}
		b = append(b, v[i])
	}
	return string(b)
}
