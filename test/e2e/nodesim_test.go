package e2e

import (
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// criTimeFormat is containerd's CRI log timestamp: RFC 3339 with a fixed
// nine-digit fraction (containerd's timestampFormat), unlike RFC3339Nano,
// which trims zeros.
const criTimeFormat = "2006-01-02T15:04:05.000000000Z07:00"

// kubeletRotatedFormat is kubelet's suffix of a rotated container log
// (pkg/kubelet/logs/container_log_manager.go, timestampFormat).
const kubeletRotatedFormat = "20060102-150405"

// nodeSim writes container logs the way containerd and kubelet do on a node:
// pods/<ns>_<pod>_<uid>/<container>/0.log in the CRI format, a link
// containers/<pod>_<ns>_<container>-<id>.log to it, and kubelet's rotation
// (rename to 0.log.<timestamp>, reopen; at the next rotation the plain
// rotated files are gzipped and the oldest beyond maxFiles removed).
//
// Every message carries its container's index and a sequence number, and
// its text is a pure function of the two (simMessage), so what the server
// holds can be checked line by line without keeping the lines.
type nodeSim struct {
	root     string // holds containers/ and pods/
	maxSize  int64  // rotate 0.log past this size
	maxFiles int    // kubelet's containerLogMaxFiles (current file included)
	conts    []*simContainer

	stopOnce sync.Once
	stop     chan struct{}
	done     sync.WaitGroup

	mu   sync.Mutex
	errs []error
}

// simContainer is one container's log: what was written so far.
type simContainer struct {
	idx                     int
	ns, pod, uid, name, id  string
	dir, link, stream       string
	weight                  int // relative write rate
	mu                      sync.Mutex
	f                       *os.File
	size                    int64
	seq                     int       // next sequence number; all below are written
	lastRotated             time.Time // timestamp of the newest rotated name
	rotations               int
	partialEvery, stderrMod int
	rotatedAt               []int // seq of the first line after each reopen
}

// newNodeSim creates n containers (in n/2 pods of two containers, over a
// few namespaces) under root ("": a fresh temp dir); a few of them ("hot")
// write ten times as often as the rest, so they rotate many times during
// a test. On ext4 (the temp dir here) a new 0.log usually gets the inode
// of a rotated file just removed, as on a real node.
func newNodeSim(t *testing.T, root string, n int, maxSize int64, maxFiles int) *nodeSim {
	t.Helper()
	if root == "" {
		root = t.TempDir()
	}
	s := &nodeSim{root: root, maxSize: maxSize, maxFiles: maxFiles, stop: make(chan struct{})}
	if err := os.MkdirAll(filepath.Join(root, "containers"), 0o755); err != nil {
		t.Fatal(err)
	}
	nss := []string{"default", "kube-system", "payments", "web-frontend"}
	for i := range n {
		c := &simContainer{
			idx:  i,
			ns:   nss[i%len(nss)],
			pod:  fmt.Sprintf("app-%d-7c9f8d-x%03d", i/2, i/2),
			name: []string{"main", "sidecar"}[i%2],
		}
		h := sha256.Sum256(fmt.Appendf(nil, "pod-%d", i/2))
		hx := hex.EncodeToString(h[:])
		c.uid = fmt.Sprintf("%s-%s-%s-%s-%s", hx[:8], hx[8:12], hx[12:16], hx[16:20], hx[20:32])
		id := sha256.Sum256(fmt.Appendf(nil, "container-%d", i))
		c.id = hex.EncodeToString(id[:])
		c.dir = filepath.Join(root, "pods", c.ns+"_"+c.pod+"_"+c.uid, c.name)
		c.stream = fmt.Sprintf("%s_%s_%s-%s", c.pod, c.ns, c.name, c.id)
		c.link = filepath.Join(root, "containers", c.stream+".log")
		c.weight = 1
		if i%15 == 0 {
			c.weight = 10
		}
		c.partialEvery, c.stderrMod = 7, 5
		if err := os.MkdirAll(c.dir, 0o755); err != nil {
			t.Fatal(err)
		}
		f, err := os.OpenFile(filepath.Join(c.dir, "0.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
		if err != nil {
			t.Fatal(err)
		}
		c.f = f
		if err := os.Symlink(filepath.Join(c.dir, "0.log"), c.link); err != nil {
			t.Fatal(err)
		}
		s.conts = append(s.conts, c)
	}
	t.Cleanup(func() {
		s.Stop()
		for _, c := range s.conts {
			c.f.Close()
		}
	})
	return s
}

// glob is the agent's container_logs setting for this node.
func (s *nodeSim) glob() string { return filepath.Join(s.root, "containers", "*.log") }

// simMessage is the text of line seq of container idx: unique, and of a
// length that varies between about 40 and 300 bytes.
func simMessage(idx, seq int) string {
	n := (idx*131+seq*977)%260 + 8
	pad := make([]byte, n)
	for i := range pad {
		pad[i] = "abcdefghijklmnopqrstuvwxyz0123456789 -_=:"[(idx+seq+i*7)%41]
	}
	return fmt.Sprintf("c=%d seq=%d msg=%s", idx, seq, pad)
}

// simStream is the CRI stream line seq is written to.
func (c *simContainer) simStream(seq int) string {
	if seq%c.stderrMod == 0 {
		return "stderr"
	}
	return "stdout"
}

// Start writes about linesPerSec lines per second in total until Stop, and
// runs kubelet's rotation check every 100ms.
func (s *nodeSim) Start(linesPerSec int) {
	total := 0
	for _, c := range s.conts {
		total += c.weight
	}
	// A weighted pick list: hot containers appear weight times.
	var pick []*simContainer
	for _, c := range s.conts {
		for range c.weight {
			pick = append(pick, c)
		}
	}
	s.done.Add(2)
	go func() {
		defer s.done.Done()
		rng := rand.New(rand.NewPCG(1, 2))
		const tick = 10 * time.Millisecond
		perTick := float64(linesPerSec) * tick.Seconds()
		start := time.Now()
		written := 0
		t := time.NewTicker(tick)
		defer t.Stop()
		for {
			select {
			case <-s.stop:
				return
			case now := <-t.C:
				due := int(perTick * float64(now.Sub(start)/tick))
				for ; written < due; written++ {
					c := pick[rng.IntN(len(pick))]
					if err := c.writeLine(); err != nil {
						s.fail(err)
						return
					}
				}
			}
		}
	}()
	go func() {
		defer s.done.Done()
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-s.stop:
				return
			case <-t.C:
				for _, c := range s.conts {
					c.mu.Lock()
					big := c.size >= s.maxSize
					c.mu.Unlock()
					if !big {
						continue
					}
					if err := s.rotate(c); err != nil {
						s.fail(err)
						return
					}
				}
			}
		}
	}()
}

// Stop stops writing and rotating; it returns once both have stopped.
func (s *nodeSim) Stop() {
	s.stopOnce.Do(func() { close(s.stop) })
	s.done.Wait()
}

func (s *nodeSim) fail(err error) {
	s.mu.Lock()
	s.errs = append(s.errs, err)
	s.mu.Unlock()
}

// Err is the first error the simulator hit, if any.
func (s *nodeSim) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.errs) > 0 {
		return s.errs[0]
	}
	return nil
}

