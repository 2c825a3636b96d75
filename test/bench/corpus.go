package main

import (
	"bufio"
	"cmp"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/klauspost/compress/zstd"
)

// AWS's PutLogEvents limits, which every generated batch respects.
const (
	maxBatchBytes  = 1048576 // sum(len(message) + 26)
	eventOverhead  = 26
	maxBatchEvents = 10000
)

// CorpusOptions describes a corpus. The same options (including End) give
// the same bytes.
type CorpusOptions struct {
	// Seed drives every random choice.
	Seed uint64
	// Events is the total number of events, over all streams.
	Events int
	// Streams is the number of log streams (container log files).
	Streams int
	// End is the newest possible timestamp; events fall in [End-Span, End).
	End time.Time
	// Span is the time the events cover.
	Span time.Duration
	// Cluster names the log group /aws/containerinsights/<Cluster>/application.
	Cluster string
	// LoghubDir holds the loghub *_2k.log samples the log lines come from.
	LoghubDir string
	// RareEvents is how many events carry the rare token.
	RareEvents int
	// ZipfS is the exponent of the events-per-stream distribution.
	ZipfS float64
	// Levels adds a top-level "level" field ("error", "warn" or "info",
	// from the line's text) to every record, as an application that logs
	// JSON and a Fluent Bit parser give: the Logs Insights benchmark
	// filters on it. Off by default, so the log server benchmark's corpus
	// stays byte for byte what its recorded figures measured.
	Levels bool
}

// defaultLoghubDir finds shared/corpus/loghub beside the repository (the
// layout of a checkout and of CI), from this source file's location.
func defaultLoghubDir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "..", "shared", "corpus", "loghub")
}

// DefaultCorpusOptions is the shape: 200 streams, 2M events, 24h.
func DefaultCorpusOptions() CorpusOptions {
	return CorpusOptions{
		Seed:       42,
		Events:     2_000_000,
		Streams:    200,
		End:        time.Now().Truncate(time.Second),
		Span:       24 * time.Hour,
		Cluster:    "bench",
		LoghubDir:  defaultLoghubDir(),
		RareEvents: 5,
		ZipfS:      1.0,
	}
}

// StreamInfo describes one generated stream.
type StreamInfo struct {
	Name     string
	Events   int
	MsgBytes int64 // sum of len(message)
	FirstTS  int64 // ms
	LastTS   int64 // ms
	Sources  []string
	// Namespace is the pod's Kubernetes namespace.
	Namespace string
	// ErrorEvents counts the records with "level":"error" (Levels only).
	ErrorEvents int
}

// Batch is one pre-encoded PutLogEvents request body.
type Batch struct {
	Stream   int // index into Corpus.Streams
	Seq      int // position among its stream's batches
	Body     []byte
	Events   int
	MsgBytes int64 // sum of len(message)
	FirstTS  int64
	LastTS   int64
	Errors   int // records with "level":"error" (CorpusOptions.Levels)
}

// Corpus is a generated data set, already split into request bodies.
type Corpus struct {
	Opts       CorpusOptions
	Group      string
	Streams    []StreamInfo
	Batches    []Batch // per stream in order; streams in index order
	Events     int
	MsgBytes   int64 // raw message bytes: the denominator
	BodyBytes  int64 // request payload bytes
	RareToken  string
	RareCount  int
	RareStream []string // streams holding the rare events (with repeats)
}

// podSpec is one deployment the generated cluster runs.
type podSpec struct {
	namespace string
	app       string
	image     string
	sources   []string // loghub files (without _2k.log)
}

