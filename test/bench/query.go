package main

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// corpusSummary is what the query phase needs to know about an ingested
// corpus; `ingest` writes it beside the data so `query` can run later.
type corpusSummary struct {
	Group        string
	Events       int
	Streams      int
	MsgBytes     int64
	BodyBytes    int64
	StartMs      int64
	EndMs        int64
	RareToken    string
	RareCount    int
	Biggest      string
	BiggestCount int
	BiggestLast  int64
	Smallest     int
	Seed         uint64
}

func summarize(c *Corpus) corpusSummary {
	s := corpusSummary{
		Group: c.Group, Events: c.Events, Streams: len(c.Streams),
		MsgBytes: c.MsgBytes, BodyBytes: c.BodyBytes,
		StartMs:   c.Opts.End.Add(-c.Opts.Span).UnixMilli(),
		EndMs:     c.Opts.End.UnixMilli(),
		RareToken: c.RareToken, RareCount: c.RareCount, Seed: c.Opts.Seed,
		Smallest: c.Events,
	}
	for _, st := range c.Streams {
		if st.Events > s.BiggestCount {
			s.Biggest, s.BiggestCount, s.BiggestLast = st.Name, st.Events, st.LastTS
		}
		s.Smallest = min(s.Smallest, st.Events)
	}
	return s
}

// queryResult is what the query phase measured.
type queryResult struct {
	Runs int
	// FilterLogEvents for the rare token over the whole span.
	FilterFirst       latencyStats // first page
	FilterAll         latencyStats // every page until no nextToken
	FilterCold        time.Duration
	FilterFirstEvents int // events on the first page (first run)
	FilterPages       int // pages in the first run
	FilterFound       int // events found over all pages (first run)
	FilterFoundOK     bool
	// GetLogEvents of the biggest stream, newest first.
	GetOne       latencyStats // one call, limit 10000
	GetCold      time.Duration
	GetOneEvents int          // events the one call returned
	GetAll       latencyStats // calls until 10,000 events
	GetAllPages  int
	GetAllEvents int
	GetNewestOK  bool
}

type filterPage struct {
	Events []struct {
		LogStreamName string `json:"logStreamName"`
		Timestamp     int64  `json:"timestamp"`
		Message       string `json:"message"`
	} `json:"events"`
	NextToken string `json:"nextToken"`
}

type getPage struct {
	Events []struct {
		Timestamp int64  `json:"timestamp"`
		Message   string `json:"message"`
	} `json:"events"`
	NextForwardToken  string `json:"nextForwardToken"`
	NextBackwardToken string `json:"nextBackwardToken"`
}

// runQueries measures FilterLogEvents and GetLogEvents `runs` times each.
// The first run of each is also reported alone: it reads parts the block
// cache has not seen (the OS page cache may hold them).
func runQueries(ctx context.Context, srv *serverProc, sum corpusSummary, runs int, keys bool) (*queryResult, error) {
	keyID, secret := "", ""
	if keys {
		keyID, secret = readerKeyID, readerSecret
	}
	c := newLogsClient(srv.url(), 1, keyID, secret)
	res := &queryResult{Runs: runs, FilterFoundOK: true, GetNewestOK: true}

	var first, all []time.Duration
	for run := range runs {
		in := map[string]any{
			"logGroupName":  sum.Group,
			"startTime":     sum.StartMs,
			"endTime":       sum.EndMs,
			"filterPattern": sum.RareToken,
		}
		var elapsed time.Duration
		found, pages := 0, 0
		for {
			var page filterPage
			lat, err := c.timedCall(ctx, "FilterLogEvents", in, &page)
			if err != nil {
				return nil, err
			}
			elapsed += lat
			if pages == 0 {
				first = append(first, lat)
				if run == 0 {
					res.FilterFirstEvents = len(page.Events)
				}
			}
			pages++
			for _, e := range page.Events {
				if !strings.Contains(e.Message, sum.RareToken) {
					return nil, fmt.Errorf("FilterLogEvents %q returned an event without it: %.200s", sum.RareToken, e.Message)
				}
			}
			found += len(page.Events)
			if page.NextToken == "" {
				break
			}
			in["nextToken"] = page.NextToken
		}
		all = append(all, elapsed)
		if run == 0 {
			res.FilterPages, res.FilterFound = pages, found
		}
		if found != sum.RareCount {
			res.FilterFoundOK = false
			res.FilterFound = found
		}
	}
	res.FilterFirst, res.FilterAll, res.FilterCold = stats(first), stats(all), first[0]

	var one, many []time.Duration
	for run := range runs {
		in := map[string]any{
			"logGroupName":  sum.Group,
			"logStreamName": sum.Biggest,
			"startFromHead": false,
			"limit":         10000,
		}
		var page getPage
		lat, err := c.timedCall(ctx, "GetLogEvents", in, &page)
		if err != nil {
			return nil, err
		}
		one = append(one, lat)
		elapsed := lat
		if run == 0 {
			res.GetOneEvents = len(page.Events)
		}
		n := len(page.Events)
		if n == 0 || page.Events[n-1].Timestamp != sum.BiggestLast {
			res.GetNewestOK = false
		}
		prev := page.Events
		total, pages := n, 1
		want := min(10000, sum.BiggestCount)
		for total < want && len(prev) > 0 {
			in["nextToken"] = page.NextBackwardToken
			in["limit"] = want - total
			page = getPage{}
			lat, err := c.timedCall(ctx, "GetLogEvents", in, &page)
			if err != nil {
				return nil, err
			}
			elapsed += lat
			pages++
			if len(page.Events) > 0 && page.Events[len(page.Events)-1].Timestamp > prev[0].Timestamp {
				res.GetNewestOK = false // pages must go back in time
			}
			total += len(page.Events)
			prev = page.Events
		}
		many = append(many, elapsed)
		if total != want {
			res.GetNewestOK = false
		}
		if run == 0 {
			res.GetAllPages, res.GetAllEvents = pages, total
		}
	}
	res.GetOne, res.GetAll, res.GetCold = stats(one), stats(many), one[0]
	return res, nil
}
