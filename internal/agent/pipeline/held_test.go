package pipeline

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/kinsight/kinsight/internal/agent/kube"
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
	if b == nil || len(b.events) != 3 {
		t.Fatalf("batch = %+v, want the two held records and the new one", b)
	}
	for i, want := range []string{"one", "two", "three"} {
		var rec struct {
			Log        string
			Kubernetes map[string]any
		}
		if err := json.Unmarshal([]byte(b.events[i].Message), &rec); err != nil || rec.Log != want || rec.Kubernetes["pod_id"] != "uid-1" {
			t.Fatalf("event %d = %s (%v), want log %q with the pod's metadata", i, b.events[i].Message, err, want)
		}
	}
}