// deployments are the workloads streams are drawn from; each container
// logs text from one or two loghub systems.
var deployments = []podSpec{
	{"web", "httpd-frontend", "public.ecr.aws/docker/library/httpd:2.4.58", []string{"Apache"}},
	{"web", "auth-gateway", "123456789012.dkr.ecr.us-west-2.amazonaws.com/auth-gateway:v3.2.1", []string{"OpenSSH", "Linux"}},
	{"storage", "hdfs-datanode", "123456789012.dkr.ecr.us-west-2.amazonaws.com/hdfs:3.3.6", []string{"HDFS"}},
	{"storage", "zookeeper", "public.ecr.aws/bitnami/zookeeper:3.9.1", []string{"Zookeeper"}},
	{"batch", "mapreduce-am", "123456789012.dkr.ecr.us-west-2.amazonaws.com/hadoop:3.3.6", []string{"Hadoop"}},
	{"batch", "spark-executor", "public.ecr.aws/bitnami/spark:3.5.0", []string{"Spark", "Hadoop"}},
	{"cloud", "nova-api", "123456789012.dkr.ecr.us-west-2.amazonaws.com/nova-api:27.1.0", []string{"OpenStack"}},
	{"cloud", "nova-compute", "123456789012.dkr.ecr.us-west-2.amazonaws.com/nova-compute:27.1.0", []string{"OpenStack", "Linux"}},
	{"kube-system", "node-syslog", "123456789012.dkr.ecr.us-west-2.amazonaws.com/syslog-forwarder:1.8.0", []string{"Linux"}},
	{"payments", "checkout-api", "123456789012.dkr.ecr.us-west-2.amazonaws.com/checkout-api:2024.11.3", []string{"Apache", "Spark"}},
	{"payments", "ledger-worker", "123456789012.dkr.ecr.us-west-2.amazonaws.com/ledger-worker:1.14.2", []string{"Zookeeper", "HDFS"}},
	{"search", "indexer", "123456789012.dkr.ecr.us-west-2.amazonaws.com/indexer:0.9.7", []string{"Hadoop", "OpenStack"}},
}

// stream is everything needed to generate one stream's records.
type stream struct {
	info   StreamInfo
	spec   podSpec
	k8s    []byte // `,"kubernetes":{…}}`
	lines  []string
	events int
	rare   []int // sorted event indexes that carry the rare token
}

// Generate builds the corpus: stream metadata, then every stream's events
// encoded into PutLogEvents bodies, streams in parallel (each has its own
// random source, so the result does not depend on scheduling).
func Generate(o CorpusOptions) (*Corpus, error) {
	if o.Events < o.Streams || o.Streams < 1 {
		return nil, fmt.Errorf("need at least one event per stream (events %d, streams %d)", o.Events, o.Streams)
	}
	files, err := loadLoghub(o.LoghubDir)
	if err != nil {
		return nil, err
	}
	c := &Corpus{
		Opts:      o,
		Group:     "/aws/containerinsights/" + o.Cluster + "/application",
		RareToken: "RareToken" + strconv.FormatUint(o.Seed, 10),
	}
	streams, err := planStreams(o, files)
	if err != nil {
		return nil, err
	}
	perStream := make([][]Batch, len(streams))
	var wg sync.WaitGroup
	next := make(chan int)
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for i := range next {
				perStream[i] = genStream(o, c.Group, c.RareToken, i, streams[i])
			}
		})
	}
	for i := range streams {
		next <- i
	}
	close(next)
	wg.Wait()
	for i, s := range streams {
		info := s.info
		for _, b := range perStream[i] {
			info.MsgBytes += b.MsgBytes
			info.ErrorEvents += b.Errors
			c.BodyBytes += int64(len(b.Body))
		}
		info.FirstTS = perStream[i][0].FirstTS
		info.LastTS = perStream[i][len(perStream[i])-1].LastTS
		c.Streams = append(c.Streams, info)
		c.Batches = append(c.Batches, perStream[i]...)
		c.Events += info.Events
		c.MsgBytes += info.MsgBytes
		c.RareCount += len(s.rare)
		for range s.rare {
			c.RareStream = append(c.RareStream, info.Name)
		}
	}
	return c, nil
}

// loadLoghub reads every *_2k.log sample, keyed by system name.
func loadLoghub(dir string) (map[string][]string, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "*_2k.log"))
	if err != nil {
		return nil, err
	}
	if len(paths) == 0 {
		return nil, fmt.Errorf("no loghub samples (*_2k.log) in %s", dir)
	}
	files := map[string][]string{}
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			return nil, err
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		var lines []string
		for sc.Scan() {
			if l := strings.TrimRight(sc.Text(), "\r "); l != "" {
				lines = append(lines, l)
			}
		}
		f.Close()
		if err := sc.Err(); err != nil {
			return nil, fmt.Errorf("read %s: %w", p, err)
		}
		files[strings.TrimSuffix(filepath.Base(p), "_2k.log")] = lines
	}
	return files, nil
}