// Written is the number of lines written so far, and rotations done.
func (s *nodeSim) Written() (lines, rotations int) {
	for _, c := range s.conts {
		c.mu.Lock()
		lines += c.seq
		rotations += c.rotations
		c.mu.Unlock()
	}
	return lines, rotations
}

// writeLine writes the container's next line as containerd does: one
// write per CRI line; every partialEvery-th message is split into a P
// and an F line (written under the same lock, so a reopen cannot fall
// between them).
func (c *simContainer) writeLine() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	msg := simMessage(c.idx, c.seq)
	stream := c.simStream(c.seq)
	var parts []string
	if c.seq%c.partialEvery == 3 {
		cut := len(msg) / 2
		ts := time.Now().UTC().Format(criTimeFormat)
		parts = append(parts, ts+" "+stream+" P "+msg[:cut]+"\n")
		parts = append(parts, time.Now().UTC().Format(criTimeFormat)+" "+stream+" F "+msg[cut:]+"\n")
	} else {
		parts = append(parts, time.Now().UTC().Format(criTimeFormat)+" "+stream+" F "+msg+"\n")
	}
	for _, p := range parts {
		n, err := c.f.WriteString(p)
		c.size += int64(n)
		if err != nil {
			return fmt.Errorf("container %d: write: %w", c.idx, err)
		}
	}
	c.seq++
	return nil
}

