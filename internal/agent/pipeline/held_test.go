package pipeline

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/kinsight/kinsight/internal/agent/kube"
	"github.com/kinsight/kinsight/internal/agent/output/cloudwatch"
	"github.com/kinsight/kinsight/internal/agent/output/stream"
	"github.com/kinsight/kinsight/internal/agent/tail"
)

// Records held while a pod is unknown go out, first and in order, as soon
// as a later record finds the pod (not only at the next tick).
func TestHeldRecordsReleasedByNextRecord(t *testing.T) {
	id := repeat('e')
	pods := podMap{}
	p, err := New(t.Context(), Config{
		ClusterName: "c", HostName: "h", DataDir: t.TempDir(),
		ContainerLogs: []string{"/logs/*.log"},
		Sender:        stream.NewWriter(&bytes.Buffer{}),
		Pods:          pods, PodWait: time.Hour, Logger: quiet,
	})
	if err != nil {
		t.Fatal(err)
	}
	pr := &processor{p: p, files: map[fileKey]*fileState{}, batches: map[batchKey]*batch{}}
	path := "/logs/web-1_shop_app-" + id + ".log"
	file := tail.FileID{Dev: 1, Ino: 2, Head: "x"}
	var off int64
	feed := func(msg string) {
		data := []byte(time.Now().UTC().Format(time.RFC3339Nano) + " stdout F " + msg + "\n")
		off += int64(len(data))
		pr.line(tail.Line{File: file, Path: path, Offset: off, Data: data})
	}
	feed("one")
	feed("two")
	if n := len(pr.batches); n != 0 {
		t.Fatalf("%d batches before the pod is known", n)
	}
	pods["shop/web-1"] = &kube.Pod{Name: "web-1", Namespace: "shop", UID: "uid-1"}
	feed("three")
	b := pr.batches[batchKey{group: "/aws/containerinsights/c/application", stream: "web-1_shop_app-" + id}]
	if b == nil || b.n != 3 {
		t.Fatalf("batch = %+v, want the two held records and the new one", b)
	}
	pl, err := decodePayload(b.buf)
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []string{"one", "two", "three"} {
		var rec struct {
			Log        string
			Kubernetes map[string]any
		}
		if err := json.Unmarshal([]byte(pl.Events[i].Text()), &rec); err != nil || rec.Log != want || rec.Kubernetes["pod_id"] != "uid-1" {
			t.Fatalf("event %d = %s (%v), want log %q with the pod's metadata", i, pl.Events[i].Text(), err, want)
		}
	}
}

// A batch whose records are not in time order (stdout and stderr of one
// container, a clock going back) is pushed sorted, stably.
func TestBatchPushedSorted(t *testing.T) {
	p, err := New(t.Context(), Config{
		ClusterName: "c", HostName: "h", DataDir: t.TempDir(),
		HostLogs: []string{"/logs/syslog"},
		Sender:   stream.NewWriter(&bytes.Buffer{}), Logger: quiet,
	})
	if err != nil {
		t.Fatal(err)
	}
	pr := &processor{p: p, files: map[fileKey]*fileState{}, batches: map[batchKey]*batch{}}
	bk := batchKey{group: "g", stream: "s"}
	b := pr.batch(bk)
	for i, ts := range []int64{5, 3, 5, 4} {
		e := cloudwatch.Event{Timestamp: ts, Message: fmt.Sprint(i), End: int64(i + 1), Source: 7}
		pr.pending += b.add(&p.pool, bk, &e)
	}
	if b.sorted {
		t.Fatal("batch says sorted")
	}
	pr.push(bk, b, "")
	item, err := p.buf.Next(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	pl, err := decodePayload(item.Payload)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range pl.Events {
		got = append(got, fmt.Sprintf("%d:%s", e.Timestamp, e.Message))
	}
	if s := strings.Join(got, " "); s != "3:1 4:3 5:0 5:2" || pr.pending != 0 || b.n != 0 {
		t.Fatalf("pushed %s (pending %d, batch %d)", s, pr.pending, b.n)
	}
}