// planStreams names the streams, sizes them (Zipf by rank, ranks shuffled)
// and places the rare events.
func planStreams(o CorpusOptions, files map[string][]string) ([]*stream, error) {
	r := rand.New(rand.NewPCG(o.Seed, 0x5eed))
	weights := make([]float64, o.Streams)
	var sum float64
	for i := range weights {
		weights[i] = 1 / math.Pow(float64(i+1), o.ZipfS)
		sum += weights[i]
	}
	counts := make([]int, o.Streams)
	left := o.Events
	for i := range counts {
		counts[i] = max(1, int(float64(o.Events)*weights[i]/sum))
		left -= counts[i]
	}
	for i := 0; left != 0; i = (i + 1) % o.Streams { // rounding: spread the rest
		if left > 0 {
			counts[i]++
			left--
		} else if counts[i] > 1 {
			counts[i]--
			left++
		}
	}
	r.Shuffle(len(counts), func(i, j int) { counts[i], counts[j] = counts[j], counts[i] })

	nodes := make([]string, 8)
	for i := range nodes {
		nodes[i] = fmt.Sprintf("ip-10-0-%d-%d.us-west-2.compute.internal", 16*(i%3)+r.IntN(16), 2+r.IntN(250))
	}
	streams := make([]*stream, o.Streams)
	seen := map[string]bool{}
	for i := range streams {
		spec := deployments[i%len(deployments)]
		rsHash := randString(r, "bcdfghjklmnpqrstvwxz2456789", 10)
		var podName string
		for {
			podName = spec.app + "-" + rsHash + "-" + randString(r, "bcdfghjklmnpqrstvwxz2456789", 5)
			if !seen[podName] {
				seen[podName] = true
				break
			}
		}
		dockerID := randString(r, "0123456789abcdef", 64)
		var lines []string
		for _, src := range spec.sources {
			l, ok := files[src]
			if !ok {
				return nil, fmt.Errorf("loghub sample %s_2k.log missing from %s", src, o.LoghubDir)
			}
			lines = append(lines, l...)
		}
		if len(spec.sources) > 1 { // interleave two systems' lines
			r.Shuffle(len(lines), func(a, b int) { lines[a], lines[b] = lines[b], lines[a] })
		}
		start := r.IntN(len(lines))
		lines = append(lines[start:len(lines):len(lines)], lines[:start]...)
		s := &stream{
			info: StreamInfo{
				// Container Insights' Fluentd-compatible stream name: the
				// container log file name without ".log".
				Name:      podName + "_" + spec.namespace + "_" + spec.app + "-" + dockerID,
				Events:    counts[i],
				Sources:   spec.sources,
				Namespace: spec.namespace,
			},
			spec:   spec,
			lines:  lines,
			events: counts[i],
		}
		s.k8s = k8sObject(r, spec, podName, rsHash, nodes[r.IntN(len(nodes))], dockerID)
		streams[i] = s
	}
	// Rare events: uniform over all events, so uniform over the time span.
	picked := map[int]bool{}
	for len(picked) < min(o.RareEvents, o.Events) {
		picked[r.IntN(o.Events)] = true
	}
	for g := range picked {
		for _, s := range streams {
			if g < s.events {
				s.rare = append(s.rare, g)
				break
			}
			g -= s.events
		}
	}
	for _, s := range streams {
		slices.Sort(s.rare)
	}
	return streams, nil
}

// k8sObject renders the Fluent Bit kubernetes filter's object for a pod,
// the same for every record of the container.
func k8sObject(r *rand.Rand, spec podSpec, podName, rsHash, host, dockerID string) []byte {
	var b []byte
	b = append(b, `,"kubernetes":{"pod_name":`...)
	b = appendJSONString(b, podName)
	b = append(b, `,"namespace_name":`...)
	b = appendJSONString(b, spec.namespace)
	b = append(b, `,"pod_id":`...)
	u := randString(r, "0123456789abcdef", 32)
	b = appendJSONString(b, u[:8]+"-"+u[8:12]+"-"+u[12:16]+"-"+u[16:20]+"-"+u[20:])
	b = append(b, `,"labels":{"app":`...)
	b = appendJSONString(b, spec.app)
	b = append(b, `,"app.kubernetes.io/part-of":`...)
	b = appendJSONString(b, spec.namespace)
	b = append(b, `,"pod-template-hash":`...)
	b = appendJSONString(b, rsHash)
	b = append(b, `},"annotations":{"kubernetes.io/psp":"eks.privileged","prometheus.io/scrape":"true","prometheus.io/port":"9102"},"host":`...)
	b = appendJSONString(b, host)
	b = append(b, `,"container_name":`...)
	b = appendJSONString(b, spec.app)
	b = append(b, `,"docker_id":`...)
	b = appendJSONString(b, dockerID)
	image, _, _ := strings.Cut(spec.image, ":")
	b = append(b, `,"container_hash":`...)
	b = appendJSONString(b, image+"@sha256:"+randString(r, "0123456789abcdef", 64))
	b = append(b, `,"container_image":`...)
	b = appendJSONString(b, spec.image)
	return append(b, "}}"...)
}