// rotate is kubelet's rotateLog for one container: remove leftover .tmp
// files, gzip the plain rotated files (all but the one about to be made
// are compressed), remove the oldest beyond maxFiles-2 rotated ones, then
// rename 0.log to 0.log.<timestamp> and have the runtime reopen 0.log. The
// writer keeps writing into the renamed file until the reopen, as
// containerd does.
func (s *nodeSim) rotate(c *simContainer) error {
	log := filepath.Join(c.dir, "0.log")
	old, err := filepath.Glob(log + ".*")
	if err != nil {
		return err
	}
	var logs []string
	for _, l := range old {
		if strings.HasSuffix(l, ".tmp") {
			os.Remove(l)
			continue
		}
		logs = append(logs, l)
	}
	sort.Strings(logs)
	if keep := s.maxFiles - 2; len(logs) > keep {
		for _, l := range logs[:len(logs)-keep] {
			if err := os.Remove(l); err != nil {
				return fmt.Errorf("remove excess %s: %w", l, err)
			}
		}
		logs = logs[len(logs)-keep:]
	}
	for _, l := range logs {
		if strings.HasSuffix(l, ".gz") {
			continue
		}
		if err := gzipFile(l); err != nil {
			return err
		}
	}
	// kubelet's timestamp has one-second resolution; a container rotating
	// twice in a second gets the next free second so names stay unique
	// and sort in rotation order.
	ts := time.Now().UTC().Truncate(time.Second)
	if !ts.After(c.lastRotated) {
		ts = c.lastRotated.Add(time.Second)
	}
	c.lastRotated = ts
	if err := os.Rename(log, log+"."+ts.Format(kubeletRotatedFormat)); err != nil {
		return fmt.Errorf("rotate %s: %w", log, err)
	}
	// containerd notices the reopen request a moment later.
	time.Sleep(time.Millisecond)
	c.mu.Lock()
	defer c.mu.Unlock()
	f, err := os.OpenFile(log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
	if err != nil {
		return fmt.Errorf("reopen %s: %w", log, err)
	}
	c.f.Close()
	c.f, c.size = f, 0
	c.rotations++
	c.rotatedAt = append(c.rotatedAt, c.seq)
	return nil
}

// gzipFile is kubelet's compressLog: gzip f into <f>.tmp, rename that to
// <f>.gz (so a reader never sees a half-written archive), then remove f.
func gzipFile(name string) error {
	r, err := os.Open(name)
	if err != nil {
		return fmt.Errorf("compress %s: %w", name, err)
	}
	defer r.Close()
	tmp := name + ".tmp"
	w, err := os.OpenFile(tmp, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o640)
	if err != nil {
		return fmt.Errorf("compress %s: %w", name, err)
	}
	zw := gzip.NewWriter(w)
	if _, err := io.Copy(zw, r); err != nil {
		w.Close()
		return fmt.Errorf("compress %s: %w", name, err)
	}
	if err := zw.Close(); err != nil {
		w.Close()
		return fmt.Errorf("compress %s: %w", name, err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("compress %s: %w", name, err)
	}
	if err := os.Rename(tmp, name+".gz"); err != nil {
		return fmt.Errorf("compress %s: %w", name, err)
	}
	return os.Remove(name)
}

// TestAgentNodeSimRotatesLikeKubelet checks the simulator itself: after a
// few seconds of fast writing with a tiny maxSize, a hot container has its
// current file, at most maxFiles-1 rotated ones of which only the newest is
// plain, and the files in name order hold one unbroken run of lines ending
// with the last line written.
func TestAgentNodeSimRotatesLikeKubelet(t *testing.T) {
	s := newNodeSim(t, "", 4, 8<<10, 4)
	s.Start(2000)
	time.Sleep(2 * time.Second)
	s.Stop()
	if err := s.Err(); err != nil {
		t.Fatal(err)
	}
	c := s.conts[0] // hot
	if c.rotations < 3 {
		t.Fatalf("%d rotations, want several", c.rotations)
	}
	files, err := filepath.Glob(filepath.Join(c.dir, "0.log.*"))
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(files)
	if len(files) > s.maxFiles-1 {
		t.Errorf("%d rotated files, want at most %d: %v", len(files), s.maxFiles-1, files)
	}
	for i, f := range files {
		if gz := strings.HasSuffix(f, ".gz"); gz != (i < len(files)-1) {
			t.Errorf("%s: only the newest rotated file should be plain: %v", f, files)
		}
	}
	var text strings.Builder
	for _, f := range append(files, filepath.Join(c.dir, "0.log")) {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasSuffix(f, ".gz") {
			zr, err := gzip.NewReader(strings.NewReader(string(b)))
			if err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			if b, err = io.ReadAll(zr); err != nil {
				t.Fatalf("%s: %v", f, err)
			}
		}
		text.Write(b)
	}
	next := -1
	partial := ""
	for _, line := range strings.Split(strings.TrimSuffix(text.String(), "\n"), "\n") {
		f := strings.SplitN(line, " ", 4)
		if len(f) != 4 {
			t.Fatalf("not a CRI line: %q", line)
		}
		if _, err := time.Parse(time.RFC3339Nano, f[0]); err != nil {
			t.Fatalf("bad time in %q: %v", line, err)
		}
		if f[2] == "P" {
			partial += f[3]
			continue
		}
		msg := partial + f[3]
		partial = ""
		var idx, seq int
		if _, err := fmt.Sscanf(msg, "c=%d seq=%d ", &idx, &seq); err != nil {
			if next == -1 { // the oldest file's head may be a removed file's tail
				continue
			}
			t.Fatalf("bad line %q: %v", line, err)
		}
		if next != -1 && seq != next || msg != simMessage(idx, seq) || f[1] != c.simStream(seq) {
			t.Fatalf("line %q: want seq %d", line, next)
		}
		next = seq + 1
	}
	if next != c.seq {
		t.Errorf("files end at seq %d, %d written", next, c.seq)
	}
	if target, err := os.Readlink(c.link); err != nil || target != filepath.Join(c.dir, "0.log") {
		t.Errorf("link %s -> %q (%v)", c.link, target, err)
	}
}

// rotatedNear lists the reopens within 3000 lines of seq.
func (c *simContainer) rotatedNear(seq int) []int {
	var out []int
	for _, r := range c.rotatedAt {
		if r > seq-3000 && r < seq+3000 {
			out = append(out, r)
		}
	}
	return out
}

// seqNow is the next sequence number.
func (c *simContainer) seqNow() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.seq
}
