package logquery

import (
	"strings"
	"testing"
)

func fpBench(b *testing.B, pattern string, msgs []string) {
	p, err := ParseFilterPattern(pattern)
	if err != nil {
		b.Fatal(err)
	}
	n := 0
	for _, m := range msgs {
		n += len(m)
	}
	b.SetBytes(int64(n))
	b.ReportAllocs()
	b.ResetTimer()
	hits := 0
	for b.Loop() {
		for _, m := range msgs {
			if p.Match(m) {
				hits++
			}
		}
	}
	if hits == 0 {
		b.Fatal("benchmark pattern matched nothing")
	}
}

var fpBenchText = []string{
	`2024-05-01T12:00:00.123Z INFO  [http-nio-8080-exec-3] c.e.web.RequestLogger - GET /api/v1/orders/12345 200 12ms user=alice trace=4bf92f3577b34da6a3ce929d0e0e4736`,
	`2024-05-01T12:00:00.456Z WARN  [scheduler-1] c.e.jobs.Cleanup - cleanup took 1532ms, above threshold 1000ms`,
	`2024-05-01T12:00:01.001Z ERROR [http-nio-8080-exec-7] c.e.web.ErrorHandler - request failed: java.lang.IllegalStateException: connection pool exhausted`,
	`I0501 12:00:01.234567       1 reflector.go:255] Listing and watching *v1.Pod from k8s.io/client-go/informers/factory.go:150`,
}

func BenchmarkMatchTerm(b *testing.B) {
	b.Run("single", func(b *testing.B) { fpBench(b, `ERROR`, fpBenchText) })
	b.Run("and-phrase-exclude", func(b *testing.B) {
		fpBench(b, `ERROR "connection pool" -healthz`, fpBenchText)
	})
	b.Run("or", func(b *testing.B) { fpBench(b, `?Exception ?timeout ?exhausted`, fpBenchText) })
}

var fpBenchJSON = []string{
	`{"log":"GET /api/v1/orders/12345 200 12ms","stream":"stdout","time":"2024-05-01T12:00:00.123Z","level":"info","latency":12,"kubernetes":{"pod_name":"web-7d9f8b6c5-x2x4k","namespace_name":"default","pod_id":"0b7a9c2e-1d2f-4e5a-9b8c-7d6e5f4a3b2c","labels":{"app":"web","pod-template-hash":"7d9f8b6c5"},"host":"ip-10-0-1-23.ec2.internal","container_name":"web","docker_id":"4bf92f3577b34da6a3ce929d0e0e4736","container_image":"registry.example.com/web:1.42.0"}}`,
	`{"log":"request failed: connection pool exhausted","stream":"stderr","time":"2024-05-01T12:00:01.001Z","level":"error","latency":1532,"kubernetes":{"pod_name":"web-7d9f8b6c5-x2x4k","namespace_name":"default","pod_id":"0b7a9c2e-1d2f-4e5a-9b8c-7d6e5f4a3b2c","labels":{"app":"web","pod-template-hash":"7d9f8b6c5"},"host":"ip-10-0-1-23.ec2.internal","container_name":"web","docker_id":"4bf92f3577b34da6a3ce929d0e0e4736","container_image":"registry.example.com/web:1.42.0"}}`,
}

func BenchmarkMatchJSON(b *testing.B) {
	b.Run("string-eq", func(b *testing.B) { fpBench(b, `{ $.level = "error" }`, fpBenchJSON) })
	b.Run("compound", func(b *testing.B) {
		fpBench(b, `{ ($.level = "error" || $.latency > 1000) && $.kubernetes.labels.app = web* }`, fpBenchJSON)
	})
	b.Run("not-json", func(b *testing.B) { fpBench(b, `{ $.level NOT EXISTS }`, append([]string{`{}`}, fpBenchText...)) })
}

var fpBenchDelimited = []string{
	`127.0.0.1 - frank [10/Oct/2000:13:25:15 -0700] "GET /apache_pb.gif HTTP/1.0" 200 1534`,
	`10.0.4.7 - - [10/Oct/2000:13:35:22 -0700] "GET /index.html HTTP/1.1" 404 5324`,
	`10.0.4.9 - bob [10/Oct/2000:13:50:35 -0700] "POST /api/orders HTTP/1.1" 500 4355`,
}

func BenchmarkMatchDelimited(b *testing.B) {
	b.Run("named", func(b *testing.B) {
		fpBench(b, `[ip, user, username, timestamp, request, status_code = 4*, bytes > 1000]`, fpBenchDelimited)
	})
	b.Run("ellipsis", func(b *testing.B) { fpBench(b, `[ip, ..., status_code >= 400, bytes]`, fpBenchDelimited) })
}

func BenchmarkMatchRegex(b *testing.B) {
	fpBench(b, `%Exception:.+exhausted$%`, fpBenchText)
}

func BenchmarkParseFilterPattern(b *testing.B) {
	patterns := []string{
		`ERROR "connection pool" -healthz`,
		`{ ($.level = "error" || $.latency > 1000) && $.kubernetes.labels.app = web* }`,
		`[ip, user, username, timestamp, request = *html*, status_code = 4*, bytes > 1000]`,
	}
	b.SetBytes(int64(len(strings.Join(patterns, ""))))
	b.ReportAllocs()
	for b.Loop() {
		for _, s := range patterns {
			if _, err := ParseFilterPattern(s); err != nil {
				b.Fatal(err)
			}
		}
	}
}
