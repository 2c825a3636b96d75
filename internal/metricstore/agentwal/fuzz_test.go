package agentwal

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/storage/remote"
	"github.com/prometheus/prometheus/tsdb/wlog"
)

// realSegment writes a few commits through a Store and returns its first
// WAL segment, a seed the fuzzer mutates.
func realSegment(f *testing.F, url string) []byte {
	dir := f.TempDir()
	s, err := Open(Options{Dir: dir, Endpoints: []Endpoint{{URL: url}}})
	if err != nil {
		f.Fatal(err)
	}
	for i := range 3 {
		app := s.Appender(context.Background())
		for j := range 5 {
			_ = app.Append([]Label{{"__name__", "m"}, {"j", string(rune('a' + j))}}, int64(1000*i), float64(i*j))
		}
		if err := app.Commit(); err != nil {
			f.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		f.Fatal(err)
	}
	b, err := os.ReadFile(wlog.SegmentName(filepath.Join(dir, "wal"), 0))
	if err != nil {
		f.Fatal(err)
	}
	return b
}

// FuzzSegment feeds arbitrary bytes as a WAL segment and position file to
// the shipper: it must neither panic nor hang, whatever the corruption.
func FuzzSegment(f *testing.F) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) }))
	defer srv.Close()
	seg := realSegment(f, srv.URL)
	f.Add(seg, []byte(`{"segment":0,"offset":0}`))
	f.Add(seg[:len(seg)/2], []byte(`{"segment":0,"offset":40,"max_t":1000}`))
	f.Add(seg, []byte(`{"segment":-5,"offset":99999999}`))
	f.Add([]byte{}, []byte(`not json`))
	// One client for all inputs: a client per input would leave its idle
	// connections open until the process runs out of descriptors.
	client, err := remote.NewWriteClient("fuzz", must(clientConfig(Endpoint{URL: srv.URL, Queue: QueueConfig{}.withDefaults()})))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, segment, pos []byte) {
		// The fuzzer has no timeout of its own: a panic makes a hang a
		// crasher it saves.
		watchdog := time.AfterFunc(10*time.Second, func() { panic("fuzz input did not finish in 10s") })
		defer watchdog.Stop()
		dir := t.TempDir()
		walDir := filepath.Join(dir, "wal")
		if err := os.MkdirAll(filepath.Join(dir, "positions"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(walDir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(wlog.SegmentName(walDir, 0), segment, 0o644); err != nil {
			t.Fatal(err)
		}
		// A newer, empty segment: segment 0 is complete, so reading it
		// ends at its end instead of waiting for more.
		if err := os.WriteFile(wlog.SegmentName(walDir, 1), nil, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "positions", "0.json"), pos, 0o644); err != nil {
			t.Fatal(err)
		}
		m, err := newMetrics(prometheus.NewRegistry(), walDir)
		if err != nil {
			t.Fatal(err)
		}
		ep := Endpoint{Name: "0", URL: srv.URL}
		ep.Queue = ep.Queue.withDefaults()
		s := &Store{opts: Options{Dir: dir}, log: slog.New(slog.DiscardHandler), metrics: m, readerMetrics: wlog.NewLiveReaderMetrics(nil)}
		sh, err := newShipper(s, ep)
		if err != nil {
			t.Fatal(err)
		}
		sh.client = client
		sh.saved = sh.loadPosition()
		sh.resetSeries(0)
		_ = sh.tailSegment(context.Background(), 0, sh.saved)
	})
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
