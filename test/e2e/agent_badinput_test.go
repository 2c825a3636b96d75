package e2e

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
	"unicode/utf8"
)

// badTree is a containers/ + pods/ tree the bad-input test fills by hand.
type badTree struct {
	t    *testing.T
	root string
}

// container creates pods/<ns>_<pod>_<uid>/<name>/0.log and its link in
// containers/, and returns the log's path and the stream name the agent
// ships it to.
func (b badTree) container(pod string) (path, stream string) {
	b.t.Helper()
	id := sha256.Sum256([]byte(pod))
	hx := hex.EncodeToString(id[:])
	dir := filepath.Join(b.root, "pods", "bad_"+pod+"_"+hx[:8]+"-0000-0000-0000-"+hx[8:20], "app")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.t.Fatal(err)
	}
	path = filepath.Join(dir, "0.log")
	stream = pod + "_bad_app-" + hx
	if err := os.Symlink(path, filepath.Join(b.root, "containers", stream+".log")); err != nil {
		b.t.Fatal(err)
	}
	return path, stream
}

// criLine is one complete CRI stdout line.
func criLine(msg string) string {
	return time.Now().UTC().Format(criTimeFormat) + " stdout F " + msg + "\n"
}

func appendFile(t *testing.T, path, s string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(s); err != nil {
		t.Fatal(err)
	}
}

