package main

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The agent benchmark's input: a kubelet-style CRI log tree of one node.
// /var/log/containers/<pod>_<ns>_<container>-<id>.log are symlinks to
// /var/log/pods/<ns>_<pod>_<uid>/<container>/0.log, as on a real node, so
// the agent resolves links the way it does in production.

// benchPod is one pod of the benchmark node, with its one container.
type benchPod struct {
	Namespace, Name, App, Image string
	RSHash                      string
	UID                         string // set once the API server created the pod
	ContainerID                 string // 64 hex
	Sources                     []string
	Lines                       int // lines (records) of the catch-up tree
	LinkPath, LogPath           string
}

// StreamName is the application stream the agent ships the pod's log to:
// the link's name without ".log".
func (p *benchPod) StreamName() string {
	return p.Name + "_" + p.Namespace + "_" + p.App + "-" + p.ContainerID
}

// planPods names n pods over the corpus's deployments and shares lines
// among them (weights uniform in [0.5, 1.5), so files differ in size).
func planPods(seed uint64, n, lines int) ([]*benchPod, error) {
	if n < 1 || lines < n {
		return nil, fmt.Errorf("need at least one line per pod (lines %d, pods %d)", lines, n)
	}
	r := rand.New(rand.NewPCG(seed, 0xa9e7))
	weights := make([]float64, n)
	var sum float64
	for i := range weights {
		weights[i] = 0.5 + r.Float64()
		sum += weights[i]
	}
	pods := make([]*benchPod, n)
	left := lines
	seen := map[string]bool{}
	for i := range pods {
		spec := deployments[i%len(deployments)]
		p := &benchPod{Namespace: spec.namespace, App: spec.app, Image: spec.image, Sources: spec.sources}
		p.RSHash = randString(r, "bcdfghjklmnpqrstvwxz2456789", 10)
		for {
			p.Name = spec.app + "-" + p.RSHash + "-" + randString(r, "bcdfghjklmnpqrstvwxz2456789", 5)
			if !seen[p.Name] {
				seen[p.Name] = true
				break
			}
		}
		p.ContainerID = randString(r, "0123456789abcdef", 64)
		p.Lines = max(1, int(float64(lines)*weights[i]/sum))
		left -= p.Lines
		pods[i] = p
	}
	for i := 0; left != 0; i = (i + 1) % n { // rounding: spread the rest
		if left > 0 {
			pods[i].Lines++
			left--
		} else if pods[i].Lines > 1 {
			pods[i].Lines--
			left++
		}
	}
	return pods, nil
}

// criTreeOptions says what writeCRITree writes.
type criTreeOptions struct {
	Root         string // holds containers/ and pods/
	Seed         uint64
	JSONShare    float64 // share of lines that are JSON objects
	PartialShare float64 // share of lines split into P… F CRI chunks
	End          time.Time
	Span         time.Duration // timestamps fall in [End-Span, End)
	Loghub       map[string][]string
}

// criTree is what writeCRITree wrote.
type criTree struct {
	Lines    int   // logical lines (records the agent should ship)
	CRILines int   // physical lines, partial chunks counted each
	Partials int   // logical lines written as P… F
	JSON     int   // logical lines that are JSON objects
	Bytes    int64 // file bytes
}

// lineSource produces a pod's messages: its loghub systems' lines, from a
// random start, cycling.
type lineSource struct {
	r     *rand.Rand
	lines []string
	next  int
	json  float64
}

func newLineSource(seed uint64, idx int, p *benchPod, loghub map[string][]string, jsonShare float64) (*lineSource, error) {
	r := rand.New(rand.NewPCG(seed, uint64(idx)+0x1000))
	var lines []string
	for _, src := range p.Sources {
		l, ok := loghub[src]
		if !ok {
			return nil, fmt.Errorf("loghub sample %s_2k.log missing", src)
		}
		lines = append(lines, l...)
	}
	return &lineSource{r: r, lines: lines, next: r.IntN(len(lines)), json: jsonShare}, nil
}

// message appends the next message, prefix first inside it (the steady
// phase's write-time token), and reports whether it is a JSON object.
func (s *lineSource) message(dst []byte, prefix string) ([]byte, bool) {
	line := s.lines[s.next]
	s.next = (s.next + 1) % len(s.lines)
	if s.r.Float64() >= s.json {
		dst = append(dst, prefix...)
		return append(dst, line...), false
	}
	level := "info"
	if isErrorLine([]byte(line)) {
		level = "error"
	}
	dst = append(dst, `{"level":"`...)
	dst = append(dst, level...)
	dst = append(dst, `","msg":`...)
	dst = appendJSONString(dst, prefix+line)
	dst = append(dst, `,"latency_ms":`...)
	dst = strconv.AppendInt(dst, int64(s.r.IntN(500)), 10)
	return append(dst, '}'), true
}

// appendCRI appends msg as CRI lines stamped ts: one F line, or, when
// parts > 1, parts-1 P chunks and a final F chunk.
func appendCRI(dst []byte, ts time.Time, stream string, msg []byte, parts int) []byte {
	parts = max(1, min(parts, len(msg)))
	size := (len(msg) + parts - 1) / parts
	for i := 0; i < parts; i++ {
		lo, hi := i*size, min((i+1)*size, len(msg))
		tag := " P "
		if i == parts-1 || hi == len(msg) {
			tag, hi = " F ", len(msg)
		}
		dst = ts.UTC().AppendFormat(dst, time.RFC3339Nano)
		dst = append(dst, ' ')
		dst = append(dst, stream...)
		dst = append(dst, tag...)
		dst = append(dst, msg[lo:hi]...)
		dst = append(dst, '\n')
		if hi == len(msg) {
			break
		}
	}
	return dst
}