// genStream generates one stream's events and packs them into batches of at
// most maxBatchBytes (AWS counting) and maxBatchEvents.
func genStream(o CorpusOptions, group, rareToken string, idx int, s *stream) []Batch {
	r := rand.New(rand.NewPCG(o.Seed, uint64(idx)+1))
	endNs := o.End.UnixNano()
	spanNs := int64(o.Span)
	// Timestamps uniform over the span, at least a minute inside it so a
	// batch never spans more than 24 hours and clocks may differ a little.
	ts := make([]int64, s.events)
	lo := endNs - spanNs + int64(time.Minute)
	for i := range ts {
		ts[i] = lo + r.Int64N(spanNs-int64(time.Minute)-int64(time.Second))
	}
	slices.Sort(ts)

	head := []byte(`{"logGroupName":`)
	head = appendJSONString(head, group)
	head = append(head, `,"logStreamName":`...)
	head = appendJSONString(head, s.info.Name)
	head = append(head, `,"logEvents":[`...)

	var batches []Batch
	var cur Batch
	startBatch := func() {
		cur = Batch{Stream: idx, Seq: len(batches), Body: make([]byte, 0, maxBatchBytes+maxBatchBytes/4)}
		cur.Body = append(cur.Body, head...)
	}
	finish := func() {
		cur.Body = append(cur.Body, "]}"...)
		batches = append(batches, cur)
	}
	startBatch()
	var msg, line []byte
	rare := s.rare
	renum := newRenumberer(r)
	for i, t := range ts {
		line = renum.line(line[:0], s.lines[i%len(s.lines)], i/len(s.lines))
		if len(rare) > 0 && rare[0] == i {
			line = append(line, ' ')
			line = append(line, rareToken...)
			rare = rare[1:]
		}
		msg = msg[:0]
		msg = append(msg, `{"log":`...)
		msg = appendJSONString(msg, string(line))
		msg = append(msg, `,"stream":"`...)
		if isErrorLine(line) {
			msg = append(msg, "stderr"...)
		} else {
			msg = append(msg, "stdout"...)
		}
		isErr := false
		if o.Levels {
			lvl := lineLevel(line)
			msg = append(msg, `","level":"`...)
			msg = append(msg, lvl...)
			isErr = lvl == "error"
		}
		msg = append(msg, `","time":"`...)
		msg = time.Unix(0, t).UTC().AppendFormat(msg, "2006-01-02T15:04:05.000000000Z")
		msg = append(msg, '"')
		msg = append(msg, s.k8s...)
		ms := t / int64(time.Millisecond)
		if cur.Events == maxBatchEvents || cur.MsgBytes+int64(cur.Events+1)*eventOverhead+int64(len(msg)) > maxBatchBytes {
			finish()
			startBatch()
		}
		if cur.Events > 0 {
			cur.Body = append(cur.Body, ',')
		} else {
			cur.FirstTS = ms
		}
		cur.Body = append(cur.Body, `{"timestamp":`...)
		cur.Body = strconv.AppendInt(cur.Body, ms, 10)
		cur.Body = append(cur.Body, `,"message":`...)
		cur.Body = appendJSONString(cur.Body, string(msg))
		cur.Body = append(cur.Body, '}')
		cur.Events++
		if isErr {
			cur.Errors++
		}
		cur.MsgBytes += int64(len(msg))
		cur.LastTS = ms
	}
	finish()
	return batches
}

// renumberer gives each reuse of a loghub sample new numbers: within one
// pass over the sample (a "cycle"), every distinct run of two or more
// digits maps to one random run of the same length, so a value repeated
// across lines (a pid, an IP octet, a block id) stays repeated, as in a
// fresh window of the same system's log; across cycles the values differ,
// so cycling through 2,000 lines never repeats a line exactly.
type renumberer struct {
	r     *rand.Rand
	cycle int
	m     map[string]string
}

