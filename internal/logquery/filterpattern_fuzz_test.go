package logquery

import (
	"strings"
	"testing"
)

// FuzzParseFilterPattern checks that parsing never panics, that a parsed
// pattern matches and pre-checks any message without panicking, and the
// MayMatch contract: whenever Match(msg) is true, MayMatch with exactly the
// tokens of msg present is true.
func FuzzParseFilterPattern(f *testing.F) {
	seeds := [][2]string{
		{``, `anything`},
		{`ERROR`, `[ERROR] A fatal exception has occurred`},
		{`ERROR -Exiting`, `Exiting with ERRORCODE: -1`},
		{`?ERROR ?WARN`, `WARN message`},
		{`"INTERNAL SERVER ERROR"`, `[ERROR 500] INTERNAL SERVER ERROR`},
		{`"level=error msg=" -"x y"`, `time=1 level=error msg="boom"`},
		{`%AUTHORIZED%`, `[ERROR 401] UNAUTHORIZED REQUEST`},
		{`%^[hc]at{1,2}$%`, `hatt`},
		{`{ $.eventType = "UpdateTrail" }`, `{"eventType":"UpdateTrail"}`},
		{`{ $.eventType = "Update*" }`, `{"eventType":"Update\u0054rail"}`},
		{`{ ($.user.id = 1) && ($.users[0].email = "John.Doe@example.com") }`, `{"user":{"id":1},"users":[{"email":"John.Doe@example.com"}]}`},
		{`{ $.a IS NULL || $.b NOT EXISTS || $.c IS TRUE }`, `{"a":null}`},
		{`{ $.latency >= 5e2 && $.x != %^a% }`, `{"latency":500,"x":"b"}`},
		{`[ip, user, ..., status = 4*, bytes > 1000]`, `127.0.0.1 - frank [10/Oct/2000:13:25:15 -0700] "GET / HTTP/1.0" 404 1534`},
		{`[w1=ERROR || w1=WARN, w2]`, `WARN message`},
		{`[a, b = "x y", ...]`, `1 "x y" z`},
		{`[..., a = x && b = 2, ..., b]`, `x q 2`},
		{`[time, level, msg = "disk full on /var"]`, `12:00 WARN [disk full on /var]`},
	}
	for _, s := range seeds {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, pattern, msg string) {
		p, err := ParseFilterPattern(pattern)
		if err != nil {
			if _, ok := err.(*FilterPatternError); !ok {
				t.Fatalf("error %T is not a *FilterPatternError", err)
			}
			return
		}
		if p.String() != pattern {
			t.Fatalf("String() = %q, want %q", p.String(), pattern)
		}
		matched := p.Match(msg)
		may := p.MayMatch(func(sub string) bool { return strings.Contains(msg, sub) })
		if matched && !may {
			t.Fatalf("pattern %q matches %q but MayMatch over it is false", pattern, msg)
		}
		// Some message could always match once every substring may be there.
		p.MayMatch(func(string) bool { return false })
		if !p.MayMatch(func(string) bool { return true }) {
			t.Fatalf("pattern %q: MayMatch with every token present is false", pattern)
		}
	})
}