// TestAgentBadInput feeds the agent files a node can really hold (binary
// junk, invalid UTF-8, a 5 MB line, a line cut off at EOF and completed
// later or never, a file deleted while it is being written and read, a
// link to nowhere, an unreadable file) among good lines: the agent keeps
// running, ships every good line exactly once, and counts and logs what it
// could not follow.
func TestAgentBadInput(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	srv := startServer(t, "", withKeys())
	b := badTree{t: t, root: t.TempDir()}
	if err := os.MkdirAll(filepath.Join(b.root, "containers"), 0o755); err != nil {
		t.Fatal(err)
	}
	// want[stream] are the good messages that must arrive, in order.
	want := map[string][]string{}
	good := func(stream string, n int) string {
		msg := fmt.Sprintf("good %s %d", stream[:strings.IndexByte(stream, '_')], n)
		want[stream] = append(want[stream], msg)
		return criLine(msg)
	}

	// Present before the agent starts.
	junk, junkS := b.container("junk")
	rng := rand.New(rand.NewPCG(7, 7))
	bin := make([]byte, 4096)
	for i := range bin {
		if bin[i] = byte(rng.UintN(256)); bin[i] == '\n' {
			bin[i] = 0
		}
	}
	appendFile(t, junk, good(junkS, 0)+string(bin)+"\n"+good(junkS, 1)+"\x00\x00\x00\n"+good(junkS, 2))

	utf, utfS := b.container("utf8")
	appendFile(t, utf, good(utfS, 0)+criLine("bad-utf8 \xff\xfe\xc3( end")+good(utfS, 1))

	huge, hugeS := b.container("huge")
	const hugeLen = 5 << 20
	appendFile(t, huge, good(hugeS, 0)+criLine("huge "+strings.Repeat("X", hugeLen))+good(hugeS, 1))

	trunc, truncS := b.container("trunc")
	appendFile(t, trunc, good(truncS, 0)+time.Now().UTC().Format(criTimeFormat)+" stdout F cut-then-completed")

	never, neverS := b.container("never")
	appendFile(t, never, good(neverS, 0)+time.Now().UTC().Format(criTimeFormat)+" stdout F cut-never-completed")

	// A link to nowhere, and a file nobody may read.
	if err := os.Symlink(filepath.Join(b.root, "pods", "gone", "0.log"),
		filepath.Join(b.root, "containers", "gone_bad_app-"+strings.Repeat("0", 64)+".log")); err != nil {
		t.Fatal(err)
	}
	locked, lockedS := b.container("locked")
	appendFile(t, locked, good(lockedS, 0))
	delete(want, lockedS) // it cannot be read; listed here only for the stream name
	if err := os.Chmod(locked, 0); err != nil {
		t.Fatal(err)
	}
	// A directory where kubelet's log file should be.
	dirLog, _ := b.container("dirlog")
	if err := os.Mkdir(dirLog, 0o755); err != nil {
		t.Fatal(err)
	}
	// Root reads a mode-000 file anyway: run the agent as nobody then, so
	// the file really is unreadable to it.
	var asUser *syscall.Credential
	if os.Geteuid() == 0 {
		asUser = &syscall.Credential{Uid: 65534, Gid: 65534}
		openUp(t, b.root)
	}

	a := startAgentAs(t, srv, agentOpts{glob: filepath.Join(b.root, "containers", "*.log")}, asUser)

	// A file deleted while it is being written and read, as when a pod is
	// removed: lines written before the delete must arrive.
	del, delS := b.container("deleted")
	df, err := os.OpenFile(del, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 40 {
		if _, err := df.WriteString(good(delS, i)); err != nil {
			t.Fatal(err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := os.Remove(del); err != nil {
		t.Fatal(err)
	}
	os.Remove(filepath.Join(b.root, "containers", delS+".log"))
	for i := range 5 { // after the delete, through the still open descriptor
		if _, err := df.WriteString(criLine(fmt.Sprintf("after-delete %d", i))); err != nil {
			t.Fatal(err)
		}
	}
	df.Close()

	// Complete the cut line, with good lines after it.
	time.Sleep(2 * time.Second)
	appendFile(t, trunc, " done\n"+good(truncS, 1))
	want[truncS] = []string{want[truncS][0], "cut-then-completed done", want[truncS][1]}
	appendFile(t, junk, good(junkS, 3))

	m := waitShipped(t, a, time.Minute)
	if !a.running() {
		t.Fatalf("agent died: %s", tailOf(a.output(), 3000))
	}
	got, err := readGroup(ctx, sdkReadClient(srv, readerKey, readerSecret), "/aws/containerinsights/e2e/application")
	if err != nil {
		t.Fatal(err)
	}
	msgs := map[string][]string{}
	for s, evs := range got {
		for _, e := range evs {
			rec, err := decodeRecord(e.msg)
			if err != nil {
				t.Errorf("%s: %v", s, err)
				continue
			}
			if !utf8.ValidString(rec.Log) {
				t.Errorf("%s: invalid UTF-8 shipped: %.80q", s, rec.Log)
			}
			msgs[s] = append(msgs[s], rec.Log)
		}
	}
	for s, w := range want {
		var goodGot []string
		for _, l := range msgs[s] {
			if strings.HasPrefix(l, "good ") || strings.HasPrefix(l, "cut-then") {
				goodGot = append(goodGot, l)
			}
		}
		if strings.Join(goodGot, "\n") != strings.Join(w, "\n") {
			t.Errorf("stream %s: good lines\n got %q\nwant %q", s[:strings.IndexByte(s, '_')], goodGot, w)
		}
	}

	// What happened to each bad input.
	var hugeBytes int
	for _, l := range msgs[hugeS] {
		hugeBytes += strings.Count(l, "X")
	}
	t.Logf("5 MB line: %d events in its stream, %d of %d bytes shipped; truncated events %v",
		len(msgs[hugeS]), hugeBytes, hugeLen, sumMetric(m, "kinsight_agent_output_truncated_events_total"))
	if hugeBytes == 0 {
		t.Errorf("nothing of the 5 MB line was shipped")
	}
	var utfLine string
	for _, l := range msgs[utfS] {
		if strings.HasPrefix(l, "bad-utf8") {
			utfLine = l
		}
	}
	if !strings.HasPrefix(utfLine, "bad-utf8 \uFFFD") || !strings.HasSuffix(utfLine, " end") {
		t.Errorf("invalid UTF-8 line shipped as %q, want its bytes replaced by U+FFFD", utfLine)
	}
	if n := len(msgs[junkS]) - len(want[junkS]); n != 2 {
		t.Errorf("junk: %d events besides the good lines, want the 2 junk lines passed through", n)
	}
	for _, l := range msgs[neverS] {
		if strings.Contains(l, "cut-never") {
			t.Logf("never-completed line shipped as %q", l)
		}
	}
	after := 0
	for _, l := range msgs[delS] {
		if strings.HasPrefix(l, "after-delete") {
			after++
		}
	}
	t.Logf("deleted file: %d of 5 lines written after the delete shipped; lost bytes %v", after,
		m[`kinsight_agent_tail_lost_bytes_total{reason="gone"}`])
	if n := len(msgs[lockedS]); n != 0 {
		t.Errorf("unreadable file: %d events shipped", n)
	}

	// Counted, and logged.
	if v := m[`kinsight_agent_tail_errors_total{reason="dangling_symlink"}`]; v < 1 {
		t.Errorf("dangling symlink not counted: %v", v)
	}
	if asUser != nil {
		if v := m[`kinsight_agent_tail_errors_total{reason="unreadable"}`]; v < 1 {
			t.Errorf("unreadable file not counted: %v", v)
		}
	}
	out := a.output()
	for _, s := range []string{"gone_bad_app", "bad_locked_"} {
		if asUser == nil && s == "bad_locked_" {
			continue
		}
		if !strings.Contains(out, s) {
			t.Errorf("agent did not log %s: %s", s, tailOf(out, 3000))
		}
	}
	var parseCounted bool
	for k, v := range m {
		if v > 0 && (strings.Contains(k, "invalid") || strings.Contains(k, "utf8")) {
			parseCounted = true
			t.Logf("%s %v", k, v)
		}
	}
	if !parseCounted {
		t.Errorf("the agent's /metrics counts no invalid lines or invalid UTF-8")
	}
}

// openUp lets another user reach root: every directory from root up to
// the temp dir gets o+rx.
func openUp(t *testing.T, root string) {
	t.Helper()
	for d := root; d != filepath.Dir(d) && strings.HasPrefix(d, os.TempDir()); d = filepath.Dir(d) {
		if d == os.TempDir() {
			break
		}
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
		if err != nil || fi.Mode()&os.ModeSymlink != 0 || fi.Mode().Perm() == 0 {
			return err
		}
		if fi.IsDir() {
			return os.Chmod(p, 0o755)
		}
		return os.Chmod(p, 0o644)
	}); err != nil {
		t.Fatal(err)
	}
}
