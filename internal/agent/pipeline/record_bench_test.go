package pipeline

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/kinsight/kinsight/internal/agent/cri"
	"github.com/kinsight/kinsight/internal/agent/output/cloudwatch"
	"github.com/kinsight/kinsight/internal/jsonx"
)

// benchLines builds CRI lines like the agent benchmark's (test/bench
// agentgen.go): loghub messages, 30% of them JSON objects
// {"level","msg","latency_ms"}, 10% on stderr. It skips without the corpus.
func benchLines(b *testing.B) [][]byte {
	dir := filepath.Join("..", "..", "..", "..", "shared", "corpus", "loghub")
	files, _ := filepath.Glob(filepath.Join(dir, "*.log"))
	if len(files) == 0 {
		b.Skip("loghub corpus not found at " + dir)
	}
	r := rand.New(rand.NewPCG(42, 42))
	ts := time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)
	var lines [][]byte
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			b.Fatal(err)
		}
		sc := bufio.NewScanner(bytes.NewReader(data))
		for sc.Scan() {
			msg := sc.Bytes()
			if r.Float64() < 0.3 {
				m, _ := json.Marshal(sc.Text())
				msg = fmt.Appendf(nil, `{"level":"info","msg":%s,"latency_ms":%d}`, m, r.IntN(500))
			}
			stream := "stdout"
			if r.Float64() < 0.1 {
				stream = "stderr"
			}
			ts = ts.Add(time.Duration(r.IntN(2e6)))
			l := fmt.Appendf(nil, "%s %s F %s\n", ts.Format(time.RFC3339Nano), stream, msg)
			lines = append(lines, l)
		}
	}
	return lines
}

// benchRoute is a bench pod's file route: its kubernetes object as the
// agent benchmark's pods have it (labels, owner, image), Merge_Log on.
func benchRoute() fileRoute {
	k := kubeObject{
		PodName: "hdfs-datanode-75rdwxk5vt-ggh8b", NamespaceName: "storage",
		PodID:  "fccfc6f9-5f40-4745-a6d2-5f6cf8875ecc",
		Labels: map[string]string{"app": "hdfs-datanode", "pod-template-hash": "75rdwxk5vt", "tier": "storage"},
		Host:   "bench-node", ContainerName: "hdfs-datanode",
		DockerID:       "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
		ContainerHash:  "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
		ContainerImage: "registry.example.com/storage/hdfs-datanode:3.3.6",
		Owner:          &owner{Kind: "Deployment", Name: "hdfs-datanode"},
	}
	kj, _ := json.Marshal(k)
	return fileRoute{container: true, resolved: true, merge: true, k8s: k, kubeJSON: kj, kubeEscaped: jsonx.AppendEscaped(nil, string(kj))}
}

// BenchmarkRecordPath is the pipeline's per-line work in this package's
// files, as the catch-up does it: CRI parse, the quoted record, the batch
// payload (about 220 events, as the benchmark's requests), and the
// delivery's decode. The tailer and the output are not in it.
func BenchmarkRecordPath(b *testing.B) {
	lines := benchLines(b)
	fr := benchRoute()
	p, err := cri.NewParser(cri.DefaultOptions(), 0)
	if err != nil {
		b.Fatal(err)
	}
	var pool payloadPool
	var scratch, tmp, buf []byte
	var evs []cloudwatch.Event
	shared := bytesString(fr.kubeEscaped)
	n, off, size := 0, int64(0), int64(0)
	for _, l := range lines {
		size += int64(len(l))
	}
	now := time.Now()
	b.SetBytes(size / int64(len(lines)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		l := lines[i%len(lines)]
		off += int64(len(l))
		for _, r := range p.Feed(l, off, now) {
			ev := cloudwatch.Event{Timestamp: r.Time.UnixMilli(), End: r.End, Source: 7, Channel: r.Channel()}
			scratch, tmp, ev.Size, ev.SharedAt = appendQuotedContainerRecord(scratch[:0], tmp, &fr, &r, "log_processed")
			ev.Message, ev.Quoted, ev.Shared = bytesString(scratch), true, shared
			if n == 0 {
				buf = appendPayloadHeader(pool.get(64<<10), "/aws/containerinsights/bench/application", "stream", shared)
			}
			buf = appendPayloadEvent(buf, &ev, shared)
			if n++; n == 220 {
				pl, err := decodePayloadInto(pool.getEvents(), buf)
				if err != nil {
					b.Fatal(err)
				}
				pool.putEvents(pl.Events)
				evs = pl.Events
				pool.put(buf)
				n = 0
			}
		}
	}
	b.StopTimer()
	_ = evs
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lines/s")
}

// BenchmarkQuotedRecord is appendQuotedContainerRecord alone over the
// same lines, parsed beforehand.
func BenchmarkQuotedRecord(b *testing.B) {
	lines := benchLines(b)
	fr := benchRoute()
	p, err := cri.NewParser(cri.DefaultOptions(), 0)
	if err != nil {
		b.Fatal(err)
	}
	var recs []cri.Record
	for i, l := range lines {
		for _, r := range p.Feed(l, int64(i+1)*1000, time.Now()) {
			r.Message = bytes.Clone(r.Message)
			recs = append(recs, r)
		}
	}
	var scratch, tmp []byte
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		scratch, tmp, _, _ = appendQuotedContainerRecord(scratch[:0], tmp, &fr, &recs[i%len(recs)], "log_processed")
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lines/s")
}

// BenchmarkPayloadGrowth builds a batch payload of 220 bench-like
// records from a 4 KiB first allocation (a stream's first batch, or one
// past its hint): B/op is what growing it allocates.
func BenchmarkPayloadGrowth(b *testing.B) {
	fr := benchRoute()
	shared := bytesString(fr.kubeEscaped)
	lines := benchLines(b)
	var evs []cloudwatch.Event
	var scratch, tmp []byte
	for i := range 220 {
		msg := lines[i][len("2026-11-22T09:00:00.000000000Z stdout F "):]
		ev := cloudwatch.Event{Timestamp: 1795000000000 + int64(i), End: int64(i) * 300, Source: 1<<63 + 12345, Channel: 1}
		scratch, tmp, ev.Size, ev.SharedAt = appendQuotedContainerRecord(scratch[:0], tmp, &fr, &cri.Record{Message: msg, Stream: "stdout"}, "log_processed")
		ev.Message, ev.Quoted, ev.Shared = string(scratch), true, shared
		evs = append(evs, ev)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		pl := appendPayloadHeader(make([]byte, 0, 4096), "/aws/containerinsights/bench/application", "stream", shared)
		for j := range evs {
			pl = appendPayloadEvent(pl, &evs[j], shared)
		}
		if i == 0 {
			b.ReportMetric(float64(len(pl)), "payload-bytes")
		}
	}
}
