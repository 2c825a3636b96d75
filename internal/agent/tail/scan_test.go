package tail

import (
	"strings"
	"sync"
	"testing"
	"time"
)

// countFS counts the calls the tailer makes, to pin what a quiet scan costs.
type countFS struct {
	*memFS
	mu    sync.Mutex
	calls map[string]int
}

func (c *countFS) count(op string) {
	c.mu.Lock()
	c.calls[op]++
	c.mu.Unlock()
}

func (c *countFS) Glob(p string) ([]string, error) {
	op := "glob"
	if strings.HasSuffix(p, ".*") {
		op = "globSiblings"
	}
	c.count(op)
	return c.memFS.Glob(p)
}

func (c *countFS) EvalSymlinks(p string) (string, error) {
	c.count("evalSymlinks")
	return c.memFS.EvalSymlinks(p)
}

func (c *countFS) Stat(p string) (FileInfo, error) {
	c.count("stat")
	return c.memFS.Stat(p)
}

func (c *countFS) reset() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	got := c.calls
	c.calls = map[string]int{}
	return got
}

// A quiet scan costs one glob per include pattern, a stat through each link
// and a stat of its directory; a rotated plain sibling is stat'ed, a .gz is
// not. Anything moving in the directory brings back the full listing.
func TestScanQuietCost(t *testing.T) {
	mem := newMemFS()
	cfs := &countFS{memFS: mem, calls: map[string]int{}}
	h := newHarness(t, mem, nil, Config{Include: []string{"/var/log/containers/*.log"}})
	h.tl.fs = cfs
	kubeletFile(mem)
	mem.append(pod, "a\n")
	mem.append(pod+".1", "rotated plain\n")
	mem.gzip(pod+".1", pod+".1.gz")
	mem.append(pod+".2", "rotated plain\n")
	h.poll()
	h.poll()
	cfs.reset()
	h.expect("")
	want := map[string]int{"glob": 1, "stat": 3} // link, directory, the plain sibling
	if got := cfs.reset(); !equalCalls(got, want) {
		t.Fatalf("quiet scan made %v, want %v", got, want)
	}
	mem.append(pod+".3", "new sibling\n")
	h.expect("new sibling\n")
	if got := cfs.reset(); got["globSiblings"] != 1 {
		t.Fatalf("a new sibling did not bring back the listing: %v", got)
	}
	h.expect("")
	if got := cfs.reset(); got["globSiblings"] != 0 || got["evalSymlinks"] != 0 {
		t.Fatalf("quiet scan after the change made %v", got)
	}
	h.now = h.now.Add(rescanEvery)
	h.expect("")
	if got := cfs.reset(); got["globSiblings"] != 1 || got["evalSymlinks"] != 1 {
		t.Fatalf("the safety net did not resolve and list again: %v", got)
	}
}

func equalCalls(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// A rename rotation is seen at the next poll from the live inode alone,
// even if the directory's mtime did not move (impossible on Linux: here
// the rotator is made to leave it alone).
func TestScanRotationSeenByLiveInode(t *testing.T) {
	h := newHarness(t, nil, nil, Config{})
	kubeletFile(h.fs)
	h.fs.append(pod, "a\n")
	h.expect("a\n")
	h.expect("")
	h.fs.quietDirs = true
	h.fs.append(pod, "b-start")
	h.fs.rename(pod, pod+".20240101-000000")
	h.fs.append(pod+".20240101-000000", "-end\n")
	h.fs.create(pod)
	h.fs.append(pod, "c\n")
	if got := h.pollText(); got != "b-start-end\nc\n" {
		t.Fatalf("after rotation got %q", got)
	}
	h.expect("")
	// The old rotation compressed and a second rename, still without the
	// directory's mtime moving: the new live inode brings the listing back.
	h.fs.append(pod, "d\n")
	h.fs.gzip(pod+".20240101-000000", pod+".20240101-000000.gz")
	h.fs.rename(pod, pod+".20240102-000000")
	h.fs.create(pod)
	h.fs.append(pod, "e\n")
	h.expect("d\ne\n")
	for range 3 {
		h.expect("")
	}
	if got := h.counter(h.tl.m.rotations); got != 2 {
		t.Errorf("rotations = %v, want 2", got)
	}
}

// A sibling appearing with neither the directory's mtime nor the live inode
// moving (impossible on Linux) is still found by the safety net.
func TestScanSafetyNet(t *testing.T) {
	h := newHarness(t, nil, nil, Config{})
	kubeletFile(h.fs)
	h.fs.append(pod, "a\n")
	h.expect("a\n")
	h.fs.quietDirs = true
	h.fs.append(pod+".old", "unseen until the safety net\n")
	polls := 0
	var got string
	for ; got == "" && polls < 100; polls++ {
		got = h.pollText()
	}
	if got != "unseen until the safety net\n" {
		t.Fatalf("got %q", got)
	}
	if polls < 10 {
		t.Fatalf("found after %d polls: the listing was not cached", polls)
	}
	if max := int(rescanEvery/(250*time.Millisecond)) + 1; polls > max {
		t.Fatalf("found after %d polls, want at most %d", polls, max)
	}
}

// A link retargeted (kubelet never does, but a hand-made one may be) to
// another file is followed at the next poll: the stat through the link finds
// another inode.
func TestScanLinkRetargeted(t *testing.T) {
	h := newHarness(t, nil, nil, Config{})
	kubeletFile(h.fs)
	h.fs.append(pod, "a\n")
	h.expect("a\n")
	other := "/var/log/pods/ns_p_uid/d/0.log"
	h.fs.append(other, "x\n")
	h.fs.symlink(other, link)
	h.expect("x\n")
	h.fs.append(other, "y\n")
	h.expect("y\n")
}
