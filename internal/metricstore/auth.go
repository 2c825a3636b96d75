package metricstore

import (
	"crypto/subtle"
	"errors"
	"net/http"
	"strings"

	"github.com/kinsight/kinsight/internal/auth"
	"github.com/kinsight/kinsight/internal/config"
)

// authenticator decides who a metrics request comes from. Three forms are
// accepted, all backed by the server's access keys so an operator manages
// one list:
//
//   - SigV4 (Authorization: AWS4-HMAC-SHA256 …, or presigned query), what
//     Prometheus's and Alloy's remote_write sigv4 blocks send;
//   - HTTP basic auth with the access key id as user name and the secret
//     access key as password, what Grafana's Prometheus data source and
//     promtool's --http.config.file send;
//   - Authorization: Bearer <secret access key>, for clients that only do
//     bearer tokens (remote_write authorization.credentials). The secret
//     alone identifies the key, since secrets are random and distinct.
//
// With no keys configured, every request is admin: the server then only
// listens on loopback (or was told --insecure), as for the logs API.
type authenticator struct {
	verifier *auth.Verifier
	keys     []config.AccessKey
}

type authError struct {
	typ string // errUnauthorized or errForbidden
	msg string
}

func (e *authError) Error() string { return e.msg }

// authenticate returns the caller's identity; raw is the request body as
// received (SigV4 signs it), nil for GET.
func (a *authenticator) authenticate(r *http.Request, raw []byte) (auth.Identity, error) {
	if a.verifier == nil {
		return auth.Identity{Role: config.RoleAdmin}, nil
	}
	h := r.Header.Get("Authorization")
	switch {
	case strings.HasPrefix(h, "AWS4-") || r.URL.Query().Has("X-Amz-Algorithm"):
		id, err := a.verifier.Verify(r, raw)
		if err != nil {
			var ae *auth.Error
			if errors.As(err, &ae) {
				return auth.Identity{}, &authError{errUnauthorized, ae.Code + ": " + ae.Message}
			}
			return auth.Identity{}, &authError{errUnauthorized, err.Error()}
		}
		return id, nil
	case len(h) > 7 && strings.EqualFold(h[:7], "Bearer "):
		tok := strings.TrimSpace(h[7:])
		if k, ok := a.bySecret(tok); ok {
			return auth.Identity{AccessKeyID: k.ID, Role: k.Role}, nil
		}
		return auth.Identity{}, &authError{errUnauthorized, "invalid bearer token"}
	}
	if user, pass, ok := r.BasicAuth(); ok {
		for _, k := range a.keys {
			// Compare both in constant time and without an early exit, so
			// timing says nothing about which part was wrong.
			idOK := subtle.ConstantTimeCompare([]byte(user), []byte(k.ID))
			secOK := subtle.ConstantTimeCompare([]byte(pass), []byte(k.Secret))
			if idOK&secOK == 1 && k.Secret != "" {
				return auth.Identity{AccessKeyID: k.ID, Role: k.Role}, nil
			}
		}
		return auth.Identity{}, &authError{errUnauthorized, "invalid user name or password"}
	}
	return auth.Identity{}, &authError{errUnauthorized, "authentication required: sign with SigV4, or send basic auth (access key id and secret) or a bearer token (secret)"}
}

func (a *authenticator) bySecret(tok string) (config.AccessKey, bool) {
	var found config.AccessKey
	ok := false
	for _, k := range a.keys {
		if k.Secret != "" && subtle.ConstantTimeCompare([]byte(tok), []byte(k.Secret)) == 1 {
			found, ok = k, true
		}
	}
	return found, ok
}

func (a *authenticator) authorize(id auth.Identity, action auth.Action) error {
	if auth.Allowed(id.Role, action) {
		return nil
	}
	return &authError{errForbidden, "access key " + id.AccessKeyID + " (role " + id.Role + ") may not " + action.String()}
}
