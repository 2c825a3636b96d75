package main

import (
	"crypto/sha256"
	"encoding/json"
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func smallCorpusOptions() CorpusOptions {
	o := DefaultCorpusOptions()
	o.Events, o.Streams = 20000, 20
	o.End = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	return o
}

func corpusHash(c *Corpus) [32]byte {
	h := sha256.New()
	for _, b := range c.Batches {
		h.Write(b.Body)
	}
	var out [32]byte
	copy(out[:], h.Sum(nil))
	return out
}

func TestGenerateDeterministic(t *testing.T) {
	o := smallCorpusOptions()
	a, err := Generate(o)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Generate(o)
	if err != nil {
		t.Fatal(err)
	}
	if corpusHash(a) != corpusHash(b) || a.MsgBytes != b.MsgBytes {
		t.Fatal("the same options gave different corpora")
	}
	o.Seed++
	c, err := Generate(o)
	if err != nil {
		t.Fatal(err)
	}
	if corpusHash(a) == corpusHash(c) {
		t.Fatal("another seed gave the same corpus")
	}
	if c.RareToken != "RareToken43" {
		t.Fatalf("rare token %q, want RareToken43", c.RareToken)
	}
}

// fluentBitRecord is the record shape every message must have.
type fluentBitRecord struct {
	Log        *string `json:"log"`
	Stream     string  `json:"stream"`
	Time       string  `json:"time"`
	Kubernetes *struct {
		PodName        string            `json:"pod_name"`
		NamespaceName  string            `json:"namespace_name"`
		PodID          string            `json:"pod_id"`
		Labels         map[string]string `json:"labels"`
		Annotations    map[string]string `json:"annotations"`
		Host           string            `json:"host"`
		ContainerName  string            `json:"container_name"`
		DockerID       string            `json:"docker_id"`
		ContainerHash  string            `json:"container_hash"`
		ContainerImage string            `json:"container_image"`
	} `json:"kubernetes"`
}

func TestGenerateShape(t *testing.T) {
	o := smallCorpusOptions()
	c, err := Generate(o)
	if err != nil {
		t.Fatal(err)
	}
	if c.Group != "/aws/containerinsights/bench/application" {
		t.Errorf("group %q", c.Group)
	}
	nameRE := regexp.MustCompile(`^([a-z0-9-]+)_([a-z-]+)_([a-z-]+)-([0-9a-f]{64})$`)
	lo, hi := o.End.Add(-o.Span).UnixMilli(), o.End.UnixMilli()
	perStream := make([]int, len(c.Streams))
	lastTS := make([]int64, len(c.Streams))
	var msgBytes int64
	rare, events := 0, 0
	for _, b := range c.Batches {
		var body struct {
			LogGroupName  string `json:"logGroupName"`
			LogStreamName string `json:"logStreamName"`
			LogEvents     []struct {
				Timestamp int64  `json:"timestamp"`
				Message   string `json:"message"`
			} `json:"logEvents"`
		}
		if err := json.Unmarshal(b.Body, &body); err != nil {
			t.Fatalf("batch %d of stream %d is not JSON: %v", b.Seq, b.Stream, err)
		}
		st := c.Streams[b.Stream]
		if body.LogGroupName != c.Group || body.LogStreamName != st.Name {
			t.Fatalf("batch names %q %q", body.LogGroupName, body.LogStreamName)
		}
		m := nameRE.FindStringSubmatch(st.Name)
		if m == nil {
			t.Fatalf("stream name %q is not <pod>_<namespace>_<container>-<docker id>", st.Name)
		}
		if n := len(body.LogEvents); n == 0 || n > maxBatchEvents || n != b.Events {
			t.Fatalf("batch has %d events (Batch.Events %d)", n, b.Events)
		}
		size := 0
		for _, e := range body.LogEvents {
			size += len(e.Message) + eventOverhead
			msgBytes += int64(len(e.Message))
			if e.Timestamp < lastTS[b.Stream] {
				t.Fatalf("stream %s goes back in time at %d", st.Name, e.Timestamp)
			}
			lastTS[b.Stream] = e.Timestamp
			if e.Timestamp < lo || e.Timestamp >= hi {
				t.Fatalf("timestamp %d outside [%d, %d)", e.Timestamp, lo, hi)
			}
			var rec fluentBitRecord
			if err := json.Unmarshal([]byte(e.Message), &rec); err != nil {
				t.Fatalf("message is not JSON: %v: %.200s", err, e.Message)
			}
			k := rec.Kubernetes
			if rec.Log == nil || *rec.Log == "" || k == nil || (rec.Stream != "stdout" && rec.Stream != "stderr") {
				t.Fatalf("record lacks log/stream/kubernetes: %.300s", e.Message)
			}
			if k.PodName != m[1] || k.NamespaceName != m[2] || k.ContainerName != m[3] || k.DockerID != m[4] ||
				k.PodID == "" || k.Host == "" || k.Labels["app"] == "" || len(k.Annotations) == 0 ||
				!strings.Contains(k.ContainerHash, "@sha256:") || k.ContainerImage == "" {
				t.Fatalf("kubernetes object does not match stream %s: %+v", st.Name, *k)
			}
			tm, err := time.Parse(time.RFC3339Nano, rec.Time)
			if err != nil || tm.UnixMilli() != e.Timestamp {
				t.Fatalf("time %q does not match timestamp %d (%v)", rec.Time, e.Timestamp, err)
			}
			if strings.Contains(e.Message, c.RareToken) {
				rare++
			}
		}
		if size > maxBatchBytes {
			t.Fatalf("batch is %d bytes counted as AWS does, limit %d", size, maxBatchBytes)
		}
		perStream[b.Stream] += len(body.LogEvents)
		events += len(body.LogEvents)
	}
	if events != o.Events || c.Events != o.Events {
		t.Errorf("events: %d in batches, Corpus.Events %d, want %d", events, c.Events, o.Events)
	}
	if msgBytes != c.MsgBytes {
		t.Errorf("MsgBytes %d, counted %d", c.MsgBytes, msgBytes)
	}
	for i, s := range c.Streams {
		if perStream[i] != s.Events || s.LastTS != lastTS[i] {
			t.Errorf("stream %s: %d events (info %d), last %d (info %d)", s.Name, perStream[i], s.Events, lastTS[i], s.LastTS)
		}
	}
	if rare != o.RareEvents || c.RareCount != o.RareEvents {
		t.Errorf("rare token in %d events (RareCount %d), want %d", rare, c.RareCount, o.RareEvents)
	}
	// Zipf: the biggest stream dwarfs the smallest.
	sum := summarize(c)
	if sum.BiggestCount < 5*sum.Smallest {
		t.Errorf("biggest stream %d events, smallest %d: not Zipf-like", sum.BiggestCount, sum.Smallest)
	}
}

func TestClientPlan(t *testing.T) {
	c, err := Generate(smallCorpusOptions())
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{1, 3, 4} {
		plan := clientPlan(c, n)
		if len(plan) != n {
			t.Fatalf("%d clients: plan has %d", n, len(plan))
		}
		owner := map[int]int{}
		seen := 0
		for k, p := range plan {
			next := map[int]int{}
			for _, b := range p {
				if o, ok := owner[b.Stream]; ok && o != k {
					t.Fatalf("stream %d sent by clients %d and %d", b.Stream, o, k)
				}
				owner[b.Stream] = k
				if b.Seq != next[b.Stream] {
					t.Fatalf("client %d sends batch %d of stream %d before %d", k, b.Seq, b.Stream, next[b.Stream])
				}
				next[b.Stream]++
				seen++
			}
		}
		if seen != len(c.Batches) {
			t.Fatalf("%d clients send %d batches, corpus has %d", n, seen, len(c.Batches))
		}
	}
}

func TestRenumberer(t *testing.T) {
	n := newRenumberer(rand.New(rand.NewPCG(1, 2)))
	isDigit := func(c byte) bool { return c >= '0' && c <= '9' }
	tests := []struct {
		in       string
		keepsAll bool // no run of two or more digits
	}{
		{"no digits here", true},
		{"slot 6 of 8", true},
		{"blk_38865049064139660 terminating", false},
		{"[Sun Dec 04 04:47:44 2005] [notice]", false},
		{"", true},
	}
	for _, tc := range tests {
		got := string(n.line(nil, tc.in, 0))
		if len(got) != len(tc.in) {
			t.Errorf("line(%q) = %q: length changed", tc.in, got)
		}
		if tc.keepsAll && got != tc.in {
			t.Errorf("line(%q) = %q, want unchanged", tc.in, got)
		}
		for i := range got {
			if isDigit(got[i]) != isDigit(tc.in[i]) || (!isDigit(got[i]) && got[i] != tc.in[i]) {
				t.Errorf("line(%q) = %q: changed a non-digit at %d", tc.in, got, i)
			}
		}
	}
	// Within a cycle a value maps the same way everywhere; in the next
	// cycle it changes.
	a := string(n.line(nil, "pid 24200 ip 10.11.10.1", 0))
	b := string(n.line(nil, "again 24200", 0))
	if a[4:9] != b[6:11] {
		t.Errorf("24200 renumbered as %q then %q in one cycle", a[4:9], b[6:11])
	}
	if a[4:9] == "24200" {
		t.Errorf("24200 not renumbered: %q", a)
	}
	c := string(n.line(nil, "pid 24200 ip 10.11.10.1", 1))
	if a == c {
		t.Errorf("cycle 1 repeats cycle 0 exactly: %q", c)
	}
}

func TestAppendJSONString(t *testing.T) {
	tests := []struct{ in, want string }{
		{"plain", `"plain"`},
		{`say "hi"`, `"say \"hi\""`},
		{`C:\dir`, `"C:\\dir"`},
		{"a\nb\tc\r", `"a\nb\tc\r"`},
		{"\x01<&>", `"\u0001<&>"`},
		{"héllo", `"héllo"`},
	}
	for _, tc := range tests {
		if got := string(appendJSONString(nil, tc.in)); got != tc.want {
			t.Errorf("appendJSONString(%q) = %s, want %s", tc.in, got, tc.want)
		}
	}
}

// FuzzAppendJSONString checks that every valid UTF-8 string survives a
// round trip through encoding/json.
func FuzzAppendJSONString(f *testing.F) {
	for _, s := range []string{"", "plain", `q"uote`, `back\slash`, "ctl\x00\x1f", "ünï", `{"log":"x"}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !utf8.ValidString(s) {
			return // the generator only ever encodes valid UTF-8 (loghub lines)
		}
		enc := appendJSONString(nil, s)
		var got string
		if err := json.Unmarshal(enc, &got); err != nil {
			t.Fatalf("%q encoded as invalid JSON %s: %v", s, enc, err)
		}
		if got != s {
			t.Fatalf("round trip of %q gave %q", s, got)
		}
	})
}
