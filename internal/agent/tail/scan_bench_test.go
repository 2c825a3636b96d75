package tail

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// kubeletTree lays out n containers as kubelet does on the OS filesystem:
// /containers/<pod>_<ns>_<c>-<id>.log -> /pods/<ns>_<pod>_<uid>/<c>/0.log,
// with rotated siblings (one plain, the rest gzipped) when rotated > 0.
func kubeletTree(tb testing.TB, n, rotated int) (include string) {
	tb.Helper()
	dir := tb.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "containers"), 0o755); err != nil {
		tb.Fatal(err)
	}
	line := "2024-01-01T00:00:00.000000000Z stdout F some log line of a typical length, with a few fields in it\n"
	for i := range n {
		cdir := filepath.Join(dir, "pods", fmt.Sprintf("ns_pod%d_uid%d", i, i), "c")
		if err := os.MkdirAll(cdir, 0o755); err != nil {
			tb.Fatal(err)
		}
		live := filepath.Join(cdir, "0.log")
		if err := os.WriteFile(live, []byte(fmt.Sprintf("%d %s", i, line)), 0o644); err != nil {
			tb.Fatal(err)
		}
		for r := range rotated {
			name := fmt.Sprintf("%s.2024010%d-000000", live, r)
			if r > 0 {
				name += ".gz"
			}
			data := []byte(fmt.Sprintf("%d %d %s", i, r, line))
			if r > 0 {
				var z bytes.Buffer
				zw := gzip.NewWriter(&z)
				zw.Write(data)
				zw.Close()
				data = z.Bytes()
			}
			if err := os.WriteFile(name, data, 0o644); err != nil {
				tb.Fatal(err)
			}
		}
		if err := os.Symlink(live, filepath.Join(dir, "containers", fmt.Sprintf("pod%d_ns_c-%d.log", i, i))); err != nil {
			tb.Fatal(err)
		}
	}
	// A node's directories have been quiet for a while: age the tree, so no
	// listing is taken for racy (mtime too close to now).
	old := time.Now().Add(-time.Hour)
	err := filepath.WalkDir(dir, func(path string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Chtimes(path, old, old)
	})
	if err != nil {
		tb.Fatal(err)
	}
	return filepath.Join(dir, "containers", "*.log")
}

// BenchmarkScan is one poll of 200 kubelet-style files with no new data:
// the agent's steady-state cost of following a node's containers.
func BenchmarkScan(b *testing.B) {
	for _, rotated := range []int{0, 3} {
		b.Run(fmt.Sprintf("rotated=%d", rotated), func(b *testing.B) {
			include := kubeletTree(b, 200, rotated)
			cp, _ := OpenCheckpoints("")
			tl, err := New(Config{Include: []string{include}}, OSFS{}, cp, slog.New(slog.NewTextHandler(io.Discard, nil)), prometheus.NewRegistry())
			if err != nil {
				b.Fatal(err)
			}
			defer tl.closeAll()
			out := make(chan Line, 4096)
			ctx := context.Background()
			for range 3 { // read everything, close the rotated files
				if err := tl.poll(ctx, out); err != nil {
					b.Fatal(err)
				}
				for len(out) > 0 {
					<-out
				}
			}
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if err := tl.poll(ctx, out); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			if len(out) > 0 {
				b.Fatalf("a poll with no new data emitted %d lines", len(out))
			}
		})
	}
}
