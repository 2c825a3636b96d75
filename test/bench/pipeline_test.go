package main

import (
	"context"
	"strings"
	"testing"
	"time"
)

// TestPipeline runs the whole benchmark at a small size against the real
// binary, with and without access keys, and checks only correctness: every
// event stored, the rare token found, the newest events returned. Speed is
// not asserted (the machine is shared).
func TestPipeline(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the server")
	}
	ctx := t.Context()
	work := t.TempDir()
	bin, err := buildServer(ctx, work)
	if err != nil {
		t.Fatal(err)
	}
	o := smallCorpusOptions()
	o.End = time.Now() // the server refuses events over 14 days old
	corp, err := Generate(o)
	if err != nil {
		t.Fatal(err)
	}
	f := &flags{clients: 4, settleStable: 2 * time.Second, settleTimeout: 2 * time.Minute, flushInterval: "1s"}
	for _, sigv4 := range []bool{false, true} {
		t.Run(runLabel(sigv4), func(t *testing.T) {
			in, st, srv, err := ingestRun(ctx, f, bin, work, corp, sigv4, true, true, t.Logf)
			if err != nil {
				t.Fatal(err)
			}
			defer srv.stop()
			if in.Events != corp.Events || in.Rejected != 0 || in.BodyBytes != corp.BodyBytes {
				t.Errorf("sent %d events (%d rejected), %d bytes; corpus has %d events, %d bytes", in.Events, in.Rejected, in.BodyBytes, corp.Events, corp.BodyBytes)
			}
			if in.PeakRSSKB <= 0 || in.HWMKB <= 0 {
				t.Errorf("no RSS measured: peak %d, HWM %d", in.PeakRSSKB, in.HWMKB)
			}
			if st.TimedOut || st.Parts == 0 || st.PartsDU.Allocated == 0 {
				t.Errorf("settle: %+v", st)
			}
			if n := countStored(ctx, t, srv, corp, sigv4); n != corp.Events {
				t.Errorf("FilterLogEvents with no pattern finds %d events, ingested %d", n, corp.Events)
			}
			q, err := runQueries(ctx, srv, summarize(corp), 2, sigv4)
			if err != nil {
				t.Fatal(err)
			}
			if !q.FilterFoundOK || q.FilterFound != corp.RareCount || corp.RareCount != 5 {
				t.Errorf("rare token: found %d, planted %d", q.FilterFound, corp.RareCount)
			}
			if !q.GetNewestOK || q.GetOneEvents == 0 || q.GetAllEvents != min(10000, summarize(corp).BiggestCount) {
				t.Errorf("GetLogEvents: newest ok %v, one call %d events, paged %d events", q.GetNewestOK, q.GetOneEvents, q.GetAllEvents)
			}
			var b strings.Builder
			rep := newReport("test")
			rep.Corpus, rep.NoKeys, rep.Settle, rep.Query = summarize(corp), in, st, q
			rep.write(&b)
			if !strings.Contains(b.String(), "| FilterLogEvents `RareToken42`") {
				t.Errorf("report lacks the filter row:\n%s", b.String())
			}
		})
	}
}

// countStored pages through FilterLogEvents with no pattern.
func countStored(ctx context.Context, t *testing.T, srv *serverProc, corp *Corpus, keys bool) int {
	keyID, secret := "", ""
	if keys {
		keyID, secret = readerKeyID, readerSecret
	}
	c := newLogsClient(srv.url(), 1, keyID, secret)
	in := map[string]any{"logGroupName": corp.Group}
	n := 0
	for range 10000 {
		var page filterPage
		if err := c.call(ctx, "FilterLogEvents", in, &page); err != nil {
			t.Fatal(err)
		}
		n += len(page.Events)
		if page.NextToken == "" {
			return n
		}
		in["nextToken"] = page.NextToken
	}
	t.Fatal("FilterLogEvents did not finish paging")
	return n
}