// writeCRITree writes every pod's 0.log and fills LinkPath and LogPath
// (linkPods makes the links). Pods need their UID.
func writeCRITree(pods []*benchPod, o criTreeOptions) (criTree, error) {
	var t criTree
	links := filepath.Join(o.Root, "containers")
	if err := os.MkdirAll(links, 0o755); err != nil {
		return t, err
	}
	for i, p := range pods {
		dir := filepath.Join(o.Root, "pods", p.Namespace+"_"+p.Name+"_"+p.UID, p.App)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return t, err
		}
		p.LogPath = filepath.Join(dir, "0.log")
		p.LinkPath = filepath.Join(links, p.StreamName()+".log")
		src, err := newLineSource(o.Seed, i, p, o.Loghub, o.JSONShare)
		if err != nil {
			return t, err
		}
		f, err := os.Create(p.LogPath)
		if err != nil {
			return t, err
		}
		w := bufio.NewWriterSize(f, 1<<20)
		var msg, buf []byte
		start := o.End.Add(-o.Span)
		for k := range p.Lines {
			ts := start.Add(time.Duration(int64(o.Span) * int64(k) / int64(p.Lines)))
			var isJSON bool
			msg, isJSON = src.message(msg[:0], "")
			parts := 1
			if src.r.Float64() < o.PartialShare && len(msg) >= 3 {
				parts = 2 + src.r.IntN(2)
				t.Partials++
			}
			stream := "stdout"
			if src.r.IntN(10) == 0 {
				stream = "stderr"
			}
			buf = appendCRI(buf[:0], ts, stream, msg, parts)
			t.CRILines += strings.Count(string(buf), "\n")
			t.Bytes += int64(len(buf))
			t.Lines++
			if isJSON {
				t.JSON++
			}
			w.Write(buf)
		}
		if err := w.Flush(); err != nil {
			f.Close()
			return t, err
		}
		if err := f.Close(); err != nil {
			return t, err
		}
	}
	return t, nil
}

// linkPods creates every pod's /var/log/containers link, as the kubelet
// does when a container starts.
func linkPods(pods []*benchPod) error {
	for _, p := range pods {
		if err := os.Symlink(p.LogPath, p.LinkPath); err != nil {
			return err
		}
	}
	return nil
}

// Every steady-phase message carries its write time as WT<19 digits>Z
// (nanoseconds since the epoch): letters and digits only, so the token
// survives JSON escaping, Merge_Log and the record wrapping unchanged.
const wtLen = 2 + 19 + 1

func writeToken(ns int64) string { return fmt.Sprintf("WT%019dZ", ns) }

// parseWriteTime finds the first write-time token in b.
func parseWriteTime(b []byte) (int64, bool) {
	for i := 0; i+wtLen <= len(b); i++ {
		if b[i] != 'W' || b[i+1] != 'T' || b[i+wtLen-1] != 'Z' {
			continue
		}
		var n int64
		ok := true
		for _, c := range b[i+2 : i+wtLen-1] {
			if c < '0' || c > '9' {
				ok = false
				break
			}
			n = n*10 + int64(c-'0')
		}
		if ok {
			return n, true
		}
	}
	return 0, false
}

// steadyResult is what the rate-controlled writer did.
type steadyResult struct {
	Written int
	Took    time.Duration
	Bytes   int64
}

// dueLines is how many lines a writer at rate lines/s should have written
// after elapsed, capped at total.
func dueLines(rate float64, elapsed time.Duration, total int) int {
	return min(total, int(rate*elapsed.Seconds()))
}

// writeSteady appends rate lines/s for dur, round-robin over the pods'
// files (one write per file per 10 ms tick), each line stamped and tokened
// with its write time.
func writeSteady(ctx context.Context, pods []*benchPod, srcs []*lineSource, rate float64, dur time.Duration) (steadyResult, error) {
	var res steadyResult
	files := make([]*os.File, len(pods))
	for i, p := range pods {
		f, err := os.OpenFile(p.LogPath, os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			return res, err
		}
		defer f.Close()
		files[i] = f
	}
	total := int(rate * dur.Seconds())
	bufs := make([][]byte, len(pods))
	var msg []byte
	next := 0 // round-robin position
	start := time.Now()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for res.Written < total {
		select {
		case <-ctx.Done():
			return res, ctx.Err()
		case <-tick.C:
		}
		n := dueLines(rate, time.Since(start), total) - res.Written
		touched := make([]int, 0, min(n, len(pods)))
		for range n {
			i := next
			next = (next + 1) % len(pods)
			if len(bufs[i]) == 0 {
				touched = append(touched, i)
			}
			// The stamp is taken per line just before its write; lines of
			// one tick wait at most the few microseconds of the loop.
			now := time.Now()
			msg, _ = srcs[i].message(msg[:0], writeToken(now.UnixNano())+" ")
			bufs[i] = appendCRI(bufs[i], now, "stdout", msg, 1)
		}
		slices.Sort(touched)
		for _, i := range touched {
			if _, err := files[i].Write(bufs[i]); err != nil {
				return res, fmt.Errorf("append %s: %w", pods[i].LogPath, err)
			}
			res.Bytes += int64(len(bufs[i]))
			bufs[i] = bufs[i][:0]
		}
		res.Written += n
	}
	res.Took = time.Since(start)
	return res, nil
}

// percentile is the nearest-rank p-quantile of sorted values.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted))*p+0.999999) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}
