package syntax

import (
	"errors"
	"testing"
	"unicode/utf8"
)

// FuzzParse checks that no input panics, that every failure is an *Error
// inside the query, and that every accepted query survives printing.
func FuzzParse(f *testing.F) {
	for _, s := range readSamples(f) {
		f.Add(s)
	}
	for _, s := range []string{
		"", "fields a as `b c`", "filter a not in [1, -2, 'x', null, true]",
		"filter -2 ^ -3 ^ 4 % 5 = 1 or not (a and b)",
		`parse f /a\/b(?<x>\d)/`, `filter a like "q\"\\\n"`, "stats count(*) by bin(1mo), bin(100ms)",
		"SOURCE logGroups(namePrefix: ['a'], class: ['STANDARD']) | pattern",
		"fields .5, 2e3, 1e-3, 99999999999999999999", "unmask(`x y`) | dedup a, b",
		"fields a # c\n| limit 1", "display a = 1 as b, c",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		q, err := Parse(s)
		if err != nil {
			var pe *Error
			if !errors.As(err, &pe) {
				t.Fatalf("%q: error %T is not *Error", s, err)
			}
			if pe.Pos < 0 || int(pe.Pos) > len(s) {
				t.Fatalf("%q: error position %d outside the query", s, pe.Pos)
			}
			return
		}
		if utf8.RuneCountInString(q.String()) > MaxQueryChars {
			return // the canonical form (quotes, @message) outgrew the limit
		}
		roundTrip(t, s, q)
	})
}

func BenchmarkParse(b *testing.B) {
	const q = `SOURCE logGroups(namePrefix: ["/aws/containerinsights/prod/application"])
| fields @timestamp, @message, kubernetes.pod_name as pod
| parse @message "* [*] *" as ts, level, msg
| filter kubernetes.namespace_name = "payments" and level in ["ERROR", "WARN"] and msg like /(?i)timeout/
| stats count(*) as n, pct(latency, 99) as p99 by bin(5m) as t, pod
| sort n desc, t
| limit 100`
	b.ReportAllocs()
	b.SetBytes(int64(len(q)))
	for b.Loop() {
		if _, err := Parse(q); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkString(b *testing.B) {
	q, err := Parse(`fields a | filter (a + 1) * 2 > 3 and b not like /x/ | stats avg(a) by bin(1h) | sort a desc | limit 5`)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		_ = q.String()
	}
}