func newRenumberer(r *rand.Rand) *renumberer {
	return &renumberer{r: r, cycle: -1, m: map[string]string{}}
}

// line appends line, renumbered for cycle, to dst.
func (n *renumberer) line(dst []byte, line string, cycle int) []byte {
	if cycle != n.cycle {
		n.cycle = cycle
		clear(n.m)
	}
	for i := 0; i < len(line); {
		c := line[i]
		if c < '0' || c > '9' {
			dst = append(dst, c)
			i++
			continue
		}
		j := i
		for j < len(line) && line[j] >= '0' && line[j] <= '9' {
			j++
		}
		run := line[i:j]
		if len(run) < 2 {
			dst = append(dst, run...)
		} else {
			v, ok := n.m[run]
			if !ok {
				v = randString(n.r, "0123456789", len(run))
				n.m[run] = v
			}
			dst = append(dst, v...)
		}
		i = j
	}
	return dst
}

// lineLevel is the level an application would have logged the line at.
func lineLevel(line []byte) string {
	s := string(line)
	switch {
	case strings.Contains(s, "ERROR") || strings.Contains(s, "[error]") || strings.Contains(s, "FATAL"):
		return "error"
	case strings.Contains(s, "WARN") || strings.Contains(s, "[warn]"):
		return "warn"
	}
	return "info"
}

func isErrorLine(line []byte) bool {
	s := string(line)
	return strings.Contains(s, "ERROR") || strings.Contains(s, "[error]") || strings.Contains(s, "WARN")
}

func randString(r *rand.Rand, alphabet string, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[r.IntN(len(alphabet))]
	}
	return string(b)
}

// appendJSONString appends s as a JSON string the way Fluent Bit and the
// AWS SDKs write it: only '"', '\\' and control characters escaped (no
// HTML escaping, unlike encoding/json).
func appendJSONString(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		dst = append(dst, s[start:i]...)
		switch c {
		case '"', '\\':
			dst = append(dst, '\\', c)
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\r':
			dst = append(dst, '\\', 'r')
		case '\t':
			dst = append(dst, '\\', 't')
		default:
			dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		}
		start = i + 1
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// clientPlan splits the batches among n clients: each stream belongs to one
// client (so its batches arrive in order, as from one agent), streams are
// balanced by bytes, and each client sends its batches in time order, so
// all streams advance together as in a replay of the day.
func clientPlan(c *Corpus, n int) [][]*Batch {
	order := make([]int, len(c.Streams))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(c.Streams[b].MsgBytes, c.Streams[a].MsgBytes) })
	owner := make([]int, len(c.Streams))
	load := make([]int64, n)
	for _, s := range order {
		best := 0
		for k := range load {
			if load[k] < load[best] {
				best = k
			}
		}
		owner[s] = best
		load[best] += c.Streams[s].MsgBytes
	}
	plan := make([][]*Batch, n)
	for i := range c.Batches {
		b := &c.Batches[i]
		plan[owner[b.Stream]] = append(plan[owner[b.Stream]], b)
	}
	for _, p := range plan {
		slices.SortStableFunc(p, func(a, b *Batch) int { return cmp.Compare(a.FirstTS, b.FirstTS) })
	}
	return plan
}

// zstdBound compresses each stream's messages (newline-joined) in
// independent blocks of blockSize with zstd at its default level: a
// reference for what a block-per-stream store can reach on this corpus.
func zstdBound(c *Corpus, blockSize int) (int64, error) {
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedDefault))
	if err != nil {
		return 0, err
	}
	defer enc.Close()
	var total int64
	cur := make([][]byte, len(c.Streams))
	var comp []byte
	flush := func(s int) {
		comp = enc.EncodeAll(cur[s], comp[:0])
		total += int64(len(comp))
		cur[s] = cur[s][:0]
	}
	for _, b := range c.Batches {
		var body struct {
			LogEvents []struct {
				Message string `json:"message"`
			} `json:"logEvents"`
		}
		if err := json.Unmarshal(b.Body, &body); err != nil {
			return 0, err
		}
		for _, e := range body.LogEvents {
			cur[b.Stream] = append(append(cur[b.Stream], e.Message...), '\n')
			if len(cur[b.Stream]) >= blockSize {
				flush(b.Stream)
			}
		}
	}
	for s := range cur {
		if len(cur[s]) > 0 {
			flush(s)
		}
	}
	return total, nil
}
