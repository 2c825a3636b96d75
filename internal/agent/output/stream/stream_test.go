package stream

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/kinsight/kinsight/internal/agent/output/cloudwatch"
)

func TestWriterLines(t *testing.T) {
	var buf bytes.Buffer
	o := NewWriter(&buf)
	evs := []cloudwatch.Event{{Timestamp: 1, Message: "a \"quoted\"\nline"}, {Timestamp: 2, Message: "b"}}
	if err := o.Send(context.Background(), "/g", "s", evs); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(&buf)
	var got []line
	for sc.Scan() {
		var l line
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		got = append(got, l)
	}
	if len(got) != 2 || got[0].Message != evs[0].Message || got[1].Timestamp != 2 || got[0].Group != "/g" || got[1].Stream != "s" {
		t.Fatalf("got %+v", got)
	}
}

func TestFileAppends(t *testing.T) {
	path := filepath.Join(t.TempDir(), "out.jsonl")
	for i := range 2 {
		o, err := OpenFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := o.Send(context.Background(), "g", "s", []cloudwatch.Event{{Timestamp: int64(i), Message: "m"}}); err != nil {
			t.Fatal(err)
		}
		if err := o.Close(); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if n := bytes.Count(b, []byte("\n")); n != 2 {
		t.Fatalf("%d lines in %q", n, b)
	}
	if _, err := OpenFile(filepath.Join(t.TempDir(), "missing", "x")); err == nil {
		t.Fatal("opening under a missing directory succeeded")
	}
}

func TestCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var buf bytes.Buffer
	if err := NewWriter(&buf).Send(ctx, "g", "s", []cloudwatch.Event{{Message: "x"}}); err == nil || buf.Len() != 0 {
		t.Fatalf("err %v, wrote %q", err, buf.String())
	}
}
