package auth

import (
	"crypto/hmac"
	"crypto/sha256"
	"sync"
)

// signingKey derives SigV4's signing key:
// HMAC(HMAC(HMAC(HMAC("AWS4"+secret, date), region), service), "aws4_request").
func signingKey(secret, date, region, service string) []byte {
	k := hmacSHA256([]byte("AWS4"+secret), date)
	k = hmacSHA256(k, region)
	k = hmacSHA256(k, service)
	return hmacSHA256(k, scopeTerminator)
}

func hmacSHA256(key []byte, data string) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(data))
	return h.Sum(nil)
}

// keyCache keeps derived signing keys. A key is valid for one (secret, day,
// region, service), so a server sees a handful per access key per day; the
// cache saves four HMACs per request. It is bounded because the region and
// service come from the client: anyone who knows an access key id (not a
// secret) could otherwise fill it. When full it drops an arbitrary entry —
// Go's map iteration order — which is enough: yesterday's keys are the
// ones that stop being used, and a wrong eviction only costs a rederivation.
type keyCache struct {
	mu  sync.Mutex
	max int
	m   map[cacheKey][]byte
}

type cacheKey struct{ secret, date, region, service string }

func newKeyCache(max int) *keyCache {
	return &keyCache{max: max, m: make(map[cacheKey][]byte, max)}
}

// get returns the signing key, deriving and caching it on a miss. The
// returned slice is shared and must not be modified.
func (c *keyCache) get(secret, date, region, service string) []byte {
	ck := cacheKey{secret, date, region, service}
	c.mu.Lock()
	k, ok := c.m[ck]
	c.mu.Unlock()
	if ok {
		return k
	}
	// Derive outside the lock: two goroutines may both derive the same key,
	// which is harmless and keeps the lock short.
	k = signingKey(secret, date, region, service)
	c.mu.Lock()
	if len(c.m) >= c.max {
		for old := range c.m {
			delete(c.m, old)
			break
		}
	}
	c.m[ck] = k
	c.mu.Unlock()
	return k
}

func (c *keyCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.m)
}
